/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bwarb tracepoints. The field names and types are a contract with the
 * eBPF tracer (bpf/): extend, do not change.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM bwarb

#if !defined(BWARB_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define BWARB_TRACE_H

#include <linux/tracepoint.h>

TRACE_EVENT(bwarb_register,
	    TP_PROTO(u32 client, s32 pid, u32 class, u32 weight,
		     u64 reserve_mbps, u64 burst_bytes, s32 ret),
	    TP_ARGS(client, pid, class, weight, reserve_mbps, burst_bytes, ret),
	    TP_STRUCT__entry(__field(u32, client)
			     __field(s32, pid)
			     __field(u32, class)
			     __field(u32, weight)
			     __field(u64, reserve_mbps)
			     __field(u64, burst_bytes)
			     __field(s32, ret)),
	    TP_fast_assign(__entry->client = client;
			   __entry->pid = pid;
			   __entry->class = class;
			   __entry->weight = weight;
			   __entry->reserve_mbps = reserve_mbps;
			   __entry->burst_bytes = burst_bytes;
			   __entry->ret = ret;),
	    TP_printk("client=%u pid=%d class=%u weight=%u reserve_mbps=%llu burst_bytes=%llu ret=%d",
		      __entry->client, __entry->pid, __entry->class,
		      __entry->weight, __entry->reserve_mbps,
		      __entry->burst_bytes, __entry->ret)
);

TRACE_EVENT(bwarb_grant,
	    TP_PROTO(u32 client, u64 grant_id, u64 bytes, u64 wait_ns),
	    TP_ARGS(client, grant_id, bytes, wait_ns),
	    TP_STRUCT__entry(__field(u32, client)
			     __field(u64, grant_id)
			     __field(u64, bytes)
			     __field(u64, wait_ns)),
	    TP_fast_assign(__entry->client = client;
			   __entry->grant_id = grant_id;
			   __entry->bytes = bytes;
			   __entry->wait_ns = wait_ns;),
	    TP_printk("client=%u grant_id=%llu bytes=%llu wait_ns=%llu",
		      __entry->client, __entry->grant_id, __entry->bytes,
		      __entry->wait_ns)
);

TRACE_EVENT(bwarb_acquire_fail,
	    TP_PROTO(u32 client, u64 bytes, u64 wait_ns, s32 ret),
	    TP_ARGS(client, bytes, wait_ns, ret),
	    TP_STRUCT__entry(__field(u32, client)
			     __field(u64, bytes)
			     __field(u64, wait_ns)
			     __field(s32, ret)),
	    TP_fast_assign(__entry->client = client;
			   __entry->bytes = bytes;
			   __entry->wait_ns = wait_ns;
			   __entry->ret = ret;),
	    TP_printk("client=%u bytes=%llu wait_ns=%llu ret=%d",
		      __entry->client, __entry->bytes, __entry->wait_ns,
		      __entry->ret)
);

TRACE_EVENT(bwarb_complete,
	    TP_PROTO(u32 client, u64 grant_id, u64 granted, u64 actual),
	    TP_ARGS(client, grant_id, granted, actual),
	    TP_STRUCT__entry(__field(u32, client)
			     __field(u64, grant_id)
			     __field(u64, granted)
			     __field(u64, actual)),
	    TP_fast_assign(__entry->client = client;
			   __entry->grant_id = grant_id;
			   __entry->granted = granted;
			   __entry->actual = actual;),
	    TP_printk("client=%u grant_id=%llu granted=%llu actual=%llu",
		      __entry->client, __entry->grant_id, __entry->granted,
		      __entry->actual)
);

TRACE_EVENT(bwarb_period,
	    TP_PROTO(u64 period, u64 granted_bytes, u64 measured_bytes,
		     u32 waiters),
	    TP_ARGS(period, granted_bytes, measured_bytes, waiters),
	    TP_STRUCT__entry(__field(u64, period)
			     __field(u64, granted_bytes)
			     __field(u64, measured_bytes)
			     __field(u32, waiters)),
	    TP_fast_assign(__entry->period = period;
			   __entry->granted_bytes = granted_bytes;
			   __entry->measured_bytes = measured_bytes;
			   __entry->waiters = waiters;),
	    TP_printk("period=%llu granted_bytes=%llu measured_bytes=%llu waiters=%u",
		      __entry->period, __entry->granted_bytes,
		      __entry->measured_bytes, __entry->waiters)
);
#endif /* BWARB_TRACE_H */

/* This part must be outside the include guard. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE bwarb_trace
#include <trace/define_trace.h>
