/* SPDX-License-Identifier: MIT */
/*
 * PhiMoE inference: a session over a loaded model (model.h) holding the
 * packed weights, the KV cache and every work buffer. Prefill runs the
 * prompt as one batch (tokens grouped by expert); decode runs one token
 * against the KV cache; phimoe_batch runs many sequences (each its own
 * KV blocks) through one pass. The numbers are those of Hugging Face transformers'
 * PhimoeForCausalLM (eager attention) in f32; bf16 trades a little accuracy
 * for speed.
 *
 * Work buffers, KV cache and packed weights are allocated by
 * phimoe_session_create(); prefill longer than max_batch is processed in
 * chunks of max_batch through the same buffers. Decode allocates nothing;
 * prefill creates a oneDNN primitive the first time a given row count
 * occurs for a matrix shape (then cached for the session's life).
 *
 * A session is not thread-safe: one caller at a time.
 *
 * tools/, libsplitmoe/ and the tests code against it: extend, do not change.
 */
#ifndef SPLITMOE_INFERENCE_H
#define SPLITMOE_INFERENCE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "backend/backend.h"	/* enum sm_weights_layout */
#include "cpu/quant.h"	/* enum sm_quant */

struct phimoe_model;
struct sm_arbiter;
struct sm_backend;

/* Compute type of the projections, experts and lm_head. Everything else
 * (norms, RoPE, attention, sparsemixer, residuals) is f32 in both.
 * bf16: weights packed as bf16 (half the bytes read), products on the
 * CPU's bf16 units; each activation row goes in as two bf16 rows, hi =
 * bf16(x) and lo = bf16(x - hi), stacked into one product so the weights
 * are still read once. Plain bf16 rounding of the activations fails the
 * fixture: the sparsemixer's mask is discontinuous, and a 0.4% change of
 * a router input flips it (cosine down to 0.87 at some positions). */
enum sm_compute {
	SM_COMPUTE_AUTO = 0,	/* bf16 where the CPU has AVX512-BF16 or AMX */
	SM_COMPUTE_F32,
	SM_COMPUTE_BF16,
};

/* What AUTO resolves to on this CPU. */
enum sm_compute sm_compute_default(void);
/*
 * The quantization a session gets when none is asked for (--quant auto):
 * int8 on a CPU without bf16 instructions (no AVX512-BF16/AMX for oneDNN,
 * or our kernels forced below AVX-512 by SPLITMOE_ISA) for a bf16, f16 or
 * f32 checkpoint (there f32 compute would copy Phi-tiny-MoE into 15 GB;
 * int8 holds 3.8 GB and meets the accuracy minimums, README), else none.
 */
enum sm_quant sm_quant_default(enum phimoe_dtype storage);

struct phimoe_session_opts {
	enum sm_compute compute;
	int threads;		/* oneDNN/OpenMP threads; 0: library default */
	int max_seq;		/* KV cache capacity in tokens;
				 * 0: min(max_position_embeddings, 4096) */
	int max_batch;		/* prefill chunk and the most rows of a
				 * phimoe_batch (rows of the work buffers);
				 * 0: 256; capped at max_seq * max_seqs */
	/* The session's own CPU backend: weights mapped in place or packed
	 * (backend.h); 0: auto (mapped where the compute type is the
	 * checkpoint's dtype). */
	enum sm_weights_layout weights;
	/* The CPU backend's own int8 or q4 copy of every projection, expert
	 * and the lm_head (quant.h; the router, norms, biases and
	 * embeddings keep the checkpoint's precision); 0: none. */
	enum sm_quant quant;
	/* Gating: the session registers one cpu-class client on this arbiter
	 * (arbiter.h) and acquires every heavy submission through it.
	 * NULL: not gated. */
	struct sm_arbiter *arbiter;
	const char *arb_name;	/* client name in stats; NULL: "splitmoe-cpu" */
	uint32_t arb_weight;	/* 0: 100 */
	uint64_t arb_reserve_mbps;
	/* Backend running the forward pass; NULL: the CPU backend, created
	 * and owned by the session. A backend passed here is borrowed and
	 * gates itself (its own client, backend.h): the arb_* fields above
	 * are then unused. */
	struct sm_backend *backend;
	/* Time every op of the forward pass by class and by layer
	 * (phimoe_session_profile); off: no clock reads on the hot path. */
	bool profile;
	/* Batched decode (phimoe_batch): how many sequences may be open at
	 * once; 0: 1. Sequence 0 is the one phimoe_prefill/phimoe_decode
	 * run on and is open from create to destroy. */
	int max_seqs;
	/* KV cache pool shared by every sequence, in tokens (allocated in
	 * blocks of PHIMOE_KV_BLOCK tokens as sequences grow, returned when they close;
	 * rounded up to whole blocks); 0: max_seq for one sequence,
	 * max_seq * max_seqs / 2 for more. Each sequence also stops at
	 * max_seq tokens. max_seqs > 1 needs the session's own CPU backend:
	 * with opts.backend (Level Zero, split) create fails with
	 * -EOPNOTSUPP. */
	int kv_tokens;
};

/* Tokens of a KV block (phimoe_session_opts.kv_tokens). */
#define PHIMOE_KV_BLOCK 32

struct phimoe_session;

/*
 * The CPU backend of a session with options o (compute, threads, weights,
 * quant), for passes of up to rows rows: the one place a CPU backend is
 * built, for a session's own and for the CPU half of device_setup's split.
 * 0, or a negative errno with one line in err.
 */
int phimoe_cpu_backend_create(const struct phimoe_session_opts *o, int rows,
			      struct sm_backend **out, char *err, size_t errlen);

/*
 * Packs the weights for the compute type (once), creates the oneDNN
 * primitives, the KV cache and the work buffers. The model must outlive
 * the session. 0, or a negative errno with one line in err.
 */
int phimoe_session_create(const struct phimoe_model *m,
			  const struct phimoe_session_opts *o,
			  struct phimoe_session **out, char *err, size_t errlen);
void phimoe_session_destroy(struct phimoe_session *s);

/* Forget sequence 0 (KV cache empty, position 0, its blocks back in the
 * pool); keeps everything else, the other sequences included. */
void phimoe_session_reset(struct phimoe_session *s);

/* Optional outputs of a prefill; any pointer may be NULL. */
struct phimoe_prefill_out {
	float *logits;		/* [n][vocab]: logits of every position */
	float *router_logits;	/* [layers][n][experts]: raw router scores */
	int32_t *experts;	/* [layers][n][top_k]: chosen experts, in order */
	float *expert_weights;	/* [layers][n][top_k]: their multipliers */
};

/*
 * Appends n tokens at the current position and runs them through the
 * model as one batch. The logits of the last position are always kept
 * (phimoe_session_logits). 0; -EINVAL for n <= 0 or an id outside the
 * vocabulary; -ENOSPC when the KV cache would overflow (max_seq);
 * -EINTR/-ETIMEDOUT/-EIO from the arbiter or backend (the sequence is then
 * undefined: reset before reuse).
 */
int phimoe_prefill(struct phimoe_session *s, const int32_t *ids, int n,
		   const struct phimoe_prefill_out *out);

/* One token through the KV-cache path; *logits (if not NULL) points at
 * [vocab] floats valid until the next call. Same errors as prefill. */
int phimoe_decode(struct phimoe_session *s, int32_t id, const float **logits);

/*
 * Batched decode: many sequences, each with its own position and KV
 * cache, through one forward pass per step (their linear and expert work
 * stacked as one prefill's rows, attention per sequence).
 */

/* Opens a new, empty sequence: its id (>= 1; 0 is the classic one; a
 * closed id is reused), or -EBUSY when max_seqs are open. */
int phimoe_seq_open(struct phimoe_session *s);
/* Closes a sequence and returns its KV blocks to the pool; an id that is
 * not open (or 0) is ignored. */
void phimoe_seq_close(struct phimoe_session *s, int seq);
/* Tokens in a sequence's cache, or -EINVAL when it is not open. After a
 * failed phimoe_batch (anything but -EINVAL/-ENOSPC) the positions of
 * its sequences are undefined: close them (or reset sequence 0). */
int phimoe_seq_pos(const struct phimoe_session *s, int seq);

struct phimoe_batch_item {
	int seq;		/* an open sequence (0 included) */
	const int32_t *ids;	/* n tokens appended at the sequence's position */
	int n;			/* 1 to decode; more for (a chunk of) a prompt */
	float *logits;		/* [vocab]: logits of the item's last token;
				 * NULL: not needed */
};

/*
 * One forward pass over count items, each sequence at most once; the
 * rows (sum of n) at most max_batch. Each item's result equals what
 * phimoe_prefill/phimoe_decode would give that sequence alone (to the
 * rounding of stacked products). 0; -EINVAL for a bad item (closed or
 * repeated sequence, n <= 0, a bad id, too many rows); -ENOSPC when the
 * KV pool or max_seq cannot hold an item's tokens (nothing is run then);
 * the arbiter's and backend's errors as prefill.
 */
int phimoe_batch(struct phimoe_session *s, const struct phimoe_batch_item *items,
		 int count);

/* Logits of the last position processed: [vocab] (after phimoe_batch:
 * those of its first item that asked for logits). */
const float *phimoe_session_logits(const struct phimoe_session *s);
int phimoe_session_pos(const struct phimoe_session *s);	/* tokens in cache */
enum sm_compute phimoe_session_compute(const struct phimoe_session *s);
/* Last error of the session as one line ("" if none). */
const char *phimoe_session_error(const struct phimoe_session *s);

struct phimoe_session_stats {
	uint64_t prefill_tokens, decode_tokens;
	uint64_t prefill_ns, decode_ns;		/* wall time inside the calls */
	uint64_t gated_submissions;		/* arbiter acquires */
	uint64_t gated_bytes;			/* bytes acquired */
	uint64_t gated_completions;		/* arbiter completes */
	uint64_t gated_completed_bytes;		/* bytes completed */
	uint64_t gate_wait_ns;			/* time spent in acquire */
	uint64_t packed_weight_bytes;		/* weights packed at create */
	uint64_t mapped_weight_bytes;		/* weights read in place from the mapping */
	uint64_t workspace_bytes;		/* KV cache + work buffers, the
						 * backend's included */
};
void phimoe_session_get_stats(const struct phimoe_session *s,
			      struct phimoe_session_stats *st);
/* The session's own arbiter client (NULL when ungated or when the backend
 * gates itself): its whole statistics, wait histogram included (arbiter.h). */
struct sm_arb_client;
const struct sm_arb_client *phimoe_session_arb_client(const struct phimoe_session *s);

/* Op classes of the timing breakdown (phimoe_session_opts.profile). On
 * an asynchronous backend (Level Zero) a class is charged the time its
 * submission took; sync and the host's waits go to SM_OP_SYNC. */
enum sm_op_class {
	SM_OP_EMBED = 0,	/* token embedding rows to f32 */
	SM_OP_NORM,		/* the three LayerNorms */
	SM_OP_QKV,		/* q|k|v projection */
	SM_OP_ROPE,
	SM_OP_ATTENTION,	/* KV append + softmax(q k^T) v */
	SM_OP_O_PROJ,
	SM_OP_RESIDUAL,		/* the two residual adds */
	SM_OP_ROUTER,		/* router linear + sparsemixer */
	SM_OP_MOE_MOVE,		/* grouping, gather, scatter_add */
	SM_OP_EXPERTS,		/* w1|w3, silu gate, w2 */
	SM_OP_LM_HEAD,		/* final norm + lm_head */
	SM_OP_SYNC,
	SM_OP_COUNT,
};

/* "embed", "norm", "qkv", ... (stable names: bench's JSON keys). */
const char *sm_op_class_name(enum sm_op_class c);

struct phimoe_profile {
	uint64_t ns[SM_OP_COUNT];	/* wall time inside the ops of a class */
	uint64_t calls[SM_OP_COUNT];
	uint64_t tokens;		/* tokens run through the pass */
	uint64_t total_ns;		/* wall time of the whole passes */
};

/*
 * The breakdown since the session was created or last reset: totals in
 * *p, and the wall time of each layer in layer_ns[0..nlayers) (layers
 * beyond the model's are left alone; layer_ns may be NULL). All zero when
 * the session was created without opts.profile.
 */
void phimoe_session_profile(const struct phimoe_session *s, struct phimoe_profile *p,
			    uint64_t *layer_ns, int nlayers);
void phimoe_session_profile_reset(struct phimoe_session *s);

#endif /* SPLITMOE_INFERENCE_H */
