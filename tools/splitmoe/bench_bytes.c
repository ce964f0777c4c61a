// SPDX-License-Identifier: MIT
/* splitmoe bench: the weight bytes a token reads (bench.h). */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

static double numel(const struct phimoe_tensor *t)
{
	return t->data ? (double)t->numel : 0.0;
}

/* Bytes per weight of a [n][k] projection as the CPU reads it: a
 * quantized file's codes and scales in place, or --quant's copy. */
static double weight_size(const struct phimoe_tensor *t, double es, enum sm_quant q)
{
	if (t->data && t->quant != PHIMOE_QUANT_NONE)
		return (t->quant == PHIMOE_QUANT_INT8 ? 1.0 : 0.5) + 2.0 / SM_Q4_GROUP;
	if (q == SM_QUANT_NONE || !t->data || t->ndim != 2 || !sm_quant_fits(q, (int)t->shape[1]))
		return es;
	return (q == SM_QUANT_INT8 ? 1.0 : 0.5) + 2.0 / SM_Q4_GROUP;
}

void bench_bytes_init(const struct phimoe_model *m, enum sm_compute c, enum sm_quant q,
		      struct bench_bytes *b)
{
	const struct phimoe_config *k = &m->cfg;
	double es = c == SM_COMPUTE_F32 ? 4.0 : 2.0, dense = 0;
	int l;

	memset(b, 0, sizeof(*b));
	for (l = 0; l < k->num_hidden_layers; l++) {
		const struct phimoe_layer *L = &m->layers[l];
		const struct phimoe_tensor *t[] = {
			&L->input_layernorm_w, &L->input_layernorm_b, &L->q_b, &L->k_b, &L->v_b,
			&L->o_b, &L->post_attention_layernorm_w, &L->post_attention_layernorm_b,
		};
		const struct phimoe_tensor *w[] = { &L->q_w, &L->k_w, &L->v_w, &L->o_w };
		size_t i;

		for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
			dense += numel(t[i]) * es;
		for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
			dense += numel(w[i]) * weight_size(w[i], es, q);
		/* --quant never quantizes the router; a file may hold it quantized */
		dense += numel(&L->router_w) * weight_size(&L->router_w, es, SM_QUANT_NONE);
	}
	b->head = (numel(&m->norm_w) + numel(&m->norm_b) + numel(&m->lm_head_b)) * es +
		  numel(&m->lm_head_w) * weight_size(&m->lm_head_w, es, q);
	b->dense = dense + b->head;
	if (k->num_hidden_layers > 0) {
		const struct phimoe_expert *x = &m->layers[0].experts[0];
		bool fits = weight_size(&x->w1, es, q) != es && weight_size(&x->w2, es, q) != es;
		double xs = fits ? weight_size(&x->w1, es, q) : es;

		b->expert = (numel(&x->w1) + numel(&x->w3) + numel(&x->w2)) * xs;
	}
	b->embed_row = (double)k->hidden_size * (double)phimoe_dtype_size(m->embed_tokens.dtype);
	b->layers = k->num_hidden_layers;
	b->experts = k->num_local_experts;
	b->top_k = k->num_experts_per_tok;
}

double bench_bytes_decode(const struct bench_bytes *b)
{
	return b->dense + (double)b->layers * b->top_k * b->expert + b->embed_row;
}

double bench_bytes_prefill(const struct bench_bytes *b, const int32_t *experts, int n,
			   int chunk)
{
	bool *used = calloc((size_t)(b->experts > 0 ? b->experts : 1), sizeof(*used));
	double total = 0;
	int c0, l, r, j, e;

	for (c0 = 0; c0 < n; c0 += chunk) {
		int c1 = c0 + chunk < n ? c0 + chunk : n;

		/* the final norm and lm_head: the last chunk's last row only */
		total += b->dense - (c1 < n ? b->head : 0) + (double)(c1 - c0) * b->embed_row;
		for (l = 0; l < b->layers; l++) {
			int distinct = 0;

			if (!used || !experts) {	/* no routing at hand: every expert */
				total += (double)b->experts * b->expert;
				continue;
			}
			memset(used, 0, sizeof(*used) * (size_t)b->experts);
			for (r = c0; r < c1; r++)
				for (j = 0; j < b->top_k; j++) {
					e = experts[((size_t)l * n + r) * b->top_k + j];
					if (e >= 0 && e < b->experts && !used[e]) {
						used[e] = true;
						distinct++;
					}
				}
			total += distinct * b->expert;
		}
	}
	free(used);
	return total;
}
