/* SPDX-License-Identifier: MIT */
/*
 * Bandwidth calibration, one implementation for bwarbctl calibrate and
 * the process arbiter's "auto" capacity (docs/calibration.md):
 *   - read and copy GB/s with every core (membw.h);
 *   - r_min: one core's read GB/s while every other core copies (the
 *     share a lone client gets when the others saturate the bus; MemGuard's
 *     guaranteed bandwidth), with the bus total during that contention;
 *   - the proposals: capacity_mbps = the lower of read and copy with every
 *     core (what mixed traffic sustains), guaranteed_mbps = the bus total
 *     under contention, at most the capacity.
 */
#ifndef SPLITMOE_BWCAL_H
#define SPLITMOE_BWCAL_H

#include <stdint.h>
#include "arbiter/membw.h"

struct sm_bwcal {
	struct sm_membw all;		/* every core: read and copy */
	int others;			/* cores copying during the r_min pass */
	double rmin_gbs;		/* one core's read GB/s beside them */
	double solo_gbs;		/* one core's read GB/s alone */
	double contended_total_gbs;	/* reader + copiers (read + written) */
	uint64_t capacity_mbps;		/* proposed */
	uint64_t guaranteed_mbps;	/* proposed */
};

/* In this process (OpenMP, every online core). 0, or -1 when the buffer
 * cannot be allocated. */
int sm_bwcal_measure(uint64_t bytes, int runs, struct sm_bwcal *out);

/*
 * The same in a forked child, its affinity set to every online CPU first:
 * its buffer stays out of the caller's memory and its threads out of the
 * caller's OpenMP pool. Call before any OpenMP region of this process (a
 * forked libgomp pool does not work). 0, or -1 with one line in err.
 */
int sm_bwcal_measure_child(uint64_t bytes, int runs, struct sm_bwcal *out,
			   char *err, size_t errlen);

#endif
