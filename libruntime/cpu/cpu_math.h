/* SPDX-License-Identifier: MIT */
/*
 * The non-matmul pieces of the PhiMoE forward pass in plain C, f32: the
 * CPU backend runs them and the iGPU kernels are tested against them.
 * Semantics follow transformers' PhimoeForCausalLM in eval mode.
 */
#ifndef SPLITMOE_CPU_MATH_H
#define SPLITMOE_CPU_MATH_H

#include <stddef.h>
#include <stdint.h>

/* torch.nn.LayerNorm over n columns of m rows (biased variance). */
void cm_layernorm(const float *x, int m, int n, const float *gamma,
		  const float *beta, float eps, float *y);

/*
 * RoPE tables for the default rope type: inv_freq[i] = theta^(-2i/d) in
 * f32 as torch computes it, angle = pos * inv_freq[i] in f32; cos_tab and
 * sin_tab are [max_seq][d/2].
 */
void cm_rope_tables(int max_seq, int head_dim, double theta, float *cos_tab,
		    float *sin_tab);

/* Rotate-half RoPE in place: for each row r (position pos0+r) and head,
 * x1' = x1 cos - x2 sin, x2' = x2 cos + x1 sin over the two halves. */
void cm_rope(float *x, int m, int row_stride, int heads, int head_dim,
	     int pos0, const float *cos_tab, const float *sin_tab);

/*
 * Grouped-query attention of m queries at positions pos0.. against keys
 * 0..pos0+m-1 held in the caches (already appended): query i attends key j
 * iff j <= i and (window == 0 or j > i - window). Softmax in f32 over the
 * attended keys. q rows are q_stride floats apart; caches are
 * [pos][n_kv*head_dim]; out is [m][n_heads*head_dim]. scratch holds
 * pos0+m floats.
 */
void cm_attention(const float *q, int q_stride, int m, int pos0,
		  int n_heads, int n_kv_heads, int head_dim, int window,
		  float scale, const float *k_cache, const float *v_cache,
		  float *out, float *scratch);

/* Copy m rows of k and v (rows row_stride apart) into the caches at pos0. */
void cm_kv_append(const float *k, const float *v, int row_stride, int m,
		  int pos0, int kv_dim, float *k_cache, float *v_cache);

/*
 * Sparsemixer top-2 in eval mode on one row of n scores: the first expert
 * is the argmax; experts whose (max - s) / max(|s|, max) > 2*jitter_eps are
 * masked; its multiplier is the softmax over the unmasked at the argmax.
 * The second is the same with the first expert's score at -inf (threshold
 * against the original scores). Multipliers are not renormalised. Ties go
 * to the lowest index, as torch.max.
 */
void cm_sparsemixer_top2(const float *scores, int n, float jitter_eps,
			 int32_t experts[2], float weights[2]);

/* h[m][2*inter] = (w1 x | w3 x) -> g[m][inter] = silu(h1) * h3. */
void cm_silu_gate(const float *h, int m, int inter, float *g);
/* The same for columns [c0, c1) of one row. */
void cm_silu_gate_cols(const float *h, int inter, int c0, int c1, float *g);

void cm_gather(const float *src, int cols, const int32_t *rows, int n, float *dst);
void cm_scatter_add(const float *src, int cols, const int32_t *rows, int n, float *dst);
void cm_add(float *y, const float *x, size_t n);
/* y[i][:] *= scale[i] */
void cm_scale_rows(float *y, int m, int cols, const float *scale);

/* Round-to-nearest-even f32 -> bf16 of n values. */
void cm_f32_to_bf16(const float *src, uint16_t *dst, size_t n);
/* x ~= hi + lo with both bf16 (hi = bf16(x), lo = bf16(x - hi)): 16 bits
 * of mantissa, so that a bf16 product of hi and lo rows against bf16
 * weights keeps f32-like accuracy. */
void cm_f32_to_bf16_split(const float *src, uint16_t *hi, uint16_t *lo, size_t n);

#endif /* SPLITMOE_CPU_MATH_H */
