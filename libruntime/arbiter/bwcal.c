// SPDX-License-Identifier: MIT
/* Bandwidth calibration (bwcal.h): r_min and the proposed arbiter figures. */
#include "arbiter/bwcal.h"

#include <errno.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile uint64_t bwcal_sink;	/* the reader's sums are used */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Bytes/s of the best of `runs` reads of n words; their sums into *sink. */
static double best_read(const uint64_t *a, size_t n, int runs, uint64_t *sink)
{
	double best = 0;
	int r;

	for (r = 0; r < runs; r++) {
		double t0 = now_s(), dt;

		*sink ^= sm_membw_read_words(a, n);
		dt = now_s() - t0;
		if (dt > 0 && n * 8.0 / dt > best)
			best = n * 8.0 / dt;
	}
	return best;
}

/*
 * Thread 0 reads its share `runs` times (best pass kept), alone first,
 * then while threads 1..N-1 copy their shares half to half without pause
 * until it is done. Each share is the buffer's 1/N, far beyond the caches
 * when the buffer is (sm_membw_default_bytes).
 */
static int measure_rmin(uint64_t bytes, int runs, struct sm_bwcal *out)
{
	size_t n = bytes / sizeof(uint64_t) / 16 * 16;
	uint64_t *a = aligned_alloc(64, n * sizeof(uint64_t));
	double best_solo = 0, best = 0, copy_s = 0;
	uint64_t copied = 0, sink = 0;
	int stop = 0, nt = omp_get_max_threads();

	if (!a)
		return -1;
#pragma omp parallel num_threads(nt)
	{
		size_t t = (size_t)omp_get_thread_num(), k = (size_t)omp_get_num_threads();
		size_t lines = n / 8, lo = lines * t / k * 8, hi = lines * (t + 1) / k * 8, i;

		for (i = lo; i < hi; i++)	/* first touch by its user */
			a[i] = i;
#pragma omp barrier
		if (t == 0)
			best_solo = best_read(a + lo, hi - lo, runs, &sink);
#pragma omp barrier
		if (t == 0) {
			best = best_read(a + lo, hi - lo, runs, &sink);
			__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
		} else {
			size_t half = (hi - lo) / 2 / 8 * 8;
			uint64_t mine = 0;
			double t0 = now_s(), dt;

			while (half && !__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
				memcpy(a + lo + half, a + lo, half * sizeof(uint64_t));
				mine += 2 * half * sizeof(uint64_t);	/* read + written */
			}
			dt = now_s() - t0;
#pragma omp critical
			{
				copied += mine;
				if (dt > copy_s)
					copy_s = dt;
			}
		}
	}
	bwcal_sink = sink;
	free(a);
	out->others = nt - 1;
	out->solo_gbs = best_solo / 1e9;
	out->rmin_gbs = best / 1e9;
	out->contended_total_gbs = out->rmin_gbs + (copy_s > 0 ? copied / copy_s / 1e9 : 0);
	return 0;
}

int sm_bwcal_measure(uint64_t bytes, int runs, struct sm_bwcal *out)
{
	double cap;

	memset(out, 0, sizeof(*out));
	if (sm_membw_measure(bytes, runs, &out->all) || measure_rmin(bytes, runs, out))
		return -1;
	cap = out->all.read_gbs < out->all.copy_gbs ? out->all.read_gbs : out->all.copy_gbs;
	out->capacity_mbps = (uint64_t)(cap * 1000.0);
	out->guaranteed_mbps = (uint64_t)(out->contended_total_gbs * 1000.0);
	if (out->guaranteed_mbps > out->capacity_mbps)
		out->guaranteed_mbps = out->capacity_mbps;
	if (out->capacity_mbps < 1)
		out->capacity_mbps = 1;
	return 0;
}

struct bwcal_job {
	uint64_t bytes;
	int runs;
};

/* In the child: every online CPU, then the measurement. */
static int bwcal_in_child(void *arg, void *out)
{
	const struct bwcal_job *j = arg;
	cpu_set_t all;
	long i, ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	CPU_ZERO(&all);
	for (i = 0; i < ncpu && i < CPU_SETSIZE; i++)
		CPU_SET((int)i, &all);
	sched_setaffinity(0, sizeof(all), &all);	/* best effort: cpusets may forbid */
	omp_set_num_threads((int)ncpu);
	return sm_bwcal_measure(j->bytes, j->runs, out);
}

int sm_bwcal_measure_child(uint64_t bytes, int runs, struct sm_bwcal *out,
			   char *err, size_t errlen)
{
	struct bwcal_job j = { .bytes = bytes, .runs = runs };
	int rc = sm_membw_in_child(bwcal_in_child, &j, out, sizeof(*out));

	if (rc == -1)
		snprintf(err, errlen, "calibration: cannot start the measuring process: %s",
			 strerror(errno));
	else if (rc)
		snprintf(err, errlen, "calibration: the measurement failed (%.2f GB buffer: out of memory?)",
			 bytes / 1e9);
	return rc ? -1 : 0;
}
