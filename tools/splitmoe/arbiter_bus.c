// SPDX-License-Identifier: MIT
/* The process arbiter's capacity and guarantee: YAML's figures, or
 * measured once when it says auto (docs/calibration.md). */
#include "session.h"

#include <stdio.h>

/* Passes of each measurement: a few seconds at 1 GiB on a laptop. */
#define ARB_BUS_RUNS 3

int cli_resolve_arbiter_bus(struct cli_opts *o)
{
	struct splitmoe_session_params *p = &o->sp;
	struct splitmoe_bwcal_params bp = splitmoe_bwcal_default_params();
	struct splitmoe_bwcal cal;
	char err[256];

	if (p->arbiter_capacity_mbps != SPLITMOE_MBPS_AUTO &&
	    p->arbiter_guaranteed_mbps != SPLITMOE_MBPS_AUTO)
		return 0;
	if (p->arbiter == SPLITMOE_ARBITER_KERNEL || p->arbiter == SPLITMOE_ARBITER_OFF) {
		/* the module keeps its own (bwarbctl calibrate --apply) */
		if (p->arbiter_capacity_mbps == SPLITMOE_MBPS_AUTO)
			p->arbiter_capacity_mbps = 0;
		if (p->arbiter_guaranteed_mbps == SPLITMOE_MBPS_AUTO)
			p->arbiter_guaranteed_mbps = 0;
	} else {
		bp.bytes = splitmoe_bwcal_default_bytes();
		bp.runs = ARB_BUS_RUNS;
		fprintf(stderr, "arbiter: calibrating the bus (capacity_mbps: auto; %.2f GB buffer, every core)\n",
			bp.bytes / 1e9);
		if (splitmoe_bwcal_measure(&bp, &cal, err, sizeof(err))) {
			cli_err("arbiter: %s", err);
			return -1;
		}
		if (p->arbiter_capacity_mbps == SPLITMOE_MBPS_AUTO)
			p->arbiter_capacity_mbps = cal.capacity_mbps;
		if (p->arbiter_guaranteed_mbps == SPLITMOE_MBPS_AUTO)
			p->arbiter_guaranteed_mbps = cal.guaranteed_mbps < p->arbiter_capacity_mbps ?
				cal.guaranteed_mbps : p->arbiter_capacity_mbps;
		fprintf(stderr, "arbiter: capacity %llu MB/s, guaranteed %llu MB/s (read %.1f GB/s, copy %.1f GB/s, r_min %.1f GB/s)\n",
			(unsigned long long)p->arbiter_capacity_mbps,
			(unsigned long long)p->arbiter_guaranteed_mbps, cal.read_gbs, cal.copy_gbs,
			cal.rmin_gbs);
	}
	return 0;
}
