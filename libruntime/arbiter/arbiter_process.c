// SPDX-License-Identifier: MIT
/*
 * The 'process' arbiter: the module's arbitration core (kmod/arb_core.h)
 * run in this process. The core is single-threaded, so one mutex
 * serialises every call on the state. There is no timer thread: whoever
 * enters first after a period boundary runs the arb_tick()s that are due,
 * and a waiter sleeps on the condition variable until the next boundary.
 */
#include "arbiter/arbiter_impl.h"
#include "kmod/arb_core.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Ticks replayed after an idle stretch: budgets saturate after a few
 * periods, so replaying thousands of empty periods buys nothing. */
#define MAX_CATCHUP_TICKS 8

struct process_arbiter {
	pthread_mutex_t lock;	/* protects everything below */
	pthread_cond_t tick;	/* broadcast when a tick may admit waiters */
	struct arb_state st;
	uint64_t t0_ns;		/* start of period 0 */
	uint64_t period_ns;
	uint64_t ticks;		/* periods ended so far */
};

/* Runs the ticks that are due; lock held. */
static void advance(struct process_arbiter *pa)
{
	uint64_t due = (sm_arb_now_ns() - pa->t0_ns) / pa->period_ns;
	bool wake = false;

	if (due <= pa->ticks)
		return;
	if (due - pa->ticks > MAX_CATCHUP_TICKS)
		pa->ticks = due - MAX_CATCHUP_TICKS;
	while (pa->ticks < due) {
		wake |= arb_tick(&pa->st, ARB_MEASURED_NONE);
		pa->ticks++;
	}
	if (wake)
		pthread_cond_broadcast(&pa->tick);
}

static void ns_to_timespec(uint64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / 1000000000ull);
	ts->tv_nsec = (long)(ns % 1000000000ull);
}

static void process_close(struct sm_arbiter *a)
{
	struct process_arbiter *pa = a->priv;

	pthread_cond_destroy(&pa->tick);
	pthread_mutex_destroy(&pa->lock);
	free(pa);
	free(a);
}

static int process_client_open(struct sm_arbiter *a, struct sm_arb_client *c,
			       char *err, size_t errlen)
{
	struct process_arbiter *pa = a->priv;
	struct arb_client *ac = calloc(1, sizeof(*ac));
	struct arb_client_params cp = {
		.class = c->opts.class,
		.weight = c->opts.weight,
		.reserve_mbps = c->opts.reserve_mbps,
		.burst_bytes = c->opts.burst_bytes,
	};
	int rc;

	if (!ac)
		return -ENOMEM;
	pthread_mutex_lock(&pa->lock);
	rc = arb_client_add(&pa->st, ac, &cp);
	pthread_mutex_unlock(&pa->lock);
	if (rc) {
		snprintf(err, errlen, "arbiter (process): client '%s' (reserve %llu MB/s, weight %u) refused: %s",
			 c->name, (unsigned long long)cp.reserve_mbps, cp.weight, strerror(-rc));
		free(ac);
		return rc;
	}
	c->priv = ac;
	return 0;
}

static void process_client_close(struct sm_arb_client *c)
{
	struct process_arbiter *pa = c->a->priv;

	pthread_mutex_lock(&pa->lock);
	arb_client_remove(&pa->st, c->priv);
	pthread_cond_broadcast(&pa->tick);
	pthread_mutex_unlock(&pa->lock);
	free(c->priv);
}

static int process_acquire(struct sm_arb_client *c, uint64_t bytes, uint64_t timeout_ns,
			   uint64_t *grant, int *waited)
{
	struct process_arbiter *pa = c->a->priv;
	uint64_t deadline = timeout_ns ? sm_arb_now_ns() + timeout_ns : 0;
	int rc;

	*waited = 0;
	pthread_mutex_lock(&pa->lock);
	for (;;) {
		advance(pa);
		rc = arb_acquire(&pa->st, c->priv, bytes, grant);
		if (rc != -EAGAIN)
			break;
		*waited = 1;
		uint64_t now = sm_arb_now_ns();
		uint64_t next = pa->t0_ns + (pa->ticks + 1) * pa->period_ns;
		struct timespec ts;

		if (deadline && now >= deadline) {
			arb_cancel(&pa->st, c->priv);
			rc = -ETIMEDOUT;
			break;
		}
		if (deadline && deadline < next)
			next = deadline;
		ns_to_timespec(next, &ts);
		pthread_cond_timedwait(&pa->tick, &pa->lock, &ts);
	}
	pthread_mutex_unlock(&pa->lock);
	return rc;
}

static int process_complete(struct sm_arb_client *c, uint64_t grant, uint64_t actual)
{
	struct process_arbiter *pa = c->a->priv;
	int rc;

	pthread_mutex_lock(&pa->lock);
	advance(pa);
	rc = arb_complete(&pa->st, c->priv, grant, actual);
	pthread_mutex_unlock(&pa->lock);
	return rc;
}

static const struct sm_arbiter_ops process_ops = {
	.kind = SM_ARB_PROCESS,
	.close = process_close,
	.client_open = process_client_open,
	.client_close = process_client_close,
	.acquire = process_acquire,
	.complete = process_complete,
};

int sm_arbiter_open_process(const struct sm_arbiter_opts *o, struct sm_arbiter **out,
			    char *err, size_t errlen)
{
	struct sm_arbiter *a = calloc(1, sizeof(*a));
	struct process_arbiter *pa = calloc(1, sizeof(*pa));
	struct arb_params p = {
		.period_ns = o->period_ns ? o->period_ns : 1000000ull,
		.capacity_mbps = o->capacity_mbps ? o->capacity_mbps : 120000ull,
		.max_clients = o->max_clients ? o->max_clients : 16,
		/* the lm_head's one product is larger than a period's budget:
		 * funded at once when the bus is free (arb_params) */
		.borrow_periods = ARB_MAX_DEBT_PERIODS,
	};
	pthread_condattr_t ca;
	int rc;

	if (!a || !pa) {
		free(a);
		free(pa);
		snprintf(err, errlen, "arbiter: out of memory");
		return -ENOMEM;
	}
	p.guaranteed_mbps = o->guaranteed_mbps ? o->guaranteed_mbps : p.capacity_mbps * 3 / 4;
	rc = arb_init(&pa->st, &p);
	if (rc) {
		snprintf(err, errlen,
			 "arbiter (process): bad parameters (period %llu ns, capacity %llu MB/s, guaranteed %llu MB/s): %s",
			 (unsigned long long)p.period_ns, (unsigned long long)p.capacity_mbps,
			 (unsigned long long)p.guaranteed_mbps, strerror(-rc));
		free(a);
		free(pa);
		return rc;
	}
	pthread_mutex_init(&pa->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pa->tick, &ca);
	pthread_condattr_destroy(&ca);
	pa->period_ns = p.period_ns;
	pa->t0_ns = sm_arb_now_ns();
	a->ops = &process_ops;
	a->priv = pa;
	*out = a;
	return 0;
}
