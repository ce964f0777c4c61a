/* SPDX-License-Identifier: MIT */
/*
 * Next-token sampling from logits: greedy, temperature, top-k, top-p
 * (nucleus), with a seeded deterministic PRNG (xoshiro256**). All buffers
 * are allocated at create; sampling allocates nothing.
 */
#ifndef SPLITMOE_SAMPLER_H
#define SPLITMOE_SAMPLER_H

#include <stdint.h>

struct sm_sampler_opts {
	float temperature;	/* 0: greedy (argmax, lowest id on ties) */
	int top_k;		/* 0: no limit */
	float top_p;		/* (0, 1]; 1: no limit */
	uint64_t seed;
};

struct sm_sampler;

/* 0, or -EINVAL (bad option) / -ENOMEM. */
int sm_sampler_create(int vocab, const struct sm_sampler_opts *o,
		      struct sm_sampler **out);
void sm_sampler_free(struct sm_sampler *s);
/* Next token id from vocab logits (not modified). */
int sm_sampler_sample(struct sm_sampler *s, const float *logits);
/* Index of the largest logit (lowest on ties); NaN never wins. */
int sm_argmax(const float *logits, int n);

#endif /* SPLITMOE_SAMPLER_H */
