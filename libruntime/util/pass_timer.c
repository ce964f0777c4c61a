// SPDX-License-Identifier: MIT
#include "util/pass_timer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sm_pass_timer *sm_pass_timer_new(const char *name, const char *const *phase, int nphases)
{
	struct sm_pass_timer *t;

	if (nphases < 0 || nphases > SM_PASS_PHASES_MAX)
		return NULL;
	t = aligned_alloc(64, (sizeof(*t) + 63) / 64 * 64);
	if (!t)
		return NULL;
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->nphases = nphases;
	for (int p = 0; p < nphases; p++)
		t->phase[p] = phase[p];
	return t;
}

void sm_pass_timer_free(struct sm_pass_timer *t)
{
	free(t);
}

uint64_t sm_pass_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void sm_pass_begin(struct sm_pass_timer *t)
{
	if (t)
		t->call_start = sm_pass_clock_ns();
}

static uint64_t span(uint64_t a, uint64_t b)
{
	return b > a ? b - a : 0;
}

void sm_pass_end_at(struct sm_pass_timer *t, int nth, uint64_t end_ns)
{
	int n = t ? t->nphases : 0;

	if (!t || nth < 1)
		return;
	if (nth > SM_PASS_THREADS_MAX)
		nth = SM_PASS_THREADS_MAX;
	for (int p = 0; p <= n + 1; p++) {
		uint64_t sum = 0, max = 0;

		for (int i = 0; i < nth; i++) {
			const uint64_t *m = t->th[i].t;
			uint64_t d = p == 0 ? span(t->call_start, m[0]) :
				     p <= n ? span(m[p - 1], m[p]) : span(m[n], end_ns);

			sum += d;
			max = d > max ? d : max;
		}
		t->mean_ns[p] += (double)sum / nth;
		t->max_ns[p] += max;
	}
	t->total_ns += span(t->call_start, end_ns);
	t->calls++;
}

void sm_pass_end(struct sm_pass_timer *t, int nth)
{
	if (t)
		sm_pass_end_at(t, nth, sm_pass_clock_ns());
}

void sm_pass_timer_format(const struct sm_pass_timer *t, char *buf, size_t len)
{
	double c = t->calls ? (double)t->calls * 1e3 : 1.0;
	size_t at = 0;
	int w;

	if (!len)
		return;
	buf[0] = 0;
	w = snprintf(buf, len, "%s: %llu calls, us a call (mean/slowest thread):", t->name,
		     (unsigned long long)t->calls);
	for (int p = 0; w > 0 && (size_t)w < len - at && p <= t->nphases + 1; p++) {
		const char *name = p == 0 ? "fork" : p <= t->nphases ? t->phase[p - 1] : "join";

		at += (size_t)w;
		w = snprintf(buf + at, len - at, "%s %s %.1f/%.1f", p ? "," : "", name,
			     t->mean_ns[p] / c, (double)t->max_ns[p] / c);
	}
	if (w > 0 && (size_t)w < len - at) {
		at += (size_t)w;
		snprintf(buf + at, len - at, "; total %.1f", (double)t->total_ns / c);
	}
}
