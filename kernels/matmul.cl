/* SPDX-License-Identifier: MIT */
/*
 * Projections in the checkpoint's [out][in] layout:
 * Y[m][n] = sum_k X[m][k] * W[n][k] (+ bias[n]), W packed as bf16 bits
 * (suffix _bf16) or f32 (suffix _f32).
 *
 * matvec_*: decode form. One work-group of 64 items per output element
 *   (group id 0 = n, group id 1 = m); the items split the k range and sum
 *   in local memory. Launch: group size (64,1,1), group count (N, M, 1).
 * matmul_*_tiled: prefill form. 16x16 output tiles, the X and W tiles
 *   staged in local memory. Launch: group size (16,16,1), group count
 *   (ceil(N/16), ceil(M/16), 1).
 * bias is read only when has_bias is non-zero (pass any valid pointer
 * otherwise).
 * scale_rows: y[m][:] *= scale[m] (the routing weight of an expert's
 *   rows). Global size (>= N, M, 1).
 */
#include "bf16.h"

#define TS 16

#define DEFINE_MATMUL(WT)						\
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1)))	\
void matvec_##WT(__global const float *x, __global const WTYPE_##WT *w,	\
		 __global const float *bias, int has_bias,		\
		 __global float *y, int N, int K)			\
{									\
	__local float scratch[REDUCE_WG];				\
	int n = get_group_id(0);					\
	int m = get_group_id(1);					\
	int lid = get_local_id(0);					\
	__global const float *xr = x + (size_t)m * K;			\
	__global const WTYPE_##WT *wr = w + (size_t)n * K;		\
	float acc = 0.0f;						\
									\
	for (int k = lid; k < K; k += REDUCE_WG)			\
		acc += xr[k] * LOAD_W_##WT(wr, k);			\
	acc = group_sum(acc, scratch);					\
	if (lid == 0)							\
		y[(size_t)m * N + n] = acc + (has_bias ? bias[n] : 0.0f); \
}									\
									\
__kernel __attribute__((reqd_work_group_size(TS, TS, 1)))		\
void matmul_##WT##_tiled(__global const float *x,			\
			 __global const WTYPE_##WT *w,			\
			 __global const float *bias, int has_bias,	\
			 __global float *y, int M, int N, int K)	\
{									\
	__local float xs[TS][TS + 1];					\
	__local float ws[TS][TS + 1];					\
	int lx = get_local_id(0), ly = get_local_id(1);			\
	int n = get_group_id(0) * TS + lx;				\
	int m = get_group_id(1) * TS + ly;				\
	int wn = get_group_id(0) * TS + ly; /* W row this item stages */ \
	float acc = 0.0f;						\
									\
	for (int k0 = 0; k0 < K; k0 += TS) {				\
		int k = k0 + lx;					\
									\
		xs[ly][lx] = (m < M && k < K) ? x[(size_t)m * K + k] : 0.0f; \
		ws[ly][lx] = (wn < N && k < K) ?			\
			LOAD_W_##WT(w, (size_t)wn * K + k) : 0.0f;	\
		barrier(CLK_LOCAL_MEM_FENCE);				\
		for (int kk = 0; kk < TS; kk++)				\
			acc += xs[ly][kk] * ws[lx][kk];			\
		barrier(CLK_LOCAL_MEM_FENCE);				\
	}								\
	if (m < M && n < N)						\
		y[(size_t)m * N + n] = acc + (has_bias ? bias[n] : 0.0f); \
}

DEFINE_MATMUL(bf16)
DEFINE_MATMUL(f32)

__kernel void scale_rows(__global float *y, __global const float *scale,
			 int M, int N)
{
	int n = get_global_id(0), m = get_global_id(1);

	if (n < N && m < M)
		y[(size_t)m * N + n] *= scale[m];
}
