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
 * stops counting.
 *
 * OWNER: the 'Arbitration contract' work. Signatures here are a contract
 * with kmod/bwarb_*.c and libruntime/: extend, do not change them.
 */
#ifndef BWARB_ARB_CORE_H
#define BWARB_ARB_CORE_H

#include "arb_types.h"

#define ARB_MAX_WEIGHT		10000U
#define ARB_DEFAULT_CLIENTS	256U
#define ARB_MAX_GRANTS		64U	/* outstanding grants per client */
#define ARB_MEASURED_NONE	UINT64_MAX

enum arb_class {
	ARB_CLASS_CPU = 0,
	ARB_CLASS_GPU = 1,
	ARB_CLASS_OTHER = 2,
	ARB_CLASS_COUNT
};

struct arb_params {
	uint64_t period_ns;		/* >= 10 us, <= 1 s */
	uint64_t capacity_mbps;		/* what the bus delivers in practice */
	uint64_t guaranteed_mbps;	/* <= capacity: delivered under worst interference */
	uint32_t max_clients;		/* hard cap on registered clients */
};

struct arb_client_params {
	uint32_t class;			/* enum arb_class */
	uint32_t weight;		/* 1..ARB_MAX_WEIGHT */
	uint64_t reserve_mbps;		/* 0..guaranteed_mbps, admission-controlled */
	uint64_t burst_bytes;		/* largest request the wait bound covers */
};

struct arb_grant {
	uint64_t id;			/* 0 means a free slot */
	uint64_t bytes;
};

/* Per-client statistics, as QUERY and debugfs report them. */
struct arb_client_stats {
	uint64_t granted_bytes;
	uint64_t completed_bytes;
	uint64_t grants;
	uint64_t waits;			/* acquires that had to wait */
	uint64_t max_wait_periods;
	uint64_t debt_bytes;		/* outstanding over-completion charge */
	uint64_t tamper_events;		/* fast-path page inconsistencies */
};

struct arb_client {
	/* Fields are private to arb_core.c. */
	struct arb_client *next, *prev;	/* registered-client list */
	struct arb_client_params p;
	uint32_t id;
	int64_t reserve_budget;		/* bytes left of this period's reservation */
	int64_t share_budget;		/* bytes of shared capacity accumulated */
	uint64_t pending_bytes;		/* demand of a waiting acquire, 0 if none */
	uint64_t wait_start_period;
	uint64_t next_grant_id;
	struct arb_grant grants[ARB_MAX_GRANTS];
	struct arb_client_stats st;
};

struct arb_stats {
	uint64_t periods;
	uint64_t granted_bytes;
	uint64_t completed_bytes;
	uint64_t unattributed_bytes_ema;	/* smoothed measured - completed */
};

struct arb_state {
	/* Fields are private to arb_core.c. */
	struct arb_params p;
	struct arb_client *head;
	uint32_t nr_clients;
	uint32_t next_client_id;
	uint64_t sum_reserve_mbps;
	uint64_t period;			/* periods elapsed */
	uint64_t completed_this_period;
	struct arb_stats st;
};

/* -EINVAL on out-of-range parameters. */
int arb_init(struct arb_state *st, const struct arb_params *p);

/* -EINVAL on bad values; -EBUSY if guaranteed_mbps would fall below the sum
 * of current reservations. On error nothing changes. */
int arb_set_params(struct arb_state *st, const struct arb_params *p);

/* Registers c. -EINVAL bad params, -ENOSPC reservation does not fit in
 * guaranteed_mbps, -EMFILE at max_clients. */
int arb_client_add(struct arb_state *st, struct arb_client *c,
		   const struct arb_client_params *cp);

/* Unregisters c, dropping its demand and returning its outstanding grants. */
void arb_client_remove(struct arb_state *st, struct arb_client *c);

/* 0 and *grant_id set: granted now. -EAGAIN: demand recorded, call again
 * after the next arb_tick(). -EINVAL: bytes is 0. -EBUSY: ARB_MAX_GRANTS
 * grants are outstanding. */
int arb_acquire(struct arb_state *st, struct arb_client *c, uint64_t bytes,
		uint64_t *grant_id);

/* The waiting acquire of c gave up. */
void arb_cancel(struct arb_state *st, struct arb_client *c);

/* Finishes a grant. actual < granted returns the difference to the client;
 * actual > granted is charged as debt against its next periods.
 * -ENOENT: no such outstanding grant. */
int arb_complete(struct arb_state *st, struct arb_client *c, uint64_t grant_id,
		 uint64_t actual);

/* A period boundary: refills budgets and divides the shared capacity among
 * waiting clients by weight. measured_bytes is the DRAM traffic the counters
 * saw during the period that ended, or ARB_MEASURED_NONE. Returns true if
 * any waiter may now be granted (the caller wakes its waiters). */
bool arb_tick(struct arb_state *st, uint64_t measured_bytes);

/* Read-only views. */
void arb_get_stats(const struct arb_state *st, struct arb_stats *out);
void arb_client_get_stats(const struct arb_client *c, struct arb_client_stats *out);

#endif /* BWARB_ARB_CORE_H */
