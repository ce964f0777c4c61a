/* SPDX-License-Identifier: MIT */
/*
 * LayerNorm with bias over rows of H: y = (x - mean) / sqrt(var + eps) * w + b,
 * biased variance, two passes (mean, then squared deviations) as torch does.
 * One work-group of 64 items per row; y may be x.
 * Launch: group size (64,1,1), group count (T, 1, 1).
 */
#include "bf16.h"

__kernel __attribute__((reqd_work_group_size(REDUCE_WG, 1, 1)))
void layernorm(__global const float *x, __global const float *w,
	       __global const float *b, __global float *y, int H, float eps)
{
	__local float scratch_mean[REDUCE_WG];
	__local float scratch_var[REDUCE_WG];
	int t = get_group_id(0);
	int lid = get_local_id(0);
	__global const float *xr = x + (size_t)t * H;
	__global float *yr = y + (size_t)t * H;
	float sum = 0.0f, mean, var, rstd;

	for (int k = lid; k < H; k += REDUCE_WG)
		sum += xr[k];
	mean = group_sum(sum, scratch_mean) / (float)H;
	sum = 0.0f;
	for (int k = lid; k < H; k += REDUCE_WG) {
		float d = xr[k] - mean;

		sum += d * d;
	}
	var = group_sum(sum, scratch_var) / (float)H;
	rstd = 1.0f / sqrt(var + eps);
	for (int k = lid; k < H; k += REDUCE_WG)
		yr[k] = (xr[k] - mean) * rstd * w[k] + b[k];
}
