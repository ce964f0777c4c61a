// SPDX-License-Identifier: MIT
/* The process arbiter's capacity and guarantee: YAML's figures, or
 * measured once when it says auto (bwcal.h, docs/calibration.md). */
#include "session.h"
#include "arbiter/arbiter.h"
#include "arbiter/bwcal.h"

#include <stdio.h>

/* Passes of each measurement: a few seconds at 1 GiB on a laptop. */
#define ARB_BUS_RUNS 3

int cli_resolve_arbiter_bus(struct cli_opts *o, enum sm_arbiter_kind kind)
{
	struct sm_config *c = &o->cfg;
	struct sm_bwcal cal;
	char err[256];

	if (c->arb_capacity_mbps != SM_CONFIG_AUTO && c->arb_guaranteed_mbps != SM_CONFIG_AUTO)
		return 0;
	if (kind == SM_ARB_KERNEL || kind == SM_ARB_OFF) {
		/* the module keeps its own (bwarbctl calibrate --apply) */
		if (c->arb_capacity_mbps == SM_CONFIG_AUTO)
			c->arb_capacity_mbps = 0;
		if (c->arb_guaranteed_mbps == SM_CONFIG_AUTO)
			c->arb_guaranteed_mbps = 0;
		return 0;
	}
	fprintf(stderr, "arbiter: calibrating the bus (capacity_mbps: auto; %.2f GB buffer, every core)\n",
		sm_membw_default_bytes() / 1e9);
	if (sm_bwcal_measure_child(sm_membw_default_bytes(), ARB_BUS_RUNS, &cal, err, sizeof(err))) {
		cli_err("arbiter: %s", err);
		return -1;
	}
	if (c->arb_capacity_mbps == SM_CONFIG_AUTO)
		c->arb_capacity_mbps = cal.capacity_mbps;
	if (c->arb_guaranteed_mbps == SM_CONFIG_AUTO)
		c->arb_guaranteed_mbps = cal.guaranteed_mbps < c->arb_capacity_mbps ?
			cal.guaranteed_mbps : c->arb_capacity_mbps;
	fprintf(stderr, "arbiter: capacity %llu MB/s, guaranteed %llu MB/s (read %.1f GB/s, copy %.1f GB/s, r_min %.1f GB/s)\n",
		(unsigned long long)c->arb_capacity_mbps, (unsigned long long)c->arb_guaranteed_mbps,
		cal.all.read_gbs, cal.all.copy_gbs, cal.rmin_gbs);
	return 0;
}
