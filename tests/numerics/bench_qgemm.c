// SPDX-License-Identifier: MIT
/*
 * Quantized products (cpu_qgemm.h) alone, on every kernel path this CPU
 * runs (forced as SPLITMOE_ISA does), one thread: Phi-tiny-MoE's decode
 * shapes (q|k|v-like 4096 x 4096, an expert's w1 448 x 4096 and w2
 * 4096 x 448) at m = 1 (decode), 2 (int8 q|k|v decodes its input in two
 * int8 parts) and 4, int8 and q4; and one thread's share of a prefill
 * product on the fastest path (256 x 4096 at m = 512: a sixteenth of
 * q|k|v's rows, as on 16 threads), and that share on AMX where the CPU
 * has it (dequantized to bf16 blocks, cpu_qgemm_amx.h; with xq_fine too:
 * int8 q|k|v's input in two parts). Each figure is
 * the fastest call of about 0.3 s of calls (a shared machine: the fastest
 * says what the code does), in microseconds, and as GB/s of weight bytes
 * (codes and scales) and ns per 32-weight group and activation row.
 * Measures, asserts nothing.
 * Usage: bench_qgemm
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cpu/cpu_gemv.h"
#include "cpu/cpu_isa.h"
#include "cpu/cpu_qgemm.h"
#include "cpu/cpu_qgemm_amx.h"

static double secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double fastest_us(const struct sm_gemv *g)
{
	double best = 1e30, start = secs();
	int n = 0;

	sm_gemv_run(g, 1, 1);
	while (n < 5 || secs() - start < 0.3) {
		double t0 = secs();

		sm_gemv_run(g, 1, 1);
		t0 = (secs() - t0) * 1e6;
		best = t0 < best ? t0 : best;
		n++;
	}
	return best;
}

struct path {
	const char *name;
	enum sm_isa isa;
	int vnni;
};

int main(void)
{
	static const struct path paths[] = {
		{ "generic", SM_ISA_GENERIC, 1 }, { "avx2-novnni", SM_ISA_AVX2, 0 },
		{ "avx2", SM_ISA_AVX2, 1 }, { "avx512", SM_ISA_AVX512, 1 },
	};
	static const int shapes[][2] = { { 4096, 4096 }, { 448, 4096 }, { 4096, 448 } };
	static const int ms[] = { 1, 2, 4 };
	enum { MAXN = 4096, MAXK = 4096, MAXM = 512, PREFILL_N = 256 };
	uint8_t *w = malloc((size_t)MAXN * MAXK);
	uint16_t *sc = malloc(sizeof(uint16_t) * MAXN * (MAXK / SM_Q4_GROUP));
	float *x = malloc(sizeof(float) * MAXM * MAXK), *y = malloc(sizeof(float) * MAXM * MAXN);
	size_t xq_row = sm_qact_row_bytes(MAXK);
	void *xq;

	/* AMX's activation rows are bf16 hi and lo, padded to tiles */
	if (sm_qamx_act_row_bytes(MAXK) > xq_row)
		xq_row = sm_qamx_act_row_bytes(MAXK);
	xq = malloc((size_t)MAXM * xq_row);
	unsigned seed = 1;

	if (!w || !sc || !x || !y || !xq)
		return 1;
	for (size_t i = 0; i < (size_t)MAXN * MAXK; i++) {
		seed = seed * 1103515245u + 12345u;
		w[i] = (uint8_t)(seed >> 16);
	}
	for (size_t i = 0; i < (size_t)MAXN * (MAXK / SM_Q4_GROUP); i++)
		sc[i] = (uint16_t)(0x2000 + i % 0x1000);
	for (size_t i = 0; i < (size_t)MAXM * MAXK; i++) {
		seed = seed * 1103515245u + 12345u;
		x[i] = ((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
	}
	printf("quantized products, 1 thread: fastest us per call | weight GB/s | "
	       "ns per 32-weight group and row\n");
	for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
		bool best = p + 1 == sizeof(paths) / sizeof(paths[0]) ||
			    paths[p + 1].isa > sm_isa_best();

		if (paths[p].isa > sm_isa_best())
			continue;
		sm_isa_override(paths[p].isa);
		sm_isa_override_vnni(paths[p].vnni);
		printf("%s (kernel %s)\n", paths[p].name, sm_qkern_name(sm_qkern_active()));
		for (int q = SM_GEMV_Q8; q <= SM_GEMV_Q4; q++)
			for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
				for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]) + (best && !s);
				     mi++) {
					bool prefill = mi == sizeof(ms) / sizeof(ms[0]);
					struct sm_gemv g = {
						.w = w, .quant = (enum sm_gemv_quant)q, .wscale = sc,
						.n = prefill ? PREFILL_N : shapes[s][0],
						.k = shapes[s][1], .m = prefill ? MAXM : ms[mi],
						.x = x, .ldx = MAXK, .y = y, .ldy = MAXN, .xq = xq,
					};
					double groups = (double)g.n * (g.k / SM_Q4_GROUP);
					double bytes = groups * ((q == SM_GEMV_Q4 ? 16 : 32) + 2);
					double us = fastest_us(&g);

					printf("  %-4s n %4d k %4d m %3d: %9.1f us | %6.2f GB/s | "
					       "%6.3f ns\n", q == SM_GEMV_Q4 ? "q4" : "int8", g.n,
					       g.k, g.m, us, bytes / us * 1e-3,
					       us * 1e3 / (groups * g.m));
				}
	}
	sm_qamx_override(1);
	if (sm_qamx_ready()) {
		printf("avx512 with amx-bf16 (products of %d rows and more)\n", SM_QAMX_MIN_ROWS);
		for (int q = SM_GEMV_Q8; q <= SM_GEMV_Q4; q++)
			for (int fine = 0; fine <= 1; fine++) {
				struct sm_gemv g = {
					.w = w, .quant = (enum sm_gemv_quant)q, .wscale = sc,
					.n = PREFILL_N, .k = MAXK, .m = MAXM, .x = x, .ldx = MAXK,
					.y = y, .ldy = MAXN, .xq = xq, .xq_fine = fine,
				};
				double groups = (double)g.n * (g.k / SM_Q4_GROUP);
				double us = fastest_us(&g);

				printf("  %-4s n %4d k %4d m %3d%s: %9.1f us | %6.3f ns\n",
				       q == SM_GEMV_Q4 ? "q4" : "int8", g.n, g.k, g.m,
				       fine ? " fine" : "", us, us * 1e3 / (groups * g.m));
			}
	} else {
		printf("amx-bf16: not on this CPU\n");
	}
	free(w);
	free(sc);
	free(x);
	free(y);
	free(xq);
	return 0;
}
