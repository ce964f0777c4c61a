/* SPDX-License-Identifier: MIT */
/*
 * bwsim's discrete-event engine: clients with request queues drive the
 * arbitration core (kmod/arb_core.c) exactly as the module does (acquire,
 * -EAGAIN, retry after every tick, complete; fast-path page settled and
 * re-issued at every tick), while the checker watches the contract.
 */
#ifndef BWSIM_SIM_H
#define BWSIM_SIM_H

#include <stdint.h>

#include "kmod/arb_core.h"
#include "scenario.h"

#define WAIT_BINS	4096	/* wait histogram: 1/8 period per bin */
#define WAIT_BIN_DIV	8

enum violation_kind {
	V_ADMISSION,		/* register/set_params answer not the contract's */
	V_BOUND,		/* reserved request granted after its bound */
	V_CAPACITY,		/* more granted than the periods' capacity */
	V_IDLE_WHILE_WAITING,	/* unfunded capacity while a client waits */
	V_STARVATION,		/* a debt-free request waited far past its share */
	V_CHEATER_GAIN,		/* a liar or tamperer got more than its share */
	V_TAMPER_MISSED,	/* fast-path tampering not counted */
	V_INVARIANT,		/* arb_check_invariants() failed */
	V_COUNT
};

struct wait_hist {
	uint64_t bins[WAIT_BINS];
	uint64_t n;
	uint64_t max_ns;
	uint64_t period_ns;
};

struct sim_req {
	uint64_t bytes;
	uint64_t t;		/* when it entered the client's queue */
};

struct sim_client {
	const struct bw_group *g;
	uint32_t group;
	int reg_err;			/* 0: registered */
	uint64_t rng;
	/* queue of requests not yet granted; the head is presented */
	struct sim_req *q;
	uint32_t qhead, qlen, qcap;
	uint64_t ask_t;			/* head first presented to the core */
	uint64_t ask_debt;		/* client's debt at that moment */
	uint64_t ask_period;
	int asked;			/* head presented (not -EBUSY) */
	int waiting;			/* core said -EAGAIN for the head */
	uint32_t inflight;
	uint64_t fp_issued, fp_left;
	/* figures */
	uint64_t granted;		/* grants + fast-path use */
	uint64_t actual;		/* traffic: completed + fast path */
	uint64_t grants;
	struct wait_hist *wh;		/* per client when few clients */
	uint64_t wait_max_ns;
	struct arb_client core;		/* last: its grant table is cold */
};

struct sim_phase {
	uint64_t start, end;		/* periods [start, end) */
	uint64_t *offered;		/* per client, open-loop bytes arrived */
	uint8_t *on;			/* per client: active in the phase */
};

struct sim {
	const struct bw_scenario *sc;
	struct arb_state st;
	struct sim_client *c;
	uint32_t n;
	uint64_t period_ns;
	uint64_t cap_bytes;
	uint64_t now;
	uint64_t period;		/* ticks done */
	/* event heap */
	struct sim_ev *ev;
	size_t nev, evcap;
	uint64_t evseq;
	/* clients waiting in the core, retried after each tick */
	uint32_t *waiters;
	uint32_t nwaiters;
	uint32_t *fp;			/* fast-path clients */
	uint32_t nfp;
	uint32_t *onoff;		/* on/off clients */
	uint32_t nonoff;
	/* accounting */
	uint64_t traffic_period;	/* actual bytes moved this period */
	uint64_t net_granted;		/* grants - refunds + fast path, all */
	uint64_t idle_light;		/* light pool left at ticks, summed */
	uint64_t idle_pool;		/* general pool left at ticks, summed */
	uint64_t sum_res_ok;		/* reservations admitted */
	double wsum;			/* weights of the admitted clients */
	uint32_t nreg;
	struct sim_phase *ph;
	size_t nph, cur_ph;
	struct wait_hist *gwh;		/* per group */
	struct wait_hist all;
	uint64_t violations[V_COUNT];
	uint64_t tamper_expected;
	uint64_t max_printed;		/* violations printed per kind */
};

extern const char *const violation_names[V_COUNT];

/*
 * 0, or -1 with a message on stderr (out of memory, too many phases).
 * max_printed: violations of each kind printed in detail (all are counted).
 */
int sim_init(struct sim *s, const struct bw_scenario *sc, uint64_t max_printed);
void sim_run(struct sim *s, int progress);
void sim_free(struct sim *s);
uint64_t sim_client_debt(const struct sim_client *c);

void wait_hist_add(struct wait_hist *h, uint64_t ns, uint64_t period_ns);
/* Percentile q (0..1) of the histogram, in periods. */
double wait_hist_pct(const struct wait_hist *h, double q);

#endif /* BWSIM_SIM_H */
