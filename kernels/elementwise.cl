/* SPDX-License-Identifier: MIT */
/*
 * residual_add: y[i] += x[i] for n floats. Global size >= n.
 * embed_bf16: out[t][:] = table[ids[t]][:] (bf16 table [V][H] to f32).
 *   Global size (>= H, T, 1).
 */
#include "bf16.h"

__kernel void residual_add(__global float *y, __global const float *x, int n)
{
	int i = get_global_id(0);

	if (i < n)
		y[i] += x[i];
}

__kernel void embed_bf16(__global const ushort *table, __global const int *ids,
			 __global float *out, int T, int H)
{
	int h = get_global_id(0), t = get_global_id(1);

	if (h < H && t < T)
		out[(size_t)t * H + h] = bf16_to_f32(table[(size_t)ids[t] * H + h]);
}
