// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Per-client table of the tracer's counts and wait-time histogram.
 * Quantiles come from the log2 histogram, so they are bucket upper bounds
 * (within a factor of two, capped at the maximum); average and maximum
 * are exact.
 */
#include "trace_table.h"

#include <inttypes.h>

static const char *class_name(__u32 class, __u32 registered)
{
	static const char *const names[] = { "cpu", "gpu", "other" };

	if (!registered)
		return "?";
	return class < 3 ? names[class] : "bad";
}

static const struct bwarb_trace_client *find(const struct bwarb_trace_client *v,
					     size_t n, __u32 id)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		if (v[i].id == id)
			return &v[i];
	return NULL;
}

void trace_table_print(FILE *f, const struct bwarb_trace_client *cur,
		       size_t nr, const struct bwarb_trace_client *prev,
		       size_t nr_prev, double secs,
		       const struct bwarb_trace_totals *totals)
{
	size_t i;

	fprintf(f, "%6s %7s %-15s %5s %6s %9s %8s %8s %6s %6s %11s %9s %9s %9s %9s\n",
		"client", "pid", "name", "class", "weight", "grants", "grants/s",
		"timeouts", "eintr", "eagain", "granted MB", "avg us",
		"p50 us", "p99 us", "max us");
	for (i = 0; i < nr; i++) {
		const struct bwarb_client_stats *s = &cur[i].st;
		const struct bwarb_trace_client *p = find(prev, nr_prev, cur[i].id);
		double rate = 0.0, avg_us = 0.0;
		__u64 p50, p99;

		if (p && secs > 0)
			rate = (double)(s->grants - p->st.grants) / secs;
		if (s->grants)
			avg_us = (double)s->wait_ns_total / (double)s->grants / 1e3;
		/* A bucket bound can exceed the exact maximum: cap it. */
		p50 = bwarb_hist_quantile(s->wait_hist, BWARB_HIST_SLOTS, 0.5);
		p99 = bwarb_hist_quantile(s->wait_hist, BWARB_HIST_SLOTS, 0.99);
		p50 = p50 < s->wait_ns_max ? p50 : s->wait_ns_max;
		p99 = p99 < s->wait_ns_max ? p99 : s->wait_ns_max;
		fprintf(f, "%6" PRIu32 " %7d %-15.15s %5s %6" PRIu32 " %9llu %8.1f %8llu %6llu %6llu %11.3f %9.1f %9.1f %9.1f %9.1f\n",
			cur[i].id, s->pid, s->registered && s->comm[0] ? s->comm : "?",
			class_name(s->class, s->registered),
			s->weight, (unsigned long long)s->grants, rate,
			(unsigned long long)s->timeouts,
			(unsigned long long)s->interrupts,
			(unsigned long long)s->would_block,
			(double)s->granted_bytes / 1e6, avg_us,
			(double)p50 / 1e3, (double)p99 / 1e3,
			(double)s->wait_ns_max / 1e3);
	}
	if (!nr)
		fprintf(f, "(no client seen since trace start)\n");
	fprintf(f, "periods %llu, max waiters %u, granted %.3f MB, measured %.3f MB\n",
		(unsigned long long)totals->periods, totals->max_waiters,
		(double)totals->period_granted_bytes / 1e6,
		(double)totals->period_measured_bytes / 1e6);
}
