/* SPDX-License-Identifier: MIT */
/*
 * PhiMoE model: configuration and weight views over a Hugging Face model
 * directory (config.json + model.safetensors or a sharded checkpoint).
 *
 * This header is the contract the forward pass (inference.h) codes
 * against: extend, do not change.
 *
 * Weights are memory-mapped read-only; every struct phimoe_tensor points
 * into the mapping (row-major, as stored: Linear weights are [out][in]).
 * Nothing is copied at load: a backend that wants another layout or dtype
 * packs its own copy. All views stay valid until phimoe_model_free().
 */
#ifndef SPLITMOE_MODEL_H
#define SPLITMOE_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "model/dtype.h"

#define PHIMOE_MAX_EOS 8
#define PHIMOE_ERRLEN 512	/* a comfortable size for the error buffers */

/*
 * The formats of quantized model files (splitmoe quantize; README
 * "Quantized model files"); the values are those of enum sm_quant
 * (quant.h). Symmetric, in groups of PHIMOE_QUANT_GROUP along the input,
 * a binary16 scale each: int8 codes [n][k]; q4 codes two per byte
 * [n][k/2], value j of a group in the low nibble of its byte j, value
 * j+16 in the high one, each stored plus 8.
 */
enum phimoe_quant {
	PHIMOE_QUANT_NONE = 0,
	PHIMOE_QUANT_INT8 = 1,
	PHIMOE_QUANT_Q4 = 2,
};
#define PHIMOE_QUANT_GROUP 32	/* the only group size the kernels read */
#define PHIMOE_QUANT_CONFIG_KEY "splitmoe_quantization"	/* in config.json */
#define PHIMOE_QUANT_VERSION 1

/* "none", "int8", "q4"; NULL for anything else. */
const char *phimoe_quant_name(enum phimoe_quant q);

struct phimoe_config {
	int vocab_size;
	int hidden_size;
	int intermediate_size;		/* per expert */
	int num_hidden_layers;
	int num_attention_heads;
	int num_key_value_heads;
	int head_dim;			/* from config; heads*head_dim may != hidden */
	int num_local_experts;
	int num_experts_per_tok;	/* top_k */
	int max_position_embeddings;
	double rope_theta;		/* top-level or rope_parameters.rope_theta */
	char rope_type[32];		/* "default" (only one supported today) */
	int sliding_window;		/* 0 when config has null: no window */
	double norm_eps;		/* rms_norm_eps, used as the LayerNorm eps */
	double router_jitter_noise;	/* sparsemixer threshold is 2x this */
	bool attention_bias;
	bool lm_head_bias;
	bool tie_word_embeddings;
	int bos_token_id;		/* -1 if none */
	int pad_token_id;		/* -1 if none */
	/* generation_config.json eos_token_id (scalar or list), falling back
	 * to config.json's eos_token_id. */
	int eos_token_ids[PHIMOE_MAX_EOS];
	int n_eos;
	enum phimoe_dtype storage_dtype;	/* dtype of the checkpoint's weights */
	/* config.json's splitmoe_quantization: the projections, experts and
	 * lm_head are stored quantized (tensors of the other dtypes keep
	 * storage_dtype); NONE for a plain checkpoint */
	enum phimoe_quant quant;
	int quant_group;		/* group_size; 0 when not quantized */
};

/*
 * A read-only view of one tensor inside the mapped checkpoint.
 * data == NULL means absent (e.g. a bias when attention_bias is false).
 */
struct phimoe_tensor {
	const char *name;		/* safetensors key; owned by the model */
	enum phimoe_dtype dtype;
	int ndim;			/* 1 or 2 */
	int64_t shape[2];		/* shape[0] rows (out), shape[1] cols (in) */
	size_t numel;
	size_t nbytes;
	const void *data;		/* into the mmap, aligned to the element */
	/* A quantized weight (quant != NONE): dtype is that of the codes
	 * (I8 or U8), shape the logical [n][k], numel n*k, nbytes the codes'
	 * bytes; scale the binary16 [n][k/PHIMOE_QUANT_GROUP] scales, also
	 * in the mapping. */
	enum phimoe_quant quant;
	const void *scale;
	size_t scale_nbytes;
};

struct phimoe_expert {
	struct phimoe_tensor w1;	/* [intermediate][hidden] gate proj */
	struct phimoe_tensor w2;	/* [hidden][intermediate] down proj */
	struct phimoe_tensor w3;	/* [intermediate][hidden] up proj */
};

struct phimoe_layer {
	struct phimoe_tensor input_layernorm_w, input_layernorm_b;	/* [hidden] */
	struct phimoe_tensor q_w, q_b;	/* [heads*head_dim][hidden], [heads*head_dim] */
	struct phimoe_tensor k_w, k_b;	/* [kv_heads*head_dim][hidden] */
	struct phimoe_tensor v_w, v_b;	/* [kv_heads*head_dim][hidden] */
	struct phimoe_tensor o_w, o_b;	/* [hidden][heads*head_dim], [hidden] */
	struct phimoe_tensor post_attention_layernorm_w, post_attention_layernorm_b;
	struct phimoe_tensor router_w;	/* block_sparse_moe.gate: [experts][hidden] */
	struct phimoe_expert *experts;	/* [num_local_experts] */
};

struct phimoe_checkpoint;	/* mapped safetensors files (safetensors.h) */

struct phimoe_model {
	char dir[4096];
	struct phimoe_config cfg;
	struct phimoe_tensor embed_tokens;	/* [vocab][hidden] */
	struct phimoe_layer *layers;		/* [num_hidden_layers] */
	struct phimoe_tensor norm_w, norm_b;	/* final LayerNorm [hidden] */
	struct phimoe_tensor lm_head_w;		/* [vocab][hidden]; embed when tied */
	struct phimoe_tensor lm_head_b;		/* [vocab] or absent */
	struct phimoe_checkpoint *ckpt;		/* private to the loader */
};

/*
 * Parse only <dir>/config.json (and generation_config.json when present).
 * 0 on success; -1 with one line in err naming the file and field.
 */
int phimoe_config_load(const char *dir, struct phimoe_config *cfg,
		       char *err, size_t errlen);

/*
 * Load config and map all weights of <dir>, checking every tensor's
 * presence, dtype, shape, offsets and alignment against the config.
 * 0 on success; -1 with one line in err naming the file and tensor
 * (the model is then left zeroed; nothing to free).
 */
int phimoe_model_load(const char *dir, struct phimoe_model *m,
		      char *err, size_t errlen);
void phimoe_model_free(struct phimoe_model *m);

/* Element i of a tensor as float (any dtype; a quantized one
 * dequantized). Slow path: tests and tools. */
float phimoe_tensor_get(const struct phimoe_tensor *t, size_t i);
/* Convert a whole tensor (or n elements from start) to float32. */
void phimoe_tensor_to_f32(const struct phimoe_tensor *t, size_t start,
			  size_t n, float *dst);
/*
 * The tensor's whole pages drop out of this process's resident memory
 * (MADV_DONTNEED on the read-only private mapping): for a backend that
 * packed its own copy and no longer reads it. Reading it again is still
 * correct (the pages come back from the file), only slower.
 */
void phimoe_tensor_release(const struct phimoe_tensor *t);

struct phimoe_model_stats {
	uint64_t params;		/* all weights */
	uint64_t bytes;			/* all weights, as stored */
	uint64_t expert_params;		/* all experts of all layers */
	/* weights one token touches: everything but the experts, plus
	 * top_k experts per layer; embeddings count one row only */
	uint64_t active_params_per_token;
	uint64_t active_bytes_per_token;
};
void phimoe_model_stats(const struct phimoe_model *m,
			struct phimoe_model_stats *s);

#endif /* SPLITMOE_MODEL_H */
