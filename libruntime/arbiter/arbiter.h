/* SPDX-License-Identifier: MIT */
/*
 * The runtime's view of DRAM bandwidth arbitration: every heavy submission
 * acquires its byte estimate before it runs and completes after. Backends:
 *   kernel   /dev/bwarb through bwarb_client.h (one open file per client);
 *            -ENOSYS with a message in builds without that library
 *   process  the same arbitration core (kmod/arb_core.h) in this process,
 *            behind a mutex, for machines without the module; its periods
 *            are advanced lazily by the callers (no timer thread)
 *   off      grants everything at once, counts what was asked
 *   auto     kernel if the device node exists, else process
 *
 * All functions are thread-safe; one client is used by one thread at a
 * time. Errors are negative errno values.
 */
#ifndef SPLITMOE_ARBITER_H
#define SPLITMOE_ARBITER_H

#include <stddef.h>
#include <stdint.h>

enum sm_arbiter_kind {
	SM_ARB_AUTO = 0,
	SM_ARB_KERNEL,
	SM_ARB_PROCESS,
	SM_ARB_OFF,
};


struct sm_arbiter_opts {
	enum sm_arbiter_kind kind;
	const char *dev_path;		/* NULL: BWARB_DEFAULT_PATH */
	/* process backend only; 0 picks the default in brackets */
	uint64_t period_ns;		/* [1 ms] */
	uint64_t capacity_mbps;		/* [120000, the target laptop's bus] */
	uint64_t guaranteed_mbps;	/* [capacity * 3 / 4] */
	uint32_t max_clients;		/* [16] */
};

struct sm_arbiter;
struct sm_arb_client;

/*
 * Opens the arbiter. kernel: -ENOENT (with a message) when the device does
 * not exist. 0, or a negative errno with one line in err.
 */
int sm_arbiter_open(const struct sm_arbiter_opts *o, struct sm_arbiter **out,
		    char *err, size_t errlen);
/* The backend in use (never AUTO). */
enum sm_arbiter_kind sm_arbiter_get_kind(const struct sm_arbiter *a);
/* Every client must be closed first. */
void sm_arbiter_close(struct sm_arbiter *a);

/* Values of class: enum arb_class of kmod/arb_core.h. */
#define SM_ARB_CLASS_CPU 0u
#define SM_ARB_CLASS_GPU 1u
#define SM_ARB_CLASS_OTHER 2u

struct sm_arb_client_opts {
	const char *name;
	uint32_t class;
	uint32_t weight;		/* 1..10000 */
	uint64_t reserve_mbps;
	uint64_t burst_bytes;		/* the largest single acquire */
};

/* 0, or -EINVAL/-ENOSPC (reservation refused)/-EMFILE/errno of the device,
 * with one line in err. */
int sm_arb_client_open(struct sm_arbiter *a, const struct sm_arb_client_opts *o,
		       struct sm_arb_client **out, char *err, size_t errlen);
void sm_arb_client_close(struct sm_arb_client *c);

/*
 * Waits until bytes are granted (timeout_ns 0: no limit). A request larger
 * than the client's burst acquires the burst; completing it with the full
 * size charges the rest as debt against the next periods (the core's
 * over-completion rule), so the long-run rate is still enforced.
 * 0, -ETIMEDOUT, -EINTR, or the device's errno.
 */
int sm_arb_acquire(struct sm_arb_client *c, uint64_t bytes,
		   uint64_t timeout_ns, uint64_t *grant);
/* Finishes what sm_arb_acquire granted; actual is the bytes really moved
 * (the estimate when unknown). */
int sm_arb_complete(struct sm_arb_client *c, uint64_t grant, uint64_t actual);

/* Buckets of sm_arb_client_stats.wait_hist: 0-7 ns one each, then eight
 * per octave up to 2^40 ns (18 min; longer waits count in the last). */
#define SM_ARB_WAIT_BUCKETS (8 + 38 * 8)

struct sm_arb_client_stats {
	uint64_t acquires;
	uint64_t completes;		/* equals acquires when nothing is outstanding */
	uint64_t granted_bytes;
	uint64_t completed_bytes;
	uint64_t waits;			/* acquires that had to wait */
	uint64_t wait_ns;		/* total time waiting */
	uint64_t max_wait_ns;
	/* Every acquire's wait (0 when it did not wait), in buckets of an
	 * eighth of an octave: for the wait percentiles (bench contend). */
	uint32_t wait_hist[SM_ARB_WAIT_BUCKETS];
};
void sm_arb_client_get_stats(const struct sm_arb_client *c,
			     struct sm_arb_client_stats *out);
/* The q-quantile (0..1) of the acquires' waits in ns, to an eighth of an
 * octave (the upper edge of its bucket); 0 without acquires. */
uint64_t sm_arb_wait_quantile(const struct sm_arb_client_stats *s, double q);

#endif /* SPLITMOE_ARBITER_H */
