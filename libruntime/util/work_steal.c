// SPDX-License-Identifier: MIT
/* Shares of units with stealing from the back; see work_steal.h. */
#include "util/work_steal.h"

static inline uint64_t pack(uint32_t next, uint32_t end)
{
	return (uint64_t)end << 32 | next;
}

/* The first unit whose work starts at or after target, parts in order
 * (not unit by unit: lm_head has thousands). */
static uint32_t bound_at(int nparts, const uint32_t *units, const uint64_t *weight,
			 uint64_t target)
{
	uint64_t cum = 0;
	uint32_t u = 0;

	for (int p = 0; p < nparts; p++) {
		uint64_t end = cum + (uint64_t)units[p] * weight[p];

		if (target <= cum)
			return u;
		if (weight[p] && target < end)
			return u + (uint32_t)((target - cum + weight[p] - 1) / weight[p]);
		u += units[p];
		cum = end;
	}
	return u;
}

static uint64_t total_work(int nparts, const uint32_t *units, const uint64_t *weight,
			   uint64_t *all)
{
	uint64_t total = 0;

	*all = 0;
	for (int p = 0; p < nparts; p++) {
		*all += units[p];
		total += (uint64_t)units[p] * weight[p];
	}
	return total;
}

void sm_share_of(int nth, int nparts, const uint32_t *units, const uint64_t *weight, int tid,
		 uint32_t *u0, uint32_t *u1)
{
	uint64_t all, total = total_work(nparts, units, weight, &all);

	*u0 = bound_at(nparts, units, weight, total * (uint64_t)tid / (uint64_t)nth);
	*u1 = tid == nth - 1 ? (uint32_t)all :
	      bound_at(nparts, units, weight, total * (uint64_t)(tid + 1) / (uint64_t)nth);
}

bool sm_steal_init(struct sm_steal *s, int nth, int nparts, const uint32_t *units,
		   const uint64_t *weight)
{
	uint64_t all, total;
	uint32_t u = 0, lo;

	if (nth < 1 || nth > SM_STEAL_MAX_THREADS || nparts < 1 || nparts > SM_STEAL_MAX_PARTS)
		return false;
	total = total_work(nparts, units, weight, &all);
	if (all >= UINT32_MAX)
		return false;
	for (int p = 0; p < nparts; p++) {
		s->start[p] = u;
		u += units[p];
	}
	s->start[nparts] = u;
	s->nth = nth;
	s->nparts = nparts;
	lo = 0;
	for (int t = 0; t < nth; t++) {
		uint32_t hi = t == nth - 1 ? u :
			      bound_at(nparts, units, weight,
				       total * (uint64_t)(t + 1) / (uint64_t)nth);

		atomic_init(&s->t[t].left, pack(lo, hi));
		lo = hi;
	}
	return true;
}

bool sm_steal_next(struct sm_steal *s, int tid, uint32_t own, uint32_t steal, uint32_t *u0,
		   uint32_t *u1)
{
	uint64_t v = atomic_load_explicit(&s->t[tid].left, memory_order_relaxed);

	for (;;) {	/* its own share, from the front */
		uint32_t next = (uint32_t)v, end = (uint32_t)(v >> 32);
		/* a quarter of what is left near the end: the tail an owner
		 * holds is then a unit or two, not a whole claim, and thieves
		 * have the rest */
		uint32_t left = end - next, quarter = left / 4 ? left / 4 : 1;
		uint32_t take = next + (own < quarter ? own : quarter);

		if (next >= end)
			break;
		if (atomic_compare_exchange_weak_explicit(&s->t[tid].left, &v, pack(take, end),
							  memory_order_relaxed,
							  memory_order_relaxed)) {
			*u0 = next;
			*u1 = take;
			return true;
		}
	}
	for (;;) {	/* the share with the most left, from the back */
		uint32_t most = 0, next, end, from;
		int victim = -1;

		for (int t = 0; t < s->nth; t++) {
			v = atomic_load_explicit(&s->t[t].left, memory_order_relaxed);
			next = (uint32_t)v;
			end = (uint32_t)(v >> 32);
			if (next < end && end - next > most) {
				most = end - next;
				victim = t;
			}
		}
		if (victim < 0)
			return false;
		v = atomic_load_explicit(&s->t[victim].left, memory_order_relaxed);
		next = (uint32_t)v;
		end = (uint32_t)(v >> 32);
		if (next >= end)
			continue;
		from = end - next < steal ? next : end - steal;
		if (atomic_compare_exchange_weak_explicit(&s->t[victim].left, &v, pack(next, from),
							  memory_order_relaxed,
							  memory_order_relaxed)) {
			*u0 = from;
			*u1 = end;
			return true;
		}
	}
}

bool sm_steal_piece(struct sm_steal *s, int tid, struct sm_steal_cursor *c, uint32_t own,
		    uint32_t steal, int *part, uint32_t *a, uint32_t *b)
{
	int p = 0;

	if (c->u0 >= c->u1 && !sm_steal_next(s, tid, own, steal, &c->u0, &c->u1))
		return false;
	while (c->u0 >= s->start[p + 1])
		p++;
	*part = p;
	*a = c->u0 - s->start[p];
	c->u0 = c->u1 < s->start[p + 1] ? c->u1 : s->start[p + 1];
	*b = c->u0 - s->start[p];
	return true;
}
