// SPDX-License-Identifier: MIT
/*
 * splitmoe_synth: the weights' values. Each tensor is cut into blocks of
 * SYNTH_BLOCK elements; block b of tensor i draws from its own
 * xoshiro256** stream seeded by splitmix64 from (seed, i, b), so the bytes
 * depend on neither the thread count nor how a caller splits the work.
 * Normal-ish values: the sum of four 16-bit uniforms of one draw (Irwin-
 * Hall, cut at +-3.46 sd), scaled to the tensor's standard deviation.
 */
#include "api_synth.h"
#include "util/prng.h"

#include <string.h>

#define SYNTH_BLOCK 65536u

struct rng { uint64_t s[4]; };

static void rng_seed(struct rng *r, uint64_t seed, uint32_t tensor, uint64_t block)
{
	uint64_t x = seed;
	int i;

	x = sm_splitmix64(&x) ^ ((uint64_t)tensor << 40) ^ block;
	for (i = 0; i < 4; i++)
		r->s[i] = sm_splitmix64(&x);
}

static inline uint64_t rng_next(struct rng *r)
{
	return sm_xoshiro256ss(r->s);
}

/* Sum of four 16-bit uniforms: mean 131070, sd sqrt((65536^2 - 1) / 3). */
#define IH_MEAN 131070.0f
#define IH_INV_SD (1.0f / 37837.23f)

static inline float normalish(struct rng *r)
{
	uint64_t v = rng_next(r);
	uint32_t s = (uint32_t)(v & 0xffff) + (uint32_t)((v >> 16) & 0xffff) +
		     (uint32_t)((v >> 32) & 0xffff) + (uint32_t)(v >> 48);

	return ((float)s - IH_MEAN) * IH_INV_SD;
}

static inline uint16_t to_bf16(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	u += 0x7fff + ((u >> 16) & 1);	/* round to nearest even; no NaN here */
	return (uint16_t)(u >> 16);
}

/* Elements [e0, e1) of one block of t (all in block b). */
static void fill_block(const struct synth_tensor *t, uint64_t b, uint64_t e0, uint64_t e1,
		       enum phimoe_dtype dt, uint64_t seed, void *dst)
{
	uint64_t i, n = e1 - e0;
	struct rng r;
	float c = t->init == SYNTH_ONES ? 1.0f : 0.0f;

	if (t->init == SYNTH_NORMAL) {
		rng_seed(&r, seed, t->index, b);
		for (i = b * SYNTH_BLOCK; i < e0; i++)	/* the stream up to e0 */
			rng_next(&r);
	}
	if (dt == PHIMOE_DTYPE_BF16) {
		uint16_t *o = dst;

		for (i = 0; i < n; i++)
			o[i] = to_bf16(t->init == SYNTH_NORMAL ? normalish(&r) * t->std : c);
	} else {
		float *o = dst;

		for (i = 0; i < n; i++)
			o[i] = t->init == SYNTH_NORMAL ? normalish(&r) * t->std : c;
	}
}

void synth_fill(const struct synth_range *r, size_t nr, enum phimoe_dtype dt, uint64_t seed)
{
	size_t esz = phimoe_dtype_size(dt), k;
	long long nitems = 0, it;

	/* work items: each range cut at block boundaries */
	for (k = 0; k < nr; k++)
		if (r[k].e1 > r[k].e0)
			nitems += (long long)((r[k].e1 - 1) / SYNTH_BLOCK - r[k].e0 / SYNTH_BLOCK + 1);

#pragma omp parallel for schedule(dynamic, 4) if (nitems > 1)
	for (it = 0; it < nitems; it++) {
		long long rest = it;
		size_t j = 0;
		uint64_t b, lo, hi;

		for (j = 0; j < nr; j++) {	/* which range: a short list */
			long long cnt = r[j].e1 > r[j].e0 ?
				(long long)((r[j].e1 - 1) / SYNTH_BLOCK - r[j].e0 / SYNTH_BLOCK + 1) : 0;

			if (rest < cnt)
				break;
			rest -= cnt;
		}
		b = r[j].e0 / SYNTH_BLOCK + (uint64_t)rest;
		lo = b * SYNTH_BLOCK > r[j].e0 ? b * SYNTH_BLOCK : r[j].e0;
		hi = (b + 1) * SYNTH_BLOCK < r[j].e1 ? (b + 1) * SYNTH_BLOCK : r[j].e1;
		fill_block(r[j].t, b, lo, hi, dt, seed, (char *)r[j].dst + (lo - r[j].e0) * esz);
	}
}
