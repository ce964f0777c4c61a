// SPDX-License-Identifier: MIT
/*
 * config.json (and generation_config.json) of a PhiMoE model directory
 * into struct phimoe_config. Every field the forward pass depends on is
 * required and range-checked; errors name the file and the field.
 */
#include "util/errbuf.h"
#include "model/json_file.h"
#include "model/model.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

/* Integer field in [lo, hi]; absent is an error unless dflt_ok. */
static int get_int(struct json_object *o, const char *path, const char *key,
		   int lo, int hi, bool dflt_ok, int dflt, int *out,
		   char *err, size_t errlen)
{
	struct json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
		if (dflt_ok) {
			*out = dflt;
			return 0;
		}
		return sm_errf(err, errlen, "%s: missing field \"%s\"", path, key);
	}
	if (!json_object_is_type(v, json_type_int))
		return sm_errf(err, errlen, "%s: field \"%s\" must be an integer", path, key);
	x = json_object_get_int64(v);
	if (x < lo || x > hi)
		return sm_errf(err, errlen, "%s: field \"%s\" = %lld out of range [%d, %d]",
			    path, key, (long long)x, lo, hi);
	*out = (int)x;
	return 0;
}

static int get_double(struct json_object *o, const char *path, const char *key,
		      double lo, double hi, bool dflt_ok, double dflt, double *out,
		      char *err, size_t errlen)
{
	struct json_object *v;
	double x;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
		if (dflt_ok) {
			*out = dflt;
			return 0;
		}
		return sm_errf(err, errlen, "%s: missing field \"%s\"", path, key);
	}
	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
		return sm_errf(err, errlen, "%s: field \"%s\" must be a number", path, key);
	x = json_object_get_double(v);
	if (!(x >= lo && x <= hi))
		return sm_errf(err, errlen, "%s: field \"%s\" = %g out of range [%g, %g]",
			    path, key, x, lo, hi);
	*out = x;
	return 0;
}

static int get_bool(struct json_object *o, const char *path, const char *key,
		    bool dflt, bool *out, char *err, size_t errlen)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
		*out = dflt;
		return 0;
	}
	if (!json_object_is_type(v, json_type_boolean))
		return sm_errf(err, errlen, "%s: field \"%s\" must be true or false", path, key);
	*out = json_object_get_boolean(v);
	return 0;
}

/* eos_token_id: an integer or a list of integers. */
static int get_eos(struct json_object *o, const char *path, int vocab,
		   struct phimoe_config *c, char *err, size_t errlen)
{
	struct json_object *v;
	size_t i, n;

	if (!json_object_object_get_ex(o, "eos_token_id", &v) ||
	    json_object_is_type(v, json_type_null))
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		int64_t x = json_object_get_int64(v);

		if (x < 0 || x >= vocab)
			return sm_errf(err, errlen, "%s: field \"eos_token_id\" = %lld outside the vocabulary (%d)",
				    path, (long long)x, vocab);
		c->eos_token_ids[0] = (int)x;
		c->n_eos = 1;
		return 0;
	}
	if (!json_object_is_type(v, json_type_array))
		return sm_errf(err, errlen, "%s: field \"eos_token_id\" must be an integer or a list", path);
	n = json_object_array_length(v);
	if (n > PHIMOE_MAX_EOS)
		return sm_errf(err, errlen, "%s: field \"eos_token_id\" lists %zu ids (at most %d)",
			    path, n, PHIMOE_MAX_EOS);
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		int64_t x;

		if (!json_object_is_type(e, json_type_int))
			return sm_errf(err, errlen, "%s: field \"eos_token_id\"[%zu] must be an integer", path, i);
		x = json_object_get_int64(e);
		if (x < 0 || x >= vocab)
			return sm_errf(err, errlen, "%s: field \"eos_token_id\"[%zu] = %lld outside the vocabulary (%d)",
				    path, i, (long long)x, vocab);
		c->eos_token_ids[i] = (int)x;
	}
	c->n_eos = (int)n;
	return 0;
}

static int parse_storage_dtype(struct json_object *o, const char *path,
			       struct phimoe_config *c, char *err, size_t errlen)
{
	struct json_object *v = NULL;
	const char *s;

	/* transformers 5 writes "dtype" (possibly null), 4.x "torch_dtype" */
	if ((!json_object_object_get_ex(o, "dtype", &v) || json_object_is_type(v, json_type_null)) &&
	    (!json_object_object_get_ex(o, "torch_dtype", &v) || json_object_is_type(v, json_type_null))) {
		c->storage_dtype = (enum phimoe_dtype)-1;	/* taken from the weights */
		return 0;
	}
	s = json_object_get_string(v);
	if (!strcmp(s, "bfloat16"))
		c->storage_dtype = PHIMOE_DTYPE_BF16;
	else if (!strcmp(s, "float16"))
		c->storage_dtype = PHIMOE_DTYPE_F16;
	else if (!strcmp(s, "float32"))
		c->storage_dtype = PHIMOE_DTYPE_F32;
	else
		return sm_errf(err, errlen, "%s: field \"torch_dtype\" = \"%s\" not supported (bfloat16, float16, float32)",
			    path, s);
	return 0;
}

/* splitmoe_quantization: {"format": "int8"|"q4", "group_size": N,
 * "version": 1}, written by splitmoe quantize (absent: not quantized). */
static int parse_quant(struct json_object *o, const char *path,
		       struct phimoe_config *c, char *err, size_t errlen)
{
	struct json_object *q, *v;
	const char *f;
	int version;

	c->quant = PHIMOE_QUANT_NONE;
	c->quant_group = 0;
	if (!json_object_object_get_ex(o, PHIMOE_QUANT_CONFIG_KEY, &q) ||
	    json_object_is_type(q, json_type_null))
		return 0;
	if (!json_object_is_type(q, json_type_object))
		return sm_errf(err, errlen, "%s: field \"%s\" must be an object", path,
			    PHIMOE_QUANT_CONFIG_KEY);
	if (!json_object_object_get_ex(q, "format", &v) || !json_object_is_type(v, json_type_string))
		return sm_errf(err, errlen, "%s: field \"%s.format\" missing or not a string", path,
			    PHIMOE_QUANT_CONFIG_KEY);
	f = json_object_get_string(v);
	if (!strcmp(f, "int8"))
		c->quant = PHIMOE_QUANT_INT8;
	else if (!strcmp(f, "q4"))
		c->quant = PHIMOE_QUANT_Q4;
	else
		return sm_errf(err, errlen, "%s: field \"%s.format\" = \"%s\" unknown (int8 or q4)",
			    path, PHIMOE_QUANT_CONFIG_KEY, f);
	if (get_int(q, path, "group_size", 1, 1 << 20, false, 0, &c->quant_group, err, errlen) ||
	    get_int(q, path, "version", 1, 1 << 20, false, 0, &version, err, errlen))
		return -1;
	if (version != PHIMOE_QUANT_VERSION)
		return sm_errf(err, errlen, "%s: field \"%s.version\" = %d not supported (only %d)",
			    path, PHIMOE_QUANT_CONFIG_KEY, version, PHIMOE_QUANT_VERSION);
	return 0;
}

static int parse_config(struct json_object *o, const char *path,
			struct phimoe_config *c, char *err, size_t errlen)
{
	struct json_object *v, *rp = NULL;
	const int big = 1 << 24;
	int sw;

	if (json_object_object_get_ex(o, "model_type", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), "phimoe"))
		return sm_errf(err, errlen, "%s: field \"model_type\" = \"%s\", expected \"phimoe\"",
			    path, json_object_get_string(v));
	if (get_int(o, path, "vocab_size", 1, big, false, 0, &c->vocab_size, err, errlen) ||
	    get_int(o, path, "hidden_size", 1, big, false, 0, &c->hidden_size, err, errlen) ||
	    get_int(o, path, "intermediate_size", 1, big, false, 0, &c->intermediate_size, err, errlen) ||
	    get_int(o, path, "num_hidden_layers", 1, 4096, false, 0, &c->num_hidden_layers, err, errlen) ||
	    get_int(o, path, "num_attention_heads", 1, 4096, false, 0, &c->num_attention_heads, err, errlen) ||
	    get_int(o, path, "num_key_value_heads", 1, 4096, true, c->num_attention_heads,
		    &c->num_key_value_heads, err, errlen) ||
	    get_int(o, path, "head_dim", 1, 65536, true, 0, &c->head_dim, err, errlen) ||
	    get_int(o, path, "num_local_experts", 1, 4096, false, 0, &c->num_local_experts, err, errlen) ||
	    get_int(o, path, "num_experts_per_tok", 1, 4096, false, 0, &c->num_experts_per_tok, err, errlen) ||
	    get_int(o, path, "max_position_embeddings", 1, INT_MAX, false, 0,
		    &c->max_position_embeddings, err, errlen) ||
	    get_int(o, path, "sliding_window", 0, INT_MAX, true, 0, &sw, err, errlen) ||
	    get_double(o, path, "rms_norm_eps", 0, 1, false, 0, &c->norm_eps, err, errlen) ||
	    get_double(o, path, "router_jitter_noise", 0, 1, true, 0, &c->router_jitter_noise, err, errlen) ||
	    get_bool(o, path, "attention_bias", false, &c->attention_bias, err, errlen) ||
	    get_bool(o, path, "lm_head_bias", false, &c->lm_head_bias, err, errlen) ||
	    get_bool(o, path, "tie_word_embeddings", false, &c->tie_word_embeddings, err, errlen) ||
	    get_int(o, path, "bos_token_id", -1, c->vocab_size - 1, true, -1, &c->bos_token_id, err, errlen) ||
	    get_int(o, path, "pad_token_id", -1, c->vocab_size - 1, true, -1, &c->pad_token_id, err, errlen) ||
	    get_eos(o, path, c->vocab_size, c, err, errlen) ||
	    parse_storage_dtype(o, path, c, err, errlen) ||
	    parse_quant(o, path, c, err, errlen))
		return -1;
	c->sliding_window = sw;
	if (!c->head_dim) {
		if (c->hidden_size % c->num_attention_heads)
			return sm_errf(err, errlen, "%s: no \"head_dim\" and hidden_size %% num_attention_heads != 0", path);
		c->head_dim = c->hidden_size / c->num_attention_heads;
	}
	if (c->num_attention_heads % c->num_key_value_heads)
		return sm_errf(err, errlen, "%s: field \"num_key_value_heads\" = %d does not divide num_attention_heads = %d",
			    path, c->num_key_value_heads, c->num_attention_heads);
	if (c->num_experts_per_tok > c->num_local_experts)
		return sm_errf(err, errlen, "%s: field \"num_experts_per_tok\" = %d exceeds num_local_experts = %d",
			    path, c->num_experts_per_tok, c->num_local_experts);
	if (c->head_dim % 2)
		return sm_errf(err, errlen, "%s: field \"head_dim\" = %d must be even for RoPE", path, c->head_dim);

	/* RoPE: transformers 5 nests theta and type in rope_parameters;
	 * older configs have rope_theta and rope_scaling at top level. */
	snprintf(c->rope_type, sizeof(c->rope_type), "default");
	if (json_object_object_get_ex(o, "rope_parameters", &rp) &&
	    json_object_is_type(rp, json_type_object)) {
		if (get_double(rp, path, "rope_theta", 1e-9, 1e30, true, NAN, &c->rope_theta, err, errlen))
			return -1;
		if (json_object_object_get_ex(rp, "rope_type", &v) && json_object_is_type(v, json_type_string))
			snprintf(c->rope_type, sizeof(c->rope_type), "%s", json_object_get_string(v));
	} else {
		c->rope_theta = NAN;
		if (json_object_object_get_ex(o, "rope_scaling", &v) && json_object_is_type(v, json_type_object)) {
			struct json_object *t;

			if ((json_object_object_get_ex(v, "rope_type", &t) ||
			     json_object_object_get_ex(v, "type", &t)) && json_object_is_type(t, json_type_string))
				snprintf(c->rope_type, sizeof(c->rope_type), "%s", json_object_get_string(t));
		}
	}
	if (isnan(c->rope_theta) &&
	    get_double(o, path, "rope_theta", 1e-9, 1e30, true, 10000.0, &c->rope_theta, err, errlen))
		return -1;
	if (strcmp(c->rope_type, "default"))
		return sm_errf(err, errlen, "%s: rope type \"%s\" not supported (only \"default\")", path, c->rope_type);
	return 0;
}

int phimoe_config_load(const char *dir, struct phimoe_config *cfg,
		       char *err, size_t errlen)
{
	char path[4200];
	struct json_object *o;
	struct phimoe_config c;
	int rc;

	memset(&c, 0, sizeof(c));
	memset(cfg, 0, sizeof(*cfg));
	if (access(dir, F_OK))
		return sm_errf(err, errlen, "%s: model directory does not exist", dir);
	snprintf(path, sizeof(path), "%s/config.json", dir);
	if (access(path, R_OK))
		return sm_errf(err, errlen, "%s: missing", path);
	if (sm_json_load_object(path, &o, err, errlen))
		return -1;
	rc = parse_config(o, path, &c, err, errlen);
	json_object_put(o);
	if (rc)
		return rc;

	/* generation_config.json's eos list wins over config.json's */
	snprintf(path, sizeof(path), "%s/generation_config.json", dir);
	if (!access(path, F_OK)) {
		struct phimoe_config g = c;

		if (sm_json_load_object(path, &o, err, errlen))
			return -1;
		g.n_eos = 0;
		rc = get_eos(o, path, c.vocab_size, &g, err, errlen);
		json_object_put(o);
		if (rc)
			return rc;
		if (g.n_eos) {
			memcpy(c.eos_token_ids, g.eos_token_ids, sizeof(c.eos_token_ids));
			c.n_eos = g.n_eos;
		}
	}
	*cfg = c;
	return 0;
}
