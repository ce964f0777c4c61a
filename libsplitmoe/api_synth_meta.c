// SPDX-License-Identifier: MIT
/*
 * splitmoe_synth: config.json (the fixture's config with the shape's sizes, as
 * shared/bench/make_full_model.py writes it) and
 * model.safetensors.index.json (metadata.total_size, weight_map).
 */
#include "api_synth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

int synth_write_file(const char *path, const void *buf, size_t len)
{
	const char *p = buf;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), e;

	if (fd < 0)
		return -1;
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return close(fd);
}

static int write_json(const char *dir, const char *name, struct json_object *o, char *err,
		      size_t errlen)
{
	char path[4200], *text = NULL;
	const char *s;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	s = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					       JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;
	if (s && asprintf(&text, "%s\n", s) < 0)
		text = NULL;
	if (!text)
		snprintf(err, errlen, "%s: out of memory", path);
	else if (synth_write_file(path, text, strlen(text)))
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	else
		rc = 0;
	free(text);
	json_object_put(o);
	return rc;
}

/* json-c takes ownership of v; a NULL v (out of memory) poisons o. */
static void put(struct json_object *o, const char *key, struct json_object *v, bool *oom)
{
	if (!v && !*oom)
		*oom = true;
	json_object_object_add(o, key, v);
}

static struct json_object *config(const struct synth_plan *p)
{
	const struct synth_dims *s = &p->shape;
	struct json_object *o = json_object_new_object(), *a, *rope;
	bool oom = !o;

	if (oom)
		return NULL;
	put(o, "_name_or_path", json_object_new_string(""), &oom);
	a = json_object_new_array();
	if (a)
		json_object_array_add(a, json_object_new_string("PhiMoEForCausalLM"));
	put(o, "architectures", a, &oom);
	put(o, "attention_bias", json_object_new_boolean(1), &oom);
	put(o, "attention_dropout", json_object_new_double_s(0.0, "0.0"), &oom);
	put(o, "bos_token_id", json_object_new_int(1), &oom);
	put(o, "chunk_size_feed_forward", json_object_new_int(0), &oom);
	json_object_object_add(o, "dtype", NULL);	/* null, as the fixture has */
	put(o, "eos_token_id", json_object_new_int(480), &oom);
	put(o, "head_dim", json_object_new_int(s->head_dim), &oom);
	put(o, "hidden_act", json_object_new_string("silu"), &oom);
	put(o, "hidden_size", json_object_new_int(s->hidden), &oom);
	put(o, "initializer_range", json_object_new_double_s(0.02, "0.02"), &oom);
	put(o, "input_jitter_noise", json_object_new_double_s(0.01, "0.01"), &oom);
	put(o, "intermediate_size", json_object_new_int(s->inter), &oom);
	put(o, "is_encoder_decoder", json_object_new_boolean(0), &oom);
	put(o, "lm_head_bias", json_object_new_boolean(1), &oom);
	put(o, "max_position_embeddings", json_object_new_int(s->max_pos), &oom);
	put(o, "model_type", json_object_new_string("phimoe"), &oom);
	put(o, "num_attention_heads", json_object_new_int(s->heads), &oom);
	put(o, "num_experts_per_tok", json_object_new_int(s->top_k), &oom);
	put(o, "num_hidden_layers", json_object_new_int(s->layers), &oom);
	put(o, "num_key_value_heads", json_object_new_int(s->kv_heads), &oom);
	put(o, "num_local_experts", json_object_new_int(s->experts), &oom);
	put(o, "output_attentions", json_object_new_boolean(0), &oom);
	put(o, "output_hidden_states", json_object_new_boolean(0), &oom);
	put(o, "output_router_logits", json_object_new_boolean(0), &oom);
	put(o, "pad_token_id", json_object_new_int(480), &oom);
	json_object_object_add(o, "problem_type", NULL);
	put(o, "return_dict", json_object_new_boolean(1), &oom);
	put(o, "rms_norm_eps", json_object_new_double_s(1e-5, "1e-05"), &oom);
	rope = json_object_new_object();
	if (rope) {
		put(rope, "rope_theta", json_object_new_double_s(10000.0, "10000.0"), &oom);
		put(rope, "rope_type", json_object_new_string("default"), &oom);
	}
	put(o, "rope_parameters", rope, &oom);
	put(o, "router_aux_loss_coef", json_object_new_double_s(0.001, "0.001"), &oom);
	put(o, "router_jitter_noise", json_object_new_double_s(0.01, "0.01"), &oom);
	put(o, "sliding_window", json_object_new_int(s->sliding_window), &oom);
	put(o, "tie_word_embeddings", json_object_new_boolean(0), &oom);
	put(o, "torch_dtype", json_object_new_string(p->dtype == PHIMOE_DTYPE_BF16 ?
						      "bfloat16" : "float32"), &oom);
	put(o, "transformers_version", json_object_new_string("5.17.0"), &oom);
	put(o, "use_cache", json_object_new_boolean(1), &oom);
	put(o, "vocab_size", json_object_new_int(s->vocab), &oom);
	if (oom) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *index_json(const struct synth_plan *p)
{
	struct json_object *o = json_object_new_object(), *meta = json_object_new_object(),
			   *map = json_object_new_object();
	char names[SYNTH_MAX_SHARDS][64];
	bool oom = !o || !meta || !map;
	size_t i;
	int sh;

	if (!oom) {
		put(meta, "total_size", json_object_new_int64((int64_t)p->total_bytes), &oom);
		for (sh = 0; sh < p->shards; sh++)
			synth_shard_name(p, sh, names[sh], sizeof(names[sh]));
		for (i = 0; i < p->n && !oom; i++)
			put(map, p->t[i].name, json_object_new_string(names[p->t[i].shard]), &oom);
		put(o, "metadata", meta, &oom);
		put(o, "weight_map", map, &oom);
		meta = map = NULL;
	}
	json_object_put(meta);
	json_object_put(map);
	if (oom) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int synth_write_meta(const struct synth_plan *p, const char *dir, char *err, size_t errlen)
{
	if (write_json(dir, "config.json", config(p), err, errlen))
		return -1;
	return write_json(dir, "model.safetensors.index.json", index_json(p), err, errlen);
}
