/* SPDX-License-Identifier: MIT */
/*
 * Products of a few activation rows with row-major weights, read where
 * they lie (the checkpoint's mapping): the decode path, where reading the
 * weights once is the whole cost. y[i][j] = (x[i] . W[j] + b[j]) * s[i]
 * for i < m, j < n; W is [n][k] in bf16 or f32 (bf16 widened to f32 as it
 * is loaded: exact f32 products, f32 sums). Several products run in one
 * parallel pass, their rows split among the threads by work (weight
 * bytes, and the products with each product's rows: experts of unlike
 * row counts), so that q|k|v or the w1|w3 of two experts cost one fork
 * and one stream.
 * Kernels for AVX-512, AVX2+FMA and plain C (cpu_isa.h chooses);
 * quantized weights run cpu_qgemm.h's int8 kernels.
 */
#ifndef SPLITMOE_CPU_GEMV_H
#define SPLITMOE_CPU_GEMV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"	/* enum phimoe_dtype */

#define SM_GEMV_MAX_JOBS 64

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

/* Whether sm_gemv handles weights of this dtype. */
bool sm_gemv_dtype_ok(enum phimoe_dtype dt);

/* Runs the ng products on nthreads threads (<= 1: the calling thread
 * alone, no parallel region); quantizes the activations of quantized
 * ones first. */
void sm_gemv_run(const struct sm_gemv *g, int ng, int nthreads);

/* The share of thread tid of nth of the same work: for use inside a
 * parallel region of the caller's (several phases, one fork). Quantized
 * products need their xq filled: sm_gemv_quantize_part, then a barrier. */
void sm_gemv_part(const struct sm_gemv *g, int ng, int tid, int nth);

/* Thread tid's share of quantizing the activations of the quantized
 * products among g[0..ng) into their xq (once per distinct xq). */
void sm_gemv_quantize_part(const struct sm_gemv *g, int ng, int tid, int nth);

/* Quantizes activation row i of g (groups [g0, g1)) into its xq. */
void sm_gemv_quantize_row(const struct sm_gemv *g, int i, int g0, int g1);

/* Whether any of g[0..ng) is quantized. */
bool sm_gemv_any_quantized(const struct sm_gemv *g, int ng);

#endif
