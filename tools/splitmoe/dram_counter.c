// SPDX-License-Identifier: MIT
/*
 * Real DRAM traffic of this process from the CPU's last-level cache
 * misses (perf_event_open, PERF_COUNT_HW_CACHE_MISSES, 64-byte lines),
 * inherited by the threads created after the open: the OpenMP pool, the
 * hog. It misses hardware prefetches and write-backs, so it is a lower
 * bound of the bus's bytes; docs/calibration.md says how it is used.
 */
#include "contend.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
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

int dram_counter_open(struct dram_counter *c)
{
	struct perf_event_attr a;
	long fd;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->source = "LLC misses x 64 B (this process)";
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_HARDWARE;
	a.config = PERF_COUNT_HW_CACHE_MISSES;
	a.inherit = 1;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		if (e == ENOENT || e == EOPNOTSUPP || e == ENODEV)
			snprintf(c->why, sizeof(c->why),
				 "perf_event_open(cache misses): %s: this CPU or VM exposes no hardware cache-miss counter",
				 strerror(e));
		else if (e == EACCES || e == EPERM)
			snprintf(c->why, sizeof(c->why),
				 "perf_event_open(cache misses): %s (kernel.perf_event_paranoid = %d)",
				 strerror(e), paranoid_level());
		else
			snprintf(c->why, sizeof(c->why), "perf_event_open(cache misses): %s",
				 strerror(e));
		return -1;
	}
	c->fd = (int)fd;
	return 0;
}

int dram_counter_read(const struct dram_counter *c, uint64_t *bytes)
{
	uint64_t v;

	if (c->fd < 0 || read(c->fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return -1;
	*bytes = v * CACHE_LINE;
	return 0;
}

void dram_counter_close(struct dram_counter *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
