// SPDX-License-Identifier: MIT
/*
 * Real DRAM traffic from hardware counters, tried in this order:
 *   1. the memory controllers' uncore PMUs (uncore_imc*, found the way
 *      bwarbctl source perf finds them: tools/bwarbctl/pmu_discovery.h),
 *      whole machine, read + written bytes; needs perf_event_paranoid <= 0
 *      or CAP_PERFMON. Everything on the machine counts, so it is read
 *      only while decode runs alone. SPLITMOE_IMC_PMU=PATTERN (fnmatch)
 *      names other PMUs: the VM suite's test PMU;
 *   2. this process's last-level cache misses (PERF_COUNT_HW_CACHE_MISSES,
 *      user mode, 64-byte lines), inherited by the threads created after
 *      the open (the OpenMP pool, the hog). It misses hardware prefetches
 *      and write-backs: a lower bound of the bus's bytes.
 * docs/calibration.md says how the figures are used.
 */
#include "contend.h"
#include "tools/bwarbctl/pmu_discovery.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CACHE_LINE 64u

static int paranoid_level(void)
{
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
	int v = 99;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 99;
		fclose(f);
	}
	return v;
}

static long perf_open(struct perf_event_attr *a, pid_t pid, int cpu)
{
	return syscall(SYS_perf_event_open, a, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

/* Why an open failed, in words. */
static void open_error(char *buf, size_t len, const char *what, int e)
{
	if (e == ENOENT || e == EOPNOTSUPP || e == ENODEV)
		snprintf(buf, len, "%s: %s: this CPU or VM does not expose it", what, strerror(e));
	else if (e == EACCES || e == EPERM)
		snprintf(buf, len, "%s: %s (kernel.perf_event_paranoid = %d)", what, strerror(e),
			 paranoid_level());
	else
		snprintf(buf, len, "%s: %s", what, strerror(e));
}

/* 0 with every memory controller counter open, or -1 with the reason. */
static int open_imc(struct dram_counter *c, char *why, size_t len)
{
	struct pmu_counter pc[DRAM_COUNTER_MAX];
	char err[PMU_ERR_MAX];
	size_t nr = 0, i;

	const char *pattern = getenv("SPLITMOE_IMC_PMU");

	if (pmu_discover(PMU_SYSFS_ROOT, pattern && *pattern ? pattern : NULL, pc, DRAM_COUNTER_MAX,
			 &nr, err, sizeof(err))) {
		snprintf(why, len, "uncore IMC: %.150s", err);
		return -1;
	}
	for (i = 0; i < nr; i++) {
		struct perf_event_attr a;
		long fd;

		memset(&a, 0, sizeof(a));
		a.size = sizeof(a);
		a.type = pc[i].type;
		a.config = pc[i].config[0];
		a.config1 = pc[i].config[1];
		a.config2 = pc[i].config[2];
		fd = perf_open(&a, -1, pc[i].cpu);
		if (fd < 0) {
			open_error(why, len, "uncore IMC", errno);
			dram_counter_close(c);
			return -1;
		}
		c->fd[c->n] = (int)fd;
		c->num[c->n] = pc[i].scale_num;
		c->den[c->n] = pc[i].scale_den ? pc[i].scale_den : 1;
		c->n++;
	}
	c->source = "uncore IMC read + write (whole machine)";
	return 0;
}

static int open_llc(struct dram_counter *c, char *why, size_t len)
{
	struct perf_event_attr a;
	long fd;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_HARDWARE;
	a.config = PERF_COUNT_HW_CACHE_MISSES;
	a.inherit = 1;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	fd = perf_open(&a, 0, -1);
	if (fd < 0) {
		open_error(why, len, "perf_event_open(cache misses)", errno);
		return -1;
	}
	c->fd[0] = (int)fd;
	c->num[0] = CACHE_LINE;
	c->den[0] = 1;
	c->n = 1;
	c->source = "LLC misses x 64 B (this process)";
	return 0;
}

int dram_counter_open(struct dram_counter *c)
{
	char imc[192], llc[192];

	memset(c, 0, sizeof(*c));
	c->source = "none";
	if (!open_imc(c, imc, sizeof(imc)) || !open_llc(c, llc, sizeof(llc)))
		return 0;
	snprintf(c->why, sizeof(c->why), "%.190s; %.190s", imc, llc);
	return -1;
}

int dram_counter_read(const struct dram_counter *c, uint64_t *bytes)
{
	uint64_t sum = 0, v;
	int i;

	if (!c->n)
		return -1;
	for (i = 0; i < c->n; i++) {
		if (read(c->fd[i], &v, sizeof(v)) != (ssize_t)sizeof(v))
			return -1;
		sum += v * c->num[i] / c->den[i];
	}
	*bytes = sum;
	return 0;
}

void dram_counter_close(struct dram_counter *c)
{
	int i;

	for (i = 0; i < c->n; i++)
		close(c->fd[i]);
	c->n = 0;
}
