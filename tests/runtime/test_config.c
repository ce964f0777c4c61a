// SPDX-License-Identifier: MIT
/*
 * YAML configuration tests. argv[1]: configs/splitmoe.yaml, argv[2]: a
 * scratch directory for the files written here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_yaml.h"

static const char *shipped, *scratch;

static const char *write_yaml(const char *name, const char *text)
{
	static char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", scratch, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void t_defaults(void **state)
{
	struct sm_config c;

	(void)state;
	sm_config_defaults(&c);
	assert_string_equal(c.model, "");
	assert_int_equal(c.threads, 0);
	assert_int_equal(c.dtype, SM_COMPUTE_AUTO);
	assert_int_equal(c.device, SM_DEVICE_CPU);
	assert_int_equal(c.arbiter, SM_ARB_AUTO);
	assert_string_equal(c.arbiter_dev, "/dev/bwarb");
	assert_int_equal(c.cpu_reserve_mbps, 0);
	assert_int_equal(c.cpu_weight, 100);
}

static void t_shipped_file(void **state)
{
	struct sm_config c;
	char err[512];

	(void)state;
	sm_config_defaults(&c);
	if (sm_config_load(shipped, &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(c.model, "tests/fixtures/phimoe-tiny-a");
	assert_int_equal(c.arbiter, SM_ARB_AUTO);
	assert_int_equal(c.cpu_reserve_mbps, 20000);
	assert_int_equal(c.cpu_weight, 100);
}

static void t_all_keys(void **state)
{
	struct sm_config c;
	char err[512];
	const char *p = write_yaml("all.yaml",
				   "model: /models/phi\n"
				   "threads: 6\n"
				   "dtype: bf16\n"
				   "device: cpu\n"
				   "arbiter:\n"
				   "  backend: process\n"
				   "  device: /dev/bwarb1\n"
				   "  cpu: {reserve_mbps: 12345, weight: 7}\n");

	(void)state;
	sm_config_defaults(&c);
	if (sm_config_load(p, &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_string_equal(c.model, "/models/phi");
	assert_int_equal(c.threads, 6);
	assert_int_equal(c.dtype, SM_COMPUTE_BF16);
	assert_int_equal(c.arbiter, SM_ARB_PROCESS);
	assert_string_equal(c.arbiter_dev, "/dev/bwarb1");
	assert_int_equal(c.cpu_reserve_mbps, 12345);
	assert_int_equal(c.cpu_weight, 7);
}

static void t_partial_and_empty(void **state)
{
	struct sm_config c;
	char err[512];

	(void)state;
	sm_config_defaults(&c);
	assert_int_equal(sm_config_load(write_yaml("empty.yaml", ""), &c, err, sizeof(err)), 0);
	assert_int_equal(sm_config_load(write_yaml("comment.yaml", "# nothing\n"), &c, err,
					sizeof(err)), 0);
	assert_int_equal(sm_config_load(write_yaml("part.yaml", "threads: 3\n"), &c, err,
					sizeof(err)), 0);
	assert_int_equal(c.threads, 3);
	assert_int_equal(c.dtype, SM_COMPUTE_AUTO);	/* untouched */
}

/* Each bad file: -1, "FILE:LINE: ..." naming the key, config unchanged. */
static void expect_error(const char *name, const char *text, int line, const char *what)
{
	struct sm_config c, before;
	char err[512] = "", want[4300];
	const char *p = write_yaml(name, text);

	sm_config_defaults(&c);
	before = c;
	assert_int_equal(sm_config_load(p, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:%d: ", p, line);
	if (strncmp(err, want, strlen(want)) || !strstr(err, what) || strchr(err, '\n'))
		fail_msg("%s: got \"%s\", want \"%s...%s\"", name, err, want, what);
	assert_memory_equal(&c, &before, sizeof(c));
}

static void t_unknown_keys(void **state)
{
	(void)state;
	expect_error("unknown.yaml", "threads: 2\nthreadz: 2\n", 2, "unknown key 'threadz'");
	expect_error("unknown_nested.yaml", "arbiter:\n  cpu:\n    reserve_mbs: 5\n", 3,
		     "unknown key 'arbiter.cpu.reserve_mbs'");
	expect_error("unknown_section.yaml", "tpu:\n  weight: 1\n", 1, "unknown key 'tpu'");
	expect_error("section_as_scalar.yaml", "arbiter: kernel\n", 1,
		     "unknown key 'arbiter' (a section: expected a mapping)");
	expect_error("scalar_as_section.yaml", "threads:\n  n: 1\n", 1,
		     "unknown key 'threads' (a scalar, not a mapping)");
}

static void t_bad_values(void **state)
{
	(void)state;
	expect_error("threads.yaml", "threads: many\n", 1, "key 'threads': bad value 'many'");
	expect_error("threads_neg.yaml", "threads: -1\n", 1, "key 'threads': bad value '-1'");
	expect_error("dtype.yaml", "dtype: fp8\n", 1, "key 'dtype': bad value 'fp8' (want auto|f32|bf16)");
	expect_error("backend.yaml", "arbiter:\n  backend: magic\n", 2,
		     "key 'arbiter.backend': bad value 'magic' (want auto|kernel|process|off)");
	expect_error("weight.yaml", "arbiter:\n  cpu:\n    weight: 0\n", 3,
		     "key 'arbiter.cpu.weight': bad value '0'");
	expect_error("reserve.yaml", "arbiter:\n  cpu:\n    reserve_mbps: -5\n", 3,
		     "key 'arbiter.cpu.reserve_mbps': bad value '-5'");
	expect_error("list.yaml", "model:\n  - a\n  - b\n", 2, "lists are not used");
	expect_error("syntax.yaml", "threads: 2\ndtype: f32: x\n", 2, "YAML syntax error");
	expect_error("top_scalar.yaml", "just text\n", 1, "expected a mapping");
}

static void t_missing_file(void **state)
{
	struct sm_config c;
	char err[512];

	(void)state;
	sm_config_defaults(&c);
	assert_int_equal(sm_config_load("/nonexistent.yaml", &c, err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent.yaml: No such file or directory");
}

/* CLI flags go through sm_config_set, validated like the file. */
static void t_set(void **state)
{
	struct sm_config c;
	char err[512];

	(void)state;
	sm_config_defaults(&c);
	assert_int_equal(sm_config_set(&c, "threads", "8", err, sizeof(err)), 0);
	assert_int_equal(c.threads, 8);
	assert_int_equal(sm_config_set(&c, "arbiter.backend", "off", err, sizeof(err)), 0);
	assert_int_equal(c.arbiter, SM_ARB_OFF);
	assert_int_equal(sm_config_set(&c, "dtype", "f64", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "key 'dtype': bad value 'f64'"));
	assert_int_equal(c.dtype, SM_COMPUTE_AUTO);
	assert_int_equal(sm_config_set(&c, "nope", "1", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown key 'nope'");
	assert_int_equal(sm_config_set(&c, "threads", "", err, sizeof(err)), -1);
	assert_int_equal(sm_config_set(&c, "threads", "4x", err, sizeof(err)), -1);
	assert_int_equal(c.threads, 8);
}

/* Names become enums once, here: every option's names, the split rules. */
static void t_typed(void **state)
{
	static const struct { const char *key, *value; size_t off; int want; } cases[] = {
		{ "dtype", "f32", offsetof(struct sm_config, dtype), SM_COMPUTE_F32 },
		{ "weights", "mapped", offsetof(struct sm_config, weights), SM_WEIGHTS_MAPPED },
		{ "weights", "packed", offsetof(struct sm_config, weights), SM_WEIGHTS_PACKED },
		{ "quant", "int8", offsetof(struct sm_config, quant), SM_QUANT_INT8 },
		{ "quant", "q4", offsetof(struct sm_config, quant), SM_QUANT_Q4 },
		{ "quant", "none", offsetof(struct sm_config, quant), SM_QUANT_NONE },
		{ "quant", "auto", offsetof(struct sm_config, quant), SM_QUANT_AUTO },
		{ "device", "split", offsetof(struct sm_config, device), SM_DEVICE_SPLIT },
		{ "device", "gpu", offsetof(struct sm_config, device), SM_DEVICE_GPU },
		{ "arbiter.backend", "kernel", offsetof(struct sm_config, arbiter), SM_ARB_KERNEL },
		{ "split.mode", "dynamic", offsetof(struct sm_config, split.mode), SM_SPLIT_DYNAMIC },
		{ "split.mode", "expert-parallel", offsetof(struct sm_config, split.mode),
		  SM_SPLIT_EXPERT_PARALLEL },
	};
	const struct sm_option *opts[] = {
		&sm_opt_compute, &sm_opt_weights, &sm_opt_quant, &sm_opt_quant_format,
		&sm_opt_device, &sm_opt_arbiter, &sm_opt_split_mode, &sm_opt_stage,
		&sm_opt_split_device,
	};
	struct sm_config c;
	char err[512];
	int v;

	(void)state;
	sm_config_defaults(&c);
	assert_int_equal(c.weights, SM_WEIGHTS_AUTO);
	assert_int_equal(c.quant, SM_QUANT_AUTO);
	assert_int_equal(c.split.mode, SM_SPLIT_PARTITION);
	/* the default rules: attention=cpu,router=cpu,experts=gpu */
	assert_int_equal(c.split.n_rules, 3);
	assert_int_equal(c.split.rules[2].stage, SM_STAGE_EXPERTS);
	assert_int_equal(c.split.rules[2].dev, SM_DEV_GPU);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got;

		if (sm_config_set(&c, cases[i].key, cases[i].value, err, sizeof(err)))
			fail_msg("%s: %s", cases[i].key, err);
		memcpy(&got, (char *)&c + cases[i].off, sizeof(got));
		assert_int_equal(got, cases[i].want);
	}
	/* every name reads back to its value and no other */
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		for (size_t j = 0; j < opts[i]->n; j++) {
			assert_int_equal(sm_option_parse(opts[i], opts[i]->names[j].name, &v), 0);
			assert_int_equal(v, opts[i]->names[j].value);
			assert_string_equal(sm_option_name(opts[i], v), opts[i]->names[j].name);
		}
		assert_int_equal(sm_option_parse(opts[i], "AUTO", &v), -EINVAL);
		assert_int_equal(sm_option_parse(opts[i], NULL, &v), -EINVAL);
	}
	assert_int_equal(sm_quant_parse("auto", (enum sm_quant *)&v), -EINVAL);	/* no format */
	assert_string_equal(sm_quant_name(SM_QUANT_AUTO), "auto");
	assert_int_equal(sm_config_set(&c, "weights", "borrowed", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "key 'weights': bad value 'borrowed' (want auto|mapped|packed)"));
	assert_int_equal(c.weights, SM_WEIGHTS_PACKED);

	assert_int_equal(sm_config_set(&c, "split.rules", "experts[4-7]=gpu,head=gpu", err,
				       sizeof(err)), 0);
	assert_string_equal(c.split_rules, "experts[4-7]=gpu,head=gpu");
	assert_int_equal(c.split.mode, SM_SPLIT_EXPERT_PARALLEL);	/* kept */
	assert_int_equal(c.split.n_rules, 2);
	assert_int_equal(c.split.rules[0].layer_lo, 4);
	assert_int_equal(c.split.rules[0].layer_hi, 7);
	assert_int_equal(c.split.rules[1].stage, SM_STAGE_HEAD);
	assert_int_equal(sm_config_set(&c, "split.rules", "attention=tpu", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "key 'split.rules': split rule 'attention=tpu'"));
	assert_string_equal(c.split_rules, "experts[4-7]=gpu,head=gpu");	/* unchanged */
	assert_int_equal(c.split.n_rules, 2);
	expect_error("rules.yaml", "split:\n  rules: router=cpu,experts[0-x]=gpu\n", 2,
		     "key 'split.rules': split rule 'experts[0-x]=gpu'");
}

/* arbiter.capacity_mbps / guaranteed_mbps: a number, or auto. */
static void t_bus_auto(void **state)
{
	struct sm_config c;
	char err[512];

	(void)state;
	sm_config_defaults(&c);
	assert_true(c.arb_capacity_mbps == 0 && c.arb_guaranteed_mbps == 0);
	assert_int_equal(sm_config_set(&c, "arbiter.capacity_mbps", "auto", err, sizeof(err)), 0);
	assert_true(c.arb_capacity_mbps == SM_CONFIG_AUTO);
	assert_int_equal(sm_config_set(&c, "arbiter.guaranteed_mbps", "45000", err, sizeof(err)), 0);
	assert_true(c.arb_guaranteed_mbps == 45000);
	assert_int_equal(sm_config_set(&c, "arbiter.capacity_mbps", "Auto", err, sizeof(err)), -1);
	assert_string_equal(err, "key 'arbiter.capacity_mbps': bad value 'Auto' (want auto or an integer in [0, 10000000])");
	assert_int_equal(sm_config_set(&c, "arbiter.capacity_mbps", "-1", err, sizeof(err)), -1);
	assert_int_equal(sm_config_set(&c, "arbiter.capacity_mbps", "10000001", err, sizeof(err)), -1);
	assert_true(c.arb_capacity_mbps == SM_CONFIG_AUTO);	/* kept */
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_defaults),
		cmocka_unit_test(t_shipped_file),
		cmocka_unit_test(t_all_keys),
		cmocka_unit_test(t_partial_and_empty),
		cmocka_unit_test(t_unknown_keys),
		cmocka_unit_test(t_bad_values),
		cmocka_unit_test(t_missing_file),
		cmocka_unit_test(t_set),
		cmocka_unit_test(t_bus_auto),
		cmocka_unit_test(t_typed),
	};

	if (argc != 3) {
		fprintf(stderr, "usage: %s SHIPPED_YAML SCRATCH_DIR\n", argv[0]);
		return 2;
	}
	shipped = argv[1];
	scratch = argv[2];
	return cmocka_run_group_tests_name("runtime-config", tests, NULL, NULL);
}
