/* SPDX-License-Identifier: MIT */
/*
 * Token scatter and gather by expert (slots as made by moe_route).
 *
 * scatter_rows: xs[s][:] = x[slot_token[s]][:] for the n slots, so that
 *   each expert's tokens are contiguous rows. Global size (>= H, n, 1).
 * gather_combine: out[t][:] (+)= the routing-weighted outputs of the two
 *   slots of token t, added in expert order (the lower slot first, as
 *   transformers' index_add over experts does); accumulate != 0 adds onto
 *   out (the residual), else overwrites. Global size (>= H, T, 1).
 */

__kernel void scatter_rows(__global const float *x, __global const int *slot_token,
			   __global float *xs, int n, int H)
{
	int h = get_global_id(0), s = get_global_id(1);

	if (h < H && s < n)
		xs[(size_t)s * H + h] = x[(size_t)slot_token[s] * H + h];
}

__kernel void gather_combine(__global const float *ys, __global const int *token_slot,
			     __global const float *wts, __global float *out,
			     int T, int H, int accumulate)
{
	int h = get_global_id(0), t = get_global_id(1);
	int s0, s1;
	float w0, w1, v;

	if (h >= H || t >= T)
		return;
	s0 = token_slot[2 * t];
	s1 = token_slot[2 * t + 1];
	w0 = wts[2 * t];
	w1 = wts[2 * t + 1];
	if (s1 < s0) {
		int ts = s0; float tw = w0;

		s0 = s1; w0 = w1;
		s1 = ts; w1 = tw;
	}
	v = ys[(size_t)s0 * H + h] * w0;
	v = v + ys[(size_t)s1 * H + h] * w1;
	if (accumulate)
		out[(size_t)t * H + h] += v;
	else
		out[(size_t)t * H + h] = v;
}
