/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_ref.h"

float bf16_to_f32(uint16_t b)
{
	uint32_t u = (uint32_t)b << 16;
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

uint16_t f32_to_bf16(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	u += 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

void ref_linear(const float *x, const float *w, const float *b, float *y, int M, int N, int K)
{
	for (int m = 0; m < M; m++)
		for (int n = 0; n < N; n++) {
			double acc = b ? b[n] : 0.0;

			for (int k = 0; k < K; k++)
				acc += (double)x[(size_t)m * K + k] * w[(size_t)n * K + k];
			y[(size_t)m * N + n] = (float)acc;
		}
}

void ref_gate_up(const float *x, const float *w1, const float *w3, float *h, int M, int I, int H)
{
	for (int m = 0; m < M; m++)
		for (int i = 0; i < I; i++) {
			double a1 = 0, a3 = 0;

			for (int k = 0; k < H; k++) {
				a1 += (double)x[(size_t)m * H + k] * w1[(size_t)i * H + k];
				a3 += (double)x[(size_t)m * H + k] * w3[(size_t)i * H + k];
			}
			h[(size_t)m * I + i] = (float)(a1 / (1.0 + exp(-a1)) * a3);
		}
}

/*
 * transformers' sparsemixer (eval): per token, with masked arrays.
 *   threshold, idx = max(scores); factor = clamp(|scores|, min=threshold)
 *   mask = (threshold - scores) / factor > 2 * eps
 *   gates = softmax(scores masked to -inf); weight = gates[idx]
 *   second: scores with idx set to -inf, same with its own max, the
 *   mask computed against the original scores.
 */
void ref_sparsemixer(const float *scores, int T, int E, float jitter_eps, int *sel, float *wts)
{
	float *masked = malloc((size_t)E * sizeof(float));
	float *s2 = malloc((size_t)E * sizeof(float));

	for (int t = 0; t < T; t++) {
		const float *s = scores + (size_t)t * E;

		for (int round = 0; round < 2; round++) {
			const float *src = round == 0 ? s : s2;
			float thr;
			int idx = 0;
			double sum = 0, mx;

			if (round == 1) {
				memcpy(s2, s, (size_t)E * sizeof(float));
				s2[sel[2 * t]] = -INFINITY;
			}
			for (int e = 1; e < E; e++)
				if (src[e] > src[idx])
					idx = e;
			thr = src[idx];
			for (int e = 0; e < E; e++) {
				float factor = fabsf(s[e]) > thr ? fabsf(s[e]) : thr;
				int m = (thr - s[e]) / factor > 2.0f * jitter_eps;

				masked[e] = m ? -INFINITY : src[e];
			}
			mx = masked[idx];
			for (int e = 0; e < E; e++)
				sum += exp((double)masked[e] - mx);
			sel[2 * t + round] = idx;
			wts[2 * t + round] = (float)(1.0 / sum);
		}
	}
	free(masked);
	free(s2);
}

void ref_layernorm(const float *x, const float *w, const float *b, float *y, int T, int H,
		   float eps)
{
	for (int t = 0; t < T; t++) {
		const float *r = x + (size_t)t * H;
		double mean = 0, var = 0;

		for (int k = 0; k < H; k++)
			mean += r[k];
		mean /= H;
		for (int k = 0; k < H; k++)
			var += (r[k] - mean) * (r[k] - mean);
		var /= H;
		for (int k = 0; k < H; k++)
			y[(size_t)t * H + k] = (float)((r[k] - mean) / sqrt(var + eps) * w[k] + b[k]);
	}
}

void ref_rope(float *x, int T, int row_stride, int nheads, int hd, int pos0,
	      const float *cos_tab, const float *sin_tab)
{
	int half = hd / 2;

	for (int t = 0; t < T; t++)
		for (int h = 0; h < nheads; h++) {
			float *v = x + (size_t)t * row_stride + (size_t)h * hd;

			for (int i = 0; i < half; i++) {
				float c = cos_tab[(size_t)(pos0 + t) * half + i];
				float s = sin_tab[(size_t)(pos0 + t) * half + i];
				float a = v[i], bb = v[i + half];

				v[i] = a * c - bb * s;
				v[i + half] = bb * c + a * s;
			}
		}
}

void ref_attention(const float *q, int q_stride, const float *kc, const float *vc, float *o,
		   int T, int nh, int nkv, int hd, int pos0, int window, float scale)
{
	int kvdim = nkv * hd;
	double *p = malloc((size_t)(pos0 + T) * sizeof(double));

	for (int t = 0; t < T; t++)
		for (int h = 0; h < nh; h++) {
			int pos = pos0 + t, kvh = h / (nh / nkv);
			const float *qr = q + (size_t)t * q_stride + (size_t)h * hd;
			double mx = -INFINITY, sum = 0;

			for (int j = 0; j <= pos; j++) {
				double d = 0;

				p[j] = -INFINITY;
				if (window > 0 && j <= pos - window)
					continue;
				for (int c = 0; c < hd; c++)
					d += (double)qr[c] * kc[(size_t)j * kvdim + kvh * hd + c];
				p[j] = d * scale;
				if (p[j] > mx)
					mx = p[j];
			}
			for (int j = 0; j <= pos; j++) {
				p[j] = exp(p[j] - mx);
				sum += p[j];
			}
			for (int c = 0; c < hd; c++) {
				double acc = 0;

				for (int j = 0; j <= pos; j++)
					acc += p[j] * vc[(size_t)j * kvdim + kvh * hd + c];
				o[((size_t)t * nh + h) * hd + c] = (float)(acc / sum);
			}
		}
	free(p);
}
