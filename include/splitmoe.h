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
	SPLITMOE_ERR_IO = -12,		/* a file could not be written, or out_dir is refused */
} splitmoe_status;

/* "ok", "invalid argument", ... for any value (unknown codes included). */
const char *splitmoe_status_str(splitmoe_status st);
/* The library's version, "MAJOR.MINOR.PATCH". */
const char *splitmoe_version(void);

typedef struct splitmoe_model splitmoe_model;
typedef struct splitmoe_session splitmoe_session;
typedef struct splitmoe_sampler splitmoe_sampler;
typedef struct splitmoe_detok splitmoe_detok;
typedef struct splitmoe_arb splitmoe_arb;	/* arbiter clients (see below) */

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
	/* what the CPU and the checkpoint call for: int8 or q4 where f32
	 * would not fit (no bf16 instructions), else none; none on GPU and
	 * SPLIT and for a quantized file, which runs as stored
	 * (splitmoe_quant_resolve) */
	SPLITMOE_QUANT_AUTO,
} splitmoe_quant;

typedef enum splitmoe_arbiter {
	SPLITMOE_ARBITER_AUTO = 0,	/* /dev/bwarb when present, else in-process */
	SPLITMOE_ARBITER_KERNEL,	/* /dev/bwarb (the bwarb module) */
	SPLITMOE_ARBITER_PROCESS,	/* the same policy inside this process */
	SPLITMOE_ARBITER_OFF,		/* no gating */
} splitmoe_arbiter;

#define SPLITMOE_MBPS_AUTO UINT64_MAX
#define SPLITMOE_SPLIT_MAX_RULES 16

typedef enum splitmoe_stage {
	SPLITMOE_STAGE_ATTENTION = 0,
	SPLITMOE_STAGE_ROUTER,
	SPLITMOE_STAGE_EXPERTS,
	SPLITMOE_STAGE_HEAD,
} splitmoe_stage;

struct splitmoe_split_rule {
	splitmoe_stage stage;
	int layer_lo, layer_hi;		/* inclusive; any layer: 0, INT_MAX */
	splitmoe_device device;		/* CPU or GPU */
};

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
	/* The process arbiter's bus in MB/s; 0: its default. SPLITMOE_MBPS_AUTO
	 * (a configuration's "auto") is refused: measure it first
	 * (splitmoe_bwcal_measure). */
	uint64_t arbiter_capacity_mbps, arbiter_guaranteed_mbps;
	/* SPLIT, partition: which device runs which stage of which layers;
	 * later rules win, the rest runs on the CPU. None: every stage on the
	 * CPU but what split_mode moves. */
	int n_split_rules;
	struct splitmoe_split_rule split_rules[SPLITMOE_SPLIT_MAX_RULES];
	bool profile;			/* time the forward pass by op class */
	/* an arbiter of splitmoe_arb_open() to gate on, shared with the
	 * caller's clients (it outlives the session; arbiter, arbiter_dev and
	 * the bus figures are then unused); NULL: the session opens its own */
	splitmoe_arb *arb;
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

/* ---- configuration, reports and system ----------------------------------- */

/*
 * Option names: the one table the YAML and the CLI's flags read
 * ("auto|f32|bf16" and so on), for a value of the enum that opt names.
 */
typedef enum splitmoe_option {
	SPLITMOE_OPTION_DEVICE = 0,	/* splitmoe_device: cpu | gpu | split */
	SPLITMOE_OPTION_SPLIT_MODE,	/* splitmoe_split_mode: partition | expert-parallel | dynamic */
	SPLITMOE_OPTION_COMPUTE,	/* splitmoe_compute: auto | f32 | bf16 */
	SPLITMOE_OPTION_WEIGHTS,	/* splitmoe_weights: auto | mapped | packed */
	SPLITMOE_OPTION_QUANT,		/* splitmoe_quant: auto | none | int8 | q4 */
	SPLITMOE_OPTION_ARBITER,	/* splitmoe_arbiter: auto | kernel | process | off */
} splitmoe_option;
/* The name of value ("?" for none of opt's). */
const char *splitmoe_option_name(splitmoe_option opt, int value);
/* *value from its name: SPLITMOE_OK, or _INVALID (no such name). */
splitmoe_status splitmoe_option_parse(splitmoe_option opt, const char *name, int *value);
/* The names joined by sep ("auto|f32|bf16"), truncated to cap. */
void splitmoe_option_list(splitmoe_option opt, const char *sep, char *buf, size_t cap);

/*
 * A configuration: the YAML file's keys (configs/splitmoe.yaml: model,
 * threads, dtype, weights, quant, device, arbiter.*, gpu.device, split.*),
 * each checked against its type and range when set. Create gives the
 * defaults (what an empty file gives).
 */
typedef struct splitmoe_config splitmoe_config;
/* SPLITMOE_OK or _NOMEM. */
splitmoe_status splitmoe_config_create(splitmoe_config **out);
void splitmoe_config_free(splitmoe_config *c);	/* NULL is ignored */
/* Reads a YAML file over c (keys absent keep their value; nothing changes
 * on an error). _INVALID with one line "FILE:LINE: ..." naming the key. */
splitmoe_status splitmoe_config_load(splitmoe_config *c, const char *path, char *err,
				     size_t errlen);
/* Sets one key ("arbiter.backend") from text, checked as in a file: a
 * command-line flag over the file. _INVALID with one line in err. */
splitmoe_status splitmoe_config_set(splitmoe_config *c, const char *key, const char *value,
				    char *err, size_t errlen);
/* The model directory ("" when none was set). */
const char *splitmoe_config_model(const splitmoe_config *c);
/* The session the configuration describes (quant may be AUTO, the bus
 * figures SPLITMOE_MBPS_AUTO); strings point into c until it changes. */
void splitmoe_config_session_params(const splitmoe_config *c,
				    struct splitmoe_session_params *p);
/* The split rules' text as configured ("attention=cpu,...") for messages. */
const char *splitmoe_config_split_rules(const splitmoe_config *c);

/* ---- prefill with every position's figures ---- */

/* Arrays the caller owns, each NULL when not needed. */
struct splitmoe_prefill_out {
	float *logits;		/* [n][vocab]: the logits of every position */
	float *router_logits;	/* [layers][n][experts]: raw router scores */
	int32_t *experts;	/* [layers][n][experts_per_token]: chosen, in order */
	float *expert_weights;	/* [layers][n][experts_per_token]: their multipliers */
};
/* splitmoe_prefill, and out filled (out NULL: as splitmoe_prefill). */
splitmoe_status splitmoe_prefill_ex(splitmoe_session *s, const int32_t *ids, int n,
				    const struct splitmoe_prefill_out *out);

/* ---- model and session reports ---- */

struct splitmoe_model_info {
	const char *dir;
	int layers, hidden, heads, kv_heads, head_dim;
	int experts, experts_per_token, intermediate, vocab, max_positions;
	const char *storage_dtype;	/* "bf16", "f16", "f32" */
	/* the compute type that reads the weights as stored (F32, BF16);
	 * AUTO when none does (f16) */
	splitmoe_compute storage_compute;
	splitmoe_quant file_quant;	/* a quantized file's format, else NONE */
	int file_quant_group;		/* its group size */
	int load_quant_group;		/* the group of int8/q4 made at load */
	uint64_t params, expert_params, active_params_per_token;
	uint64_t bytes, active_bytes_per_token;	/* as stored */
};
/* Zeroes for a vocab_only model, but dir. */
void splitmoe_model_info(const splitmoe_model *m, struct splitmoe_model_info *out);

/* The weight bytes a token reads as the CPU runs the model with compute
 * (AUTO: as a session would resolve it) and quant (NONE, INT8, Q4: a
 * load-time copy; a quantized file's tensors count as stored). */
struct splitmoe_token_bytes {
	double dense;		/* attention, norms, router and the head, per pass */
	double head;		/* of dense: the final norm and lm_head */
	double expert;		/* one expert of one layer */
	double embed_row;	/* one embedding row */
	int layers, experts, top_k;
};
void splitmoe_model_token_bytes(const splitmoe_model *m, splitmoe_compute compute,
				splitmoe_quant quant, struct splitmoe_token_bytes *out);
/* Bytes one decoded token reads: dense + layers * top_k * expert + embed_row. */
double splitmoe_token_bytes_decode(const struct splitmoe_token_bytes *b);

/* What AUTO resolves to on this CPU (never AUTO). */
splitmoe_compute splitmoe_compute_default(void);
/* quant as a session on device would run it: AUTO resolved, as documented
 * at SPLITMOE_QUANT_AUTO; other values unchanged. */
splitmoe_quant splitmoe_quant_resolve(const splitmoe_model *m, splitmoe_device device,
				      splitmoe_quant quant);
/* Whether the tokenizer puts BOS before a text's ids. */
bool splitmoe_token_adds_bos(const splitmoe_model *m);

struct splitmoe_session_info {
	splitmoe_device running;	/* where the forward pass runs */
	splitmoe_compute compute;	/* F32 or BF16 */
	splitmoe_weights weights;	/* as asked (AUTO kept) */
	splitmoe_quant quant;		/* the CPU's, AUTO resolved */
	splitmoe_arbiter arbiter;	/* the kind in use (KERNEL, PROCESS or OFF) */
	bool gpu;			/* a Level Zero backend runs (part of) it */
	uint64_t cpu_weight_bytes;	/* weights packed by the CPU's backend */
	uint64_t gpu_weight_bytes;	/* weights the GPU's backend holds */
	uint64_t shared_weight_bytes;	/* of those, what both read from one copy */
	uint64_t borrowed_weight_bytes;	/* of those, what the CPU reads in place */
	uint64_t mapped_weight_bytes;	/* checkpoint bytes the CPU reads in place */
};
void splitmoe_session_info(const splitmoe_session *s, struct splitmoe_session_info *out);

/* The GPU's device time by op class (Level Zero kernel timestamps). */
struct splitmoe_gpu_profile {
	uint64_t linear_ns, linear_ops, expert_ns, expert_ops, other_ns, other_ops;
	uint64_t gated_launches, launches;	/* kernels under grants of the gpu client */
};
/* false (p zeroed) when no Level Zero backend runs the session. */
bool splitmoe_session_gpu_profile(const splitmoe_session *s, struct splitmoe_gpu_profile *p);

/* ---- system ---- */

struct splitmoe_cpu_info {
	char vendor[16], brand[64];
	bool avx2, fma, avx512f, avx512bw, avx512vl, avx512_vnni, avx512_bf16;
	bool avx_vnni, amx_tile, amx_bf16, amx_int8;
	int onednn_major, onednn_minor, onednn_patch;
	const char *onednn_hash;	/* "?" when unknown */
	const char *onednn_isa;		/* the ISA oneDNN uses: "avx512_core_bf16" ... */
	const char *kernels;		/* the ISA path of the own kernels */
	bool kernels_forced;		/* SPLITMOE_ISA chose it, or no VNNI */
	/* the quantized products' kernel ("avx512-vnni"), and AMX's where
	 * it runs ("avx512-vnni, amx-bf16 from 16 rows") */
	const char *int8_kernel;
	/* quant AUTO for a bf16 checkpoint on the CPU */
	splitmoe_quant quant_default;
};
void splitmoe_cpu_info(struct splitmoe_cpu_info *out);

/*
 * The GPU section `splitmoe info` prints: the Level Zero devices, the DRM
 * devices, and which DRM node each Level Zero device is; lines ending in
 * '\n'. Returns the length of the whole text and writes at most cap - 1
 * bytes and a NUL, as snprintf does; -1 out of memory.
 */
long splitmoe_gpu_describe(char *buf, size_t cap);

/*
 * Opens the arbiter kind asks for (dev NULL: /dev/bwarb) and closes it:
 * SPLITMOE_OK with *in_use the kind AUTO resolved to, or _ARBITER with one
 * line in err.
 */
splitmoe_status splitmoe_arbiter_probe(splitmoe_arbiter kind, const char *dev,
				       splitmoe_arbiter *in_use, char *err, size_t errlen);


/* This process's memory (/proc/self/status), bytes. */
struct splitmoe_memory {
	uint64_t rss, rss_file, rss_anon, peak;
};
/* SPLITMOE_OK, or _UNSUPPORTED when it cannot be read. */
splitmoe_status splitmoe_memory_usage(struct splitmoe_memory *out);

/* ---- chat text ---- */

typedef enum splitmoe_chat_role {
	SPLITMOE_ROLE_SYSTEM = 0,
	SPLITMOE_ROLE_USER,
	SPLITMOE_ROLE_ASSISTANT,
} splitmoe_chat_role;
struct splitmoe_chat_msg {
	splitmoe_chat_role role;
	const char *content;
};
/* SPLITMOE_OK with *role named by name ("system", "user", "assistant"),
 * or _INVALID. */
splitmoe_status splitmoe_chat_role_parse(const char *name, splitmoe_chat_role *role);
/*
 * The messages in the model's chat format, then the assistant's turn when
 * add_generation_prompt. Length of the whole text, at most cap - 1 bytes
 * and a NUL written, as snprintf; -1 (bad role, out of memory).
 */
long splitmoe_chat_render(const struct splitmoe_chat_msg *msgs, int n,
			  bool add_generation_prompt, char *buf, size_t cap);
/* Whether s[0..len) is valid UTF-8; *used (may be NULL) the valid prefix. */
bool splitmoe_utf8_valid(const char *s, size_t len, size_t *used);

/* ---- profile, model tensors, memory bandwidth ---------------------------- */

typedef enum splitmoe_dtype {
	SPLITMOE_DTYPE_F32 = 0,
	SPLITMOE_DTYPE_F16,
	SPLITMOE_DTYPE_BF16,
	SPLITMOE_DTYPE_I8,		/* int8 codes of a quantized weight */
	SPLITMOE_DTYPE_U8,		/* packed q4 codes of a quantized weight */
} splitmoe_dtype;
/* "f32", "f16", "bf16", "i8", "u8"; "?" for anything else. */
const char *splitmoe_dtype_name(splitmoe_dtype t);

/* A read-only view of one weight inside the mapped checkpoint. */
struct splitmoe_tensor {
	const char *name;		/* safetensors key, owned by the model */
	splitmoe_dtype dtype;		/* a quantized weight: its codes' */
	int ndim;			/* 1 or 2 */
	int64_t shape[2];		/* [rows (out)][cols (in)]; logical for codes */
	size_t numel, nbytes;
	const void *data;		/* valid while the model is */
	splitmoe_quant quant;		/* NONE, or the format of the codes */
	const void *scale;		/* quantized: binary16 [rows][cols / group] */
	size_t scale_nbytes;
};
/* The weights the model holds (absent biases not counted), in the order
 * embedding, final norm, lm_head, then layer by layer (norms, attention,
 * router, then each expert's w1 w2 w3). 0 for a vocab_only model. */
int splitmoe_model_tensor_count(const splitmoe_model *m);
/* Tensor i of that order; SPLITMOE_ERR_INVALID outside [0, count). */
splitmoe_status splitmoe_model_tensor(const splitmoe_model *m, int i, struct splitmoe_tensor *t);
/* The tensor of that safetensors name; SPLITMOE_ERR_INVALID when the
 * model holds none of that name. */
splitmoe_status splitmoe_model_tensor_by_name(const splitmoe_model *m, const char *name,
					      struct splitmoe_tensor *t);

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
/* The breakdown since create or the last reset, and the wall time of
 * each layer into layer_ns[0..nlayers) (may be NULL). All zero for a
 * session created without profile. */
void splitmoe_session_profile(const splitmoe_session *s, struct splitmoe_profile *p,
			      uint64_t *layer_ns, int nlayers);
void splitmoe_session_profile_reset(splitmoe_session *s);

/* Tokens of a KV block: the unit sequences take from the batching pool
 * (kv_tokens), so a sequence of n tokens holds n rounded up to it. */
int splitmoe_kv_block(void);

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
 * process's memory and its threads out of its OpenMP pool: call it before
 * any session runs in this process. SPLITMOE_OK; _UNSUPPORTED when the
 * child could not be started (errno says why); _NOMEM when the
 * measurement failed (the buffer could not be allocated, or the child
 * died); _INVALID for bytes or runs 0.
 */
splitmoe_status splitmoe_membw_measure(uint64_t bytes, int runs, struct splitmoe_membw *out);

/* ---- arbiter clients and calibration ------------------------------------- */

/*
 * For programs that do heavy memory work of their own beside the engine
 * (a copy, a decoder, another model): open an arbiter, create the sessions
 * on it (splitmoe_session_params.arb), and gate each chunk of the other
 * work through a client of the same arbiter, acquire before and complete
 * after, so that the engine and the rest share one policy (weights,
 * reservations, capacity). The kernel arbiter (/dev/bwarb, the bwarb
 * module) shares it with every process of the machine, the in-process one
 * with the sessions and clients of this process. Thread-safe; one client
 * is used by one thread at a time.
 */
/* splitmoe_arb: declared with the other handles above */
typedef struct splitmoe_arb_client splitmoe_arb_client;

struct splitmoe_arb_params {
	splitmoe_arbiter kind;		/* default AUTO; OFF grants everything at once and counts */
	const char *dev;		/* KERNEL: NULL: /dev/bwarb */
	/* PROCESS only; 0: the default in brackets */
	uint64_t capacity_mbps;		/* the bus's MB/s [120000] */
	uint64_t guaranteed_mbps;	/* the most all reservations may hold [capacity * 3 / 4] */
	uint64_t period_ns;		/* the grant period [1 ms] */
	uint32_t max_clients;		/* [16] */
};
struct splitmoe_arb_params splitmoe_arb_default_params(void);
/* SPLITMOE_OK; _ARBITER (e.g. KERNEL without the module: /dev/bwarb
 * missing), _UNSUPPORTED (a build without the /dev/bwarb client),
 * _INVALID, _NOMEM; one line in err (may be NULL). */
splitmoe_status splitmoe_arb_open(const struct splitmoe_arb_params *p, splitmoe_arb **out,
				  char *err, size_t errlen);
/* Every client and every session on it must be freed first. NULL is ignored. */
void splitmoe_arb_free(splitmoe_arb *a);
/* The backend in use: KERNEL, PROCESS or OFF (AUTO resolved). */
splitmoe_arbiter splitmoe_arb_kind(const splitmoe_arb *a);

typedef enum splitmoe_arb_class {
	SPLITMOE_ARB_CLASS_CPU = 0,	/* the engine's CPU work */
	SPLITMOE_ARB_CLASS_GPU,		/* the engine's GPU work */
	SPLITMOE_ARB_CLASS_OTHER,	/* everything else */
} splitmoe_arb_class;

struct splitmoe_arb_client_params {
	const char *name;		/* shown by bwarbctl status; NULL: "splitmoe" */
	splitmoe_arb_class cls;		/* default OTHER */
	uint32_t weight;		/* share of what is not reserved, 1..10000; default 100 */
	uint64_t reserve_mbps;		/* guaranteed MB/s; default 0: best effort */
	uint64_t burst_bytes;		/* the largest single grant; 0: 64 MiB */
};
struct splitmoe_arb_client_params splitmoe_arb_client_default_params(void);
/* SPLITMOE_OK; _ARBITER when the arbiter refuses (a reservation beyond
 * guaranteed_mbps, too many clients) or fails, _INVALID (class or weight
 * out of range), _NOMEM; one line in err (may be NULL). */
splitmoe_status splitmoe_arb_client_open(splitmoe_arb *a,
					 const struct splitmoe_arb_client_params *p,
					 splitmoe_arb_client **out, char *err, size_t errlen);
void splitmoe_arb_client_free(splitmoe_arb_client *c);	/* NULL is ignored */
/*
 * Waits until bytes are granted (timeout_ns 0: no limit); *grant is what
 * splitmoe_arb_complete() takes. More than the burst is granted as the
 * burst, and completing the full size charges the rest against the next
 * periods. SPLITMOE_OK, _TIMEOUT, _INTERRUPTED, _ARBITER.
 */
splitmoe_status splitmoe_arb_acquire(splitmoe_arb_client *c, uint64_t bytes, uint64_t timeout_ns,
				     uint64_t *grant);
/* Ends a grant; actual: the bytes really moved (the estimate when unknown). */
splitmoe_status splitmoe_arb_complete(splitmoe_arb_client *c, uint64_t grant, uint64_t actual);

struct splitmoe_arb_client_stats {
	uint64_t acquires, completes;	/* equal when nothing is outstanding */
	uint64_t granted_bytes, completed_bytes;
	uint64_t waits;			/* acquires that had to wait */
	uint64_t wait_ns, max_wait_ns;	/* time waiting: total, longest */
};
void splitmoe_arb_client_stats(const splitmoe_arb_client *c, struct splitmoe_arb_client_stats *st);
/* The q-quantile (0..1) of every acquire's wait in ns (0 when it did not
 * wait), to an eighth of an octave (the upper edge of its bucket, which
 * may pass max_wait_ns); 0 without acquires. */
uint64_t splitmoe_arb_client_wait_quantile(const splitmoe_arb_client *c, double q);
/* The client through which the session's CPU work is gated (with the
 * arbiter OFF it grants at once and counts), for its figures (stats, wait
 * quantiles; not to acquire from); NULL when it has none. Valid while the
 * session lives. */
const splitmoe_arb_client *splitmoe_session_arb_client(const splitmoe_session *s);
/* The GPU's client (GPU and SPLIT sessions), likewise; NULL when none. */
const splitmoe_arb_client *splitmoe_session_gpu_arb_client(const splitmoe_session *s);

/*
 * The bus's calibration (docs/calibration.md), as bwarbctl calibrate
 * makes it: read and copy GB/s with every online core; r_min, one core's
 * read GB/s while every other core copies; and the proposed arbiter
 * figures: capacity = the lower of read and copy with every core,
 * guaranteed = the bus total under that contention, at most the capacity.
 */
struct splitmoe_bwcal {
	int threads;			/* cores of the every-core passes */
	double read_gbs, copy_gbs;	/* every core; copy: read + written bytes */
	int others;			/* cores copying during the r_min pass */
	double rmin_gbs;		/* one core's read GB/s beside them */
	double solo_gbs;		/* one core's read GB/s alone */
	double contended_total_gbs;	/* reader + copiers (read + written) */
	uint64_t capacity_mbps, guaranteed_mbps;	/* proposed */
};
struct splitmoe_bwcal_params {
	uint64_t bytes;			/* the buffer; 0: splitmoe_bwcal_default_bytes() */
	int runs;			/* best of; 0: 3 */
	/*
	 * true (default): in a forked child with every online CPU, so that
	 * its buffer and threads stay out of this process; call it then
	 * before any session exists (a forked OpenMP pool does not work).
	 * false: on this process's OpenMP threads.
	 */
	bool in_child;
};
struct splitmoe_bwcal_params splitmoe_bwcal_default_params(void);
/* 1 GiB, or 8 x the largest cache if more. */
uint64_t splitmoe_bwcal_default_bytes(void);
/* SPLITMOE_OK, _INVALID, or _NOMEM with one line in err (may be NULL). */
splitmoe_status splitmoe_bwcal_measure(const struct splitmoe_bwcal_params *p,
				       struct splitmoe_bwcal *out, char *err, size_t errlen);

/*
 * Real DRAM traffic from hardware counters: the memory controllers'
 * uncore PMUs (whole machine, read + written; needs perf_event_paranoid
 * <= 0 or CAP_PERFMON; $SPLITMOE_IMC_PMU, an fnmatch pattern, names other
 * PMUs), else this process's last-level cache misses x 64 B (user mode;
 * counts the threads created after the open; misses prefetches and
 * write-backs: a lower bound).
 */
typedef struct splitmoe_dram_counter splitmoe_dram_counter;
/* SPLITMOE_OK, or _UNSUPPORTED with why each source is unavailable in
 * why (may be NULL), _NOMEM. */
splitmoe_status splitmoe_dram_counter_open(splitmoe_dram_counter **out, char *why, size_t whylen);
/* Bytes since the open. SPLITMOE_OK or _BACKEND (a read failed). */
splitmoe_status splitmoe_dram_counter_read(const splitmoe_dram_counter *c, uint64_t *bytes);
/* What is counted, e.g. "LLC misses x 64 B (this process)". */
const char *splitmoe_dram_counter_source(const splitmoe_dram_counter *c);
void splitmoe_dram_counter_free(splitmoe_dram_counter *c);	/* NULL is ignored */

/* ---- quantized model files ----------------------------------------------- */

/*
 * Writers of a new model directory (splitmoe_quantize, splitmoe_synth).
 * out_dir must be absent or an empty directory (else SPLITMOE_ERR_IO,
 * nothing touched). The files go into a temporary directory beside it
 * (.NAME.quantize-XXXXXX, .NAME.synth-XXXXXX), which is renamed to
 * out_dir at the end: a failed or stopped call removes it, and a killed
 * process leaves it under its dot name, so that no out_dir that loads is
 * ever half-written. One line in err (may be NULL) names the file and
 * tensor that failed.
 */
typedef enum splitmoe_write_stage {
	SPLITMOE_WRITE_START = 0,	/* the temporary directory exists, nothing written */
	SPLITMOE_WRITE_DATA,		/* tensors being written: done_bytes grows */
	SPLITMOE_WRITE_FINISH,		/* everything written (and loaded); renamed next */
} splitmoe_write_stage;

/* The classes of weights splitmoe_quantize() quantizes, as a mask. */
enum {
	SPLITMOE_QUANTIZE_ATTENTION = 1,	/* q, k, v, o projections */
	SPLITMOE_QUANTIZE_EXPERTS = 2,		/* w1, w3, w2 of every expert */
	SPLITMOE_QUANTIZE_LM_HEAD = 4,
	SPLITMOE_QUANTIZE_ROUTER = 8,		/* block_sparse_moe.gate */
	SPLITMOE_QUANTIZE_DEFAULT = 7,		/* all but the router */
};
/* "attention", "experts", "lm_head", "router" for one class bit; NULL for
 * any other value. */
const char *splitmoe_quantize_class_name(unsigned class_bit);

/* What splitmoe_quantize() does, as far as it got. */
struct splitmoe_quantize_report {
	splitmoe_write_stage stage;
	const char *format;		/* "int8" or "q4" */
	char classes[48];		/* the mask's names, "attention,experts,lm_head" */
	const char *tmp_dir;		/* where it writes; valid during the call */
	size_t tensors_quantized;	/* each becomes NAME and NAME_scale */
	size_t tensors_copied;		/* as stored */
	uint64_t read_bytes;		/* of the checkpoint, all told */
	uint64_t write_bytes;		/* of the new file's tensors */
	uint64_t done_bytes;		/* of read_bytes, so far */
	/* the checkpoint's and (at FINISH) the new file's weights, and what
	 * one decoded token reads of them */
	uint64_t weight_bytes_before, weight_bytes_after;
	uint64_t token_bytes_before, token_bytes_after;
};
/* Called at START, after each tensor (DATA) and at FINISH; returning false
 * stops the call (SPLITMOE_ERR_INTERRUPTED, nothing left behind). */
typedef bool (*splitmoe_quantize_progress_fn)(const struct splitmoe_quantize_report *r,
					      void *user);

struct splitmoe_quantize_params {
	splitmoe_quant type;		/* INT8 or Q4; default INT8 */
	unsigned classes;		/* SPLITMOE_QUANTIZE_* mask; default _DEFAULT */
	int threads;			/* 0: the OpenMP default */
	splitmoe_quantize_progress_fn progress;	/* NULL: none */
	void *progress_user;
};
struct splitmoe_quantize_params splitmoe_quantize_default_params(void);

/*
 * Writes the bf16/f16/f32 checkpoint of model_dir as a quantized model
 * directory out_dir (README "Quantized model files"): one
 * model.safetensors where each weight of the chosen classes whose rows
 * are whole groups becomes NAME (I8 [n][k] for int8, U8 [n][k/2] for q4)
 * and NAME_scale (F16 [n][k/32]), the other tensors copied as stored;
 * config.json with splitmoe_quantization; model_dir's other files copied.
 * The codes are --quant at load's, bit for bit. The new directory is
 * loaded before it is renamed in. report (may be NULL) receives the
 * figures. SPLITMOE_OK; _INVALID (a parameter, out_dir's name); _MODEL
 * (model_dir does not load, or is quantized already); _IO (out_dir not
 * empty, a write failed); _NOMEM; _INTERRUPTED (progress said stop).
 */
splitmoe_status splitmoe_quantize(const char *model_dir, const char *out_dir,
				  const struct splitmoe_quantize_params *p,
				  struct splitmoe_quantize_report *report, char *err,
				  size_t errlen);

/* The shapes splitmoe_synth() writes. */
typedef enum splitmoe_synth_shape {
	SPLITMOE_SYNTH_PHI_TINY_MOE = 0,	/* microsoft/Phi-tiny-MoE-instruct's */
	SPLITMOE_SYNTH_TINY,			/* tests/fixtures/phimoe-tiny-a's */
	SPLITMOE_SYNTH_SHAPES			/* the count */
} splitmoe_synth_shape;
/* "phi-tiny-moe", "tiny"; NULL for a value out of range. */
const char *splitmoe_synth_shape_name(splitmoe_synth_shape shape);

/* What splitmoe_synth() does, as far as it got. */
struct splitmoe_synth_report {
	splitmoe_write_stage stage;
	const char *shape;		/* its name */
	const char *dtype;		/* "bf16" or "f32" */
	int layers, shards;
	const char *tmp_dir;		/* where it writes; valid during the call */
	uint64_t total_bytes;		/* of all tensors */
	uint64_t done_bytes;		/* so far */
};
/* Called at START, after each chunk written (DATA) and at FINISH;
 * returning false stops the call (SPLITMOE_ERR_INTERRUPTED). */
typedef bool (*splitmoe_synth_progress_fn)(const struct splitmoe_synth_report *r, void *user);

struct splitmoe_synth_params {
	splitmoe_synth_shape shape;	/* default PHI_TINY_MOE */
	int layers;			/* 0: the shape's; else 1 to 1024 */
	bool f32;			/* f32 tensors; default false: bf16, as released */
	uint64_t seed;			/* the same seed gives the same bytes; default 0 */
	splitmoe_synth_progress_fn progress;	/* NULL: none */
	void *progress_user;
};
struct splitmoe_synth_params splitmoe_synth_default_params(void);

/*
 * Writes a checkpoint of the shape with seeded random weights into
 * out_dir, laid out as Hugging Face writes the released model (sharded
 * safetensors, index, config.json, the fixture's tokenizer files): for
 * benchmarks and tests. The bytes depend on the parameters only, not on
 * the thread count. The file system must hold it with 256 MB to spare.
 * SPLITMOE_OK; _INVALID (a parameter, out_dir's name); _IO (out_dir not
 * empty, too little space, a write failed); _NOMEM; _INTERRUPTED.
 */
splitmoe_status splitmoe_synth(const char *out_dir, const struct splitmoe_synth_params *p,
			       struct splitmoe_synth_report *report, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* SPLITMOE_H */
