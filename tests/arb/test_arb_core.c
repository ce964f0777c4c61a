// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Unit tests of the arbitration core (kmod/arb_core.c), one or more per
 * point of the contract (issue 3) and of the feedback (issue 4 item 3).
 * Each test drives the core as the module does: acquire, complete, tick,
 * re-acquire after the tick for waiters; arb_check_invariants() after
 * every step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kmod/arb_core.h"

#define PERIOD_NS	1000000ULL		/* 1 ms */
#define CAP_MBPS	1000ULL			/* 1,000,000 bytes per period */
#define GUAR_MBPS	800ULL
#define CAP_BYTES	(CAP_MBPS * PERIOD_NS / 1000)

#define NCLIENTS	16

struct fixture {
	struct arb_state st;
	struct arb_client c[NCLIENTS];
};

static void check(struct fixture *f)
{
	assert_int_equal(arb_check_invariants(&f->st), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct arb_params p = {
		.period_ns = PERIOD_NS, .capacity_mbps = CAP_MBPS,
		.guaranteed_mbps = GUAR_MBPS, .max_clients = 256,
	};

	assert_non_null(f);
	assert_int_equal(arb_init(&f->st, &p), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static void add(struct fixture *f, int i, uint32_t weight, uint64_t res,
		uint64_t burst)
{
	struct arb_client_params cp = {
		.class = ARB_CLASS_CPU, .weight = weight,
		.reserve_mbps = res, .burst_bytes = burst,
	};

	assert_int_equal(arb_client_add(&f->st, &f->c[i], &cp), 0);
	check(f);
}

/* Greedy: acquire until refused, complete every grant in full at once. */
static uint64_t greedy_period(struct fixture *f, int i, uint64_t size)
{
	uint64_t got = 0, id;

	while (arb_acquire(&f->st, &f->c[i], size, &id) == 0) {
		assert_int_equal(arb_complete(&f->st, &f->c[i], id, size), 0);
		got += size;
	}
	check(f);
	return got;
}

static void test_init_rejects_bad_params(void **state)
{
	struct fixture *f = *state;
	struct arb_state s;
	struct arb_params ok = f->st.p, p;

	p = ok;
	p.period_ns = 9999;
	assert_int_equal(arb_init(&s, &p), -EINVAL);
	p = ok;
	p.period_ns = ARB_MAX_PERIOD_NS + 1;
	assert_int_equal(arb_init(&s, &p), -EINVAL);
	p = ok;
	p.guaranteed_mbps = p.capacity_mbps + 1;
	assert_int_equal(arb_init(&s, &p), -EINVAL);
	p = ok;
	p.capacity_mbps = 0;
	p.guaranteed_mbps = 0;
	assert_int_equal(arb_init(&s, &p), -EINVAL);
	p = ok;
	p.capacity_mbps = ARB_MAX_MBPS + 1;
	assert_int_equal(arb_init(&s, &p), -EINVAL);
	p = ok;
	p.max_clients = ARB_MAX_CLIENTS_LIMIT + 1;
	assert_int_equal(arb_init(&s, &p), -EINVAL);
	p = ok;
	p.max_clients = 0;	/* the default */
	assert_int_equal(arb_init(&s, &p), 0);
	assert_int_equal(s.p.max_clients, ARB_DEFAULT_CLIENTS);
	/* set_params validates the same way and leaves the state alone. */
	p = ok;
	p.period_ns = 1;
	assert_int_equal(arb_set_params(&f->st, &p), -EINVAL);
	assert_int_equal(f->st.p.period_ns, PERIOD_NS);
}

static void test_client_params_validated(void **state)
{
	struct fixture *f = *state;
	struct arb_client_params cp = { .class = 0, .weight = 1 };

	cp.weight = 0;
	assert_int_equal(arb_client_add(&f->st, &f->c[0], &cp), -EINVAL);
	cp.weight = ARB_MAX_WEIGHT + 1;
	assert_int_equal(arb_client_add(&f->st, &f->c[0], &cp), -EINVAL);
	cp.weight = 1;
	cp.class = ARB_CLASS_COUNT;
	assert_int_equal(arb_client_add(&f->st, &f->c[0], &cp), -EINVAL);
	cp.class = ARB_CLASS_GPU;
	cp.burst_bytes = ARB_MAX_REQUEST_BYTES + 1;
	assert_int_equal(arb_client_add(&f->st, &f->c[0], &cp), -EINVAL);
	assert_int_equal(f->st.nr_clients, 0);
	check(f);
}

/* Contract 1: admission control. */
static void test_admission_enospc(void **state)
{
	struct fixture *f = *state;
	struct arb_client_params cp = { .weight = 1, .reserve_mbps = 500 };

	assert_int_equal(arb_client_add(&f->st, &f->c[0], &cp), 0);
	cp.reserve_mbps = 301;	/* 500 + 301 > 800 */
	assert_int_equal(arb_client_add(&f->st, &f->c[1], &cp), -ENOSPC);
	cp.reserve_mbps = 300;	/* exactly 800 fits */
	assert_int_equal(arb_client_add(&f->st, &f->c[1], &cp), 0);
	cp.reserve_mbps = 1;
	assert_int_equal(arb_client_add(&f->st, &f->c[2], &cp), -ENOSPC);
	cp.reserve_mbps = 0;	/* best effort always fits */
	assert_int_equal(arb_client_add(&f->st, &f->c[2], &cp), 0);
	/* Removing frees the reservation. */
	arb_client_remove(&f->st, &f->c[0]);
	cp.reserve_mbps = 500;
	assert_int_equal(arb_client_add(&f->st, &f->c[0], &cp), 0);
	check(f);
}

static void test_admission_lower_guaranteed_ebusy(void **state)
{
	struct fixture *f = *state;
	struct arb_params p = f->st.p;

	add(f, 0, 1, 600, 0);
	p.guaranteed_mbps = 599;
	assert_int_equal(arb_set_params(&f->st, &p), -EBUSY);
	assert_int_equal(f->st.p.guaranteed_mbps, GUAR_MBPS);
	p.guaranteed_mbps = 600;
	assert_int_equal(arb_set_params(&f->st, &p), 0);
	assert_int_equal(f->st.p.guaranteed_mbps, 600);
	check(f);
}

/* Contract 5: hard cap on clients. */
static void test_max_clients_emfile(void **state)
{
	struct fixture *f = *state;
	struct arb_params p = f->st.p;
	struct arb_client_params cp = { .weight = 1 };
	int i;

	p.max_clients = 4;
	assert_int_equal(arb_set_params(&f->st, &p), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(arb_client_add(&f->st, &f->c[i], &cp), 0);
	assert_int_equal(arb_client_add(&f->st, &f->c[4], &cp), -EMFILE);
	p.max_clients = 3;
	assert_int_equal(arb_set_params(&f->st, &p), -EBUSY);
	arb_client_remove(&f->st, &f->c[3]);
	assert_int_equal(arb_set_params(&f->st, &p), 0);
	check(f);
}

static void test_acquire_errors(void **state)
{
	struct fixture *f = *state;
	uint64_t id, ids[ARB_MAX_GRANTS];
	unsigned int i;

	add(f, 0, 1, 0, 0);
	assert_int_equal(arb_acquire(&f->st, &f->c[0], 0, &id), -EINVAL);
	assert_int_equal(arb_acquire(&f->st, &f->c[0], ARB_MAX_REQUEST_BYTES + 1,
				     &id), -EINVAL);
	for (i = 0; i < ARB_MAX_GRANTS; i++)
		assert_int_equal(arb_acquire(&f->st, &f->c[0], 10, &ids[i]), 0);
	assert_int_equal(arb_acquire(&f->st, &f->c[0], 10, &id), -EBUSY);
	assert_int_equal(arb_complete(&f->st, &f->c[0], ids[7], 10), 0);
	assert_int_equal(arb_acquire(&f->st, &f->c[0], 10, &id), 0);
	assert_int_not_equal(id, ids[7]);
	/* Unknown, completed twice, zero. */
	assert_int_equal(arb_complete(&f->st, &f->c[0], ids[7], 10), -ENOENT);
	assert_int_equal(arb_complete(&f->st, &f->c[0], 0, 10), -ENOENT);
	assert_int_equal(arb_complete(&f->st, &f->c[0], id + 64, 10), -ENOENT);
	assert_int_equal(arb_complete(&f->st, &f->c[0], id,
				      ARB_MAX_REQUEST_BYTES + 1), -EINVAL);
	check(f);
}

/*
 * Contract 2: a reserved client asking at most b_i bytes is granted within
 * ceil(bytes / (r_i * P)) + 1 periods, with 8 greedy competitors whose
 * weights dwarf its own, for request sizes up to its burst.
 */
static void test_reservation_bound_under_greedy(void **state)
{
	struct fixture *f = *state;
	const uint64_t r = 100, per = r * PERIOD_NS / 1000;	/* 100,000 B */
	const uint64_t sizes[] = { 1, 4096, per - 1, per, per + 1, 3 * per + 7 };
	unsigned int s;
	int i;

	add(f, 0, 1, r, 4 * per);
	for (i = 1; i <= 8; i++)
		add(f, i, ARB_MAX_WEIGHT, i == 8 ? GUAR_MBPS - r : 0, 0);
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint64_t bound = (sizes[s] + per - 1) / per + 1, waited, id;
		int ret;

		/* Competitors drain everything first: the worst case. */
		for (i = 1; i <= 8; i++)
			greedy_period(f, i, 1000 + 977 * i);
		ret = arb_acquire(&f->st, &f->c[0], sizes[s], &id);
		for (waited = 0; ret == -EAGAIN; waited++) {
			assert_true(waited < bound);
			arb_tick(&f->st, ARB_MEASURED_NONE);
			check(f);
			/* Competitors move first after every tick. */
			for (i = 1; i <= 8; i++)
				greedy_period(f, i, 1000 + 977 * i);
			ret = arb_acquire(&f->st, &f->c[0], sizes[s], &id);
		}
		assert_int_equal(ret, 0);
		assert_int_equal(arb_complete(&f->st, &f->c[0], id, sizes[s]), 0);
		print_message("# size %llu granted after %llu periods (bound %llu)\n",
			      (unsigned long long)sizes[s],
			      (unsigned long long)waited,
			      (unsigned long long)bound);
	}
}

/*
 * Contract 2 with nothing shared: undeclared traffic fills the bus (the
 * counters see the whole capacity), so only reservations are funded; a
 * greedy reserved competitor holds the rest of guaranteed. The asker gets
 * exactly its reservation: granted within ceil(bytes / (r * P)) periods.
 */
static void test_reservation_bound_no_shared_capacity(void **state)
{
	struct fixture *f = *state;
	const uint64_t r = 50, per = r * PERIOD_NS / 1000;	/* 50,000 B */
	const uint64_t sizes[] = { 1, per / 3, per, per + 1, 5 * per - 1, 8 * per };
	struct arb_stats st;
	unsigned int s;
	int i;

	add(f, 0, 1, r, 8 * per);
	add(f, 1, ARB_MAX_WEIGHT, GUAR_MBPS - r, 0);
	add(f, 2, ARB_MAX_WEIGHT, 0, 0);
	for (i = 0; i < 64; i++) {
		greedy_period(f, 1, 7777);
		greedy_period(f, 2, 7777);
		arb_tick(&f->st, f->st.completed_this_period + CAP_BYTES);
	}
	arb_get_stats(&f->st, &st);
	assert_true(st.shared_bytes_last < per / 10);
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint64_t n = (sizes[s] + per - 1) / per, waited, id;
		int ret;

		greedy_period(f, 1, 7777);
		greedy_period(f, 2, 7777);
		ret = arb_acquire(&f->st, &f->c[0], sizes[s], &id);
		for (waited = 0; ret == -EAGAIN; waited++) {
			assert_true(waited < n + 1);
			arb_tick(&f->st, f->st.completed_this_period + CAP_BYTES);
			check(f);
			greedy_period(f, 1, 7777);
			greedy_period(f, 2, 7777);
			ret = arb_acquire(&f->st, &f->c[0], sizes[s], &id);
		}
		assert_int_equal(ret, 0);
		print_message("# no shared capacity: %llu bytes after %llu periods (ceil %llu)\n",
			      (unsigned long long)sizes[s],
			      (unsigned long long)waited, (unsigned long long)n);
		assert_true(waited <= n);
		assert_int_equal(arb_complete(&f->st, &f->c[0], id, sizes[s]), 0);
	}
}

/*
 * Work-conserving: capacity no demand took stays in the pool and any
 * client short of budget draws from it during the period, even one that
 * was idle at the tick.
 */
static void test_pool_serves_newcomer(void **state)
{
	struct fixture *f = *state;
	struct arb_stats st;
	uint64_t id;

	add(f, 0, 1, 0, 0);
	add(f, 1, 1, 0, 0);
	assert_int_equal(arb_acquire(&f->st, &f->c[0], 100000, &id), 0);
	arb_tick(&f->st, ARB_MEASURED_NONE);
	arb_get_stats(&f->st, &st);
	assert_true(st.pool_bytes > CAP_BYTES / 2);
	/* Client 1 was idle at the tick: the pool serves it at once. */
	assert_int_equal(arb_acquire(&f->st, &f->c[1], CAP_BYTES / 2, &id), 0);
	check(f);
}

/*
 * The light pool: a steady client (30,000 bytes each period, in 3 asks,
 * under its weighted share of 47,619) against greedy ones is held its use
 * at every tick and never waits once its average is known.
 */
static void test_steady_client_held(void **state)
{
	struct fixture *f = *state;
	uint64_t id, waits_before;
	struct arb_client_stats cs;
	int p, k;

	add(f, 0, 10, 0, 0);
	add(f, 1, 100, 0, 0);
	add(f, 2, 100, 0, 0);
	for (p = 0; p < 200; p++) {
		if (p == 100) {
			arb_client_get_stats(&f->c[0], &cs);
			waits_before = cs.waits;
		}
		greedy_period(f, 1 + p % 2, 4096);
		for (k = 0; k < 3; k++) {
			if (arb_acquire(&f->st, &f->c[0], 10000, &id) == -EAGAIN)
				break;
			arb_complete(&f->st, &f->c[0], id, 10000);
		}
		greedy_period(f, 2 - p % 2, 4096);
		arb_tick(&f->st, ARB_MEASURED_NONE);
		if (f->c[0].pending_bytes) {
			assert_int_equal(arb_acquire(&f->st, &f->c[0], 10000, &id), 0);
			arb_complete(&f->st, &f->c[0], id, 10000);
		}
		check(f);
	}
	arb_client_get_stats(&f->c[0], &cs);
	print_message("# steady client waited %llu times in the last 100 periods\n",
		      (unsigned long long)(cs.waits - waits_before));
	assert_int_equal(cs.waits, waits_before);
}

/*
 * Rounding: capacity and reservation carry their byte fractions apart, so
 * a period may charge a byte above capacity; over many periods what a
 * client reserving all of it accumulates never exceeds the periods'
 * capacity (found by the fuzzer: 17 bytes over 64 periods, before the
 * overdraw was repaid). Removing it keeps the per-period check valid.
 */
static void test_rounding_never_exceeds_capacity(void **state)
{
	struct fixture *f = *state;
	struct arb_params p = {
		.period_ns = 334865, .capacity_mbps = 9472,
		.guaranteed_mbps = 9472, .max_clients = 8,
	};
	uint64_t cap_total, id;
	int k;

	assert_int_equal(arb_init(&f->st, &p), 0);
	cap_total = f->st.cap_bytes;
	add(f, 0, 1, 9472, 0);
	assert_int_equal(arb_acquire(&f->st, &f->c[0], ARB_MAX_REQUEST_BYTES, &id),
			 -EAGAIN);
	for (k = 0; k < 1000; k++) {
		arb_tick(&f->st, ARB_MEASURED_NONE);
		cap_total += f->st.cap_bytes;
		check(f);
		assert_true(f->c[0].reserve_budget + f->c[0].share_budget <=
			    cap_total + 1);
	}
	arb_client_remove(&f->st, &f->c[0]);
	check(f);
}

/* Runs n periods of greedy clients 0..k-1; got[i] is what each received. */
static void run_greedy(struct fixture *f, int k, const uint64_t *size,
		       int periods, uint64_t *got)
{
	int p, i;

	for (i = 0; i < k; i++)
		got[i] = 0;
	for (p = 0; p < periods; p++) {
		/* Rotate who goes first so order cannot explain the shares. */
		for (i = 0; i < k; i++) {
			int j = (i + p) % k;

			got[j] += greedy_period(f, j, size[j]);
		}
		arb_tick(&f->st, ARB_MEASURED_NONE);
		check(f);
	}
}

/* Contract 3: weighted sharing, greedy clients with weights 1:2:4. */
static void test_weighted_shares(void **state)
{
	struct fixture *f = *state;
	const uint64_t size[3] = { 4096, 4096, 4096 };
	uint64_t got[3], total;
	int i;

	add(f, 0, 1, 0, 0);
	add(f, 1, 2, 0, 0);
	add(f, 2, 4, 0, 0);
	/* Newly backlogged shares double per period: warm up first. */
	run_greedy(f, 3, size, 20, got);
	run_greedy(f, 3, size, 1000, got);
	total = got[0] + got[1] + got[2];
	/* Work-conserving: all but the first periods' ramp is used. */
	assert_true(total >= 990 * (CAP_BYTES - 3 * 4096));
	for (i = 0; i < 3; i++) {
		double ideal = total * (double)(1 << i) / 7.0;

		print_message("# weight %d: %.4f of ideal\n", 1 << i, got[i] / ideal);
		assert_true(got[i] > 0.98 * ideal && got[i] < 1.02 * ideal);
	}
}

/* Contract 3: equal weights, different request sizes, equal bytes. */
static void test_equal_shares_mixed_sizes(void **state)
{
	struct fixture *f = *state;
	const uint64_t size[4] = { 1000, 7000, 30000, 64 };
	uint64_t got[4], total;
	int i;

	for (i = 0; i < 4; i++)
		add(f, i, 10, 0, 0);
	run_greedy(f, 4, size, 20, got);
	run_greedy(f, 4, size, 1000, got);
	total = got[0] + got[1] + got[2] + got[3];
	for (i = 0; i < 4; i++) {
		print_message("# size %llu: %.4f of equal share\n",
			      (unsigned long long)size[i], got[i] * 4.0 / total);
		assert_true(got[i] * 4.0 / total > 0.98 &&
			    got[i] * 4.0 / total < 1.02);
	}
}

/*
 * Contract 3: max-min. A client wanting 50,000 bytes per period (well under
 * its equal share) gets all of it; the two greedy clients split the rest.
 */
static void test_max_min_low_demand(void **state)
{
	struct fixture *f = *state;
	uint64_t got[3] = { 0 }, id;
	int p, i;

	for (i = 0; i < 3; i++)
		add(f, i, 1, 0, 0);
	for (p = 0; p < 1000; p++) {
		int ret = arb_acquire(&f->st, &f->c[0], 50000, &id);

		if (!ret) {
			got[0] += 50000;
			arb_complete(&f->st, &f->c[0], id, 50000);
		}
		/* Who asks first after a tick is arbitrary: rotate. */
		got[1 + p % 2] += greedy_period(f, 1 + p % 2, 8192);
		got[2 - p % 2] += greedy_period(f, 2 - p % 2, 8192);
		arb_tick(&f->st, ARB_MEASURED_NONE);
		if (ret) {	/* waited: the retry after the tick */
			assert_int_equal(arb_acquire(&f->st, &f->c[0], 50000, &id), 0);
			got[0] += 50000;
			arb_complete(&f->st, &f->c[0], id, 50000);
		}
		check(f);
	}
	print_message("# low %llu greedy %llu %llu\n", (unsigned long long)got[0],
		      (unsigned long long)got[1], (unsigned long long)got[2]);
	assert_true(got[0] >= 999 * 50000ULL);
	assert_true(got[1] > 0.98 * got[2] && got[2] > 0.98 * got[1]);
	/* The greedy pair gets (almost) all the rest. */
	assert_true(got[1] + got[2] > 0.95 * (1000 * CAP_BYTES - got[0]));
}

/* Work-conserving: a single greedy client gets the whole capacity. */
static void test_work_conserving_single(void **state)
{
	struct fixture *f = *state;
	uint64_t got, size = 10000;

	add(f, 0, 1, 0, 0);
	run_greedy(f, 1, &size, 100, &got);
	assert_true(got >= 99 * CAP_BYTES);
	/* Idle reservations are lent: same with a silent reserved client. */
	add(f, 1, 1, GUAR_MBPS, 0);
	arb_tick(&f->st, ARB_MEASURED_NONE);
	run_greedy(f, 1, &size, 100, &got);
	assert_true(got >= 99 * CAP_BYTES);
}

/* Contract 4: a request of several periods' capacity, against competitors. */
static void test_large_request_accumulates(void **state)
{
	struct fixture *f = *state;
	const uint64_t big = 5 * CAP_BYTES + 12345;
	const uint64_t sizes[4] = { 5000, 5000, 5000, 5000 };
	uint64_t id, got[4];
	int periods = 0, ret, i;

	for (i = 0; i < 4; i++)
		add(f, i, 1, 0, 0);
	/* The competitors are backlogged already. */
	run_greedy(f, 4, sizes, 20, got);
	arb_cancel(&f->st, &f->c[0]);
	ret = arb_acquire(&f->st, &f->c[0], big, &id);
	while (ret == -EAGAIN) {
		assert_true(++periods < 40);	/* a quarter share: ~21 periods */
		for (i = 1; i < 4; i++)
			greedy_period(f, i, 5000);
		arb_tick(&f->st, ARB_MEASURED_NONE);
		check(f);
		ret = arb_acquire(&f->st, &f->c[0], big, &id);
	}
	assert_int_equal(ret, 0);
	print_message("# %llu bytes granted after %d periods\n",
		      (unsigned long long)big, periods);
	assert_true(periods >= 20);	/* no more than its share */
	assert_int_equal(arb_complete(&f->st, &f->c[0], id, big), 0);
	check(f);
}

/*
 * borrow_periods: a request above one period's capacity is granted at
 * once on a bus nobody waits for, its shortfall the client's own debt;
 * while it owes, or while someone waits, or beyond the horizon, or with
 * borrowing off, it waits as before; its debt is repaid from its own
 * funding, not the others'.
 */
static void test_large_request_borrows(void **state)
{
	struct fixture *f = *state;
	struct arb_params p = f->st.p;
	struct arb_client_stats cs;
	const uint64_t big = 3 * CAP_BYTES + 777;
	uint64_t id, id2;
	int periods = 0;

	add(f, 0, 1, 0, 0);
	add(f, 1, 1, 0, 0);
	/* off (the default): it waits */
	assert_int_equal(arb_acquire(&f->st, &f->c[0], big, &id), -EAGAIN);
	arb_cancel(&f->st, &f->c[0]);
	check(f);
	p.borrow_periods = 4;
	assert_int_equal(arb_set_params(&f->st, &p), 0);
	/* beyond the horizon of 4 periods: it waits */
	assert_int_equal(arb_acquire(&f->st, &f->c[0], 5 * CAP_BYTES, &id), -EAGAIN);
	arb_cancel(&f->st, &f->c[0]);
	check(f);
	/* someone else waits: no borrowing */
	assert_int_equal(arb_acquire(&f->st, &f->c[1], 5 * CAP_BYTES, &id2), -EAGAIN);
	assert_int_equal(arb_acquire(&f->st, &f->c[0], big, &id), -EAGAIN);
	arb_cancel(&f->st, &f->c[0]);
	arb_cancel(&f->st, &f->c[1]);
	check(f);
	arb_tick(&f->st, ARB_MEASURED_NONE);
	/* idle bus: granted at once, the rest owed */
	assert_int_equal(arb_acquire(&f->st, &f->c[0], big, &id), 0);
	check(f);
	arb_client_get_stats(&f->c[0], &cs);
	assert_true(cs.debt_bytes >= big - CAP_BYTES - 1);
	assert_true(cs.debt_bytes <= big);
	/* in debt: the next large request waits until it is repaid */
	assert_int_equal(arb_complete(&f->st, &f->c[0], id, big), 0);
	while (arb_acquire(&f->st, &f->c[0], big, &id) == -EAGAIN) {
		assert_true(++periods < 40);
		arb_tick(&f->st, ARB_MEASURED_NONE);
		check(f);
	}
	arb_client_get_stats(&f->c[0], &cs);
	print_message("# borrowed %llu bytes at once; the next request waited %d periods\n",
		      (unsigned long long)big, periods);
	assert_true(periods >= 2);
	assert_int_equal(arb_complete(&f->st, &f->c[0], id, big), 0);
	check(f);
	/* the other client was never charged */
	arb_client_get_stats(&f->c[1], &cs);
	assert_int_equal(cs.debt_bytes, 0);
}

/* Contract 4: COMPLETE with fewer bytes returns the difference. */
static void test_complete_short_refunds(void **state)
{
	struct fixture *f = *state;
	uint64_t id, id2;

	add(f, 0, 1, 0, 0);
	arb_tick(&f->st, ARB_MEASURED_NONE);
	/* Take the whole period, complete half: the half is usable again. */
	assert_int_equal(arb_acquire(&f->st, &f->c[0], CAP_BYTES, &id), 0);
	assert_int_equal(arb_acquire(&f->st, &f->c[0], 1, &id2), -EAGAIN);
	assert_int_equal(arb_complete(&f->st, &f->c[0], id, CAP_BYTES / 2), 0);
	assert_int_equal(arb_acquire(&f->st, &f->c[0], CAP_BYTES / 2, &id2), 0);
	assert_int_equal(arb_acquire(&f->st, &f->c[0], 1, &id), -EAGAIN);
	arb_cancel(&f->st, &f->c[0]);
	check(f);
}

/* Contract 4: COMPLETE with more bytes is debt against the next periods. */
static void test_complete_long_is_debt(void **state)
{
	struct fixture *f = *state;
	struct arb_client_stats cs;
	uint64_t id, got[2];
	const uint64_t size[2] = { 10000, 10000 };
	int periods = 0, ret;

	add(f, 0, 1, 0, 0);
	add(f, 1, 1, 0, 0);
	run_greedy(f, 2, size, 20, got);
	arb_cancel(&f->st, &f->c[0]);
	arb_tick(&f->st, ARB_MEASURED_NONE);
	assert_int_equal(arb_acquire(&f->st, &f->c[0], 1000, &id), 0);
	assert_int_equal(arb_complete(&f->st, &f->c[0], id, 1000 + 3 * CAP_BYTES), 0);
	arb_client_get_stats(&f->c[0], &cs);
	assert_int_equal(cs.debt_bytes, 3 * CAP_BYTES);
	check(f);
	/* The debtor waits while its debt is repaid from its share. */
	ret = arb_acquire(&f->st, &f->c[0], 1000, &id);
	while (ret == -EAGAIN) {
		periods++;
		greedy_period(f, 1, 10000);
		arb_tick(&f->st, ARB_MEASURED_NONE);
		check(f);
		ret = arb_acquire(&f->st, &f->c[0], 1000, &id);
	}
	print_message("# debtor waited %d periods\n", periods);
	assert_true(periods >= 5);	/* half of each period repays 3 periods */
	arb_client_get_stats(&f->c[0], &cs);
	assert_int_equal(cs.debt_bytes, 0);
	/* And the debt-free competitor kept getting its share meanwhile. */
	run_greedy(f, 2, size, 10, got);
	assert_true(got[1] > 4 * CAP_BYTES);
}

/* Contract 5: idle clients cost nothing per period. */
static void test_idle_clients_not_visited(void **state)
{
	struct fixture *f = *state;
	static struct arb_client many[2000];
	struct arb_client_params cp = { .weight = 1 };
	struct arb_params p = f->st.p;
	uint64_t id;
	int i;

	p.max_clients = 4000;
	assert_int_equal(arb_set_params(&f->st, &p), 0);
	for (i = 0; i < 2000; i++)
		assert_int_equal(arb_client_add(&f->st, &many[i], &cp), 0);
	arb_tick(&f->st, ARB_MEASURED_NONE);
	assert_int_equal(f->st.nr_active, 0);
	assert_int_equal(arb_acquire(&f->st, &many[5], 100, &id), 0);
	assert_int_equal(f->st.nr_active, 1);
	assert_int_equal(arb_complete(&f->st, &many[5], id, 100), 0);
	/* It stays active while its average use decays (1/8 per period). */
	for (i = 0; i < 100 && f->st.nr_active; i++)
		arb_tick(&f->st, ARB_MEASURED_NONE);
	print_message("# inactive after %d periods\n", i);
	assert_int_equal(f->st.nr_active, 0);
	check(f);
	for (i = 0; i < 2000; i++)
		arb_client_remove(&f->st, &many[i]);
	check(f);
}

static void test_cancel_and_remove(void **state)
{
	struct fixture *f = *state;
	uint64_t id;

	add(f, 0, 1, 0, 0);
	add(f, 1, 1, 100, 0);
	arb_tick(&f->st, ARB_MEASURED_NONE);
	greedy_period(f, 0, 1000);
	arb_cancel(&f->st, &f->c[0]);
	assert_int_equal(arb_acquire(&f->st, &f->c[1], 100, &id), -EAGAIN);
	assert_int_equal(f->st.nr_waiting, 1);
	arb_cancel(&f->st, &f->c[1]);
	assert_int_equal(f->st.nr_waiting, 0);
	assert_int_equal(arb_acquire(&f->st, &f->c[1], 100, &id), -EAGAIN);
	/* Removal while waiting and while holding a grant. */
	arb_client_remove(&f->st, &f->c[1]);
	assert_int_equal(f->st.nr_waiting, 0);
	assert_int_equal(f->st.sum_reserve_mbps, 0);
	arb_tick(&f->st, ARB_MEASURED_NONE);
	assert_int_equal(arb_acquire(&f->st, &f->c[0], 1000, &id), 0);
	arb_client_remove(&f->st, &f->c[0]);
	assert_int_equal(f->st.nr_clients, 0);
	assert_int_equal(f->st.nr_active, 0);
	check(f);
}

/*
 * Feedback: unattributed traffic of X bytes per period converges in the
 * EMA, shrinks the shared capacity by X, never the reservations.
 */
static void test_unattributed_feedback(void **state)
{
	struct fixture *f = *state;
	const uint64_t x = 300000, res = 500;
	const uint64_t res_bytes = res * PERIOD_NS / 1000;
	struct arb_stats s;
	uint64_t got[2], id;
	const uint64_t size[2] = { 5000, 5000 };
	int p;

	add(f, 0, 1, res, res_bytes);
	add(f, 1, 1, 0, 0);
	for (p = 0; p < 100; p++) {
		uint64_t done = f->st.completed_this_period;

		arb_tick(&f->st, done + x);
		greedy_period(f, 0, 5000);
		greedy_period(f, 1, 5000);
	}
	arb_get_stats(&f->st, &s);
	print_message("# unattributed ema %llu B/period, %llu MB/s\n",
		      (unsigned long long)s.unattributed_bytes_ema,
		      (unsigned long long)s.unattributed_mbps);
	assert_true(s.unattributed_bytes_ema > x * 99 / 100 &&
		    s.unattributed_bytes_ema <= x);
	assert_int_equal(s.unattributed_mbps, s.unattributed_bytes_ema * 1000 / PERIOD_NS);
	/* One more period, measured: the shares are what is left. */
	got[0] = f->st.completed_this_period;
	arb_tick(&f->st, got[0] + x);
	arb_get_stats(&f->st, &s);
	assert_true(s.reserved_bytes_last >= res_bytes);
	assert_true(s.shared_bytes_last + s.reserved_bytes_last +
		    s.unattributed_bytes_ema <= CAP_BYTES);
	run_greedy(f, 2, size, 1, got);
	assert_true(got[0] >= res_bytes - 5000);
	assert_true(got[0] + got[1] <= CAP_BYTES - x * 98 / 100);
	/* Unattributed traffic above the shared part: reservation intact. */
	for (p = 0; p < 100; p++)
		arb_tick(&f->st, f->st.completed_this_period + CAP_BYTES);
	greedy_period(f, 1, 5000);
	assert_int_equal(arb_acquire(&f->st, &f->c[1], 5000, &id), -EAGAIN);
	arb_cancel(&f->st, &f->c[1]);
	greedy_period(f, 0, 5000);
	assert_int_equal(arb_acquire(&f->st, &f->c[0], res_bytes, &id), -EAGAIN);
	arb_tick(&f->st, f->st.completed_this_period + CAP_BYTES);
	assert_int_equal(arb_acquire(&f->st, &f->c[0], res_bytes, &id), 0);
	/* No counters: the estimate decays. */
	for (p = 0; p < 200; p++)
		arb_tick(&f->st, ARB_MEASURED_NONE);
	arb_get_stats(&f->st, &s);
	assert_true(s.unattributed_bytes_ema < 1000);
	check(f);
}

/* Fast path: issue, honest settle, overdraw, inconsistent page. */
static void test_fastpath(void **state)
{
	struct fixture *f = *state;
	struct arb_client_stats cs;
	uint64_t issued, id;

	add(f, 0, 1, 0, 0);
	add(f, 1, 1, 0, 0);
	/* A client with nothing issued and nothing consumed. */
	assert_int_equal(arb_fastpath_settle(&f->st, &f->c[0], 0), -ENOENT);
	greedy_period(f, 0, 10000);
	arb_cancel(&f->st, &f->c[0]);
	arb_tick(&f->st, ARB_MEASURED_NONE);
	issued = arb_fastpath_issue(&f->st, &f->c[0]);
	assert_true(issued > 0);
	assert_int_equal(arb_fastpath_issue(&f->st, &f->c[0]), 0);
	/* The page budget is no longer in the ioctl budget. */
	arb_client_get_stats(&f->c[0], &cs);
	assert_int_equal(cs.budget_bytes, 0);
	check(f);
	/* Honest: used 1000 of it, the rest returns. */
	assert_int_equal(arb_fastpath_settle(&f->st, &f->c[0], 1000), 0);
	arb_client_get_stats(&f->c[0], &cs);
	assert_int_equal(cs.fast_bytes, 1000);
	assert_int_equal(cs.budget_bytes, issued - 1000);
	assert_int_equal(cs.tamper_events, 0);
	check(f);
	/* Overdraw: counted, charged as debt, never granted. */
	arb_tick(&f->st, ARB_MEASURED_NONE);
	issued = arb_fastpath_issue(&f->st, &f->c[0]);
	assert_int_equal(arb_fastpath_settle(&f->st, &f->c[0], issued + 777),
			 -EINVAL);
	arb_client_get_stats(&f->c[0], &cs);
	assert_int_equal(cs.tamper_events, 1);
	assert_int_equal(cs.debt_bytes, 777);
	assert_int_equal(cs.fast_bytes, 1000 + issued);
	check(f);
	/* Inconsistent page: the whole issue is spent and owed again. */
	arb_tick(&f->st, ARB_MEASURED_NONE);
	issued = arb_fastpath_issue(&f->st, &f->c[0]);
	assert_int_equal(arb_fastpath_settle(&f->st, &f->c[0], ARB_FP_INCONSISTENT),
			 -EINVAL);
	arb_client_get_stats(&f->c[0], &cs);
	assert_int_equal(cs.tamper_events, 2);
	assert_int_equal(f->st.tamper_events, 2);
	assert_true(cs.debt_bytes >= issued);
	/* Consumption claimed without any issue is tampering too. */
	assert_int_equal(arb_fastpath_settle(&f->st, &f->c[1], 5), -EINVAL);
	check(f);
	/*
	 * A waiting acquire keeps what it needs out of the page (a client
	 * without debt: one in debt draws no pool, so greedy_period() would
	 * give it nothing to predict its use from).
	 */
	add(f, 2, 1, 0, 0);
	arb_tick(&f->st, ARB_MEASURED_NONE);
	greedy_period(f, 2, 1000);
	assert_int_equal(arb_acquire(&f->st, &f->c[2], 1000, &id), -EAGAIN);
	arb_tick(&f->st, ARB_MEASURED_NONE);
	issued = arb_fastpath_issue(&f->st, &f->c[2]);
	assert_true(issued > 0);
	assert_int_equal(arb_acquire(&f->st, &f->c[2], 1000, &id), 0);
	assert_int_equal(arb_fastpath_settle(&f->st, &f->c[2], issued), 0);
	check(f);
}

/* Period and capacity changes while clients wait keep the invariants. */
static void test_param_change_midway(void **state)
{
	struct fixture *f = *state;
	struct arb_params p = f->st.p;
	uint64_t got[2];
	const uint64_t size[2] = { 3000, 3000 };

	add(f, 0, 1, 100, 100000);
	add(f, 1, 1, 0, 0);
	run_greedy(f, 2, size, 10, got);
	p.capacity_mbps = 400;
	p.guaranteed_mbps = 200;
	p.period_ns = 250000;
	assert_int_equal(arb_set_params(&f->st, &p), 0);
	check(f);
	run_greedy(f, 2, size, 100, got);
	print_message("# after the change: %llu + %llu bytes in 100 periods\n",
		      (unsigned long long)got[0], (unsigned long long)got[1]);
	/*
	 * The period under way when they changed keeps its funding, and
	 * waiting clients keep what they hold (less than a request each).
	 */
	assert_true(got[0] + got[1] <= 99ULL * 400 * 250000 / 1000 + CAP_BYTES +
		    2 * 3000);
	assert_true(got[0] + got[1] >= 95ULL * 400 * 250000 / 1000);
	assert_true(got[0] > got[1]);	/* the reserved one gets r + half */
}

/*
 * arb_grant_bytes() (what the module's COMPLETE reports as granted): the
 * size of each outstanding grant, -ENOENT once completed, for an id
 * never handed out, and for an id whose slot was reused.
 */
static void test_grant_bytes_outstanding_only(void **state)
{
	struct fixture *f = *state;
	uint64_t a, b, c, bytes = 0;

	add(f, 0, 1, 0, 0);
	assert_int_equal(arb_acquire(&f->st, &f->c[0], 1000, &a), 0);
	assert_int_equal(arb_acquire(&f->st, &f->c[0], 2500, &b), 0);
	assert_int_equal(arb_grant_bytes(&f->c[0], a, &bytes), 0);
	assert_int_equal(bytes, 1000);
	assert_int_equal(arb_grant_bytes(&f->c[0], b, &bytes), 0);
	assert_int_equal(bytes, 2500);
	assert_int_equal(arb_grant_bytes(&f->c[0], 0, &bytes), -ENOENT);
	assert_int_equal(arb_grant_bytes(&f->c[0], a ^ (1ULL << 40), &bytes), -ENOENT);
	assert_int_equal(arb_complete(&f->st, &f->c[0], a, 1000), 0);
	assert_int_equal(arb_grant_bytes(&f->c[0], a, &bytes), -ENOENT);
	/* The freed slot serves a new grant under another id. */
	assert_int_equal(arb_acquire(&f->st, &f->c[0], 300, &c), 0);
	assert_int_not_equal(c, a);
	assert_int_equal(arb_grant_bytes(&f->c[0], a, &bytes), -ENOENT);
	assert_int_equal(arb_grant_bytes(&f->c[0], c, &bytes), 0);
	assert_int_equal(bytes, 300);
	assert_int_equal(arb_complete(&f->st, &f->c[0], b, 2500), 0);
	assert_int_equal(arb_complete(&f->st, &f->c[0], c, 300), 0);
	check(f);
}

/*
 * Issue 11: a COMPLETE of 2^40 bytes makes bounded debt, and a client in
 * debt draws nothing from the pools and holds no shared capacity while it
 * does not wait: its lie costs it alone.
 */
static void test_debt_bounded_hurts_only_debtor(void **state)
{
	struct fixture *f = *state;
	struct arb_client_stats cs;
	struct arb_stats st;
	uint64_t id, pool;

	add(f, 0, 1, 0, 0);
	add(f, 1, 1, 0, 0);
	arb_tick(&f->st, ARB_MEASURED_NONE);
	assert_int_equal(arb_acquire(&f->st, &f->c[0], 1, &id), 0);
	assert_int_equal(arb_complete(&f->st, &f->c[0], id, ARB_MAX_REQUEST_BYTES), 0);
	check(f);
	arb_client_get_stats(&f->c[0], &cs);
	assert_true(cs.debt_bytes <= ARB_MAX_DEBT_PERIODS * CAP_BYTES);
	/* The debtor does not wait: the next period's capacity stays shared. */
	arb_tick(&f->st, ARB_MEASURED_NONE);
	check(f);
	arb_get_stats(&f->st, &st);
	pool = st.pool_bytes;
	assert_true(pool >= CAP_BYTES / 2);
	/* Its acquire draws nothing from the pool to repay its debt. */
	assert_int_equal(arb_acquire(&f->st, &f->c[0], 1, &id), -EAGAIN);
	arb_get_stats(&f->st, &st);
	assert_int_equal(st.pool_bytes, pool);
	arb_cancel(&f->st, &f->c[0]);
	/* The honest client gets the period's capacity at once. */
	assert_int_equal(arb_acquire(&f->st, &f->c[1], CAP_BYTES / 2, &id), 0);
	check(f);
}

/*
 * Issue 11: grants kept from earlier periods refund nothing when
 * completed short, so a client cannot hoard capacity across periods.
 */
static void test_hoarded_grants_refund_nothing(void **state)
{
	struct fixture *f = *state;
	uint64_t ids[ARB_MAX_GRANTS], id, got = 0;
	unsigned int i;

	add(f, 0, 1, 0, 0);
	for (i = 0; i < 10; i++) {
		arb_tick(&f->st, ARB_MEASURED_NONE);
		assert_int_equal(arb_acquire(&f->st, &f->c[0], CAP_BYTES / 2,
					     &ids[i]), 0);
		check(f);
	}
	arb_tick(&f->st, ARB_MEASURED_NONE);
	for (i = 0; i < 10; i++)
		assert_int_equal(arb_complete(&f->st, &f->c[0], ids[i], 0), 0);
	check(f);
	while (arb_try_acquire(&f->st, &f->c[0], CAP_BYTES / 10, &id) == 0) {
		assert_int_equal(arb_complete(&f->st, &f->c[0], id, CAP_BYTES / 10), 0);
		got += CAP_BYTES / 10;
		assert_true(got <= 2 * CAP_BYTES);
	}
	print_message("# after 10 hoarded grants: %llu bytes in one period\n",
		      (unsigned long long)got);
	assert_true(got <= CAP_BYTES);
	check(f);
}

/* Issue 11: a non-blocking miss changes nothing (no demand, no draw). */
static void test_try_acquire_miss_changes_nothing(void **state)
{
	struct fixture *f = *state;
	struct arb_client_stats before, after;
	struct arb_stats s0, s1;
	uint64_t id;

	add(f, 0, 1, 0, 0);
	arb_tick(&f->st, ARB_MEASURED_NONE);
	arb_client_get_stats(&f->c[0], &before);
	arb_get_stats(&f->st, &s0);
	assert_int_equal(arb_try_acquire(&f->st, &f->c[0], 2 * CAP_BYTES, &id),
			 -EAGAIN);
	arb_client_get_stats(&f->c[0], &after);
	arb_get_stats(&f->st, &s1);
	assert_int_equal(after.waits, before.waits);
	assert_int_equal(after.budget_bytes, before.budget_bytes);
	assert_int_equal(s1.pool_bytes, s0.pool_bytes);
	assert_int_equal(s1.nr_waiting, 0);
	assert_int_equal(arb_try_acquire(&f->st, &f->c[0], CAP_BYTES / 2, &id), 0);
	check(f);
}

/*
 * Issue 11: burst_bytes bounds the reservation a waiting client
 * accumulates; the rest of its refill is lent to the others.
 */
static void test_burst_bounds_accumulation(void **state)
{
	struct fixture *f = *state;
	struct arb_client_stats cs;
	const uint64_t burst = 150000;	/* reservation: 100000 per period */
	uint64_t id;
	int i;

	add(f, 0, 1, 100, burst);
	add(f, 1, ARB_MAX_WEIGHT, 0, 0);
	/* The greedy one takes this period's pool; then both wait. */
	assert_int_equal(arb_acquire(&f->st, &f->c[1], 10 * CAP_BYTES, &id), -EAGAIN);
	assert_int_equal(arb_acquire(&f->st, &f->c[0], 10 * CAP_BYTES, &id), -EAGAIN);
	for (i = 0; i < 6; i++) {
		arb_tick(&f->st, ARB_MEASURED_NONE);
		check(f);
	}
	arb_client_get_stats(&f->c[0], &cs);
	print_message("# budget after 6 periods: %llu\n",
		      (unsigned long long)cs.budget_bytes);
	/* burst and at most one refill, plus its 1/10001 share */
	assert_true(cs.budget_bytes <= burst + 100000 + 6 * CAP_BYTES / 10000);
	arb_cancel(&f->st, &f->c[0]);
	arb_cancel(&f->st, &f->c[1]);
	check(f);
}

/*
 * Issue 11: a tick that covers 4 periods (a late timer, highres=off)
 * funds 4 periods: a waiting reserved client gets 4 refills at once.
 */
static void test_tick_span_funds_elapsed_time(void **state)
{
	struct fixture *f = *state;
	const uint64_t res_bytes = 100000;	/* 100 MB/s of 1 ms periods */
	struct arb_stats s;
	uint64_t id;

	add(f, 0, 1, 100, 0);
	add(f, 1, ARB_MAX_WEIGHT, 0, 0);
	assert_int_equal(arb_acquire(&f->st, &f->c[1], 100 * CAP_BYTES, &id), -EAGAIN);
	assert_int_equal(arb_acquire(&f->st, &f->c[0], 4 * res_bytes, &id), -EAGAIN);
	arb_tick_span(&f->st, ARB_MEASURED_NONE, 4);
	check(f);
	arb_get_stats(&f->st, &s);
	assert_int_equal(s.periods, 1);		/* one tick */
	assert_int_equal(s.capacity_bytes, 4 * CAP_BYTES);
	assert_int_equal(arb_acquire(&f->st, &f->c[0], 4 * res_bytes, &id), 0);
	arb_cancel(&f->st, &f->c[1]);
	check(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_init_rejects_bad_params),
		T(test_client_params_validated),
		T(test_admission_enospc),
		T(test_admission_lower_guaranteed_ebusy),
		T(test_max_clients_emfile),
		T(test_acquire_errors),
		T(test_reservation_bound_under_greedy),
		T(test_reservation_bound_no_shared_capacity),
		T(test_pool_serves_newcomer),
		T(test_steady_client_held),
		T(test_weighted_shares),
		T(test_equal_shares_mixed_sizes),
		T(test_max_min_low_demand),
		T(test_work_conserving_single),
		T(test_large_request_accumulates),
		T(test_large_request_borrows),
		T(test_complete_short_refunds),
		T(test_complete_long_is_debt),
		T(test_idle_clients_not_visited),
		T(test_cancel_and_remove),
		T(test_unattributed_feedback),
		T(test_fastpath),
		T(test_param_change_midway),
		T(test_rounding_never_exceeds_capacity),
		T(test_grant_bytes_outstanding_only),
		T(test_debt_bounded_hurts_only_debtor),
		T(test_hoarded_grants_refund_nothing),
		T(test_try_acquire_miss_changes_nothing),
		T(test_burst_bounds_accumulation),
		T(test_tick_span_funds_elapsed_time),
#undef T
	};

	return cmocka_run_group_tests_name("arb-unit", tests, NULL, NULL);
}
