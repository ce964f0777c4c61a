/* SPDX-License-Identifier: MIT */
/*
 * splitmoe_synth: a PhiMoE checkpoint of a given shape with seeded random
 * weights, laid out as Hugging Face writes the released model (sharded
 * safetensors, index, config.json, the fixture's tokenizer files).
 *
 *   api_synth_plan.c       shapes, the tensor list and its placement in shards
 *   api_synth_fill.c       the values: per-block seeded PRNG streams (OpenMP)
 *   api_synth_write.c      one shard file: header, then the data in big pwrites
 *   api_synth_meta.c       config.json and model.safetensors.index.json
 *   api_synth_tokenizer.c  the fixture's tokenizer files, built into the library
 *   api_synth.c            splitmoe_synth: checks, temporary directory, rename
 */
#ifndef SPLITMOE_API_SYNTH_H
#define SPLITMOE_API_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "model/model.h"	/* enum phimoe_dtype */
#include "splitmoe.h"

struct synth_dims {
	const char *name;
	int hidden, inter, layers, heads, kv_heads, head_dim, experts, top_k, vocab;
	int max_pos, sliding_window;
};

/* The sizes of a shape of splitmoe.h; NULL for a value out of range. */
const struct synth_dims *synth_dims_of(splitmoe_synth_shape shape);

enum synth_init { SYNTH_NORMAL, SYNTH_ONES, SYNTH_ZEROS };

struct synth_tensor {
	char name[96];
	int ndim;
	int64_t shape[2];
	uint64_t numel;
	enum synth_init init;
	float std;		/* SYNTH_NORMAL */
	uint32_t index;		/* position in the plan: seeds its streams */
	int shard;
	uint64_t offset;	/* byte offset in its shard's data section */
};

#define SYNTH_MAX_SHARDS 4

struct synth_plan {
	struct synth_dims shape;	/* with the layer count in effect */
	enum phimoe_dtype dtype;	/* bf16 or f32 */
	struct synth_tensor *t;
	size_t n;
	int shards;
	uint64_t shard_bytes[SYNTH_MAX_SHARDS];	/* data section of each shard */
	uint64_t total_bytes;			/* all tensors' data */
};

/* The released model's tensors for shape s with `layers` layers (0: the
 * shape's), in dtype dt, placed in min(4, layers) shards of consecutive
 * layers, the embedding, final norm and lm_head in the last. 0 or -ENOMEM. */
int synth_plan_build(const struct synth_dims *s, int layers, enum phimoe_dtype dt,
		     struct synth_plan *p);
void synth_plan_free(struct synth_plan *p);
/* "model-0000i-of-0000n.safetensors" for shard i (0-based). */
void synth_shard_name(const struct synth_plan *p, int shard, char *buf, size_t len);

/* Fill elements [e0, e1) of tensor t, as dtype dt, into dst. The values
 * depend on (seed, t->index, element) only: any split of a tensor into
 * ranges, and any thread count, gives the same bytes. Runs on the OpenMP
 * threads of the caller's parallel region when called inside one. */
struct synth_range {
	const struct synth_tensor *t;
	uint64_t e0, e1;
	void *dst;
};
void synth_fill(const struct synth_range *r, size_t nr, enum phimoe_dtype dt, uint64_t seed);

/* The caller's report and progress callback (splitmoe.h). */
struct synth_run {
	struct splitmoe_synth_report r;
	splitmoe_synth_progress_fn fn;
	void *user;
};
/* Report the stage; false: the callback said stop. */
bool synth_go_on(struct synth_run *run, splitmoe_write_stage stage);

/* Write shard `shard` of p into dir (a file it creates). Values from seed;
 * run->r.done_bytes grows and the callback hears of each chunk. 0, -1
 * with one line in err, or 1 when the callback said stop. */
int synth_write_shard(const struct synth_plan *p, int shard, const char *dir, uint64_t seed,
		      struct synth_run *run, char *err, size_t errlen);

/* config.json and model.safetensors.index.json into dir. 0, or -1 with
 * one line in err. */
int synth_write_meta(const struct synth_plan *p, const char *dir, char *err, size_t errlen);

/* The fixture's tokenizer.model, added_tokens.json, generation_config.json
 * and tokenizer_config.json into dir. 0, or -1 with one line in err. */
int synth_write_tokenizer(const char *dir, char *err, size_t errlen);

/* Write all of buf to path (created, mode 0644). 0, or -1 with errno set. */
int synth_write_file(const char *path, const void *buf, size_t len);

#endif
