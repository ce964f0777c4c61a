// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * bwarbctl source                       source, counters and figures
 * bwarbctl source declared              no counters
 * bwarbctl source mchbar                MMIO counters of ADL/RPL/MTL chips
 *                                       (untested on hardware)
 * bwarbctl source perf [--pmu PATTERN] [--cpu N] [--dry-run]
 * bwarbctl source pmus [--pmu PATTERN]  what discovery finds; changes nothing
 * Environment (for tests): BWARB_SYSFS_DIR, BWARB_PMU_ROOT (default
 * /sys/bus/event_source/devices).
 *
 * It discovers the memory-controller PMUs (pmu_discovery.c)
 * and programs them into the bwarb module through sysfs:
 *   counters  <- "clear", then one "add DIR type=.. config=.. ..." per write
 *   source    <- "perf" | "declared"
 * The module validates every line (errno per write), so a rejected counter
 * is reported with the module's reason and the source is left 'declared'
 * with no counters, never half-programmed.
 */
#include "bwarbctl.h"
#include "arbiter/pmu_discovery.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <unistd.h>

#define SRC_MAX_COUNTERS 16

static const char *pmu_root(void)
{
	const char *d = getenv("BWARB_PMU_ROOT");

	return d && *d ? d : PMU_SYSFS_ROOT;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bwarbctl source                      show source, counters, figures\n"
		"       bwarbctl source declared             measured = what clients completed\n"
		"       bwarbctl source mchbar               MMIO counters of Alder/Raptor/Meteor Lake\n"
		"       bwarbctl source perf [--pmu PATTERN] [--cpu N] [--dry-run]\n"
		"       bwarbctl source pmus [--pmu PATTERN] list the counters discovery finds\n");
}

/* One write(2) of text to <sysfs>/<file>; prints the module's error. */
static int sysfs_write(const char *file, const char *text)
{
	char path[512];
	ssize_t n;
	int fd, e;

	snprintf(path, sizeof(path), "%s/%s", bwarbctl_sysfs_dir(), file);
	fd = open(path, O_WRONLY);
	if (fd < 0) {
		e = errno;
		fprintf(stderr, "bwarbctl: %s: %s%s\n", path, strerror(e),
			e == ENOENT ? " (is the bwarb module loaded?)" : "");
		return -e;
	}
	n = write(fd, text, strlen(text));
	e = n < 0 ? errno : 0;
	close(fd);
	if (n < 0) {
		fprintf(stderr, "bwarbctl: %s: writing '%s': %s\n", path, text,
			strerror(e));
		return -e;
	}
	return 0;
}

static int sysfs_read(const char *file, char *buf, size_t len)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", bwarbctl_sysfs_dir(), file);
	f = fopen(path, "r");
	if (!f) {
		int e = errno;

		fprintf(stderr, "bwarbctl: %s: %s%s\n", path, strerror(e),
			e == ENOENT ? " (is the bwarb module loaded?)" : "");
		return -e;
	}
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return 0;
}

static void format_counter(const struct pmu_counter *c, char *buf, size_t len)
{
	snprintf(buf, len,
		 "add %s type=%" PRIu32 " config=0x%" PRIx64 " config1=0x%" PRIx64
		 " config2=0x%" PRIx64 " cpu=%d scale=%" PRIu64 "/%" PRIu64
		 " label=%.47s",
		 pmu_dir_name(c->dir), c->type, c->config[0], c->config[1],
		 c->config[2], c->cpu, c->scale_num, c->scale_den, c->label);
}

static void print_counter(const struct pmu_counter *c)
{
	printf("  %-40s %-5s type=%" PRIu32 " config=0x%" PRIx64 " cpu=%d  %g bytes/count\n",
	       c->label, pmu_dir_name(c->dir), c->type, c->config[0], c->cpu,
	       (double)c->scale_num / (double)c->scale_den);
}

static int show(void)
{
	static const char *const figures[] = {
		"read_mbps", "read_mbps_avg", "write_mbps", "write_mbps_avg",
		"measured_mbps", "measured_mbps_avg", "unattributed_mbps",
	};
	/* samples published, dropped, and times they went stale */
	static const char *const counts[] = {
		"samples", "sample_errors", "stale_events",
	};
	char buf[4096];
	size_t i;

	if (sysfs_read("source", buf, sizeof(buf)))
		return 1;
	printf("source: %s", buf);
	if (sysfs_read("counters", buf, sizeof(buf)))
		return 1;
	printf("counters:%s%s", buf[0] ? "\n" : " none\n", buf);
	for (i = 0; i < sizeof(figures) / sizeof(figures[0]); i++) {
		if (sysfs_read(figures[i], buf, sizeof(buf)))
			return 1;
		buf[strcspn(buf, "\n")] = '\0';
		printf("%-18s %s MB/s\n", figures[i], buf);
	}
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		if (sysfs_read(counts[i], buf, sizeof(buf)))
			return 1;
		printf("%-18s %s", counts[i], buf);
	}
	return 0;
}

static int discover(const char *pattern, int cpu, struct pmu_counter *c,
		    size_t *n)
{
	char err[PMU_ERR_MAX];
	size_t i;
	int ret;

	ret = pmu_discover(pmu_root(), pattern, c, SRC_MAX_COUNTERS, n, err,
			   sizeof(err));
	if (ret) {
		fprintf(stderr, "bwarbctl: %s\n", err);
		return ret;
	}
	if (cpu < 0)
		return 0;
	/* --cpu: each counter's PMU must list it in its cpumask. */
	for (i = 0; i < *n; i++) {
		struct pmu_desc pmu;
		char name[PMU_NAME_MAX];

		snprintf(name, sizeof(name), "%.*s",
			 (int)strcspn(c[i].label, "/"), c[i].label);
		ret = pmu_load(pmu_root(), name, &pmu, err, sizeof(err));
		if (ret) {
			fprintf(stderr, "bwarbctl: %s\n", err);
			return ret;
		}
		if (!pmu_cpu_in_mask(&pmu, cpu)) {
			fprintf(stderr, "bwarbctl: %s/%s/cpumask: CPU %d is not in the PMU's cpumask\n",
				pmu_root(), name, cpu);
			return -EINVAL;
		}
		c[i].cpu = cpu;
	}
	return 0;
}

static int program_perf(const struct pmu_counter *c, size_t n)
{
	char cur[64], line[512];
	size_t i;

	if (sysfs_read("source", cur, sizeof(cur)))
		return 1;
	/* The module refuses to drop counters in use: leave 'perf' first. */
	if (!strncmp(cur, "perf", 4) && sysfs_write("source", "declared"))
		return 1;
	if (sysfs_write("counters", "clear"))
		return 1;
	for (i = 0; i < n; i++) {
		format_counter(&c[i], line, sizeof(line));
		if (sysfs_write("counters", line)) {
			fprintf(stderr, "bwarbctl: counter %s rejected; source left 'declared' with no counters\n",
				c[i].label);
			sysfs_write("counters", "clear");
			return 1;
		}
	}
	if (sysfs_write("source", "perf"))
		return 1;
	printf("source perf: %zu counters\n", n);
	for (i = 0; i < n; i++)
		print_counter(&c[i]);
	return 0;
}

static int cmd_source(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pmu", required_argument, NULL, 'p' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pmu_counter c[SRC_MAX_COUNTERS];
	const char *pattern = NULL, *what;
	bool dry_run = false;
	size_t i, n = 0;
	int opt, cpu = -1;
	char *end;

	if (argc < 2)
		return show();
	what = argv[1];
	if (!strcmp(what, "-h") || !strcmp(what, "--help")) {
		usage(stdout);
		return 0;
	}
	optind = 2;
	while ((opt = getopt_long(argc, argv, "p:c:nh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			pattern = optarg;
			break;
		case 'c':
			errno = 0;
			cpu = (int)strtol(optarg, &end, 10);
			if (errno || *end || cpu < 0 || cpu >= PMU_MAX_CPUS) {
				fprintf(stderr, "bwarbctl: --cpu: '%s' is not a CPU number\n",
					optarg);
				return 2;
			}
			break;
		case 'n':
			dry_run = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bwarbctl: source: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}

	if (!strcmp(what, "declared") || !strcmp(what, "mchbar")) {
		if (pattern || cpu >= 0 || dry_run) {
			fprintf(stderr, "bwarbctl: source %s takes no option\n", what);
			return 2;
		}
		if (sysfs_write("source", what))
			return 1;
		printf("source %s: %s\n", what, !strcmp(what, "declared") ?
		       "measured traffic = what clients completed" :
		       "memory controller counters over MMIO");
		return 0;
	}
	if (strcmp(what, "perf") && strcmp(what, "pmus")) {
		fprintf(stderr, "bwarbctl: source: unknown source '%s' (declared, perf, mchbar, pmus)\n",
			what);
		usage(stderr);
		return 2;
	}
	if (discover(pattern, cpu, c, &n))
		return 1;
	if (!strcmp(what, "pmus") || dry_run) {
		printf("%zu counters under %s:\n", n, pmu_root());
		for (i = 0; i < n; i++)
			print_counter(&c[i]);
		return 0;
	}
	return program_perf(c, n);
}

BWARBCTL_COMMAND(source, "show or select the measured-traffic source (declared, perf, mchbar)",
		 cmd_source)
