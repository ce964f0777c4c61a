// SPDX-License-Identifier: MIT
/*
 * Sampling: the candidates are ranked by logit (a bounded min-heap for
 * top-k, a full sort otherwise), softmax at the temperature over them,
 * cut at top-p, then one uniform draw.
 */
#include "engine/sampler.h"
#include "util/prng.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sm_sampler {
	int vocab;
	struct sm_sampler_opts o;
	uint64_t rng[4];
	int *idx;	/* [vocab] candidate ids */
	float *p;	/* [vocab] their probabilities */
};

/* uniform in [0, 1) with 53 bits */
static double next_unit(uint64_t *s)
{
	return (double)(sm_xoshiro256ss(s) >> 11) * 0x1.0p-53;
}

int sm_sampler_create(int vocab, const struct sm_sampler_opts *o,
		      struct sm_sampler **out)
{
	struct sm_sampler *s;
	uint64_t x;
	int i;

	*out = NULL;
	if (vocab <= 0 || !(o->temperature >= 0) || isinf(o->temperature) ||
	    o->top_k < 0 || !(o->top_p > 0 && o->top_p <= 1))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->vocab = vocab;
	s->o = *o;
	if (s->o.top_k > vocab)
		s->o.top_k = vocab;
	s->idx = malloc((size_t)vocab * sizeof(*s->idx));
	s->p = malloc((size_t)vocab * sizeof(*s->p));
	if (!s->idx || !s->p) {
		sm_sampler_free(s);
		return -ENOMEM;
	}
	x = o->seed;
	for (i = 0; i < 4; i++)
		s->rng[i] = sm_splitmix64(&x);
	*out = s;
	return 0;
}

void sm_sampler_free(struct sm_sampler *s)
{
	if (!s)
		return;
	free(s->idx);
	free(s->p);
	free(s);
}

int sm_argmax(const float *logits, int n)
{
	int i, best = 0;

	for (i = 1; i < n; i++)
		if (logits[i] > logits[best] || (isnan(logits[best]) && !isnan(logits[i])))
			best = i;
	return best;
}

/* Ranking order: larger logit first, then lower id (deterministic). */
static int before(const float *l, int a, int b)
{
	return l[a] > l[b] || (l[a] == l[b] && a < b);
}

/* Sift-down of a min-heap (root = the worst kept candidate). */
static void heap_down(int *h, int n, int i, const float *l)
{
	for (;;) {
		int c = 2 * i + 1, t;

		if (c >= n)
			return;
		if (c + 1 < n && before(l, h[c], h[c + 1]))
			c++;
		if (!before(l, h[i], h[c]))
			return;
		t = h[i];
		h[i] = h[c];
		h[c] = t;
		i = c;
	}
}

/* Sort h[0..n) best first (heap sort on the same order). */
static void rank_sort(int *h, int n, const float *l)
{
	int i, t;

	for (i = n / 2 - 1; i >= 0; i--)
		heap_down(h, n, i, l);
	for (i = n - 1; i > 0; i--) {
		t = h[0];
		h[0] = h[i];
		h[i] = t;
		heap_down(h, i, 0, l);
	}
}

/* The k best ids of logits into idx[0..k), best first. */
static int top_candidates(struct sm_sampler *s, const float *l, int k)
{
	int *h = s->idx, i, n = 0;

	for (i = 0; i < s->vocab; i++) {
		if (isnan(l[i]))
			continue;
		if (n < k) {
			/* sift up into the min-heap */
			int c = n++, p;

			h[c] = i;
			while (c > 0 && before(l, h[(p = (c - 1) / 2)], h[c])) {
				int t = h[p];

				h[p] = h[c];
				h[c] = t;
				c = p;
			}
		} else if (before(l, i, h[0])) {
			h[0] = i;
			heap_down(h, n, 0, l);
		}
	}
	rank_sort(h, n, l);
	return n;
}

/* Plain temperature sampling needs no ranking: one pass, O(vocab). */
static int sample_all(struct sm_sampler *s, const float *l)
{
	int i, last = -1;
	float m = l[sm_argmax(l, s->vocab)];
	double sum = 0, u, acc = 0;

	for (i = 0; i < s->vocab; i++) {
		s->p[i] = isnan(l[i]) ? 0.0f : expf((l[i] - m) / s->o.temperature);
		sum += s->p[i];
	}
	u = next_unit(s->rng) * sum;
	for (i = 0; i < s->vocab; i++) {
		if (s->p[i] == 0.0f)
			continue;
		last = i;
		acc += s->p[i];
		if (u < acc)
			return i;
	}
	return last >= 0 ? last : sm_argmax(l, s->vocab);
}

int sm_sampler_sample(struct sm_sampler *s, const float *logits)
{
	int k = s->o.top_k ? s->o.top_k : s->vocab, n, i;
	double sum = 0, cut, acc, u;
	float m;

	if (s->o.temperature == 0 || k == 1)
		return sm_argmax(logits, s->vocab);
	if (k == s->vocab && s->o.top_p >= 1)
		return sample_all(s, logits);
	n = top_candidates(s, logits, k);
	if (n == 0)
		return sm_argmax(logits, s->vocab);
	m = logits[s->idx[0]];
	for (i = 0; i < n; i++) {
		s->p[i] = expf((logits[s->idx[i]] - m) / s->o.temperature);
		sum += s->p[i];
	}
	/* nucleus: the smallest prefix whose mass reaches top_p */
	if (s->o.top_p < 1) {
		cut = s->o.top_p * sum;
		acc = 0;
		for (i = 0; i < n; i++) {
			acc += s->p[i];
			if (acc >= cut) {
				n = i + 1;
				break;
			}
		}
		sum = acc;
	}
	u = next_unit(s->rng) * sum;
	acc = 0;
	for (i = 0; i < n; i++) {
		acc += s->p[i];
		if (u < acc)
			return s->idx[i];
	}
	return s->idx[n - 1];
}
