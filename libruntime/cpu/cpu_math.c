// SPDX-License-Identifier: MIT
/* The non-matmul pieces of the forward pass; see cpu_math.h. */
#include "cpu/cpu_math.h"
#include "cpu/cpu_isa.h"

#include <math.h>
#include <string.h>

/*
 * The sums of a LayerNorm row: of x, and of (x - mean)^2, in double.
 * Decode's row of 4096 is the whole op's cost: `omp simd` gave one
 * vector of 2 doubles (the baseline build), about 9 us a row on the
 * 16-core machine and 64 rows a token. Here 4 accumulators of 8 doubles
 * (GCC's vector extension: zmm under AVX-512, pairs of ymm under AVX2,
 * xmm quads in the baseline), in one order on every path.
 */
typedef double v8d __attribute__((vector_size(64)));
typedef float v8f __attribute__((vector_size(32)));

/* 8 floats widened (through a pointer: a vector returned by value is an
 * ABI that changes with the target) */
static inline __attribute__((always_inline)) void load8(const float *x, v8d *out)
{
	v8f f;

	memcpy(&f, x, sizeof(f));
	*out = __builtin_convertvector(f, v8d);
}

static inline __attribute__((always_inline)) double lanes_sum(const v8d *a)
{
	v8d s = (a[0] + a[1]) + (a[2] + a[3]);
	double t = 0.0;

	for (int l = 0; l < 8; l++)
		t += s[l];
	return t;
}

static inline __attribute__((always_inline)) void sums_body(const float *x, int n, double *out)
{
	int end = n / 32 * 32;
	v8d a[4] = { { 0 } };
	double sum, sq, mean;

	for (int i = 0; i < end; i += 32)
		for (int j = 0; j < 4; j++) {
			v8d v;

			load8(x + i + 8 * j, &v);
			a[j] += v;
		}
	sum = lanes_sum(a);
	for (int i = end; i < n; i++)
		sum += x[i];
	mean = sum / n;
	for (int j = 0; j < 4; j++)
		a[j] = (v8d){ 0 };
	for (int i = 0; i < end; i += 32)
		for (int j = 0; j < 4; j++) {
			v8d d;

			load8(x + i + 8 * j, &d);
			d -= mean;
			a[j] += d * d;
		}
	sq = lanes_sum(a);
	for (int i = end; i < n; i++)
		sq += ((double)x[i] - mean) * ((double)x[i] - mean);
	out[0] = sum;
	out[1] = sq;
}

#if defined(__x86_64__)
static __attribute__((target("avx512f,avx512dq"))) void sums_avx512(const float *x, int n,
								   double *out)
{
	sums_body(x, n, out);
}

static __attribute__((target("avx2"))) void sums_avx2(const float *x, int n, double *out)
{
	sums_body(x, n, out);
}
#endif

/* out[0] = sum of x, out[1] = sum of (x - mean)^2 */
static void layernorm_sums(const float *x, int n, double *out)
{
#if defined(__x86_64__)
	switch (sm_isa_active()) {
	case SM_ISA_AVX512:
		sums_avx512(x, n, out);
		return;
	case SM_ISA_AVX2:
		sums_avx2(x, n, out);
		return;
	default:
		break;
	}
#endif
	sums_body(x, n, out);
}

void cm_layernorm(const float *x, int m, int n, const float *gamma,
		  const float *beta, float eps, float *y)
{
	for (int r = 0; r < m; r++) {
		const float *xr = x + (size_t)r * n;
		float *yr = y + (size_t)r * n;
		double s[2];

		layernorm_sums(xr, n, s);
		double mean = s[0] / n;
		float rstd = (float)(1.0 / sqrt(s[1] / n + (double)eps));
		float fmean = (float)mean;
#pragma omp simd
		for (int i = 0; i < n; i++)
			yr[i] = (xr[i] - fmean) * rstd * gamma[i] + beta[i];
	}
}

void cm_rope_tables(int max_seq, int head_dim, double theta, float *cos_tab,
		    float *sin_tab)
{
	int half = head_dim / 2;

	for (int i = 0; i < half; i++) {
		/* torch: 1.0 / base ** (arange(0, d, 2).float() / d), in f32 */
		float expo = (float)(2 * i) / (float)head_dim;
		float inv = 1.0f / powf((float)theta, expo);

		for (int p = 0; p < max_seq; p++) {
			float ang = (float)p * inv;

			cos_tab[(size_t)p * half + i] = (float)cos((double)ang);
			sin_tab[(size_t)p * half + i] = (float)sin((double)ang);
		}
	}
}

void cm_rope(float *x, int m, int row_stride, int heads, int head_dim,
	     int pos0, const float *cos_tab, const float *sin_tab)
{
	int half = head_dim / 2;

	for (int r = 0; r < m; r++) {
		const float *c = cos_tab + (size_t)(pos0 + r) * half;
		const float *s = sin_tab + (size_t)(pos0 + r) * half;

		for (int h = 0; h < heads; h++) {
			float *v = x + (size_t)r * row_stride + (size_t)h * head_dim;

			for (int i = 0; i < half; i++) {
				float a = v[i], b = v[i + half];

				v[i] = a * c[i] - b * s[i];
				v[i + half] = b * c[i] + a * s[i];
			}
		}
	}
}

void cm_kv_append(const float *k, const float *v, int row_stride, int m,
		  int pos0, int kv_dim, float *k_cache, float *v_cache)
{
	for (int r = 0; r < m; r++) {
		memcpy(k_cache + (size_t)(pos0 + r) * kv_dim,
		       k + (size_t)r * row_stride, sizeof(float) * kv_dim);
		memcpy(v_cache + (size_t)(pos0 + r) * kv_dim,
		       v + (size_t)r * row_stride, sizeof(float) * kv_dim);
	}
}

void cm_attention(const float *q, int q_stride, int m, int pos0,
		  int n_heads, int n_kv_heads, int head_dim, int window,
		  float scale, const float *k_cache, const float *v_cache,
		  float *out, float *scratch)
{
	int group = n_heads / n_kv_heads;
	int kv_dim = n_kv_heads * head_dim;

	for (int r = 0; r < m; r++) {
		int i = pos0 + r;
		int j0 = (window > 0 && i - window + 1 > 0) ? i - window + 1 : 0;

		for (int h = 0; h < n_heads; h++) {
			const float *qh = q + (size_t)r * q_stride + (size_t)h * head_dim;
			int kvh = h / group;
			float *o = out + (size_t)r * n_heads * head_dim + (size_t)h * head_dim;
			float mx = -INFINITY;

			for (int j = j0; j <= i; j++) {
				const float *kj = k_cache + (size_t)j * kv_dim + (size_t)kvh * head_dim;
				float dot = 0.0f;

				for (int d = 0; d < head_dim; d++)
					dot += qh[d] * kj[d];
				dot *= scale;
				scratch[j] = dot;
				if (dot > mx)
					mx = dot;
			}
			float sum = 0.0f;

			for (int j = j0; j <= i; j++) {
				scratch[j] = expf(scratch[j] - mx);
				sum += scratch[j];
			}
			float inv = 1.0f / sum;

			memset(o, 0, sizeof(float) * head_dim);
			for (int j = j0; j <= i; j++) {
				const float *vj = v_cache + (size_t)j * kv_dim + (size_t)kvh * head_dim;
				float p = scratch[j] * inv;

				for (int d = 0; d < head_dim; d++)
					o[d] += p * vj[d];
			}
		}
	}
}

/* Softmax weight, at index `at`, over the scores not masked by the
 * sparsemixer threshold relative to `mx` (the reference maximum). */
static float sparsemixer_weight(const float *masked, const float *orig, int n,
				float mx, float thr, int at)
{
	float sum = 0.0f;

	for (int j = 0; j < n; j++) {
		float fac = fabsf(orig[j]) < mx ? mx : fabsf(orig[j]);

		if ((mx - orig[j]) / fac > thr)
			continue;	/* masked */
		if (masked[j] == -INFINITY)
			continue;
		sum += expf(masked[j] - mx);
	}
	return expf(masked[at] - mx) / sum;
}

void cm_sparsemixer_top2(const float *scores, int n, float jitter_eps,
			 int32_t experts[2], float weights[2])
{
	float thr = (float)(2.0 * (double)jitter_eps);
	int a = 0, b = -1;

	for (int j = 1; j < n; j++)
		if (scores[j] > scores[a])
			a = j;
	experts[0] = a;
	weights[0] = sparsemixer_weight(scores, scores, n, scores[a], thr, a);

	/* second expert: the first masked out, threshold against the
	 * original scores (so the first one's own term never passes it) */
	float masked[n];

	for (int j = 0; j < n; j++) {
		masked[j] = j == a ? -INFINITY : scores[j];
		if (j != a && (b < 0 || masked[j] > masked[b]))
			b = j;
	}
	if (b < 0) {		/* a single expert */
		experts[1] = a;
		weights[1] = 0.0f;
		return;
	}
	experts[1] = b;
	weights[1] = sparsemixer_weight(masked, scores, n, masked[b], thr, b);
}

void cm_silu_gate_cols(const float *h, int inter, int c0, int c1, float *g)
{
	for (int i = c0; i < c1; i++)
		g[i] = h[i] / (1.0f + expf(-h[i])) * h[inter + i];
}

void cm_silu_gate(const float *h, int m, int inter, float *g)
{
	for (int r = 0; r < m; r++)
		cm_silu_gate_cols(h + (size_t)r * 2 * inter, inter, 0, inter, g + (size_t)r * inter);
}

void cm_gather(const float *src, int cols, const int32_t *rows, int n, float *dst)
{
	for (int i = 0; i < n; i++)
		memcpy(dst + (size_t)i * cols, src + (size_t)rows[i] * cols,
		       sizeof(float) * cols);
}

void cm_scatter_add(const float *src, int cols, const int32_t *rows, int n, float *dst)
{
	for (int i = 0; i < n; i++) {
		float *d = dst + (size_t)rows[i] * cols;
		const float *s = src + (size_t)i * cols;

		for (int c = 0; c < cols; c++)
			d[c] += s[c];
	}
}

void cm_add(float *y, const float *x, size_t n)
{
#pragma omp simd
	for (size_t i = 0; i < n; i++)
		y[i] += x[i];
}

void cm_scale_rows(float *y, int m, int cols, const float *scale)
{
	for (int r = 0; r < m; r++)
		for (int c = 0; c < cols; c++)
			y[(size_t)r * cols + c] *= scale[r];
}

static inline uint16_t bf16_round(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	if ((u & 0x7fffffffu) > 0x7f800000u)	/* NaN stays NaN */
		return (uint16_t)((u >> 16) | 0x40);
	u += 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

static inline float bf16_value(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

void cm_f32_to_bf16(const float *src, uint16_t *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = bf16_round(src[i]);
}

void cm_f32_to_bf16_split(const float *src, uint16_t *hi, uint16_t *lo, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint16_t h = bf16_round(src[i]);
		float rest = src[i] - bf16_value(h);

		hi[i] = h;
		/* inf/NaN: the rest is NaN; keep it zero so hi alone carries it */
		lo[i] = rest == rest ? bf16_round(rest) : 0;
	}
}
