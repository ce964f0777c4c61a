/* SPDX-License-Identifier: MIT */
/*
 * Plain-C references for the GPU kernels, written from the definitions
 * (transformers' PhiMoE) rather than from the kernels, accumulating in
 * double so that they are the more accurate side of each comparison.
 */
#ifndef SPLITMOE_TESTS_CPU_REF_H
#define SPLITMOE_TESTS_CPU_REF_H

#include <stddef.h>
#include <stdint.h>

float bf16_to_f32(uint16_t b);
uint16_t f32_to_bf16(float f);	/* round to nearest even */

/* y[m][n] = sum_k x[m][k] w[n][k] (+ b[n]); w already as float. */
void ref_linear(const float *x, const float *w, const float *b, float *y, int M, int N, int K);
/* h[m][i] = silu(x w1[i]) * (x w3[i]) */
void ref_gate_up(const float *x, const float *w1, const float *w3, float *h, int M, int I, int H);
void ref_sparsemixer(const float *scores, int T, int E, float jitter_eps, int *sel, float *wts);
void ref_layernorm(const float *x, const float *w, const float *b, float *y, int T, int H,
		   float eps);
void ref_rope(float *x, int T, int row_stride, int nheads, int hd, int pos0,
	      const float *cos_tab, const float *sin_tab);
/* q rows of q_stride; caches [pos][nkv*hd]; o [T][nh*hd] */
void ref_attention(const float *q, int q_stride, const float *kc, const float *vc, float *o,
		   int T, int nh, int nkv, int hd, int pos0, int window, float scale);

#endif
