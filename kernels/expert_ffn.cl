/* SPDX-License-Identifier: MIT */
/*
 * The gate/up half of a SiLU-gated expert: h = silu(x W1^T) * (x W3^T),
 * W1 and W3 [I][H], packed as bf16 bits (_bf16) or f32 (_f32). The down
 * half (h W2^T) is a plain projection (matmul.cl, no bias) followed by
 * scale_rows with the routing weights.
 *
 * expert_gate_up_mv_*: decode form; group size (64,1,1), group count
 *   (I, M, 1).
 * expert_gate_up_tiled_*: prefill form over the M rows routed to one
 *   expert; group size (16,16,1), group count (ceil(I/16), ceil(M/16), 1).
 */
#include "bf16.h"

#define TS 16

#define DEFINE_GATE_UP(WT)						\
__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1)))	\
void expert_gate_up_mv_##WT(__global const float *x,			\
			    __global const WTYPE_##WT *w1,		\
			    __global const WTYPE_##WT *w3,		\
			    __global float *h, int I, int H)		\
{									\
	__local float scratch1[REDUCE_WG];				\
	__local float scratch3[REDUCE_WG];				\
	int i = get_group_id(0);					\
	int m = get_group_id(1);					\
	int lid = get_local_id(0);					\
	__global const float *xr = x + (size_t)m * H;			\
	__global const WTYPE_##WT *r1 = w1 + (size_t)i * H;		\
	__global const WTYPE_##WT *r3 = w3 + (size_t)i * H;		\
	float a1 = 0.0f, a3 = 0.0f;					\
									\
	for (int k = lid; k < H; k += REDUCE_WG) {			\
		a1 += xr[k] * LOAD_W_##WT(r1, k);			\
		a3 += xr[k] * LOAD_W_##WT(r3, k);			\
	}								\
	a1 = group_sum(a1, scratch1);					\
	a3 = group_sum(a3, scratch3);					\
	if (lid == 0)							\
		h[(size_t)m * I + i] = silu(a1) * a3;			\
}									\
									\
__kernel __attribute__((reqd_work_group_size(TS, TS, 1)))		\
void expert_gate_up_tiled_##WT(__global const float *x,		\
			       __global const WTYPE_##WT *w1,		\
			       __global const WTYPE_##WT *w3,		\
			       __global float *h, int M, int I, int H)	\
{									\
	__local float xs[TS][TS + 1];					\
	__local float w1s[TS][TS + 1];					\
	__local float w3s[TS][TS + 1];					\
	int lx = get_local_id(0), ly = get_local_id(1);			\
	int i = get_group_id(0) * TS + lx;				\
	int m = get_group_id(1) * TS + ly;				\
	int wi = get_group_id(0) * TS + ly;				\
	float a1 = 0.0f, a3 = 0.0f;					\
									\
	for (int k0 = 0; k0 < H; k0 += TS) {				\
		int k = k0 + lx;					\
		int ok = wi < I && k < H;				\
		size_t wo = (size_t)wi * H + k;				\
									\
		xs[ly][lx] = (m < M && k < H) ? x[(size_t)m * H + k] : 0.0f; \
		w1s[ly][lx] = ok ? LOAD_W_##WT(w1, wo) : 0.0f;		\
		w3s[ly][lx] = ok ? LOAD_W_##WT(w3, wo) : 0.0f;		\
		barrier(CLK_LOCAL_MEM_FENCE);				\
		for (int kk = 0; kk < TS; kk++) {			\
			a1 += xs[ly][kk] * w1s[lx][kk];			\
			a3 += xs[ly][kk] * w3s[lx][kk];			\
		}							\
		barrier(CLK_LOCAL_MEM_FENCE);				\
	}								\
	if (m < M && i < I)						\
		h[(size_t)m * I + i] = silu(a1) * a3;			\
}

DEFINE_GATE_UP(bf16)
DEFINE_GATE_UP(f32)
