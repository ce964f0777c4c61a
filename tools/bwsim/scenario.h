/* SPDX-License-Identifier: MIT */
/*
 * A bwsim scenario, as read from YAML (configs/sim/NAME.yaml; the keys are
 * documented in docs/arbitration.md and in scenario.c's tables).
 */
#ifndef BWSIM_SCENARIO_H
#define BWSIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bw_arrival {
	ARR_GREEDY,	/* always has a request: asks again at once */
	ARR_POISSON,	/* open loop, exponential gaps, mean rate_mbps */
	ARR_PERIODIC,	/* open loop, fixed gaps, rate_mbps */
	ARR_ONOFF,	/* greedy for on_periods, silent for off_periods */
	ARR_EDGE,	/* greedy bursts 1 ns before and at every period edge */
};

enum bw_size_dist { SZ_FIXED, SZ_UNIFORM, SZ_EXP, SZ_BIMODAL };

struct bw_size {
	enum bw_size_dist dist;
	uint64_t bytes;		/* fixed; mean of exponential */
	uint64_t min, max;	/* uniform; clamp of exponential */
	uint64_t small, large;	/* bimodal */
	double p_large;
};

struct bw_group {
	char name[32];
	int line;
	uint32_t count;
	uint32_t weight;
	uint32_t class;
	uint64_t reserve_mbps;
	uint64_t burst_bytes;
	enum bw_arrival arrival;
	double rate_mbps;		/* poisson, periodic */
	uint64_t on_periods, off_periods;
	struct bw_size size;
	double complete_pct;		/* actual/granted: 100 honest, >100 liar */
	uint32_t outstanding;		/* grants in flight at most (1..64) */
	bool fastpath;			/* consumes the page budget first */
	double tamper_pct;		/* fast path: claims this much above issued */
	bool tamper_inconsistent;	/* fast path: scribbles the page */
	uint64_t start_period, stop_period;	/* stop 0: the end */
};

struct bw_scenario {
	char path[512];
	char name[64];
	uint64_t period_us;
	uint64_t capacity_mbps;
	uint64_t guaranteed_mbps;
	uint32_t max_clients;
	uint64_t periods;
	uint64_t seed;
	double background_mbps;		/* traffic nobody declares */
	bool counters;			/* measured traffic fed to arb_tick */
	bool expect_jain, expect_err;
	double jain_min, share_error_max_pct;
	/* Test-only faults in the harness, to prove the checker fires. */
	uint64_t inject_late_wake;	/* reserved waiters retried N periods late */
	uint64_t inject_bypass_bytes;	/* bytes per period granted past the core */
	struct bw_group *groups;
	size_t ngroups;
	uint32_t nclients;
};

/* 0, or -1 with "FILE:LINE: key 'k': why" in err. */
int scenario_load(const char *path, struct bw_scenario *s, char *err,
		  size_t errlen);
void scenario_free(struct bw_scenario *s);

#endif /* BWSIM_SCENARIO_H */
