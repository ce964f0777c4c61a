// SPDX-License-Identifier: MIT
/*
 * The public API's wrappers (libsplitmoe/api.c, built with ASan and UBSan
 * over libruntime-asan.a) on fixture A: status codes and their text, model
 * facts, tokenize/detokenize with short buffers, the session's errors as
 * codes and text, sampling, stats, the GPU fallback note, batching.
 *   test_api FIXTURE_DIR
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
#include <unistd.h>

#include "splitmoe.h"
#include "tests/examples/fixture_model.h"

static splitmoe_session *session(int max_seq, int max_seqs, int kv_tokens)
{
	struct splitmoe_session_params p = splitmoe_session_default_params();
	splitmoe_session *s = NULL;
	char err[512];

	p.max_seq = max_seq;
	p.max_seqs = max_seqs;
	p.kv_tokens = kv_tokens;
	p.arbiter = SPLITMOE_ARBITER_PROCESS;
	assert_int_equal(splitmoe_session_create(model, &p, &s, err, sizeof(err)), SPLITMOE_OK);
	return s;
}

static void t_status_text(void **state)
{
	(void)state;
	assert_string_equal(splitmoe_status_str(SPLITMOE_OK), "ok");
	for (int st = SPLITMOE_ERR_INVALID; st >= SPLITMOE_ERR_BACKEND; st--)
		assert_string_not_equal(splitmoe_status_str((splitmoe_status)st), "unknown status");
	assert_string_equal(splitmoe_status_str((splitmoe_status)-99), "unknown status");
	assert_string_equal(splitmoe_version(), SPLITMOE_VERSION_STRING);
}

static void t_model_load_errors(void **state)
{
	splitmoe_model *m = (splitmoe_model *)1;
	char err[512] = "";

	(void)state;
	assert_int_equal(splitmoe_model_load("/nonexistent/model", NULL, &m, err, sizeof(err)),
			 SPLITMOE_ERR_MODEL);
	assert_null(m);
	assert_non_null(strstr(err, "/nonexistent/model"));
	assert_null(strchr(err, '\n'));
	assert_int_equal(splitmoe_model_load(NULL, NULL, &m, err, sizeof(err)), SPLITMOE_ERR_INVALID);
	/* no tokenizer: the token calls say so */
	struct splitmoe_model_params p = splitmoe_model_default_params();
	size_t n;

	p.tokenizer = false;
	assert_int_equal(splitmoe_model_load(fixture, &p, &m, NULL, 0), SPLITMOE_OK);
	assert_int_equal(splitmoe_tokenize(m, "x", NULL, 0, &n), SPLITMOE_ERR_UNSUPPORTED);
	assert_null(splitmoe_detok_create(m, true));
	splitmoe_model_free(m);
}

/* vocab_only: the tokenizer alone, as `splitmoe tokenize` loads it; the
 * same ids as the whole model's, no weights needed, no sessions. */
static void t_vocab_only(void **state)
{
	struct splitmoe_model_params p = splitmoe_model_default_params();
	struct splitmoe_session_params sp = splitmoe_session_default_params();
	char dir[] = "/tmp/splitmoe-vocab-XXXXXX", path[4096], target[4096], err[512] = "";
	static const char *const files[] = { "tokenizer.model", "tokenizer_config.json",
					     "added_tokens.json", "generation_config.json" };
	int32_t ids[64], want[64];
	size_t n, nw;
	splitmoe_model *m = NULL;
	splitmoe_session *s = (splitmoe_session *)1;
	splitmoe_sampler *smp = (splitmoe_sampler *)1;

	(void)state;
	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		assert_non_null(realpath(fixture, target));
		strncat(target, "/", sizeof(target) - strlen(target) - 1);
		strncat(target, files[i], sizeof(target) - strlen(target) - 1);
		assert_int_equal(symlink(target, path), 0);
	}
	/* no config.json nor weights: a model cannot load, its tokenizer can */
	assert_int_equal(splitmoe_model_load(dir, NULL, &m, err, sizeof(err)), SPLITMOE_ERR_MODEL);
	p.vocab_only = true;
	p.tokenizer = false;	/* vocab_only loads it regardless */
	assert_int_equal(splitmoe_model_load(dir, &p, &m, err, sizeof(err)), SPLITMOE_OK);
	assert_int_equal(splitmoe_tokenize(m, "The license", ids, 64, &n), SPLITMOE_OK);
	assert_int_equal(splitmoe_tokenize(model, "The license", want, 64, &nw), SPLITMOE_OK);
	assert_int_equal(n, nw);
	assert_memory_equal(ids, want, n * sizeof(ids[0]));
	assert_int_equal(splitmoe_model_layers(m), 0);
	assert_int_equal(splitmoe_model_bytes(m), 0);
	assert_int_equal(splitmoe_session_create(m, &sp, &s, err, sizeof(err)), SPLITMOE_ERR_INVALID);
	assert_null(s);
	assert_non_null(strstr(err, "vocab_only"));
	assert_int_equal(splitmoe_sampler_create(m, NULL, &smp), SPLITMOE_ERR_INVALID);
	assert_null(smp);
	splitmoe_model_free(m);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void t_model_facts(void **state)
{
	(void)state;
	assert_int_equal(splitmoe_model_vocab(model), 512);
	assert_int_equal(splitmoe_model_layers(model), 2);
	assert_int_equal(splitmoe_model_hidden(model), 128);
	assert_int_equal(splitmoe_model_experts(model), 16);
	assert_int_equal(splitmoe_model_experts_per_token(model), 2);
	assert_int_equal(splitmoe_model_max_positions(model), 4096);
	assert_true(splitmoe_model_params_count(model) > 0);
	assert_true(splitmoe_model_bytes(model) >= splitmoe_model_params_count(model) * 2);
	assert_int_equal(splitmoe_token_bos(model), 1);
	assert_true(splitmoe_token_is_eos(model, 480));
	assert_false(splitmoe_token_is_eos(model, 1));
}

static void t_tokens(void **state)
{
	int32_t ids[64];
	size_t n = 0, n2 = 0;
	char buf[64], small[5];
	long len;

	(void)state;
	assert_int_equal(splitmoe_tokenize(model, "The license", NULL, 0, &n), SPLITMOE_ERR_TOO_SMALL);
	assert_true(n >= 2 && n < 64);
	assert_int_equal(splitmoe_tokenize(model, "The license", ids, 1, &n2), SPLITMOE_ERR_TOO_SMALL);
	assert_int_equal(n2, n);
	assert_int_equal(ids[0], 1);	/* BOS, add_bos_token */
	assert_int_equal(splitmoe_tokenize(model, "The license", ids, 64, &n2), SPLITMOE_OK);
	assert_int_equal(n2, n);
	len = splitmoe_detokenize(model, ids, n, buf, sizeof(buf));
	assert_int_equal(len, (long)strlen("The license"));
	assert_string_equal(buf, "The license");
	/* snprintf's contract: the whole length, a truncated NUL-ended text */
	assert_int_equal(splitmoe_detokenize(model, ids, n, small, sizeof(small)), len);
	assert_string_equal(small, "The ");
	assert_int_equal(splitmoe_tokenize(model, NULL, ids, 64, &n2), SPLITMOE_ERR_INVALID);
	/* a chat turn: the user's text plus the format's special tokens */
	assert_int_equal(splitmoe_tokenize_chat(model, NULL, "The license", ids, 64, &n2),
			 SPLITMOE_OK);
	assert_true(n2 > n);
	/* streaming gives the same text as the whole decode */
	splitmoe_detok *d = splitmoe_detok_create(model, false);
	char out[256] = "", piece[64];

	assert_non_null(d);
	assert_int_equal(splitmoe_tokenize(model, "The license", ids, 64, &n), SPLITMOE_OK);
	for (size_t i = 1; i < n; i++) {	/* without BOS */
		size_t k = splitmoe_detok_push(d, ids[i], piece, sizeof(piece));

		strncat(out, piece, k);
	}
	splitmoe_detok_flush(d, piece, sizeof(piece));
	strcat(out, piece);
	splitmoe_detok_free(d);
	assert_string_equal(out, "The license");
}

static void t_session_errors(void **state)
{
	struct splitmoe_session_params p = splitmoe_session_default_params();
	splitmoe_session *s = NULL;
	int32_t ids[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	char err[512] = "";

	(void)state;
	p.device = (splitmoe_device)7;
	assert_int_equal(splitmoe_session_create(model, &p, &s, err, sizeof(err)),
			 SPLITMOE_ERR_INVALID);
	assert_null(s);
	assert_true(err[0]);
	p = splitmoe_session_default_params();
	p.device = SPLITMOE_DEVICE_GPU;
	p.quant = SPLITMOE_QUANT_INT8;
	assert_int_equal(splitmoe_session_create(model, &p, &s, err, sizeof(err)),
			 SPLITMOE_ERR_UNSUPPORTED);

	s = session(4, 0, 0);
	assert_int_equal(splitmoe_prefill(s, ids, 0), SPLITMOE_ERR_INVALID);
	ids[1] = 512;	/* outside the vocabulary */
	assert_int_equal(splitmoe_prefill(s, ids, 2), SPLITMOE_ERR_INVALID);
	assert_true(splitmoe_session_error(s)[0]);
	ids[1] = 2;
	assert_int_equal(splitmoe_prefill(s, ids, 5), SPLITMOE_ERR_KV_FULL);
	splitmoe_session_reset(s);
	assert_int_equal(splitmoe_prefill(s, ids, 4), SPLITMOE_OK);
	assert_int_equal(splitmoe_session_pos(s), 4);
	assert_int_equal(splitmoe_decode(s, 9), SPLITMOE_ERR_KV_FULL);
	splitmoe_session_reset(s);
	assert_int_equal(splitmoe_session_pos(s), 0);
	assert_string_equal(splitmoe_session_error(s), "");
	splitmoe_session_free(s);
}

static void t_generate_and_stats(void **state)
{
	struct splitmoe_sampler_params sp = splitmoe_sampler_default_params();
	splitmoe_session *s = session(32, 0, 0);
	splitmoe_sampler *smp = NULL;
	struct splitmoe_stats st;
	int32_t ids[3] = { 1, 450, 300 }, id;
	const float *l;
	int best = 0;

	(void)state;
	sp.top_p = 0;	/* outside (0, 1] */
	assert_int_equal(splitmoe_sampler_create(model, &sp, &smp), SPLITMOE_ERR_INVALID);
	assert_int_equal(splitmoe_sampler_create(model, NULL, &smp), SPLITMOE_OK);
	assert_int_equal(splitmoe_prefill(s, ids, 3), SPLITMOE_OK);
	l = splitmoe_logits(s);
	for (int i = 1; i < 512; i++)
		if (l[i] > l[best])
			best = i;
	id = splitmoe_sample(smp, l);
	assert_int_equal(id, best);	/* greedy */
	assert_int_equal(splitmoe_decode(s, id), SPLITMOE_OK);
	assert_int_equal(splitmoe_decode(s, splitmoe_sample(smp, splitmoe_logits(s))), SPLITMOE_OK);
	splitmoe_session_stats(s, &st);
	assert_int_equal(st.prefill_tokens, 3);
	assert_int_equal(st.decode_tokens, 2);
	assert_true(st.arbiter_acquires > 0);	/* the process arbiter gates the CPU */
	assert_true(st.arbiter_granted_bytes > 0);
	assert_true(st.workspace_bytes > 0);
	assert_true(st.packed_weight_bytes + st.mapped_weight_bytes > 0);
	assert_string_equal(splitmoe_session_device(s), "cpu");
	assert_string_equal(splitmoe_session_note(s), "");
	assert_true(splitmoe_session_compute(s) == SPLITMOE_COMPUTE_F32 ||
		    splitmoe_session_compute(s) == SPLITMOE_COMPUTE_BF16);
	splitmoe_sampler_free(smp);
	splitmoe_session_free(s);
}

/* Without a Level Zero driver (the loader finds none here: ZE_ENABLE_ALT_
 * DRIVERS unset) a GPU session runs on the CPU and says why. */
static void t_gpu_fallback_note(void **state)
{
	struct splitmoe_session_params p = splitmoe_session_default_params();
	splitmoe_session *s = NULL;
	int32_t ids[2] = { 1, 300 };

	(void)state;
	p.device = SPLITMOE_DEVICE_GPU;
	p.arbiter = SPLITMOE_ARBITER_OFF;
	assert_int_equal(splitmoe_session_create(model, &p, &s, NULL, 0), SPLITMOE_OK);
	if (strcmp(splitmoe_session_device(s), "cpu")) {
		splitmoe_session_free(s);
		skip();	/* a real GPU here */
	}
	assert_true(splitmoe_session_note(s)[0]);
	assert_int_equal(splitmoe_prefill(s, ids, 2), SPLITMOE_OK);
	splitmoe_session_free(s);
}

static void t_batch(void **state)
{
	/* a KV pool of 64 tokens: a block (32 tokens, the engine's) each */
	splitmoe_session *s = session(16, 2, 64), *alone = session(16, 0, 0);
	int32_t a[3] = { 1, 300, 301 }, b[2] = { 1, 77 };
	float *la = malloc(512 * sizeof(float)), *lb = malloc(512 * sizeof(float));
	int seq = -1;
	splitmoe_status st;

	(void)state;
	st = splitmoe_seq_open(s, &seq);
	if (st == SPLITMOE_ERR_UNSUPPORTED) {
		/* this libruntime has no batched decode yet */
		assert_int_equal(splitmoe_seq_pos(s, 0), 0);
		assert_int_equal(splitmoe_seq_pos(s, 1), -1);
		free(la);
		free(lb);
		splitmoe_session_free(s);
		splitmoe_session_free(alone);
		skip();
	}
	assert_int_equal(st, SPLITMOE_OK);
	assert_true(seq >= 1);
	assert_int_equal(splitmoe_seq_open(s, &(int){ 0 }), SPLITMOE_ERR_BUSY);	/* max_seqs 2 */
	struct splitmoe_batch_item items[2] = {
		{ .seq = 0, .ids = a, .n = 3, .logits = la },
		{ .seq = seq, .ids = b, .n = 2, .logits = lb },
	};

	assert_int_equal(splitmoe_batch(s, items, 2), SPLITMOE_OK);
	assert_int_equal(splitmoe_seq_pos(s, 0), 3);
	assert_int_equal(splitmoe_seq_pos(s, seq), 2);
	items[1].seq = 0;	/* one sequence twice */
	assert_int_equal(splitmoe_batch(s, items, 2), SPLITMOE_ERR_INVALID);
	/* each sequence's logits are what it gives alone */
	assert_int_equal(splitmoe_prefill(alone, b, 2), SPLITMOE_OK);
	for (int i = 0; i < 512; i++)
		assert_true(fabsf(lb[i] - splitmoe_logits(alone)[i]) <= 1e-3f * (1 + fabsf(lb[i])));
	splitmoe_seq_close(s, seq);
	assert_int_equal(splitmoe_seq_pos(s, seq), -1);
	free(la);
	free(lb);
	splitmoe_session_free(s);
	splitmoe_session_free(alone);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_status_text),
		cmocka_unit_test(t_model_load_errors),
		cmocka_unit_test(t_vocab_only),
		cmocka_unit_test(t_model_facts),
		cmocka_unit_test(t_tokens),
		cmocka_unit_test(t_session_errors),
		cmocka_unit_test(t_generate_and_stats),
		cmocka_unit_test(t_gpu_fallback_note),
		cmocka_unit_test(t_batch),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: test_api FIXTURE_DIR\n");
		return 2;
	}
	fixture = argv[1];
	unsetenv("ZE_ENABLE_ALT_DRIVERS");
	return cmocka_run_group_tests_name("public API (libsplitmoe)", tests, load_model, free_model);
}
