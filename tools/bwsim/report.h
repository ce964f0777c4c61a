/* SPDX-License-Identifier: MIT */
/*
 * bwsim's figures: the ideal weighted max-min allocation of each phase,
 * achieved MB/s, share error, Jain's index, waits; and the verdict.
 */
#ifndef BWSIM_REPORT_H
#define BWSIM_REPORT_H

#include "sim.h"

/*
 * Prints the per-client (or per-group, for many clients) table, the
 * overall line and the violations; returns the number of contract
 * violations plus missed expectations (0: pass).
 */
int report_print(struct sim *s, int per_client);

/*
 * Weighted max-min: share 'avail' among n demands (UINT64_MAX: unbounded)
 * by weight; out[i] gets each one's part.
 */
void ideal_water_fill(double avail, const double *demand, const double *weight,
		      double *out, size_t n);

#endif /* BWSIM_REPORT_H */
