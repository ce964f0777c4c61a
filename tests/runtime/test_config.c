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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/config_yaml.h"

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
	assert_string_equal(c.dtype, "auto");
	assert_string_equal(c.device, "cpu");
	assert_string_equal(c.arbiter, "auto");
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
	assert_string_equal(c.arbiter, "auto");
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
	assert_string_equal(c.dtype, "bf16");
	assert_string_equal(c.arbiter, "process");
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
	assert_string_equal(c.dtype, "auto");	/* untouched */
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
	assert_string_equal(c.arbiter, "off");
	assert_int_equal(sm_config_set(&c, "dtype", "f64", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "key 'dtype': bad value 'f64'"));
	assert_string_equal(c.dtype, "auto");
	assert_int_equal(sm_config_set(&c, "nope", "1", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown key 'nope'");
	assert_int_equal(sm_config_set(&c, "threads", "", err, sizeof(err)), -1);
	assert_int_equal(sm_config_set(&c, "threads", "4x", err, sizeof(err)), -1);
	assert_int_equal(c.threads, 8);
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
	};

	if (argc != 3) {
		fprintf(stderr, "usage: %s SHIPPED_YAML SCRATCH_DIR\n", argv[0]);
		return 2;
	}
	shipped = argv[1];
	scratch = argv[2];
	return cmocka_run_group_tests_name("runtime-config", tests, NULL, NULL);
}
