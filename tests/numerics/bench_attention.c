// SPDX-License-Identifier: MIT
/*
 * Microseconds per attention call, scalar reference (cm_attention) against
 * ca_attention on each ISA path this CPU has, with 1 and 2 threads (or the
 * counts given): decode (one query) at contexts 512, 2048, 4096 and a
 * 512-token prefill as two chunks of 256 (pos0 0 and 256). Shape of
 * PhiMoE: 16 heads, 4 kv heads, head_dim 128, no window. Each figure is
 * the best of 5 rounds (the machine may be shared); the max abs difference
 * from the reference is printed as a sanity check. Measures, asserts
 * nothing. Usage: bench_attention [threads...]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cpu_attention.h"
#include "cpu_math.h"

#define NH 16
#define NKV 4
#define HD 128
#define MAXCTX 4096
#define ROUNDS 5

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

/* Best microseconds per call over ROUNDS rounds of about 50 ms. */
static double time_us(const struct shape *s, int threads)
{
	double t0 = secs();
	int reps = 0;

	do {
		run(s, threads, out);
		reps++;
	} while (secs() - t0 < 0.01);
	reps = (int)(reps * 5.0) + 1;	/* about 50 ms */
	double best = INFINITY;

	for (int r = 0; r < ROUNDS; r++) {
		t0 = secs();
		for (int i = 0; i < reps; i++)
			run(s, threads, out);
		double us = (secs() - t0) / reps * 1e6;

		if (us < best)
			best = us;
	}
	return best;
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

	printf("attention, %d heads / %d kv heads, head_dim %d; us per call (best of %d)\n",
	       NH, NKV, HD, ROUNDS);
	printf("%-18s %12s", "", "scalar ref");
	for (int p = 0; p < 3; p++)
		if (ca_isa_supported(p))
			for (int t = 0; t < nthreads; t++) {
				char col[32];

				snprintf(col, sizeof(col), "%s %dt", isas[p], threads[t]);
				printf(" %12s", col);
			}
	printf("  max|diff|\n");
	double total[1 + 3 * 8] = { 0 };

	for (int s = 0; s < nshapes; s++) {
		int c = 0;
		double err = 0;

		printf("%-18s", shapes[s].name);
		fflush(stdout);
		run(&shapes[s], 0, ref);
		double us = time_us(&shapes[s], 0);

		printf(" %12.1f", us);
		fflush(stdout);
		if (shapes[s].m > 1)
			total[c] += us;
		c++;
		for (int p = 0; p < 3; p++) {
			if (ca_isa_supported(p) != 1)
				continue;
			ca_force_isa(isas[p]);
			for (int t = 0; t < nthreads; t++, c++) {
				us = time_us(&shapes[s], threads[t]);
				printf(" %12.1f", us);
				fflush(stdout);
				if (shapes[s].m > 1)
					total[c] += us;
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
			printf(" %12.1f", total[c]);
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
