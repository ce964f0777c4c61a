/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * bwarb arbitration core: the grant policy as plain C with no kernel
 * headers, so the module and userspace (unit tests, bwsim, fuzzing, the
 * runtime's in-process arbiter) run exactly the same code.
 *
 * The core is single-threaded and allocation-free: the caller owns the
 * memory of the state and of every client and serialises all calls on one
 * state (the module holds its arbiter spinlock around every call).
 *
 * Units: bytes, nanoseconds, and MB/s (10^6 bytes per second) for rates.
 * Errors are negative errno values.
 *
 * Waiting: arb_acquire() either grants at once (returns 0) or records the
 * client's demand and returns -EAGAIN; the caller then sleeps until the next
 * arb_tick() and calls arb_acquire() again with the same size. A waiter that
 * gives up (timeout, signal, close) calls arb_cancel() so that its demand
 * stops counting. One pending demand per client: a second acquire of the
 * same client while one waits replaces the demand's size.
 *
 * The policy (docs/arbitration.md has the full account):
 *  - each tick funds the period that starts out of its capacity: a
 *    waiting client's reserve budget gets its reservation r_i*P (capped at
 *    what its request still needs; it accumulates while it waits, so the
 *    wait bound holds whatever the others do); the rest of the capacity,
 *    less the unattributed traffic, is water-filled by weight (weighted
 *    max-min) among the demands: a waiting client's request, plus its
 *    recent use and room to grow once it is backlogged (waiting at 6 ticks
 *    in a row), and the expected use of clients that do not wait;
 *  - what waiting clients are funded with is theirs; the expected use of
 *    the others is held in a light pool that only they draw from (each up
 *    to twice its part); what no demand took is the pool, open to all
 *    during the period (work-conserving);
 *  - unused budget expires at the next tick unless its client waits
 *    (large requests accumulate across periods); reservations of clients
 *    that do not use them are lent to the others;
 *  - measured DRAM traffic nobody declared (EMA, 1/8 per period, time
 *    constant about 7.5 periods) shrinks the shared capacity, never the
 *    reservations.
 *
 * Fast path: at each tick the caller first settles what every mapped client
 * consumed from its page (arb_fastpath_settle()), then calls arb_tick(),
 * then issues the new page budget (arb_fastpath_issue()). Page budget is
 * taken out of the client's own budget, so it never adds to capacity.
 *
 * Signatures here are a contract with kmod/bwarb_*.c and libruntime/:
 * extend, do not change them. Types are the kernel's u64/u32 names
 * (arb_types.h defines them in userspace), the same types as the former
 * uint64_t/uint32_t.
 */
#ifndef BWARB_ARB_CORE_H
#define BWARB_ARB_CORE_H

#include "arb_types.h"

#define ARB_MAX_WEIGHT		10000U
#define ARB_DEFAULT_CLIENTS	256U
#define ARB_MAX_CLIENTS_LIMIT	65536U	/* largest accepted max_clients */
#define ARB_MAX_GRANTS		64U	/* outstanding grants per client */
#define ARB_MEASURED_NONE	UINT64_MAX
#define ARB_MIN_PERIOD_NS	10000ULL
#define ARB_MAX_PERIOD_NS	1000000000ULL
#define ARB_MAX_MBPS		10000000ULL	/* 10 TB/s keeps products in u64 */
#define ARB_MAX_REQUEST_BYTES	1099511627776ULL /* 2^40: acquire, burst, complete */
#define ARB_MAX_BORROW_PERIODS	64U
#define ARB_MAX_SPAN		16U	/* periods one arb_tick_span() funds */
#define ARB_MAX_DEBT_PERIODS	8ULL	/* debt limit, in periods of capacity */
#define ARB_EMA_SHIFT		3	/* unattributed EMA weight 1/8 */
/* arb_fastpath_settle(): the page's counters contradict each other. */
#define ARB_FP_INCONSISTENT	UINT64_MAX

enum arb_class {
	ARB_CLASS_CPU = 0,
	ARB_CLASS_GPU = 1,
	ARB_CLASS_OTHER = 2,
	ARB_CLASS_COUNT
};

struct arb_params {
	u64 period_ns;		/* >= 10 us, <= 1 s */
	u64 capacity_mbps;	/* what the bus delivers in practice */
	u64 guaranteed_mbps;	/* <= capacity: delivered under worst interference */
	u32 max_clients;	/* hard cap on registered clients */
	/*
	 * 0: a request larger than one period's capacity waits for its
	 * budget to build up over periods. N (<= ARB_MAX_BORROW_PERIODS): it
	 * is granted at once, the shortfall as the client's own debt (repaid
	 * from its next funding), when nobody waits, the client owes nothing,
	 * the request is at most N periods of capacity and the shortfall
	 * within the debt limit (ARB_MAX_DEBT_PERIODS).
	 */
	u32 borrow_periods;
};

struct arb_client_params {
	u32 class;		/* enum arb_class */
	u32 weight;		/* 1..ARB_MAX_WEIGHT */
	u64 reserve_mbps;	/* 0..guaranteed_mbps, admission-controlled */
	u64 burst_bytes;	/* largest request the wait bound covers: the
				 * most reservation a waiting client
				 * accumulates (0: no limit)
				 */
};

struct arb_grant {
	u64 id;			/* 0 means a free slot */
	u64 bytes;
	u64 period;		/* the period it was issued in */
};

/* Per-client statistics, as QUERY and debugfs report them. */
struct arb_client_stats {
	u64 granted_bytes;	/* ioctl grants plus fast-path consumption */
	u64 completed_bytes;	/* declared traffic (COMPLETE + fast path) */
	u64 grants;
	u64 waits;		/* acquires that had to wait */
	u64 max_wait_periods;
	u64 debt_bytes;		/* outstanding over-completion charge */
	u64 tamper_events;	/* fast-path page inconsistencies */
	u64 fast_bytes;		/* consumed through the fast path */
	u64 budget_bytes;	/* usable budget now (reserve + shared) */
};

struct arb_client {
	/* Fields are private to arb_core.c. */
	struct arb_client *next, *prev;	/* registered-client list */
	struct arb_client *anext, *aprev; /* active list (see arb_tick) */
	struct arb_client *wnext;	/* tick scratch: clients with a demand */
	struct arb_client_params p;
	u32 id;
	bool active;
	bool backlogged;		/* waited at the last two ticks */
	bool waited_last_tick;
	bool overfunded;		/* left owned budget unused */
	u32 streak;			/* ticks in a row it was waiting at */
	u32 idle_ticks;			/* ticks in a row without use */
	u64 reserve_budget;		/* bytes of reservation usable now */
	u64 share_budget;		/* bytes of shared capacity usable now */
	u64 debt;			/* over-completion still to repay */
	u64 reserve_frac;		/* carry of r*P/1000, in 1/1000 byte */
	u64 pending_bytes;		/* demand of a waiting acquire, 0 if none */
	u64 wait_start_period;
	u64 used_this_period;		/* granted + fast path, this period */
	u64 avg_used;			/* EMA of used per period, << 4 */
	u64 dev_used;			/* EMA of |used - average|, << 4 */
	u64 light_share;		/* its part of the light pool this period */
	u64 light_drawn;		/* what it drew from the light pool */
	u64 demand;			/* tick scratch: shared bytes wanted */
	u64 own_demand;			/* tick scratch: the part it owns */
	u64 fp_issued;			/* page budget not yet settled */
	u64 next_grant_id;		/* sequence; ids are seq << 6 | slot */
	u64 used_slots;			/* bitmap of grants[] */
	/* Budget accounting, checked by arb_check_invariants(). */
	u64 acct_funded;		/* funded from capacity, ever */
	u64 acct_refund;		/* returned by short COMPLETEs */
	u64 acct_expired;		/* budget that expired unused */
	u64 acct_repaid;		/* funding that went to debt */
	u64 acct_granted;		/* ioctl grants + settled fast path */
	struct arb_client_stats st;
	struct arb_grant grants[ARB_MAX_GRANTS];	/* last: the cold part */
};

struct arb_stats {
	u64 periods;
	u64 granted_bytes;
	u64 completed_bytes;
	u64 unattributed_bytes_ema;	/* smoothed measured - completed, bytes per period */
	u64 unattributed_mbps;		/* the same as MB/s */
	u64 measured_bytes_last;	/* last tick's measured, or ARB_MEASURED_NONE */
	u64 capacity_bytes;		/* capacity per period */
	u64 reserved_bytes_last;	/* reservations funded at the last tick */
	u64 shared_bytes_last;		/* shared capacity of the last tick */
	u64 pool_bytes;			/* unfunded capacity left this period */
	u64 light_pool_bytes;		/* held for clients not waiting at the tick */
	u64 funded_bytes_period;	/* budget funded this period so far */
	u64 sum_reserve_mbps;
	u32 nr_clients;
	u32 nr_active;
	u32 nr_waiting;
	u32 pad;
	u64 tamper_events;		/* all clients, ever */
	u64 debt_bytes;			/* outstanding, all clients */
	u64 fast_bytes;			/* consumed through the fast path */
};

struct arb_state {
	/* Fields are private to arb_core.c. */
	struct arb_params p;
	struct arb_client *head;
	struct arb_client *active_head;
	struct arb_client *wf_head;		/* tick scratch: demands */
	bool ready;				/* tick scratch: a waiter is covered */
	u32 nr_clients;
	u32 nr_active;
	u32 nr_waiting;
	u32 next_client_id;
	u32 tick_clients;			/* registered at the last tick */
	u64 sum_reserve_mbps;
	u64 period;			/* periods elapsed */
	u64 cap_bytes;			/* capacity of this period */
	u64 cap_frac;			/* its carry, in 1/1000 byte */
	u64 cap_overdraw;		/* funded above capacity, to repay */
	u64 completed_this_period;
	u64 pool;			/* unfunded capacity left this period */
	u64 pool_light;			/* held for clients that did not wait */
	u64 funded;			/* budget funded this period (checks) */
	u64 unattr_ema_fp;		/* EMA, bytes per period << 8 */
	u64 measured_last;
	u64 reserved_last;
	u64 shared_last;
	u64 tamper_events;
	u64 fast_bytes;
	u64 debt_total;
	struct arb_stats st;
};

/* -EINVAL on out-of-range parameters. */
int arb_init(struct arb_state *st, const struct arb_params *p);

/*
 * -EINVAL on bad values; -EBUSY if guaranteed_mbps would fall below the sum
 * of current reservations or max_clients below the registered clients. On
 * error nothing changes. Budgets already funded this period stay; the new
 * values apply from the next tick.
 */
int arb_set_params(struct arb_state *st, const struct arb_params *p);

/*
 * Registers c. -EINVAL bad params, -ENOSPC reservation does not fit in
 * guaranteed_mbps, -EMFILE at max_clients.
 */
int arb_client_add(struct arb_state *st, struct arb_client *c,
		   const struct arb_client_params *cp);

/* Unregisters c, dropping its demand and returning its outstanding grants. */
void arb_client_remove(struct arb_state *st, struct arb_client *c);

/*
 * 0 and *grant_id set: granted now. -EAGAIN: demand recorded, call again
 * after the next arb_tick(). -EINVAL: bytes is 0 or above
 * ARB_MAX_REQUEST_BYTES. -EBUSY: ARB_MAX_GRANTS grants are outstanding.
 */
int arb_acquire(struct arb_state *st, struct arb_client *c, u64 bytes,
		u64 *grant_id);

/*
 * arb_acquire() without waiting: grants now if the client's budget and
 * what it may draw cover bytes, else -EAGAIN with nothing changed (no
 * demand recorded, nothing drawn, no statistics). -EAGAIN also while a
 * demand of the client waits. -EINVAL and -EBUSY as arb_acquire().
 */
int arb_try_acquire(struct arb_state *st, struct arb_client *c, u64 bytes,
		    u64 *grant_id);

/* The waiting acquire of c gave up. */
void arb_cancel(struct arb_state *st, struct arb_client *c);

/*
 * Finishes a grant. actual < granted returns the difference to the client's
 * budget (which, like all budget, expires at the next tick unless the
 * client waits) if the grant was issued in the current period; a grant
 * from an earlier period returns nothing (its bytes expired with that
 * period). actual > granted is charged as debt against its next periods,
 * up to ARB_MAX_DEBT_PERIODS periods of capacity in all; a client in debt
 * draws no pool and repays from its own funding only. -ENOENT: no such
 * outstanding grant. -EINVAL: actual above ARB_MAX_REQUEST_BYTES.
 */
int arb_complete(struct arb_state *st, struct arb_client *c, u64 grant_id,
		 u64 actual);

/* The size of an outstanding grant. -ENOENT: no such grant. */
int arb_grant_bytes(const struct arb_client *c, u64 grant_id, u64 *bytes);

/*
 * A period boundary: funds reservations and divides the shared capacity
 * among the demands by weight (see the policy above). measured_bytes is the
 * DRAM traffic the counters saw during the period that ended, or
 * ARB_MEASURED_NONE. Returns true if any waiter may now be granted (the
 * caller wakes its waiters). Cost: O(active clients); idle clients are not
 * visited.
 */
bool arb_tick(struct arb_state *st, u64 measured_bytes);

/*
 * arb_tick() for n boundaries that passed at once (a late timer; one
 * whose resolution is coarser than the period): one tick that funds n
 * periods (capacity and reservation refills), so that what clients get
 * follows time, not the number of ticks. n is at most ARB_MAX_SPAN
 * (larger values fund ARB_MAX_SPAN periods). It is one tick: the period
 * counters (waits, statistics) advance by one. measured_bytes covers all
 * n periods.
 */
bool arb_tick_span(struct arb_state *st, u64 measured_bytes, u32 n);

/*
 * Fast path. arb_fastpath_issue() moves the client's usable budget and its
 * part of the light pool (less what a waiting acquire of it needs) to its
 * page and returns the bytes the caller writes there; call it after
 * arb_tick(). Returns 0 while an earlier issue is unsettled.
 * arb_fastpath_settle() is called before the next arb_tick() (and before
 * arb_client_remove()) with what the client consumed from the page
 * (issued - remaining). consumed <= issued: counted as granted and
 * completed, the rest goes back to the client's budget. consumed > issued,
 * or ARB_FP_INCONSISTENT when the page's counters contradict each other:
 * a tamper event; the excess (the whole issue when inconsistent) is
 * charged as debt, never granted. Returns 0, or -EINVAL on tampering,
 * -ENOENT when nothing was issued (consumed must then be 0).
 */
u64 arb_fastpath_issue(struct arb_state *st, struct arb_client *c);
int arb_fastpath_settle(struct arb_state *st, struct arb_client *c,
			u64 consumed);

/* Read-only views. */
void arb_get_stats(const struct arb_state *st, struct arb_stats *out);
void arb_client_get_stats(const struct arb_client *c, struct arb_client_stats *out);

/* Bytes a rate gives in one period of the state (floor). */
u64 arb_mbps_to_period_bytes(const struct arb_state *st, u64 mbps);

/*
 * Self-check of the internal invariants (lists, counts, sums, budgets never
 * above what was funded). O(clients); for tests, the fuzzer and bwsim.
 * Returns 0 or a negative number naming the first broken invariant.
 */
int arb_check_invariants(const struct arb_state *st);

#endif /* BWARB_ARB_CORE_H */
