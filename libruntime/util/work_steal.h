/* SPDX-License-Identifier: MIT */
/*
 * Units of work shared by a team of threads: each thread takes its own
 * contiguous share from the front (long runs, so that the weights it
 * reads stream and its kernels' prefetches stay in its range); a thread
 * whose share is done takes units from the back of the share with the
 * most left. A thread slowed by its core's distance from memory or by
 * the OS then no longer holds up the team at the region's end. Which
 * thread does a unit changes nothing of its result.
 */
#ifndef SPLITMOE_WORK_STEAL_H
#define SPLITMOE_WORK_STEAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define SM_STEAL_MAX_THREADS 128
#define SM_STEAL_MAX_PARTS 64

struct sm_steal {
	/* thread t's units left, [next, end) as end << 32 | next: its own
	 * claims raise next, others' lower end, by compare-and-swap */
	struct {
		_Alignas(64) _Atomic uint64_t left;
	} t[SM_STEAL_MAX_THREADS];
	int nth, nparts;
	uint32_t start[SM_STEAL_MAX_PARTS + 1];	/* part p: units [start[p], start[p + 1]) */
};

/* What a thread holds of its last claim (zeroed before its first). */
struct sm_steal_cursor {
	uint32_t u0, u1;
};

/*
 * Before the region: nparts parts (products, experts) of units[p] units,
 * each weight[p] of work; thread t's first share is the units whose work
 * starts in [t / nth, (t + 1) / nth) of the total. nth <=
 * SM_STEAL_MAX_THREADS, nparts <= SM_STEAL_MAX_PARTS, total units <
 * 2^32 (false otherwise, s untouched).
 */
bool sm_steal_init(struct sm_steal *s, int nth, int nparts, const uint32_t *units,
		   const uint64_t *weight);

/* Fixed shares by the same rule: thread tid of nth's units [*u0, *u1) of
 * the parts' units counted together (any nth >= 1, no stealing). */
void sm_share_of(int nth, int nparts, const uint32_t *units, const uint64_t *weight, int tid,
		 uint32_t *u0, uint32_t *u1);

/* Unit u of the parts counted together, within the part of units units
 * that starts at unit at: clamped to [0, units]. */
static inline uint32_t sm_unit_in_part(uint32_t u, uint32_t at, uint32_t units)
{
	return u < at ? 0 : u - at < units ? u - at : units;
}

/* Thread tid's next units [*u0, *u1): up to own of its share (at most a
 * quarter of what is left of it, at least one), then up to steal from the
 * back of another's; false when no unit is left. */
bool sm_steal_next(struct sm_steal *s, int tid, uint32_t own, uint32_t steal, uint32_t *u0,
		   uint32_t *u1);

/* The same cut at the parts: the next piece, units [*a, *b) of part
 * *part (counted within the part); false when no unit is left. */
bool sm_steal_piece(struct sm_steal *s, int tid, struct sm_steal_cursor *c, uint32_t own,
		    uint32_t steal, int *part, uint32_t *a, uint32_t *b);

#endif /* SPLITMOE_WORK_STEAL_H */
