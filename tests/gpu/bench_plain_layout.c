// SPDX-License-Identifier: MIT
/*
 * What the one-copy experts cost the CPU: oneDNN matmul on the row-major
 * weight that the iGPU reads too (dmm_weights_wrap) against the same
 * weight reordered into oneDNN's preferred layout (dmm_weights_create),
 * per (k, n, m) and compute type. Single-threaded, so that the figure is
 * the kernel's and not the shared machine's. Reports ms per product and
 * the ratio plain/packed; asserts nothing.
 *
 * Each case cycles through distinct weights worth more than the last-level
 * cache (DRAM-bound, like decode) and keeps the best of 6 interleaved
 * (ABBA) passes of each.
 *
 * usage: bench_plain_layout
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu_math.h"
#include "cpu/dnnl_matmul.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Distinct weights per case, more bytes than the last-level cache holds:
 * every product reads its weight from DRAM, as an expert in decode does. */
#define SET_BYTES (96ull << 20)
#define MAX_SET 64
#define ROUNDS 6

/* ms per product over one pass through the set (the first pass creates
 * the primitive of this m and is not timed by the caller's min). */
static double pass(struct dmm_ctx *c, struct dmm_weights **w, int nw, const float *x, int m,
		   float *y)
{
	double t0 = now_s();

	for (int i = 0; i < nw; i++)
		if (dmm_run(c, w[i], x, m, y))
			return -1;
	return (now_s() - t0) * 1e3 / nw;
}

static double minf(double a, double b)
{
	return a < 0 || b < 0 ? -1 : a < b ? a : b;
}

int main(void)
{
	static const int shapes[][2] = {	/* k, n: the fused w1|w3 and w2 products */
		{ 128, 128 }, { 64, 128 },	/* the fixture's expert (hidden 128, inter 64) */
		{ 4096, 896 }, { 448, 4096 },	/* hidden 4096, intermediate 448 */
		{ 4096, 1920 }, { 960, 4096 },	/* hidden 4096, intermediate 960 */
	};
	static const int rows[] = { 1, 4, 32, 128 };
	char err[256];

	omp_set_num_threads(1);
	printf("oneDNN on row-major weights (one copy, read by the iGPU too) vs packed, %s, 1 thread,\n"
	       "weights from DRAM (%llu MB per set); ms per product, best of %d\n", dmm_isa_name(),
	       SET_BYTES >> 20, ROUNDS / 2);
	printf("%-5s %6s %6s %5s %12s %12s %7s\n", "type", "k", "n", "m", "packed ms", "plain ms",
	       "ratio");
	for (int bf = 0; bf < 2; bf++) {
		struct dmm_ctx *c = NULL;

		if (bf && !dmm_cpu_has_bf16()) {
			printf("bf16: no bf16 matmul on this CPU, skipped\n");
			break;
		}
		if (dmm_ctx_create(bf, 128, 1, &c, err, sizeof(err))) {
			fprintf(stderr, "bench_plain_layout: %s\n", err);
			return 1;
		}
		for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
			int k = shapes[s][0], n = shapes[s][1];
			size_t esz = bf ? 2 : 4, wbytes = (size_t)n * k * esz;
			int nw = (int)(SET_BYTES / wbytes) + 1;
			void *wdata[MAX_SET];
			struct dmm_weights *packed[MAX_SET], *plain[MAX_SET];
			float *x = malloc(sizeof(float) * 128 * k), *y = malloc(sizeof(float) * 128 * n);

			if (nw > MAX_SET)
				nw = MAX_SET;
			if (!x || !y)
				return 1;
			for (size_t i = 0; i < (size_t)128 * k; i++)
				x[i] = (float)cos(0.03 * (double)i);
			for (int j = 0; j < nw; j++) {
				struct phimoe_tensor t = { .name = "w", .ndim = 2, .shape = { n, k },
							   .numel = (size_t)n * k };

				wdata[j] = malloc(wbytes);
				if (!wdata[j])
					return 1;
				for (size_t i = 0; i < (size_t)n * k; i++) {
					float v = (float)sin(0.01 * (double)(i + j)) * 0.05f;

					if (bf)
						((uint16_t *)wdata[j])[i] = phimoe_f32_to_bf16(v);
					else
						((float *)wdata[j])[i] = v;
				}
				t.dtype = bf ? PHIMOE_DTYPE_BF16 : PHIMOE_DTYPE_F32;
				t.nbytes = wbytes;
				t.data = wdata[j];
				if (dmm_weights_create(c, &t, NULL, 1, &packed[j], err, sizeof(err)) ||
				    dmm_weights_wrap(c, wdata[j], t.dtype, n, k, &plain[j], err,
						     sizeof(err))) {
					fprintf(stderr, "bench_plain_layout: %s\n", err);
					return 1;
				}
			}
			for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
				int m = rows[r];
				double tp = 1e30, tl = 1e30;

				pass(c, packed, nw, x, m, y);	/* primitives of this m */
				pass(c, plain, nw, x, m, y);
				for (int round = 0; round < ROUNDS; round++) {	/* ABBA */
					if (round % 2 == 0) {
						tp = minf(tp, pass(c, packed, nw, x, m, y));
						tl = minf(tl, pass(c, plain, nw, x, m, y));
					} else {
						tl = minf(tl, pass(c, plain, nw, x, m, y));
						tp = minf(tp, pass(c, packed, nw, x, m, y));
					}
				}
				printf("%-5s %6d %6d %5d %12.4f %12.4f %7.2f\n", bf ? "bf16" : "f32",
				       k, n, m, tp, tl, tp > 0 ? tl / tp : 0);
			}
			for (int j = 0; j < nw; j++) {
				dmm_weights_destroy(packed[j]);
				dmm_weights_destroy(plain[j]);
				free(wdata[j]);
			}
			free(x);
			free(y);
		}
		dmm_ctx_destroy(c);
	}
	return 0;
}
