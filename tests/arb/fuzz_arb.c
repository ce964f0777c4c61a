// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * libFuzzer target on the arbitration core: the input is a program of
 * register, acquire, complete, tick, unregister, cancel, parameter change
 * and fast-path issue/settle operations on up to NSLOT clients. After
 * every operation the invariants must hold:
 *  - arb_check_invariants(): lists and counts, budgets never negative
 *    (every byte funded is granted, held, on a page, expired or repaid),
 *    no period funding more than its capacity;
 *  - everything granted, less what came back, never exceeds the capacity
 *    of the periods so far (over-completion is debt, not grant);
 *  - the reservation bound: a debt-free reserved client asking at most
 *    its burst, retried after every tick as the module does, is granted
 *    within ceil(bytes / (r * P)) + 1 periods, whatever else happens;
 *  - every answer is one the contract allows.
 * A broken invariant aborts (libFuzzer reports it with the input).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmod/arb_core.h"

#define NSLOT	8
#define NGRANT	((int)ARB_MAX_GRANTS)

struct slot {
	struct arb_client c;
	int on;
	uint64_t grant_id[NGRANT], grant_bytes[NGRANT];
	uint64_t grant_period[NGRANT];	/* f->st.period when granted */
	int ngrant;
	/* the bound being tracked: ask period and size, 0 bytes if none */
	uint64_t ask_period, ask_bytes;
	int exempt;		/* debt, -EBUSY or a page: the bound is off */
};

struct fz {
	const uint8_t *p;
	size_t n;
	struct arb_state st;
	struct slot s[NSLOT];
	uint64_t cap_total;	/* capacity of the periods so far */
	uint64_t net_granted;	/* granted - refunded, all clients */
};

#define FAIL(...) do { fprintf(stderr, "fuzz-arb: " __VA_ARGS__); \
		       fputc('\n', stderr); abort(); } while (0)

static uint64_t take(struct fz *f, unsigned int bytes)
{
	uint64_t v = 0;

	while (bytes--) {
		v = v << 8 | (f->n ? *f->p : 0);
		if (f->n) {
			f->p++;
			f->n--;
		}
	}
	return v;
}

/* Sizes spread over many magnitudes: 1 B .. 2^40 B. */
static uint64_t take_bytes(struct fz *f)
{
	uint64_t v = take(f, 3);
	unsigned int shift = take(f, 1) % 41;

	v = (v << shift) >> 20;
	return v ? v : 1;
}

static void check(struct fz *f, const char *after)
{
	int ret = arb_check_invariants(&f->st);
	uint64_t allowed = f->cap_total + f->st.nr_clients + NSLOT;
	int i;

	if (ret)
		FAIL("arb_check_invariants() = %d after %s", ret, after);
	if (f->net_granted > allowed)
		FAIL("granted %llu bytes, capacity so far %llu, after %s",
		     (unsigned long long)f->net_granted,
		     (unsigned long long)allowed, after);
	for (i = 0; i < NSLOT; i++) {
		const struct arb_client *c = &f->s[i].c;

		if (!f->s[i].on)
			continue;
		/* An underflow would show as an enormous budget. */
		if (c->reserve_budget > (1ULL << 60) ||
		    c->share_budget > (1ULL << 60))
			FAIL("client %d budget underflow after %s", i, after);
	}
}

static uint64_t debt_of(struct slot *s)
{
	struct arb_client_stats cs;

	arb_client_get_stats(&s->c, &cs);
	return cs.debt_bytes;
}

static void granted(struct fz *f, struct slot *s, uint64_t id, uint64_t bytes)
{
	if (s->ngrant >= NGRANT)
		FAIL("more than %d grants outstanding", NGRANT);
	s->grant_id[s->ngrant] = id;
	s->grant_period[s->ngrant] = f->st.period;
	s->grant_bytes[s->ngrant++] = bytes;
	f->net_granted += bytes;
	if (s->ask_bytes == bytes && !s->exempt) {
		uint64_t per = s->c.p.reserve_mbps * f->st.p.period_ns;
		uint64_t n = (bytes * 1000 + per - 1) / per;

		if (f->st.period - s->ask_period > n + 1)
			FAIL("reservation bound: %llu bytes at %llu MB/s waited %llu periods, bound %llu",
			     (unsigned long long)bytes,
			     (unsigned long long)s->c.p.reserve_mbps,
			     (unsigned long long)(f->st.period - s->ask_period),
			     (unsigned long long)(n + 1));
	}
	s->ask_bytes = 0;
}

/* Request sizes: small, any magnitude, or within the client's burst. */
static uint64_t pick_size(struct fz *f, struct slot *s)
{
	switch (take(f, 1) % 4) {
	case 0:
		return take(f, 2) + 1;
	case 1:
		return take_bytes(f);
	default:
		return s->c.p.burst_bytes * take(f, 1) / 255 + 1;
	}
}

static void do_acquire(struct fz *f, struct slot *s, uint64_t bytes)
{
	uint64_t id = 0, pend = s->c.pending_bytes;
	int ret = arb_acquire(&f->st, &s->c, bytes, &id);

	if (ret == 0) {
		granted(f, s, id, bytes);
	} else if (ret == -EAGAIN) {
		if (!s->c.pending_bytes)
			FAIL("-EAGAIN without a recorded demand");
		if (s->ask_bytes != bytes) {
			/* A new ask: track it if the contract covers it. */
			s->ask_bytes = bytes;
			s->ask_period = pend ? s->ask_period : f->st.period;
			s->exempt = !s->c.p.reserve_mbps ||
				    bytes > s->c.p.burst_bytes || debt_of(s) ||
				    pend;
		}
	} else if (ret == -EBUSY) {
		if (s->ngrant < NGRANT)
			FAIL("-EBUSY with %d grants", s->ngrant);
		s->exempt = 1;
	} else if (ret == -EINVAL) {
		if (bytes && bytes <= ARB_MAX_REQUEST_BYTES)
			FAIL("-EINVAL for %llu bytes", (unsigned long long)bytes);
	} else {
		FAIL("arb_acquire returned %d", ret);
	}
}

static void do_register(struct fz *f, int i)
{
	struct slot *s = &f->s[i];
	uint64_t sum = f->st.sum_reserve_mbps, left, per;
	unsigned int form = take(f, 1);
	struct arb_client_params cp = {
		.class = take(f, 1) % 4,
		.weight = take(f, 2) % (ARB_MAX_WEIGHT + 2),
	};
	int ret, want = 0;

	/* Mostly a part of what is left of guaranteed, sometimes anything. */
	left = f->st.p.guaranteed_mbps - sum;
	if (form & 1)
		cp.reserve_mbps = take(f, 3) % (f->st.p.guaranteed_mbps + 2);
	else
		cp.reserve_mbps = left * take(f, 1) / 255;
	/* Mostly a few periods of its reservation, sometimes anything. */
	per = arb_mbps_to_period_bytes(&f->st, cp.reserve_mbps);
	if (form & 2 || !per)
		cp.burst_bytes = take_bytes(f);
	else
		cp.burst_bytes = per * (take(f, 1) % 16 + 1);

	if (s->on)
		return;
	if (cp.class >= ARB_CLASS_COUNT || !cp.weight ||
	    cp.weight > ARB_MAX_WEIGHT || cp.burst_bytes > ARB_MAX_REQUEST_BYTES)
		want = -EINVAL;
	else if (f->st.nr_clients >= f->st.p.max_clients)
		want = -EMFILE;
	else if (sum + cp.reserve_mbps > f->st.p.guaranteed_mbps)
		want = -ENOSPC;
	ret = arb_client_add(&f->st, &s->c, &cp);
	if (ret != want)
		FAIL("register returned %d, contract says %d", ret, want);
	if (!ret) {
		memset(s->grant_id, 0, sizeof(s->grant_id));
		s->ngrant = 0;
		s->ask_bytes = 0;
		s->on = 1;
	}
}

/*
 * Debt saturates at ARB_MAX_DEBT_PERIODS periods of the whole capacity
 * (at most ARB_MAX_REQUEST_BYTES), with the parameters of the moment.
 */
static uint64_t debt_increase(const struct fz *f, uint64_t debt, uint64_t excess)
{
	uint64_t limit = ARB_MAX_DEBT_PERIODS * arb_mbps_to_period_bytes(&f->st,
						f->st.p.capacity_mbps);
	uint64_t room;

	if (limit > ARB_MAX_REQUEST_BYTES)
		limit = ARB_MAX_REQUEST_BYTES;
	room = limit - (debt < limit ? debt : limit);
	return excess < room ? excess : room;
}

static void do_complete(struct fz *f, struct slot *s)
{
	unsigned int k, mode = take(f, 1);
	uint64_t actual, bytes, debt0, budget0, refund;
	int ret;

	if (!s->ngrant || mode % 8 == 7) {
		/* Unknown id: must be refused. */
		ret = arb_complete(&f->st, &s->c, take(f, 8), 0);
		if (ret && ret != -ENOENT)
			FAIL("bad complete returned %d", ret);
		if (!ret)
			FAIL("a made-up grant id was accepted");
		return;
	}
	k = take(f, 1) % s->ngrant;
	bytes = s->grant_bytes[k];
	switch (mode % 4) {
	case 0:
		actual = bytes;
		break;
	case 1:
		actual = bytes / 2;
		break;
	case 2:
		actual = bytes + take_bytes(f);	/* over-completion: debt */
		break;
	default:
		actual = 0;
		break;
	}
	debt0 = s->c.debt;
	budget0 = s->c.reserve_budget + s->c.share_budget;
	ret = arb_complete(&f->st, &s->c, s->grant_id[k], actual);
	if (actual > ARB_MAX_REQUEST_BYTES) {
		if (ret != -EINVAL)
			FAIL("complete of %llu returned %d",
			     (unsigned long long)actual, ret);
		return;
	}
	if (ret)
		FAIL("complete of an outstanding grant returned %d", ret);
	/*
	 * Fewer bytes come back to its budget if the grant is of this
	 * period (else they expired with it); more are its debt.
	 */
	refund = actual < bytes && s->grant_period[k] == f->st.period ?
		 bytes - actual : 0;
	if (s->c.reserve_budget + s->c.share_budget - budget0 != refund)
		FAIL("complete of %llu of %llu bytes returned %lld to the budget",
		     (unsigned long long)actual, (unsigned long long)bytes,
		     (long long)(s->c.reserve_budget + s->c.share_budget - budget0));
	if (s->c.debt - debt0 != debt_increase(f, debt0, actual > bytes ?
					       actual - bytes : 0))
		FAIL("complete of %llu of %llu bytes charged %llu as debt",
		     (unsigned long long)actual, (unsigned long long)bytes,
		     (unsigned long long)(s->c.debt - debt0));
	f->net_granted -= refund;
	if (actual > bytes)
		s->exempt = 1;		/* debt: the bound no longer applies */
	s->grant_id[k] = s->grant_id[--s->ngrant];
	s->grant_bytes[k] = s->grant_bytes[s->ngrant];
	s->grant_period[k] = s->grant_period[s->ngrant];
}

static void do_tick_measured(struct fz *f, int mode)
{
	uint64_t measured = ARB_MEASURED_NONE;
	int i;

	if (mode == 4)		/* undeclared traffic filling the bus */
		measured = f->st.completed_this_period + 2 * f->st.cap_bytes;
	else if (mode == 1)
		measured = f->st.completed_this_period;
	else if (mode == 2)
		measured = f->st.completed_this_period + take_bytes(f);
	else if (mode == 3)
		measured = take(f, 8);	/* anything, even below completed */
	arb_tick(&f->st, measured);
	f->cap_total += f->st.cap_bytes;
	check(f, "tick");
	/* The module wakes every waiter after a tick; they ask again. */
	for (i = 0; i < NSLOT; i++) {
		struct slot *s = &f->s[i];

		if (s->on && s->c.pending_bytes)
			do_acquire(f, s, s->c.pending_bytes);
	}
}

static void do_tick(struct fz *f)
{
	do_tick_measured(f, take(f, 1) % 4);
}

static void do_set_params(struct fz *f)
{
	struct arb_params p = {
		.period_ns = take(f, 4) % 2000000 + 5000,
		.capacity_mbps = take(f, 3) % 200000,
		.max_clients = take(f, 1) % 12,
	};
	int ret, want = 0, i;

	p.guaranteed_mbps = p.capacity_mbps ? take(f, 3) % (p.capacity_mbps + 2) : 0;
	if (p.period_ns < ARB_MIN_PERIOD_NS || !p.capacity_mbps ||
	    p.guaranteed_mbps > p.capacity_mbps)
		want = -EINVAL;
	else if (p.guaranteed_mbps < f->st.sum_reserve_mbps ||
		 (p.max_clients ? p.max_clients : ARB_DEFAULT_CLIENTS) <
		 f->st.nr_clients)
		want = -EBUSY;
	ret = arb_set_params(&f->st, &p);
	if (ret != want)
		FAIL("set_params returned %d, contract says %d", ret, want);
	if (!ret) {
		/* The bound is stated for steady parameters. */
		for (i = 0; i < NSLOT; i++)
			f->s[i].exempt = 1;
	}
}

static void do_fastpath(struct fz *f, struct slot *s)
{
	unsigned int mode = take(f, 1) % 4;
	uint64_t issued, consumed, debt0, tamper0, excess, valid;
	int ret, tampered;

	issued = arb_fastpath_issue(&f->st, &s->c);
	f->net_granted += issued;	/* on the page: as good as granted */
	s->exempt = 1;
	if (mode == 0)
		consumed = issued;
	else if (mode == 1)
		consumed = issued / 3;
	else if (mode == 2)
		consumed = issued + take_bytes(f);	/* overdraw */
	else
		consumed = ARB_FP_INCONSISTENT;
	f->net_granted -= s->c.fp_issued;
	issued = s->c.fp_issued;
	debt0 = s->c.debt;
	tamper0 = s->c.st.tamper_events;
	ret = arb_fastpath_settle(&f->st, &s->c, consumed);
	/* Tampering is counted and its excess (or the issue) is debt. */
	if (consumed == ARB_FP_INCONSISTENT) {
		excess = issued;
		valid = issued;
		tampered = 1;
	} else {
		/* The core takes a claim as at most ARB_MAX_REQUEST_BYTES. */
		uint64_t claim = consumed < ARB_MAX_REQUEST_BYTES ? consumed :
				 ARB_MAX_REQUEST_BYTES;

		excess = claim > issued ? claim - issued : 0;
		valid = claim - excess;
		tampered = excess != 0;
	}
	if (s->c.debt - debt0 != debt_increase(f, debt0, excess))
		FAIL("settle of %llu of %llu charged %llu as debt",
		     (unsigned long long)consumed, (unsigned long long)issued,
		     (unsigned long long)(s->c.debt - debt0));
	if ((uint64_t)tampered != s->c.st.tamper_events - tamper0)
		FAIL("settle of %llu of %llu: tamper events %llu -> %llu",
		     (unsigned long long)consumed, (unsigned long long)issued,
		     (unsigned long long)tamper0,
		     (unsigned long long)s->c.st.tamper_events);
	if (!tampered) {
		if (ret && !(ret == -ENOENT && !issued && !consumed))
			FAIL("honest settle returned %d", ret);
	} else if (ret != -EINVAL) {
		FAIL("tampered settle returned %d", ret);
	}
	/* Granted: what was consumed of the issue, never beyond it. */
	f->net_granted += valid;
}

/*
 * One adversarial period: every client not waiting on a tracked ask grabs
 * all it can (and completes it), then the tick, with or without
 * undeclared traffic filling the bus.
 */
static void greedy_round(struct fz *f, uint64_t bytes, int load)
{
	uint64_t id;
	int i, guard;

	for (i = 0; i < NSLOT; i++) {
		struct slot *s = &f->s[i];

		if (!s->on || s->ask_bytes || s->c.pending_bytes)
			continue;
		for (guard = 0; guard < 256 && s->ngrant < NGRANT; guard++) {
			if (arb_acquire(&f->st, &s->c, bytes, &id))
				break;
			granted(f, s, id, bytes);
			if (arb_complete(&f->st, &s->c, id, bytes))
				FAIL("complete of a fresh grant failed");
			s->ngrant--;
		}
		/* It stays waiting (backlogged), untracked. */
		s->ask_bytes = 0;
	}
	check(f, "greedy period");
	do_tick_measured(f, load ? 4 : 0);
}

/* A reserved client asks for a few periods' worth, then greedy periods. */
static void do_greedy_periods(struct fz *f)
{
	unsigned int k = take(f, 1) % 64 + 1, size = take(f, 2) + 4096;
	unsigned int shift = take(f, 1) % 24;
	int load = take(f, 1) & 1, warm;
	struct slot *a = &f->s[take(f, 1) % NSLOT];

	/* Undeclared traffic first, until no shared capacity is left. */
	for (warm = 0; load && warm < 48; warm++)
		greedy_round(f, (uint64_t)size << shift, load);
	if (a->on && a->c.p.reserve_mbps && !a->c.pending_bytes) {
		uint64_t r = arb_mbps_to_period_bytes(&f->st, a->c.p.reserve_mbps);
		uint64_t want = r * (take(f, 1) % 8) + take(f, 3) % (r + 1) + 1;

		if (want > a->c.p.burst_bytes)
			want = a->c.p.burst_bytes;
		if (want)
			do_acquire(f, a, want);
	}
	while (k--)
		greedy_round(f, (uint64_t)size << shift, load);
}

/*
 * At the end of the program, adversarial periods go on until every
 * tracked ask is granted, so that each one's bound is checked (granted()
 * fails past it); asks whose bound is beyond 512 periods are dropped.
 */
static void drain_asks(struct fz *f)
{
	int i, left, rounds;

	for (rounds = 0; rounds < 600; rounds++) {
		for (i = 0, left = 0; i < NSLOT; i++) {
			struct slot *s = &f->s[i];
			uint64_t per;

			if (!s->on || !s->ask_bytes || s->exempt ||
			    !s->c.pending_bytes)
				continue;
			per = arb_mbps_to_period_bytes(&f->st, s->c.p.reserve_mbps);
			if (!per || s->ask_bytes / per > 512) {
				s->exempt = 1;
				continue;
			}
			left++;
		}
		if (!left)
			return;
		greedy_round(f, 65536, 1);
	}
	FAIL("tracked asks still waiting after %d periods", rounds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;
	struct arb_params p = { 0 };	/* borrowing off: cap_total bounds grants */
	unsigned int steps = 0;
	int i;

	memset(&f, 0, sizeof(f));
	f.p = data;
	f.n = size;
	p.period_ns = take(&f, 3) % 1000000 + ARB_MIN_PERIOD_NS;
	p.capacity_mbps = take(&f, 3) % 100000 + 1;
	p.guaranteed_mbps = p.capacity_mbps * take(&f, 1) / 255;
	p.max_clients = take(&f, 1) % (NSLOT + 1);
	if (arb_init(&f.st, &p))
		FAIL("valid parameters refused");
	f.cap_total = f.st.cap_bytes;	/* the first period's pool */
	check(&f, "init");
	while (f.n && steps++ < 2000) {
		unsigned int op = take(&f, 1);
		struct slot *s = &f.s[(op >> 4) % NSLOT];

		switch (op & 15) {
		case 0:
			do_register(&f, (int)(s - f.s));
			break;
		case 1: case 2: case 3:
			if (s->on)
				do_acquire(&f, s, pick_size(&f, s));
			break;
		case 4: case 5:
			if (s->on)
				do_complete(&f, s);
			break;
		case 6: case 7: case 8:
			do_tick(&f);
			break;
		case 9:
			if (s->on) {
				arb_cancel(&f.st, &s->c);
				s->ask_bytes = 0;
			}
			break;
		case 10:
			if (s->on) {
				/* Its grants and page go with it. */
				s->ngrant = 0;
				arb_client_remove(&f.st, &s->c);
				s->on = 0;
			}
			break;
		case 11:
			do_set_params(&f);
			break;
		case 12:
			if (s->on)
				do_fastpath(&f, s);
			break;
		case 13: case 14:
			do_greedy_periods(&f);
			break;
		default:
			if (s->on)
				do_acquire(&f, s, 0);	/* must be -EINVAL */
			break;
		}
		check(&f, "an operation");
	}
	drain_asks(&f);
	for (i = 0; i < NSLOT; i++)
		if (f.s[i].on)
			arb_client_remove(&f.st, &f.s[i].c);
	if (f.st.nr_clients || f.st.nr_active || f.st.nr_waiting)
		FAIL("clients left after removing all");
	return 0;
}
