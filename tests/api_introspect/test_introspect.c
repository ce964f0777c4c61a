// SPDX-License-Identifier: MIT
/*
 * The public API's introspection on fixture A (2 layers, hidden 128, 16
 * experts, heads 4 x 48, attention and lm_head biases): DRAM bandwidth
 * measured in a child (first: before any OpenMP region of this process),
 * the tensors by index and by name, the routing against the engine's own,
 * the op-class profile, the KV block of the batching pool.
 *   test_introspect FIXTURE_DIR
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

#include "splitmoe.h"
#include "tests/examples/fixture_model.h"

static splitmoe_session *session(bool profile, int max_seqs, int kv_tokens)
{
	struct splitmoe_session_params p = splitmoe_session_default_params();
	splitmoe_session *s = NULL;
	char err[512];

	p.compute = SPLITMOE_COMPUTE_F32;
	p.max_seq = 128;
	p.threads = 1;
	p.profile = profile;
	p.max_seqs = max_seqs;
	p.kv_tokens = kv_tokens;
	p.arbiter = SPLITMOE_ARBITER_OFF;
	assert_int_equal(splitmoe_session_create(model, &p, &s, err, sizeof(err)), SPLITMOE_OK);
	return s;
}

static void t_membw(void **state)
{
	struct splitmoe_membw bw;

	(void)state;
	assert_true(splitmoe_membw_default_bytes() >= (1ull << 30));
	assert_int_equal(splitmoe_membw_measure(0, 1, &bw), SPLITMOE_ERR_INVALID);
	assert_int_equal(splitmoe_membw_measure(1 << 20, 0, &bw), SPLITMOE_ERR_INVALID);
	assert_int_equal(splitmoe_membw_measure(1 << 20, 1, NULL), SPLITMOE_ERR_INVALID);
	assert_int_equal(splitmoe_membw_measure(32ull << 20, 2, &bw), SPLITMOE_OK);
	assert_int_equal(bw.bytes, 32ull << 20);
	assert_int_equal(bw.runs, 2);
	assert_true(bw.threads >= 1);
	assert_true(bw.read_gbs > 0 && bw.copy_gbs > 0);
}

static void t_dtype_names(void **state)
{
	(void)state;
	assert_string_equal(splitmoe_dtype_name(SPLITMOE_DTYPE_F32), "f32");
	assert_string_equal(splitmoe_dtype_name(SPLITMOE_DTYPE_BF16), "bf16");
	assert_string_equal(splitmoe_dtype_name(SPLITMOE_DTYPE_U8), "u8");
	assert_string_equal(splitmoe_dtype_name((splitmoe_dtype)99), "?");
}

/* Every tensor once, by index and by its name; their bytes are the model's. */
static void t_tensors(void **state)
{
	struct splitmoe_tensor t, u;
	int n = splitmoe_model_tensor_count(model);
	uint64_t bytes = 0;

	(void)state;
	/* head 5 (embed, norm w b, lm_head w b); per layer 12 norms and
	 * attention with biases, the router, 16 experts x 3 */
	assert_int_equal(n, 5 + 2 * (12 + 1 + 16 * 3));
	for (int i = 0; i < n; i++) {
		assert_int_equal(splitmoe_model_tensor(model, i, &t), SPLITMOE_OK);
		assert_non_null(t.name);
		assert_non_null(t.data);
		assert_true(t.ndim == 1 || t.ndim == 2);
		assert_int_equal(t.numel, t.ndim == 1 ? t.shape[0] : t.shape[0] * t.shape[1]);
		assert_int_equal(t.quant, SPLITMOE_QUANT_NONE);
		assert_int_equal(splitmoe_model_tensor_by_name(model, t.name, &u), SPLITMOE_OK);
		assert_ptr_equal(u.data, t.data);
		assert_string_equal(u.name, t.name);
		bytes += t.nbytes;
	}
	assert_int_equal(bytes, splitmoe_model_bytes(model));

	assert_int_equal(splitmoe_model_tensor(model, 0, &t), SPLITMOE_OK);
	assert_string_equal(t.name, "model.embed_tokens.weight");
	assert_int_equal(t.dtype, SPLITMOE_DTYPE_BF16);
	assert_int_equal(t.shape[0], 512);
	assert_int_equal(t.shape[1], 128);
	assert_int_equal(t.nbytes, 512 * 128 * 2);

	assert_int_equal(splitmoe_model_tensor_by_name(model,
		"model.layers.1.self_attn.q_proj.weight", &t), SPLITMOE_OK);
	assert_int_equal(t.ndim, 2);
	assert_int_equal(t.shape[0], 4 * 48);
	assert_int_equal(t.shape[1], 128);
	assert_int_equal(splitmoe_model_tensor_by_name(model,
		"model.layers.0.block_sparse_moe.experts.15.w2.weight", &t), SPLITMOE_OK);
	assert_int_equal(t.shape[0], 128);
	assert_int_equal(t.shape[1], 64);

	assert_int_equal(splitmoe_model_tensor(model, n, &t), SPLITMOE_ERR_INVALID);
	assert_int_equal(splitmoe_model_tensor(model, -1, &t), SPLITMOE_ERR_INVALID);
	/* a layer the model does not have */
	assert_int_equal(splitmoe_model_tensor_by_name(model,
		"model.layers.2.self_attn.q_proj.weight", &t), SPLITMOE_ERR_INVALID);
	assert_int_equal(splitmoe_model_tensor_by_name(model, NULL, &t), SPLITMOE_ERR_INVALID);
}

static void t_tensors_vocab_only(void **state)
{
	struct splitmoe_model_params p = splitmoe_model_default_params();
	struct splitmoe_tensor t;
	splitmoe_model *m = NULL;

	(void)state;
	p.vocab_only = true;
	assert_int_equal(splitmoe_model_load(fixture, &p, &m, NULL, 0), SPLITMOE_OK);
	assert_int_equal(splitmoe_model_tensor_count(m), 0);
	assert_int_equal(splitmoe_model_tensor(m, 0, &t), SPLITMOE_ERR_INVALID);
	assert_int_equal(splitmoe_model_tensor_by_name(m, "model.embed_tokens.weight", &t),
			 SPLITMOE_ERR_INVALID);
	splitmoe_model_free(m);
}

/* The model's routing of the engine's own router scores gives the
 * engine's choice and multipliers, at every layer and position. */
static void t_route(void **state)
{
	enum { N = 12, L = 2, E = 16, K = 2 };
	int32_t ids[N], experts[L * N * K], got[2];
	float router[L * N * E], weights[L * N * K], w[2], one[E];
	struct splitmoe_prefill_out out = {
		.router_logits = router, .experts = experts, .expert_weights = weights,
	};
	splitmoe_session *s = session(false, 0, 0);

	(void)state;
	for (int i = 0; i < N; i++)
		ids[i] = (int32_t)(7 + 37 * i) % 512;
	assert_int_equal(splitmoe_prefill_ex(s, ids, N, &out), SPLITMOE_OK);
	for (int i = 0; i < L * N; i++) {
		splitmoe_model_route(model, router + (size_t)i * E, got, w);
		assert_int_equal(got[0], experts[i * K]);
		assert_int_equal(got[1], experts[i * K + 1]);
		assert_float_equal(w[0], weights[i * K], 1e-6);
		assert_float_equal(w[1], weights[i * K + 1], 1e-6);
	}
	/* two clear winners, the first the larger */
	for (int e = 0; e < E; e++)
		one[e] = 0;
	one[5] = 10;
	one[9] = 8;
	splitmoe_model_route(model, one, got, w);
	assert_int_equal(got[0], 5);
	assert_int_equal(got[1], 9);
	assert_true(w[0] > 0.99f && w[0] <= 1.0f);
	splitmoe_session_free(s);
}

static void t_profile(void **state)
{
	int n = splitmoe_op_class_count();
	struct splitmoe_profile p;
	uint64_t layer_ns[3] = { 0, 0, 7 };
	int32_t ids[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	splitmoe_session *s;

	(void)state;
	assert_true(n > 0 && n <= SPLITMOE_OP_CLASSES_MAX);
	for (int i = 0; i < n; i++) {
		assert_non_null(splitmoe_op_class_name(i));
		for (int j = 0; j < i; j++)
			assert_string_not_equal(splitmoe_op_class_name(i),
						splitmoe_op_class_name(j));
	}
	assert_string_equal(splitmoe_op_class_name(0), "embed");
	assert_null(splitmoe_op_class_name(n));
	assert_null(splitmoe_op_class_name(-1));

	s = session(true, 0, 0);
	assert_int_equal(splitmoe_prefill(s, ids, 8), SPLITMOE_OK);
	assert_int_equal(splitmoe_decode(s, 9), SPLITMOE_OK);
	splitmoe_session_profile(s, &p, layer_ns, 3);
	assert_int_equal(p.tokens, 9);
	assert_int_equal(layer_ns[2], 7);	/* beyond the model's layers: left alone */
	for (int i = 0; i < n; i++)
		if (!strcmp(splitmoe_op_class_name(i), "embed"))
			assert_int_equal(p.calls[i], 2);	/* one per pass */
	for (int i = n; i < SPLITMOE_OP_CLASSES_MAX; i++)
		assert_int_equal(p.calls[i], 0);
	splitmoe_session_profile_reset(s);
	splitmoe_session_profile(s, &p, NULL, 0);
	assert_int_equal(p.tokens, 0);
	splitmoe_session_free(s);

	/* without profile: nothing counted */
	s = session(false, 0, 0);
	assert_int_equal(splitmoe_prefill(s, ids, 8), SPLITMOE_OK);
	splitmoe_session_profile(s, &p, NULL, 0);
	assert_int_equal(p.tokens, 0);
	assert_int_equal(p.total_ns, 0);
	splitmoe_session_free(s);
}

/* A pool asked for one token more than a block holds two blocks: one
 * sequence then takes 2 blocks of tokens, and not one more. */
static void t_kv_block(void **state)
{
	int blk = splitmoe_kv_block(), seq;
	int32_t *ids;
	splitmoe_session *s;

	(void)state;
	assert_true(blk > 0 && 2 * blk + 1 <= 128);
	ids = calloc(2 * (size_t)blk + 1, sizeof(*ids));
	assert_non_null(ids);
	for (int i = 0; i <= 2 * blk; i++)
		ids[i] = (int32_t)(3 + i) % 512;
	s = session(false, 2, blk + 1);
	assert_int_equal(splitmoe_seq_open(s, &seq), SPLITMOE_OK);
	struct splitmoe_batch_item it = { .seq = seq, .ids = ids, .n = 2 * blk + 1 };

	assert_int_equal(splitmoe_batch(s, &it, 1), SPLITMOE_ERR_KV_FULL);
	it.n = 2 * blk;
	assert_int_equal(splitmoe_batch(s, &it, 1), SPLITMOE_OK);
	assert_int_equal(splitmoe_seq_pos(s, seq), 2 * blk);
	/* the pool is spent: sequence 0 gets no block */
	assert_int_equal(splitmoe_prefill(s, ids, 1), SPLITMOE_ERR_KV_FULL);
	splitmoe_session_free(s);
	free(ids);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_membw),	/* first: before any OpenMP region */
		cmocka_unit_test(t_dtype_names),
		cmocka_unit_test(t_tensors),
		cmocka_unit_test(t_tensors_vocab_only),
		cmocka_unit_test(t_route),
		cmocka_unit_test(t_profile),
		cmocka_unit_test(t_kv_block),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s FIXTURE_DIR\n", argv[0]);
		return 2;
	}
	fixture = argv[1];
	return cmocka_run_group_tests(tests, load_model, free_model);
}
