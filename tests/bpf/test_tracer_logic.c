// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The tracer's bookkeeping, program by program, through BPF_PROG_TEST_RUN:
 * each raw tracepoint program runs on a hand-made argument array (what the
 * bwarb tracepoint would pass) and the maps are read back. Covers what the
 * VM workload cannot reach exactly: histogram bucket boundaries, every
 * acquire_fail errno, failed registrations, unmeasured periods, the
 * maximum, and a full clients map. Nothing is attached or pinned.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/bwarb_bpf.h"
#include "tracer.skel.h"

struct fixture {
	struct tracer_bpf *skel;
};

static int setup(void **state)
{
	static struct fixture f;
	struct bpf_map *m;

	f.skel = tracer_bpf__open();
	if (!f.skel)
		return -1;
	/* Nothing pinned: this copy is private to the test. */
	bpf_object__for_each_map(m, f.skel->obj)
		bpf_map__set_pin_path(m, NULL);
	if (tracer_bpf__load(f.skel)) {
		tracer_bpf__destroy(f.skel);
		return -1;
	}
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tracer_bpf__destroy(f->skel);
	return 0;
}

/* Runs prog with the tracepoint arguments args[0..n). */
static void run(struct bpf_program *prog, const uint64_t *args, size_t n)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args,
		    .ctx_size_in = (uint32_t)(n * sizeof(*args)));

	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(prog), &opts), 0);
	assert_int_equal(opts.retval, 0);
}

static void grant(struct fixture *f, uint32_t client, uint64_t bytes,
		  uint64_t wait_ns)
{
	uint64_t a[4] = { client, 1, bytes, wait_ns };

	run(f->skel->progs.bwarb_grant, a, 4);
}

static void acquire_fail(struct fixture *f, uint32_t client, int32_t ret)
{
	/* The s32 travels sign-extended in its u64 slot. */
	uint64_t a[4] = { client, 1ULL << 40, 5000, (uint64_t)(int64_t)ret };

	run(f->skel->progs.bwarb_acquire_fail, a, 4);
}

static int lookup(struct fixture *f, uint32_t client,
		  struct bwarb_client_stats *st)
{
	return bpf_map__lookup_elem(f->skel->maps.clients, &client,
				    sizeof(client), st, sizeof(*st), 0);
}

static void get_totals(struct fixture *f, struct bwarb_trace_totals *t)
{
	uint32_t zero = 0;

	assert_int_equal(bpf_map__lookup_elem(f->skel->maps.totals, &zero,
					      sizeof(zero), t, sizeof(*t), 0), 0);
}

static void test_histogram_buckets(void **state)
{
	static const struct { uint64_t v; unsigned int slot; } cases[] = {
		{ 0, 0 }, { 1, 1 }, { 2, 2 }, { 3, 2 }, { 4, 3 }, { 7, 3 },
		{ 8, 4 }, { 4095, 12 }, { 4096, 13 }, { 4097, 13 },
		{ 1ULL << 32, 33 }, { (1ULL << 39) + 1, 40 }, { 1ULL << 40, 40 },
		{ 1ULL << 63, 40 }, { UINT64_MAX, 40 },
	};
	struct fixture *f = *state;
	struct bwarb_client_stats st;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t client = 100 + (uint32_t)i;
		unsigned int k;

		grant(f, client, cases[i].v, cases[i].v);
		assert_int_equal(lookup(f, client, &st), 0);
		for (k = 0; k < BWARB_HIST_SLOTS; k++) {
			uint64_t want = k == cases[i].slot;

			if (st.wait_hist[k] != want || st.bytes_hist[k] != want)
				fail_msg("value %llu: bucket %u holds %llu/%llu, want %llu",
					 (unsigned long long)cases[i].v, k,
					 (unsigned long long)st.wait_hist[k],
					 (unsigned long long)st.bytes_hist[k],
					 (unsigned long long)want);
		}
	}
}

static void test_grant_sums_and_max(void **state)
{
	struct fixture *f = *state;
	struct bwarb_client_stats st;

	grant(f, 200, 4096, 1000);
	grant(f, 200, 8192, 50000);
	grant(f, 200, 100, 20);
	assert_int_equal(lookup(f, 200, &st), 0);
	assert_int_equal(st.grants, 3);
	assert_int_equal(st.granted_bytes, 4096 + 8192 + 100);
	assert_int_equal(st.wait_ns_total, 1000 + 50000 + 20);
	assert_int_equal(st.wait_ns_max, 50000);
	assert_int_equal(st.registered, 0);	/* never saw a register */
}

static void test_fail_classes(void **state)
{
	struct fixture *f = *state;
	struct bwarb_client_stats st;

	acquire_fail(f, 300, -ETIMEDOUT);
	acquire_fail(f, 300, -ETIMEDOUT);
	acquire_fail(f, 300, -EINTR);
	acquire_fail(f, 300, -512);	/* -ERESTARTSYS: also a signal */
	acquire_fail(f, 300, -EAGAIN);
	acquire_fail(f, 300, -EAGAIN);
	acquire_fail(f, 300, -EAGAIN);
	acquire_fail(f, 300, -EBUSY);
	assert_int_equal(lookup(f, 300, &st), 0);
	assert_int_equal(st.timeouts, 2);
	assert_int_equal(st.interrupts, 2);
	assert_int_equal(st.would_block, 3);
	assert_int_equal(st.other_failures, 1);
	assert_int_equal(st.grants, 0);
}

static void test_register(void **state)
{
	struct fixture *f = *state;
	struct bwarb_client_stats st;
	struct bwarb_trace_totals t0, t1;
	uint64_t ok[7] = { 400, 1234, 1, 50, 2000, 1 << 20, 0 };
	uint64_t bad[7] = { 0, 1234, 1, 50, 2000, 1 << 20,
			    (uint64_t)(int64_t)-ENOSPC };

	get_totals(f, &t0);
	run(f->skel->progs.bwarb_register, ok, 7);
	run(f->skel->progs.bwarb_register, bad, 7);
	get_totals(f, &t1);
	assert_int_equal(lookup(f, 400, &st), 0);
	assert_int_equal(st.registered, 1);
	assert_int_equal(st.pid, 1234);
	assert_int_equal(st.class, 1);
	assert_int_equal(st.weight, 50);
	assert_int_equal(st.reserve_mbps, 2000);
	assert_int_equal(st.burst_bytes, 1 << 20);
	/* The test run happens in this process: its name (15 chars max). */
	assert_string_equal(st.comm, "test_tracer_log");
	assert_int_equal(t1.register_failures, t0.register_failures + 1);
	/* A failed registration creates no entry (its id is 0). */
	assert_int_equal(lookup(f, 0, &st), -ENOENT);
}

static void test_complete(void **state)
{
	struct fixture *f = *state;
	struct bwarb_client_stats st;
	uint64_t a[4] = { 500, 7, 4096, 3000 };

	run(f->skel->progs.bwarb_complete, a, 4);
	run(f->skel->progs.bwarb_complete, a, 4);
	assert_int_equal(lookup(f, 500, &st), 0);
	assert_int_equal(st.completes, 2);
	assert_int_equal(st.completed_bytes, 6000);
}

static void test_period(void **state)
{
	struct fixture *f = *state;
	struct bwarb_trace_totals t0, t1;
	uint64_t measured[4] = { 77, 1000, 3000, 2 };
	uint64_t none[4] = { 78, 500, UINT64_MAX, 5 };
	uint64_t idle[4] = { 79, 0, 0, 0 };

	get_totals(f, &t0);
	run(f->skel->progs.bwarb_period, measured, 4);
	run(f->skel->progs.bwarb_period, none, 4);
	run(f->skel->progs.bwarb_period, idle, 4);
	get_totals(f, &t1);
	assert_int_equal(t1.periods, t0.periods + 3);
	assert_int_equal(t1.last_period, 79);
	assert_int_equal(t1.period_granted_bytes, t0.period_granted_bytes + 1500);
	assert_int_equal(t1.period_measured_bytes, t0.period_measured_bytes + 3000);
	assert_int_equal(t1.unmeasured_periods, t0.unmeasured_periods + 1);
	assert_int_equal(t1.last_waiters, 0);
	assert_true(t1.max_waiters >= 5);
}

/* Runs last: fills the clients map. */
static void test_full_map_counts_drops(void **state)
{
	struct fixture *f = *state;
	struct bwarb_trace_totals t0, t1;
	struct bwarb_client_stats st;
	uint32_t id;

	get_totals(f, &t0);
	for (id = 10000; id < 10000 + BWARB_TRACE_MAX_CLIENTS; id++)
		grant(f, id, 1, 1);
	get_totals(f, &t1);
	/* The earlier tests' clients took some room: the rest dropped. */
	assert_true(t1.dropped_clients > t0.dropped_clients);
	/* Known clients still count. */
	grant(f, 200, 1, 1);
	assert_int_equal(lookup(f, 200, &st), 0);
	assert_int_equal(st.grants, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_histogram_buckets),
		cmocka_unit_test(test_grant_sums_and_max),
		cmocka_unit_test(test_fail_classes),
		cmocka_unit_test(test_register),
		cmocka_unit_test(test_complete),
		cmocka_unit_test(test_period),
		cmocka_unit_test(test_full_map_counts_drops),
	};

	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	return cmocka_run_group_tests_name("bpf tracer logic", tests, setup,
					   teardown);
}
