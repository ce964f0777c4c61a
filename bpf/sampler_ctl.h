/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The bwarb sampler from userspace: opens the memory-controller counters
 * with perf_event_open, puts them in the sampler's PERF_EVENT_ARRAY,
 * starts its cpu-clock timer on the counters' CPU and sums the ring
 * buffer's records.
 *
 * The sampler lives as long as its process: the kernel drops a
 * PERF_EVENT_ARRAY entry when the map file it was inserted through is
 * closed (kernel/bpf/arraymap.c, perf_event_fd_array_release), so unlike
 * the tracer it cannot be pinned and left running.
 */
#ifndef BWARB_SAMPLER_CTL_H
#define BWARB_SAMPLER_CTL_H

#include <stddef.h>
#include <linux/types.h>

#include "bpf/bwarb_bpf.h"

/* One counter to read, as discovered from sysfs. */
struct bwarb_sampler_counter {
	__u32 type;		/* perf_event_attr.type (the PMU's type) */
	__u64 config;		/* perf_event_attr.config */
	int cpu;		/* from the PMU's cpumask */
	int kind;		/* BWARB_COUNTER_READ or _WRITE */
	double bytes_per_count;	/* .scale times the .unit in bytes */
	char name[128];		/* for messages: pmu/event */
};

struct bwarb_sampler;

/*
 * Loads and attaches the sampler for counters[0..n) (all on one CPU),
 * ticking every interval_ms. Returns 0 or -errno with one line in err.
 */
int bwarb_sampler_start(struct bwarb_sampler **out,
			const struct bwarb_sampler_counter *counters, size_t n,
			unsigned int interval_ms, char *err, size_t errlen);

/* Traffic summed over the records consumed since the last take. */
struct bwarb_bw_total {
	__u64 samples;
	__u64 dt_ns;
	__u64 read_bytes;
	__u64 write_bytes;
};

/* Waits up to timeout_ms for records and sums them. <0: -errno. */
int bwarb_sampler_poll(struct bwarb_sampler *s, int timeout_ms);

/* Returns the sum since the previous take and clears it. */
void bwarb_sampler_take(struct bwarb_sampler *s, struct bwarb_bw_total *t);

/* The program's diagnostics: timer ticks and counter read failures. */
void bwarb_sampler_diag(struct bwarb_sampler *s, __u64 *ticks,
			__u64 *read_errors, __s64 *last_error);

/* Detaches and frees everything (safe on NULL). */
void bwarb_sampler_stop(struct bwarb_sampler *s);

#endif /* BWARB_SAMPLER_CTL_H */
