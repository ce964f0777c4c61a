// SPDX-License-Identifier: MIT
/*
 * include/splitmoe.h's DRAM counter: real DRAM traffic from hardware
 * counters, tried in this order:
 *   1. the memory controllers' uncore PMUs (uncore_imc*, found the way
 *      bwarbctl source perf finds them: arbiter/pmu_discovery.h),
 *      whole machine, read + written bytes; needs perf_event_paranoid <= 0
 *      or CAP_PERFMON. Everything on the machine counts (contend reads
 *      it only while decode runs alone). SPLITMOE_IMC_PMU=PATTERN (fnmatch)
 *      names other PMUs: the VM suite's test PMU;
 *   2. this process's last-level cache misses (PERF_COUNT_HW_CACHE_MISSES,
 *      user mode, 64-byte lines), inherited by the threads created after
 *      the open (the OpenMP pool, the hog). It misses hardware prefetches
 *      and write-backs: a lower bound of the bus's bytes.
 * docs/calibration.md says how the figures are used.
 */
#include "splitmoe.h"

#include "arbiter/pmu_discovery.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CACHE_LINE 64u
#define DRAM_COUNTER_MAX 32

struct splitmoe_dram_counter {
	int n;				/* counters open */
	int fd[DRAM_COUNTER_MAX];
	uint64_t num[DRAM_COUNTER_MAX], den[DRAM_COUNTER_MAX];	/* bytes per count */
	const char *source;
};

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

static void close_all(struct splitmoe_dram_counter *c)
{
	int i;

	for (i = 0; i < c->n; i++)
		close(c->fd[i]);
	c->n = 0;
}

/* 0 with every memory controller counter open, or -1 with the reason. */
static int open_imc(struct splitmoe_dram_counter *c, char *why, size_t len)
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
			close_all(c);
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

static int open_llc(struct splitmoe_dram_counter *c, char *why, size_t len)
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

splitmoe_status splitmoe_dram_counter_open(splitmoe_dram_counter **out, char *why, size_t whylen)
{
	struct splitmoe_dram_counter *c;
	char imc[192], llc[192];

	if (!out)
		return SPLITMOE_ERR_INVALID;
	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		if (why && whylen)
			snprintf(why, whylen, "out of memory");
		return SPLITMOE_ERR_NOMEM;
	}
	if (!open_imc(c, imc, sizeof(imc)) || !open_llc(c, llc, sizeof(llc))) {
		*out = c;
		return SPLITMOE_OK;
	}
	if (why && whylen)
		snprintf(why, whylen, "%.190s; %.190s", imc, llc);
	free(c);
	return SPLITMOE_ERR_UNSUPPORTED;
}

splitmoe_status splitmoe_dram_counter_read(const splitmoe_dram_counter *c, uint64_t *bytes)
{
	uint64_t sum = 0, v;
	int i;

	if (!c || !bytes)
		return SPLITMOE_ERR_INVALID;
	for (i = 0; i < c->n; i++) {
		if (read(c->fd[i], &v, sizeof(v)) != (ssize_t)sizeof(v))
			return SPLITMOE_ERR_BACKEND;
		sum += v * c->num[i] / c->den[i];
	}
	*bytes = sum;
	return SPLITMOE_OK;
}

const char *splitmoe_dram_counter_source(const splitmoe_dram_counter *c)
{
	return c->source;
}

void splitmoe_dram_counter_free(splitmoe_dram_counter *c)
{
	if (!c)
		return;
	close_all(c);
	free(c);
}
