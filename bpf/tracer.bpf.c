// SPDX-License-Identifier: GPL-2.0
/*
 * bwarb tracer: raw tracepoint programs on the bwarb module's tracepoints
 * that keep, per client, log2 histograms of grant wait time and granted
 * bytes, and counts of grants, timeouts and interrupted waits.
 *
 * Raw tracepoints, not tp_btf: a tp_btf program needs the module's BTF,
 * which bwarb.ko only carries when built with pahole against the vmlinux
 * BTF (neither is available to the module build here). A raw tracepoint
 * gets the TP_PROTO arguments as an array of u64 by position, which the
 * tracepoint contract in kmod/bwarb_trace.h fixes. Linux 6.1 resolves raw
 * tracepoints of loaded modules by name (and holds a module reference while
 * attached, so `rmmod bwarb` needs `bwarbctl trace stop` first).
 *
 * Maps are pinned by name under /sys/fs/bpf/bwarb by the loader.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bwarb_bpf.h"

/* errno values (vmlinux.h carries no macros). */
#define BW_EINTR	4
#define BW_EAGAIN	11
#define BW_EEXIST	17
#define BW_ETIMEDOUT	110
#define BW_ERESTARTSYS	512	/* a signal: -EINTR or a restart for the caller */

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BWARB_TRACE_MAX_CLIENTS);
	__type(key, __u32);
	__type(value, struct bwarb_client_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} clients SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bwarb_trace_totals);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} totals SEC(".maps");

/* Never written: the initial value of a new "clients" entry (too big for
 * the 512-byte BPF stack).
 */
static struct bwarb_client_stats zero_stats;

static __always_inline struct bwarb_trace_totals *totals_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&totals, &zero);
}

/* The client's entry, created on first sight. NULL when the map is full. */
static __always_inline struct bwarb_client_stats *client_get(__u32 id)
{
	struct bwarb_client_stats *s;
	struct bwarb_trace_totals *t;
	long err;

	s = bpf_map_lookup_elem(&clients, &id);
	if (s)
		return s;
	err = bpf_map_update_elem(&clients, &id, &zero_stats, BPF_NOEXIST);
	if (err && err != -BW_EEXIST) {
		t = totals_get();
		if (t)
			__sync_fetch_and_add(&t->dropped_clients, 1);
		return NULL;
	}
	return bpf_map_lookup_elem(&clients, &id);
}

/* Bucket of v: 0 for 0, else floor(log2(v)) + 1, capped to the last one. */
static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 r = 0, shift;

	if (!v)
		return 0;
	shift = (v > 0xffffffffULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xffffULL) << 4; v >>= shift; r |= shift;
	shift = (v > 0xffULL) << 3; v >>= shift; r |= shift;
	shift = (v > 0xfULL) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3ULL) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	r += 1;
	return r < BWARB_HIST_SLOTS ? r : BWARB_HIST_SLOTS - 1;
}

static __always_inline void hist_add(__u64 *hist, __u64 v)
{
	__u32 slot = log2_slot(v);

	/* Re-checked so the verifier sees the bound on this path. */
	if (slot < BWARB_HIST_SLOTS)
		__sync_fetch_and_add(&hist[slot], 1);
}

/* Raises *max to v; a few compare-and-swap tries against racing CPUs. */
static __always_inline void max_update(__u64 *max, __u64 v)
{
	int i;

	for (i = 0; i < 4; i++) {
		__u64 cur = *max;

		if (v <= cur)
			return;
		if (__sync_val_compare_and_swap(max, cur, v) == cur)
			return;
	}
}

SEC("raw_tp/bwarb_register")
int BPF_PROG(bwarb_register, __u32 client, __s32 pid, __u32 class,
	     __u32 weight, __u64 reserve_mbps, __u64 burst_bytes, __s32 ret)
{
	struct bwarb_client_stats *s;
	struct bwarb_trace_totals *t;

	if (ret < 0) {
		t = totals_get();
		if (t)
			__sync_fetch_and_add(&t->register_failures, 1);
		return 0;
	}
	s = client_get(client);
	if (!s)
		return 0;
	s->pid = pid;
	s->class = class;
	s->weight = weight;
	s->reserve_mbps = reserve_mbps;
	s->burst_bytes = burst_bytes;
	/* The tracepoint runs in the registering task. */
	bpf_get_current_comm(s->comm, sizeof(s->comm));
	s->registered = 1;
	return 0;
}

SEC("raw_tp/bwarb_grant")
int BPF_PROG(bwarb_grant, __u32 client, __u64 grant_id, __u64 bytes,
	     __u64 wait_ns)
{
	struct bwarb_client_stats *s = client_get(client);

	if (!s)
		return 0;
	__sync_fetch_and_add(&s->grants, 1);
	__sync_fetch_and_add(&s->granted_bytes, bytes);
	__sync_fetch_and_add(&s->wait_ns_total, wait_ns);
	max_update(&s->wait_ns_max, wait_ns);
	hist_add(s->wait_hist, wait_ns);
	hist_add(s->bytes_hist, bytes);
	return 0;
}

SEC("raw_tp/bwarb_acquire_fail")
int BPF_PROG(bwarb_acquire_fail, __u32 client, __u64 bytes, __u64 wait_ns,
	     __s32 ret)
{
	struct bwarb_client_stats *s = client_get(client);

	if (!s)
		return 0;
	switch (ret) {
	case -BW_ETIMEDOUT:
		__sync_fetch_and_add(&s->timeouts, 1);
		break;
	case -BW_EINTR:
	case -BW_ERESTARTSYS:
		__sync_fetch_and_add(&s->interrupts, 1);
		break;
	case -BW_EAGAIN:
		__sync_fetch_and_add(&s->would_block, 1);
		break;
	default:
		__sync_fetch_and_add(&s->other_failures, 1);
		break;
	}
	return 0;
}

SEC("raw_tp/bwarb_complete")
int BPF_PROG(bwarb_complete, __u32 client, __u64 grant_id, __u64 granted,
	     __u64 actual)
{
	struct bwarb_client_stats *s = client_get(client);

	if (!s)
		return 0;
	__sync_fetch_and_add(&s->completes, 1);
	__sync_fetch_and_add(&s->completed_bytes, actual);
	return 0;
}

SEC("raw_tp/bwarb_period")
int BPF_PROG(bwarb_period, __u64 period, __u64 granted_bytes,
	     __u64 measured_bytes, __u32 waiters)
{
	struct bwarb_trace_totals *t = totals_get();

	if (!t)
		return 0;
	/* Periods come from one hrtimer: never concurrent with each other. */
	t->periods++;
	t->last_period = period;
	t->period_granted_bytes += granted_bytes;
	/* ~0: no counter source active (ARB_MEASURED_NONE). */
	if (measured_bytes == ~0ULL)
		t->unmeasured_periods++;
	else
		t->period_measured_bytes += measured_bytes;
	t->last_waiters = waiters;
	if (waiters > t->max_waiters)
		t->max_waiters = waiters;
	return 0;
}
