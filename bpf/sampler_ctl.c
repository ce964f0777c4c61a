// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Loader of the sampler (bpf/sampler.bpf.c); see sampler_ctl.h.
 */
#include "bpf/sampler_ctl.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/perf_event.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sampler.skel.h"

struct bwarb_sampler {
	struct sampler_bpf *skel;
	struct bpf_link *link;
	struct ring_buffer *rb;
	int timer_fd;
	int counter_fd[BWARB_SAMPLER_MAX_COUNTERS];
	size_t nr_counters;
	struct bwarb_bw_total acc;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int perf_open(struct perf_event_attr *attr, int cpu)
{
	return (int)syscall(SYS_perf_event_open, attr, -1, cpu, -1,
			    PERF_FLAG_FD_CLOEXEC);
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct bwarb_sampler *s = ctx;
	const struct bwarb_bw_sample *rec = data;

	if (size < sizeof(*rec))
		return 0;
	s->acc.samples++;
	s->acc.dt_ns += rec->dt_ns;
	s->acc.read_bytes += rec->read_bytes;
	s->acc.write_bytes += rec->write_bytes;
	return 0;
}

int bwarb_sampler_start(struct bwarb_sampler **out,
			const struct bwarb_sampler_counter *counters, size_t n,
			unsigned int interval_ms, char *err, size_t errlen)
{
	struct perf_event_attr attr;
	struct bwarb_sampler *s;
	int cpu, ret, fd;
	size_t i;

	if (n == 0 || n > BWARB_SAMPLER_MAX_COUNTERS) {
		set_err(err, errlen, "sampler: %zu counters (1..%d supported)",
			n, BWARB_SAMPLER_MAX_COUNTERS);
		return -EINVAL;
	}
	if (interval_ms == 0 || interval_ms > 60000) {
		set_err(err, errlen, "sampler: interval %u ms out of range 1..60000",
			interval_ms);
		return -EINVAL;
	}
	cpu = counters[0].cpu;
	for (i = 0; i < n; i++) {
		/* Before 6.7 the program reads only events of its own CPU
		 * and runs on one timer: every counter must share it.
		 */
		if (counters[i].cpu != cpu) {
			set_err(err, errlen, "sampler: %s is on CPU %d, %s on CPU %d: one CPU needed",
				counters[0].name, cpu, counters[i].name,
				counters[i].cpu);
			return -EINVAL;
		}
		if (!(counters[i].bytes_per_count > 0) ||
		    counters[i].bytes_per_count > 1e6) {
			set_err(err, errlen, "sampler: %s: bytes per count %g out of range",
				counters[i].name, counters[i].bytes_per_count);
			return -EINVAL;
		}
	}

	s = calloc(1, sizeof(*s));
	if (!s) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->timer_fd = -1;
	for (i = 0; i < BWARB_SAMPLER_MAX_COUNTERS; i++)
		s->counter_fd[i] = -1;

	s->skel = sampler_bpf__open();
	if (!s->skel) {
		ret = -errno;
		set_err(err, errlen, "cannot open the sampler's BPF object: %s",
			strerror(errno));
		goto fail;
	}
	s->skel->rodata->nr_counters = (__u32)n;
	for (i = 0; i < n; i++) {
		s->skel->rodata->counter_kind[i] = (__u32)counters[i].kind;
		s->skel->rodata->counter_bytes_q16[i] =
			(__u64)llround(counters[i].bytes_per_count * 65536.0);
	}
	ret = sampler_bpf__load(s->skel);
	if (ret) {
		set_err(err, errlen, "the kernel refused the sampler program: %s (run with -v for the verifier log)",
			strerror(-ret));
		goto fail;
	}

	for (i = 0; i < n; i++) {
		__u32 key = (__u32)i;

		memset(&attr, 0, sizeof(attr));
		attr.size = sizeof(attr);
		attr.type = counters[i].type;
		attr.config = counters[i].config;
		fd = perf_open(&attr, cpu);
		if (fd < 0) {
			ret = -errno;
			set_err(err, errlen, "cannot open counter %s (type %u config 0x%llx) on CPU %d: %s",
				counters[i].name, counters[i].type,
				(unsigned long long)counters[i].config, cpu,
				strerror(errno));
			goto fail;
		}
		s->counter_fd[i] = fd;
		s->nr_counters = i + 1;
		if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.counters),
					&key, &fd, BPF_ANY)) {
			ret = -errno;
			set_err(err, errlen, "cannot put counter %s in the sampler's map: %s",
				counters[i].name, strerror(errno));
			goto fail;
		}
	}

	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.samples), on_sample,
				 s, NULL);
	if (!s->rb) {
		ret = -errno;
		set_err(err, errlen, "cannot open the sampler's ring buffer: %s",
			strerror(errno));
		goto fail;
	}

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_CPU_CLOCK;
	attr.sample_period = (__u64)interval_ms * 1000000ULL;
	s->timer_fd = perf_open(&attr, cpu);
	if (s->timer_fd < 0) {
		ret = -errno;
		set_err(err, errlen, "cannot open a cpu-clock timer on CPU %d: %s",
			cpu, strerror(errno));
		goto fail;
	}
	s->link = bpf_program__attach_perf_event(s->skel->progs.sample,
						 s->timer_fd);
	if (!s->link) {
		ret = -errno;
		set_err(err, errlen, "cannot attach the sampler to its timer: %s",
			strerror(errno));
		goto fail;
	}
	*out = s;
	return 0;

fail:
	bwarb_sampler_stop(s);
	return ret;
}

int bwarb_sampler_poll(struct bwarb_sampler *s, int timeout_ms)
{
	int ret = ring_buffer__poll(s->rb, timeout_ms);

	if (ret == -EINTR)
		return 0;
	return ret < 0 ? ret : 0;
}

void bwarb_sampler_take(struct bwarb_sampler *s, struct bwarb_bw_total *t)
{
	/* Drain what is already there so a take is never a tick short. */
	ring_buffer__consume(s->rb);
	*t = s->acc;
	memset(&s->acc, 0, sizeof(s->acc));
}

void bwarb_sampler_diag(struct bwarb_sampler *s, __u64 *ticks,
			__u64 *read_errors, __s64 *last_error)
{
	*ticks = s->skel->bss->ticks;
	*read_errors = s->skel->bss->read_errors;
	*last_error = s->skel->bss->last_error;
}

void bwarb_sampler_stop(struct bwarb_sampler *s)
{
	size_t i;

	if (!s)
		return;
	bpf_link__destroy(s->link);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	ring_buffer__free(s->rb);
	for (i = 0; i < s->nr_counters; i++)
		if (s->counter_fd[i] >= 0)
			close(s->counter_fd[i]);
	sampler_bpf__destroy(s->skel);
	free(s);
}
