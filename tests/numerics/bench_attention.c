// SPDX-License-Identifier: MIT
/*
 * Microseconds per attention call, scalar reference (cm_attention) against
 * ca_attention on each ISA path this CPU has, with 1 and 2 threads (or the
 * counts given): decode (one query) at contexts 512, 2048, 4096 and a
 * 512-token prefill as two chunks of 256 (pos0 0 and 256). Shape of
 * PhiMoE: 16 heads, 4 kv heads, head_dim 128, no window. Each figure is
 * "fastest/median" of calls timed one by one for about 0.3 s (on a shared
 * machine the fastest says what the code does, the median what other
 * load made of it); the max abs difference from the reference is printed
 * as a sanity check. Measures, asserts nothing.
 * Usage: bench_attention [threads...]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cpu/cpu_attention.h"
#include "cpu/cpu_math.h"

#define NH 16
#define NKV 4
#define HD 128
#define MAXCTX 4096

static double secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *q, *k, *v, *ref, *out, *scratch;

struct shape {
	const char *name;
	int m, pos0;
};

/* threads 0: the scalar reference */
static void run(const struct shape *s, int threads, float *dst)
{
	float scale = 1.0f / sqrtf((float)HD);

	if (threads == 0)
		cm_attention(q, NH * HD, s->m, s->pos0, NH, NKV, HD, 0, scale, k, v, dst, scratch);
	else
		ca_attention(q, NH * HD, s->m, s->pos0, NH, NKV, HD, 0, scale, k, v, dst, threads);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Each call timed alone, for about 0.3 s (at most MAXCALLS calls, at least
 * 5): the fastest and the median call in microseconds. */
#define MAXCALLS 2000
static void time_us(const struct shape *s, int threads, double *best, double *median)
{
	static double us[MAXCALLS];
	double start = secs();
	int n = 0;

	run(s, threads, out);	/* warm: caches, OpenMP threads */
	while (n < MAXCALLS && (n < 5 || secs() - start < 0.3)) {
		double t0 = secs();

		run(s, threads, out);
		us[n++] = (secs() - t0) * 1e6;
	}
	qsort(us, n, sizeof(us[0]), cmp_double);
	*best = us[0];
	*median = us[n / 2];
}

static const char *fmt(double best, double median)
{
	static char buf[4][32];
	static int at;

	at = (at + 1) % 4;
	if (median >= 10000)
		snprintf(buf[at], sizeof(buf[at]), "%.0f/%.0f", best, median);
	else
		snprintf(buf[at], sizeof(buf[at]), "%.1f/%.1f", best, median);
	return buf[at];
}

int main(int argc, char **argv)
{
	static const struct shape shapes[] = {
		{ "decode ctx 512", 1, 511 },
		{ "decode ctx 2048", 1, 2047 },
		{ "decode ctx 4096", 1, 4095 },
		{ "prefill 256 @0", 256, 0 },
		{ "prefill 256 @256", 256, 256 },
	};
	static const char *const isas[] = { "generic", "avx2", "avx512" };
	int nshapes = (int)(sizeof(shapes) / sizeof(shapes[0]));
	int threads[8] = { 1, 2 }, nthreads = 2;
	size_t kvn = (size_t)MAXCTX * NKV * HD;
	unsigned seed = 1;

	if (argc > 1) {
		nthreads = 0;
		for (int i = 1; i < argc && nthreads < 8; i++)
			threads[nthreads++] = atoi(argv[i]);
	}
	q = malloc(sizeof(float) * 256 * NH * HD);
	k = malloc(sizeof(float) * kvn);
	v = malloc(sizeof(float) * kvn);
	ref = malloc(sizeof(float) * 256 * NH * HD);
	out = malloc(sizeof(float) * 256 * NH * HD);
	scratch = malloc(sizeof(float) * MAXCTX);
	if (!q || !k || !v || !ref || !out || !scratch)
		return 1;
	for (size_t i = 0; i < 256 * NH * HD; i++) {
		seed = seed * 1103515245u + 12345u;
		q[i] = ((seed >> 8) & 0xffff) / 16384.0f - 2.0f;
	}
	for (size_t i = 0; i < kvn; i++) {
		seed = seed * 1103515245u + 12345u;
		k[i] = ((seed >> 8) & 0xffff) / 16384.0f - 2.0f;
		seed = seed * 1103515245u + 12345u;
		v[i] = ((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
	}

	printf("attention, %d heads / %d kv heads, head_dim %d; us per call, fastest/median; "
	       "default path %s\n", NH, NKV, HD, ca_isa_name(ca_isa_current()));
	printf("%-18s %15s", "", "scalar ref");
	for (int p = 0; p < 3; p++)
		if (ca_isa_supported(p))
			for (int t = 0; t < nthreads; t++) {
				char col[32];

				snprintf(col, sizeof(col), "%s %dt", isas[p], threads[t]);
				printf(" %15s", col);
			}
	printf("  max|diff|\n");
	double total[1 + 3 * 8] = { 0 }, totmed[1 + 3 * 8] = { 0 };

	for (int s = 0; s < nshapes; s++) {
		int c = 0;
		double err = 0;

		printf("%-18s", shapes[s].name);
		fflush(stdout);
		run(&shapes[s], 0, ref);
		double us, med;

		time_us(&shapes[s], 0, &us, &med);
		printf(" %15s", fmt(us, med));
		fflush(stdout);
		if (shapes[s].m > 1) {
			total[c] += us;
			totmed[c] += med;
		}
		c++;
		for (int p = 0; p < 3; p++) {
			if (ca_isa_supported(p) != 1)
				continue;
			ca_force_isa(isas[p]);
			for (int t = 0; t < nthreads; t++, c++) {
				time_us(&shapes[s], threads[t], &us, &med);
				printf(" %15s", fmt(us, med));
				fflush(stdout);
				if (shapes[s].m > 1) {
					total[c] += us;
					totmed[c] += med;
				}
				for (int i = 0; i < shapes[s].m * NH * HD; i++) {
					double e = fabs((double)out[i] - ref[i]);

					err = e > err ? e : err;
				}
			}
		}
		printf("  %.1e\n", err);
	}
	printf("%-18s", "prefill 512 total");
	for (int c = 0; c < 1 + 3 * nthreads; c++)
		if (total[c] > 0)
			printf(" %15s", fmt(total[c], totmed[c]));
	printf("\n");
	ca_force_isa(NULL);
	free(q);
	free(k);
	free(v);
	free(ref);
	free(out);
	free(scratch);
	return 0;
}
