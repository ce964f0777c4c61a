// SPDX-License-Identifier: MIT
/*
 * Batched decode (phimoe_batch) in the two regimes a benchmark can feed:
 *   same      every sequence gets token 0 for its prompt and every decode
 *             step, as llama.cpp's llama-batched-bench does: the rows of a
 *             step are alike, so every one picks the same two experts and
 *             a step reads no more expert weights than one sequence does;
 *   distinct  every sequence its own seeded random ids, as `splitmoe bench
 *             --parallel` and real serving: the rows pick different
 *             experts (about 10 of 16 per layer at 8 rows).
 * For each regime and each S: S sequences take their P-token prompts
 * (untimed), then N timed steps of one token each, logits for every
 * sequence. Decode tok/s (all the sequences' tokens over the N steps) as
 * the mean and range of R runs, and the ratio to one sequence of the same
 * regime; and the same tokens per second of the process's CPU time, which
 * a machine shared with other work disturbs less. Measures, asserts nothing.
 * Usage: bench_batch MODEL_DIR [threads [S,S... [N [P [R]]]]]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/options.h"
#include "engine/inference.h"
#include "model/model.h"

#define MAX_S 64

enum regime { SAME, DISTINCT };

struct setup {
	const struct phimoe_model *m;
	int threads, n, p, reps;
};

static double secs(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Sequence i's ids: prompt then one per decode step. */
static void fill_ids(int32_t *ids, int count, int vocab, enum regime r, int i)
{
	uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);

	for (int j = 0; j < count; j++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		ids[j] = r == SAME ? 0 : (int32_t)(x % (uint64_t)vocab);
	}
}

/* One run of S sequences: decode tok/s over the N steps, or < 0; tokens
 * per second of the process's CPU time into *cpu_rate. */
static double run_once(struct phimoe_session *s, const struct setup *u, int S,
		       const int32_t *ids, float *logits, double *cpu_rate)
{
	struct phimoe_batch_item items[MAX_S];
	int seq[MAX_S], stride = u->p + u->n, V = u->m->cfg.vocab_size;
	double t0, c0;

	phimoe_session_reset(s);
	seq[0] = 0;
	for (int i = 1; i < S; i++)
		if ((seq[i] = phimoe_seq_open(s)) < 0)
			return -1;
	for (int i = 0; i < S; i++) {	/* prompts, a sequence a step */
		items[0] = (struct phimoe_batch_item){ .seq = seq[i], .ids = ids + (size_t)i * stride,
						       .n = u->p, .logits = logits };
		if (phimoe_batch(s, items, 1))
			return -1;
	}
	t0 = secs(CLOCK_MONOTONIC);
	c0 = secs(CLOCK_PROCESS_CPUTIME_ID);
	for (int step = 0; step < u->n; step++) {
		for (int i = 0; i < S; i++)
			items[i] = (struct phimoe_batch_item){
				.seq = seq[i], .ids = ids + (size_t)i * stride + u->p + step, .n = 1,
				.logits = logits + (size_t)i * V,
			};
		if (phimoe_batch(s, items, S))
			return -1;
	}
	t0 = secs(CLOCK_MONOTONIC) - t0;
	*cpu_rate = (double)S * u->n / (secs(CLOCK_PROCESS_CPUTIME_ID) - c0);
	for (int i = 1; i < S; i++)
		phimoe_seq_close(s, seq[i]);
	return (double)S * u->n / t0;
}

/* S sequences in regime r: mean tok/s into mean[0], per CPU second into
 * mean[1]; single: the same of one sequence (NULL: this is it). 0 or 1. */
static int bench(struct phimoe_session *s, const struct setup *u, enum regime r, int S,
		 const double *single, double mean[2])
{
	int stride = u->p + u->n, V = u->m->cfg.vocab_size;
	int32_t *ids = malloc(sizeof(*ids) * (size_t)S * stride);
	float *logits = malloc(sizeof(*logits) * (size_t)S * V);
	double lo = 1e30, hi = 0, sum = 0, csum = 0;
	int rc = 1;

	if (!ids || !logits)
		goto out;
	for (int i = 0; i < S; i++)
		fill_ids(ids + (size_t)i * stride, stride, V, r, i);
	for (int rep = 0; rep <= u->reps; rep++) {	/* rep 0 warms up */
		double c, t = run_once(s, u, S, ids, logits, &c);

		if (t < 0) {
			fprintf(stderr, "bench_batch: %s\n", phimoe_session_error(s));
			goto out;
		}
		if (!rep)
			continue;
		sum += t;
		csum += c;
		lo = t < lo ? t : lo;
		hi = t > hi ? t : hi;
	}
	mean[0] = sum / u->reps;
	mean[1] = csum / u->reps;
	printf("| %-8s | %4d | %12.2f | %8.2f - %-8.2f | %13.2f | %8.2f | %15.2f | %8.2f |\n",
	       r == SAME ? "same" : "distinct", S, mean[0], lo, hi, mean[0] / S,
	       single ? mean[0] / single[0] : 1.0, mean[1], single ? mean[1] / single[1] : 1.0);
	fflush(stdout);
	rc = 0;
out:
	free(ids);
	free(logits);
	return rc;
}

static int parse_list(const char *arg, int *out, int max)
{
	int n = 0;

	for (const char *p = arg; *p && n < max;) {
		char *end;
		long v = strtol(p, &end, 10);

		if (end == p || v < 1 || v > MAX_S)
			return -1;
		out[n++] = (int)v;
		p = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -1;
	}
	return n;
}

int main(int argc, char **argv)
{
	static struct phimoe_model m;
	struct setup u = { .m = &m, .threads = 2, .n = 16, .p = 32, .reps = 3 };
	int list[16] = { 1, 8 }, nl = 2, most = 1, rc = 0;
	struct phimoe_session *s;
	char err[PHIMOE_ERRLEN];

	if (argc < 2) {
		fprintf(stderr, "usage: %s MODEL_DIR [threads [S,S... [N [P [R]]]]]\n", argv[0]);
		return 2;
	}
	if (argc > 2)
		u.threads = atoi(argv[2]);
	if (argc > 3 && (nl = parse_list(argv[3], list, 16)) < 1) {
		fprintf(stderr, "bench_batch: bad sequence list '%s' (1..%d each)\n", argv[3], MAX_S);
		return 2;
	}
	if (argc > 4)
		u.n = atoi(argv[4]);
	if (argc > 5)
		u.p = atoi(argv[5]);
	if (argc > 6)
		u.reps = atoi(argv[6]);
	if (u.threads < 1 || u.n < 1 || u.p < 1 || u.reps < 1) {
		fprintf(stderr, "bench_batch: threads, N, P and R must be >= 1\n");
		return 2;
	}
	for (int i = 0; i < nl; i++)
		most = list[i] > most ? list[i] : most;
	if (phimoe_model_load(argv[1], &m, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct phimoe_session_opts o = {
		.compute = sm_compute_default(), .threads = u.threads,
		.max_seq = u.p + u.n + 1, .max_seqs = most,
		.kv_tokens = (u.p + u.n + PHIMOE_KV_BLOCK) * most,
		.quant = m.cfg.quant != PHIMOE_QUANT_NONE ? SM_QUANT_NONE :
			 sm_quant_default(m.cfg.storage_dtype),
	};
	if (phimoe_session_create(&m, &o, &s, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		phimoe_model_free(&m);
		return 1;
	}
	printf("%s: %d threads, compute %s, prompts of %d (untimed), %d decode steps, %d runs "
	       "after a warm-up\n\n", argv[1], u.threads, sm_compute_name(phimoe_session_compute(s)),
	       u.p, u.n, u.reps);
	printf("| regime   | seqs | decode tok/s | range (tok/s)       | tok/s per seq | x single | tok per CPU-s | x single |\n");
	printf("| ---      | ---: | ---:         | ---:                | ---:          | ---:     | ---:          | ---:     |\n");
	for (int r = SAME; !rc && r <= DISTINCT; r++) {
		double single[2] = { 0 }, t[2];

		rc = bench(s, &u, (enum regime)r, 1, NULL, single);
		for (int i = 0; !rc && i < nl; i++)
			if (list[i] > 1)
				rc = bench(s, &u, (enum regime)r, list[i], single, t);
	}
	printf("\ntok per CPU-s: the same tokens over the CPU time of the process (every\n"
	       "thread; spinning OpenMP threads count): the work, less a shared machine's waits\n");
	phimoe_session_destroy(s);
	phimoe_model_free(&m);
	return rc;
}
