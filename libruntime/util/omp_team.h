/* SPDX-License-Identifier: MIT */
#ifndef SPLITMOE_OMP_TEAM_H
#define SPLITMOE_OMP_TEAM_H

#include <stdint.h>

/*
 * The thread count of an OpenMP region: one (no region at all), or the
 * whole team. libgomp ends the pool threads that a smaller team leaves
 * out and creates them again for the next larger one, each with a cold
 * stack: on 16 cores, decode at 512 tokens of context (attention's work
 * asked for 8 threads, o_proj then for 16) spent more on recreating
 * threads than on o_proj's reading. A region with less work than threads
 * leaves the rest of the team idle instead.
 */
static inline int sm_team_threads(uint64_t want, int all)
{
	return want > 1 && all > 1 ? all : 1;
}

#endif
