// SPDX-License-Identifier: MIT
/*
 * The PhiMoE forward pass over a backend (backend.h): session set-up
 * (packing, KV pool, work buffers), the sequences and their KV blocks,
 * and one forward pass over the stacked rows of one or many sequences
 * (prefill, decode, phimoe_batch) with tokens grouped by expert. See
 * inference.h.
 */
#include "engine/inference.h"
#include "arbiter/arbiter.h"
#include "backend/backend.h"
#include "cpu/cpu_isa.h"
#include "cpu/cpu_math.h"
#include "cpu/dnnl_matmul.h"
#include "model/model.h"
#include "util/name_table.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct layer_state {
	float *ln1_g, *ln1_b, *ln2_g, *ln2_b;	/* f32 copies of the norms */
	struct sm_linear *qkv, *o, *router;
	struct sm_expert **experts;		/* [E] */
	/* the KV pool: [kv_blocks * kv_block][kv_dim], rows handed out in
	 * blocks (struct seq_state) */
	float *k_cache, *v_cache;
};

/* where the attention reads block tables (the session's own CPU
 * backend); a power of two */
_Static_assert((PHIMOE_KV_BLOCK & (PHIMOE_KV_BLOCK - 1)) == 0, "KV block: a power of two");

/* One sequence: its position and the pool blocks holding its keys and
 * values, in order (table[i]: positions i*kv_block ..). */
struct seq_state {
	bool open;
	int pos;
	int nblocks;
	int32_t *table;			/* [max_blocks] */
};

/* One sequence's rows in a forward pass: rows row0 .. row0+n-1. */
struct run_item {
	int seq;
	const int32_t *ids;
	int n, row0;
	float *logits;			/* [V] of the last row, or NULL */
};

struct phimoe_session {
	const struct phimoe_model *model;
	struct phimoe_config cfg;
	struct sm_backend *be;
	bool own_be;
	struct sm_arb_client *gate;		/* owned; NULL when ungated */
	enum sm_compute compute;

	int L, H, V, E, I, nh, nkv, hd, q_dim, kv_dim, qkv_dim, window;
	float eps, jitter, attn_scale;
	int max_seq, max_batch;

	/* sequences and the KV pool (inference.h: batched decode) */
	int max_seqs;
	bool kv_paged;		/* block tables to attention; false: a
				 * borrowed backend, one contiguous block
				 * for sequence 0 */
	int kv_block, kv_blocks, max_blocks;	/* tokens a block, pool, per seq */
	struct seq_state *seqs;			/* [max_seqs] */
	int32_t *tables;			/* [max_seqs][max_blocks] */
	int32_t *free_blocks;			/* stack of kv_blocks */
	int nfree;
	struct run_item *items;			/* [max_seqs]: one pass */
	struct sm_attn_args *attn_args;		/* [max_seqs]: a layer's attention */
	uint32_t *seen, batch_stamp;		/* [max_seqs]: repeated items */
	int32_t *head_rows;			/* [min(max_seqs, max_batch)]: rows to the lm_head */
	float *head_logits;			/* [min(max_seqs, max_batch)][V]; row 0 is logits */

	struct layer_state *layers;
	struct sm_linear *lm_head;
	float *norm_g, *norm_b;
	float *rope_cos, *rope_sin;		/* [max_seq][hd/2] */

	/* work buffers, rows = max_batch (xs/ys/rows/rscale: 2 * max_batch) */
	float *x, *xn, *qkv, *attn, *tmp, *scores, *sel_w;
	int32_t *sel;
	int32_t *rows;
	float *rscale, *xs, *ys;
	int32_t *count, *fill;			/* [E] */
	/* one experts() call of prefill: the experts with tokens, [E] */
	struct sm_expert **ex_e;
	const float **ex_x, **ex_scale;
	float **ex_y;
	int *ex_m;
	float *logits;				/* [V] */
	float *scratch;				/* attention: [nh * max_seq] */

	uint64_t buf_bytes;
	struct phimoe_session_stats st;
	bool profile;
	struct phimoe_profile prof;
	uint64_t *layer_ns;			/* [L], with profile */
	char err[256];
};

static int seterr(struct phimoe_session *s, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return rc;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

enum sm_compute sm_compute_default(void)
{
	return dmm_cpu_has_bf16() ? SM_COMPUTE_BF16 : SM_COMPUTE_F32;
}

enum sm_quant sm_quant_default(enum phimoe_dtype storage)
{
	bool floats = storage == PHIMOE_DTYPE_BF16 || storage == PHIMOE_DTYPE_F16 ||
		      storage == PHIMOE_DTYPE_F32;
	bool bf16_cpu = dmm_cpu_has_bf16() && sm_isa_active() >= SM_ISA_AVX512;

	return floats && !bf16_cpu ? SM_QUANT_INT8 : SM_QUANT_NONE;
}

static void *balloc(struct phimoe_session *s, size_t bytes)
{
	void *p = s->be->ops->alloc(s->be, bytes);

	if (p) {
		memset(p, 0, bytes);
		s->buf_bytes += bytes;
	}
	return p;
}

static void bfree(struct phimoe_session *s, void *p)
{
	if (p)
		s->be->ops->free(s->be, p);
}

/* An f32 copy of a (small) vector tensor in backend memory. */
static float *vec_f32(struct phimoe_session *s, const struct phimoe_tensor *t, int n)
{
	float *v;

	if (!t->data || (int64_t)t->numel != n)
		return NULL;
	v = balloc(s, sizeof(float) * n);
	if (v)
		phimoe_tensor_to_f32(t, 0, n, v);
	return v;
}

/* How a linear layer may be quantized (backend.h's desc flags). */
enum linear_quant {
	LQ_ANY,		/* as opts.quant says */
	LQ_FINE_INPUT,	/* int8: its input in two int8 parts */
	LQ_NEVER,	/* the checkpoint's precision */
};

static int pack_linear(struct phimoe_session *s, const char *name,
		       const struct phimoe_tensor *w, const struct phimoe_tensor *b,
		       int nparts, enum linear_quant lq, struct sm_linear **out)
{
	struct sm_linear_desc d = { .name = name, .nparts = nparts,
				    .keep_precision = lq == LQ_NEVER,
				    .fine_input = lq == LQ_FINE_INPUT };
	int rc;

	for (int i = 0; i < nparts; i++) {
		d.w[i] = w[i];
		if (b)
			d.b[i] = b[i];
	}
	rc = s->be->ops->linear_create(s->be, &d, out);
	if (rc)
		return seterr(s, rc, "%s: %s", name, s->be->last_error);
	return 0;
}

static int pack_layer(struct phimoe_session *s, int l)
{
	const struct phimoe_layer *ml = &s->model->layers[l];
	struct layer_state *ls = &s->layers[l];
	struct phimoe_tensor qkv_w[3] = { ml->q_w, ml->k_w, ml->v_w };
	struct phimoe_tensor qkv_b[3] = { ml->q_b, ml->k_b, ml->v_b };
	char name[96];
	int rc;

	ls->ln1_g = vec_f32(s, &ml->input_layernorm_w, s->H);
	ls->ln1_b = vec_f32(s, &ml->input_layernorm_b, s->H);
	ls->ln2_g = vec_f32(s, &ml->post_attention_layernorm_w, s->H);
	ls->ln2_b = vec_f32(s, &ml->post_attention_layernorm_b, s->H);
	if (!ls->ln1_g || !ls->ln1_b || !ls->ln2_g || !ls->ln2_b)
		return seterr(s, -EINVAL, "layer %d: LayerNorm weight or bias missing or not [%d]",
			      l, s->H);
	snprintf(name, sizeof(name), "model.layers.%d.self_attn.qkv", l);
	/* int8 activations at q|k|v cost fixture C's minimum cosine 0.98 ->
	 * 0.90; in two parts it is back to 0.98 (README) */
	rc = pack_linear(s, name, qkv_w, qkv_b, 3, LQ_FINE_INPUT, &ls->qkv);
	if (!rc) {
		snprintf(name, sizeof(name), "model.layers.%d.self_attn.o_proj", l);
		rc = pack_linear(s, name, &ml->o_w, &ml->o_b, 1, LQ_ANY, &ls->o);
	}
	if (!rc) {
		snprintf(name, sizeof(name), "model.layers.%d.block_sparse_moe.gate", l);
		rc = pack_linear(s, name, &ml->router_w, NULL, 1, LQ_NEVER, &ls->router);
	}
	if (rc)
		return rc;
	ls->experts = calloc(s->E, sizeof(*ls->experts));
	if (!ls->experts)
		return seterr(s, -ENOMEM, "out of memory");
	for (int e = 0; e < s->E; e++) {
		struct sm_expert_desc d = {
			.name = name,
			.w1 = ml->experts[e].w1,
			.w3 = ml->experts[e].w3,
			.w2 = ml->experts[e].w2,
		};

		snprintf(name, sizeof(name), "model.layers.%d.block_sparse_moe.experts.%d", l, e);
		rc = s->be->ops->expert_create(s->be, &d, &ls->experts[e]);
		if (rc)
			return seterr(s, rc, "%s: %s", name, s->be->last_error);
	}
	size_t kv_rows = (size_t)s->kv_blocks * s->kv_block;

	ls->k_cache = balloc(s, sizeof(float) * kv_rows * s->kv_dim);
	ls->v_cache = balloc(s, sizeof(float) * kv_rows * s->kv_dim);
	if (!ls->k_cache || !ls->v_cache)
		return seterr(s, -ENOMEM, "out of memory for the KV cache (%zu tokens)", kv_rows);
	return 0;
}

static int alloc_buffers(struct phimoe_session *s)
{
	size_t B = (size_t)s->max_batch;

	s->x = balloc(s, sizeof(float) * B * s->H);
	s->xn = balloc(s, sizeof(float) * B * s->H);
	s->qkv = balloc(s, sizeof(float) * B * s->qkv_dim);
	s->attn = balloc(s, sizeof(float) * B * s->q_dim);
	s->tmp = balloc(s, sizeof(float) * B * s->H);
	s->scores = balloc(s, sizeof(float) * B * s->E);
	s->sel = balloc(s, sizeof(int32_t) * B * 2);
	s->sel_w = balloc(s, sizeof(float) * B * 2);
	s->rows = balloc(s, sizeof(int32_t) * B * 2);
	s->rscale = balloc(s, sizeof(float) * B * 2);
	s->xs = balloc(s, sizeof(float) * B * 2 * s->H);
	s->ys = balloc(s, sizeof(float) * B * 2 * s->H);
	s->count = balloc(s, sizeof(int32_t) * s->E);
	s->fill = balloc(s, sizeof(int32_t) * s->E);
	s->ex_e = calloc(s->E, sizeof(*s->ex_e));
	s->ex_x = calloc(s->E, sizeof(*s->ex_x));
	s->ex_scale = calloc(s->E, sizeof(*s->ex_scale));
	s->ex_y = calloc(s->E, sizeof(*s->ex_y));
	s->ex_m = calloc(s->E, sizeof(*s->ex_m));
	if (!s->ex_e || !s->ex_x || !s->ex_scale || !s->ex_y || !s->ex_m)
		return seterr(s, -ENOMEM, "out of memory for the work buffers");
	/* an item has a row at least: no more heads than either */
	size_t heads = (size_t)(s->max_seqs < s->max_batch ? s->max_seqs : s->max_batch);

	s->head_logits = balloc(s, sizeof(float) * s->V * heads);
	s->logits = s->head_logits;
	s->head_rows = balloc(s, sizeof(int32_t) * heads);
	s->seqs = calloc(s->max_seqs, sizeof(*s->seqs));
	s->tables = calloc((size_t)s->max_seqs * s->max_blocks, sizeof(*s->tables));
	s->free_blocks = calloc(s->kv_blocks, sizeof(*s->free_blocks));
	s->items = calloc(s->max_seqs, sizeof(*s->items));
	s->attn_args = calloc(s->max_seqs, sizeof(*s->attn_args));
	s->seen = calloc(s->max_seqs, sizeof(*s->seen));
	if (!s->seqs || !s->tables || !s->free_blocks || !s->items || !s->seen || !s->attn_args)
		return seterr(s, -ENOMEM, "out of memory for the sequence tables");
	for (int i = 0; i < s->max_seqs; i++)
		s->seqs[i].table = s->tables + (size_t)i * s->max_blocks;
	s->seqs[0].open = true;
	/* lowest blocks handed out first */
	for (int b = 0; b < s->kv_blocks; b++)
		s->free_blocks[b] = s->kv_blocks - 1 - b;
	s->nfree = s->kv_blocks;
	s->scratch = balloc(s, sizeof(float) * (size_t)s->nh * s->max_seq);
	s->norm_g = vec_f32(s, &s->model->norm_w, s->H);
	s->norm_b = vec_f32(s, &s->model->norm_b, s->H);
	s->rope_cos = balloc(s, sizeof(float) * (size_t)s->max_seq * (s->hd / 2));
	s->rope_sin = balloc(s, sizeof(float) * (size_t)s->max_seq * (s->hd / 2));
	if (!s->x || !s->xn || !s->qkv || !s->attn || !s->tmp || !s->scores || !s->sel ||
	    !s->sel_w || !s->rows || !s->rscale || !s->xs || !s->ys || !s->count ||
	    !s->fill || !s->logits || !s->head_rows || !s->scratch || !s->rope_cos || !s->rope_sin)
		return seterr(s, -ENOMEM, "out of memory for the work buffers");
	if (!s->norm_g || !s->norm_b)
		return seterr(s, -EINVAL, "model.norm: weight or bias missing or not [%d]", s->H);
	cm_rope_tables(s->max_seq, s->hd, s->cfg.rope_theta, s->rope_cos, s->rope_sin);
	return 0;
}

/* The largest single gated submission: what the client's burst must cover. */
static uint64_t largest_submission(const struct phimoe_session *s)
{
	uint64_t esz = s->be->compute == SM_BACKEND_BF16 ? 2 : 4, B = s->max_batch;
	uint64_t lm = sm_linear_bytes(esz * s->V * s->H, (int)B, s->H, s->V);
	uint64_t qkv = sm_linear_bytes(esz * s->qkv_dim * s->H, (int)B, s->H, s->qkv_dim);
	/* the experts of a layer are one submission: all of them, 2B rows */
	uint64_t ex = sm_expert_bytes(esz * 3 * s->I * s->H * (uint64_t)s->E, (int)(2 * B),
				      s->H, s->I);
	uint64_t mx = lm > qkv ? lm : qkv;

	return mx > ex ? mx : ex;
}

static int check_config(struct phimoe_session *s)
{
	const struct phimoe_config *c = &s->cfg;

	if (c->num_experts_per_tok != 2)
		return seterr(s, -ENOTSUP, "num_experts_per_tok %d: the sparsemixer router is top-2 only",
			      c->num_experts_per_tok);
	if (strcmp(c->rope_type, "default") && c->rope_type[0])
		return seterr(s, -ENOTSUP, "rope_type '%s' is not supported (only default)",
			      c->rope_type);
	if (c->hidden_size < 1 || c->head_dim < 2 || c->head_dim % 2 ||
	    c->num_key_value_heads < 1 || c->num_attention_heads % c->num_key_value_heads ||
	    c->num_local_experts < 2 || c->vocab_size < 1 || c->num_hidden_layers < 1)
		return seterr(s, -EINVAL, "config.json: inconsistent shape (hidden %d, heads %d/%d x %d, experts %d)",
			      c->hidden_size, c->num_attention_heads, c->num_key_value_heads,
			      c->head_dim, c->num_local_experts);
	return 0;
}

/*
 * Sequences and the KV pool. The own CPU backend reads block tables:
 * blocks of PHIMOE_KV_BLOCK tokens, kv_tokens of them in all. A borrowed
 * backend (Level Zero, split) reads one contiguous cache: one block of
 * max_seq tokens, sequence 0 only.
 */
static int plan_kv(struct phimoe_session *s, const struct phimoe_session_opts *o)
{
	int64_t kv_tokens;

	if (o->max_seqs < 0 || o->max_seqs > 4096 || o->kv_tokens < 0)
		return seterr(s, -EINVAL, "session: max_seqs %d (0..4096), kv_tokens %d out of range",
			      o->max_seqs, o->kv_tokens);
	s->max_seqs = o->max_seqs > 0 ? o->max_seqs : 1;
	s->kv_paged = !o->backend;
	if (!s->kv_paged) {
		if (s->max_seqs > 1)
			return seterr(s, -EOPNOTSUPP, "batched decode (max_seqs %d) runs on the CPU "
				      "backend only (not %s)", s->max_seqs, o->backend->ops->name);
		s->kv_block = s->max_seq;
		s->kv_blocks = s->max_blocks = 1;
		return 0;
	}
	kv_tokens = o->kv_tokens > 0 ? o->kv_tokens :
		    s->max_seqs == 1 ? s->max_seq : (int64_t)s->max_seq * s->max_seqs / 2;
	s->kv_block = PHIMOE_KV_BLOCK;
	s->max_blocks = (s->max_seq + PHIMOE_KV_BLOCK - 1) / PHIMOE_KV_BLOCK;
	s->kv_blocks = (int)((kv_tokens + PHIMOE_KV_BLOCK - 1) / PHIMOE_KV_BLOCK);
	return 0;
}

int phimoe_cpu_backend_create(const struct phimoe_session_opts *o, int rows,
			      struct sm_backend **out, char *err, size_t errlen)
{
	enum sm_compute c = o->compute == SM_COMPUTE_AUTO ? sm_compute_default() : o->compute;
	struct sm_cpu_backend_opts bo = {
		.compute = c == SM_COMPUTE_BF16 ? SM_BACKEND_BF16 : SM_BACKEND_F32,
		.threads = o->threads,
		.max_rows = rows,
		.weights = o->weights,
		.quant = o->quant,
	};

	return sm_cpu_backend_create(&bo, out, err, errlen);
}

int phimoe_session_create(const struct phimoe_model *m,
			  const struct phimoe_session_opts *o,
			  struct phimoe_session **out, char *err, size_t errlen)
{
	struct phimoe_session *s = calloc(1, sizeof(*s));
	int rc;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->model = m;
	s->cfg = m->cfg;
	rc = check_config(s);
	if (rc)
		goto fail;
	s->L = s->cfg.num_hidden_layers;
	s->H = s->cfg.hidden_size;
	s->V = s->cfg.vocab_size;
	s->E = s->cfg.num_local_experts;
	s->I = s->cfg.intermediate_size;
	s->nh = s->cfg.num_attention_heads;
	s->nkv = s->cfg.num_key_value_heads;
	s->hd = s->cfg.head_dim;
	s->q_dim = s->nh * s->hd;
	s->kv_dim = s->nkv * s->hd;
	s->qkv_dim = s->q_dim + 2 * s->kv_dim;
	s->window = s->cfg.sliding_window > 0 ? s->cfg.sliding_window : 0;
	s->eps = (float)s->cfg.norm_eps;
	s->jitter = (float)s->cfg.router_jitter_noise;
	s->attn_scale = (float)(1.0 / sqrt((double)s->hd));
	s->max_seq = o->max_seq > 0 ? o->max_seq :
		     (s->cfg.max_position_embeddings < 4096 ? s->cfg.max_position_embeddings : 4096);
	if (s->max_seq > s->cfg.max_position_embeddings)
		s->max_seq = s->cfg.max_position_embeddings;
	s->max_batch = o->max_batch > 0 ? o->max_batch : 256;
	if (o->threads < 0 || o->max_seq < 0 || o->max_batch < 0 || s->max_seq < 1) {
		rc = seterr(s, -EINVAL, "session: threads %d, max_seq %d, max_batch %d out of range",
			    o->threads, o->max_seq, o->max_batch);
		goto fail;
	}
	rc = plan_kv(s, o);
	if (rc)
		goto fail;
	/* no pass has more rows than every sequence's cache holds */
	if (s->max_batch > (int64_t)s->max_seq * s->max_seqs)
		s->max_batch = (int)((int64_t)s->max_seq * s->max_seqs);

	s->compute = o->compute == SM_COMPUTE_AUTO ? sm_compute_default() : o->compute;
	if (s->compute != SM_COMPUTE_F32 && s->compute != SM_COMPUTE_BF16) {
		rc = seterr(s, -EINVAL, "session: unknown compute type %d", (int)o->compute);
		goto fail;
	}
	if (o->backend && o->quant != SM_QUANT_NONE) {
		rc = seterr(s, -EOPNOTSUPP, "quant %s: only the session's own CPU backend quantizes "
			    "(the Level Zero kernels have no int8 or q4 form yet)",
			    sm_quant_format_name(o->quant));
		goto fail;
	}
	if (m->cfg.quant != PHIMOE_QUANT_NONE && o->quant != SM_QUANT_NONE &&
	    (int)o->quant != (int)m->cfg.quant) {
		rc = seterr(s, -EINVAL, "quant %s: %s holds a model quantized as %s (config.json "
			    "%s): drop quant, or quantize its checkpoint again",
			    sm_quant_format_name(o->quant), m->dir, phimoe_quant_name(m->cfg.quant),
			    PHIMOE_QUANT_CONFIG_KEY);
		goto fail;
	}
	if (o->backend && m->cfg.quant != PHIMOE_QUANT_NONE) {
		rc = seterr(s, -EOPNOTSUPP, "%s: a model quantized as %s runs on the CPU only "
			    "(the Level Zero kernels have no int8 or q4 form yet)", m->dir,
			    phimoe_quant_name(m->cfg.quant));
		goto fail;
	}
	if (o->backend) {
		s->be = o->backend;
	} else {
		rc = phimoe_cpu_backend_create(o, s->max_batch, &s->be, s->err, sizeof(s->err));
		if (rc)
			goto fail;
		s->own_be = true;
	}

	s->layers = calloc(s->L, sizeof(*s->layers));
	s->profile = o->profile;
	s->layer_ns = s->profile ? calloc(s->L, sizeof(*s->layer_ns)) : NULL;
	if (!s->layers || (s->profile && !s->layer_ns)) {
		rc = seterr(s, -ENOMEM, "out of memory");
		goto fail;
	}
	rc = alloc_buffers(s);
	for (int l = 0; !rc && l < s->L; l++)
		rc = pack_layer(s, l);
	if (!rc)
		rc = pack_linear(s, "lm_head", &m->lm_head_w, &m->lm_head_b, 1, LQ_ANY, &s->lm_head);
	if (rc)
		goto fail;

	if (o->arbiter && s->own_be) {
		struct sm_arb_client_opts co = {
			.name = o->arb_name ? o->arb_name : "splitmoe-cpu",
			.class = SM_ARB_CLASS_CPU,
			.weight = o->arb_weight ? o->arb_weight : 100,
			.reserve_mbps = o->arb_reserve_mbps,
			.burst_bytes = largest_submission(s),
		};

		rc = sm_arb_client_open(o->arbiter, &co, &s->gate, s->err, sizeof(s->err));
		if (rc)
			goto fail;
		s->be->gate = s->gate;
	}
	s->st.workspace_bytes = s->buf_bytes + s->be->work_bytes;
	s->st.packed_weight_bytes = s->be->packed_bytes;
	s->st.mapped_weight_bytes = s->be->mapped_bytes;
	*out = s;
	return 0;
fail:
	snprintf(err, errlen, "%s", s->err[0] ? s->err : strerror(-rc));
	phimoe_session_destroy(s);
	return rc;
}

void phimoe_session_destroy(struct phimoe_session *s)
{
	if (!s)
		return;
	if (s->be) {
		const struct sm_backend_ops *ops = s->be->ops;

		for (int l = 0; s->layers && l < s->L; l++) {
			struct layer_state *ls = &s->layers[l];

			ops->linear_destroy(s->be, ls->qkv);
			ops->linear_destroy(s->be, ls->o);
			ops->linear_destroy(s->be, ls->router);
			for (int e = 0; ls->experts && e < s->E; e++)
				ops->expert_destroy(s->be, ls->experts[e]);
			free(ls->experts);
			bfree(s, ls->ln1_g);
			bfree(s, ls->ln1_b);
			bfree(s, ls->ln2_g);
			bfree(s, ls->ln2_b);
			bfree(s, ls->k_cache);
			bfree(s, ls->v_cache);
		}
		ops->linear_destroy(s->be, s->lm_head);
		void *bufs[] = {
			s->x, s->xn, s->qkv, s->attn, s->tmp, s->scores, s->sel, s->sel_w,
			s->rows, s->rscale, s->xs, s->ys, s->count, s->fill, s->logits,
			s->scratch, s->norm_g, s->norm_b, s->rope_cos, s->rope_sin,
			s->head_rows,
		};
		for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
			bfree(s, bufs[i]);
		if (s->own_be) {
			s->be->gate = NULL;
			s->be->ops->destroy(s->be);
		}
	}
	sm_arb_client_close(s->gate);
	free(s->layers);
	free(s->layer_ns);
	free(s->ex_e);
	free(s->ex_x);
	free(s->ex_scale);
	free(s->ex_y);
	free(s->ex_m);
	free(s->seqs);
	free(s->tables);
	free(s->free_blocks);
	free(s->items);
	free(s->attn_args);
	free(s->seen);
	free(s);
}

/* Returns a sequence's blocks to the pool: empty, position 0. */
static void seq_release(struct phimoe_session *s, struct seq_state *q)
{
	while (q->nblocks > 0)
		s->free_blocks[s->nfree++] = q->table[--q->nblocks];
	q->pos = 0;
}

/* Blocks a sequence at pos lacks to hold n more tokens. */
static int blocks_short(const struct phimoe_session *s, const struct seq_state *q, int n)
{
	int want = (q->pos + n + s->kv_block - 1) / s->kv_block;

	return want > q->nblocks ? want - q->nblocks : 0;
}

/* Takes those blocks from the pool (the caller checked there are enough). */
static void seq_grow(struct phimoe_session *s, struct seq_state *q, int n)
{
	for (int k = blocks_short(s, q, n); k > 0; k--)
		q->table[q->nblocks++] = s->free_blocks[--s->nfree];
}

void phimoe_session_reset(struct phimoe_session *s)
{
	seq_release(s, &s->seqs[0]);
	s->err[0] = 0;
}

int phimoe_seq_open(struct phimoe_session *s)
{
	for (int i = 1; i < s->max_seqs; i++)
		if (!s->seqs[i].open) {
			s->seqs[i].open = true;
			s->seqs[i].pos = 0;
			return i;
		}
	return seterr(s, -EBUSY, "all %d sequences are open (max_seqs)", s->max_seqs);
}

void phimoe_seq_close(struct phimoe_session *s, int seq)
{
	if (seq <= 0 || seq >= s->max_seqs || !s->seqs[seq].open)
		return;
	seq_release(s, &s->seqs[seq]);
	s->seqs[seq].open = false;
}

int phimoe_seq_pos(const struct phimoe_session *s, int seq)
{
	if (seq < 0 || seq >= s->max_seqs || !s->seqs[seq].open)
		return -EINVAL;
	return s->seqs[seq].pos;
}

#define BE(call)							\
	do {								\
		int rc_ = s->be->ops->call;				\
		if (rc_)						\
			return seterr(s, rc_, "%s: %s", s->be->ops->name, \
				      s->be->last_error);		\
	} while (0)

/* The same for a wrapper of backend.h that calls the ops itself. */
#define BE_CALL(expr)							\
	do {								\
		int rc_ = (expr);					\
		if (rc_)						\
			return seterr(s, rc_, "%s: %s", s->be->ops->name, \
				      s->be->last_error);		\
	} while (0)

/* Profiling: the time since the last mark goes to class cls. */
static inline uint64_t prof_mark(struct phimoe_session *s, enum sm_op_class cls, uint64_t t)
{
	uint64_t now;

	if (!s->profile)
		return 0;
	now = now_ns();
	s->prof.ns[cls] += now - t;
	s->prof.calls[cls]++;
	return now;
}

#define PROF(cls) (t_ = prof_mark(s, (cls), t_))

/* Mixture of experts on the n rows of s->xn: result into s->tmp. */
static int moe(struct phimoe_session *s, struct layer_state *ls, int n)
{
	struct sm_backend *be = s->be;
	int H = s->H;
	uint64_t t_ = s->profile ? now_ns() : 0;
	int ne = 0;

	if (n == 1) {
		/* decode: the two experts straight from xn, no gather, side by
		 * side where the backend can */
		struct sm_expert *ex[2] = { ls->experts[s->sel[0]], ls->experts[s->sel[1]] };
		const float *xs[2] = { s->xn, s->xn };
		const float *sc[2] = { &s->sel_w[0], &s->sel_w[1] };
		float *ys[2] = { s->ys, s->ys + H };
		int ms[2] = { 1, 1 };

		BE_CALL(sm_be_experts(be, ex, xs, ms, sc, ys, 2));
		s->rows[0] = s->rows[1] = 0;
		PROF(SM_OP_EXPERTS);
	} else {
		/* group the (token, expert) pairs by expert, tokens in order */
		memset(s->count, 0, sizeof(int32_t) * s->E);
		for (int i = 0; i < 2 * n; i++)
			s->count[s->sel[i]]++;
		for (int e = 0, off = 0; e < s->E; e++) {
			s->fill[e] = off;
			off += s->count[e];
		}
		for (int i = 0; i < 2 * n; i++) {
			int slot = s->fill[s->sel[i]]++;

			s->rows[slot] = i / 2;
			s->rscale[slot] = s->sel_w[i];
		}
		BE(gather(be, s->xn, H, s->rows, 2 * n, s->xs));
		PROF(SM_OP_MOE_MOVE);
		for (int e = 0, off = 0; e < s->E; off += s->count[e], e++) {
			if (!s->count[e])
				continue;
			s->ex_e[ne] = ls->experts[e];
			s->ex_x[ne] = s->xs + (size_t)off * H;
			s->ex_m[ne] = s->count[e];
			s->ex_scale[ne] = s->rscale + off;
			s->ex_y[ne] = s->ys + (size_t)off * H;
			ne++;
		}
		BE_CALL(sm_be_experts(be, s->ex_e, s->ex_x, s->ex_m, s->ex_scale, s->ex_y, ne));
		PROF(SM_OP_EXPERTS);
	}
	memset(s->tmp, 0, sizeof(float) * (size_t)n * H);
	BE(scatter_add(be, s->ys, H, s->rows, 2 * n, s->tmp));
	PROF(SM_OP_MOE_MOVE);
	return 0;
}

/* The final norm and the lm_head on the last row of every item that asks
 * for logits, into head_logits (row i: the i-th such item), then copied
 * where the item wants them. */
static int head(struct phimoe_session *s, const struct run_item *it, int count)
{
	struct sm_backend *be = s->be;
	int H = s->H, k = 0;

	for (int i = 0; i < count; i++)
		if (it[i].logits)
			s->head_rows[k++] = it[i].row0 + it[i].n - 1;
	if (k == 1) {
		BE(layernorm(be, s->x + (size_t)s->head_rows[0] * H, 1, H, s->norm_g, s->norm_b,
			     s->eps, s->xn));
	} else if (k > 1) {
		BE(gather(be, s->x, H, s->head_rows, k, s->tmp));
		BE(layernorm(be, s->tmp, k, H, s->norm_g, s->norm_b, s->eps, s->xn));
	}
	if (k)
		BE(linear(be, s->lm_head, s->xn, k, s->head_logits));
	BE(sync(be));
	for (int i = 0, j = 0; i < count; i++) {
		float *src;

		if (!it[i].logits)
			continue;
		src = s->head_logits + (size_t)j++ * s->V;
		if (it[i].logits != src)
			memcpy(it[i].logits, src, sizeof(float) * s->V);
	}
	return 0;
}

/*
 * One forward pass over the items' rows, stacked (nrows <= max_batch),
 * each at its sequence's position; the sequences' blocks are already
 * there (seq_grow). out (prefill, one item): its rows go to out rows
 * out_row0.. of out_total.
 */
static int forward(struct phimoe_session *s, const struct run_item *it, int count, int nrows,
		   const struct phimoe_prefill_out *out, int out_row0, int out_total)
{
	struct sm_backend *be = s->be;
	int H = s->H, n = nrows;
	uint64_t t_ = s->profile ? now_ns() : 0, t_layer = t_, t_pass = t_;

	for (int i = 0; i < count; i++)
		for (int r = 0; r < it[i].n; r++)
			phimoe_tensor_to_f32(&s->model->embed_tokens, (size_t)it[i].ids[r] * H, H,
					     s->x + (size_t)(it[i].row0 + r) * H);
	PROF(SM_OP_EMBED);

	for (int l = 0; l < s->L; l++) {
		struct layer_state *ls = &s->layers[l];

		sm_be_stage(be, l, SM_STAGE_ATTENTION);
		BE(layernorm(be, s->x, n, H, ls->ln1_g, ls->ln1_b, s->eps, s->xn));
		PROF(SM_OP_NORM);
		BE(linear(be, ls->qkv, s->xn, n, s->qkv));
		PROF(SM_OP_QKV);
		for (int i = 0; i < count; i++)
			BE(rope(be, s->qkv + (size_t)it[i].row0 * s->qkv_dim, it[i].n, s->qkv_dim,
				s->nh + s->nkv, s->hd, s->seqs[it[i].seq].pos, s->rope_cos,
				s->rope_sin));
		PROF(SM_OP_ROPE);
		for (int i = 0; i < count; i++) {
			const struct seq_state *q = &s->seqs[it[i].seq];
			float *qkv = s->qkv + (size_t)it[i].row0 * s->qkv_dim;
			s->attn_args[i] = (struct sm_attn_args){
				.m = it[i].n, .pos0 = q->pos,
				.n_heads = s->nh, .n_kv_heads = s->nkv, .head_dim = s->hd,
				.window = s->window, .scale = s->attn_scale,
				.q = qkv, .k = qkv + s->q_dim, .v = qkv + s->q_dim + s->kv_dim,
				.row_stride = s->qkv_dim,
				.k_cache = ls->k_cache, .v_cache = ls->v_cache,
				.max_seq = s->max_seq,
				.block_table = s->kv_paged ? q->table : NULL,
				.block_size = s->kv_paged ? s->kv_block : 0,
				.out = s->attn + (size_t)it[i].row0 * s->q_dim,
				.scratch = s->scratch,
			};
		}
		BE_CALL(sm_be_attention_batch(be, s->attn_args, count));
		PROF(SM_OP_ATTENTION);
		BE(linear(be, ls->o, s->attn, n, s->tmp));
		PROF(SM_OP_O_PROJ);
		BE(add(be, s->x, s->tmp, (size_t)n * H));
		PROF(SM_OP_RESIDUAL);

		sm_be_stage(be, l, SM_STAGE_ROUTER);
		BE(layernorm(be, s->x, n, H, ls->ln2_g, ls->ln2_b, s->eps, s->xn));
		PROF(SM_OP_NORM);
		BE(linear(be, ls->router, s->xn, n, s->scores));
		BE(router(be, s->scores, n, s->E, s->jitter, s->sel, s->sel_w));
		PROF(SM_OP_ROUTER);
		BE(sync(be));	/* the grouping below reads the choices */
		PROF(SM_OP_SYNC);
		if (out && out->router_logits)
			for (int r = 0; r < n; r++)
				memcpy(out->router_logits + ((size_t)l * out_total + out_row0 + r) * s->E,
				       s->scores + (size_t)r * s->E, sizeof(float) * s->E);
		for (int r = 0; out && r < n; r++) {
			size_t o = ((size_t)l * out_total + out_row0 + r) * 2;

			if (out->experts) {
				out->experts[o] = s->sel[2 * r];
				out->experts[o + 1] = s->sel[2 * r + 1];
			}
			if (out->expert_weights) {
				out->expert_weights[o] = s->sel_w[2 * r];
				out->expert_weights[o + 1] = s->sel_w[2 * r + 1];
			}
		}
		sm_be_stage(be, l, SM_STAGE_EXPERTS);
		int rc = moe(s, ls, n);

		if (rc)
			return rc;
		if (s->profile)
			t_ = now_ns();
		BE(add(be, s->x, s->tmp, (size_t)n * H));
		PROF(SM_OP_RESIDUAL);
		if (s->profile) {
			s->layer_ns[l] += t_ - t_layer;
			t_layer = t_;
		}
	}

	sm_be_stage(be, -1, SM_STAGE_HEAD);
	if (out && out->logits) {
		float *dst = out->logits + (size_t)out_row0 * s->V;

		BE(layernorm(be, s->x, n, H, s->norm_g, s->norm_b, s->eps, s->xn));
		BE(linear(be, s->lm_head, s->xn, n, dst));
		PROF(SM_OP_LM_HEAD);
		BE(sync(be));
		PROF(SM_OP_SYNC);
		memcpy(s->logits, dst + (size_t)(n - 1) * s->V, sizeof(float) * s->V);
	} else {
		int rc = head(s, it, count);

		if (rc)
			return rc;
		PROF(SM_OP_LM_HEAD);
	}
	if (s->profile) {
		s->prof.tokens += n;
		s->prof.total_ns += t_ - t_pass;
	}
	for (int i = 0; i < count; i++)
		s->seqs[it[i].seq].pos += it[i].n;
	return 0;
}

/* -ENOSPC (one line in err) unless sequence q can take n more tokens. */
static int check_room(struct phimoe_session *s, int seq, int n, int *blocks)
{
	const struct seq_state *q = &s->seqs[seq];
	int need = blocks_short(s, q, n);

	if (n > s->max_seq - q->pos)
		return seterr(s, -ENOSPC, "sequence %d: %d tokens exceed the KV cache (max_seq %d)",
			      seq, q->pos + n, s->max_seq);
	*blocks += need;
	if (*blocks > s->nfree)
		return seterr(s, -ENOSPC, "sequence %d: the KV pool is full (%d of %d blocks of %d "
			      "tokens free, %d needed)", seq, s->nfree, s->kv_blocks, s->kv_block,
			      *blocks);
	return 0;
}

static int check_ids(struct phimoe_session *s, const int32_t *ids, int n)
{
	for (int i = 0; i < n; i++)
		if (ids[i] < 0 || ids[i] >= s->V)
			return seterr(s, -EINVAL, "token id %d at %d is outside the vocabulary (0..%d)",
				      ids[i], i, s->V - 1);
	return 0;
}

/* Sequence 0: n tokens in chunks of max_batch. */
static int run_tokens(struct phimoe_session *s, const int32_t *ids, int n,
		      const struct phimoe_prefill_out *out)
{
	int blocks = 0, rc;

	if (n <= 0)
		return seterr(s, -EINVAL, "empty token batch");
	rc = check_room(s, 0, n, &blocks);
	if (!rc)
		rc = check_ids(s, ids, n);
	if (rc)
		return rc;
	seq_grow(s, &s->seqs[0], n);
	for (int r0 = 0; r0 < n; r0 += s->max_batch) {
		int c = n - r0 < s->max_batch ? n - r0 : s->max_batch;
		struct run_item it = {
			.seq = 0, .ids = ids + r0, .n = c, .row0 = 0,
			.logits = r0 + c == n ? s->logits : NULL,
		};

		rc = forward(s, &it, 1, c, out, r0, n);
		if (rc)
			return rc;
	}
	return 0;
}

int phimoe_prefill(struct phimoe_session *s, const int32_t *ids, int n,
		   const struct phimoe_prefill_out *out)
{
	uint64_t t0 = now_ns();
	int rc = run_tokens(s, ids, n, out);

	if (!rc) {
		s->st.prefill_tokens += n;
		s->st.prefill_ns += now_ns() - t0;
	}
	return rc;
}

int phimoe_decode(struct phimoe_session *s, int32_t id, const float **logits)
{
	uint64_t t0 = now_ns();
	int rc = run_tokens(s, &id, 1, NULL);

	if (rc)
		return rc;
	s->st.decode_tokens++;
	s->st.decode_ns += now_ns() - t0;
	if (logits)
		*logits = s->logits;
	return 0;
}

/* Every item checked before anything runs; the items' rows laid out. */
static int batch_plan(struct phimoe_session *s, const struct phimoe_batch_item *items,
		      int count, int *nrows)
{
	int rows = 0, blocks = 0, rc;

	if (!items || count < 1 || count > s->max_seqs)
		return seterr(s, -EINVAL, "batch of %d items (1..max_seqs %d)", count, s->max_seqs);
	if (++s->batch_stamp == 0) {
		memset(s->seen, 0, sizeof(*s->seen) * s->max_seqs);
		s->batch_stamp = 1;
	}
	for (int i = 0; i < count; i++) {
		const struct phimoe_batch_item *b = &items[i];

		if (b->seq < 0 || b->seq >= s->max_seqs || !s->seqs[b->seq].open)
			return seterr(s, -EINVAL, "batch item %d: sequence %d is not open", i, b->seq);
		if (s->seen[b->seq] == s->batch_stamp)
			return seterr(s, -EINVAL, "batch item %d: sequence %d appears twice", i, b->seq);
		s->seen[b->seq] = s->batch_stamp;
		if (b->n <= 0 || !b->ids)
			return seterr(s, -EINVAL, "batch item %d: no tokens (n %d)", i, b->n);
		if (b->n > s->max_batch - rows)
			return seterr(s, -EINVAL, "batch: more than max_batch (%d) rows", s->max_batch);
		for (int r = 0; r < b->n; r++)
			if (b->ids[r] < 0 || b->ids[r] >= s->V)
				return seterr(s, -EINVAL, "batch item %d: token id %d at %d is outside "
					      "the vocabulary (0..%d)", i, b->ids[r], r, s->V - 1);
		s->items[i] = (struct run_item){ .seq = b->seq, .ids = b->ids, .n = b->n,
						 .row0 = rows, .logits = b->logits };
		rows += b->n;
	}
	for (int i = 0; i < count; i++) {
		rc = check_room(s, items[i].seq, items[i].n, &blocks);
		if (rc)
			return rc;
	}
	*nrows = rows;
	return 0;
}

int phimoe_batch(struct phimoe_session *s, const struct phimoe_batch_item *items, int count)
{
	uint64_t t0 = now_ns();
	int nrows = 0, decoded = 0, rc = batch_plan(s, items, count, &nrows);

	if (rc)
		return rc;
	for (int i = 0; i < count; i++)
		seq_grow(s, &s->seqs[items[i].seq], items[i].n);
	rc = forward(s, s->items, count, nrows, NULL, 0, nrows);
	if (rc)
		return rc;
	for (int i = 0; i < count; i++)
		decoded += items[i].n == 1;
	s->st.decode_tokens += decoded;
	s->st.prefill_tokens += nrows - decoded;
	if (decoded)
		s->st.decode_ns += now_ns() - t0;
	else
		s->st.prefill_ns += now_ns() - t0;
	return 0;
}

const float *phimoe_session_logits(const struct phimoe_session *s) { return s->logits; }
int phimoe_session_pos(const struct phimoe_session *s) { return s->seqs[0].pos; }
enum sm_compute phimoe_session_compute(const struct phimoe_session *s) { return s->compute; }
const char *phimoe_session_error(const struct phimoe_session *s) { return s->err; }

const struct sm_arb_client *phimoe_session_arb_client(const struct phimoe_session *s)
{
	return s->gate;
}

void phimoe_session_get_stats(const struct phimoe_session *s,
			      struct phimoe_session_stats *st)
{
	*st = s->st;
	if (s->gate) {
		struct sm_arb_client_stats cs;

		sm_arb_client_get_stats(s->gate, &cs);
		st->gated_submissions = cs.acquires;
		st->gated_bytes = cs.granted_bytes;
		st->gated_completions = cs.completes;
		st->gated_completed_bytes = cs.completed_bytes;
		st->gate_wait_ns = cs.wait_ns;
	}
}

static const char *const op_class_names[] = {
	[SM_OP_EMBED] = "embed", [SM_OP_NORM] = "norm", [SM_OP_QKV] = "qkv",
	[SM_OP_ROPE] = "rope", [SM_OP_ATTENTION] = "attention", [SM_OP_O_PROJ] = "o_proj",
	[SM_OP_RESIDUAL] = "residual", [SM_OP_ROUTER] = "router",
	[SM_OP_MOE_MOVE] = "moe_move", [SM_OP_EXPERTS] = "experts",
	[SM_OP_LM_HEAD] = "lm_head", [SM_OP_SYNC] = "sync",
};

const char *sm_op_class_name(enum sm_op_class c)
{
	return sm_name_of(op_class_names, SM_NAMES_LEN(op_class_names), (unsigned)c);
}

void phimoe_session_profile(const struct phimoe_session *s, struct phimoe_profile *p,
			    uint64_t *layer_ns, int nlayers)
{
	*p = s->prof;
	for (int l = 0; layer_ns && l < nlayers && l < s->L; l++)
		layer_ns[l] = s->layer_ns ? s->layer_ns[l] : 0;
}

void phimoe_session_profile_reset(struct phimoe_session *s)
{
	memset(&s->prof, 0, sizeof(s->prof));
	if (s->layer_ns)
		memset(s->layer_ns, 0, sizeof(*s->layer_ns) * s->L);
}
