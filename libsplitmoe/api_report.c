// SPDX-License-Identifier: MIT
/* Read-only reports on a model and a session (the figures the CLI prints). */
#include "api_internal.h"

#include "arbiter/arbiter.h"
#include "cpu/gemv_desc.h"
#include "model/dtype.h"
#include "ze/ze_backend.h"

#include <string.h>

void splitmoe_model_info(const splitmoe_model *m, struct splitmoe_model_info *out)
{
	const struct phimoe_config *k = &m->m.cfg;
	struct phimoe_model_stats st;

	memset(out, 0, sizeof(*out));
	out->dir = m->m.dir;
	out->load_quant_group = SM_Q4_GROUP;
	out->storage_dtype = "";
	if (!m->weights)
		return;
	phimoe_model_stats(&m->m, &st);
	*out = (struct splitmoe_model_info){
		.dir = m->m.dir,
		.layers = k->num_hidden_layers, .hidden = k->hidden_size,
		.heads = k->num_attention_heads, .kv_heads = k->num_key_value_heads,
		.head_dim = k->head_dim, .experts = k->num_local_experts,
		.experts_per_token = k->num_experts_per_tok, .intermediate = k->intermediate_size,
		.vocab = k->vocab_size, .max_positions = k->max_position_embeddings,
		.storage_dtype = phimoe_dtype_name(k->storage_dtype),
		.storage_compute = k->storage_dtype == PHIMOE_DTYPE_BF16 ? SPLITMOE_COMPUTE_BF16 :
				   k->storage_dtype == PHIMOE_DTYPE_F32 ? SPLITMOE_COMPUTE_F32 :
				   SPLITMOE_COMPUTE_AUTO,
		.file_quant = sm_api_quant_of((enum sm_quant)k->quant),
		.file_quant_group = k->quant_group,
		.load_quant_group = SM_Q4_GROUP,
		.params = st.params, .expert_params = st.expert_params,
		.active_params_per_token = st.active_params_per_token,
		.bytes = st.bytes, .active_bytes_per_token = st.active_bytes_per_token,
	};
}

static double numel(const struct phimoe_tensor *t)
{
	return t->data ? (double)t->numel : 0.0;
}

/* Bytes per weight of a [n][k] projection as the CPU reads it: a
 * quantized file's codes and scales in place, or the load-time copy. */
static double weight_size(const struct phimoe_tensor *t, double es, enum sm_quant q)
{
	if (t->data && t->quant != PHIMOE_QUANT_NONE)
		return (t->quant == PHIMOE_QUANT_INT8 ? 1.0 : 0.5) + 2.0 / SM_Q4_GROUP;
	if (q == SM_QUANT_NONE || !t->data || t->ndim != 2 || !sm_quant_fits(q, (int)t->shape[1]))
		return es;
	return (q == SM_QUANT_INT8 ? 1.0 : 0.5) + 2.0 / SM_Q4_GROUP;
}

void splitmoe_model_token_bytes(const splitmoe_model *m, splitmoe_compute compute,
				splitmoe_quant quant, struct splitmoe_token_bytes *b)
{
	const struct phimoe_config *k = &m->m.cfg;
	enum sm_quant q = quant == SPLITMOE_QUANT_INT8 ? SM_QUANT_INT8 :
			  quant == SPLITMOE_QUANT_Q4 ? SM_QUANT_Q4 : SM_QUANT_NONE;
	double es, dense = 0;

	if (compute == SPLITMOE_COMPUTE_AUTO)
		compute = splitmoe_compute_default();
	es = compute == SPLITMOE_COMPUTE_F32 ? 4.0 : 2.0;
	memset(b, 0, sizeof(*b));
	if (!m->weights)
		return;
	for (int l = 0; l < k->num_hidden_layers; l++) {
		const struct phimoe_layer *L = &m->m.layers[l];
		const struct phimoe_tensor *t[] = {
			&L->input_layernorm_w, &L->input_layernorm_b, &L->q_b, &L->k_b, &L->v_b,
			&L->o_b, &L->post_attention_layernorm_w, &L->post_attention_layernorm_b,
		};
		const struct phimoe_tensor *w[] = { &L->q_w, &L->k_w, &L->v_w, &L->o_w };

		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
			dense += numel(t[i]) * es;
		for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
			dense += numel(w[i]) * weight_size(w[i], es, q);
		/* a load-time quant never takes the router; a file may hold it quantized */
		dense += numel(&L->router_w) * weight_size(&L->router_w, es, SM_QUANT_NONE);
	}
	b->head = (numel(&m->m.norm_w) + numel(&m->m.norm_b) + numel(&m->m.lm_head_b)) * es +
		  numel(&m->m.lm_head_w) * weight_size(&m->m.lm_head_w, es, q);
	b->dense = dense + b->head;
	if (k->num_hidden_layers > 0) {
		const struct phimoe_expert *x = &m->m.layers[0].experts[0];
		bool fits = weight_size(&x->w1, es, q) != es && weight_size(&x->w2, es, q) != es;
		double xs = fits ? weight_size(&x->w1, es, q) : es;

		b->expert = (numel(&x->w1) + numel(&x->w3) + numel(&x->w2)) * xs;
	}
	b->embed_row = (double)k->hidden_size * (double)phimoe_dtype_size(m->m.embed_tokens.dtype);
	b->layers = k->num_hidden_layers;
	b->experts = k->num_local_experts;
	b->top_k = k->num_experts_per_tok;
}

double splitmoe_token_bytes_decode(const struct splitmoe_token_bytes *b)
{
	return b->dense + (double)b->layers * b->top_k * b->expert + b->embed_row;
}

splitmoe_compute splitmoe_compute_default(void)
{
	return sm_compute_default() == SM_COMPUTE_BF16 ? SPLITMOE_COMPUTE_BF16 : SPLITMOE_COMPUTE_F32;
}

bool splitmoe_token_adds_bos(const splitmoe_model *m)
{
	return m->tk && phimoe_tokenizer_add_bos(m->tk);
}

void splitmoe_session_info(const splitmoe_session *s, struct splitmoe_session_info *out)
{
	const struct sm_devices *d = &s->dev;
	bool gpu = s->dev_open && d->gpu;

	memset(out, 0, sizeof(*out));
	out->running = s->dev_open ? sm_api_device_of(d->running) : SPLITMOE_DEVICE_CPU;
	out->compute = splitmoe_session_compute(s);
	out->weights = s->weights;
	out->quant = s->quant;
	out->arbiter = sm_api_arbiter_of(sm_arbiter_get_kind(s->arb));
	out->gpu = gpu;
	if (gpu) {
		out->gpu_weight_bytes = d->gpu->packed_bytes;
		out->shared_weight_bytes = d->gpu->shared_bytes;
	}
	if (s->dev_open && d->cpu) {
		out->cpu_weight_bytes = d->cpu->packed_bytes;
		out->borrowed_weight_bytes = d->cpu->borrowed_bytes;
		out->mapped_weight_bytes = d->cpu->mapped_bytes;
	} else if (!gpu) {
		struct phimoe_session_stats st;

		phimoe_session_get_stats(s->s, &st);	/* the session's own CPU backend */
		out->cpu_weight_bytes = st.packed_weight_bytes;
		out->mapped_weight_bytes = st.mapped_weight_bytes;
	}
}

bool splitmoe_session_gpu_profile(const splitmoe_session *s, struct splitmoe_gpu_profile *p)
{
	struct sm_ze_profile z;

	memset(p, 0, sizeof(*p));
	if (!s->dev_open || !s->dev.gpu)
		return false;
	sm_ze_backend_profile(s->dev.gpu, &z);
	*p = (struct splitmoe_gpu_profile){
		.linear_ns = z.linear_ns, .linear_ops = z.linear_ops, .expert_ns = z.expert_ns,
		.expert_ops = z.expert_ops, .other_ns = z.other_ns, .other_ops = z.other_ops,
		.gated_launches = z.gated_launches, .launches = z.launches,
	};
	return true;
}
