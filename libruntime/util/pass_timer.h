/* SPDX-License-Identifier: MIT */
/*
 * Per-thread phase clocks of a parallel pass, for measurement (the
 * machines we tune on have no hardware counters): each thread of the team
 * marks the end of each of its phases; after the region the caller folds
 * the call into totals of the mean and the slowest thread per phase, so
 * that the time a team spends waiting (fork, barriers, join) is told from
 * the time it spends working. Off (a NULL timer) costs one branch a mark.
 */
#ifndef SPLITMOE_PASS_TIMER_H
#define SPLITMOE_PASS_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SM_PASS_PHASES_MAX 8
#define SM_PASS_THREADS_MAX 256

struct sm_pass_timer {
	const char *name;
	int nphases;			/* named phases between fork and join */
	const char *phase[SM_PASS_PHASES_MAX];
	/* this call: its start (caller), each thread's marks: t[0] on
	 * entering the region, t[p + 1] at the end of phase p; a cache line
	 * or two per thread, written by it alone */
	uint64_t call_start;
	struct {
		_Alignas(64) uint64_t t[SM_PASS_PHASES_MAX + 1];
	} th[SM_PASS_THREADS_MAX];
	/* totals over calls, ns: [0] fork, [1..nphases] the phases,
	 * [nphases + 1] join; the mean over a call's threads and its slowest */
	uint64_t calls;
	uint64_t total_ns;
	double mean_ns[SM_PASS_PHASES_MAX + 2];
	uint64_t max_ns[SM_PASS_PHASES_MAX + 2];
};

/* A timer named name with phases phase[0..nphases); NULL on -ENOMEM.
 * The strings are not copied. */
struct sm_pass_timer *sm_pass_timer_new(const char *name, const char *const *phase, int nphases);
void sm_pass_timer_free(struct sm_pass_timer *t);

uint64_t sm_pass_clock_ns(void);

/* The caller, before the region. */
void sm_pass_begin(struct sm_pass_timer *t);

/* Thread tid: mark 0 on entering the region, mark p + 1 at the end of
 * phase p (a phase a thread skips: mark it anyway, it lasted 0). */
static inline void sm_pass_mark(struct sm_pass_timer *t, int tid, int mark)
{
	if (t && tid < SM_PASS_THREADS_MAX && mark <= SM_PASS_PHASES_MAX)
		t->th[tid].t[mark] = sm_pass_clock_ns();
}

/* The caller, after the region: the team had nth threads. Folds the
 * call's marks in as if the region ended at end_ns. */
void sm_pass_end_at(struct sm_pass_timer *t, int nth, uint64_t end_ns);
void sm_pass_end(struct sm_pass_timer *t, int nth);

/* One line: "NAME: N calls, us a call (mean/slowest thread): fork a/b,
 * PHASE a/b, ..., join a/b; total T" into buf (truncated to len). */
void sm_pass_timer_format(const struct sm_pass_timer *t, char *buf, size_t len);

#endif /* SPLITMOE_PASS_TIMER_H */
