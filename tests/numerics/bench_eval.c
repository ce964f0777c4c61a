// SPDX-License-Identifier: MIT
/*
 * Prefill and decode speed of the forward pass on a model directory, per
 * compute type, ungated and gated through the in-process arbiter. Measures,
 * asserts nothing; then weights mapped in place against packed (backend.h)
 * in bf16 on MODEL_DIR and, given an f32 checkpoint F32_DIR, in f32.
 * Usage: bench_eval MODEL_DIR [threads [F32_DIR]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "config/options.h"
#include "arbiter/arbiter_impl.h"
#include "engine/inference.h"
#include "model/model.h"

#define PROMPT 48
#define DECODE 128
#define ROUNDS 20

static double secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Prefill and decode tok/s into rate[0], rate[1]. */
static int bench(const struct phimoe_model *m, enum sm_compute c, enum sm_weights_layout w,
		 int threads, struct sm_arbiter *arb, double rate[2])
{
	struct phimoe_session_opts o = {
		.compute = c, .threads = threads, .max_seq = PROMPT + DECODE + 1,
		.arbiter = arb, .weights = w,
	};
	struct phimoe_session_stats st;
	struct phimoe_session *s;
	int32_t ids[PROMPT];
	char err[256];
	double tp = 0, td = 0;

	for (int i = 0; i < PROMPT; i++)
		ids[i] = 1 + (i * 37) % (m->cfg.vocab_size - 40);
	if (phimoe_session_create(m, &o, &s, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (int r = 0; r <= ROUNDS; r++) {	/* round 0 warms the primitives */
		const float *lg = phimoe_session_logits(s);
		double t0 = secs();

		phimoe_session_reset(s);
		if (phimoe_prefill(s, ids, PROMPT, NULL))
			goto fail;
		double t1 = secs();

		for (int i = 0; i < DECODE; i++) {
			int best = 0;

			for (int v = 1; v < m->cfg.vocab_size; v++)
				if (lg[v] > lg[best])
					best = v;
			if (phimoe_decode(s, best, &lg))
				goto fail;
		}
		if (r) {
			tp += t1 - t0;
			td += secs() - t1;
		}
	}
	rate[0] = PROMPT * ROUNDS / tp;
	rate[1] = DECODE * ROUNDS / td;
	phimoe_session_get_stats(s, &st);
	printf("%-5s %-8s weights %-6s (%.2f MB packed, %.2f MB mapped) threads %d: prefill %8.1f tok/s (%d-token prompt), decode %8.1f tok/s (%d tokens), %d rounds\n",
	       sm_compute_name(phimoe_session_compute(s)), arb ? "gated" : "ungated",
	       sm_weights_layout_name(w), st.packed_weight_bytes / 1e6,
	       st.mapped_weight_bytes / 1e6, threads, rate[0], PROMPT, rate[1], DECODE, ROUNDS);
	phimoe_session_destroy(s);
	return 0;
fail:
	fprintf(stderr, "bench: %s\n", phimoe_session_error(s));
	phimoe_session_destroy(s);
	return 1;
}

/* Mapped against packed weights, ungated, in compute type c. */
static int bench_layouts(const struct phimoe_model *m, enum sm_compute c, int threads)
{
	double rm[2], rp[2];
	int rc = bench(m, c, SM_WEIGHTS_MAPPED, threads, NULL, rm);

	rc |= bench(m, c, SM_WEIGHTS_PACKED, threads, NULL, rp);
	if (!rc)
		printf("%-5s mapped/packed ungated: prefill %.2fx, decode %.2fx\n", sm_compute_name(c),
		       rm[0] / rp[0], rm[1] / rp[1]);
	return rc;
}

int main(int argc, char **argv)
{
	static struct phimoe_model m;
	struct sm_arbiter_opts ao = { .kind = SM_ARB_PROCESS };
	struct sm_arbiter *arb;
	char err[PHIMOE_ERRLEN];
	int threads = argc > 2 ? atoi(argv[2]) : 2, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s MODEL_DIR [threads]\n", argv[0]);
		return 2;
	}
	if (phimoe_model_load(argv[1], &m, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (sm_arbiter_open_process(&ao, &arb, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	{
		double r[4][2] = { { 0 } };
		static const char *const name[2] = { "f32", "bf16" };

		rc |= bench(&m, SM_COMPUTE_F32, SM_WEIGHTS_AUTO, threads, NULL, r[0]);
		rc |= bench(&m, SM_COMPUTE_BF16, SM_WEIGHTS_AUTO, threads, NULL, r[1]);
		rc |= bench(&m, SM_COMPUTE_F32, SM_WEIGHTS_AUTO, threads, arb, r[2]);
		rc |= bench(&m, SM_COMPUTE_BF16, SM_WEIGHTS_AUTO, threads, arb, r[3]);
		for (int i = 0; !rc && i < 2; i++)
			printf("%-5s gated/ungated: prefill %.2fx, decode %.2fx\n", name[i],
			       r[2 + i][0] / r[i][0], r[2 + i][1] / r[i][1]);
		if (!rc)
			printf("bf16/f32 ungated: prefill %.2fx, decode %.2fx\n", r[1][0] / r[0][0],
			       r[1][1] / r[0][1]);
	}
	if (!rc)
		rc = bench_layouts(&m, SM_COMPUTE_BF16, threads);
	if (!rc && argc > 3) {
		static struct phimoe_model m32;

		if (phimoe_model_load(argv[3], &m32, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			rc = 1;
		} else {
			rc = bench_layouts(&m32, SM_COMPUTE_F32, threads);
			phimoe_model_free(&m32);
		}
	}
	sm_arbiter_close(arb);
	phimoe_model_free(&m);
	return rc;
}
