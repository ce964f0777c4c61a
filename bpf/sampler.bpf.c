// SPDX-License-Identifier: GPL-2.0
/*
 * bwarb sampler: an independent view of DRAM traffic. A perf_event program
 * on a software cpu-clock timer reads the memory-controller counters that
 * the loader put in "counters" (a PERF_EVENT_ARRAY) and emits the traffic
 * since the previous tick, in bytes read and written, through ring buffer
 * "samples".
 *
 * Before Linux 6.7, bpf_perf_event_read_value() only reads a CPU-bound
 * event on that CPU: the loader attaches the timer to the PMU's cpumask
 * CPU, where the uncore events live. The timer fires on one CPU only, so
 * the state below is never touched concurrently.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bwarb_bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load (libbpf's const volatile .rodata idiom:
 * the verifier then knows them as constants).
 */
const volatile __u32 nr_counters;
const volatile __u32 counter_kind[BWARB_SAMPLER_MAX_COUNTERS];	/* READ/WRITE */
const volatile __u64 counter_bytes_q16[BWARB_SAMPLER_MAX_COUNTERS];	/* bytes/count << 16 */

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(max_entries, BWARB_SAMPLER_MAX_COUNTERS);
	__type(key, __u32);
	__type(value, __u32);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} samples SEC(".maps");

/* The previous tick: counter values and time; prev_valid 0 restarts. */
__u64 prev_count[BWARB_SAMPLER_MAX_COUNTERS];
__u64 prev_ts;
__u32 prev_valid;

/* Diagnostics, read by the loader (and visible with bpftool map dump). */
__u64 ticks;
__u64 read_errors;
__s64 last_error;
__u64 ring_full;
__s32 last_cpu;

SEC("perf_event")
int sample(struct bpf_perf_event_data *ctx)
{
	struct bpf_perf_event_value v;
	struct bwarb_bw_sample *rec;
	__u64 now = bpf_ktime_get_ns();
	__u64 rd = 0, wr = 0;
	__u32 i, valid = prev_valid;
	long err;

	ticks++;
	last_cpu = bpf_get_smp_processor_id();
	for (i = 0; i < BWARB_SAMPLER_MAX_COUNTERS; i++) {
		__u64 bytes;

		if (i >= nr_counters)
			break;
		err = bpf_perf_event_read_value(&counters, i, &v, sizeof(v));
		if (err) {
			/* One missing counter would understate the tick:
			 * skip it and restart the baseline at the next one.
			 */
			read_errors++;
			last_error = err;
			prev_valid = 0;
			return 0;
		}
		bytes = ((v.counter - prev_count[i]) * counter_bytes_q16[i]) >> 16;
		prev_count[i] = v.counter;
		if (counter_kind[i] == BWARB_COUNTER_WRITE)
			wr += bytes;
		else
			rd += bytes;
	}
	if (valid) {
		rec = bpf_ringbuf_reserve(&samples, sizeof(*rec), 0);
		if (rec) {
			rec->ts_ns = now;
			rec->dt_ns = now - prev_ts;
			rec->read_bytes = rd;
			rec->write_bytes = wr;
			bpf_ringbuf_submit(rec, 0);
		} else {
			ring_full++;
		}
	}
	prev_ts = now;
	prev_valid = 1;
	return 0;
}
