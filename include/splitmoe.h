/* SPDX-License-Identifier: MIT */
/*
 * splitmoe: the public C API for programs that embed the engine (PhiMoE
 * models on the CPU and a Level Zero GPU, every heavy submission gated by
 * the bwarb DRAM-bandwidth arbiter).
 *
 * Link with `pkg-config --cflags --libs splitmoe` (libsplitmoe.so.0).
 *
 *   splitmoe_model *m;   splitmoe_session *s;   splitmoe_sampler *smp;
 *   splitmoe_model_load(dir, NULL, &m, err, sizeof(err));
 *   splitmoe_session_create(m, NULL, &s, err, sizeof(err));
 *   splitmoe_tokenize(m, "Hello", ids, cap, &n);
 *   splitmoe_prefill(s, ids, n);
 *   splitmoe_sampler_create(m, NULL, &smp);
 *   id = splitmoe_sample(smp, splitmoe_logits(s));  then splitmoe_decode(s, id) ...
 *
 * Handles are opaque. Parameter structs are filled from their
 * splitmoe_*_default_params() and passed by pointer (NULL: the defaults).
 * Every call that can fail returns a splitmoe_status (0 is success, errors
 * are negative); splitmoe_status_str() names a code, and the calls that
 * create a handle also write one line of text saying what failed (naming
 * the file, tensor or option) into a caller's buffer; a session keeps the
 * text of its last error (splitmoe_session_error()).
 *
 * A model may serve several sessions; a session, a sampler and a
 * detokenizer are used by one thread at a time.
 */
#ifndef SPLITMOE_H
#define SPLITMOE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The API this header declares; libsplitmoe.so.0 keeps it compatible. */
#define SPLITMOE_API_VERSION 1

typedef enum splitmoe_status {
	SPLITMOE_OK = 0,
	SPLITMOE_ERR_INVALID = -1,	/* bad argument, option or token id */
	SPLITMOE_ERR_MODEL = -2,	/* model directory missing, unreadable or malformed */
	SPLITMOE_ERR_NOMEM = -3,
	SPLITMOE_ERR_KV_FULL = -4,	/* the KV cache cannot hold the tokens */
	SPLITMOE_ERR_BUSY = -5,		/* every sequence slot is open */
	SPLITMOE_ERR_TOO_SMALL = -6,	/* the caller's buffer is too small */
	SPLITMOE_ERR_ARBITER = -7,	/* the arbiter refused or failed */
	SPLITMOE_ERR_TIMEOUT = -8,	/* an arbiter grant timed out */
	SPLITMOE_ERR_INTERRUPTED = -9,	/* a signal interrupted a wait */
	SPLITMOE_ERR_UNSUPPORTED = -10,	/* not in this build or on this machine */
	SPLITMOE_ERR_BACKEND = -11,	/* the device failed (the sequence is then undefined) */
} splitmoe_status;

/* "ok", "invalid argument", ... for any value (unknown codes included). */
const char *splitmoe_status_str(splitmoe_status st);
/* The library's version, "MAJOR.MINOR.PATCH". */
const char *splitmoe_version(void);

typedef struct splitmoe_model splitmoe_model;
typedef struct splitmoe_session splitmoe_session;
typedef struct splitmoe_sampler splitmoe_sampler;
typedef struct splitmoe_detok splitmoe_detok;

/* ---- model -------------------------------------------------------------- */

struct splitmoe_model_params {
	bool tokenizer;		/* load tokenizer.model too (tokenize/detokenize); default true */
	/* the tokenizer alone, no weights (tokenize/detokenize only; the
	 * model's figures read 0, sessions and samplers are refused as
	 * SPLITMOE_ERR_INVALID); default false */
	bool vocab_only;
};
struct splitmoe_model_params splitmoe_model_default_params(void);

/*
 * Maps a Hugging Face PhiMoE checkpoint directory (config.json,
 * safetensors, tokenizer files) and checks every tensor against the
 * config. SPLITMOE_OK, or SPLITMOE_ERR_MODEL / _NOMEM with one line in
 * err (may be NULL) naming the file and field or tensor.
 */
splitmoe_status splitmoe_model_load(const char *dir, const struct splitmoe_model_params *p,
				    splitmoe_model **out, char *err, size_t errlen);
/* Every session of the model must be freed first. NULL is ignored. */
void splitmoe_model_free(splitmoe_model *m);

int splitmoe_model_vocab(const splitmoe_model *m);
int splitmoe_model_layers(const splitmoe_model *m);
int splitmoe_model_hidden(const splitmoe_model *m);
int splitmoe_model_experts(const splitmoe_model *m);		/* per layer */
int splitmoe_model_experts_per_token(const splitmoe_model *m);
int splitmoe_model_max_positions(const splitmoe_model *m);
uint64_t splitmoe_model_params_count(const splitmoe_model *m);
uint64_t splitmoe_model_bytes(const splitmoe_model *m);	/* weights as stored */
/* BOS id, or -1 when the model has none. */
int32_t splitmoe_token_bos(const splitmoe_model *m);
/* Whether id ends a generation (generation_config.json's eos_token_id). */
bool splitmoe_token_is_eos(const splitmoe_model *m, int32_t id);

/* ---- tokens ------------------------------------------------------------- */

/*
 * Text to token ids (special tokens such as <|end|> matched literally, BOS
 * first when the tokenizer adds one). *n receives the full count; the
 * first min(*n, cap) ids are written. SPLITMOE_OK, _TOO_SMALL when *n >
 * cap, _UNSUPPORTED when the model was loaded without its tokenizer,
 * _INVALID with no text.
 */
splitmoe_status splitmoe_tokenize(const splitmoe_model *m, const char *text, int32_t *ids,
				  size_t cap, size_t *n);
/* The same for one chat turn in the model's format (Phi-3:
 * <|system|>...<|end|><|user|>...<|end|><|assistant|>); system may be NULL. */
splitmoe_status splitmoe_tokenize_chat(const splitmoe_model *m, const char *system,
				       const char *user, int32_t *ids, size_t cap, size_t *n);
/*
 * Ids to text, as SentencePiece decodes them. Writes at most cap - 1
 * bytes and a NUL (when cap > 0) and returns the length of the whole text,
 * as snprintf does (cap smaller than that + 1: truncated); -1 on a model
 * without tokenizer or out of memory.
 */
long splitmoe_detokenize(const splitmoe_model *m, const int32_t *ids, size_t n, char *buf,
			 size_t cap);
/*
 * Streaming: push the generated ids one by one and write out the bytes
 * that became final (an unfinished UTF-8 character is held back).
 * continuation true keeps the leading space of the first piece (text that
 * continues a prompt), false drops it (a fresh answer). NULL on a model
 * without tokenizer or out of memory.
 */
splitmoe_detok *splitmoe_detok_create(const splitmoe_model *m, bool continuation);
/* Bytes written into out (NUL-terminated; cap >= 64 always holds a token). */
size_t splitmoe_detok_push(splitmoe_detok *d, int32_t id, char *out, size_t cap);
size_t splitmoe_detok_flush(splitmoe_detok *d, char *out, size_t cap);
void splitmoe_detok_free(splitmoe_detok *d);

/* ---- session ------------------------------------------------------------ */

typedef enum splitmoe_device {
	SPLITMOE_DEVICE_CPU = 0,
	SPLITMOE_DEVICE_GPU,		/* the Level Zero GPU runs the forward pass */
	SPLITMOE_DEVICE_SPLIT,		/* CPU and GPU share it (split_mode) */
} splitmoe_device;

typedef enum splitmoe_split_mode {
	SPLITMOE_SPLIT_PARTITION = 0,	/* layers' parts fixed to a device */
	SPLITMOE_SPLIT_EXPERT_PARALLEL,	/* experts on both, one shared copy */
	SPLITMOE_SPLIT_DYNAMIC,		/* experts placed per step */
} splitmoe_split_mode;

typedef enum splitmoe_compute {
	SPLITMOE_COMPUTE_AUTO = 0,	/* bf16 where the CPU has AVX512-BF16 or AMX */
	SPLITMOE_COMPUTE_F32,
	SPLITMOE_COMPUTE_BF16,
} splitmoe_compute;

typedef enum splitmoe_weights {
	SPLITMOE_WEIGHTS_AUTO = 0,	/* mapped where the dtype allows, else packed */
	SPLITMOE_WEIGHTS_PACKED,	/* one copy in oneDNN's layout */
	SPLITMOE_WEIGHTS_MAPPED,	/* read in place from the checkpoint */
} splitmoe_weights;

typedef enum splitmoe_quant {
	SPLITMOE_QUANT_NONE = 0,
	SPLITMOE_QUANT_INT8,		/* CPU only */
	SPLITMOE_QUANT_Q4,		/* CPU only */
} splitmoe_quant;

typedef enum splitmoe_arbiter {
	SPLITMOE_ARBITER_AUTO = 0,	/* /dev/bwarb when present, else in-process */
	SPLITMOE_ARBITER_KERNEL,	/* /dev/bwarb (the bwarb module) */
	SPLITMOE_ARBITER_PROCESS,	/* the same policy inside this process */
	SPLITMOE_ARBITER_OFF,		/* no gating */
} splitmoe_arbiter;

struct splitmoe_session_params {
	splitmoe_device device;		/* default CPU */
	splitmoe_split_mode split_mode;	/* SPLIT only; default PARTITION */
	const char *gpu_name;		/* Level Zero device name substring; NULL: the iGPU */
	splitmoe_compute compute;	/* default AUTO */
	splitmoe_weights weights;	/* default AUTO */
	splitmoe_quant quant;		/* default NONE */
	int threads;			/* 0: the OpenMP default */
	int max_seq;			/* KV tokens per sequence; 0: min(max_positions, 4096) */
	int max_batch;			/* rows per forward pass; 0: 256 */
	int max_seqs;			/* sequences open at once (batching); 0: 1 */
	int kv_tokens;			/* KV pool of all sequences; 0: see splitmoe_seq_open */
	splitmoe_arbiter arbiter;	/* default AUTO */
	const char *arbiter_dev;	/* NULL: /dev/bwarb */
	uint32_t cpu_weight, gpu_weight;		/* arbiter share; 0: 100 */
	uint64_t cpu_reserve_mbps, gpu_reserve_mbps;	/* guaranteed MB/s; 0: none */
	/* time every op by class and layer (splitmoe_session_profile);
	 * off: no clock reads in the forward pass; default false */
	bool profile;
};
struct splitmoe_session_params splitmoe_session_default_params(void);

/*
 * The GPU's SPIR-V modules are taken from $SPLITMOE_KERNEL_DIR, else from
 * kernels/ beside the program, else from where the package installs them
 * (/usr/share/splitmoe/kernels).
 *
 * Opens the arbiter and the devices, prepares the weights for the compute
 * type, allocates the KV cache and work buffers. A GPU or SPLIT session
 * on a machine without a usable Level Zero device runs on the CPU and says
 * why in splitmoe_session_note(). SPLITMOE_OK, or an error with one line
 * in err (may be NULL).
 */
splitmoe_status splitmoe_session_create(const splitmoe_model *m,
					const struct splitmoe_session_params *p,
					splitmoe_session **out, char *err, size_t errlen);
void splitmoe_session_free(splitmoe_session *s);	/* NULL is ignored */
/* Empties sequence 0 (KV cache, position 0); keeps everything else. */
void splitmoe_session_reset(splitmoe_session *s);
/* Where the forward pass runs: "cpu", "gpu" or "split". */
const char *splitmoe_session_device(const splitmoe_session *s);
/* Why a GPU/SPLIT session runs on the CPU; "" when it does not. */
const char *splitmoe_session_note(const splitmoe_session *s);
/* SPLITMOE_COMPUTE_F32 or _BF16: what AUTO resolved to. */
splitmoe_compute splitmoe_session_compute(const splitmoe_session *s);
/* The text of the session's last error ("" when none). */
const char *splitmoe_session_error(const splitmoe_session *s);

/* ---- prefill, decode, sample (sequence 0) --------------------------------- */

/*
 * Appends n tokens at the position of sequence 0 and runs them as one
 * batch; the logits of the last one are then splitmoe_logits(). Errors:
 * _INVALID (n <= 0, an id outside the vocabulary), _KV_FULL, and the
 * arbiter's and device's (then reset before reuse).
 */
splitmoe_status splitmoe_prefill(splitmoe_session *s, const int32_t *ids, int n);
/* One token through the KV cache; same errors. */
splitmoe_status splitmoe_decode(splitmoe_session *s, int32_t id);
/* [vocab] logits of the last token run on sequence 0, valid until the
 * next prefill, decode or batch. */
const float *splitmoe_logits(const splitmoe_session *s);
/* Tokens in sequence 0's cache. */
int splitmoe_session_pos(const splitmoe_session *s);

struct splitmoe_sampler_params {
	float temperature;	/* 0: greedy (argmax, lowest id on ties); default 0 */
	int top_k;		/* 0: no limit */
	float top_p;		/* (0, 1]; default 1: no limit */
	uint64_t seed;		/* the same seed gives the same tokens */
};
struct splitmoe_sampler_params splitmoe_sampler_default_params(void);
/* SPLITMOE_OK, _INVALID (a parameter out of range) or _NOMEM. */
splitmoe_status splitmoe_sampler_create(const splitmoe_model *m,
					const struct splitmoe_sampler_params *p,
					splitmoe_sampler **out);
void splitmoe_sampler_free(splitmoe_sampler *smp);
/* The next token from [vocab] logits (not modified); allocates nothing. */
int32_t splitmoe_sample(splitmoe_sampler *smp, const float *logits);

/* ---- batching: many sequences, one forward pass per step ----------------- */

/*
 * Sequences 1..max_seqs-1 are opened on demand; 0 is always open (the one
 * prefill and decode above run on). Their KV caches come from one pool of
 * kv_tokens tokens (0: max_seq for one sequence, max_seq * max_seqs / 2
 * for more), taken in blocks of the engine's size as they grow (a
 * sequence holds at least one) and returned when they close; each
 * sequence stops at max_seq tokens. max_seqs > 1 runs on the CPU device
 * only (session create: SPLITMOE_ERR_UNSUPPORTED otherwise).
 */
/* The new sequence's id in *seq; _BUSY when max_seqs are open. */
splitmoe_status splitmoe_seq_open(splitmoe_session *s, int *seq);
/* Returns the sequence's KV blocks; a sequence not open (or 0) is ignored. */
void splitmoe_seq_close(splitmoe_session *s, int seq);
/* Tokens in a sequence's cache, or -1 when it is not open. */
int splitmoe_seq_pos(const splitmoe_session *s, int seq);

struct splitmoe_batch_item {
	int seq;		/* an open sequence */
	const int32_t *ids;	/* n tokens appended at its position */
	int n;			/* 1 to decode, more for (a chunk of) a prompt */
	float *logits;		/* [vocab] out: its last token's logits; NULL: not needed */
};
/*
 * One forward pass over count items, each sequence at most once, at most
 * max_batch tokens in all; each item's logits equal what the sequence
 * alone would give (to the rounding of stacked products). _INVALID (a
 * closed or repeated sequence, n <= 0, a bad id, too many tokens),
 * _KV_FULL (nothing run), the arbiter's and device's errors.
 */
splitmoe_status splitmoe_batch(splitmoe_session *s, const struct splitmoe_batch_item *items,
			       int count);

/* ---- statistics --------------------------------------------------------- */

struct splitmoe_stats {
	uint64_t prefill_tokens, decode_tokens;	/* batch tokens count as prefill */
	uint64_t prefill_ns, decode_ns;		/* wall time inside the calls */
	uint64_t arbiter_acquires;		/* gated submissions of the session's cpu client */
	uint64_t arbiter_granted_bytes;
	uint64_t arbiter_wait_ns;		/* time spent waiting for grants */
	uint64_t packed_weight_bytes;		/* weight copies the session made */
	uint64_t mapped_weight_bytes;		/* weights read in place from the checkpoint */
	uint64_t workspace_bytes;		/* KV cache and work buffers */
};
void splitmoe_session_stats(const splitmoe_session *s, struct splitmoe_stats *st);

/* ---- configuration, reports and system (api-core) ------------------------ */

/* ---- profile, model tensors, memory bandwidth (api-bench) ----------------- */

/* Names of the enums, as the CLI and its reports print them. */
const char *splitmoe_compute_name(splitmoe_compute c);	/* "auto", "f32", "bf16" */
const char *splitmoe_quant_name(splitmoe_quant q);	/* "none", "int8", "q4" */

typedef enum splitmoe_dtype {
	SPLITMOE_DTYPE_F32 = 0,
	SPLITMOE_DTYPE_F16,
	SPLITMOE_DTYPE_BF16,
	SPLITMOE_DTYPE_I8,		/* int8 codes of a quantized weight */
	SPLITMOE_DTYPE_U8,		/* packed q4 codes of a quantized weight */
} splitmoe_dtype;
/* "f32", "f16", "bf16", "i8", "u8"; "?" for anything else. */
const char *splitmoe_dtype_name(splitmoe_dtype t);

/* config.json's figures (a model loaded vocab_only reads zeros). */
struct splitmoe_hparams {
	int vocab, hidden, intermediate;	/* intermediate: per expert */
	int layers, heads, kv_heads, head_dim;
	int experts, experts_per_token;		/* per layer; top-k */
	int max_positions;
	int sliding_window;			/* 0: none */
	double rope_theta, norm_eps;
	double router_jitter_noise;		/* the sparsemixer's threshold is twice it */
	bool attention_bias, lm_head_bias, tie_word_embeddings;
	splitmoe_dtype storage_dtype;		/* the checkpoint's weights */
	splitmoe_quant quant;			/* a quantized file's format; NONE: plain */
	int quant_group;			/* its scale group; 0: plain */
};
void splitmoe_model_hparams(const splitmoe_model *m, struct splitmoe_hparams *hp);

/* A read-only view of one weight inside the mapped checkpoint. */
struct splitmoe_tensor {
	const char *name;		/* safetensors key, owned by the model */
	splitmoe_dtype dtype;		/* a quantized weight: its codes' */
	int ndim;			/* 1 or 2 */
	int64_t shape[2];		/* [rows (out)][cols (in)]; logical for codes */
	size_t numel, nbytes;
	const void *data;		/* valid while the model is */
	splitmoe_quant quant;		/* NONE, or the format of the codes */
	const void *scale;		/* quantized: binary16 [rows][cols / quant_group] */
	size_t scale_nbytes;
};
/* The weights the model holds (absent biases not counted), in the order
 * embedding, final norm, lm_head, then layer by layer (norms, attention,
 * router, experts' w1 w2 w3). 0 for a vocab_only model. */
int splitmoe_model_tensor_count(const splitmoe_model *m);
/* Tensor i of that order; SPLITMOE_ERR_INVALID outside [0, count). */
splitmoe_status splitmoe_model_tensor(const splitmoe_model *m, int i, struct splitmoe_tensor *t);
/* The tensor of that safetensors name; SPLITMOE_ERR_INVALID when the
 * model holds none of that name. */
splitmoe_status splitmoe_model_tensor_by_name(const splitmoe_model *m, const char *name,
					      struct splitmoe_tensor *t);

/*
 * The weight bytes the CPU reads for one token with compute type c and
 * --quant q (NONE: the checkpoint's): each weight at its size as read (the
 * mapped checkpoint's when it is the compute type, the packed copy's
 * otherwise; a quantized file's or q's copy with their scales), the
 * embedding row at the checkpoint's. SPLITMOE_ERR_INVALID for a
 * vocab_only model or a value outside an enum.
 */
struct splitmoe_token_bytes {
	double dense;		/* attention, norms, router of all layers + final norm + lm_head */
	double head;		/* of which the final norm + lm_head */
	double expert;		/* one expert: w1 + w3 + w2 */
	double embed_row;
};
splitmoe_status splitmoe_model_token_bytes(const splitmoe_model *m, splitmoe_compute c,
					   splitmoe_quant q, struct splitmoe_token_bytes *b);

/*
 * Prefill (as splitmoe_prefill) that also returns what every position did;
 * any pointer may be NULL (n = ids, L = layers, E = experts, K = top-k):
 * logits [n][vocab], router_logits [L][n][E] (raw scores), experts
 * [L][n][K] (chosen, in order), expert_weights [L][n][K] (multipliers).
 */
struct splitmoe_trace {
	float *logits;
	float *router_logits;
	int32_t *experts;
	float *expert_weights;
};
splitmoe_status splitmoe_prefill_trace(splitmoe_session *s, const int32_t *ids, int n,
				       const struct splitmoe_trace *out);
/* The model's routing of one position's [experts] router scores, as the
 * engine routes (PhiMoE's sparsemixer, top-2): the two ids into
 * experts[2] and their multipliers into weights[2]. */
void splitmoe_model_route(const splitmoe_model *m, const float *router_logits,
			  int32_t *experts, float *weights);

/* The forward pass's op classes (splitmoe_session_params.profile). */
#define SPLITMOE_OP_CLASSES_MAX 32
int splitmoe_op_class_count(void);
/* "embed", "norm", "qkv", ... (stable: bench's JSON keys); NULL outside
 * [0, count). */
const char *splitmoe_op_class_name(int c);
struct splitmoe_profile {
	uint64_t ns[SPLITMOE_OP_CLASSES_MAX];		/* wall time inside a class's ops */
	uint64_t calls[SPLITMOE_OP_CLASSES_MAX];
	uint64_t tokens;				/* tokens run through the pass */
	uint64_t total_ns;				/* wall time of the whole passes */
};
/* The breakdown since create or the last reset; the wall time of each
 * layer into layer_ns[0..nlayers) (may be NULL). All zero for a session
 * created without profile. */
void splitmoe_session_profile(const splitmoe_session *s, struct splitmoe_profile *p,
			      uint64_t *layer_ns, int nlayers);
void splitmoe_session_profile_reset(splitmoe_session *s);
/* The weights the CPU reads in effect: "int8"/"q4" (a quantized file or
 * --quant's copy), "mapped", "packed" or "mixed"; "" when the CPU holds
 * none (the GPU runs it all). */
const char *splitmoe_session_weights(const splitmoe_session *s);

/* The CPU kernels this process runs. */
struct splitmoe_cpu_kernels {
	const char *isa;		/* "avx512", "avx2", ... */
	bool isa_lowered;		/* below the CPU's best (SPLITMOE_ISA, or no VNNI) */
	const char *int8_products;	/* the int8 product kernel's name */
};
void splitmoe_cpu_kernels(struct splitmoe_cpu_kernels *k);

/* Resident memory of this process (/proc/self/status). */
struct splitmoe_memory {
	uint64_t rss_bytes, peak_bytes;		/* VmRSS, VmHWM */
	uint64_t file_bytes, anon_bytes;	/* RssFile (mapped weights), RssAnon */
};
/* SPLITMOE_OK, or SPLITMOE_ERR_UNSUPPORTED without /proc (fields 0). */
splitmoe_status splitmoe_memory_read(struct splitmoe_memory *mem);

/*
 * DRAM bandwidth with every core: read (each thread sums its share of one
 * buffer) and copy (read + written bytes), best of `runs` passes.
 */
struct splitmoe_membw {
	int threads, runs;
	uint64_t bytes;		/* the buffer read (copy: half of it into the other half) */
	double read_gbs;	/* 1e9 bytes/s */
	double copy_gbs;
};
/* 1 GiB, or 8 x the largest cache if more. */
uint64_t splitmoe_membw_default_bytes(void);
/*
 * Measures in a forked child, so that its buffer stays out of this
 * process's memory and its threads out of its OpenMP pool: call before
 * any session runs in this process. SPLITMOE_OK; _UNSUPPORTED when the
 * child could not be started (errno says why); _NOMEM when the
 * measurement failed (the buffer could not be allocated, or the child died);
 * _INVALID for bytes or runs 0.
 */
splitmoe_status splitmoe_membw_measure(uint64_t bytes, int runs, struct splitmoe_membw *out);

/* ---- arbiter clients and calibration (api-contend) ------------------------ */

/* ---- quantized model files (api-quant) ------------------------------------ */

#ifdef __cplusplus
}
#endif

#endif /* SPLITMOE_H */
