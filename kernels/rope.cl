/* SPDX-License-Identifier: MIT */
/*
 * Default RoPE, rotate-half form (transformers' apply_rotary_pos_emb), in
 * place on T rows of nheads heads of hd values; row t starts at
 * t * row_stride floats and sits at position pos0 + t.
 * inv_freq[i] = 1 / theta^(2i/hd); for i < hd/2 (nhalf):
 *   x[i]      <- x[i] cos - x[i + hd/2] sin
 *   x[i+hd/2] <- x[i + hd/2] cos + x[i] sin
 * Launch: global size (>= hd/2, nheads, T).
 */

__kernel void rope_rotate_half(__global float *x, int T, int nheads, int hd,
			       int row_stride, int pos0, float theta)
{
	int i = get_global_id(0), h = get_global_id(1), t = get_global_id(2);
	int nhalf = hd / 2;
	__global float *v;
	float inv_freq, ang, c, s, a, b;

	if (i >= nhalf || h >= nheads || t >= T)
		return;
	v = x + (size_t)t * row_stride + (size_t)h * hd;
	inv_freq = 1.0f / pow(theta, (float)(2 * i) / (float)hd);
	ang = (float)(pos0 + t) * inv_freq;
	c = cos(ang);
	s = sin(ang);
	a = v[i];
	b = v[i + nhalf];
	v[i] = a * c - b * s;
	v[i + nhalf] = b * c + a * s;
}
