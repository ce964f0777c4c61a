// SPDX-License-Identifier: MIT
/* Figures and verdict of a bwsim run (see report.h). */
#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "workload.h"

struct wf_item {
	double level;	/* demand / weight */
	size_t i;
};

static int cmp_wf(const void *a, const void *b)
{
	const struct wf_item *x = a, *y = b;

	return x->level < y->level ? -1 : x->level > y->level;
}

void ideal_water_fill(double avail, const double *demand, const double *weight,
		      double *out, size_t n)
{
	struct wf_item *it = malloc(n * sizeof(*it));
	double wsum = 0;
	size_t k, m = 0;

	if (!it) {
		fprintf(stderr, "bwsim: out of memory\n");
		exit(2);
	}
	for (k = 0; k < n; k++) {
		out[k] = 0;
		if (demand[k] > 0 && weight[k] > 0) {
			it[m].level = demand[k] / weight[k];
			it[m++].i = k;
			wsum += weight[k];
		}
	}
	/* Smallest demand per weight first: each takes all it wants while that
	 * is below its weighted share of what is left. */
	qsort(it, m, sizeof(*it), cmp_wf);
	for (k = 0; k < m && avail > 0; k++) {
		size_t i = it[k].i;
		double share = avail * weight[i] / wsum;

		out[i] = demand[i] < share ? demand[i] : share;
		avail -= out[i];
		wsum -= weight[i];
	}
	free(it);
}

/* Ideal bytes per client over the run, phase by phase. */
static double *compute_ideal(const struct sim *s)
{
	const struct bw_scenario *sc = s->sc;
	double *ideal = calloc(s->n, sizeof(double));
	double *dem = calloc(s->n, sizeof(double));
	double *w = calloc(s->n, sizeof(double));
	double *out = calloc(s->n, sizeof(double));
	size_t p;
	uint32_t i;

	if (!ideal || !dem || !w || !out) {
		fprintf(stderr, "bwsim: out of memory\n");
		exit(2);
	}
	for (p = 0; p < s->nph; p++) {
		const struct sim_phase *ph = &s->ph[p];
		double len = (double)(ph->end - ph->start);
		double avail = (double)s->cap_bytes * len -
			       sc->background_mbps * (double)s->period_ns / 1000.0 * len;
		double resv = 0;

		for (i = 0; i < s->n; i++) {
			const struct sim_client *c = &s->c[i];
			double d = INFINITY, r;

			w[i] = c->g->weight;
			dem[i] = 0;
			if (c->reg_err || !ph->on[i])
				continue;
			if (!workload_closed_loop(c->g, ph->start))
				d = (double)ph->offered[i];
			/* Reservations first, then weighted max-min of the rest. */
			r = (double)c->g->reserve_mbps * (double)s->period_ns / 1000.0 * len;
			if (r > d)
				r = d;
			ideal[i] += r;
			resv += r;
			dem[i] = d - r;
		}
		avail -= resv;
		ideal_water_fill(avail > 0 ? avail : 0, dem, w, out, s->n);
		for (i = 0; i < s->n; i++)
			ideal[i] += out[i];
	}
	free(dem);
	free(w);
	free(out);
	return ideal;
}

static int cheater(const struct bw_group *g)
{
	return g->complete_pct > 100 || g->tamper_pct > 0 || g->tamper_inconsistent;
}

/*
 * On/off clients are greedy only in short windows and finish their last
 * request after the window: the fluid ideal does not model them, so they
 * count in the others' ideal but have no share error of their own.
 */
static int scored(const struct bw_group *g)
{
	return !cheater(g) && g->arrival != ARR_ONOFF;
}

static const char *arrival_name(const struct bw_group *g)
{
	static const char *const n[] = { "greedy", "poisson", "periodic", "onoff",
					  "edge" };

	return n[g->arrival];
}

static void print_row(const char *name, uint32_t n, const struct bw_group *g,
		      double achieved, double ideal, double err,
		      const struct wait_hist *h, double period_ns)
{
	printf("%-24s %5u %6u %8" PRIu64 " %-8s %11.3f %11.3f %8.3f %7.2f %7.2f %8.2f%s\n",
	       name, n, g->weight, g->reserve_mbps, arrival_name(g), achieved,
	       ideal, err, wait_hist_pct(h, 0.5), wait_hist_pct(h, 0.99),
	       (double)h->max_ns / period_ns,
	       cheater(g) ? "  cheater: not scored" :
	       !scored(g) ? "  on/off: not scored" : "");
}

int report_print(struct sim *s, int per_client)
{
	const struct bw_scenario *sc = s->sc;
	double secs = (double)sc->periods * (double)s->period_ns / 1e9;
	double to_mbps = 1.0 / (secs * 1e6);
	double *ideal = compute_ideal(s), sx = 0, sxx = 0, err_max = 0, err_sum = 0;
	double total = 0;
	uint32_t i, nj = 0, nviol = 0, bad = 0, k;
	struct arb_stats as;
	size_t g;

	printf("bwsim: %s (%s): %u clients, %" PRIu64 " periods of %" PRIu64
	       " us, capacity %" PRIu64 " MB/s, guaranteed %" PRIu64 " MB/s\n",
	       sc->name, sc->path, s->n, sc->periods, sc->period_us,
	       sc->capacity_mbps, sc->guaranteed_mbps);
	printf("%-24s %5s %6s %8s %-8s %11s %11s %8s %7s %7s %8s\n", "client", "n",
	       "weight", "res_MB/s", "arrival", "achv_MB/s", "ideal_MB/s", "err_%",
	       "wait50", "wait99", "waitmax");
	for (i = 0; i < s->n; i++) {
		const struct sim_client *c = &s->c[i];
		double a = (double)c->actual, e;

		total += a;
		if (c->reg_err || ideal[i] <= 0)
			continue;
		e = fabs(a - ideal[i]) / ideal[i] * 100.0;
		if (scored(c->g)) {
			sx += a / ideal[i];
			sxx += (a / ideal[i]) * (a / ideal[i]);
			nj++;
			err_sum += e;
			if (e > err_max)
				err_max = e;
		} else if (cheater(c->g) && a - (double)sim_client_debt(c) >
			   ideal[i] * 1.05 + 2.0 * (double)s->cap_bytes) {
			s->violations[V_CHEATER_GAIN]++;
			printf("violation: %s: client %s#%u moved %.0f bytes, its ideal share is %.0f\n",
			       violation_names[V_CHEATER_GAIN], c->g->name, i, a, ideal[i]);
		}
	}
	if (per_client) {
		for (i = 0; i < s->n; i++) {
			const struct sim_client *c = &s->c[i];
			char name[64];

			snprintf(name, sizeof(name), "%s#%u%s", c->g->name, i,
				 c->reg_err ? " (refused)" : "");
			print_row(name, 1, c->g, c->actual * to_mbps, ideal[i] * to_mbps,
				  ideal[i] > 0 ? fabs(c->actual - ideal[i]) / ideal[i] * 100 : 0,
				  c->wh, (double)s->period_ns);
		}
	} else {
		/* Per group: sums, the worst member's error. */
		for (i = 0, g = 0; g < sc->ngroups; g++) {
			const struct bw_group *gr = &sc->groups[g];
			double a = 0, id = 0, em = 0;

			for (k = 0; k < gr->count; k++, i++) {
				a += s->c[i].actual;
				id += ideal[i];
				if (ideal[i] > 0) {
					double e = fabs(s->c[i].actual - ideal[i]) / ideal[i] * 100;

					em = e > em ? e : em;
				}
			}
			print_row(gr->name, gr->count, gr, a * to_mbps / gr->count,
				  id * to_mbps / gr->count, em, &s->gwh[g],
				  (double)s->period_ns);
		}
		printf("(per group: mean MB/s per client, worst member's error)\n");
	}
	arb_get_stats(&s->st, &as);
	printf("overall: achieved %.3f MB/s of %" PRIu64 " MB/s capacity (%.2f%%), "
	       "Jain %.5f over %u clients, share error max %.3f%% mean %.3f%%\n",
	       total * to_mbps, sc->capacity_mbps,
	       total * to_mbps * 100.0 / (double)sc->capacity_mbps,
	       nj ? sx * sx / (nj * sxx) : 1.0, nj, err_max, nj ? err_sum / nj : 0.0);
	printf("overall: capacity left unused in the pools: %.3f MB/s held for "
	       "clients that did not wait, %.3f MB/s unclaimed\n",
	       s->idle_light * to_mbps, s->idle_pool * to_mbps);
	printf("overall: grant wait p50 %.3f p99 %.3f max %.3f periods; "
	       "unattributed EMA %" PRIu64 " MB/s; tamper events %" PRIu64
	       "; debt %" PRIu64 " bytes\n",
	       wait_hist_pct(&s->all, 0.5), wait_hist_pct(&s->all, 0.99),
	       (double)s->all.max_ns / s->period_ns, as.unattributed_mbps,
	       as.tamper_events, as.debt_bytes);
	if (as.tamper_events != s->tamper_expected) {
		s->violations[V_TAMPER_MISSED]++;
		printf("violation: %s: core counted %" PRIu64 " tamper events, %" PRIu64 " happened\n",
		       violation_names[V_TAMPER_MISSED], as.tamper_events,
		       s->tamper_expected);
	}
	for (k = 0; k < V_COUNT; k++) {
		if (s->violations[k])
			printf("violations: %s: %" PRIu64 "\n", violation_names[k],
			       s->violations[k]);
		nviol += s->violations[k] ? 1 : 0;
	}
	if (sc->expect_jain && nj && sx * sx / (nj * sxx) < sc->jain_min) {
		printf("expectation failed: Jain %.5f < %.5f\n", sx * sx / (nj * sxx),
		       sc->jain_min);
		bad++;
	}
	if (sc->expect_err && err_max > sc->share_error_max_pct) {
		printf("expectation failed: share error %.3f%% > %.3f%%\n", err_max,
		       sc->share_error_max_pct);
		bad++;
	}
	{
		uint64_t total_v = 0;

		for (k = 0; k < V_COUNT; k++)
			total_v += s->violations[k];
		printf("violations: %" PRIu64 "\n", total_v);
	}
	free(ideal);
	return (int)(nviol + bad);
}
