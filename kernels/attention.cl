/* SPDX-License-Identifier: MIT */
/*
 * Causal grouped-query attention over a KV cache, with the sliding-window
 * rule of transformers: query at position p sees key j when j <= p and
 * j > p - window (window <= 0: no window).
 *
 * Layouts (f32): query row t at q + t * q_stride, heads at h * hd
 * (q_stride is the row of the fused qkv product); o [T][nh][hd]; the
 * caches k and v [pos][nkv][hd], holding positions 0 .. pos0 + T - 1
 * (kv_store puts the new rows there first; RoPE already applied to k).
 * Query head h reads KV head h / (nh / nkv). head_dim is independent of
 * the hidden size; hd <= ATT_HD_MAX (the backend checks).
 *
 * One work-group of 64 items per (query, head): the items score 64 keys
 * at a time, then fold them into a running (max, sum, acc) softmax so no
 * per-key buffer is needed; each item owns the output dims lid, lid+64, ...
 *
 * attention_prefill: T queries at positions pos0 .. pos0+T-1.
 *   Launch: group size (64,1,1), group count (nh, T, 1).
 * attention_decode: one query at position pos.
 *   Launch: group size (64,1,1), group count (nh, 1, 1).
 * kv_store: kc[pos0 + t][:] = k[t * row_stride ...], same for v, for
 *   t < T rows of kvdim = nkv * hd floats. Global size (>= kvdim, T, 1).
 */

#define ATT_WG 64
#define ATT_HD_MAX 256
#define ATT_DPT (ATT_HD_MAX / ATT_WG)

static void attend(__global const float *q, __global const float *kc,
		   __global const float *vc, __global float *o, int kv_stride,
		   int hd, int p, int window, float scale,
		   __local float *qs, __local float *sc)
{
	int lid = get_local_id(0);
	int jstart = (window > 0 && p - window + 1 > 0) ? p - window + 1 : 0;
	float m = -INFINITY, l = 0.0f;
	float acc[ATT_DPT];

	for (int dd = 0; dd < ATT_DPT; dd++)
		acc[dd] = 0.0f;
	for (int d = lid; d < hd; d += ATT_WG)
		qs[d] = q[d];
	barrier(CLK_LOCAL_MEM_FENCE);

	for (int j0 = jstart; j0 <= p; j0 += ATT_WG) {
		int j = j0 + lid;
		int nvalid = p - j0 + 1 < ATT_WG ? p - j0 + 1 : ATT_WG;
		float s = -INFINITY, cmax, mnew, corr;

		if (j <= p) {
			__global const float *kr = kc + (size_t)j * kv_stride;
			float dot = 0.0f;

			for (int d = 0; d < hd; d++)
				dot += qs[d] * kr[d];
			s = dot * scale;
		}
		sc[lid] = s;
		barrier(CLK_LOCAL_MEM_FENCE);
		cmax = sc[0];
		for (int i = 1; i < nvalid; i++)
			cmax = fmax(cmax, sc[i]);
		mnew = fmax(m, cmax);
		corr = exp(m - mnew);
		l *= corr;
		for (int dd = 0; dd < ATT_DPT; dd++)
			acc[dd] *= corr;
		for (int i = 0; i < nvalid; i++) {
			float pw = exp(sc[i] - mnew);
			__global const float *vr = vc + (size_t)(j0 + i) * kv_stride;

			l += pw;
			for (int dd = 0; dd < ATT_DPT; dd++) {
				int d = lid + dd * ATT_WG;

				if (d < hd)
					acc[dd] += pw * vr[d];
			}
		}
		m = mnew;
		barrier(CLK_LOCAL_MEM_FENCE);
	}
	for (int dd = 0; dd < ATT_DPT; dd++) {
		int d = lid + dd * ATT_WG;

		if (d < hd)
			o[d] = acc[dd] / l;
	}
}

__kernel __attribute__((reqd_work_group_size(ATT_WG, 1, 1)))
void attention_prefill(__global const float *q, int q_stride,
		       __global const float *k, __global const float *v,
		       __global float *o, int T,
		       int nh, int nkv, int hd, int pos0, int window, float scale)
{
	__local float qs[ATT_HD_MAX];
	__local float sc[ATT_WG];
	int h = get_group_id(0), t = get_group_id(1);
	int kvh = h / (nh / nkv);
	size_t qoff = (size_t)t * q_stride + (size_t)h * hd;
	size_t ooff = ((size_t)t * nh + h) * hd;

	attend(q + qoff, k + (size_t)kvh * hd, v + (size_t)kvh * hd, o + ooff,
	       nkv * hd, hd, pos0 + t, window, scale, qs, sc);
}

__kernel __attribute__((reqd_work_group_size(ATT_WG, 1, 1)))
void attention_decode(__global const float *q, __global const float *k,
		      __global const float *v, __global float *o, int nh,
		      int nkv, int hd, int pos, int window, float scale)
{
	__local float qs[ATT_HD_MAX];
	__local float sc[ATT_WG];
	int h = get_group_id(0);
	int kvh = h / (nh / nkv);
	size_t qoff = (size_t)h * hd;

	attend(q + qoff, k + (size_t)kvh * hd, v + (size_t)kvh * hd, o + qoff,
	       nkv * hd, hd, pos, window, scale, qs, sc);
}

__kernel void kv_store(__global const float *k, __global const float *v,
		       int row_stride, __global float *kc, __global float *vc,
		       int T, int kvdim, int pos0)
{
	int c = get_global_id(0), t = get_global_id(1);
	size_t src = (size_t)t * row_stride + c;
	size_t dst = (size_t)(pos0 + t) * kvdim + c;

	if (c >= kvdim || t >= T)
		return;
	kc[dst] = k[src];
	vc[dst] = v[src];
}
