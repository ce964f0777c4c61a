// SPDX-License-Identifier: MIT
/* Bandwidth calibration (bwcal.h): r_min and the proposed arbiter figures. */
#include "arbiter/bwcal.h"

#include <errno.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile uint64_t bwcal_sink;	/* the reader's sums are used */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One pass over n words with eight independent sums. */
static uint64_t read_words(const uint64_t *a, size_t n)
{
	uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		s0 += a[i];
		s1 += a[i + 1];
		s2 += a[i + 2];
		s3 += a[i + 3];
		s4 += a[i + 4];
		s5 += a[i + 5];
		s6 += a[i + 6];
		s7 += a[i + 7];
	}
	return s0 ^ s1 ^ s2 ^ s3 ^ s4 ^ s5 ^ s6 ^ s7;
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
		if (t == 0) {
			int r;

			for (r = 0; r < runs; r++) {
				double t0 = now_s(), dt;

				sink ^= read_words(a + lo, hi - lo);
				dt = now_s() - t0;
				if (dt > 0 && (hi - lo) * 8.0 / dt > best_solo)
					best_solo = (hi - lo) * 8.0 / dt;
			}
		}
#pragma omp barrier
		if (t == 0) {
			int r;

			for (r = 0; r < runs; r++) {
				double t0 = now_s(), dt;

				sink ^= read_words(a + lo, hi - lo);
				dt = now_s() - t0;
				if (dt > 0 && (hi - lo) * 8.0 / dt > best)
					best = (hi - lo) * 8.0 / dt;
			}
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

/* The child: every online CPU, then the measurement into the pipe. */
static void child(int fd, uint64_t bytes, int runs)
{
	struct sm_bwcal r;
	cpu_set_t all;
	long i, ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	CPU_ZERO(&all);
	for (i = 0; i < ncpu && i < CPU_SETSIZE; i++)
		CPU_SET((int)i, &all);
	sched_setaffinity(0, sizeof(all), &all);	/* best effort: cpusets may forbid */
	omp_set_num_threads((int)ncpu);
	if (sm_bwcal_measure(bytes, runs, &r) || write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(1);
	_exit(0);
}

int sm_bwcal_measure_child(uint64_t bytes, int runs, struct sm_bwcal *out,
			   char *err, size_t errlen)
{
	size_t got = 0;
	int fds[2], status = 0;
	pid_t pid;

	fflush(NULL);
	if (pipe(fds)) {
		snprintf(err, errlen, "calibration: pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "calibration: fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		child(fds[1], bytes, runs);
	}
	close(fds[1]);
	while (got < sizeof(*out)) {
		ssize_t r = read(fds[0], (char *)out + got, sizeof(*out) - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got != sizeof(*out) || !WIFEXITED(status) || WEXITSTATUS(status)) {
		snprintf(err, errlen, "calibration: the measurement failed (%.2f GB buffer: out of memory?)",
			 bytes / 1e9);
		return -1;
	}
	return 0;
}
