// SPDX-License-Identifier: MIT
/*
 * splitmoe_synth: the shapes and the released Phi-tiny-MoE's tensor list (names,
 * shapes, initialisation, shard and offset of each).
 */
#include "api_synth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct synth_dims shapes[SPLITMOE_SYNTH_SHAPES] = {
	/* microsoft/Phi-tiny-MoE-instruct: 3.8 B parameters, 1.1 B active */
	[SPLITMOE_SYNTH_PHI_TINY_MOE] = { .name = "phi-tiny-moe", .hidden = 4096, .inter = 448, .layers = 32, .heads = 16,
	  .kv_heads = 4, .head_dim = 128, .experts = 16, .top_k = 2, .vocab = 32064,
	  .max_pos = 4096, .sliding_window = 2047 },
	/* the fixture's shape (tests/fixtures/phimoe-tiny-a): its tokenizer fits */
	[SPLITMOE_SYNTH_TINY] = { .name = "tiny", .hidden = 128, .inter = 64, .layers = 2, .heads = 4,
	  .kv_heads = 2, .head_dim = 48, .experts = 16, .top_k = 2, .vocab = 512,
	  .max_pos = 4096, .sliding_window = 2047 },
};

const struct synth_dims *synth_dims_of(splitmoe_synth_shape shape)
{
	if ((unsigned)shape >= SPLITMOE_SYNTH_SHAPES)
		return NULL;
	return &shapes[shape];
}

const char *splitmoe_synth_shape_name(splitmoe_synth_shape shape)
{
	const struct synth_dims *d = synth_dims_of(shape);

	return d ? d->name : NULL;
}

#define STD_LINEAR 0.02f
#define STD_ROUTER 0.5f	/* a realistic spread of the router's choices */

static struct synth_tensor *add(struct synth_plan *p, int shard, enum synth_init init,
				float std, int64_t rows, int64_t cols, const char *fmt, int a,
				int b)
{
	struct synth_tensor *t = &p->t[p->n];

	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), fmt, a, b);
	t->ndim = cols ? 2 : 1;
	t->shape[0] = rows;
	t->shape[1] = cols;
	t->numel = (uint64_t)rows * (uint64_t)(cols ? cols : 1);
	t->init = init;
	t->std = std;
	t->index = (uint32_t)p->n;
	t->shard = shard;
	t->offset = p->shard_bytes[shard];
	p->shard_bytes[shard] += t->numel * phimoe_dtype_size(p->dtype);
	p->n++;
	return t;
}

static void add_layer(struct synth_plan *p, int shard, int l)
{
	const struct synth_dims *s = &p->shape;
	const int64_t H = s->hidden, Q = (int64_t)s->heads * s->head_dim,
		      KV = (int64_t)s->kv_heads * s->head_dim, I = s->inter;
	const char *pre = "model.layers.%d.";
	char f[128];
	int e;

#define T(init, std, r, c, suffix) do { \
		snprintf(f, sizeof(f), "%s%s", pre, suffix); \
		add(p, shard, init, std, r, c, f, l, 0); \
	} while (0)
	T(SYNTH_NORMAL, STD_LINEAR, Q, H, "self_attn.q_proj.weight");
	T(SYNTH_NORMAL, STD_LINEAR, Q, 0, "self_attn.q_proj.bias");
	T(SYNTH_NORMAL, STD_LINEAR, KV, H, "self_attn.k_proj.weight");
	T(SYNTH_NORMAL, STD_LINEAR, KV, 0, "self_attn.k_proj.bias");
	T(SYNTH_NORMAL, STD_LINEAR, KV, H, "self_attn.v_proj.weight");
	T(SYNTH_NORMAL, STD_LINEAR, KV, 0, "self_attn.v_proj.bias");
	T(SYNTH_NORMAL, STD_LINEAR, H, Q, "self_attn.o_proj.weight");
	T(SYNTH_NORMAL, STD_LINEAR, H, 0, "self_attn.o_proj.bias");
	T(SYNTH_ONES, 0, H, 0, "input_layernorm.weight");
	T(SYNTH_ZEROS, 0, H, 0, "input_layernorm.bias");
	T(SYNTH_ONES, 0, H, 0, "post_attention_layernorm.weight");
	T(SYNTH_ZEROS, 0, H, 0, "post_attention_layernorm.bias");
	T(SYNTH_NORMAL, STD_ROUTER, s->experts, H, "block_sparse_moe.gate.weight");
#undef T
	for (e = 0; e < s->experts; e++) {
		static const char *const w[] = { "w1", "w3", "w2" };
		int k;

		for (k = 0; k < 3; k++) {
			snprintf(f, sizeof(f), "model.layers.%%d.block_sparse_moe.experts.%%d.%s.weight",
				 w[k]);
			add(p, shard, SYNTH_NORMAL, STD_LINEAR, k == 2 ? H : I, k == 2 ? I : H, f,
			    l, e);
		}
	}
}

int synth_plan_build(const struct synth_dims *s, int layers, enum phimoe_dtype dt,
		     struct synth_plan *p)
{
	int L, sh, l;
	size_t per_layer = 13 + 3 * (size_t)s->experts;

	memset(p, 0, sizeof(*p));
	p->shape = *s;
	if (layers > 0)
		p->shape.layers = layers;
	L = p->shape.layers;
	p->dtype = dt;
	p->shards = L < SYNTH_MAX_SHARDS ? L : SYNTH_MAX_SHARDS;
	p->t = calloc(per_layer * (size_t)L + 5, sizeof(*p->t));
	if (!p->t)
		return -ENOMEM;
	/* consecutive layers per shard, as even as the count allows */
	for (sh = 0; sh < p->shards; sh++)
		for (l = sh * L / p->shards; l < (sh + 1) * L / p->shards; l++)
			add_layer(p, sh, l);
	sh = p->shards - 1;
	add(p, sh, SYNTH_NORMAL, STD_LINEAR, s->vocab, s->hidden, "model.embed_tokens.weight", 0, 0);
	add(p, sh, SYNTH_ONES, 0, s->hidden, 0, "model.norm.weight", 0, 0);
	add(p, sh, SYNTH_ZEROS, 0, s->hidden, 0, "model.norm.bias", 0, 0);
	add(p, sh, SYNTH_NORMAL, STD_LINEAR, s->vocab, s->hidden, "lm_head.weight", 0, 0);
	add(p, sh, SYNTH_NORMAL, STD_LINEAR, s->vocab, 0, "lm_head.bias", 0, 0);
	for (sh = 0; sh < p->shards; sh++)
		p->total_bytes += p->shard_bytes[sh];
	return 0;
}

void synth_plan_free(struct synth_plan *p)
{
	free(p->t);
	memset(p, 0, sizeof(*p));
}

void synth_shard_name(const struct synth_plan *p, int shard, char *buf, size_t len)
{
	snprintf(buf, len, "model-%05d-of-%05d.safetensors", shard + 1, p->shards);
}
