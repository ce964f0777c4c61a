/* SPDX-License-Identifier: MIT */
/*
 * The device-specific operations of the PhiMoE forward pass, behind a small
 * vtable. inference.c sequences a layer as
 *
 *   layernorm -> linear(qkv) -> rope(q and k) -> attention (append k/v to
 *   the cache, softmax(q k^T / sqrt(d)) v) -> linear(o) -> add -> layernorm ->
 *   linear(router) -> router (sparsemixer top-2) -> gather by expert ->
 *   expert (one call per expert with tokens) -> scatter_add -> add
 *
 * and ends with layernorm -> linear(lm_head). The CPU backend
 * (cpu_backend.c: oneDNN for linear/expert, cpu_math.c for the rest) is the
 * reference; a Level Zero backend implements the same ops with kernels.
 *
 * Memory model: every float pointer an op receives was allocated with the
 * backend's alloc() (host-visible: USM shared/host memory on an iGPU) or is
 * a weight view the backend packed itself. Shapes are row-major. An expert
 * that two backends may run is packed once, by the one whose memory both
 * devices read (desc.shared), and the other computes on it in place
 * (expert_view, expert_create_shared): one copy of the weights.
 *
 * Ordering: ops may run asynchronously but in submission order per backend;
 * sync() waits for all of them. inference.c calls sync() before it reads a
 * result on the host (router choices, logits) and before handing buffers
 * to another backend (split mode).
 *
 * Gating: a backend holds its own arbiter client (its class: cpu or gpu)
 * and acquires each heavy op (linear, expert) before it is submitted and
 * completes it when it has finished; the byte estimate is weights read +
 * activations read and written (sm_linear_bytes/sm_expert_bytes). The
 * Level Zero backend gates its small ops as well (every submission of the
 * iGPU goes through the arbiter); the CPU runs them ungated.
 *
 * Every op returns 0 or a negative errno; errors are sticky per backend
 * (see last_error).
 *
 * Every backend implements it and the session calls it: extend, do not
 * change.
 */
#ifndef SPLITMOE_BACKEND_H
#define SPLITMOE_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <errno.h>

#include "model/model.h"

struct sm_arb_client;
struct sm_backend;
struct sm_linear;		/* packed weights of one linear layer, backend-owned */
struct sm_expert;		/* packed w1|w3 and w2 of one expert */

#define SM_LINEAR_MAX_PARTS 3

/*
 * A linear layer y = x W^T + b whose W is the row-wise concatenation of up
 * to three checkpoint matrices (q|k|v share one product). Each part is
 * [rows_i][in]; biases, when present, are [rows_i].
 */
struct sm_linear_desc {
	const char *name;			/* for errors and profiles */
	int nparts;
	/* never quantized (the router: its top-2 choice is discontinuous) */
	bool keep_precision;
	/* quantized to int8, its input in two int8 parts (cpu_gemv.h's
	 * xq_fine): q|k|v, whose input precision shows in the logits */
	bool fine_input;
	struct phimoe_tensor w[SM_LINEAR_MAX_PARTS];
	struct phimoe_tensor b[SM_LINEAR_MAX_PARTS];	/* data NULL: no bias */
};

/* One expert: y = w2 (silu(w1 x) * (w3 x)). w1, w3: [inter][hidden];
 * w2: [hidden][inter]. */
struct sm_expert_desc {
	const char *name;
	struct phimoe_tensor w1, w3, w2;
	/* Packed once for two backends (the split's expert modes): in the
	 * layout of struct sm_expert_view, as shared_dtype (F32 or BF16), in
	 * memory the CPU reads too; expert_view() then describes it. false:
	 * the backend's own layout. */
	bool shared;
	enum phimoe_dtype shared_dtype;
};

/* A weight matrix in host-readable memory: row-major [rows][cols] of
 * dtype (F32 or BF16), as the checkpoint stores it. */
struct sm_weight_view {
	const void *data;
	enum phimoe_dtype dtype;
	int rows, cols;
};

/* An expert's weights in the one layout both backends read: w13 is
 * [2*inter][hidden], the rows of w1 then those of w3 (the fused gate/up
 * product of both backends), w2 is [hidden][inter]. */
struct sm_expert_view {
	struct sm_weight_view w13, w2;
};

/* Compute type of packed weights (the rest of the pass is f32). */
enum sm_backend_compute {
	SM_BACKEND_F32 = 0,
	SM_BACKEND_BF16 = 1,
};

/* Arguments of one attention call over m new tokens at positions
 * pos0..pos0+m-1 of one layer. */
struct sm_attn_args {
	int m;			/* new tokens */
	int pos0;		/* position of the first new token */
	int n_heads, n_kv_heads, head_dim;
	int window;		/* key j attends query i iff i-window < j <= i; 0: none */
	float scale;		/* 1/sqrt(head_dim) */
	/* q, k, v: [m] rows of row_stride floats (the qkv product), heads at
	 * q + h*head_dim; RoPE already applied to q and k. attention stores
	 * k and v of the new tokens into the cache, then attends. */
	const float *q, *k, *v;
	int row_stride;
	float *k_cache, *v_cache;	/* [max_seq][n_kv_heads*head_dim] of this layer */
	int max_seq;		/* positions pos0 + m may reach */
	/* KV blocks (batched decode, inference.h): position j is cache row
	 * block_table[j / block_size] * block_size + j % block_size of a pool
	 * k_cache/v_cache; block_size a power of two. NULL: contiguous
	 * [max_seq] rows (the only form the Level Zero backend takes). */
	const int32_t *block_table;
	int block_size;
	float *out;		/* [m][n_heads*head_dim] */
	float *scratch;		/* >= n_heads * (pos0+m) floats, from alloc() */
};

/* The stages of a layer, in order (see the top of this file): layernorm,
 * qkv, rope, attention, o, add | layernorm, router linear, router | gather,
 * experts, scatter_add, add. */
enum sm_stage {
	SM_STAGE_ATTENTION = 0,
	SM_STAGE_ROUTER,
	SM_STAGE_EXPERTS,
	SM_STAGE_HEAD,
	SM_STAGE_COUNT,
};

struct sm_backend_ops {
	const char *name;		/* "cpu-onednn", "level-zero", ... */
	void (*destroy)(struct sm_backend *be);

	/* Host-visible memory for activations and the KV cache. */
	void *(*alloc)(struct sm_backend *be, size_t bytes);
	void (*free)(struct sm_backend *be, void *p);

	/* Packing happens here, once: reorder/convert to the preferred layout. */
	int (*linear_create)(struct sm_backend *be, const struct sm_linear_desc *d,
			     struct sm_linear **out);
	void (*linear_destroy)(struct sm_backend *be, struct sm_linear *l);
	/* y[m][out] = x[m][in] W^T + b (gated). */
	int (*linear)(struct sm_backend *be, struct sm_linear *l, const float *x,
		      int m, float *y);

	int (*expert_create)(struct sm_backend *be, const struct sm_expert_desc *d,
			     struct sm_expert **out);
	void (*expert_destroy)(struct sm_backend *be, struct sm_expert *e);
	/* y[i] = scale[i] * w2(silu(w1 x[i]) * w3 x[i]) for i < m (gated).
	 * x: [m][hidden], y: [m][hidden]. */
	int (*expert)(struct sm_backend *be, struct sm_expert *e, const float *x,
		      int m, const float *scale, float *y);
	/* Optional (NULL: one expert() call each). Several experts in one
	 * call, for i < count: y[i] = scale[i] * expert e[i] of x[i] (m[i]
	 * rows each, as expert()), so that a backend can run them side by
	 * side (decode's two experts: one pass over both). Gated once for
	 * the sum. */
	int (*experts)(struct sm_backend *be, struct sm_expert *const *e,
		       const float *const *x, const int *m, const float *const *scale,
		       float *const *y, int count);
	/* Optional (NULL: -EOPNOTSUPP). The weights the expert's op reads,
	 * as views, when they are in the layout of sm_expert_view (valid until
	 * expert_destroy); -EOPNOTSUPP when they are in a private layout. */
	int (*expert_view)(struct sm_backend *be, struct sm_expert *e,
			   struct sm_expert_view *out);
	/* Optional (NULL: -EOPNOTSUPP). An expert over weights that another
	 * backend owns, read in place, no copy: the view must outlive it.
	 * -EOPNOTSUPP when this backend cannot compute on that dtype. */
	int (*expert_create_shared)(struct sm_backend *be, const char *name,
				    const struct sm_expert_view *v,
				    struct sm_expert **out);

	/* y[i] = (x[i] - mean) / sqrt(var + eps) * gamma + beta; n columns. */
	int (*layernorm)(struct sm_backend *be, const float *x, int m, int n,
			 const float *gamma, const float *beta, float eps, float *y);
	/* Rotate-half RoPE in place on m rows of `heads` heads at positions
	 * pos0.. ; x rows are row_stride floats apart; tables are
	 * [position][head_dim/2] (cos/sin of position * inv_freq). */
	int (*rope)(struct sm_backend *be, float *x, int m, int row_stride,
		    int heads, int head_dim, int pos0, const float *cos_tab,
		    const float *sin_tab);
	int (*attention)(struct sm_backend *be, const struct sm_attn_args *a);
	/* Optional (NULL: one attention() call each). count calls at once
	 * (batched decode: one per sequence, all on the same layer's cache),
	 * so that a backend can spread all their work over its threads. */
	int (*attention_batch)(struct sm_backend *be, const struct sm_attn_args *a, int count);
	/* Sparsemixer top-2 (eval mode) on scores[m][n_experts]: experts[m][2],
	 * weights[m][2] (not renormalised). */
	int (*router)(struct sm_backend *be, const float *scores, int m,
		      int n_experts, float jitter_eps, int32_t *experts,
		      float *weights);
	/* dst[i] = src[rows[i]] for i < n (rows of `cols` floats). */
	int (*gather)(struct sm_backend *be, const float *src, int cols,
		      const int32_t *rows, int n, float *dst);
	/* dst[rows[i]] += src[i] for i < n, in increasing i. */
	int (*scatter_add)(struct sm_backend *be, const float *src, int cols,
			   const int32_t *rows, int n, float *dst);
	/* y[i] += x[i] for i < n. */
	int (*add)(struct sm_backend *be, float *y, const float *x, size_t n);

	int (*sync)(struct sm_backend *be);

	/* Optional (NULL: nothing to do). The forward pass says which stage
	 * of which layer the ops that follow belong to, so that a scheduling
	 * backend (scheduler.h) can place them; layer -1 with SM_STAGE_HEAD
	 * for the final norm and the lm_head. */
	void (*stage)(struct sm_backend *be, int layer, enum sm_stage stage);
};

struct sm_backend {
	const struct sm_backend_ops *ops;
	enum sm_backend_compute compute;
	struct sm_arb_client *gate;	/* NULL: ungated; borrowed */
	/* Weight bytes held now (created minus destroyed). */
	uint64_t packed_bytes;		/* allocated by this backend */
	uint64_t shared_bytes;		/* of those, packed for another backend too */
	uint64_t borrowed_bytes;	/* read in place from another's memory */
	uint64_t mapped_bytes;		/* read in place from the checkpoint mapping */
	/* Work memory the backend allocated for its ops (buffers, oneDNN
	 * scratchpads), now. */
	uint64_t work_bytes;
	char last_error[256];
	void *priv;
};

/* Byte estimates of the gated ops, as every backend computes them. */
uint64_t sm_linear_bytes(uint64_t weight_bytes, int m, int in, int out);
uint64_t sm_expert_bytes(uint64_t weight_bytes, int m, int hidden, int inter);

/*
 * Where the CPU backend's oneDNN reads a weight from. packed: reordered
 * once into the layout oneDNN prefers (a copy of the model, the fastest
 * prefill). mapped: the checkpoint tensors in place (no copy; the separate
 * checkpoint tensors of q|k|v and w1|w3 become separate products into one
 * output, the input converted once per part in bf16); only where the
 * tensor's dtype is the compute type, else an error naming it. auto:
 * mapped where the dtype allows, packed elsewhere. Measured trade-off:
 * README "Mapped or packed weights".
 */
enum sm_weights_layout {
	SM_WEIGHTS_AUTO = 0,
	SM_WEIGHTS_PACKED,
	SM_WEIGHTS_MAPPED,
};


struct sm_cpu_backend_opts {
	enum sm_backend_compute compute;
	enum sm_weights_layout weights;	/* 0: auto */
	int quant;			/* enum sm_quant (quant.h); 0: none */
	int threads;			/* 0: OpenMP default */
	int max_rows;			/* largest m of linear/expert; 0: 512 */
	struct sm_arb_client *gate;	/* NULL: ungated */
};

/* The oneDNN CPU backend. 0, or a negative errno with one line in err. */
int sm_cpu_backend_create(const struct sm_cpu_backend_opts *o,
			  struct sm_backend **out, char *err, size_t errlen);

/*
 * Introspection of the CPU backend (tests): the memory oneDNN reads for
 * part i of a linear layer (0..nparts-1) or of an expert (0: w1, 1: w3,
 * 2: w2), when that part is row-major in place (mapped or shared); NULL
 * when it is packed (w1 and w3 packed or shared as one fused matrix: part
 * 0 is the fused matrix, part 1 NULL). Quantized: the codes of a quantized
 * file, read in place; NULL for --quant's own copy.
 */
const void *sm_cpu_linear_weight_data(const struct sm_linear *l, int i);
const void *sm_cpu_expert_weight_data(const struct sm_expert *e, int i);

/* Wrappers that read well at call sites. */
static inline int sm_be_sync(struct sm_backend *be) { return be->ops->sync(be); }
static inline int sm_be_expert_view(struct sm_backend *be, struct sm_expert *e,
				    struct sm_expert_view *out)
{
	return be->ops->expert_view ? be->ops->expert_view(be, e, out) : -EOPNOTSUPP;
}
/* Several experts at once (backend op experts, or one expert() each). */
static inline int sm_be_experts(struct sm_backend *be, struct sm_expert *const *e,
				const float *const *x, const int *m,
				const float *const *scale, float *const *y, int count)
{
	if (be->ops->experts)
		return be->ops->experts(be, e, x, m, scale, y, count);
	for (int i = 0; i < count; i++) {
		int rc = be->ops->expert(be, e[i], x[i], m[i], scale[i], y[i]);

		if (rc)
			return rc;
	}
	return 0;
}
/* Several attention calls at once (backend op attention_batch, or one
 * attention() each). */
static inline int sm_be_attention_batch(struct sm_backend *be, const struct sm_attn_args *a,
					int count)
{
	if (be->ops->attention_batch && count > 1)
		return be->ops->attention_batch(be, a, count);
	for (int i = 0; i < count; i++) {
		int rc = be->ops->attention(be, &a[i]);

		if (rc)
			return rc;
	}
	return 0;
}
static inline void sm_be_stage(struct sm_backend *be, int layer, enum sm_stage st)
{
	if (be->ops->stage)
		be->ops->stage(be, layer, st);
}

#endif /* SPLITMOE_BACKEND_H */
