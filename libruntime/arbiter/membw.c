// SPDX-License-Identifier: MIT
/* DRAM read and copy bandwidth on every OpenMP thread (membw.h). */
#include "arbiter/membw.h"

#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile uint64_t membw_sink;	/* the sums are used: no pass is optimised away */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The largest cache of cpu0 in bytes (sysfs), 0 when unknown. */
static uint64_t llc_bytes(void)
{
	uint64_t best = 0;
	int i;

	for (i = 0; i < 8; i++) {
		char path[96], unit = 0;
		unsigned long long v = 0;
		FILE *f;

		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
		f = fopen(path, "r");
		if (!f)
			break;
		if (fscanf(f, "%llu%c", &v, &unit) >= 1) {
			v *= unit == 'K' ? 1024ull : unit == 'M' ? 1048576ull : 1ull;
			if (v > best)
				best = v;
		}
		fclose(f);
	}
	return best;
}

uint64_t sm_membw_default_bytes(void)
{
	uint64_t llc = llc_bytes(), b = 1ull << 30;

	if (llc * 8 > b)
		b = (llc * 8 + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
	return b;
}

/* Share [lo, hi) of n words for this thread, in whole cache lines. */
static void share(size_t n, size_t *lo, size_t *hi)
{
	size_t t = (size_t)omp_get_thread_num(), nt = (size_t)omp_get_num_threads();
	size_t lines = n / 8;

	*lo = lines * t / nt * 8;
	*hi = lines * (t + 1) / nt * 8;
}

uint64_t sm_membw_read_words(const uint64_t *a, size_t n)
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

/* One read pass, every thread over its share. */
static uint64_t read_pass(const uint64_t *a, size_t n)
{
	uint64_t sink = 0;

#pragma omp parallel reduction(^ : sink)
	{
		size_t lo, hi;

		share(n, &lo, &hi);
		sink ^= sm_membw_read_words(a + lo, hi - lo);
	}
	return sink;
}

static void copy_pass(uint64_t *dst, const uint64_t *src, size_t n)
{
#pragma omp parallel
	{
		size_t lo, hi;

		share(n, &lo, &hi);
		memcpy(dst + lo, src + lo, (hi - lo) * sizeof(*dst));
	}
}

int sm_membw_measure(uint64_t bytes, int runs, struct sm_membw *out)
{
	size_t n = bytes / sizeof(uint64_t) / 16 * 16;	/* words, even lines per half */
	uint64_t *a = aligned_alloc(64, n * sizeof(uint64_t)), sink = 0;
	double best_r = 0, best_c = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (!a)
		return -1;
	/* first touch by the thread that reads it later (NUMA placement) */
#pragma omp parallel
	{
		size_t lo, hi, i;

		share(n, &lo, &hi);
		for (i = lo; i < hi; i++)
			a[i] = i;
	}
	read_pass(a, n);	/* warm-up: page tables, clocks */
	for (r = 0; r < runs; r++) {
		double t = now_s(), dt;

		sink ^= read_pass(a, n);
		dt = now_s() - t;
		if (dt > 0 && n * 8.0 / dt > best_r)
			best_r = n * 8.0 / dt;
		t = now_s();
		copy_pass(a + n / 2, a, n / 2);
		dt = now_s() - t;
		if (dt > 0 && n * 8.0 / dt > best_c)	/* n/2 words read + n/2 written */
			best_c = n * 8.0 / dt;
	}
	out->threads = omp_get_max_threads();
	out->runs = runs;
	out->bytes = (uint64_t)n * 8;
	membw_sink = sink;
	out->read_gbs = best_r / 1e9;
	out->copy_gbs = best_c / 1e9;
	free(a);
	return 0;
}

int sm_membw_in_child(int (*measure)(void *arg, void *out), void *arg, void *out,
		      size_t outlen)
{
	size_t got = 0;
	int fds[2], status = 0;
	pid_t pid;

	fflush(NULL);
	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(fds[0]);
		close(fds[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		if (measure(arg, out) || write(fds[1], out, outlen) != (ssize_t)outlen)
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	while (got < outlen) {
		ssize_t r = read(fds[0], (char *)out + got, outlen - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return got == outlen && WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -2;
}
