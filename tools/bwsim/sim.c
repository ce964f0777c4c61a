// SPDX-License-Identifier: MIT
/*
 * The event engine and the contract checker of bwsim (see sim.h).
 *
 * Time is in ns; period k ends with the tick at k * P. Events strictly
 * before a tick run before it; events at the tick's instant run after it
 * (a period-edge adversary asks 1 ns before and right at each edge).
 */
#include "sim.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload.h"

const char *const violation_names[V_COUNT] = {
	[V_ADMISSION] = "admission",
	[V_BOUND] = "reservation-bound",
	[V_CAPACITY] = "capacity",
	[V_IDLE_WHILE_WAITING] = "idle-while-waiting",
	[V_STARVATION] = "starvation",
	[V_CHEATER_GAIN] = "cheater-gain",
	[V_TAMPER_MISSED] = "tamper-missed",
	[V_INVARIANT] = "core-invariant",
};

enum ev_type { EV_ARRIVAL, EV_COMPLETE };

struct sim_ev {
	uint64_t t, seq;
	uint32_t type, client;
	uint64_t id, bytes;
};

static void violation(struct sim *s, enum violation_kind k, uint32_t client,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void violation(struct sim *s, enum violation_kind k, uint32_t client,
		      const char *fmt, ...)
{
	va_list ap;

	if (s->violations[k]++ < s->max_printed) {
		printf("violation: %s: period %" PRIu64 ": ", violation_names[k],
		       s->period);
		if (client != UINT32_MAX)
			printf("client %s#%u: ", s->c[client].g->name, client);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		putchar('\n');
	}
}

/* ---- wait histograms ---- */

void wait_hist_add(struct wait_hist *h, uint64_t ns, uint64_t period_ns)
{
	uint64_t b = ns * WAIT_BIN_DIV / period_ns;

	h->period_ns = period_ns;
	h->bins[b < WAIT_BINS ? b : WAIT_BINS - 1]++;
	h->n++;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

double wait_hist_pct(const struct wait_hist *h, double q)
{
	uint64_t want, seen = 0;
	size_t i;

	if (!h->n)
		return 0;
	want = (uint64_t)ceil(q * (double)h->n);
	if (!want)
		want = 1;
	for (i = 0; i < WAIT_BINS; i++) {
		seen += h->bins[i];
		if (seen >= want) {
			/* The bin's upper edge, or the largest wait seen. */
			double edge = (double)(i + 1) / WAIT_BIN_DIV;
			double max = (double)h->max_ns / h->period_ns;

			return edge < max ? edge : max;
		}
	}
	return (double)WAIT_BINS / WAIT_BIN_DIV;
}

/* ---- event heap (time, then insertion order) ---- */

static int ev_less(const struct sim_ev *a, const struct sim_ev *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static int ev_push(struct sim *s, uint64_t t, uint32_t type, uint32_t client,
		   uint64_t id, uint64_t bytes)
{
	struct sim_ev e = { t, s->evseq++, type, client, id, bytes };
	size_t i;

	if (s->nev == s->evcap) {
		size_t cap = s->evcap ? 2 * s->evcap : 1024;
		struct sim_ev *n = realloc(s->ev, cap * sizeof(*n));

		if (!n) {
			fprintf(stderr, "bwsim: out of memory (events)\n");
			exit(2);
		}
		s->ev = n;
		s->evcap = cap;
	}
	for (i = s->nev++; i; i = (i - 1) / 2) {
		if (!ev_less(&e, &s->ev[(i - 1) / 2]))
			break;
		s->ev[i] = s->ev[(i - 1) / 2];
	}
	s->ev[i] = e;
	return 0;
}

static struct sim_ev ev_pop(struct sim *s)
{
	struct sim_ev top = s->ev[0], last = s->ev[--s->nev];
	size_t i = 0;

	for (;;) {
		size_t k = 2 * i + 1;

		if (k >= s->nev)
			break;
		if (k + 1 < s->nev && ev_less(&s->ev[k + 1], &s->ev[k]))
			k++;
		if (!ev_less(&s->ev[k], &last))
			break;
		s->ev[i] = s->ev[k];
		i = k;
	}
	if (s->nev)
		s->ev[i] = last;
	return top;
}

/* ---- client request queues ---- */

static void q_push(struct sim_client *c, uint64_t bytes, uint64_t t)
{
	if (c->qlen == c->qcap) {
		uint32_t cap = c->qcap ? 2 * c->qcap : 8, i;
		struct sim_req *n = malloc(cap * sizeof(*n));

		if (!n) {
			fprintf(stderr, "bwsim: out of memory (queues)\n");
			exit(2);
		}
		for (i = 0; i < c->qlen; i++)
			n[i] = c->q[(c->qhead + i) % c->qcap];
		free(c->q);
		c->q = n;
		c->qcap = cap;
		c->qhead = 0;
	}
	c->q[(c->qhead + c->qlen++) % c->qcap] = (struct sim_req){ bytes, t };
}

static void q_pop(struct sim_client *c)
{
	c->qhead = (c->qhead + 1) % c->qcap;
	c->qlen--;
	c->asked = 0;
	c->waiting = 0;
}

static int client_on(const struct sim_client *c, uint64_t period)
{
	return c->reg_err == 0 && workload_active(c->g, period);
}

static void count_offered(struct sim *s, uint32_t i, uint64_t bytes)
{
	if (s->cur_ph < s->nph)
		s->ph[s->cur_ph].offered[i] += bytes;
}

/* Greedy kinds keep their queue non-empty while they are on. */
static void refill_greedy(struct sim *s, uint32_t i)
{
	struct sim_client *c = &s->c[i];

	if (c->qlen || !workload_closed_loop(c->g, s->period) ||
	    !client_on(c, s->period))
		return;
	q_push(c, workload_size(c->g, &c->rng), s->now);
}

static void record_grant(struct sim *s, uint32_t i, uint64_t bytes)
{
	struct sim_client *c = &s->c[i];
	uint64_t wait = s->now - c->ask_t;

	c->granted += bytes;
	c->grants++;
	s->net_granted += bytes;
	if (wait > c->wait_max_ns)
		c->wait_max_ns = wait;
	wait_hist_add(&s->gwh[c->group], wait, s->period_ns);
	wait_hist_add(&s->all, wait, s->period_ns);
	if (c->wh)
		wait_hist_add(c->wh, wait, s->period_ns);

	/*
	 * Contract 2: the reservation's bound, for a client that keeps to its
	 * reservation: no debt when it asked, and not a liar or tamperer
	 * (whose debt may appear while it waits).
	 */
	if (c->g->reserve_mbps && bytes <= c->g->burst_bytes && !c->ask_debt &&
	    c->g->complete_pct <= 100 && !c->g->tamper_pct &&
	    !c->g->tamper_inconsistent) {
		uint64_t per_x1000 = c->g->reserve_mbps * s->period_ns;
		uint64_t n = (bytes * 1000 + per_x1000 - 1) / per_x1000;
		uint64_t bound = (n + 1) * s->period_ns;

		if (wait > bound)
			violation(s, V_BOUND, i, "%" PRIu64 " bytes waited %.3f periods, bound %" PRIu64,
				  bytes, (double)wait / s->period_ns, n + 1);
	}
}

uint64_t sim_client_debt(const struct sim_client *c)
{
	struct arb_client_stats cs;

	arb_client_get_stats(&c->core, &cs);
	return cs.debt_bytes;
}

/* A generous starvation limit: twice the periods its smallest share needs. */
static uint64_t starve_limit(const struct sim *s, const struct sim_client *c,
			     uint64_t bytes)
{
	uint64_t res = arb_mbps_to_period_bytes(&s->st, c->g->reserve_mbps);
	double bg = s->sc->background_mbps * (double)s->period_ns / 1000.0;
	double shared = (double)s->cap_bytes - (double)s->sum_res_ok *
			s->period_ns / 1000.0 - bg;
	double share;

	share = shared > 0 ? shared * c->g->weight / s->wsum : 0;
	if (share < (double)res)
		share = (double)res;
	if (share < 1)
		return UINT64_MAX;
	return 2 * (uint64_t)ceil((double)bytes / share) + 64;
}

static void add_waiter(struct sim *s, uint32_t i)
{
	s->waiters[s->nwaiters++] = i;
}

/* Presents queued requests to the core until one waits or none is left. */
static void present(struct sim *s, uint32_t i)
{
	struct sim_client *c = &s->c[i];

	refill_greedy(s, i);
	while (c->qlen && !c->waiting && c->reg_err == 0) {
		struct sim_req *r = &c->q[c->qhead];
		struct arb_stats as;
		uint64_t id;
		int ret;

		if (!c->asked)
			c->ask_t = s->now;
		if (c->fp_left >= r->bytes) {
			/* Fast path: an atomic decrement in the page, no call. */
			c->fp_left -= r->bytes;
			c->asked = 1;
			record_grant(s, i, r->bytes);
			q_pop(c);
			refill_greedy(s, i);
			continue;
		}
		if (c->inflight >= c->g->outstanding)
			return;
		ret = arb_acquire(&s->st, &c->core, r->bytes, &id);
		if (ret == -EBUSY)
			return;
		if (!c->asked) {
			c->asked = 1;
			c->ask_debt = sim_client_debt(c);
			c->ask_period = s->period;
		}
		if (ret == -EAGAIN) {
			c->waiting = 1;
			add_waiter(s, i);
			arb_get_stats(&s->st, &as);
			if (as.pool_bytes)
				violation(s, V_IDLE_WHILE_WAITING, i,
					  "%" PRIu64 " bytes unfunded while it waits",
					  as.pool_bytes);
			return;
		}
		if (ret) {
			fprintf(stderr, "bwsim: arb_acquire: unexpected %d\n", ret);
			exit(2);
		}
		record_grant(s, i, r->bytes);
		c->inflight++;
		ev_push(s, s->now + workload_service_ns(s->sc, r->bytes),
			EV_COMPLETE, i, id, r->bytes);
		q_pop(c);
		refill_greedy(s, i);
	}
}

static void on_complete(struct sim *s, const struct sim_ev *e)
{
	struct sim_client *c = &s->c[e->client];
	uint64_t actual = workload_actual(c->g, e->bytes);

	if (arb_complete(&s->st, &c->core, e->id, actual)) {
		fprintf(stderr, "bwsim: arb_complete refused a grant\n");
		exit(2);
	}
	c->inflight--;
	c->actual += actual;
	s->traffic_period += actual;
	if (actual < e->bytes)
		s->net_granted -= e->bytes - actual;
	present(s, e->client);
}

static void on_arrival(struct sim *s, const struct sim_ev *e)
{
	struct sim_client *c = &s->c[e->client];
	uint64_t period = e->t / s->period_ns;
	uint64_t next, bytes;

	if (!client_on(c, period))
		goto next;
	bytes = workload_size(c->g, &c->rng);
	if (c->g->arrival == ARR_EDGE) {
		uint32_t k;

		/* A burst: as many requests as it may have in flight. */
		for (k = 0; k < c->g->outstanding; k++) {
			q_push(c, bytes, s->now);
			count_offered(s, e->client, bytes);
		}
	} else {
		q_push(c, bytes, s->now);
		count_offered(s, e->client, bytes);
	}
	present(s, e->client);
next:
	next = workload_next_arrival(c->g, s->sc, s->period_ns, e->t, &c->rng);
	if (next != UINT64_MAX)
		ev_push(s, next, EV_ARRIVAL, e->client, 0, 0);
}

/* ---- the tick and its checks ---- */

static void fastpath_settle(struct sim *s)
{
	uint32_t k;

	for (k = 0; k < s->nfp; k++) {
		struct sim_client *c = &s->c[s->fp[k]];
		uint64_t used = c->fp_issued - c->fp_left, claim = used;
		struct arb_client_stats before, after;
		int ret;

		if (!c->fp_issued)
			continue;
		if (c->g->tamper_inconsistent) {
			/* It wrote more into the page than was issued. */
			claim = ARB_FP_INCONSISTENT;
			used = c->fp_issued;
		} else if (c->g->tamper_pct > 0) {
			/* It moved more data than it took from the page. */
			claim = used + (uint64_t)(c->fp_issued * c->g->tamper_pct / 100);
			used = claim;
		}
		arb_client_get_stats(&c->core, &before);
		ret = arb_fastpath_settle(&s->st, &c->core, claim);
		arb_client_get_stats(&c->core, &after);
		if ((claim > c->fp_issued) != (ret == -EINVAL) ||
		    (claim > c->fp_issued &&
		     after.tamper_events != before.tamper_events + 1))
			violation(s, V_TAMPER_MISSED, s->fp[k],
				  "claimed %" PRIu64 " of %" PRIu64 " issued: settle %d",
				  claim, c->fp_issued, ret);
		if (claim > c->fp_issued)
			s->tamper_expected++;
		/* The page leaves the books; what the core granted of it stays. */
		s->net_granted -= c->fp_issued;
		s->net_granted += after.fast_bytes - before.fast_bytes;
		c->actual += used;
		s->traffic_period += used;
		c->fp_issued = 0;
		c->fp_left = 0;
	}
}

static void fastpath_issue(struct sim *s)
{
	uint32_t k;

	for (k = 0; k < s->nfp; k++) {
		struct sim_client *c = &s->c[s->fp[k]];

		c->fp_issued = arb_fastpath_issue(&s->st, &c->core);
		c->fp_left = c->fp_issued;
		/* What the page holds counts as granted until settled. */
		s->net_granted += c->fp_issued;
	}
}

static void check_capacity(struct sim *s)
{
	/* The first period's pool, then one capacity per tick. */
	uint64_t allowed = (s->period + 1) * s->cap_bytes + s->n;

	if (s->net_granted > allowed)
		violation(s, V_CAPACITY, UINT32_MAX,
			  "%" PRIu64 " bytes granted in all, capacity %" PRIu64,
			  s->net_granted, allowed);
}

static void retry_waiters(struct sim *s)
{
	uint32_t n = s->nwaiters, k, start;
	uint32_t *old = s->waiters + s->n + 1;	/* scratch half */

	if (!n)
		return;
	memcpy(old, s->waiters, n * sizeof(*old));
	s->nwaiters = 0;
	/* Rotate who goes first, as wake-up order is arbitrary. */
	start = (uint32_t)(s->period % n);
	for (k = 0; k < n; k++) {
		uint32_t i = old[(start + k) % n];
		struct sim_client *c = &s->c[i];

		if (!c->waiting)
			continue;
		/* The late-wake fault: reserved waiters retried too late. */
		if (s->sc->inject_late_wake && c->g->reserve_mbps &&
		    s->period - c->ask_period <= s->sc->inject_late_wake) {
			add_waiter(s, i);
			continue;
		}
		c->waiting = 0;
		present(s, i);
	}
}

static void check_starvation(struct sim *s)
{
	uint32_t k;

	for (k = 0; k < s->nwaiters; k++) {
		uint32_t i = s->waiters[k];
		struct sim_client *c = &s->c[i];
		uint64_t bytes = c->q[c->qhead].bytes, lim;

		if (c->ask_debt || c->g->complete_pct > 100 || c->g->fastpath)
			continue;
		lim = starve_limit(s, c, bytes);
		if (s->period - c->ask_period == lim)
			violation(s, V_STARVATION, i,
				  "%" PRIu64 " bytes waiting for %" PRIu64 " periods",
				  bytes, lim);
	}
}

static void tick(struct sim *s)
{
	uint64_t measured = ARB_MEASURED_NONE;
	uint32_t i;
	int ret;

	{
		/* What the ending period left unused in the pools. */
		struct arb_stats d;

		arb_get_stats(&s->st, &d);
		s->idle_light += d.light_pool_bytes;
		s->idle_pool += d.pool_bytes;
	}
	fastpath_settle(s);
	if (s->sc->inject_bypass_bytes) {
		/* A fault: bytes handed out behind the core's back. */
		s->net_granted += s->sc->inject_bypass_bytes;
		s->traffic_period += s->sc->inject_bypass_bytes;
	}
	if (s->sc->counters)
		measured = s->traffic_period +
			   (uint64_t)(s->sc->background_mbps * s->period_ns / 1000);
	s->traffic_period = 0;
	arb_tick(&s->st, measured);
	s->period++;
	while (s->cur_ph < s->nph && s->period >= s->ph[s->cur_ph].end)
		s->cur_ph++;
	check_capacity(s);
	/* O(clients): every period for small scenarios, sampled for big ones. */
	if (s->n <= 100 || s->period % (s->n / 10 + 1) == 0) {
		ret = arb_check_invariants(&s->st);
		if (ret)
			violation(s, V_INVARIANT, UINT32_MAX,
				  "arb_check_invariants() = %d", ret);
	}
	fastpath_issue(s);
	retry_waiters(s);
	/* Closed-loop clients that just turned on. */
	for (i = 0; i < s->nonoff; i++) {
		struct sim_client *c = &s->c[s->onoff[i]];

		if (!c->qlen && !c->waiting)
			present(s, s->onoff[i]);
	}
	if (s->nwaiters) {
		struct arb_stats as;

		arb_get_stats(&s->st, &as);
		if (as.pool_bytes)
			violation(s, V_IDLE_WHILE_WAITING, UINT32_MAX,
				  "%" PRIu64 " bytes unfunded, %u clients waiting",
				  as.pool_bytes, s->nwaiters);
	}
	check_starvation(s);
}

/* ---- set-up ---- */

static int build_phases(struct sim *s)
{
	const struct bw_scenario *sc = s->sc;
	uint64_t *cuts, p;
	size_t ncut = 0, cap = 16, i, g;

	cuts = malloc(cap * sizeof(*cuts));
	if (!cuts)
		return -1;
	cuts[ncut++] = 0;
	for (p = 1; p < sc->periods; p++) {
		/* A cut wherever some group turns on or off. */
		for (g = 0; g < sc->ngroups; g++) {
			if (workload_active(&sc->groups[g], p) !=
			    workload_active(&sc->groups[g], p - 1))
				break;
		}
		if (g == sc->ngroups)
			continue;
		if (ncut == cap) {
			uint64_t *n = realloc(cuts, 2 * cap * sizeof(*n));

			if (!n) {
				free(cuts);
				return -1;
			}
			cuts = n;
			cap *= 2;
		}
		cuts[ncut++] = p;
	}
	if ((uint64_t)ncut * s->n > 20000000) {
		fprintf(stderr, "%s: %zu on/off phases x %u clients is too many to "
			"compute the ideal allocation\n", sc->path, ncut, s->n);
		free(cuts);
		return -1;
	}
	s->ph = calloc(ncut, sizeof(*s->ph));
	if (!s->ph) {
		free(cuts);
		return -1;
	}
	s->nph = ncut;
	for (i = 0; i < ncut; i++) {
		struct sim_phase *ph = &s->ph[i];
		uint32_t k;

		ph->start = cuts[i];
		ph->end = i + 1 < ncut ? cuts[i + 1] : sc->periods;
		ph->offered = calloc(s->n, sizeof(*ph->offered));
		ph->on = calloc(s->n, 1);
		if (!ph->offered || !ph->on) {
			free(cuts);
			return -1;
		}
		for (k = 0; k < s->n; k++)
			ph->on[k] = workload_active(s->c[k].g, ph->start);
	}
	free(cuts);
	return 0;
}

static void admit(struct sim *s)
{
	const struct bw_scenario *sc = s->sc;
	uint32_t i;

	for (i = 0; i < s->n; i++) {
		struct sim_client *c = &s->c[i];
		const struct bw_group *g = c->g;
		struct arb_client_params cp = {
			.class = g->class, .weight = g->weight,
			.reserve_mbps = g->reserve_mbps, .burst_bytes = g->burst_bytes,
		};
		int want = 0;

		/* Contract 1, computed independently of the core. */
		if (s->nreg >= sc->max_clients)
			want = -EMFILE;
		else if (s->sum_res_ok + g->reserve_mbps > sc->guaranteed_mbps)
			want = -ENOSPC;
		c->reg_err = arb_client_add(&s->st, &c->core, &cp);
		if (c->reg_err != want)
			violation(s, V_ADMISSION, i, "register returned %d, expected %d",
				  c->reg_err, want);
		if (!c->reg_err) {
			s->wsum += g->weight;
			s->nreg++;
			s->sum_res_ok += g->reserve_mbps;
		}
	}
	if (s->sum_res_ok) {
		struct arb_params p = s->st.p;

		p.guaranteed_mbps = s->sum_res_ok - 1;
		if (arb_set_params(&s->st, &p) != -EBUSY)
			violation(s, V_ADMISSION, UINT32_MAX,
				  "lowering guaranteed_mbps below the reservations was not refused");
		p.guaranteed_mbps = sc->guaranteed_mbps;
		arb_set_params(&s->st, &p);
	}
}

int sim_init(struct sim *s, const struct bw_scenario *sc, uint64_t max_printed)
{
	struct arb_params p = {
		.period_ns = sc->period_us * 1000, .capacity_mbps = sc->capacity_mbps,
		.guaranteed_mbps = sc->guaranteed_mbps, .max_clients = sc->max_clients,
	};
	uint32_t i = 0, k;
	size_t g;

	*s = (struct sim){ .sc = sc, .n = sc->nclients, .period_ns = p.period_ns,
			   .max_printed = max_printed };
	if (arb_init(&s->st, &p)) {
		fprintf(stderr, "%s: parameters refused by arb_init\n", sc->path);
		return -1;
	}
	s->cap_bytes = arb_mbps_to_period_bytes(&s->st, sc->capacity_mbps);
	s->c = calloc(s->n, sizeof(*s->c));
	s->waiters = calloc(2 * (size_t)s->n + 1, sizeof(*s->waiters));
	s->fp = calloc(s->n, sizeof(*s->fp));
	s->onoff = calloc(s->n, sizeof(*s->onoff));
	s->gwh = calloc(sc->ngroups, sizeof(*s->gwh));
	if (!s->c || !s->waiters || !s->fp || !s->onoff || !s->gwh)
		goto oom;
	for (g = 0; g < sc->ngroups; g++) {
		for (k = 0; k < sc->groups[g].count; k++, i++) {
			struct sim_client *c = &s->c[i];

			c->g = &sc->groups[g];
			c->group = (uint32_t)g;
			c->rng = workload_seed(sc->seed, i);
			if (s->n <= 256) {
				c->wh = calloc(1, sizeof(*c->wh));
				if (!c->wh)
					goto oom;
			}
			if (c->g->fastpath)
				s->fp[s->nfp++] = i;
			if (c->g->arrival == ARR_ONOFF)
				s->onoff[s->nonoff++] = i;
		}
	}
	if (build_phases(s))
		goto oom;
	admit(s);
	for (i = 0; i < s->n; i++) {
		uint64_t t = workload_first_arrival(s->c[i].g, sc, s->period_ns,
						    &s->c[i].rng);

		if (t != UINT64_MAX)
			ev_push(s, t, EV_ARRIVAL, i, 0, 0);
	}
	return 0;
oom:
	fprintf(stderr, "bwsim: out of memory for %u clients\n", s->n);
	return -1;
}

void sim_run(struct sim *s, int progress)
{
	uint64_t k, step = s->sc->periods / 10 ? s->sc->periods / 10 : 1;
	uint32_t i;

	for (i = 0; i < s->n; i++)
		present(s, i);
	for (k = 1; k <= s->sc->periods; k++) {
		uint64_t edge = k * s->period_ns;

		while (s->nev && s->ev[0].t < edge) {
			struct sim_ev e = ev_pop(s);

			s->now = e.t;
			if (e.type == EV_ARRIVAL)
				on_arrival(s, &e);
			else
				on_complete(s, &e);
		}
		s->now = edge;
		tick(s);
		if (progress && k % step == 0)
			fprintf(stderr, "bwsim: %s: %" PRIu64 "%% (%" PRIu64 " periods)\n",
				s->sc->name, k * 100 / s->sc->periods, k);
	}
}

void sim_free(struct sim *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->c[i].q);
		free(s->c[i].wh);
	}
	for (i = 0; i < s->nph; i++) {
		free(s->ph[i].offered);
		free(s->ph[i].on);
	}
	free(s->ph);
	free(s->c);
	free(s->waiters);
	free(s->fp);
	free(s->onoff);
	free(s->gwh);
	free(s->ev);
}
