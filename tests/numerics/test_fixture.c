// SPDX-License-Identifier: MIT
/*
 * The forward pass on the reference fixture (tests/fixtures/phimoe-tiny-a):
 * the reference criteria through splitmoe_eval() in f32 and bf16, and the
 * properties the reference cannot show: prefill and KV-cache decode agree,
 * chunked prefill equals one batch, a small sliding window is honoured,
 * every heavy submission is gated, bad input is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arbiter/arbiter_impl.h"
#include "tests/eval/eval_reference.h"
#include "engine/inference.h"
#include "model/model.h"
#include "reference_criteria.h"


/* The first case's input_ids (reference.json). */
static const int32_t prompt[] = {
	1, 398, 428, 407, 399, 305, 306, 398, 373, 293, 400, 406, 320, 268, 288,
	273, 281, 401, 413, 290, 282, 407, 382, 314, 272, 407, 293, 384, 282, 395,
	421,
};

static struct phimoe_model model;

static int setup(void **st)
{
	char err[PHIMOE_ERRLEN];

	(void)st;
	if (phimoe_model_load(FIXTURE, &model, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	phimoe_model_free(&model);
	return 0;
}

static struct phimoe_session *open_session(const struct phimoe_model *m,
					   enum sm_compute c, int max_batch,
					   struct sm_arbiter *arb)
{
	struct phimoe_session_opts o = {
		.compute = c, .threads = 2, .max_seq = 128, .max_batch = max_batch,
		.arbiter = arb,
	};
	struct phimoe_session *s = NULL;
	char err[256];
	int rc = phimoe_session_create(m, &o, &s, err, sizeof(err));

	if (rc)
		fprintf(stderr, "session: %s\n", err);
	assert_int_equal(rc, 0);
	return s;
}

static void test_eval_f32(void **st)
{
	(void)st;
	check_reference_criteria(FIXTURE, SM_COMPUTE_F32, SM_WEIGHTS_AUTO);
}

static void test_eval_bf16(void **st)
{
	struct phimoe_session_opts o = { .compute = SM_COMPUTE_BF16, .max_seq = 8 };
	struct phimoe_session *s = NULL;
	char err[256];

	(void)st;
	/* AVX2-only CPUs have no bf16 matmul in oneDNN 2.6 (auto is f32
	 * there): then bf16 must be refused with a clear message */
	if (phimoe_session_create(&model, &o, &s, err, sizeof(err))) {
		assert_non_null(strstr(err, "use compute type f32"));
		assert_int_equal(sm_compute_default(), SM_COMPUTE_F32);
		return;
	}
	phimoe_session_destroy(s);
	check_reference_criteria(FIXTURE, SM_COMPUTE_BF16, SM_WEIGHTS_AUTO);
}

static double max_diff(const float *a, const float *b, size_t n)
{
	double d = 0;

	for (size_t i = 0; i < n; i++)
		d = fmax(d, fabs((double)a[i] - b[i]));
	return d;
}

/* Every position's logits from one prefill vs token-by-token decode. */
static void check_prefill_vs_decode(const struct phimoe_model *m, int n, double tol)
{
	struct phimoe_session *s = open_session(m, SM_COMPUTE_F32, 0, NULL);
	int V = m->cfg.vocab_size;
	float *all = malloc(sizeof(float) * n * V);
	struct phimoe_prefill_out po = { .logits = all };
	const float *lg;

	assert_int_equal(phimoe_prefill(s, prompt, n, &po), 0);
	assert_int_equal(phimoe_session_pos(s), n);
	assert_true(max_diff(phimoe_session_logits(s), all + (size_t)(n - 1) * V, V) == 0);
	phimoe_session_reset(s);
	for (int i = 0; i < n; i++) {
		assert_int_equal(phimoe_decode(s, prompt[i], &lg), 0);
		assert_true(max_diff(lg, all + (size_t)i * V, V) <= tol);
	}
	free(all);
	phimoe_session_destroy(s);
}

static void test_prefill_equals_decode(void **st)
{
	(void)st;
	check_prefill_vs_decode(&model, (int)(sizeof(prompt) / sizeof(prompt[0])), 1e-4);
}

static void test_chunked_prefill(void **st)
{
	int n = (int)(sizeof(prompt) / sizeof(prompt[0])), V = model.cfg.vocab_size;
	struct phimoe_session *one = open_session(&model, SM_COMPUTE_F32, 0, NULL);
	struct phimoe_session *chunked = open_session(&model, SM_COMPUTE_F32, 7, NULL);
	float *a = malloc(sizeof(float) * n * V), *b = malloc(sizeof(float) * n * V);
	int32_t ea[2 * 2 * 31], eb[2 * 2 * 31];
	struct phimoe_prefill_out pa = { .logits = a, .experts = ea };
	struct phimoe_prefill_out pb = { .logits = b, .experts = eb };

	(void)st;
	assert_int_equal(phimoe_prefill(one, prompt, n, &pa), 0);
	assert_int_equal(phimoe_prefill(chunked, prompt, n, &pb), 0);
	assert_true(max_diff(a, b, (size_t)n * V) <= 1e-4);
	assert_memory_equal(ea, eb, sizeof(ea));
	free(a);
	free(b);
	phimoe_session_destroy(one);
	phimoe_session_destroy(chunked);
}

static void test_small_sliding_window(void **st)
{
	struct phimoe_model windowed = model;	/* same mapped weights */
	int n = 12, V = model.cfg.vocab_size, W = 4;
	struct phimoe_session *full = open_session(&model, SM_COMPUTE_F32, 0, NULL);
	struct phimoe_session *win;
	float *a = malloc(sizeof(float) * n * V), *b = malloc(sizeof(float) * n * V);
	struct phimoe_prefill_out pa = { .logits = a }, pb = { .logits = b };

	(void)st;
	windowed.cfg.sliding_window = W;
	win = open_session(&windowed, SM_COMPUTE_F32, 0, NULL);
	assert_int_equal(phimoe_prefill(full, prompt, n, &pa), 0);
	assert_int_equal(phimoe_prefill(win, prompt, n, &pb), 0);
	/* positions that see fewer than W keys are unaffected by the window
	 * (up to the summation order of differently sized expert batches) */
	assert_true(max_diff(a, b, (size_t)W * V) <= 1e-5);
	/* later ones attend W keys only */
	for (int p = W; p < n; p++)
		assert_true(max_diff(a + (size_t)p * V, b + (size_t)p * V, V) > 1e-3);
	check_prefill_vs_decode(&windowed, n, 1e-4);
	free(a);
	free(b);
	phimoe_session_destroy(full);
	phimoe_session_destroy(win);
}

/* One decode step = per layer qkv, o, router and the experts (the two of
 * a token are one submission: backend op experts); + lm_head. */
static void check_gating(struct sm_arbiter *arb)
{
	struct phimoe_session *s = open_session(&model, SM_COMPUTE_F32, 0, arb);
	struct phimoe_session_stats a, b;
	int L = model.cfg.num_hidden_layers;

	assert_int_equal(phimoe_prefill(s, prompt, 8, NULL), 0);
	phimoe_session_get_stats(s, &a);
	/* prefill: 3 linears per layer, the experts of a layer, lm_head */
	assert_true(a.gated_submissions >= (uint64_t)(4 * L + 1));
	assert_true(a.gated_bytes > 0);
	/* each acquire completed (the CPU completes what it was granted) */
	assert_true(a.gated_completions == a.gated_submissions);
	assert_true(a.gated_completed_bytes == a.gated_bytes);
	assert_int_equal(phimoe_decode(s, 5, NULL), 0);
	phimoe_session_get_stats(s, &b);
	assert_int_equal(b.gated_submissions - a.gated_submissions, 4 * L + 1);
	/* at least the weights: an expert alone is 3 * 64 * 128 f32 */
	assert_true(b.gated_bytes - a.gated_bytes > (uint64_t)L * 2 * 3 * 64 * 128 * 4);
	assert_true(b.gated_completions == b.gated_submissions);
	assert_true(b.gated_completed_bytes == b.gated_bytes);
	assert_int_equal(b.decode_tokens, 1);
	assert_int_equal(b.prefill_tokens, 8);
	phimoe_session_destroy(s);
}

static void test_gating_process_arbiter(void **st)
{
	struct sm_arbiter_opts o = { .kind = SM_ARB_PROCESS };
	struct sm_arbiter *arb;
	char err[256];

	(void)st;
	assert_int_equal(sm_arbiter_open_process(&o, &arb, err, sizeof(err)), 0);
	assert_int_equal(sm_arbiter_get_kind(arb), SM_ARB_PROCESS);
	check_gating(arb);
	sm_arbiter_close(arb);
}

static void test_gating_off_arbiter(void **st)
{
	struct sm_arbiter_opts o = { .kind = SM_ARB_OFF };
	struct sm_arbiter *arb;
	char err[256];

	(void)st;
	assert_int_equal(sm_arbiter_open_off(&o, &arb, err, sizeof(err)), 0);
	check_gating(arb);
	sm_arbiter_close(arb);
}

/* A reservation the process arbiter cannot admit is one clear error. */
static void test_reservation_refused(void **st)
{
	struct sm_arbiter_opts o = { .kind = SM_ARB_PROCESS, .capacity_mbps = 1000 };
	struct phimoe_session_opts so = {
		.compute = SM_COMPUTE_F32, .max_seq = 64, .arb_reserve_mbps = 5000,
	};
	struct sm_arbiter *arb;
	struct phimoe_session *s = NULL;
	char err[256] = "";

	(void)st;
	assert_int_equal(sm_arbiter_open_process(&o, &arb, err, sizeof(err)), 0);
	so.arbiter = arb;
	assert_true(phimoe_session_create(&model, &so, &s, err, sizeof(err)) < 0);
	assert_null(s);
	assert_non_null(strstr(err, "5000 MB/s"));
	sm_arbiter_close(arb);
}

static void test_bad_input(void **st)
{
	struct phimoe_session *s = open_session(&model, SM_COMPUTE_F32, 0, NULL);
	int32_t bad[2] = { 1, 512 };

	(void)st;
	assert_int_equal(phimoe_prefill(s, prompt, 0, NULL), -EINVAL);
	assert_int_equal(phimoe_prefill(s, bad, 2, NULL), -EINVAL);
	assert_non_null(strstr(phimoe_session_error(s), "512"));
	assert_int_equal(phimoe_decode(s, -1, NULL), -EINVAL);
	assert_int_equal(phimoe_session_pos(s), 0);
	/* the KV cache holds 128 positions */
	for (int i = 0; i < 4; i++)
		assert_int_equal(phimoe_prefill(s, prompt, 31, NULL), 0);
	assert_int_equal(phimoe_prefill(s, prompt, 5, NULL), -ENOSPC);
	assert_int_equal(phimoe_decode(s, 3, NULL), 0);
	assert_int_equal(phimoe_decode(s, 3, NULL), 0);
	assert_int_equal(phimoe_decode(s, 3, NULL), 0);
	assert_int_equal(phimoe_decode(s, 3, NULL), 0);
	assert_int_equal(phimoe_decode(s, 3, NULL), -ENOSPC);
	phimoe_session_destroy(s);
}

static void test_eval_bad_reference(void **st)
{
	const char *path = "build/numerics/bad_reference.json";
	struct eval_opts o = { .compute = SM_COMPUTE_F32 };
	FILE *f;

	(void)st;
	assert_int_equal(splitmoe_eval(FIXTURE, "build/numerics/missing.json", &o, NULL, NULL) < 0, 1);
	f = fopen(path, "w");
	assert_non_null(f);
	/* logits of the wrong length */
	fputs("{\"cases\":[{\"prompt\":\"a\",\"input_ids\":[1,2],\"logits\":[[0.0]],"
	      "\"router_logits\":[],\"greedy_ids\":[]}]}", f);
	fclose(f);
	assert_true(splitmoe_eval(FIXTURE, path, &o, NULL, NULL) < 0);
	f = fopen(path, "w");
	fputs("{\"cases\": 3}", f);
	fclose(f);
	assert_true(splitmoe_eval(FIXTURE, path, &o, NULL, NULL) < 0);
}

/* A reference whose numbers are off fails (exit 1), it does not pass. */
static void test_eval_detects_wrong_logits(void **st)
{
	const char *path = "build/numerics/shifted_reference.json";
	struct json_text { char *p; } t = { 0 };
	struct eval_opts o = { .compute = SM_COMPUTE_F32, .skip_tokenizer = true };
	struct eval_result r;
	FILE *f = fopen(REFERENCE, "rb");
	long len;

	(void)st;
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	t.p = malloc(len + 1);
	assert_int_equal(fread(t.p, 1, len, f), (size_t)len);
	t.p[len] = 0;
	fclose(f);
	/* perturb the first logit of the first case by a visible amount */
	char *at = strstr(t.p, "\"logits\": [[");
	int skip = 12;

	if (!at) {
		at = strstr(t.p, "\"logits\":[[");
		skip = 11;
	}
	assert_non_null(at);
	at += skip;
	f = fopen(path, "wb");
	assert_non_null(f);
	fwrite(t.p, 1, at - t.p, f);
	fputs("1000.0, ", f);
	/* drop the original first number */
	char *comma = strchr(at, ',');

	fputs(comma + 1, f);
	fclose(f);
	free(t.p);
	assert_int_equal(splitmoe_eval(FIXTURE, path, &o, NULL, &r), 1);
	assert_false(r.pass);
	assert_false(r.cases[0].pass);
	assert_true(r.cases[1].pass);
	assert_int_equal(r.cases[0].tokenizer_ok, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eval_f32),
		cmocka_unit_test(test_eval_bf16),
		cmocka_unit_test(test_prefill_equals_decode),
		cmocka_unit_test(test_chunked_prefill),
		cmocka_unit_test(test_small_sliding_window),
		cmocka_unit_test(test_gating_process_arbiter),
		cmocka_unit_test(test_gating_off_arbiter),
		cmocka_unit_test(test_reservation_refused),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_eval_bad_reference),
		cmocka_unit_test(test_eval_detects_wrong_logits),
	};

	/* run again with SPLITMOE_ISA=avx2 (the target laptop's path) */
	const char *isa = getenv("SPLITMOE_ISA");

	return cmocka_run_group_tests_name(isa && !strcmp(isa, "avx2") ? "numerics-fixture-avx2" :
					   "numerics-fixture", tests, setup, teardown);
}
