/* SPDX-License-Identifier: MIT */
/*
 * What the simulated clients do: request sizes, arrival times, whether a
 * client is on, how long a transfer takes and how much it really moves.
 * Deterministic: one splitmix64 stream per client.
 */
#ifndef BWSIM_WORKLOAD_H
#define BWSIM_WORKLOAD_H

#include <stdint.h>

#include "scenario.h"

uint64_t workload_seed(uint64_t seed, uint32_t client);
uint64_t workload_size(const struct bw_group *g, uint64_t *rng);
double workload_mean_size(const struct bw_group *g);
/* Client on in this period (start/stop window and on/off cycle). */
int workload_active(const struct bw_group *g, uint64_t period);
/* Greedy kinds: always one request queued while on. */
int workload_closed_loop(const struct bw_group *g, uint64_t period);
/* Open-loop arrival times in ns; UINT64_MAX: none (closed loop or past the end). */
uint64_t workload_first_arrival(const struct bw_group *g,
				const struct bw_scenario *sc,
				uint64_t period_ns, uint64_t *rng);
uint64_t workload_next_arrival(const struct bw_group *g,
			       const struct bw_scenario *sc, uint64_t period_ns,
			       uint64_t t, uint64_t *rng);
/* A transfer of bytes at the full bus rate. */
uint64_t workload_service_ns(const struct bw_scenario *sc, uint64_t bytes);
/* What COMPLETE reports for a grant (liars above, under-users below). */
uint64_t workload_actual(const struct bw_group *g, uint64_t granted);

#endif /* BWSIM_WORKLOAD_H */
