/* SPDX-License-Identifier: MIT */
/*
 * Default RoPE, rotate-half form (transformers' apply_rotary_pos_emb), in
 * place on T rows of nheads heads of hd values; row t starts at
 * t * row_stride floats and sits at position pos0 + t. The cos/sin tables
 * are the runtime's, [position][hd/2] (of position * inv_freq[i]), so the
 * angles are bit-identical to the CPU path's. For i < hd/2:
 *   x[i]      <- x[i] cos - x[i + hd/2] sin
 *   x[i+hd/2] <- x[i + hd/2] cos + x[i] sin
 * Launch: global size (>= hd/2, nheads, T).
 */

__kernel void rope_rotate_half(__global float *x, int T, int row_stride,
			       int nheads, int hd, int pos0,
			       __global const float *cos_tab,
			       __global const float *sin_tab)
{
	int i = get_global_id(0), h = get_global_id(1), t = get_global_id(2);
	int nhalf = hd / 2;
	size_t tab = (size_t)(pos0 + t) * nhalf + i;
	__global float *v;
	float c, s, a, b;

	if (i >= nhalf || h >= nheads || t >= T)
		return;
	v = x + (size_t)t * row_stride + (size_t)h * hd;
	c = cos_tab[tab];
	s = sin_tab[tab];
	a = v[i];
	b = v[i + nhalf];
	v[i] = a * c - b * s;
	v[i + nhalf] = b * c + a * s;
}
