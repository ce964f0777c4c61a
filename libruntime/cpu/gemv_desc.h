/* SPDX-License-Identifier: MIT */
/*
 * One product of activation rows with a weight matrix, as the few-row
 * kernels take it: the description cpu_gemv.c (plain weights, dispatch)
 * and cpu_qgemm.c (quantized weights) share, apart from either so that
 * neither header depends on the other.
 */
#ifndef SPLITMOE_GEMV_DESC_H
#define SPLITMOE_GEMV_DESC_H

#include <stdbool.h>

#include "model/dtype.h"

/*
 * Quantized weights (quant.h makes them), in place of dtype, in groups of
 * SM_Q4_GROUP weights along k with a binary16 scale per group,
 * [n][k / SM_Q4_GROUP] (k must be a multiple of the group):
 * Q8: int8 [n][k] (w = q * scale);
 * Q4: 16 bytes a group: byte j holds weight j in its low nibble and
 * weight j + 16 in its high one, as nibble - 8 (w = (nibble - 8) * scale).
 */
enum sm_gemv_quant {
	SM_GEMV_PLAIN = 0,	/* dtype: bf16 or f32 */
	SM_GEMV_Q8,
	SM_GEMV_Q4,
};

#define SM_Q4_GROUP 32

struct sm_gemv {
	const void *w;			/* [n][k], rows k elements apart */
	enum phimoe_dtype dtype;	/* PHIMOE_DTYPE_BF16 or _F32 (plain) */
	enum sm_gemv_quant quant;
	const void *wscale;		/* quantized: the scales above */
	int n, k;
	int m;				/* input rows, >= 1 */
	const float *x;			/* m rows, ldx floats apart */
	int ldx;
	const float *bias;		/* [n] or NULL */
	const float *row_scale;		/* [m] or NULL: y row i times row_scale[i] */
	float *y;			/* m rows, ldy floats apart */
	int ldy;
	/* Quantized: the caller's buffer of m * sm_qact_row_bytes(k) bytes
	 * (twice that when xq_fine) for x quantized to int8 (cpu_qgemm.h),
	 * filled by sm_gemv_quantize_part; products that share x may share
	 * it (with the same xq_fine). */
	void *xq;
	/* x as two int8 rows, hi and the residual lo (about 15 bits; twice
	 * the integer work): for the products whose input precision shows
	 * in the logits */
	bool xq_fine;
};

#endif /* SPLITMOE_GEMV_DESC_H */
