// SPDX-License-Identifier: MIT
/*
 * The public API's arbiter clients, calibration and DRAM counter
 * (libsplitmoe/api_arbiter.c, api_dram.c; ASan and UBSan): a reservation
 * and a best-effort client on the in-process arbiter, admission control,
 * grants and statistics, a grant that times out behind debt, the off and
 * kernel kinds, a session sharing the caller's arbiter (its reservation
 * counts against the caller's clients, its client's figures), the
 * calibration's figures, the counter or its reasons.
 *   test_api_arbiter FIXTURE_DIR
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "splitmoe.h"

#define MB 1000000ull

static const char *fixture;

/* The in-process arbiter: 1000 MB/s, 600 of it reservable. */
static splitmoe_arb *process_arb(void)
{
	struct splitmoe_arb_params p = splitmoe_arb_default_params();
	splitmoe_arb *a = NULL;
	char err[256];

	p.kind = SPLITMOE_ARBITER_PROCESS;
	p.capacity_mbps = 1000;
	p.guaranteed_mbps = 600;
	assert_int_equal(splitmoe_arb_open(&p, &a, err, sizeof(err)), SPLITMOE_OK);
	assert_int_equal(splitmoe_arb_kind(a), SPLITMOE_ARBITER_PROCESS);
	return a;
}

static splitmoe_arb_client *client(splitmoe_arb *a, const char *name, uint64_t reserve)
{
	struct splitmoe_arb_client_params p = splitmoe_arb_client_default_params();
	splitmoe_arb_client *c = NULL;
	char err[256] = "";

	p.name = name;
	p.reserve_mbps = reserve;
	assert_int_equal(splitmoe_arb_client_open(a, &p, &c, err, sizeof(err)), SPLITMOE_OK);
	assert_non_null(c);
	return c;
}

static void t_defaults_and_bad_params(void **state)
{
	struct splitmoe_arb_params ap = splitmoe_arb_default_params();
	struct splitmoe_arb_client_params cp = splitmoe_arb_client_default_params();
	splitmoe_arb *a;
	splitmoe_arb_client *c = (splitmoe_arb_client *)&c;
	char err[256] = "";

	(void)state;
	assert_int_equal(ap.kind, SPLITMOE_ARBITER_AUTO);
	assert_int_equal(cp.cls, SPLITMOE_ARB_CLASS_OTHER);
	assert_int_equal(cp.weight, 100);
	assert_int_equal(cp.reserve_mbps, 0);
	ap.kind = (splitmoe_arbiter)9;
	assert_int_equal(splitmoe_arb_open(&ap, &a, err, sizeof(err)), SPLITMOE_ERR_INVALID);
	assert_true(err[0]);
	a = process_arb();
	cp.weight = 0;
	err[0] = '\0';
	assert_int_equal(splitmoe_arb_client_open(a, &cp, &c, err, sizeof(err)), SPLITMOE_ERR_INVALID);
	assert_null(c);
	assert_non_null(strstr(err, "weight"));
	cp.weight = 100;
	cp.cls = (splitmoe_arb_class)7;
	assert_int_equal(splitmoe_arb_client_open(a, &cp, &c, NULL, 0), SPLITMOE_ERR_INVALID);
	splitmoe_arb_free(a);
	splitmoe_arb_free(NULL);
	splitmoe_arb_client_free(NULL);
}

/* Reservations are admitted up to guaranteed_mbps; a best-effort client
 * beside them; each gets its grants, counted. */
static void t_reserve_and_best_effort(void **state)
{
	splitmoe_arb *a = process_arb();
	splitmoe_arb_client *res = client(a, "reserved", 500), *be = client(a, "best-effort", 0);
	struct splitmoe_arb_client_params p = splitmoe_arb_client_default_params();
	struct splitmoe_arb_client_stats st;
	splitmoe_arb_client *refused = NULL;
	uint64_t g;
	char err[256] = "";

	(void)state;
	p.name = "too-much";
	p.reserve_mbps = 200;	/* 500 + 200 > 600 */
	assert_int_equal(splitmoe_arb_client_open(a, &p, &refused, err, sizeof(err)),
			 SPLITMOE_ERR_ARBITER);
	assert_null(refused);
	assert_non_null(strstr(err, "too-much"));
	p.reserve_mbps = 100;	/* 600: fits */
	assert_int_equal(splitmoe_arb_client_open(a, &p, &refused, err, sizeof(err)), SPLITMOE_OK);
	splitmoe_arb_client_free(refused);

	splitmoe_arb_client_stats(res, &st);
	assert_int_equal(st.acquires, 0);
	assert_int_equal(splitmoe_arb_client_wait_quantile(res, 0.5), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(splitmoe_arb_acquire(res, 100000, 0, &g), SPLITMOE_OK);
		assert_int_equal(splitmoe_arb_complete(res, g, 100000), SPLITMOE_OK);
	}
	assert_int_equal(splitmoe_arb_acquire(be, 50000, 0, &g), SPLITMOE_OK);
	assert_int_equal(splitmoe_arb_complete(be, g, 30000), SPLITMOE_OK);	/* moved less */
	splitmoe_arb_client_stats(res, &st);
	assert_int_equal(st.acquires, 4);
	assert_int_equal(st.completes, 4);
	assert_int_equal(st.granted_bytes, 400000);
	assert_int_equal(st.completed_bytes, 400000);
	assert_true(st.max_wait_ns <= st.wait_ns || st.waits == 0);
	splitmoe_arb_client_stats(be, &st);
	assert_int_equal(st.acquires, 1);
	assert_int_equal(st.granted_bytes, 50000);
	assert_int_equal(st.completed_bytes, 30000);
	splitmoe_arb_client_free(res);
	splitmoe_arb_client_free(be);
	splitmoe_arb_free(a);
}

/* Completing far more than granted is debt: the next grant waits for it,
 * past a short timeout, and the wait is counted. */
static void t_debt_times_out(void **state)
{
	splitmoe_arb *a = process_arb();
	splitmoe_arb_client *c = client(a, "borrower", 0);
	struct splitmoe_arb_client_stats st;
	uint64_t g;

	(void)state;
	assert_int_equal(splitmoe_arb_acquire(c, MB, 0, &g), SPLITMOE_OK);
	assert_int_equal(splitmoe_arb_complete(c, g, 400 * MB), SPLITMOE_OK);	/* 0.4 s at 1000 MB/s */
	assert_int_equal(splitmoe_arb_acquire(c, MB, 3000000, &g), SPLITMOE_ERR_TIMEOUT);
	splitmoe_arb_client_stats(c, &st);
	assert_int_equal(st.acquires, 1);	/* the timed-out one is not a grant */
	assert_int_equal(st.waits, 1);
	assert_true(st.wait_ns >= 3000000);
	assert_true(st.max_wait_ns >= 3000000);
	assert_true(splitmoe_arb_client_wait_quantile(c, 1.0) >= 3000000);
	assert_int_equal(splitmoe_arb_client_wait_quantile(c, 0.0), 0);	/* the first did not wait */
	splitmoe_arb_client_free(c);
	splitmoe_arb_free(a);
}

static void t_off_and_kernel(void **state)
{
	struct splitmoe_arb_params p = splitmoe_arb_default_params();
	splitmoe_arb *a = NULL;
	splitmoe_arb_client *c;
	struct splitmoe_arb_client_stats st;
	uint64_t g;
	char err[256] = "";
	splitmoe_status rc;

	(void)state;
	p.kind = SPLITMOE_ARBITER_OFF;
	assert_int_equal(splitmoe_arb_open(&p, &a, err, sizeof(err)), SPLITMOE_OK);
	assert_int_equal(splitmoe_arb_kind(a), SPLITMOE_ARBITER_OFF);
	c = client(a, "free", 0);
	assert_int_equal(splitmoe_arb_acquire(c, 1000 * MB, 1000, &g), SPLITMOE_OK);
	assert_int_equal(splitmoe_arb_complete(c, g, 1000 * MB), SPLITMOE_OK);
	splitmoe_arb_client_stats(c, &st);
	assert_int_equal(st.acquires, 1);
	assert_int_equal(st.waits, 0);
	splitmoe_arb_client_free(c);
	splitmoe_arb_free(a);

	p.kind = SPLITMOE_ARBITER_KERNEL;
	p.dev = "/nonexistent/bwarb";
	a = (splitmoe_arb *)&a;
	rc = splitmoe_arb_open(&p, &a, err, sizeof(err));
	assert_true(rc == SPLITMOE_ERR_ARBITER || rc == SPLITMOE_ERR_UNSUPPORTED);
	assert_null(a);
	assert_true(err[0]);
	p.kind = SPLITMOE_ARBITER_AUTO;	/* no node there: in-process */
	assert_int_equal(splitmoe_arb_open(&p, &a, err, sizeof(err)), SPLITMOE_OK);
	assert_int_equal(splitmoe_arb_kind(a), SPLITMOE_ARBITER_PROCESS);
	splitmoe_arb_free(a);
}

/* A session on the caller's arbiter: its reservation and the caller's
 * clients are admitted against one guarantee; its client counts its
 * work; the arbiter outlives it. */
static void t_session_shares_arbiter(void **state)
{
	struct splitmoe_session_params sp = splitmoe_session_default_params();
	struct splitmoe_arb_client_params cp = splitmoe_arb_client_default_params();
	struct splitmoe_arb_client_stats st;
	struct splitmoe_stats ss;
	splitmoe_arb *a = process_arb();
	splitmoe_model *m = NULL;
	splitmoe_session *s = NULL;
	splitmoe_arb_client *c = NULL;
	const splitmoe_arb_client *gate;
	int32_t ids[3] = { 1, 450, 300 };
	char err[512] = "";

	(void)state;
	assert_int_equal(splitmoe_model_load(fixture, NULL, &m, err, sizeof(err)), SPLITMOE_OK);
	sp.max_seq = 16;
	sp.arbiter = SPLITMOE_ARBITER_OFF;	/* unused: arb is given */
	sp.arb = a;
	sp.cpu_reserve_mbps = 400;
	assert_int_equal(splitmoe_session_create(m, &sp, &s, err, sizeof(err)), SPLITMOE_OK);
	gate = splitmoe_session_arb_client(s);
	assert_non_null(gate);
	cp.reserve_mbps = 300;	/* 400 + 300 > 600 */
	assert_int_equal(splitmoe_arb_client_open(a, &cp, &c, err, sizeof(err)), SPLITMOE_ERR_ARBITER);
	cp.reserve_mbps = 200;
	assert_int_equal(splitmoe_arb_client_open(a, &cp, &c, err, sizeof(err)), SPLITMOE_OK);
	splitmoe_arb_client_free(c);

	assert_int_equal(splitmoe_prefill(s, ids, 3), SPLITMOE_OK);
	assert_int_equal(splitmoe_decode(s, 300), SPLITMOE_OK);
	splitmoe_arb_client_stats(gate, &st);
	splitmoe_session_stats(s, &ss);
	assert_true(st.acquires > 0);
	assert_true(st.completed_bytes > 0);
	assert_int_equal(st.acquires, ss.arbiter_acquires);
	assert_int_equal(st.granted_bytes, ss.arbiter_granted_bytes);
	splitmoe_session_free(s);

	cp.reserve_mbps = 600;	/* the session's reservation went with it */
	assert_int_equal(splitmoe_arb_client_open(a, &cp, &c, err, sizeof(err)), SPLITMOE_OK);
	splitmoe_arb_client_free(c);
	splitmoe_model_free(m);
	splitmoe_arb_free(a);
}

static void t_calibration(void **state)
{
	struct splitmoe_bwcal_params p = splitmoe_bwcal_default_params();
	struct splitmoe_bwcal cal;
	char err[256] = "";

	(void)state;
	assert_true(p.in_child);
	assert_true(splitmoe_bwcal_default_bytes() >= (1ull << 30));
	p.runs = -1;
	assert_int_equal(splitmoe_bwcal_measure(&p, &cal, err, sizeof(err)), SPLITMOE_ERR_INVALID);
	p.runs = 1;
	p.bytes = 16ull << 20;
	memset(&cal, 0, sizeof(cal));
	assert_int_equal(splitmoe_bwcal_measure(&p, &cal, err, sizeof(err)), SPLITMOE_OK);
	assert_true(cal.threads >= 1);
	assert_true(cal.read_gbs > 0 && cal.copy_gbs > 0 && cal.solo_gbs > 0);
	assert_true(cal.rmin_gbs > 0);
	assert_true(cal.capacity_mbps >= 1);
	assert_true(cal.guaranteed_mbps <= cal.capacity_mbps);
}

/* Either a counter that counts (its source named, never going back) or
 * the reasons for none. */
static void t_dram_counter(void **state)
{
	splitmoe_dram_counter *c = NULL;
	char why[400] = "";
	uint64_t b0, b1;
	splitmoe_status rc;

	(void)state;
	rc = splitmoe_dram_counter_open(&c, why, sizeof(why));
	if (rc == SPLITMOE_ERR_UNSUPPORTED) {
		assert_null(c);
		assert_non_null(strchr(why, ';'));	/* both sources' reasons */
		return;
	}
	assert_int_equal(rc, SPLITMOE_OK);
	assert_true(strlen(splitmoe_dram_counter_source(c)) > 0);
	assert_int_equal(splitmoe_dram_counter_read(c, &b0), SPLITMOE_OK);
	{
		size_t n = 64u << 20;
		volatile unsigned char *buf = malloc(n);

		assert_non_null(buf);
		for (size_t i = 0; i < n; i += 64)
			buf[i] = (unsigned char)i;
		free((void *)buf);
	}
	assert_int_equal(splitmoe_dram_counter_read(c, &b1), SPLITMOE_OK);
	assert_true(b1 >= b0);
	splitmoe_dram_counter_free(c);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		/* first: it forks, before any OpenMP region of this process */
		cmocka_unit_test(t_calibration),
		cmocka_unit_test(t_defaults_and_bad_params),
		cmocka_unit_test(t_reserve_and_best_effort),
		cmocka_unit_test(t_debt_times_out),
		cmocka_unit_test(t_off_and_kernel),
		cmocka_unit_test(t_session_shares_arbiter),
		cmocka_unit_test(t_dram_counter),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: test_api_arbiter FIXTURE_DIR\n");
		return 2;
	}
	fixture = argv[1];
	return cmocka_run_group_tests_name("public API: arbiter clients, calibration, DRAM counter",
					   tests, NULL, NULL);
}
