/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Layouts shared by the eBPF programs (bpf/NAME.bpf.c) and their userspace
 * loaders: map values, ring-buffer records, pin paths. The includer
 * provides __u32/__u64 (vmlinux.h in BPF code, <linux/types.h> elsewhere).
 */
#ifndef BWARB_BPF_H
#define BWARB_BPF_H

/* Where `bwarbctl trace start` pins the tracer's maps and links. */
#define BWARB_BPF_PIN_DIR	"/sys/fs/bpf/bwarb"

/* Log2 buckets: bucket i counts values v with 2^(i-1) <= v < 2^i (0: v==0). */
#define BWARB_HIST_SLOTS	41	/* wait: up to ~18 min; bytes: up to 1 TiB */

/* Largest client id the tracer keeps distinct entries for (hash size). */
#define BWARB_TRACE_MAX_CLIENTS	1024

/*
 * Per-client tracer state, the value of map "clients" (key: client id).
 * Filled by the bwarb:* tracepoints seen while the tracer is attached:
 * a client registered before `trace start` shows pid/class/weight 0.
 */
struct bwarb_client_stats {
	__s32 pid;			/* from bwarb_register */
	__u32 class;			/* BWARB_CLASS_* */
	__u32 weight;
	__u32 registered;		/* 1 once bwarb_register was seen */
	char comm[16];			/* the registering task's name */
	__u64 reserve_mbps;
	__u64 burst_bytes;
	__u64 grants;			/* bwarb_grant events */
	__u64 timeouts;			/* bwarb_acquire_fail, -ETIMEDOUT */
	__u64 interrupts;		/* bwarb_acquire_fail, a signal */
	__u64 would_block;		/* bwarb_acquire_fail, -EAGAIN */
	__u64 other_failures;		/* bwarb_acquire_fail, any other ret */
	__u64 completes;		/* bwarb_complete events */
	__u64 granted_bytes;		/* sum of bwarb_grant.bytes */
	__u64 completed_bytes;		/* sum of bwarb_complete.actual */
	__u64 wait_ns_total;		/* sum of bwarb_grant.wait_ns */
	__u64 wait_ns_max;
	__u64 wait_hist[BWARB_HIST_SLOTS];	/* log2(wait_ns) of grants */
	__u64 bytes_hist[BWARB_HIST_SLOTS];	/* log2(bytes) of grants */
};

/* Module-wide tracer state, the single entry of map "totals". */
struct bwarb_trace_totals {
	__u64 periods;			/* bwarb_period events */
	__u64 last_period;		/* bwarb_period.period of the last one */
	__u64 period_granted_bytes;	/* sum over periods */
	__u64 period_measured_bytes;	/* sum over measured periods */
	__u64 unmeasured_periods;	/* measured_bytes was "none" (~0) */
	__u32 last_waiters;
	__u32 max_waiters;
	__u64 register_failures;	/* bwarb_register with ret < 0 */
	__u64 dropped_clients;		/* clients map full: events not kept */
};

/* Memory-controller counters the sampler reads (PERF_EVENT_ARRAY size). */
#define BWARB_SAMPLER_MAX_COUNTERS	16

#define BWARB_COUNTER_READ	0
#define BWARB_COUNTER_WRITE	1

/*
 * One sampler record in ring buffer "samples": the traffic the counters
 * saw between two timer ticks. Bytes are converted from counts with each
 * counter's scale in Q16 fixed point.
 */
struct bwarb_bw_sample {
	__u64 ts_ns;			/* bpf_ktime_get_ns() at this tick */
	__u64 dt_ns;			/* since the previous tick */
	__u64 read_bytes;
	__u64 write_bytes;
};

#endif /* BWARB_BPF_H */
