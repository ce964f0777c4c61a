// SPDX-License-Identifier: MIT
/*
 * The runtime's arbiter (arbiter.h): backend selection, the 'off' and
 * 'process' backends' grants, waits, timeouts, over-burst requests,
 * admission control and two clients on two threads. The kernel backend is
 * exercised in the VM (it needs /dev/bwarb); here only its absence.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "arbiter/arbiter.h"

static struct sm_arbiter *open_kind(enum sm_arbiter_kind k, uint64_t period_ns,
				    uint64_t capacity_mbps)
{
	struct sm_arbiter_opts o = {
		.kind = k, .dev_path = "/nonexistent/bwarb",
		.period_ns = period_ns, .capacity_mbps = capacity_mbps,
	};
	struct sm_arbiter *a = NULL;
	char err[256];

	assert_int_equal(sm_arbiter_open(&o, &a, err, sizeof(err)), 0);
	return a;
}

static struct sm_arb_client *client(struct sm_arbiter *a, uint32_t class,
				    uint64_t reserve, uint64_t burst)
{
	struct sm_arb_client_opts co = {
		.name = "test", .class = class, .weight = 100,
		.reserve_mbps = reserve, .burst_bytes = burst,
	};
	struct sm_arb_client *c = NULL;
	char err[256];

	assert_int_equal(sm_arb_client_open(a, &co, &c, err, sizeof(err)), 0);
	return c;
}

static void test_auto_without_device_is_process(void **st)
{
	struct sm_arbiter *a = open_kind(SM_ARB_AUTO, 0, 0);

	(void)st;
	assert_int_equal(sm_arbiter_get_kind(a), SM_ARB_PROCESS);
	sm_arbiter_close(a);
}

static void test_kernel_without_device_fails_clearly(void **st)
{
	struct sm_arbiter_opts o = { .kind = SM_ARB_KERNEL, .dev_path = "/nonexistent/bwarb" };
	struct sm_arbiter *a = NULL;
	char err[256] = "";
	int rc = sm_arbiter_open(&o, &a, err, sizeof(err));

	(void)st;
	/* -ENOENT naming the device, or -ENOSYS in a build without the
	 * client library: never a half-open arbiter */
	assert_true(rc == -ENOENT || rc == -ENOSYS);
	assert_null(a);
	assert_non_null(strstr(err, rc == -ENOENT ? "/nonexistent/bwarb" : "bwarb_client"));
}

/* auto takes the kernel backend whenever the device node exists: here a
 * node that is no bwarb device, so registering fails naming it, rather
 * than falling back to the process backend unseen. */
static void test_auto_with_device_is_kernel(void **st)
{
	struct sm_arbiter_opts o = { .kind = SM_ARB_AUTO, .dev_path = "/dev/null" };
	struct sm_arb_client_opts co = { .name = "test", .class = SM_ARB_CLASS_CPU, .weight = 100 };
	struct sm_arb_client *c = NULL;
	struct sm_arbiter *a = NULL;
	char err[256] = "";
	int rc = sm_arbiter_open(&o, &a, err, sizeof(err));

	(void)st;
	if (rc == -ENOSYS) {	/* a build without the client library */
		assert_null(a);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(sm_arbiter_get_kind(a), SM_ARB_KERNEL);
	assert_true(sm_arb_client_open(a, &co, &c, err, sizeof(err)) < 0);
	assert_null(c);
	assert_non_null(strstr(err, "/dev/null"));
	sm_arbiter_close(a);
}

static void test_off_counts(void **st)
{
	struct sm_arbiter *a = open_kind(SM_ARB_OFF, 0, 0);
	struct sm_arb_client *c = client(a, SM_ARB_CLASS_CPU, 0, 0);
	struct sm_arb_client_stats s;
	uint64_t g;

	(void)st;
	assert_int_equal(sm_arbiter_get_kind(a), SM_ARB_OFF);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sm_arb_acquire(c, 1000, 0, &g), 0);
		assert_int_equal(sm_arb_complete(c, g, 1000), 0);
	}
	assert_int_equal(sm_arb_complete(c, g + 7, 1), -ENOENT);
	sm_arb_client_get_stats(c, &s);
	assert_int_equal(s.acquires, 3);
	assert_int_equal(s.granted_bytes, 3000);
	assert_int_equal(s.completed_bytes, 3000);
	assert_int_equal(s.waits, 0);
	sm_arb_client_close(c);
	sm_arbiter_close(a);
}

/* 1 MB/s in 1 s periods: 1,000,000 bytes a period. */
static void test_process_waits_for_next_period(void **st)
{
	struct sm_arbiter *a = open_kind(SM_ARB_PROCESS, 1000000000ull, 1);
	struct sm_arb_client *c = client(a, SM_ARB_CLASS_CPU, 0, 1000000);
	struct sm_arb_client_stats s;
	uint64_t g;

	(void)st;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sm_arb_acquire(c, 450000, 0, &g), 0);
		assert_int_equal(sm_arb_complete(c, g, 450000), 0);
	}
	sm_arb_client_get_stats(c, &s);
	/* the third did not fit in the first period */
	assert_true(s.waits >= 1);
	assert_int_equal(s.acquires, 3);
	assert_int_equal(s.granted_bytes, 1350000);
	sm_arb_client_close(c);
	sm_arbiter_close(a);
}

static void test_process_timeout(void **st)
{
	struct sm_arbiter *a = open_kind(SM_ARB_PROCESS, 1000000000ull, 1);
	struct sm_arb_client *c = client(a, SM_ARB_CLASS_CPU, 0, 1000000);
	uint64_t g, g2;

	(void)st;
	assert_int_equal(sm_arb_acquire(c, 900000, 0, &g), 0);
	assert_int_equal(sm_arb_acquire(c, 900000, 10000000ull, &g2), -ETIMEDOUT);
	assert_int_equal(sm_arb_complete(c, g, 900000), 0);
	sm_arb_client_close(c);
	sm_arbiter_close(a);
}

/* Every acquire lands in the wait histogram (0 when it did not wait); a
 * quantile is its bucket's upper edge, within an eighth of an octave. */
static void test_process_wait_quantiles(void **st)
{
	struct sm_arbiter *a = open_kind(SM_ARB_PROCESS, 1000000000ull, 1);
	struct sm_arb_client *c = client(a, SM_ARB_CLASS_CPU, 0, 1000000);
	struct sm_arb_client_stats s;
	uint64_t g, g2, n = 0, q1;
	unsigned i;

	(void)st;
	sm_arb_client_get_stats(c, &s);
	assert_int_equal(sm_arb_wait_quantile(&s, 0.5), 0);	/* no acquire yet */
	assert_int_equal(sm_arb_acquire(c, 300000, 0, &g), 0);
	assert_int_equal(sm_arb_complete(c, g, 300000), 0);
	assert_int_equal(sm_arb_acquire(c, 300000, 0, &g), 0);
	assert_int_equal(sm_arb_complete(c, g, 300000), 0);
	assert_int_equal(sm_arb_acquire(c, 300000, 0, &g), 0);
	assert_int_equal(sm_arb_acquire(c, 900000, 10000000ull, &g2), -ETIMEDOUT);
	assert_int_equal(sm_arb_complete(c, g, 300000), 0);
	sm_arb_client_get_stats(c, &s);
	for (i = 0; i < SM_ARB_WAIT_BUCKETS; i++)
		n += s.wait_hist[i];
	assert_int_equal(n, 4);			/* 3 granted at once, 1 timed out */
	assert_int_equal(s.wait_hist[0], 3);
	assert_int_equal(sm_arb_wait_quantile(&s, 0.5), 0);
	assert_int_equal(sm_arb_wait_quantile(&s, 0.75), 0);
	q1 = sm_arb_wait_quantile(&s, 1.0);
	assert_true(s.max_wait_ns >= 10000000ull);
	assert_true(q1 >= s.max_wait_ns && q1 <= s.max_wait_ns / 8 * 9 + 8);
	sm_arb_client_close(c);
	sm_arbiter_close(a);
}

static void test_process_over_burst_becomes_debt(void **st)
{
	struct sm_arbiter *a = open_kind(SM_ARB_PROCESS, 0, 0);
	struct sm_arb_client *c = client(a, SM_ARB_CLASS_GPU, 0, 1000);
	struct sm_arb_client_stats s;
	uint64_t g;

	(void)st;
	assert_int_equal(sm_arb_acquire(c, 5000, 0, &g), 0);
	assert_int_equal(sm_arb_complete(c, g, 5000), 0);
	sm_arb_client_get_stats(c, &s);
	assert_int_equal(s.granted_bytes, 1000);	/* the burst */
	assert_int_equal(s.completed_bytes, 5000);	/* the rest is charged */
	sm_arb_client_close(c);
	sm_arbiter_close(a);
}

static void test_process_admission(void **st)
{
	struct sm_arbiter *a = open_kind(SM_ARB_PROCESS, 0, 1000);	/* guaranteed 750 */
	struct sm_arb_client_opts co = {
		.name = "greedy", .class = SM_ARB_CLASS_CPU, .weight = 1, .reserve_mbps = 800,
	};
	struct sm_arb_client *c = NULL, *ok;
	char err[256] = "";

	(void)st;
	assert_int_equal(sm_arb_client_open(a, &co, &c, err, sizeof(err)), -ENOSPC);
	assert_null(c);
	assert_non_null(strstr(err, "greedy"));
	ok = client(a, SM_ARB_CLASS_CPU, 700, 0);
	co.reserve_mbps = 100;	/* 700 + 100 > 750 */
	assert_int_equal(sm_arb_client_open(a, &co, &c, err, sizeof(err)), -ENOSPC);
	co.weight = 0;
	assert_int_equal(sm_arb_client_open(a, &co, &c, err, sizeof(err)), -EINVAL);
	sm_arb_client_close(ok);
	sm_arbiter_close(a);
}

struct worker {
	struct sm_arb_client *c;
	int done;
};

static void *work(void *p)
{
	struct worker *w = p;
	uint64_t g;

	for (int i = 0; i < 200; i++) {
		if (sm_arb_acquire(w->c, 100000, 0, &g) || sm_arb_complete(w->c, g, 100000))
			return NULL;
		w->done++;
	}
	return NULL;
}

/* 1000 MB/s, 1 ms periods: 2 x 20 MB take >= 40 periods of sharing. */
static void test_process_two_threads(void **st)
{
	struct sm_arbiter *a = open_kind(SM_ARB_PROCESS, 1000000ull, 1000);
	struct worker w[2] = {
		{ .c = client(a, SM_ARB_CLASS_CPU, 100, 100000) },
		{ .c = client(a, SM_ARB_CLASS_GPU, 100, 100000) },
	};
	pthread_t t[2];

	(void)st;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	for (int i = 0; i < 2; i++) {
		struct sm_arb_client_stats s;

		pthread_join(t[i], NULL);
		assert_int_equal(w[i].done, 200);
		sm_arb_client_get_stats(w[i].c, &s);
		assert_int_equal(s.completed_bytes, 20000000);
		sm_arb_client_close(w[i].c);
	}
	sm_arbiter_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auto_without_device_is_process),
		cmocka_unit_test(test_kernel_without_device_fails_clearly),
		cmocka_unit_test(test_auto_with_device_is_kernel),
		cmocka_unit_test(test_off_counts),
		cmocka_unit_test(test_process_waits_for_next_period),
		cmocka_unit_test(test_process_timeout),
		cmocka_unit_test(test_process_wait_quantiles),
		cmocka_unit_test(test_process_over_burst_becomes_debt),
		cmocka_unit_test(test_process_admission),
		cmocka_unit_test(test_process_two_threads),
	};

	return cmocka_run_group_tests_name("runtime-arbiter", tests, NULL, NULL);
}
