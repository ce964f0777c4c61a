// SPDX-License-Identifier: MIT
/* Client behaviours of bwsim (see workload.h). */
#include "workload.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in (0, 1]. */
static double unit(uint64_t *rng)
{
	return ((splitmix64(rng) >> 11) + 1) * (1.0 / 9007199254740992.0);
}

uint64_t workload_seed(uint64_t seed, uint32_t client)
{
	uint64_t x = seed ^ ((uint64_t)client << 32 | client);

	splitmix64(&x);
	return x;
}

uint64_t workload_size(const struct bw_group *g, uint64_t *rng)
{
	const struct bw_size *s = &g->size;
	double v;

	switch (s->dist) {
	case SZ_UNIFORM:
		return s->min + splitmix64(rng) % (s->max - s->min + 1);
	case SZ_EXP:
		v = -log(unit(rng)) * (double)s->bytes;
		if (v < (double)s->min)
			return s->min;
		return v > (double)s->max ? s->max : (uint64_t)v;
	case SZ_BIMODAL:
		return unit(rng) <= s->p_large ? s->large : s->small;
	case SZ_FIXED:
	default:
		return s->bytes;
	}
}

double workload_mean_size(const struct bw_group *g)
{
	const struct bw_size *s = &g->size;

	switch (s->dist) {
	case SZ_UNIFORM:
		return (s->min + s->max) / 2.0;
	case SZ_BIMODAL:
		return s->p_large * s->large + (1 - s->p_large) * s->small;
	case SZ_EXP:
	case SZ_FIXED:
	default:
		return (double)s->bytes;
	}
}

int workload_active(const struct bw_group *g, uint64_t period)
{
	if (period < g->start_period || (g->stop_period && period >= g->stop_period))
		return 0;
	if (g->arrival == ARR_ONOFF)
		return (period - g->start_period) % (g->on_periods + g->off_periods) <
		       g->on_periods;
	return 1;
}

int workload_closed_loop(const struct bw_group *g, uint64_t period)
{
	(void)period;
	return g->arrival == ARR_GREEDY || g->arrival == ARR_ONOFF;
}

static uint64_t gap_ns(const struct bw_group *g, uint64_t *rng)
{
	/* bytes / (MB/s) = bytes * 1000 / rate ns */
	double mean = workload_mean_size(g) * 1000.0 / g->rate_mbps;

	if (g->arrival == ARR_POISSON)
		mean *= -log(unit(rng));
	return mean < 1 ? 1 : (uint64_t)mean;
}

static uint64_t clip_end(const struct bw_scenario *sc, uint64_t period_ns,
			 uint64_t t)
{
	return t >= sc->periods * period_ns ? UINT64_MAX : t;
}

uint64_t workload_first_arrival(const struct bw_group *g,
				const struct bw_scenario *sc,
				uint64_t period_ns, uint64_t *rng)
{
	uint64_t t0 = g->start_period * period_ns;

	switch (g->arrival) {
	case ARR_POISSON:
	case ARR_PERIODIC:
		/* A random phase, so that periodic clients do not align. */
		return clip_end(sc, period_ns,
				t0 + (uint64_t)(unit(rng) * (double)gap_ns(g, rng)));
	case ARR_EDGE:
		return clip_end(sc, period_ns, t0 + period_ns - 1);
	default:
		return UINT64_MAX;
	}
}

uint64_t workload_next_arrival(const struct bw_group *g,
			       const struct bw_scenario *sc, uint64_t period_ns,
			       uint64_t t, uint64_t *rng)
{
	if (g->stop_period && t >= g->stop_period * period_ns)
		return UINT64_MAX;
	switch (g->arrival) {
	case ARR_POISSON:
	case ARR_PERIODIC:
		return clip_end(sc, period_ns, t + gap_ns(g, rng));
	case ARR_EDGE:
		/* 1 ns before an edge, then at the edge. */
		return clip_end(sc, period_ns,
				t % period_ns == period_ns - 1 ? t + 1 :
				t + period_ns - 1);
	default:
		return UINT64_MAX;
	}
}

uint64_t workload_service_ns(const struct bw_scenario *sc, uint64_t bytes)
{
	uint64_t ns = bytes * 1000 / sc->capacity_mbps;

	return ns ? ns : 1;
}

uint64_t workload_actual(const struct bw_group *g, uint64_t granted)
{
	if (g->complete_pct == 100)
		return granted;
	return (uint64_t)llround((double)granted * g->complete_pct / 100.0);
}
