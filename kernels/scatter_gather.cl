/* SPDX-License-Identifier: MIT */
/*
 * Token gather and scatter by expert (backend.h's gather/scatter_add).
 *
 * gather_rows: dst[i][:] = src[rows[i]][:] for i < n, so that an expert's
 *   tokens are contiguous rows. Global size (>= cols, n, 1).
 * scatter_add_rows: dst[rows[i]][:] += src[i][:] for i < n, in increasing
 *   i (rows may repeat: a token's two experts). Each work item owns one
 *   column and walks i in order, so the sums are race-free and in the
 *   same order as the CPU's. Global size (>= cols, 1, 1).
 */

__kernel void gather_rows(__global const float *src, int cols,
			  __global const int *rows, int n, __global float *dst)
{
	int c = get_global_id(0), i = get_global_id(1);

	if (c < cols && i < n)
		dst[(size_t)i * cols + c] = src[(size_t)rows[i] * cols + c];
}

__kernel void scatter_add_rows(__global const float *src, int cols,
			       __global const int *rows, int n,
			       __global float *dst)
{
	int c = get_global_id(0);

	if (c >= cols)
		return;
	for (int i = 0; i < n; i++)
		dst[(size_t)rows[i] * cols + c] += src[(size_t)i * cols + c];
}
