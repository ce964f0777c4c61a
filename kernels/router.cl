/* SPDX-License-Identifier: MIT */
/*
 * PhiMoE routing. The router scores themselves are a projection
 * (matmul.cl, no bias): logits[T][E].
 *
 * sparsemixer_top2: transformers' PhiMoE sparsemixer in eval mode, one work
 *   item per token. First expert: the argmax (first one on ties); scores
 *   whose (max - s) / max(|s|, max) exceeds 2 * jitter_eps are masked, the
 *   rest go through a softmax and the argmax's probability is its weight.
 *   Second expert: the same with the first expert's score set to -inf,
 *   the threshold measured against the original scores. The two weights
 *   are not renormalised. Writes sel[T][2] and wts[T][2].
 *   Launch: any group size, global size >= T in dimension 0.
 */

__kernel void sparsemixer_top2(__global const float *logits, int T, int E,
			       float jitter_eps, __global int *sel,
			       __global float *wts)
{
	int t = get_global_id(0);
	__global const float *s = logits + (size_t)t * E;
	float thr = 2.0f * jitter_eps;
	float max1, max2, sum;
	int i1 = 0, i2 = -1;

	if (t >= T)
		return;
	max1 = s[0];
	for (int e = 1; e < E; e++)
		if (s[e] > max1) {
			max1 = s[e];
			i1 = e;
		}
	sum = 0.0f;
	for (int e = 0; e < E; e++)
		if (!((max1 - s[e]) / fmax(fabs(s[e]), max1) > thr))
			sum += exp(s[e] - max1);

	max2 = -INFINITY;
	for (int e = 0; e < E; e++)
		if (e != i1 && (i2 < 0 || s[e] > max2)) {
			max2 = s[e];
			i2 = e;
		}
	sel[2 * t] = i1;
	wts[2 * t] = 1.0f / sum;

	sum = 0.0f;
	for (int e = 0; e < E; e++)
		if (e != i1 && !((max2 - s[e]) / fmax(fabs(s[e]), max2) > thr))
			sum += exp(s[e] - max2);
	sel[2 * t + 1] = i2;
	wts[2 * t + 1] = 1.0f / sum;
}
