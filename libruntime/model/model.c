// SPDX-License-Identifier: MIT
/*
 * Model loading: config + mapped checkpoint -> per-layer weight views,
 * each checked for presence, dtype and shape against the config.
 */
#include "util/errbuf.h"
#include "model/model.h"
#include "model/safetensors.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

const char *phimoe_quant_name(enum phimoe_quant q)
{
	switch (q) {
	case PHIMOE_QUANT_NONE: return "none";
	case PHIMOE_QUANT_INT8: return "int8";
	case PHIMOE_QUANT_Q4: return "q4";
	}
	return NULL;
}

/* Element i of a quantized weight: its code times its group's scale. */
static float dequant(const struct phimoe_tensor *t, size_t i)
{
	size_t k = (size_t)t->shape[1], r = i / k, c = i % k, g = c / PHIMOE_QUANT_GROUP;
	float s = phimoe_f16_to_f32(((const uint16_t *)t->scale)[r * (k / PHIMOE_QUANT_GROUP) + g]);
	size_t j = c % PHIMOE_QUANT_GROUP, half = PHIMOE_QUANT_GROUP / 2;
	uint8_t b;

	if (t->quant == PHIMOE_QUANT_INT8)
		return (float)((const int8_t *)t->data)[i] * s;
	b = ((const uint8_t *)t->data)[r * (k / 2) + g * half + j % half];
	return (float)((j < half ? b & 15 : b >> 4) - 8) * s;
}

float phimoe_tensor_get(const struct phimoe_tensor *t, size_t i)
{
	const uint16_t *h = t->data;

	if (t->quant != PHIMOE_QUANT_NONE)
		return dequant(t, i);
	switch (t->dtype) {
	case PHIMOE_DTYPE_F32: return ((const float *)t->data)[i];
	case PHIMOE_DTYPE_BF16: return phimoe_bf16_to_f32(h[i]);
	case PHIMOE_DTYPE_F16: return phimoe_f16_to_f32(h[i]);
	case PHIMOE_DTYPE_I8: return ((const int8_t *)t->data)[i];
	case PHIMOE_DTYPE_U8: return ((const uint8_t *)t->data)[i];
	}
	return NAN;
}

void phimoe_tensor_release(const struct phimoe_tensor *t)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = ((uintptr_t)t->data + pg - 1) & ~(pg - 1);
	uintptr_t b = ((uintptr_t)t->data + t->nbytes) & ~(pg - 1);

	/* only pages the tensor fills: a neighbour's bytes stay put */
	if (t->data && b > a)
		madvise((void *)a, b - a, MADV_DONTNEED);
}

void phimoe_tensor_to_f32(const struct phimoe_tensor *t, size_t start,
			  size_t n, float *dst)
{
	const uint16_t *h = t->data;
	size_t i;

	if (t->dtype == PHIMOE_DTYPE_F32 && t->quant == PHIMOE_QUANT_NONE) {
		memcpy(dst, (const float *)t->data + start, n * sizeof(float));
		return;
	}
	if (t->quant != PHIMOE_QUANT_NONE || t->dtype == PHIMOE_DTYPE_I8 ||
	    t->dtype == PHIMOE_DTYPE_U8) {
		for (i = 0; i < n; i++)
			dst[i] = phimoe_tensor_get(t, start + i);
		return;
	}
	for (i = 0; i < n; i++)
		dst[i] = t->dtype == PHIMOE_DTYPE_BF16 ? phimoe_bf16_to_f32(h[start + i])
						      : phimoe_f16_to_f32(h[start + i]);
}

/* What the loader expects of one tensor. */
struct want {
	const char *file;	/* for messages: checkpoint file or index */
	enum phimoe_dtype dtype;
	const char *config;	/* config.json's path, for the format's fields */
	enum phimoe_quant quant;	/* the file's format (config.json) */
	int group;
};

/* "[d0, d1]" of a tensor, for messages. */
static const char *shape_text(const struct st_tensor *t, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = 0;
	for (int i = 0; i < t->ndim && o + 24 < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? ", " : "",
				      (long long)t->shape[i]);
	return buf;
}

/*
 * A quantized weight [d0][d1] of a quantized file: its codes t (I8
 * [d0][d1] or U8 [d0][d1/2]) and the binary16 scales NAME_scale
 * [d0][d1/group].
 */
static int bind_quant(const struct phimoe_checkpoint *ck, const struct want *w,
		      const struct st_tensor *t, int64_t d0, int64_t d1,
		      struct phimoe_tensor *out, char *err, size_t errlen)
{
	enum phimoe_dtype code = w->quant == PHIMOE_QUANT_INT8 ? PHIMOE_DTYPE_I8 : PHIMOE_DTYPE_U8;
	int64_t cols = w->quant == PHIMOE_QUANT_INT8 ? d1 : d1 / 2;
	const struct st_tensor *s;
	char sname[300], got[96];

	if (t->dtype != code)
		return sm_errf(err, errlen, "%s: tensor '%s' has dtype %s but format %s (%s) stores its codes as %s",
			    t->file, t->name, phimoe_dtype_name(t->dtype), phimoe_quant_name(w->quant),
			    w->config, phimoe_dtype_name(code));
	if (d1 % w->group)
		return sm_errf(err, errlen, "%s: tensor '%s' has rows of %lld but group_size %d (%s) does not divide them",
			    t->file, t->name, (long long)d1, w->group, w->config);
	if (w->group != PHIMOE_QUANT_GROUP)
		return sm_errf(err, errlen, "%s: tensor '%s': group_size %d (%s) is not supported (only %d)",
			    t->file, t->name, w->group, w->config, PHIMOE_QUANT_GROUP);
	if (t->ndim != 2 || t->shape[0] != d0 || t->shape[1] != cols)
		return sm_errf(err, errlen, "%s: tensor '%s' has shape [%s] but config.json and format %s imply [%lld, %lld]",
			    t->file, t->name, shape_text(t, got, sizeof(got)), phimoe_quant_name(w->quant),
			    (long long)d0, (long long)cols);
	snprintf(sname, sizeof(sname), "%s_scale", t->name);
	s = st_find(ck, sname);
	if (!s)
		return sm_errf(err, errlen, "%s: missing tensor '%s' (the scales of '%s')", w->file,
			    sname, t->name);
	if (s->dtype != PHIMOE_DTYPE_F16)
		return sm_errf(err, errlen, "%s: tensor '%s' has dtype %s but scales are f16",
			    s->file, sname, phimoe_dtype_name(s->dtype));
	if (s->ndim != 2 || s->shape[0] != d0 || s->shape[1] != d1 / w->group)
		return sm_errf(err, errlen, "%s: tensor '%s' has shape [%s] but the scales of '%s' in groups of %d are [%lld, %lld]",
			    s->file, sname, shape_text(s, got, sizeof(got)), t->name, w->group,
			    (long long)d0, (long long)(d1 / w->group));
	out->name = t->name;
	out->dtype = t->dtype;
	out->ndim = 2;
	out->shape[0] = d0;
	out->shape[1] = d1;
	out->numel = (size_t)d0 * (size_t)d1;
	out->nbytes = t->nbytes;
	out->data = t->data;
	out->quant = w->quant;
	out->scale = s->data;
	out->scale_nbytes = s->nbytes;
	return 0;
}

/* quantizable: a weight that a quantized file may store quantized (the
 * projections, experts, router, lm_head); else it keeps the checkpoint's
 * dtype. */
static int bind(const struct phimoe_checkpoint *ck, const struct want *w,
		const char *name, int64_t d0, int64_t d1, bool required, bool quantizable,
		struct phimoe_tensor *out, char *err, size_t errlen)
{
	const struct st_tensor *t = st_find(ck, name);
	int ndim = d1 ? 2 : 1;

	memset(out, 0, sizeof(*out));
	if (!t) {
		if (!required)
			return 0;
		return sm_errf(err, errlen, "%s: missing tensor '%s'", w->file, name);
	}
	if (quantizable && ndim == 2 && w->quant != PHIMOE_QUANT_NONE &&
	    (t->dtype == PHIMOE_DTYPE_I8 || t->dtype == PHIMOE_DTYPE_U8))
		return bind_quant(ck, w, t, d0, d1, out, err, errlen);
	if (t->dtype != w->dtype)
		return sm_errf(err, errlen, "%s: tensor '%s' has dtype %s but the checkpoint's dtype is %s",
			    t->file, name, phimoe_dtype_name(t->dtype), phimoe_dtype_name(w->dtype));
	if (t->ndim != ndim || t->shape[0] != d0 || (ndim == 2 && t->shape[1] != d1)) {
		char got[96] = "", *p = got;
		int i;

		for (i = 0; i < t->ndim && p < got + sizeof(got) - 24; i++)
			p += sprintf(p, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
		if (ndim == 2)
			return sm_errf(err, errlen, "%s: tensor '%s' has shape [%s] but config.json implies [%lld, %lld]",
				    t->file, name, got, (long long)d0, (long long)d1);
		return sm_errf(err, errlen, "%s: tensor '%s' has shape [%s] but config.json implies [%lld]",
			    t->file, name, got, (long long)d0);
	}
	out->name = t->name;
	out->dtype = t->dtype;
	out->ndim = ndim;
	out->shape[0] = d0;
	out->shape[1] = ndim == 2 ? d1 : 0;
	out->numel = t->numel;
	out->nbytes = t->nbytes;
	out->data = t->data;
	return 0;
}

static int bind_layer(struct phimoe_model *m, const struct want *w, int l,
		      char *err, size_t errlen)
{
	const struct phimoe_config *c = &m->cfg;
	struct phimoe_layer *L = &m->layers[l];
	const int64_t h = c->hidden_size, q = (int64_t)c->num_attention_heads * c->head_dim;
	const int64_t kv = (int64_t)c->num_key_value_heads * c->head_dim;
	const int64_t inter = c->intermediate_size;
	const bool ab = c->attention_bias;
	char n[256];
	int e;

#define B(field, suffix, d0, d1, req) \
	(snprintf(n, sizeof(n), "model.layers.%d.%s", l, suffix), \
	 bind(m->ckpt, w, n, d0, d1, req, d1 != 0, &L->field, err, errlen))
	if (B(input_layernorm_w, "input_layernorm.weight", h, 0, true) ||
	    B(input_layernorm_b, "input_layernorm.bias", h, 0, true) ||
	    B(q_w, "self_attn.q_proj.weight", q, h, true) ||
	    B(q_b, "self_attn.q_proj.bias", q, 0, ab) ||
	    B(k_w, "self_attn.k_proj.weight", kv, h, true) ||
	    B(k_b, "self_attn.k_proj.bias", kv, 0, ab) ||
	    B(v_w, "self_attn.v_proj.weight", kv, h, true) ||
	    B(v_b, "self_attn.v_proj.bias", kv, 0, ab) ||
	    B(o_w, "self_attn.o_proj.weight", h, q, true) ||
	    B(o_b, "self_attn.o_proj.bias", h, 0, ab) ||
	    B(post_attention_layernorm_w, "post_attention_layernorm.weight", h, 0, true) ||
	    B(post_attention_layernorm_b, "post_attention_layernorm.bias", h, 0, true) ||
	    B(router_w, "block_sparse_moe.gate.weight", c->num_local_experts, h, true))
		return -1;
	/* A bias the config says is absent must not be silently ignored. */
	if (!ab && (L->q_b.data || L->k_b.data || L->v_b.data || L->o_b.data))
		return sm_errf(err, errlen, "%s: layer %d has attention biases but config.json says attention_bias false",
			    w->file, l);
	for (e = 0; e < c->num_local_experts; e++) {
		char s[128];

		snprintf(s, sizeof(s), "block_sparse_moe.experts.%d.w1.weight", e);
		if (B(experts[e].w1, s, inter, h, true))
			return -1;
		snprintf(s, sizeof(s), "block_sparse_moe.experts.%d.w2.weight", e);
		if (B(experts[e].w2, s, h, inter, true))
			return -1;
		snprintf(s, sizeof(s), "block_sparse_moe.experts.%d.w3.weight", e);
		if (B(experts[e].w3, s, inter, h, true))
			return -1;
	}
#undef B
	return 0;
}

/* 0 when the checkpoint is a single file (no index). */
static int access_index(const char *dir)
{
	char p[4200];

	snprintf(p, sizeof(p), "%s/model.safetensors.index.json", dir);
	return access(p, F_OK) == 0;
}

int phimoe_model_load(const char *dir, struct phimoe_model *m,
		      char *err, size_t errlen)
{
	const struct st_tensor *emb;
	struct phimoe_config *c;
	struct want w;
	char where[4200], config[4200];
	int l;

	memset(m, 0, sizeof(*m));
	if ((size_t)snprintf(m->dir, sizeof(m->dir), "%s", dir) >= sizeof(m->dir))
		return sm_errf(err, errlen, "%s: path too long", dir);
	c = &m->cfg;
	if (phimoe_config_load(dir, c, err, errlen))
		goto bad;
	if (st_open_dir(dir, &m->ckpt, err, errlen))
		goto bad;
	snprintf(where, sizeof(where), "%s/%s", dir,
		 access_index(dir) ? "model.safetensors.index.json" : "model.safetensors");
	w.file = where;
	snprintf(config, sizeof(config), "%s/config.json", dir);
	w.config = config;
	w.quant = c->quant;
	w.group = c->quant_group;
	emb = st_find(m->ckpt, "model.embed_tokens.weight");
	if (!emb) {
		sm_errf(err, errlen, "%s: missing tensor 'model.embed_tokens.weight'", w.file);
		goto bad;
	}
	if ((int)c->storage_dtype < 0)
		c->storage_dtype = emb->dtype;
	w.dtype = c->storage_dtype;
	m->layers = calloc((size_t)c->num_hidden_layers, sizeof(*m->layers));
	if (!m->layers) {
		sm_errf(err, errlen, "%s: out of memory", dir);
		goto bad;
	}
	for (l = 0; l < c->num_hidden_layers; l++) {
		m->layers[l].experts = calloc((size_t)c->num_local_experts,
					      sizeof(*m->layers[l].experts));
		if (!m->layers[l].experts) {
			sm_errf(err, errlen, "%s: out of memory", dir);
			goto bad;
		}
	}
	/* a quantized file of a tied model stores lm_head.weight quantized
	 * beside the embeddings it keeps */
	if (bind(m->ckpt, &w, "model.embed_tokens.weight", c->vocab_size, c->hidden_size,
		 true, false, &m->embed_tokens, err, errlen) ||
	    bind(m->ckpt, &w, "model.norm.weight", c->hidden_size, 0, true, false, &m->norm_w,
		 err, errlen) ||
	    bind(m->ckpt, &w, "model.norm.bias", c->hidden_size, 0, true, false, &m->norm_b,
		 err, errlen) ||
	    bind(m->ckpt, &w, "lm_head.weight", c->vocab_size, c->hidden_size,
		 !c->tie_word_embeddings, true, &m->lm_head_w, err, errlen) ||
	    bind(m->ckpt, &w, "lm_head.bias", c->vocab_size, 0, c->lm_head_bias, false,
		 &m->lm_head_b, err, errlen))
		goto bad;
	if (!m->lm_head_w.data)
		m->lm_head_w = m->embed_tokens;
	if (!c->lm_head_bias && m->lm_head_b.data) {
		sm_errf(err, errlen, "%s: tensor 'lm_head.bias' present but config.json says lm_head_bias false",
		     w.file);
		goto bad;
	}
	for (l = 0; l < c->num_hidden_layers; l++)
		if (bind_layer(m, &w, l, err, errlen))
			goto bad;
	return 0;
bad:
	phimoe_model_free(m);
	return -1;
}

void phimoe_model_free(struct phimoe_model *m)
{
	int l;

	if (m->layers)
		for (l = 0; l < m->cfg.num_hidden_layers; l++)
			free(m->layers[l].experts);
	free(m->layers);
	st_close(m->ckpt);
	memset(m, 0, sizeof(*m));
}

static void add(struct phimoe_model_stats *s, const struct phimoe_tensor *t,
		bool active)
{
	s->params += t->numel;
	s->bytes += t->nbytes + t->scale_nbytes;
	if (active) {
		s->active_params_per_token += t->numel;
		s->active_bytes_per_token += t->nbytes + t->scale_nbytes;
	}
}

void phimoe_model_stats(const struct phimoe_model *m,
			struct phimoe_model_stats *s)
{
	const struct phimoe_config *c = &m->cfg;
	int l, e;

	memset(s, 0, sizeof(*s));
	/* the embedding is a lookup: one row per token is read */
	s->params += m->embed_tokens.numel;
	s->bytes += m->embed_tokens.nbytes;
	s->active_params_per_token += (uint64_t)c->hidden_size;
	s->active_bytes_per_token += (uint64_t)c->hidden_size * phimoe_dtype_size(m->embed_tokens.dtype);
	add(s, &m->norm_w, true);
	add(s, &m->norm_b, true);
	if (m->lm_head_w.data != m->embed_tokens.data)
		add(s, &m->lm_head_w, true);
	else {
		s->active_params_per_token += m->lm_head_w.numel;
		s->active_bytes_per_token += m->lm_head_w.nbytes + m->lm_head_w.scale_nbytes;
	}
	add(s, &m->lm_head_b, true);
	for (l = 0; l < c->num_hidden_layers; l++) {
		const struct phimoe_layer *L = &m->layers[l];
		const struct phimoe_tensor *dense[] = {
			&L->input_layernorm_w, &L->input_layernorm_b, &L->q_w, &L->q_b,
			&L->k_w, &L->k_b, &L->v_w, &L->v_b, &L->o_w, &L->o_b,
			&L->post_attention_layernorm_w, &L->post_attention_layernorm_b,
			&L->router_w,
		};
		size_t i;

		for (i = 0; i < sizeof(dense) / sizeof(dense[0]); i++)
			add(s, dense[i], true);
		for (e = 0; e < c->num_local_experts; e++) {
			const struct phimoe_expert *x = &L->experts[e];
			uint64_t np = x->w1.numel + x->w2.numel + x->w3.numel;
			uint64_t nb = x->w1.nbytes + x->w2.nbytes + x->w3.nbytes +
				      x->w1.scale_nbytes + x->w2.scale_nbytes + x->w3.scale_nbytes;

			s->params += np;
			s->bytes += nb;
			s->expert_params += np;
			if (e < c->num_experts_per_tok) {	/* all experts are the same size */
				s->active_params_per_token += np;
				s->active_bytes_per_token += nb;
			}
		}
	}
}
