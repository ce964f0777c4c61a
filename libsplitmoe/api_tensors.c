// SPDX-License-Identifier: MIT
/*
 * include/splitmoe.h, api-bench's model part: hyperparameters, read-only
 * tensor views, the weight bytes a token reads, the model's routing.
 */
#include "splitmoe.h"
#include "api_internal.h"

#include "config/options.h"
#include "cpu/cpu_math.h"
#include "cpu/quant.h"
#include "model/dtype.h"

#include <stdbool.h>
#include <string.h>

static splitmoe_quant quant_out(enum phimoe_quant q)
{
	return q == PHIMOE_QUANT_INT8 ? SPLITMOE_QUANT_INT8 :
	       q == PHIMOE_QUANT_Q4 ? SPLITMOE_QUANT_Q4 : SPLITMOE_QUANT_NONE;
}

const char *splitmoe_dtype_name(splitmoe_dtype t)
{
	if ((unsigned)t > SPLITMOE_DTYPE_U8)
		return "?";
	return phimoe_dtype_name((enum phimoe_dtype)t);
}

void splitmoe_model_hparams(const splitmoe_model *m, struct splitmoe_hparams *hp)
{
	const struct phimoe_config *k = &m->m.cfg;

	memset(hp, 0, sizeof(*hp));
	if (!m->weights)
		return;
	*hp = (struct splitmoe_hparams){
		.vocab = k->vocab_size,
		.hidden = k->hidden_size,
		.intermediate = k->intermediate_size,
		.layers = k->num_hidden_layers,
		.heads = k->num_attention_heads,
		.kv_heads = k->num_key_value_heads,
		.head_dim = k->head_dim,
		.experts = k->num_local_experts,
		.experts_per_token = k->num_experts_per_tok,
		.max_positions = k->max_position_embeddings,
		.sliding_window = k->sliding_window,
		.rope_theta = k->rope_theta,
		.norm_eps = k->norm_eps,
		.router_jitter_noise = k->router_jitter_noise,
		.attention_bias = k->attention_bias,
		.lm_head_bias = k->lm_head_bias,
		.tie_word_embeddings = k->tie_word_embeddings,
		.storage_dtype = (splitmoe_dtype)k->storage_dtype,
		.quant = quant_out(k->quant),
		.quant_group = k->quant_group,
	};
}

/* Calls visit on every present tensor in the order splitmoe.h documents,
 * stopping when it returns true; returns that tensor or NULL. */
static const struct phimoe_tensor *walk(const struct phimoe_model *m,
					bool (*visit)(const struct phimoe_tensor *t, void *arg),
					void *arg)
{
	const struct phimoe_tensor *head[] = { &m->embed_tokens, &m->norm_w, &m->norm_b,
					       &m->lm_head_w, &m->lm_head_b };
	size_t i;

#define VISIT(t) do { \
		if ((t)->data && visit((t), arg)) \
			return (t); \
	} while (0)
	for (i = 0; i < sizeof(head) / sizeof(head[0]); i++)
		VISIT(head[i]);
	for (int l = 0; m->layers && l < m->cfg.num_hidden_layers; l++) {
		const struct phimoe_layer *L = &m->layers[l];
		const struct phimoe_tensor *t[] = {
			&L->input_layernorm_w, &L->input_layernorm_b, &L->q_w, &L->q_b,
			&L->k_w, &L->k_b, &L->v_w, &L->v_b, &L->o_w, &L->o_b,
			&L->post_attention_layernorm_w, &L->post_attention_layernorm_b,
			&L->router_w,
		};

		for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
			VISIT(t[i]);
		for (int e = 0; e < m->cfg.num_local_experts; e++) {
			VISIT(&L->experts[e].w1);
			VISIT(&L->experts[e].w2);
			VISIT(&L->experts[e].w3);
		}
	}
#undef VISIT
	return NULL;
}

static bool count_one(const struct phimoe_tensor *t, void *arg)
{
	(void)t;
	return --*(int *)arg < 0;	/* stops at the index counted down to */
}

static bool same_name(const struct phimoe_tensor *t, void *arg)
{
	return t->name && !strcmp(t->name, (const char *)arg);
}

static void view(const struct phimoe_tensor *t, struct splitmoe_tensor *out)
{
	*out = (struct splitmoe_tensor){
		.name = t->name,
		.dtype = (splitmoe_dtype)t->dtype,
		.ndim = t->ndim,
		.shape = { t->shape[0], t->shape[1] },
		.numel = t->numel,
		.nbytes = t->nbytes,
		.data = t->data,
		.quant = quant_out(t->quant),
		.scale = t->scale,
		.scale_nbytes = t->scale_nbytes,
	};
}

static bool count_all(const struct phimoe_tensor *t, void *arg)
{
	(void)t;
	++*(int *)arg;
	return false;
}

int splitmoe_model_tensor_count(const splitmoe_model *m)
{
	int n = 0;

	if (m->weights)
		walk(&m->m, count_all, &n);
	return n;
}

splitmoe_status splitmoe_model_tensor(const splitmoe_model *m, int i, struct splitmoe_tensor *t)
{
	const struct phimoe_tensor *pt;

	if (!m->weights || i < 0 || !t)
		return SPLITMOE_ERR_INVALID;
	pt = walk(&m->m, count_one, &i);
	if (!pt)
		return SPLITMOE_ERR_INVALID;
	view(pt, t);
	return SPLITMOE_OK;
}

splitmoe_status splitmoe_model_tensor_by_name(const splitmoe_model *m, const char *name,
					      struct splitmoe_tensor *t)
{
	const struct phimoe_tensor *pt;

	if (!m->weights || !name || !t)
		return SPLITMOE_ERR_INVALID;
	pt = walk(&m->m, same_name, (void *)name);
	if (!pt)
		return SPLITMOE_ERR_INVALID;
	view(pt, t);
	return SPLITMOE_OK;
}

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

splitmoe_status splitmoe_model_token_bytes(const splitmoe_model *m, splitmoe_compute c,
					   splitmoe_quant quant, struct splitmoe_token_bytes *b)
{
	static const enum sm_quant quants[] = { SM_QUANT_NONE, SM_QUANT_INT8, SM_QUANT_Q4 };
	const struct phimoe_model *pm = &m->m;
	const struct phimoe_config *k = &pm->cfg;
	double es, dense = 0;
	enum sm_quant q;

	if (!m->weights || !b || (unsigned)quant > SPLITMOE_QUANT_Q4 ||
	    (unsigned)c > SPLITMOE_COMPUTE_BF16)
		return SPLITMOE_ERR_INVALID;
	q = quants[quant];
	if (c == SPLITMOE_COMPUTE_AUTO)
		c = sm_compute_default() == SM_COMPUTE_F32 ? SPLITMOE_COMPUTE_F32 :
		    SPLITMOE_COMPUTE_BF16;
	es = c == SPLITMOE_COMPUTE_F32 ? 4.0 : 2.0;
	memset(b, 0, sizeof(*b));
	for (int l = 0; l < k->num_hidden_layers; l++) {
		const struct phimoe_layer *L = &pm->layers[l];
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
	b->head = (numel(&pm->norm_w) + numel(&pm->norm_b) + numel(&pm->lm_head_b)) * es +
		  numel(&pm->lm_head_w) * weight_size(&pm->lm_head_w, es, q);
	b->dense = dense + b->head;
	if (k->num_hidden_layers > 0) {
		const struct phimoe_expert *x = &pm->layers[0].experts[0];
		bool fits = weight_size(&x->w1, es, q) != es && weight_size(&x->w2, es, q) != es;
		double xs = fits ? weight_size(&x->w1, es, q) : es;

		b->expert = (numel(&x->w1) + numel(&x->w3) + numel(&x->w2)) * xs;
	}
	b->embed_row = (double)k->hidden_size * (double)phimoe_dtype_size(pm->embed_tokens.dtype);
	return SPLITMOE_OK;
}

void splitmoe_model_route(const splitmoe_model *m, const float *router_logits,
			  int32_t *experts, float *weights)
{
	cm_sparsemixer_top2(router_logits, m->m.cfg.num_local_experts,
			    (float)m->m.cfg.router_jitter_noise, experts, weights);
}

const struct phimoe_model *sm_api_model_runtime(const splitmoe_model *m)
{
	return &m->m;
}
