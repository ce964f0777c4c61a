// SPDX-License-Identifier: MIT
/* Weight quantization; see quant.h. */
#include "cpu/quant.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static_assert((int)SM_QUANT_INT8 == (int)PHIMOE_QUANT_INT8 &&
	      (int)SM_QUANT_Q4 == (int)PHIMOE_QUANT_Q4, "one numbering of formats");
static_assert(SM_Q4_GROUP == PHIMOE_QUANT_GROUP, "files hold the kernels' groups");

int sm_quant_fits(enum sm_quant q, int k)
{
	return (q == SM_QUANT_INT8 || q == SM_QUANT_Q4) && k > 0 && k % SM_Q4_GROUP == 0;
}

/* binary16, round to nearest even (scales are positive and normal or 0) */
static uint16_t f32_to_f16(float f)
{
	uint32_t u;
	uint32_t sign, mant;
	int e;

	memcpy(&u, &f, sizeof(u));
	sign = (u >> 16) & 0x8000u;
	e = (int)((u >> 23) & 0xff) - 127 + 15;
	mant = u & 0x7fffffu;
	if (e >= 31)
		return (uint16_t)(sign | 0x7bffu);	/* largest finite */
	if (e <= 0) {
		if (e < -10)
			return (uint16_t)sign;
		mant |= 0x800000u;
		uint32_t shift = (uint32_t)(14 - e);
		uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);

		if (rem > half || (rem == half && (h & 1)))
			h++;
		return (uint16_t)(sign | h);
	}
	uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1fffu;

	if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
		h++;
	return (uint16_t)(sign | h);
}

/* Row r of t into out's codes and scales. */
static void quantize_row(const struct phimoe_tensor *t, enum sm_quant q, int r, int k,
			 float *row, struct sm_qweight *out)
{
	{
		phimoe_tensor_to_f32(t, (size_t)r * k, (size_t)k, row);
		uint16_t *sc = (uint16_t *)out->scale + (size_t)r * (k / SM_Q4_GROUP);

		for (int g = 0; g < k / SM_Q4_GROUP; g++) {
			const float *v = row + g * SM_Q4_GROUP;
			float mx = 0.0f, s, inv, lim = q == SM_QUANT_INT8 ? 127.0f : 7.0f;
			uint16_t h;

			for (int j = 0; j < SM_Q4_GROUP; j++)
				mx = fmaxf(mx, fabsf(v[j]));
			/* the scale as the kernels will read it (binary16) */
			h = f32_to_f16(mx / lim);
			s = phimoe_f16_to_f32(h);
			inv = s > 0.0f ? 1.0f / s : 0.0f;
			sc[g] = h;
			if (q == SM_QUANT_INT8) {
				int8_t *dst = (int8_t *)out->q + (size_t)r * k + g * SM_Q4_GROUP;

				for (int j = 0; j < SM_Q4_GROUP; j++)
					dst[j] = (int8_t)lrintf(fminf(fmaxf(v[j] * inv, -127.0f),
								      127.0f));
				continue;
			}
			uint8_t *dst = (uint8_t *)out->q + (size_t)r * k / 2;

			for (int j = 0; j < 16; j++) {
				int lo = (int)lrintf(fminf(fmaxf(v[j] * inv, -8.0f), 7.0f)) + 8;
				int hi = (int)lrintf(fminf(fmaxf(v[j + 16] * inv, -8.0f), 7.0f)) + 8;

				dst[g * 16 + j] = (uint8_t)(lo | hi << 4);
			}
		}
	}
}

int sm_qweight_make(const struct phimoe_tensor *t, enum sm_quant q, struct sm_qweight *out)
{
	int n, k, nomem = 0;

	memset(out, 0, sizeof(*out));
	if (!t->data || t->ndim != 2 || (q != SM_QUANT_INT8 && q != SM_QUANT_Q4))
		return -EINVAL;
	n = (int)t->shape[0];
	k = (int)t->shape[1];
	if (n < 1 || k < 1 || !sm_quant_fits(q, k))
		return -EINVAL;
	out->n = n;
	out->k = k;
	out->kind = q == SM_QUANT_INT8 ? SM_GEMV_Q8 : SM_GEMV_Q4;
	out->q = malloc(q == SM_QUANT_INT8 ? (size_t)n * k : (size_t)n * k / 2);
	out->scale = malloc(sizeof(uint16_t) * (size_t)n * (k / SM_Q4_GROUP));
	out->bytes = (q == SM_QUANT_INT8 ? (size_t)n * k : (size_t)n * k / 2) +
		     sizeof(uint16_t) * (size_t)n * (k / SM_Q4_GROUP);
	if (!out->q || !out->scale) {
		sm_qweight_free(out);
		return -ENOMEM;
	}
	/* rows are independent: the same codes on any number of threads */
#pragma omp parallel if ((size_t)n * k >= (1u << 20)) reduction(|:nomem)
	{
		float *row = malloc(sizeof(float) * (size_t)k);

		nomem = !row;
#pragma omp for schedule(static)
		for (int r = 0; r < n; r++)
			if (row)
				quantize_row(t, q, r, k, row, out);
		free(row);
	}
	if (nomem) {
		sm_qweight_free(out);
		return -ENOMEM;
	}
	return 0;
}

void sm_qweight_free(struct sm_qweight *w)
{
	if (!w->mapped) {
		free(w->q);
		free(w->scale);
	}
	memset(w, 0, sizeof(*w));
}

int sm_qweight_view(const struct phimoe_tensor *t, struct sm_qweight *out)
{
	memset(out, 0, sizeof(*out));
	if (!t->data || !t->scale || t->ndim != 2 ||
	    (t->quant != PHIMOE_QUANT_INT8 && t->quant != PHIMOE_QUANT_Q4) ||
	    t->shape[1] % SM_Q4_GROUP)
		return -EINVAL;
	out->kind = t->quant == PHIMOE_QUANT_INT8 ? SM_GEMV_Q8 : SM_GEMV_Q4;
	out->n = (int)t->shape[0];
	out->k = (int)t->shape[1];
	out->q = (void *)t->data;	/* read-only mapping: the kernels only read */
	out->scale = (void *)t->scale;
	out->bytes = t->nbytes + t->scale_nbytes;
	out->mapped = true;
	return 0;
}

void sm_qweight_gemv(const struct sm_qweight *w, const float *bias, struct sm_gemv *g)
{
	memset(g, 0, sizeof(*g));
	g->w = w->q;
	g->wscale = w->scale;
	g->quant = w->kind;
	g->n = w->n;
	g->k = w->k;
	g->bias = bias;
}
