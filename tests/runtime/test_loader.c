// SPDX-License-Identifier: MIT
/*
 * Model loader tests on the fixture and on the corrupt/sharded/converted
 * variants that make_bad_fixtures.py writes (argv[1]: fixture dir,
 * argv[2]: variants dir with cases.tsv).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "model/model.h"
#include "model/safetensors.h"
#include "model/tokenizer.h"

static const char *fixture, *variants;

static void load_ok(const char *dir, struct phimoe_model *m)
{
	char err[PHIMOE_ERRLEN] = "";

	if (phimoe_model_load(dir, m, err, sizeof(err)))
		fail_msg("%s: %s", dir, err);
}

static char *variant(const char *name)
{
	static char p[4200];

	snprintf(p, sizeof(p), "%s/%s", variants, name);
	return p;
}

static void t_config(void **state)
{
	struct phimoe_model m;
	const struct phimoe_config *c = &m.cfg;

	(void)state;
	load_ok(fixture, &m);
	assert_int_equal(c->vocab_size, 512);
	assert_int_equal(c->hidden_size, 128);
	assert_int_equal(c->intermediate_size, 64);
	assert_int_equal(c->num_hidden_layers, 2);
	assert_int_equal(c->num_attention_heads, 4);
	assert_int_equal(c->num_key_value_heads, 2);
	assert_int_equal(c->head_dim, 48);
	assert_int_equal(c->num_local_experts, 16);
	assert_int_equal(c->num_experts_per_tok, 2);
	assert_int_equal(c->max_position_embeddings, 4096);
	assert_true(c->rope_theta == 10000.0);	/* from rope_parameters */
	assert_string_equal(c->rope_type, "default");
	assert_int_equal(c->sliding_window, 2047);
	assert_true(c->norm_eps == 1e-5);
	assert_true(c->router_jitter_noise == 0.01);
	assert_true(c->attention_bias);
	assert_true(c->lm_head_bias);
	assert_false(c->tie_word_embeddings);
	assert_int_equal(c->bos_token_id, 1);
	/* generation_config.json's list wins over config.json's 480 */
	assert_int_equal(c->n_eos, 3);
	assert_int_equal(c->eos_token_ids[0], 480);
	assert_int_equal(c->eos_token_ids[1], 481);
	assert_int_equal(c->eos_token_ids[2], 487);
	assert_int_equal(c->storage_dtype, PHIMOE_DTYPE_BF16);
	phimoe_model_free(&m);
}

static void check_view(const struct phimoe_tensor *t, int64_t d0, int64_t d1)
{
	assert_non_null(t->data);
	assert_int_equal(t->shape[0], d0);
	assert_int_equal(t->ndim, d1 ? 2 : 1);
	if (d1)
		assert_int_equal(t->shape[1], d1);
	assert_int_equal(t->numel, (size_t)(d0 * (d1 ? d1 : 1)));
	assert_int_equal(t->nbytes, t->numel * phimoe_dtype_size(t->dtype));
	assert_int_equal((uintptr_t)t->data % phimoe_dtype_size(t->dtype), 0);
}

static void t_views(void **state)
{
	struct phimoe_model m;
	int l, e;

	(void)state;
	load_ok(fixture, &m);
	check_view(&m.embed_tokens, 512, 128);
	check_view(&m.lm_head_w, 512, 128);
	check_view(&m.lm_head_b, 512, 0);
	check_view(&m.norm_w, 128, 0);
	check_view(&m.norm_b, 128, 0);
	assert_ptr_not_equal(m.lm_head_w.data, m.embed_tokens.data);
	for (l = 0; l < 2; l++) {
		const struct phimoe_layer *L = &m.layers[l];

		check_view(&L->input_layernorm_w, 128, 0);
		check_view(&L->input_layernorm_b, 128, 0);
		check_view(&L->q_w, 192, 128);
		check_view(&L->q_b, 192, 0);
		check_view(&L->k_w, 96, 128);
		check_view(&L->k_b, 96, 0);
		check_view(&L->v_w, 96, 128);
		check_view(&L->v_b, 96, 0);
		check_view(&L->o_w, 128, 192);
		check_view(&L->o_b, 128, 0);
		check_view(&L->post_attention_layernorm_w, 128, 0);
		check_view(&L->post_attention_layernorm_b, 128, 0);
		check_view(&L->router_w, 16, 128);
		for (e = 0; e < 16; e++) {
			check_view(&L->experts[e].w1, 64, 128);
			check_view(&L->experts[e].w2, 128, 64);
			check_view(&L->experts[e].w3, 64, 128);
		}
	}
	assert_string_equal(m.layers[1].experts[9].w2.name,
			    "model.layers.1.block_sparse_moe.experts.9.w2.weight");
	phimoe_model_free(&m);
}

/* Every view holds the bytes the header says, read independently with
 * stdio and json-c, and lies in a file mapping (not copied). */
static void t_bytes_and_mapping(void **state)
{
	char path[4200], line[1024];
	struct phimoe_model m;
	struct json_object *h;
	unsigned char len8[8];
	uint64_t hlen = 0;
	char *hbuf, *blob;
	size_t i, checked = 0;
	FILE *f;
	int found = 0;

	(void)state;
	load_ok(fixture, &m);
	snprintf(path, sizeof(path), "%s/model.safetensors", fixture);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(len8, 1, 8, f), 8);
	for (i = 0; i < 8; i++)
		hlen |= (uint64_t)len8[i] << (8 * i);
	hbuf = calloc(1, hlen + 1);
	assert_int_equal(fread(hbuf, 1, hlen, f), hlen);
	h = json_tokener_parse(hbuf);
	assert_non_null(h);
	blob = malloc(1 << 20);
	{
		json_object_object_foreach(h, k, v) {
			struct json_object *o;
			const struct st_tensor *t = st_find(m.ckpt, k);
			long b, e;

			if (!strcmp(k, "__metadata__"))
				continue;
			assert_non_null(t);
			assert_true(json_object_object_get_ex(v, "data_offsets", &o));
			b = json_object_get_int64(json_object_array_get_idx(o, 0));
			e = json_object_get_int64(json_object_array_get_idx(o, 1));
			assert_true(e - b <= 1 << 20);
			assert_int_equal(fseek(f, (long)(8 + hlen) + b, SEEK_SET), 0);
			assert_int_equal(fread(blob, 1, (size_t)(e - b), f), (size_t)(e - b));
			assert_int_equal((size_t)(e - b), t->nbytes);
			assert_memory_equal(blob, t->data, t->nbytes);
			checked++;
		}
	}
	assert_int_equal(checked, st_count(m.ckpt));
	assert_int_equal(checked, 2 * (13 + 48) + 5);
	free(blob);
	json_object_put(h);
	free(hbuf);
	fclose(f);

	/* the embedding's address is inside a mapping of model.safetensors */
	f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && strstr(line, "model.safetensors") &&
		    (uintptr_t)m.embed_tokens.data >= lo && (uintptr_t)m.embed_tokens.data < hi &&
		    (uintptr_t)m.layers[1].experts[15].w3.data < hi)
			found = 1;
	}
	fclose(f);
	assert_true(found);
	phimoe_model_free(&m);
}

static void t_stats(void **state)
{
	struct phimoe_model m;
	struct phimoe_model_stats s;
	/* per layer: 2 norms x 2 x 128, q/k/v/o with biases, router, experts */
	const uint64_t attn = 192 * 128 + 192 + 2 * (96 * 128 + 96) + 128 * 192 + 128;
	const uint64_t dense = 4 * 128 + attn + 16 * 128, expert = 3 * 64 * 128;
	const uint64_t total = 512 * 128 * 2 + 512 + 2 * 128 + 2 * (dense + 16 * expert);
	const uint64_t active = 128 + 512 * 128 + 512 + 2 * 128 + 2 * (dense + 2 * expert);

	(void)state;
	load_ok(fixture, &m);
	phimoe_model_stats(&m, &s);
	assert_int_equal(s.params, total);
	assert_int_equal(s.params, 1071872);
	assert_int_equal(s.bytes, 2 * total);
	assert_int_equal(s.expert_params, 2 * 16 * expert);
	assert_int_equal(s.active_params_per_token, active);
	assert_int_equal(s.active_bytes_per_token, 2 * active);
	phimoe_model_free(&m);
}

static void t_dtype_conversions(void **state)
{
	float f = 0.1f;

	(void)state;
	assert_true(phimoe_bf16_to_f32(0x3f80) == 1.0f);
	assert_true(phimoe_bf16_to_f32(0xc000) == -2.0f);
	assert_int_equal(phimoe_f32_to_bf16(1.0f), 0x3f80);
	assert_int_equal(phimoe_f32_to_bf16(f), 0x3dcd);	/* rounded to nearest */
	assert_int_equal(phimoe_f32_to_bf16(1.00390625f), 0x3f80);	/* tie to even */
	assert_true(isnan(phimoe_bf16_to_f32(phimoe_f32_to_bf16(NAN))));
	assert_true(phimoe_f16_to_f32(0x3c00) == 1.0f);
	assert_true(phimoe_f16_to_f32(0xc000) == -2.0f);
	assert_true(phimoe_f16_to_f32(0x7bff) == 65504.0f);
	assert_true(phimoe_f16_to_f32(0x0001) == ldexpf(1, -24));
	assert_true(isinf(phimoe_f16_to_f32(0x7c00)));
	assert_true(phimoe_f16_to_f32(0x8000) == 0.0f && signbit(phimoe_f16_to_f32(0x8000)));
}

/* Sharded and re-typed checkpoints give the same weights. */
static void compare_models(const char *dir, double tol)
{
	struct phimoe_model a, b;
	size_t i;

	load_ok(fixture, &a);
	load_ok(dir, &b);
	assert_int_equal(st_count(a.ckpt), st_count(b.ckpt));
	for (i = 0; i < st_count(a.ckpt); i++) {
		const struct st_tensor *x = st_at(a.ckpt, i), *y = st_find(b.ckpt, x->name);
		struct phimoe_tensor tx = { .dtype = x->dtype, .data = x->data };
		struct phimoe_tensor ty;
		size_t j;

		assert_non_null(y);
		assert_int_equal(x->numel, y->numel);
		ty = (struct phimoe_tensor){ .dtype = y->dtype, .data = y->data };
		for (j = 0; j < x->numel; j++) {
			float u = phimoe_tensor_get(&tx, j), v = phimoe_tensor_get(&ty, j);

			if (!(fabsf(u - v) <= tol * (fabsf(u) + 1e-4)))
				fail_msg("%s: %s[%zu]: %g vs %g", dir, x->name, j, u, v);
		}
	}
	assert_ptr_not_equal(b.layers[1].experts[15].w2.data, NULL);
	phimoe_model_free(&a);
	phimoe_model_free(&b);
}

static void t_sharded(void **state)
{
	(void)state;
	compare_models(variant("sharded"), 0);
}

static void t_f32_checkpoint(void **state)
{
	struct phimoe_model m;
	float buf[4];

	(void)state;
	compare_models(variant("as_f32"), 0);
	load_ok(variant("as_f32"), &m);
	assert_int_equal(m.cfg.storage_dtype, PHIMOE_DTYPE_F32);
	assert_int_equal(m.embed_tokens.dtype, PHIMOE_DTYPE_F32);
	phimoe_tensor_to_f32(&m.embed_tokens, 5, 4, buf);
	assert_memory_equal(buf, (const float *)m.embed_tokens.data + 5, sizeof(buf));
	phimoe_model_free(&m);
}

static void t_f16_checkpoint(void **state)
{
	struct phimoe_model m;

	(void)state;
	compare_models(variant("as_f16"), 1e-3);	/* f16 has 3 more mantissa bits */
	load_ok(variant("as_f16"), &m);
	assert_int_equal(m.layers[0].q_w.dtype, PHIMOE_DTYPE_F16);
	phimoe_model_free(&m);
}

/* Each corrupt variant: load fails with one line naming file and tensor. */
static void t_bad_inputs(void **state)
{
	char path[4200], line[1024];
	FILE *f;
	int n = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/cases.tsv", variants);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *tab = strchr(line, '\t'), *nl = strchr(line, '\n');
		char err[PHIMOE_ERRLEN] = "", *dir;
		struct phimoe_model m;
		struct phimoe_tokenizer *tk = NULL;
		int rc;

		assert_non_null(tab);
		*tab = '\0';
		if (nl)
			*nl = '\0';
		dir = variant(line);
		if (!strncmp(line, "tokenizer", 9)) {
			rc = phimoe_tokenizer_load(dir, &tk, err, sizeof(err));
			assert_null(tk);
		} else {
			rc = phimoe_model_load(dir, &m, err, sizeof(err));
			assert_null(m.layers);
			assert_null(m.ckpt);
		}
		if (rc != -1)
			fail_msg("%s: loaded but should not", line);
		if (!strstr(err, tab + 1) || !strstr(err, dir) || strchr(err, '\n'))
			fail_msg("%s: error \"%s\" lacks \"%s\" or the path", line, err, tab + 1);
		print_message("# %s: %s\n", line, err);
		n++;
	}
	fclose(f);
	assert_true(n >= 18);
}

static void t_missing_dir(void **state)
{
	char err[PHIMOE_ERRLEN] = "";
	struct phimoe_model m;
	struct phimoe_config c;

	(void)state;
	assert_int_equal(phimoe_model_load("/nonexistent/model", &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/model: model directory does not exist"));
	assert_int_equal(phimoe_config_load("/nonexistent/model", &c, err, sizeof(err)), -1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_config),
		cmocka_unit_test(t_views),
		cmocka_unit_test(t_bytes_and_mapping),
		cmocka_unit_test(t_stats),
		cmocka_unit_test(t_dtype_conversions),
		cmocka_unit_test(t_sharded),
		cmocka_unit_test(t_f32_checkpoint),
		cmocka_unit_test(t_f16_checkpoint),
		cmocka_unit_test(t_bad_inputs),
		cmocka_unit_test(t_missing_dir),
	};

	if (argc != 3) {
		fprintf(stderr, "usage: %s FIXTURE_DIR VARIANTS_DIR\n", argv[0]);
		return 2;
	}
	fixture = argv[1];
	variants = argv[2];
	return cmocka_run_group_tests_name("runtime-loader", tests, NULL, NULL);
}
