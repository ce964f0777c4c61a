// SPDX-License-Identifier: MIT
/*
 * The public API's configuration, report and system calls (their
 * section of include/splitmoe.h) on fixture A, under ASan and UBSan:
 * option names, the YAML configuration and the session parameters it
 * gives, the new session parameters' checks, the model's and session's
 * reports, every position's logits, the machine's figures, chat text.
 *   test_api_core FIXTURE_DIR
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "splitmoe.h"
#include "tests/examples/fixture_model.h"

static splitmoe_session *cpu_session(void)
{
	struct splitmoe_session_params p = splitmoe_session_default_params();
	splitmoe_session *s = NULL;
	char err[512];

	p.max_seq = 16;
	p.arbiter = SPLITMOE_ARBITER_PROCESS;
	assert_int_equal(splitmoe_session_create(model, &p, &s, err, sizeof(err)), SPLITMOE_OK);
	return s;
}

/* A YAML file in /tmp with text; its path in path. */
static void write_yaml(char *path, size_t len, const char *text)
{
	FILE *f;

	snprintf(path, len, "/tmp/test_api_core.%ld.yaml", (long)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void t_option_names(void **state)
{
	static const struct {
		splitmoe_option opt;
		int value;
		const char *name;
	} cases[] = {
		{ SPLITMOE_OPTION_DEVICE, SPLITMOE_DEVICE_SPLIT, "split" },
		{ SPLITMOE_OPTION_SPLIT_MODE, SPLITMOE_SPLIT_EXPERT_PARALLEL, "expert-parallel" },
		{ SPLITMOE_OPTION_COMPUTE, SPLITMOE_COMPUTE_BF16, "bf16" },
		{ SPLITMOE_OPTION_WEIGHTS, SPLITMOE_WEIGHTS_MAPPED, "mapped" },
		{ SPLITMOE_OPTION_QUANT, SPLITMOE_QUANT_AUTO, "auto" },
		{ SPLITMOE_OPTION_QUANT, SPLITMOE_QUANT_NONE, "none" },
		{ SPLITMOE_OPTION_QUANT, SPLITMOE_QUANT_Q4, "q4" },
		{ SPLITMOE_OPTION_ARBITER, SPLITMOE_ARBITER_OFF, "off" },
	};
	char list[128];
	int v;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_string_equal(splitmoe_option_name(cases[i].opt, cases[i].value), cases[i].name);
		v = -1;
		assert_int_equal(splitmoe_option_parse(cases[i].opt, cases[i].name, &v), SPLITMOE_OK);
		assert_int_equal(v, cases[i].value);
	}
	assert_int_equal(splitmoe_option_parse(SPLITMOE_OPTION_COMPUTE, "f64", &v), SPLITMOE_ERR_INVALID);
	assert_int_equal(splitmoe_option_parse(SPLITMOE_OPTION_DEVICE, NULL, &v), SPLITMOE_ERR_INVALID);
	assert_string_equal(splitmoe_option_name(SPLITMOE_OPTION_DEVICE, 7), "?");
	assert_string_equal(splitmoe_option_name(SPLITMOE_OPTION_DEVICE, -1), "?");
	splitmoe_option_list(SPLITMOE_OPTION_COMPUTE, "|", list, sizeof(list));
	assert_string_equal(list, "auto|f32|bf16");
}

static void t_config(void **state)
{
	struct splitmoe_session_params p;
	splitmoe_config *c = NULL;
	char err[512], path[128];

	(void)state;
	assert_int_equal(splitmoe_config_create(&c), SPLITMOE_OK);
	/* the defaults: an empty file's */
	assert_string_equal(splitmoe_config_model(c), "");
	splitmoe_config_session_params(c, &p);
	assert_int_equal(p.device, SPLITMOE_DEVICE_CPU);
	assert_int_equal(p.quant, SPLITMOE_QUANT_AUTO);
	assert_int_equal(p.arbiter, SPLITMOE_ARBITER_AUTO);
	assert_string_equal(p.arbiter_dev, "/dev/bwarb");
	assert_int_equal(p.cpu_weight, 100);
	assert_int_equal(p.arbiter_capacity_mbps, 0);
	assert_string_equal(splitmoe_config_split_rules(c), "attention=cpu,router=cpu,experts=gpu");
	assert_int_equal(p.n_split_rules, 3);
	assert_int_equal(p.split_rules[2].stage, SPLITMOE_STAGE_EXPERTS);
	assert_int_equal(p.split_rules[2].device, SPLITMOE_DEVICE_GPU);
	assert_int_equal(p.split_rules[0].device, SPLITMOE_DEVICE_CPU);

	/* a flag over it, checked as the file's key */
	assert_int_equal(splitmoe_config_set(c, "device", "split", err, sizeof(err)), SPLITMOE_OK);
	assert_int_equal(splitmoe_config_set(c, "split.rules", "experts[1-1]=gpu", err, sizeof(err)),
			 SPLITMOE_OK);
	assert_int_equal(splitmoe_config_set(c, "threads", "3", err, sizeof(err)), SPLITMOE_OK);
	splitmoe_config_session_params(c, &p);
	assert_int_equal(p.device, SPLITMOE_DEVICE_SPLIT);
	assert_int_equal(p.threads, 3);
	assert_int_equal(p.n_split_rules, 1);
	assert_int_equal(p.split_rules[0].layer_lo, 1);
	assert_int_equal(p.split_rules[0].layer_hi, 1);
	err[0] = '\0';
	assert_int_equal(splitmoe_config_set(c, "device", "tpu", err, sizeof(err)), SPLITMOE_ERR_INVALID);
	assert_non_null(strstr(err, "device"));
	assert_int_equal(splitmoe_config_set(c, "no.such", "1", err, sizeof(err)), SPLITMOE_ERR_INVALID);
	assert_non_null(strstr(err, "no.such"));

	/* a file over it: its keys only; auto bus figures */
	write_yaml(path, sizeof(path), "model: /m\narbiter:\n  backend: process\n"
		   "  capacity_mbps: auto\n  cpu:\n    weight: 7\n");
	assert_int_equal(splitmoe_config_load(c, path, err, sizeof(err)), SPLITMOE_OK);
	splitmoe_config_session_params(c, &p);
	assert_string_equal(splitmoe_config_model(c), "/m");
	assert_int_equal(p.arbiter, SPLITMOE_ARBITER_PROCESS);
	assert_true(p.arbiter_capacity_mbps == SPLITMOE_MBPS_AUTO);
	assert_int_equal(p.cpu_weight, 7);
	assert_int_equal(p.device, SPLITMOE_DEVICE_SPLIT);	/* kept */
	/* a bad file changes nothing and names file and line */
	write_yaml(path, sizeof(path), "threads: 1\nquant: q9\n");
	assert_int_equal(splitmoe_config_load(c, path, err, sizeof(err)), SPLITMOE_ERR_INVALID);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, ":2:"));
	splitmoe_config_session_params(c, &p);
	assert_int_equal(p.threads, 3);
	unlink(path);
	assert_int_equal(splitmoe_config_load(c, path, err, sizeof(err)), SPLITMOE_ERR_INVALID);
	splitmoe_config_free(c);
	splitmoe_config_free(NULL);
}

static void t_session_params_checked(void **state)
{
	struct splitmoe_session_params p = splitmoe_session_default_params();
	splitmoe_session *s = NULL;
	char err[512];

	(void)state;
	p.arbiter = SPLITMOE_ARBITER_PROCESS;
	p.arbiter_capacity_mbps = SPLITMOE_MBPS_AUTO;
	assert_int_equal(splitmoe_session_create(model, &p, &s, err, sizeof(err)),
			 SPLITMOE_ERR_INVALID);
	assert_null(s);
	assert_non_null(strstr(err, "splitmoe_bwcal_measure"));
	p.arbiter_capacity_mbps = 0;
	p.n_split_rules = SPLITMOE_SPLIT_MAX_RULES + 1;
	assert_int_equal(splitmoe_session_create(model, &p, &s, err, sizeof(err)),
			 SPLITMOE_ERR_INVALID);
	p.n_split_rules = 1;
	p.split_rules[0] = (struct splitmoe_split_rule){ SPLITMOE_STAGE_EXPERTS, 2, 1,
							 SPLITMOE_DEVICE_GPU };
	assert_int_equal(splitmoe_session_create(model, &p, &s, err, sizeof(err)),
			 SPLITMOE_ERR_INVALID);
	p.n_split_rules = 0;
	p.quant = (splitmoe_quant)(SPLITMOE_QUANT_AUTO + 1);
	assert_int_equal(splitmoe_session_create(model, &p, &s, err, sizeof(err)),
			 SPLITMOE_ERR_INVALID);
	/* an arbiter that cannot open: the error names it */
	p = splitmoe_session_default_params();
	p.arbiter = SPLITMOE_ARBITER_KERNEL;
	p.arbiter_dev = "/nonexistent/bwarb";
	assert_int_equal(splitmoe_session_create(model, &p, &s, err, sizeof(err)),
			 SPLITMOE_ERR_ARBITER);
	assert_true(!strncmp(err, "arbiter kernel: ", 16));
}

static void t_quant_resolve(void **state)
{
	struct splitmoe_session_params p = splitmoe_session_default_params();
	struct splitmoe_session_info si;
	struct splitmoe_cpu_info ci;
	splitmoe_session *s = NULL;
	char err[512];

	(void)state;
	splitmoe_cpu_info(&ci);
	/* a bf16 checkpoint on the CPU: what the CPU calls for */
	assert_int_equal(splitmoe_quant_resolve(model, SPLITMOE_DEVICE_CPU, SPLITMOE_QUANT_AUTO),
			 ci.quant_default);
	assert_int_equal(splitmoe_quant_resolve(model, SPLITMOE_DEVICE_GPU, SPLITMOE_QUANT_AUTO),
			 SPLITMOE_QUANT_NONE);
	assert_int_equal(splitmoe_quant_resolve(model, SPLITMOE_DEVICE_GPU, SPLITMOE_QUANT_Q4),
			 SPLITMOE_QUANT_Q4);
	p.quant = SPLITMOE_QUANT_AUTO;
	p.weights = SPLITMOE_WEIGHTS_PACKED;
	p.arbiter = SPLITMOE_ARBITER_OFF;
	assert_int_equal(splitmoe_session_create(model, &p, &s, err, sizeof(err)), SPLITMOE_OK);
	splitmoe_session_info(s, &si);
	assert_int_equal(si.quant, ci.quant_default);
	assert_int_equal(si.weights, SPLITMOE_WEIGHTS_PACKED);
	assert_int_equal(si.arbiter, SPLITMOE_ARBITER_OFF);
	assert_true(si.cpu_weight_bytes > 0);		/* packed */
	splitmoe_session_free(s);
}

static void t_model_reports(void **state)
{
	struct splitmoe_model_info mi;
	struct splitmoe_token_bytes bf16, f32, q8;

	(void)state;
	splitmoe_model_info(model, &mi);
	assert_string_equal(mi.dir, fixture);
	assert_int_equal(mi.layers, splitmoe_model_layers(model));
	assert_int_equal(mi.vocab, splitmoe_model_vocab(model));
	assert_int_equal(mi.experts, splitmoe_model_experts(model));
	assert_int_equal(mi.experts_per_token, splitmoe_model_experts_per_token(model));
	assert_int_equal(mi.max_positions, splitmoe_model_max_positions(model));
	assert_true(mi.bytes == splitmoe_model_bytes(model));
	assert_true(mi.params == splitmoe_model_params_count(model));
	assert_string_equal(mi.storage_dtype, "bf16");
	assert_int_equal(mi.storage_compute, SPLITMOE_COMPUTE_BF16);
	assert_int_equal(mi.file_quant, SPLITMOE_QUANT_NONE);
	assert_true(mi.expert_params > 0 && mi.expert_params < mi.params);
	assert_true(mi.active_bytes_per_token > 0 && mi.active_bytes_per_token < mi.bytes);

	splitmoe_model_token_bytes(model, SPLITMOE_COMPUTE_BF16, SPLITMOE_QUANT_NONE, &bf16);
	splitmoe_model_token_bytes(model, SPLITMOE_COMPUTE_F32, SPLITMOE_QUANT_NONE, &f32);
	splitmoe_model_token_bytes(model, SPLITMOE_COMPUTE_BF16, SPLITMOE_QUANT_INT8, &q8);
	assert_int_equal(bf16.layers, mi.layers);
	assert_int_equal(bf16.top_k, mi.experts_per_token);
	assert_true(bf16.expert > 0 && bf16.dense > bf16.head && bf16.head > 0);
	assert_true(f32.expert == 2 * bf16.expert);	/* 4 bytes a weight against 2 */
	assert_true(q8.expert < bf16.expert);
	assert_true(splitmoe_token_bytes_decode(&bf16) ==
		    bf16.dense + bf16.layers * bf16.top_k * bf16.expert + bf16.embed_row);
	assert_true(splitmoe_compute_default() == SPLITMOE_COMPUTE_F32 ||
		    splitmoe_compute_default() == SPLITMOE_COMPUTE_BF16);
}

static void t_session_reports(void **state)
{
	splitmoe_session *s = cpu_session();
	struct splitmoe_arb_client_stats cpu;
	struct splitmoe_session_info si;
	struct splitmoe_gpu_profile gp;
	const int32_t ids[] = { 1, 2, 3 };

	(void)state;
	assert_non_null(splitmoe_session_arb_client(s));
	splitmoe_arb_client_stats(splitmoe_session_arb_client(s), &cpu);
	assert_int_equal(cpu.acquires, 0);
	assert_int_equal(splitmoe_prefill(s, ids, 3), SPLITMOE_OK);
	splitmoe_arb_client_stats(splitmoe_session_arb_client(s), &cpu);
	assert_true(cpu.acquires > 0 && cpu.completes == cpu.acquires && cpu.granted_bytes > 0);
	assert_null(splitmoe_session_gpu_arb_client(s));
	splitmoe_session_info(s, &si);
	assert_int_equal(si.running, SPLITMOE_DEVICE_CPU);
	assert_int_equal(si.arbiter, SPLITMOE_ARBITER_PROCESS);
	assert_int_equal(si.compute, splitmoe_session_compute(s));
	assert_false(si.gpu);
	assert_int_equal(si.gpu_weight_bytes, 0);
	assert_true(si.cpu_weight_bytes + si.mapped_weight_bytes > 0);
	assert_false(splitmoe_session_gpu_profile(s, &gp));
	assert_int_equal(gp.launches, 0);
	splitmoe_session_free(s);
}

static void t_prefill_every_position(void **state)
{
	splitmoe_session *s = cpu_session();
	const int32_t ids[] = { 1, 5, 9, 13 };
	int v = splitmoe_model_vocab(model), L = splitmoe_model_layers(model);
	int k = splitmoe_model_experts_per_token(model);
	float *all = malloc(4 * (size_t)v * sizeof(float));
	int32_t *experts = malloc((size_t)L * 4 * (size_t)k * sizeof(int32_t));
	struct splitmoe_prefill_out out = { .logits = all, .experts = experts };

	(void)state;
	assert_non_null(all);
	assert_non_null(experts);
	assert_int_equal(splitmoe_prefill_ex(s, ids, 0, &out), SPLITMOE_ERR_INVALID);
	assert_int_equal(splitmoe_prefill_ex(s, ids, 4, &out), SPLITMOE_OK);
	assert_memory_equal(all + 3 * (size_t)v, splitmoe_logits(s), (size_t)v * sizeof(float));
	for (int i = 0; i < L * 4 * k; i++)
		assert_in_range(experts[i], 0, splitmoe_model_experts(model) - 1);
	assert_int_equal(splitmoe_session_pos(s), 4);
	assert_int_equal(splitmoe_prefill_ex(s, ids, 1, NULL), SPLITMOE_OK);
	assert_int_equal(splitmoe_session_pos(s), 5);
	free(all);
	free(experts);
	splitmoe_session_free(s);
}

static void t_system(void **state)
{
	struct splitmoe_cpu_info ci;
	struct splitmoe_memory mem;
	splitmoe_arbiter in_use = SPLITMOE_ARBITER_AUTO;
	char err[512], small[5];
	long len;

	(void)state;
	splitmoe_cpu_info(&ci);
	assert_true(ci.vendor[0] != '\0');
	assert_true(ci.kernels[0] != '\0' && ci.int8_kernel[0] != '\0' && ci.onednn_isa[0]);
	assert_true(ci.onednn_major >= 1);
	assert_int_equal(splitmoe_memory_usage(&mem), SPLITMOE_OK);
	assert_true(mem.rss > 0 && mem.peak >= mem.rss && mem.rss_file + mem.rss_anon <= mem.rss);
	len = splitmoe_gpu_describe(NULL, 0);
	assert_true(len > 0);
	assert_int_equal(splitmoe_gpu_describe(small, sizeof(small)), len);
	assert_int_equal(strlen(small), 4);
	assert_string_equal(small, "DRM ");
	assert_int_equal(splitmoe_arbiter_probe(SPLITMOE_ARBITER_PROCESS, NULL, &in_use, err,
						sizeof(err)), SPLITMOE_OK);
	assert_int_equal(in_use, SPLITMOE_ARBITER_PROCESS);
	err[0] = '\0';
	assert_int_equal(splitmoe_arbiter_probe(SPLITMOE_ARBITER_KERNEL, "/nonexistent/bwarb",
						&in_use, err, sizeof(err)), SPLITMOE_ERR_ARBITER);
	assert_true(err[0] != '\0');
	assert_int_equal(splitmoe_arbiter_probe((splitmoe_arbiter)9, NULL, &in_use, err,
						sizeof(err)), SPLITMOE_ERR_INVALID);
}

static void t_chat_and_text(void **state)
{
	const struct splitmoe_chat_msg msgs[] = {
		{ SPLITMOE_ROLE_SYSTEM, "Be brief." }, { SPLITMOE_ROLE_USER, "Hi" },
	};
	const char *want = "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\n";
	struct splitmoe_chat_msg bad = { (splitmoe_chat_role)7, "x" };
	splitmoe_chat_role r;
	char buf[128], tiny[8];
	int32_t ids[64];
	size_t n, used = 99;

	(void)state;
	assert_int_equal(splitmoe_chat_render(msgs, 2, true, buf, sizeof(buf)), (long)strlen(want));
	assert_string_equal(buf, want);
	assert_int_equal(splitmoe_chat_render(msgs + 1, 1, false, tiny, sizeof(tiny)),
			 (long)strlen("<|user|>\nHi<|end|>\n"));
	assert_string_equal(tiny, "<|user|");
	assert_int_equal(splitmoe_chat_render(&bad, 1, true, buf, sizeof(buf)), -1);
	assert_int_equal(splitmoe_chat_role_parse("assistant", &r), SPLITMOE_OK);
	assert_int_equal(r, SPLITMOE_ROLE_ASSISTANT);
	assert_int_equal(splitmoe_chat_role_parse("tool", &r), SPLITMOE_ERR_INVALID);
	assert_true(splitmoe_utf8_valid("h\xc3\xa9", 3, &used));
	assert_int_equal(used, 3);
	assert_false(splitmoe_utf8_valid("ab\xff", 3, &used));
	assert_int_equal(used, 2);
	/* the tokenizer's BOS: first exactly when it adds one */
	assert_int_equal(splitmoe_tokenize(model, "Hi", ids, 64, &n), SPLITMOE_OK);
	assert_true(n > 0);
	assert_int_equal(splitmoe_token_adds_bos(model), ids[0] == splitmoe_token_bos(model));
	assert_true(splitmoe_token_adds_bos(model));	/* fixture A: add_bos_token true */
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_option_names),
		cmocka_unit_test(t_config),
		cmocka_unit_test(t_session_params_checked),
		cmocka_unit_test(t_quant_resolve),
		cmocka_unit_test(t_model_reports),
		cmocka_unit_test(t_session_reports),
		cmocka_unit_test(t_prefill_every_position),
		cmocka_unit_test(t_system),
		cmocka_unit_test(t_chat_and_text),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: test_api_core FIXTURE_DIR\n");
		return 2;
	}
	fixture = argv[1];
	unsetenv("ZE_ENABLE_ALT_DRIVERS");
	return cmocka_run_group_tests_name("public API: configuration, reports, system",
					   tests, load_model, free_model);
}
