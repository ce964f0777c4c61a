// SPDX-License-Identifier: MIT
/* Backend-independent half of arbiter.h: names, clients, statistics. */
#include "arbiter/arbiter_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t sm_arb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

enum sm_arbiter_kind sm_arbiter_get_kind(const struct sm_arbiter *a)
{
	return a->ops->kind;
}

void sm_arbiter_close(struct sm_arbiter *a)
{
	if (a)
		a->ops->close(a);
}

int sm_arb_client_open(struct sm_arbiter *a, const struct sm_arb_client_opts *o,
		       struct sm_arb_client **out, char *err, size_t errlen)
{
	struct sm_arb_client *c;
	int rc;

	if (o->class > SM_ARB_CLASS_OTHER || o->weight < 1 || o->weight > 10000) {
		snprintf(err, errlen, "arbiter: client class %u / weight %u out of range (weight 1..10000)",
			 o->class, o->weight);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "arbiter: out of memory");
		return -ENOMEM;
	}
	c->a = a;
	c->opts = *o;
	snprintf(c->name, sizeof(c->name), "%s", o->name ? o->name : "splitmoe");
	c->opts.name = c->name;
	if (!c->opts.burst_bytes)
		c->opts.burst_bytes = 64ull << 20;
	rc = a->ops->client_open(a, c, err, errlen);
	if (rc) {
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void sm_arb_client_close(struct sm_arb_client *c)
{
	if (!c)
		return;
	c->a->ops->client_close(c);
	free(c);
}

/* Bucket of a wait of ns nanoseconds (arbiter.h, SM_ARB_WAIT_BUCKETS). */
static unsigned wait_bucket(uint64_t ns)
{
	unsigned e, idx;

	if (ns < 8)
		return (unsigned)ns;
	e = 63u - (unsigned)__builtin_clzll(ns);	/* >= 3 */
	idx = 8u + (e - 3u) * 8u + (unsigned)((ns >> (e - 3u)) & 7u);
	return idx < SM_ARB_WAIT_BUCKETS ? idx : SM_ARB_WAIT_BUCKETS - 1u;
}

/* The largest wait bucket idx holds. */
static uint64_t bucket_upper(unsigned idx)
{
	unsigned e, m;

	if (idx < 8)
		return idx;
	e = (idx - 8u) / 8u + 3u;
	m = (idx - 8u) % 8u;
	return ((8ull + m + 1ull) << (e - 3u)) - 1ull;
}

uint64_t sm_arb_wait_quantile(const struct sm_arb_client_stats *s, double q)
{
	uint64_t total = 0, seen = 0, want;
	unsigned i;

	for (i = 0; i < SM_ARB_WAIT_BUCKETS; i++)
		total += s->wait_hist[i];
	if (!total)
		return 0;
	if (q < 0)
		q = 0;
	want = (uint64_t)(q * (double)total + 0.5);
	if (want < 1)
		want = 1;
	if (want > total)
		want = total;
	for (i = 0; i < SM_ARB_WAIT_BUCKETS; i++) {
		seen += s->wait_hist[i];
		if (seen >= want)
			return bucket_upper(i);
	}
	return bucket_upper(SM_ARB_WAIT_BUCKETS - 1u);
}

int sm_arb_acquire(struct sm_arb_client *c, uint64_t bytes, uint64_t timeout_ns,
		   uint64_t *grant)
{
	uint64_t t0 = sm_arb_now_ns(), ask = bytes;
	int waited = 0, rc;

	/* over-burst requests take the burst now and pay the rest as debt */
	if (ask > c->opts.burst_bytes)
		ask = c->opts.burst_bytes;
	if (ask == 0)
		ask = 1;
	rc = c->a->ops->acquire(c, ask, timeout_ns, grant, &waited);
	if (!waited)
		c->st.wait_hist[0]++;
	if (waited) {
		uint64_t w = sm_arb_now_ns() - t0;

		c->st.wait_hist[wait_bucket(w)]++;
		c->st.waits++;
		c->st.wait_ns += w;
		if (w > c->st.max_wait_ns)
			c->st.max_wait_ns = w;
	}
	if (rc)
		return rc;
	c->st.acquires++;
	c->st.granted_bytes += ask;
	return 0;
}

int sm_arb_complete(struct sm_arb_client *c, uint64_t grant, uint64_t actual)
{
	int rc = c->a->ops->complete(c, grant, actual ? actual : 1);

	if (!rc) {
		c->st.completes++;
		c->st.completed_bytes += actual;
	}
	return rc;
}

void sm_arb_client_get_stats(const struct sm_arb_client *c,
			     struct sm_arb_client_stats *out)
{
	*out = c->st;
}
