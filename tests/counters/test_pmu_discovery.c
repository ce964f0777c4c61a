// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Unit tests of bwarbctl's PMU discovery: the format/, events/, .scale and
 * cpumask parsers, and discovery over fake sysfs trees (built under
 * build/counters/) shaped like a client chip (uncore_imc_free_running_N), a
 * server (uncore_imc_N), the bwarb test PMU, and broken trees.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "arbiter/pmu_discovery.h"

#define FAKE_ROOT "build/counters/fake-sysfs"

static char tree[512];

/* Creates every missing directory of path and writes text into it. */
static void put(const char *rel, const char *text)
{
	char path[1024], *p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tree, rel);
	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void new_tree(const char *name)
{
	char cmd[1100];

	snprintf(tree, sizeof(tree), "%s/%s", FAKE_ROOT, name);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", tree, tree);
	assert_int_equal(system(cmd), 0);
}

/* A PMU shaped like the client chips' imc free-running counters. */
static void put_client_pmu(const char *name, const char *type, const char *cpus)
{
	char rel[256];

#define PUT(file, text) do { \
		snprintf(rel, sizeof(rel), "%s/%s", name, file); \
		put(rel, text); \
	} while (0)
	PUT("type", type);
	PUT("cpumask", cpus);
	PUT("format/event", "config:0-7\n");
	PUT("format/umask", "config:8-15\n");
	PUT("events/data_read", "event=0xff,umask=0x20\n");
	PUT("events/data_read.scale", "6.103515625e-5\n");
	PUT("events/data_read.unit", "MiB\n");
	PUT("events/data_write", "event=0xff,umask=0x30\n");
	PUT("events/data_write.scale", "6.103515625e-5\n");
	PUT("events/data_write.unit", "MiB\n");
	PUT("events/data_total", "event=0xff,umask=0x10\n");
	PUT("events/data_total.scale", "6.103515625e-5\n");
	PUT("events/data_total.unit", "MiB\n");
#undef PUT
}

static struct pmu_desc two_term_pmu(void)
{
	struct pmu_desc pmu;

	memset(&pmu, 0, sizeof(pmu));
	assert_int_equal(pmu_parse_format("event", "config:0-7\n", &pmu.format[0]), 0);
	assert_int_equal(pmu_parse_format("umask", "config:8-15\n", &pmu.format[1]), 0);
	pmu.nr_formats = 2;
	return pmu;
}

static void test_format_parse(void **state)
{
	struct pmu_format f;

	(void)state;
	assert_int_equal(pmu_parse_format("event", "config:0-7\n", &f), 0);
	assert_int_equal(f.word, 0);
	assert_int_equal(f.nr_ranges, 1);
	assert_int_equal(f.range[0].lo, 0);
	assert_int_equal(f.range[0].hi, 7);

	assert_int_equal(pmu_parse_format("x", "config1:0-3,8-11", &f), 0);
	assert_int_equal(f.word, 1);
	assert_int_equal(f.nr_ranges, 2);
	assert_int_equal(f.range[1].lo, 8);
	assert_int_equal(f.range[1].hi, 11);

	assert_int_equal(pmu_parse_format("edge", "config:63\n", &f), 0);
	assert_int_equal(f.range[0].lo, 63);
	assert_int_equal(f.range[0].hi, 63);
	assert_int_equal(pmu_parse_format("y", "config2:0-63", &f), 0);
	assert_int_equal(f.word, 2);

	assert_int_equal(pmu_parse_format("bad", "conf:0-7", &f), -EINVAL);
	assert_int_equal(pmu_parse_format("bad", "config3:0-7", &f), -EINVAL);
	assert_int_equal(pmu_parse_format("bad", "config:8-7", &f), -EINVAL);
	assert_int_equal(pmu_parse_format("bad", "config:0-64", &f), -EINVAL);
	assert_int_equal(pmu_parse_format("bad", "config:", &f), -EINVAL);
	assert_int_equal(pmu_parse_format("bad", "config:a-b", &f), -EINVAL);
	assert_int_equal(pmu_parse_format("bad", "config:0-7 junk", &f), -EINVAL);
	assert_int_equal(pmu_parse_format("bad", "config:0-7,", &f), -EINVAL);
	assert_int_equal(pmu_parse_format("bad", "0-7", &f), -EINVAL);
}

static void test_format_encode(void **state)
{
	struct pmu_format f;
	uint64_t cfg[3] = { 0, 0, 0 };

	(void)state;
	assert_int_equal(pmu_parse_format("umask", "config:8-15", &f), 0);
	assert_int_equal(pmu_format_encode(&f, 0x20, cfg), 0);
	assert_int_equal(cfg[0], 0x2000);
	assert_int_equal(pmu_format_encode(&f, 0x100, cfg), -ERANGE);

	/* Split fields fill the ranges from the low bits of the value up. */
	memset(cfg, 0, sizeof(cfg));
	assert_int_equal(pmu_parse_format("split", "config1:0-3,8-11", &f), 0);
	assert_int_equal(pmu_format_encode(&f, 0x5a, cfg), 0);
	assert_int_equal(cfg[0], 0);
	assert_int_equal(cfg[1], 0x50a);
	assert_int_equal(pmu_format_encode(&f, 0x100, cfg), -ERANGE);

	memset(cfg, 0, sizeof(cfg));
	assert_int_equal(pmu_parse_format("all", "config2:0-63", &f), 0);
	assert_int_equal(pmu_format_encode(&f, UINT64_MAX, cfg), 0);
	assert_true(cfg[2] == UINT64_MAX);
}

static void test_event_parse(void **state)
{
	struct pmu_desc pmu = two_term_pmu();
	uint64_t cfg[3];
	char err[PMU_ERR_MAX] = "";

	(void)state;
	assert_int_equal(pmu_parse_event(&pmu, "event=0xff,umask=0x20\n", cfg,
					 err, sizeof(err)), 0);
	assert_int_equal(cfg[0], 0x20ff);
	assert_int_equal(pmu_parse_event(&pmu, "umask=0x30,event=255", cfg,
					 err, sizeof(err)), 0);
	assert_int_equal(cfg[0], 0x30ff);
	/* A bare term means 1; raw config terms need no format file. */
	assert_int_equal(pmu_parse_event(&pmu, "event,umask=2", cfg, err,
					 sizeof(err)), 0);
	assert_int_equal(cfg[0], 0x201);
	assert_int_equal(pmu_parse_event(&pmu, "config=0x1234,config1=7", cfg,
					 err, sizeof(err)), 0);
	assert_int_equal(cfg[0], 0x1234);
	assert_int_equal(cfg[1], 7);

	assert_int_equal(pmu_parse_event(&pmu, "event=0xff,foo=1", cfg, err,
					 sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'foo'"));
	assert_int_equal(pmu_parse_event(&pmu, "umask=0x100", cfg, err,
					 sizeof(err)), -ERANGE);
	assert_non_null(strstr(err, "umask"));
	assert_int_equal(pmu_parse_event(&pmu, "event=zz", cfg, err,
					 sizeof(err)), -EINVAL);
	assert_int_equal(pmu_parse_event(&pmu, "event=1,,umask=1", cfg, err,
					 sizeof(err)), -EINVAL);
	assert_int_equal(pmu_parse_event(&pmu, "\n", cfg, err, sizeof(err)),
			 -EINVAL);
}

static void test_scale_parse(void **state)
{
	uint64_t n, d;

	(void)state;
	/* The real IMC counters: one 64-byte line per count, in MiB. */
	assert_int_equal(pmu_parse_scale("6.103515625e-5\n", "MiB\n", &n, &d), 0);
	assert_int_equal(n, 64);
	assert_int_equal(d, 1);
	assert_int_equal(pmu_parse_scale("6.103515625e-5", "MB", &n, &d), 0);
	assert_int_equal(n, 15625);		/* 61.03515625 bytes */
	assert_int_equal(d, 256);
	assert_int_equal(pmu_parse_scale("1", NULL, &n, &d), 0);
	assert_int_equal(n, 1);
	assert_int_equal(d, 1);
	assert_int_equal(pmu_parse_scale("0.5", "B", &n, &d), 0);
	assert_int_equal(n, 1);
	assert_int_equal(d, 2);
	assert_int_equal(pmu_parse_scale("64", "", &n, &d), 0);
	assert_int_equal(n, 64);
	assert_int_equal(pmu_parse_scale("1e3", "KiB", &n, &d), 0);
	assert_int_equal(n, 1024000);
	assert_int_equal(d, 1);
	assert_int_equal(pmu_parse_scale(".25", "GB", &n, &d), 0);
	assert_int_equal(n, 250000000);

	assert_int_equal(pmu_parse_scale("abc", "MiB", &n, &d), -EINVAL);
	assert_int_equal(pmu_parse_scale("0", "MiB", &n, &d), -EINVAL);
	assert_int_equal(pmu_parse_scale("1e", "MiB", &n, &d), -EINVAL);
	assert_int_equal(pmu_parse_scale("1.2.3", "MiB", &n, &d), -EINVAL);
	assert_int_equal(pmu_parse_scale("1", "MiBs", &n, &d), -EINVAL);
	assert_int_equal(pmu_parse_scale("1", "Joules", &n, &d), -EINVAL);
	assert_int_equal(pmu_parse_scale("1e30", "GiB", &n, &d), -ERANGE);
}

static void test_cpumask_parse(void **state)
{
	struct pmu_desc pmu;

	(void)state;
	assert_int_equal(pmu_parse_cpumask("0\n", &pmu), 0);
	assert_int_equal(pmu.first_cpu, 0);
	assert_true(pmu_cpu_in_mask(&pmu, 0));
	assert_false(pmu_cpu_in_mask(&pmu, 1));

	assert_int_equal(pmu_parse_cpumask("8,2-3\n", &pmu), 0);
	assert_int_equal(pmu.first_cpu, 2);
	assert_true(pmu_cpu_in_mask(&pmu, 3));
	assert_true(pmu_cpu_in_mask(&pmu, 8));
	assert_false(pmu_cpu_in_mask(&pmu, 5));
	assert_false(pmu_cpu_in_mask(&pmu, -1));
	assert_false(pmu_cpu_in_mask(&pmu, 99999));

	assert_int_equal(pmu_parse_cpumask("x", &pmu), -EINVAL);
	assert_int_equal(pmu_parse_cpumask("5-2", &pmu), -EINVAL);
	assert_int_equal(pmu_parse_cpumask("4096", &pmu), -EINVAL);
	assert_int_equal(pmu_parse_cpumask("", &pmu), -EINVAL);
	assert_int_equal(pmu_parse_cpumask("1,", &pmu), -EINVAL);
}

static void test_discover_client_chip(void **state)
{
	struct pmu_counter c[8];
	char err[PMU_ERR_MAX] = "";
	size_t n = 0;

	(void)state;
	new_tree("client");
	put_client_pmu("uncore_imc_free_running_1", "15\n", "0\n");
	put_client_pmu("uncore_imc_free_running_0", "14\n", "0\n");
	put("cpu/type", "4\n");
	put("cpu/cpumask", "0-3\n");

	assert_int_equal(pmu_discover(tree, NULL, c, 8, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 4);
	assert_string_equal(c[0].label, "uncore_imc_free_running_0/data_read");
	assert_int_equal(c[0].dir, PMU_DIR_READ);
	assert_int_equal(c[0].type, 14);
	assert_int_equal(c[0].config[0], 0x20ff);
	assert_int_equal(c[0].cpu, 0);
	assert_int_equal(c[0].scale_num, 64);
	assert_int_equal(c[0].scale_den, 1);
	assert_string_equal(c[1].label, "uncore_imc_free_running_0/data_write");
	assert_int_equal(c[1].dir, PMU_DIR_WRITE);
	assert_int_equal(c[1].config[0], 0x30ff);
	assert_string_equal(c[2].label, "uncore_imc_free_running_1/data_read");
	assert_int_equal(c[2].type, 15);

	/* Not enough room: an error, not a silent truncation. */
	assert_int_equal(pmu_discover(tree, NULL, c, 3, &n, err, sizeof(err)),
			 -E2BIG);
	assert_int_equal(n, 0);
}

static void test_discover_server(void **state)
{
	struct pmu_counter c[8];
	char err[PMU_ERR_MAX] = "";
	size_t n = 0;
	char rel[64];
	int i;

	(void)state;
	new_tree("server");
	for (i = 0; i < 3; i++) {
		snprintf(rel, sizeof(rel), "uncore_imc_%d/type", i);
		put(rel, i == 0 ? "20\n" : i == 1 ? "21\n" : "22\n");
		snprintf(rel, sizeof(rel), "uncore_imc_%d/cpumask", i);
		put(rel, "0,18\n");
		snprintf(rel, sizeof(rel), "uncore_imc_%d/format/event", i);
		put(rel, "config:0-7\n");
		snprintf(rel, sizeof(rel), "uncore_imc_%d/format/umask", i);
		put(rel, "config:8-15\n");
		snprintf(rel, sizeof(rel), "uncore_imc_%d/events/cas_count_read", i);
		put(rel, "event=0x04,umask=0x0f\n");
		snprintf(rel, sizeof(rel), "uncore_imc_%d/events/cas_count_read.scale", i);
		put(rel, "6.103515625e-5\n");
		snprintf(rel, sizeof(rel), "uncore_imc_%d/events/cas_count_read.unit", i);
		put(rel, "MiB\n");
		snprintf(rel, sizeof(rel), "uncore_imc_%d/events/cas_count_write", i);
		put(rel, "event=0x04,umask=0x30\n");
		snprintf(rel, sizeof(rel), "uncore_imc_%d/events/cas_count_write.scale", i);
		put(rel, "6.103515625e-5\n");
		snprintf(rel, sizeof(rel), "uncore_imc_%d/events/cas_count_write.unit", i);
		put(rel, "MiB\n");
	}
	/* An IMC-named PMU without memory events is skipped. */
	put("uncore_imc_free_running_x/type", "30\n");
	put("uncore_imc_free_running_x/cpumask", "0\n");
	put("uncore_imc_free_running_x/format/event", "config:0-7\n");
	put("uncore_imc_free_running_x/events/clockticks", "event=0x1\n");

	assert_int_equal(pmu_discover(tree, NULL, c, 8, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 6);
	assert_string_equal(c[0].label, "uncore_imc_0/cas_count_read");
	assert_int_equal(c[0].config[0], 0x0f04);
	assert_int_equal(c[1].config[0], 0x3004);
	assert_int_equal(c[5].type, 22);
	assert_int_equal(c[5].dir, PMU_DIR_WRITE);
	assert_int_equal(c[5].cpu, 0);
	assert_int_equal(c[5].scale_num, 64);
}

static void test_discover_pattern_and_total(void **state)
{
	struct pmu_counter c[8];
	char err[PMU_ERR_MAX] = "";
	size_t n = 0;

	(void)state;
	new_tree("pattern");
	put_client_pmu("bwarb_test_imc_0", "31\n", "1\n");
	put_client_pmu("uncore_imc_free_running_0", "14\n", "0\n");
	put("total_only_0/type", "40\n");
	put("total_only_0/cpumask", "2\n");
	put("total_only_0/format/event", "config:0-7\n");
	put("total_only_0/format/umask", "config:8-15\n");
	put("total_only_0/events/data_total", "event=0xff,umask=0x10\n");

	assert_int_equal(pmu_discover(tree, "bwarb_test_imc_*", c, 8, &n, err,
				      sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(c[0].label, "bwarb_test_imc_0/data_read");
	assert_int_equal(c[0].type, 31);
	assert_int_equal(c[0].cpu, 1);

	/* Without read/write events the total is used; no .scale: bytes. */
	assert_int_equal(pmu_discover(tree, "total_only_*", c, 8, &n, err,
				      sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].dir, PMU_DIR_TOTAL);
	assert_int_equal(c[0].config[0], 0x10ff);
	assert_int_equal(c[0].scale_num, 1);
	assert_int_equal(c[0].scale_den, 1);
	assert_int_equal(c[0].cpu, 2);
}

static void test_discover_errors(void **state)
{
	struct pmu_counter c[8];
	char err[PMU_ERR_MAX] = "";
	size_t n = 7;

	(void)state;
	new_tree("broken");
	put("cpu/type", "4\n");
	put("cpu/cpumask", "0\n");

	/* Nothing matches: -ENOENT naming the pattern. */
	assert_int_equal(pmu_discover(tree, NULL, c, 8, &n, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(n, 0);
	assert_non_null(strstr(err, "no PMU matches"));
	assert_int_equal(pmu_discover("build/counters/no-such-dir", "x*", c, 8,
				      &n, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no-such-dir"));

	/* Missing type file: the error names it. */
	put_client_pmu("imc_a", "14\n", "0\n");
	unlink(FAKE_ROOT "/broken/imc_a/type");
	assert_int_equal(pmu_discover(tree, "imc_a", c, 8, &n, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "imc_a/type"));

	/* Corrupt type, cpumask, format and event: each named. */
	put_client_pmu("imc_b", "fourteen\n", "0\n");
	assert_int_equal(pmu_discover(tree, "imc_b", c, 8, &n, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "imc_b/type"));

	put_client_pmu("imc_c", "14\n", "zero\n");
	assert_int_equal(pmu_discover(tree, "imc_c", c, 8, &n, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "imc_c/cpumask"));

	put_client_pmu("imc_d", "14\n", "0\n");
	put("imc_d/format/umask", "config:8-99\n");
	assert_int_equal(pmu_discover(tree, "imc_d", c, 8, &n, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "imc_d/format/umask"));

	put_client_pmu("imc_e", "14\n", "0\n");
	put("imc_e/events/data_write", "event=0xff,colour=3\n");
	assert_int_equal(pmu_discover(tree, "imc_e", c, 8, &n, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "imc_e/events/data_write"));
	assert_non_null(strstr(err, "colour"));

	put_client_pmu("imc_f", "14\n", "0\n");
	put("imc_f/events/data_read.unit", "furlongs\n");
	assert_int_equal(pmu_discover(tree, "imc_f", c, 8, &n, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "imc_f/events/data_read.scale"));
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_parse),
		cmocka_unit_test(test_format_encode),
		cmocka_unit_test(test_event_parse),
		cmocka_unit_test(test_scale_parse),
		cmocka_unit_test(test_cpumask_parse),
		cmocka_unit_test(test_discover_client_chip),
		cmocka_unit_test(test_discover_server),
		cmocka_unit_test(test_discover_pattern_and_total),
		cmocka_unit_test(test_discover_errors),
	};

	return cmocka_run_group_tests_name("pmu_discovery", tests, NULL, NULL);
}
