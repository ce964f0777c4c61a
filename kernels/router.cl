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
 * moe_route: groups the 2T (token, choice) slots by expert, in token order
 *   within an expert: offsets[E+1] (slots of expert e are
 *   offsets[e]..offsets[e+1]-1), slot_token[2T] (the token of each slot)
 *   and token_slot[T][2] (the slot of each choice). One work item: the
 *   work is O(E*T) integer steps, small beside the experts it feeds.
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

__kernel void moe_route(__global const int *sel, int T, int E,
			__global int *offsets, __global int *slot_token,
			__global int *token_slot)
{
	int pos = 0;

	if (get_global_id(0) != 0)
		return;
	for (int e = 0; e < E; e++) {
		offsets[e] = pos;
		for (int t = 0; t < T; t++)
			for (int j = 0; j < 2; j++)
				if (sel[2 * t + j] == e) {
					slot_token[pos] = t;
					token_slot[2 * t + j] = pos;
					pos++;
				}
	}
	offsets[E] = pos;
}
