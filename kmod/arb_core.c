// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * bwarb arbitration core: reservations, admission control, weighted
 * max-min sharing of the rest, feedback from measured traffic and the
 * fast-path budget. Plain C: no kernel headers, no floating point, no
 * allocation; every call is serialised by the caller (see arb_core.h).
 *
 * Budget flows one way: the tick funds clients out of the period's
 * capacity (reservation refills, water-filled shares), holds the expected
 * use of clients that do not wait in the light pool and leaves the rest in
 * the pool; acquires spend a client's own budget, then the light pool (if
 * it did not wait), then the pool. Budget of a client that is not waiting
 * expires at the next tick, so a period never funds more than its
 * capacity and nobody hoards; a waiting client keeps its budget, so large
 * requests accumulate it. docs/arbitration.md has the full account.
 */
#include "arb_core.h"

#define ARB_SLOT_BITS	6
#define ARB_SLOT_MASK	((1ULL << ARB_SLOT_BITS) - 1)
#define ARB_ALL_SLOTS	UINT64_MAX	/* ARB_MAX_GRANTS == 64 */
#define ARB_WF_PASSES	4	/* water-fill refinements per tick */
#define ARB_EMA_FRAC	8	/* fixed-point bits of the EMA */
/*
 * Tuning of the shared demand (docs/arbitration.md has the measurements):
 * a client waiting at ARB_STREAK ticks in a row is backlogged and owns
 * its use plus room to grow of 2^-ARB_GROW_SHIFT of it; a client without
 * use for ARB_IDLE_TICKS ticks leaves the active list.
 */
#define ARB_STREAK	6
#define ARB_IDLE_TICKS	8	/* ticks without use before it is idle */
#define ARB_GROW_SHIFT	2

static u64 arb_min(u64 a, u64 b)
{
	return a < b ? a : b;
}

static u64 arb_sub_sat(u64 a, u64 b)
{
	return a > b ? a - b : 0;
}

static u64 arb_add_sat(u64 a, u64 b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/* mbps <= ARB_MAX_MBPS and period_ns <= 1 s keep the product below 2^54. */
static u64 arb_rate_bytes(u64 mbps, u64 period_ns)
{
	return mbps * period_ns / 1000;
}

u64 arb_mbps_to_period_bytes(const struct arb_state *st, u64 mbps)
{
	return arb_rate_bytes(mbps, st->p.period_ns);
}

/* Copies p into out with defaults applied; false if out of range. */
static bool arb_params_valid(const struct arb_params *p, struct arb_params *out)
{
	*out = *p;
	if (!out->max_clients)
		out->max_clients = ARB_DEFAULT_CLIENTS;
	return out->period_ns >= ARB_MIN_PERIOD_NS &&
	       out->period_ns <= ARB_MAX_PERIOD_NS &&
	       out->capacity_mbps >= 1 &&
	       out->capacity_mbps <= ARB_MAX_MBPS &&
	       out->guaranteed_mbps <= out->capacity_mbps &&
	       out->max_clients <= ARB_MAX_CLIENTS_LIMIT &&
	       out->borrow_periods <= ARB_MAX_BORROW_PERIODS;
}

int arb_init(struct arb_state *st, const struct arb_params *p)
{
	struct arb_params np;

	if (!arb_params_valid(p, &np))
		return -EINVAL;
	*st = (struct arb_state){ 0 };
	st->p = np;
	st->next_client_id = 1;
	st->cap_bytes = arb_rate_bytes(np.capacity_mbps, np.period_ns);
	st->cap_frac = np.capacity_mbps * np.period_ns % 1000;
	st->measured_last = ARB_MEASURED_NONE;
	/* Until the first tick the whole first period is the pool. */
	st->pool = st->cap_bytes;
	st->funded = st->pool;
	return 0;
}

int arb_set_params(struct arb_state *st, const struct arb_params *p)
{
	struct arb_params np;
	u64 pool;

	if (!arb_params_valid(p, &np))
		return -EINVAL;
	if (np.guaranteed_mbps < st->sum_reserve_mbps ||
	    np.max_clients < st->nr_clients)
		return -EBUSY;
	st->p = np;
	/*
	 * What was funded this period stays and the new capacity applies from
	 * the next tick, but the pool shrinks at once to what it allows.
	 */
	pool = arb_min(st->pool,
		       arb_sub_sat(arb_rate_bytes(np.capacity_mbps, np.period_ns),
				   st->funded - st->pool));
	st->funded -= st->pool - pool;
	st->pool = pool;
	return 0;
}

/* The active list holds every client the tick must visit. */
static void arb_activate(struct arb_state *st, struct arb_client *c)
{
	if (c->active)
		return;
	c->active = true;
	c->aprev = NULL;
	c->anext = st->active_head;
	if (st->active_head)
		st->active_head->aprev = c;
	st->active_head = c;
	st->nr_active++;
}

static void arb_deactivate(struct arb_state *st, struct arb_client *c)
{
	if (!c->active)
		return;
	if (c->aprev)
		c->aprev->anext = c->anext;
	else
		st->active_head = c->anext;
	if (c->anext)
		c->anext->aprev = c->aprev;
	c->anext = NULL;
	c->aprev = NULL;
	c->active = false;
	st->nr_active--;
}

int arb_client_add(struct arb_state *st, struct arb_client *c,
		   const struct arb_client_params *cp)
{
	if (cp->class >= ARB_CLASS_COUNT || cp->weight < 1 ||
	    cp->weight > ARB_MAX_WEIGHT || cp->reserve_mbps > ARB_MAX_MBPS ||
	    cp->burst_bytes > ARB_MAX_REQUEST_BYTES)
		return -EINVAL;
	if (st->nr_clients >= st->p.max_clients)
		return -EMFILE;
	if (cp->reserve_mbps > st->p.guaranteed_mbps - st->sum_reserve_mbps)
		return -ENOSPC;

	*c = (struct arb_client){ 0 };
	c->p = *cp;
	c->id = st->next_client_id++;
	c->next_grant_id = 1;
	c->next = st->head;
	if (st->head)
		st->head->prev = c;
	st->head = c;
	st->nr_clients++;
	st->sum_reserve_mbps += cp->reserve_mbps;
	return 0;
}

static void arb_drop_pending(struct arb_state *st, struct arb_client *c)
{
	if (!c->pending_bytes)
		return;
	c->pending_bytes = 0;
	st->nr_waiting--;
}

void arb_client_remove(struct arb_state *st, struct arb_client *c)
{
	arb_drop_pending(st, c);
	arb_deactivate(st, c);
	if (c->prev)
		c->prev->next = c->next;
	else
		st->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = NULL;
	c->prev = NULL;
	st->nr_clients--;
	st->sum_reserve_mbps -= c->p.reserve_mbps;
	st->debt_total -= c->debt;
	/* Its budget, page budget and outstanding grants go with it. */
	c->debt = 0;
	c->used_slots = 0;
	c->fp_issued = 0;
	c->reserve_budget = 0;
	c->share_budget = 0;
}

/* Funding repays debt first; returns what is left for the budget. */
static u64 arb_repay(struct arb_state *st, struct arb_client *c, u64 bytes)
{
	u64 r = arb_min(bytes, c->debt);

	c->debt -= r;
	st->debt_total -= r;
	c->acct_repaid += r;
	c->acct_funded += bytes;
	return bytes - r;
}

/*
 * The most debt a client may owe: ARB_MAX_DEBT_PERIODS periods of the
 * whole capacity. A client that declares more than it was granted pays
 * for it with its own funding only (it draws no pool while in debt), so a
 * lie costs the liar, and at most this much.
 */
static u64 arb_debt_limit(const struct arb_state *st)
{
	return arb_min(ARB_MAX_DEBT_PERIODS *
		       arb_rate_bytes(st->p.capacity_mbps, st->p.period_ns),
		       ARB_MAX_REQUEST_BYTES);
}

static void arb_add_debt(struct arb_state *st, struct arb_client *c, u64 bytes)
{
	u64 limit = arb_debt_limit(st);
	u64 d = arb_min(bytes, limit - arb_min(c->debt, limit));

	c->debt += d;
	st->debt_total += d;
}

static u64 arb_budget(const struct arb_client *c)
{
	return c->reserve_budget + c->share_budget;
}

static int arb_new_grant(struct arb_state *st, struct arb_client *c, u64 bytes,
			 u64 *grant_id)
{
	u64 from_share = arb_min(c->share_budget, bytes);
	unsigned int slot = __builtin_ctzll(~c->used_slots);
	u64 id = (c->next_grant_id++ << ARB_SLOT_BITS) | slot;

	c->share_budget -= from_share;
	c->reserve_budget -= bytes - from_share;
	c->used_slots |= 1ULL << slot;
	c->grants[slot].id = id;
	c->grants[slot].bytes = bytes;
	c->grants[slot].period = st->period;
	c->used_this_period += bytes;
	c->acct_granted += bytes;
	c->st.granted_bytes += bytes;
	c->st.grants++;
	st->st.granted_bytes += bytes;
	if (c->pending_bytes) {
		u64 waited = st->period - c->wait_start_period;

		if (waited > c->st.max_wait_periods)
			c->st.max_wait_periods = waited;
		arb_drop_pending(st, c);
	}
	arb_activate(st, c);
	*grant_id = id;
	return 0;
}

/*
 * Moves what the client may draw from the light pool and the pool into
 * its budget, towards bytes. A client in debt draws nothing unless it
 * waited at the last tick: it repays from its own funding only (a debtor
 * that waited had its debt in its demand, so what is left in the pool
 * after the tick is at most the water-fill's rounding). With
 * @all_or_nothing, draws only if that covers bytes. Returns true if it
 * drew (or would have drawn) enough.
 */
static bool arb_draw_pools(struct arb_state *st, struct arb_client *c,
			   u64 bytes, bool all_or_nothing)
{
	u64 have = arb_budget(c), light = 0, draw;

	if (c->debt && !c->waited_last_tick)
		return false;
	if (st->pool_light && !c->backlogged)
		light = arb_min(arb_min(st->pool_light, bytes - have),
				arb_sub_sat(2 * c->light_share, c->light_drawn));
	if (all_or_nothing && have + light + st->pool < bytes)
		return false;
	if (light) {
		/*
		 * What the tick held for the clients that did not wait: up to
		 * twice its own part, so that one's fluctuation is covered by
		 * the others' and a newcomer cannot take it all.
		 */
		c->light_drawn += light;
		st->pool_light -= light;
		c->share_budget += arb_repay(st, c, light);
		have = arb_budget(c);
	}
	if (have < bytes && st->pool) {
		/* Capacity nobody was funded with: work-conserving draw. */
		draw = arb_min(st->pool, bytes - have);
		st->pool -= draw;
		c->share_budget += arb_repay(st, c, draw);
		have = arb_budget(c);
	}
	return have >= bytes;
}

/*
 * See arb_params.borrow_periods: a request above one period's capacity,
 * on a bus nobody waits for, from a client that owes nothing, whose
 * shortfall the debt limit takes whole.
 */
static bool arb_may_borrow(const struct arb_state *st, const struct arb_client *c,
			   u64 bytes)
{
	u64 have = arb_budget(c);

	return st->p.borrow_periods && !st->nr_waiting && !c->debt &&
	       !c->pending_bytes && bytes > st->cap_bytes &&
	       bytes <= st->cap_bytes * st->p.borrow_periods && have < bytes &&
	       bytes - have <= arb_debt_limit(st);
}

int arb_acquire(struct arb_state *st, struct arb_client *c, u64 bytes,
		u64 *grant_id)
{
	if (!bytes || bytes > ARB_MAX_REQUEST_BYTES)
		return -EINVAL;
	if (c->used_slots == ARB_ALL_SLOTS)
		return -EBUSY;

	if (arb_budget(c) >= bytes || arb_draw_pools(st, c, bytes, false))
		return arb_new_grant(st, c, bytes, grant_id);
	if (arb_may_borrow(st, c, bytes)) {
		/*
		 * Larger than a period can fund: the rest now, as this
		 * client's debt, repaid from its own next funding (nobody
		 * else's budget is touched).
		 */
		u64 rest = bytes - arb_budget(c);

		arb_add_debt(st, c, rest);
		c->acct_funded += rest;
		c->share_budget += rest;
		return arb_new_grant(st, c, bytes, grant_id);
	}
	if (!c->pending_bytes) {
		c->wait_start_period = st->period;
		c->st.waits++;
		st->nr_waiting++;
	}
	c->pending_bytes = bytes;
	arb_activate(st, c);
	return -EAGAIN;
}

int arb_try_acquire(struct arb_state *st, struct arb_client *c, u64 bytes,
		    u64 *grant_id)
{
	if (!bytes || bytes > ARB_MAX_REQUEST_BYTES)
		return -EINVAL;
	if (c->used_slots == ARB_ALL_SLOTS)
		return -EBUSY;
	/* A demand is waiting (another caller of this client): no change. */
	if (c->pending_bytes)
		return -EAGAIN;
	if (arb_budget(c) < bytes && !arb_draw_pools(st, c, bytes, true))
		return -EAGAIN;
	return arb_new_grant(st, c, bytes, grant_id);
}

void arb_cancel(struct arb_state *st, struct arb_client *c)
{
	arb_drop_pending(st, c);
}

static struct arb_grant *arb_find_grant(const struct arb_client *c,
					u64 grant_id)
{
	unsigned int slot = grant_id & ARB_SLOT_MASK;

	if (!grant_id || !(c->used_slots & (1ULL << slot)) ||
	    c->grants[slot].id != grant_id)
		return NULL;
	return (struct arb_grant *)&c->grants[slot];
}

int arb_grant_bytes(const struct arb_client *c, u64 grant_id, u64 *bytes)
{
	const struct arb_grant *g = arb_find_grant(c, grant_id);

	if (!g)
		return -ENOENT;
	*bytes = g->bytes;
	return 0;
}

/* Declared traffic: what the unattributed estimate subtracts. */
static void arb_count_completed(struct arb_state *st, struct arb_client *c,
				u64 bytes)
{
	c->st.completed_bytes += bytes;
	st->st.completed_bytes += bytes;
	st->completed_this_period = arb_add_sat(st->completed_this_period,
						bytes);
}

static void arb_refund(struct arb_state *st, struct arb_client *c, u64 bytes)
{
	c->share_budget += bytes;
	c->acct_refund += bytes;
	c->used_this_period = arb_sub_sat(c->used_this_period, bytes);
	arb_activate(st, c);
}

int arb_complete(struct arb_state *st, struct arb_client *c, u64 grant_id,
		 u64 actual)
{
	struct arb_grant *g;
	u64 granted, issued;

	if (actual > ARB_MAX_REQUEST_BYTES)
		return -EINVAL;
	g = arb_find_grant(c, grant_id);
	if (!g)
		return -ENOENT;
	granted = g->bytes;
	c->used_slots &= ~(1ULL << (grant_id & ARB_SLOT_MASK));
	issued = g->period;
	g->id = 0;
	g->bytes = 0;
	g->period = 0;
	arb_count_completed(st, c, actual);
	if (actual < granted) {
		/*
		 * Unused bytes return only within the period the grant was
		 * issued in; after it they expired, as all unused budget does
		 * (grants kept across periods refund nothing).
		 */
		if (issued == st->period)
			arb_refund(st, c, granted - actual);
	} else if (actual > granted) {
		arb_add_debt(st, c, actual - granted);
		arb_activate(st, c);
	}
	return 0;
}

/*
 * What a client that does not wait is expected to use in a period: its
 * average (plus 1/32) less half its mean deviation, so that a steady
 * client is held all it uses and a fluctuating one about its lower half (held but unused
 * capacity idles; a request above the hold waits for the next tick); and
 * nothing for one that used nothing last period (sporadic clients).
 */
static u64 arb_predict(const struct arb_client *c)
{
	/* A client that used nothing last period is held nothing. */
	if (c->idle_ticks)
		return 0;
	return arb_sub_sat(c->avg_used + (c->avg_used >> 5),
			   c->dev_used >> 1) >> 4;
}

/* v += (sample - v) >> shift, with v in 1/16 units. */
static void arb_ema_update(u64 *v, u64 sample, unsigned int shift)
{
	sample <<= 4;
	/* Rounded away from v, so that v reaches a constant sample. */
	if (sample >= *v)
		*v += (sample - *v + (1U << shift) - 1) >> shift;
	else
		*v -= (*v - sample + (1U << shift) - 1) >> shift;
}

/* Reservation bytes of this period; the remainder carries (in 1/1000 B). */
static u64 arb_reserve_refill(const struct arb_state *st, struct arb_client *c)
{
	u64 v = c->p.reserve_mbps * st->p.period_ns + c->reserve_frac;

	c->reserve_frac = v % 1000;
	return v / 1000;
}

static void arb_expire(struct arb_client *c)
{
	c->acct_expired += arb_budget(c);
	c->reserve_budget = 0;
	c->share_budget = 0;
}

static void arb_update_unattributed(struct arb_state *st, u64 measured)
{
	u64 sample = 0, ema = st->unattr_ema_fp;

	st->measured_last = measured;
	if (measured != ARB_MEASURED_NONE)
		sample = arb_min(arb_sub_sat(measured, st->completed_this_period),
				 st->cap_bytes);
	/* No counters: the estimate decays, as if nothing were unattributed. */
	sample <<= ARB_EMA_FRAC;
	if (sample >= ema)
		ema += (sample - ema) >> ARB_EMA_SHIFT;
	else
		ema -= (ema - sample) >> ARB_EMA_SHIFT;
	st->unattr_ema_fp = ema;
	st->completed_this_period = 0;
}

/*
 * First pass of the tick over the active clients: expires budgets, funds
 * reservations and sets each client's demand on the shared capacity.
 *
 * A waiting client (or one in debt) owns what it is funded with: its
 * reservation accumulates towards its request (the wait bound) and its
 * shared demand is what its request still needs; once it waited at
 * ARB_STREAK ticks in a row (backlogged: it asks again as soon as it is
 * served) also its recent use, plus room to grow when it used all it
 * owned. The predicted use (arb_predict()) of the others is held in the
 * light pool, which only clients that are not backlogged draw from:
 * pooled, their fluctuations average out.
 *
 * Returns the bytes charged to reservations; *weights gets the sum of the
 * weights of clients with a shared demand.
 */
static u64 arb_fund_clients(struct arb_state *st, u64 *weights)
{
	struct arb_client *c, *next;
	u64 charged = 0, w = 0;

	for (c = st->active_head; c; c = next) {
		u64 used = c->used_this_period, add, need, avg, grow;

		next = c->anext;
		c->used_this_period = 0;
		avg = c->avg_used >> 4;
		arb_ema_update(&c->dev_used, used > avg ? used - avg : avg - used, 3);
		arb_ema_update(&c->avg_used, used, 3);
		avg = c->avg_used >> 4;
		c->demand = 0;
		c->light_share = 0;
		c->light_drawn = 0;
		c->idle_ticks = used ? 0 : c->idle_ticks + 1;
		if (c->pending_bytes) {
			c->backlogged = c->streak >= ARB_STREAK;
			grow = 0;
			if (c->backlogged) {
				/*
				 * Owns its request, its use and room to grow,
				 * unless it left budget unused last time it was
				 * backlogged (and has not waited long since).
				 */
				grow = used > avg ? used : avg;
				if (c->streak >= 2 * ARB_STREAK)
					c->overfunded = false;
				if (!c->overfunded)
					grow += grow >> ARB_GROW_SHIFT;
			}
			/*
			 * The reservation funds the request (accumulating
			 * until it is covered: the wait bound), the debt and,
			 * backlogged, the growth; not more.
			 */
			need = arb_sub_sat(c->pending_bytes, arb_budget(c));
			add = arb_min(arb_reserve_refill(st, c),
				      arb_add_sat(need + c->debt, grow));
			/*
			 * burst_bytes bounds what the reservation accumulates
			 * (the wait bound covers requests up to it): once the
			 * client holds that much, its refills only repay debt
			 * and the rest is lent to the others.
			 */
			if (c->p.burst_bytes &&
			    c->reserve_budget >= c->p.burst_bytes)
				add = arb_min(add, c->debt);
			charged += add;
			c->reserve_budget += arb_repay(st, c, add);
			need = arb_sub_sat(c->pending_bytes, arb_budget(c));
			c->own_demand = arb_add_sat(need + c->debt,
						    arb_sub_sat(grow, add));
			/* Not backlogged: its usual use goes to the light pool. */
			c->demand = c->backlogged ? c->own_demand :
				    arb_add_sat(c->own_demand, arb_predict(c));
			c->waited_last_tick = true;
			c->streak++;
		} else if (!c->debt && !c->fp_issued &&
			   (!avg || c->idle_ticks >= ARB_IDLE_TICKS)) {
			/* Idle: nothing is held for it any more. */
			arb_expire(c);
			c->avg_used = 0;
			c->dev_used = 0;
			c->idle_ticks = 0;
			c->backlogged = false;
			c->waited_last_tick = false;
			c->streak = 0;
			arb_deactivate(st, c);
			continue;
		} else {
			u64 want = arb_predict(c);

			if (c->backlogged && arb_budget(c))
				c->overfunded = true;
			c->backlogged = false;
			c->waited_last_tick = false;
			c->streak = 0;
			arb_expire(c);
			add = arb_min(arb_rate_bytes(c->p.reserve_mbps,
						     st->p.period_ns), want);
			charged += add;
			if (c->debt) {
				c->reserve_budget = arb_repay(st, c, add);
			} else {
				st->pool_light += add;
				c->light_share = add;
			}
			/*
			 * Debt is repaid from the client's reservation and,
			 * while it waits, its weighted share: a client that
			 * does not wait asks nothing for it.
			 */
			c->demand = arb_sub_sat(want, add);
			c->own_demand = 0;
		}
		if (c->demand) {
			w += c->p.weight;
			c->wnext = st->wf_head;
			st->wf_head = c;
		} else if (c->pending_bytes) {
			st->ready = true;
		}
	}
	*weights = w;
	return charged;
}

/* The owned part of a demand is funded first, the rest goes to the light pool. */
static void arb_fund_share(struct arb_state *st, struct arb_client *c, u64 b)
{
	u64 own = arb_min(b, c->own_demand);

	c->demand -= b;
	c->own_demand -= own;
	if (own)
		c->share_budget += arb_repay(st, c, own);
	st->pool_light += b - own;
	c->light_share += b - own;
}

/*
 * Weighted max-min (water-filling) of the shared capacity among the
 * demands: each pass gives every demand that fits in its weighted share
 * of what is left all it asks, and the others are revisited with the
 * larger share that leaves. After ARB_WF_PASSES passes (O(active) each)
 * the remaining demands get their weighted share. Returns what is left.
 */
static u64 arb_water_fill(struct arb_state *st, u64 left, u64 w)
{
	struct arb_client *c;
	unsigned int pass;

	for (pass = 0; pass < ARB_WF_PASSES && left && w; pass++) {
		u64 given = 0, wdone = 0;

		for (c = st->wf_head; c; c = c->wnext) {
			if (c->demand && c->demand <= left * c->p.weight / w) {
				wdone += c->p.weight;
				given += c->demand;
				arb_fund_share(st, c, c->demand);
			}
		}
		if (!wdone)
			break;
		left -= given;
		w -= wdone;
	}
	if (!left || !w)
		return left;
	{
		u64 given = 0;

		for (c = st->wf_head; c; c = c->wnext) {
			if (c->demand) {
				u64 b = arb_min(c->demand,
						left * c->p.weight / w);
				given += b;
				arb_fund_share(st, c, b);
			}
		}
		left -= given;
	}
	return left;
}

bool arb_tick(struct arb_state *st, u64 measured_bytes)
{
	struct arb_client *c;
	u64 charged, shared, w, unattributed, cap;
	bool wake = false;

	/* Capacity per period, its fraction of a byte carried (in 1/1000 B). */
	cap = st->p.capacity_mbps * st->p.period_ns + st->cap_frac;
	st->cap_bytes = cap / 1000;
	st->cap_frac = cap % 1000;
	arb_update_unattributed(st, measured_bytes);
	st->period++;
	st->st.periods++;

	st->pool_light = 0;
	st->tick_clients = st->nr_clients;
	st->wf_head = NULL;
	st->ready = false;
	charged = arb_fund_clients(st, &w);
	/* Undeclared traffic shrinks what is shared, never reservations. */
	unattributed = st->unattr_ema_fp >> ARB_EMA_FRAC;
	/*
	 * Reservation refills round up and down apart from the capacity's own
	 * carry, so a period may charge a byte or two more than it has: that
	 * overdraw comes off the next periods' shared capacity.
	 */
	shared = arb_sub_sat(arb_sub_sat(arb_sub_sat(st->cap_bytes, unattributed),
					 charged), st->cap_overdraw);
	st->reserved_last = charged;
	st->shared_last = shared;
	st->pool = arb_water_fill(st, shared, w);
	/* Both pools count as funded: acquires draw them during the period. */
	st->funded = charged + shared;
	st->cap_overdraw = arb_sub_sat(st->cap_overdraw + st->funded,
				       st->cap_bytes);

	/*
	 * A waiter left out of the water-fill was covered already; one that
	 * was not backlogged may draw the light pool.
	 */
	if (st->nr_waiting && (st->pool || st->pool_light || st->ready))
		return true;
	for (c = st->wf_head; c && !wake; c = c->wnext)
		wake = c->pending_bytes && arb_budget(c) >= c->pending_bytes;
	return wake;
}

bool arb_tick_span(struct arb_state *st, u64 measured_bytes, u32 n)
{
	u64 period = st->p.period_ns;
	bool wake;

	if (n <= 1)
		return arb_tick(st, measured_bytes);
	if (n > ARB_MAX_SPAN)
		n = ARB_MAX_SPAN;
	/* One tick of n periods: capacity and refills for all of them. */
	st->p.period_ns = period * n;
	wake = arb_tick(st, measured_bytes);
	st->p.period_ns = period;
	return wake;
}

u64 arb_fastpath_issue(struct arb_state *st, struct arb_client *c)
{
	u64 give, from_share, take;

	if (c->fp_issued)
		return 0;
	/* Its part of the light pool becomes its own, on the page. */
	take = arb_min(c->light_share, st->pool_light);
	st->pool_light -= take;
	c->light_share = 0;
	c->share_budget += arb_repay(st, c, take);
	give = arb_sub_sat(arb_budget(c), c->pending_bytes);
	from_share = arb_min(c->share_budget, give);
	c->share_budget -= from_share;
	c->reserve_budget -= give - from_share;
	c->fp_issued = give;
	if (give)
		arb_activate(st, c);
	return give;
}

int arb_fastpath_settle(struct arb_state *st, struct arb_client *c,
			u64 consumed)
{
	u64 issued = c->fp_issued, valid, excess;
	bool tampered;

	if (!issued && !consumed)
		return -ENOENT;
	c->fp_issued = 0;
	if (consumed == ARB_FP_INCONSISTENT) {
		/* Unknown use: all of it was spent, and as much again owed. */
		valid = issued;
		excess = issued;
		tampered = true;
	} else {
		consumed = arb_min(consumed, ARB_MAX_REQUEST_BYTES);
		valid = arb_min(consumed, issued);
		excess = consumed - valid;
		tampered = excess != 0;
	}
	c->acct_granted += valid;
	c->st.granted_bytes += valid;
	c->st.fast_bytes += valid;
	c->used_this_period += valid;
	st->st.granted_bytes += valid;
	st->fast_bytes += valid;
	arb_count_completed(st, c, valid + excess);
	c->share_budget += issued - valid;
	arb_activate(st, c);
	if (!tampered)
		return 0;
	arb_add_debt(st, c, excess);
	c->st.tamper_events++;
	st->tamper_events++;
	return -EINVAL;
}

void arb_get_stats(const struct arb_state *st, struct arb_stats *out)
{
	u64 ema = st->unattr_ema_fp >> ARB_EMA_FRAC;

	*out = st->st;
	out->unattributed_bytes_ema = ema;
	out->unattributed_mbps = ema * 1000 / st->p.period_ns;
	out->measured_bytes_last = st->measured_last;
	out->capacity_bytes = st->cap_bytes;
	out->reserved_bytes_last = st->reserved_last;
	out->shared_bytes_last = st->shared_last;
	out->pool_bytes = st->pool;
	out->light_pool_bytes = st->pool_light;
	out->funded_bytes_period = st->funded - st->pool - st->pool_light;
	out->sum_reserve_mbps = st->sum_reserve_mbps;
	out->nr_clients = st->nr_clients;
	out->nr_active = st->nr_active;
	out->nr_waiting = st->nr_waiting;
	out->tamper_events = st->tamper_events;
	out->debt_bytes = st->debt_total;
	out->fast_bytes = st->fast_bytes;
}

void arb_client_get_stats(const struct arb_client *c, struct arb_client_stats *out)
{
	*out = c->st;
	out->debt_bytes = c->debt;
	out->budget_bytes = arb_budget(c);
}

static int arb_check_client(const struct arb_client *c)
{
	unsigned int i;

	for (i = 0; i < ARB_MAX_GRANTS; i++) {
		bool used = c->used_slots & (1ULL << i);

		if (used == !c->grants[i].id)
			return -10;
		if (used && (c->grants[i].id & ARB_SLOT_MASK) != i)
			return -11;
	}
	/* Every byte funded or returned is granted, held, issued or gone. */
	if (c->acct_funded + c->acct_refund !=
	    c->acct_granted + arb_budget(c) + c->fp_issued + c->acct_expired +
	    c->acct_repaid)
		return -12;
	if (c->debt > ARB_MAX_REQUEST_BYTES)
		return -13;
	if (!c->active && (arb_budget(c) || c->pending_bytes || c->debt ||
			   c->fp_issued))
		return -14;
	return 0;
}

int arb_check_invariants(const struct arb_state *st)
{
	const struct arb_client *c, *prev = NULL;
	u64 sum_reserve = 0, debt = 0;
	u32 n = 0, nact = 0, nwait = 0;
	int ret;

	for (c = st->head; c; prev = c, c = c->next) {
		if (c->prev != prev || ++n > st->nr_clients)
			return -1;
		sum_reserve += c->p.reserve_mbps;
		debt += c->debt;
		nwait += c->pending_bytes != 0;
		ret = arb_check_client(c);
		if (ret)
			return ret;
	}
	if (n != st->nr_clients || n > st->p.max_clients)
		return -2;
	if (sum_reserve != st->sum_reserve_mbps ||
	    sum_reserve > st->p.guaranteed_mbps)
		return -3;
	for (prev = NULL, c = st->active_head; c; prev = c, c = c->anext) {
		if (c->aprev != prev || !c->active || ++nact > st->nr_active)
			return -4;
	}
	if (nact != st->nr_active || nwait != st->nr_waiting)
		return -5;
	if (debt != st->debt_total)
		return -6;
	/*
	 * A period never funds more than its capacity, give or take the
	 * sub-byte carry of each reservation refill.
	 */
	if (st->funded > st->cap_bytes + st->tick_clients ||
	    st->pool + st->pool_light > st->funded)
		return -7;
	return 0;
}
