// SPDX-License-Identifier: MIT
/*
 * include/splitmoe.h, the model part: read-only tensor views and
 * the model's routing.
 */
#include "splitmoe.h"
#include "api_internal.h"

#include "cpu/cpu_math.h"
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
