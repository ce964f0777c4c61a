// SPDX-License-Identifier: MIT
/*
 * Batched decode (inference.h: phimoe_seq_open/close, phimoe_batch): many
 * sequences through one forward pass per step give each the logits it
 * gets alone through phimoe_prefill/phimoe_decode. On fixture A and, when
 * present, fixture C (peaked logits), in f32 and bf16: sequences join and
 * leave between steps (continuous batching), prompts go in chunks while
 * others decode, a closed slot is reopened on the freed blocks; the KV
 * pool's exhaustion (-ENOSPC, nothing run), -EINVAL and -EBUSY cases; a
 * borrowed backend refuses max_seqs > 1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/options.h"
#include "backend/backend.h"
#include "cpu/dnnl_matmul.h"
#include "engine/inference.h"
#include "model/model.h"
#include "util/prng.h"
#include "cpu/cpu_qgemm_amx.h"
#include "cpu/quant.h"

#define FIXTURE_A "tests/fixtures/phimoe-tiny-a"
#define FIXTURE_C_LOCAL "tests/fixtures/phimoe-tiny-c"
#define FIXTURE_C_SHARED "../shared/fixtures/phimoe-tiny-c"

/* max |batched - alone| over a logits vector, relative to max(1, max|alone|):
 * the stacked products sum in another order than one row's (oneDNN
 * against the few-row kernels) */
#define TOL 1e-4

static struct phimoe_model models[2];
static const char *model_dirs[2];
static int nmodels;

static int setup(void **st)
{
	char err[PHIMOE_ERRLEN];
	const char *dirs[3] = { FIXTURE_A, FIXTURE_C_LOCAL, FIXTURE_C_SHARED };

	(void)st;
	for (int i = 0; i < 3 && nmodels < 2; i++) {
		if (i > 0 && (nmodels == 2 || access(dirs[i], R_OK)))
			continue;
		if (phimoe_model_load(dirs[i], &models[nmodels], err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			return -1;
		}
		model_dirs[nmodels++] = dirs[i];
		if (i == 1)
			i++;	/* C found in tests/fixtures: not twice */
	}
	if (nmodels < 2)
		printf("# fixture C (%s) absent: fixture A only\n", FIXTURE_C_SHARED);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	for (int i = 0; i < nmodels; i++)
		phimoe_model_free(&models[i]);
	return 0;
}

static int ncomputes(void)
{
	return dmm_cpu_has_bf16() ? 2 : 1;
}

static enum sm_compute compute_at(int i)
{
	return i == 0 ? SM_COMPUTE_F32 : SM_COMPUTE_BF16;
}

/* The CPU's int8 copy of the weights (quant.h) for the next sessions. */
static enum sm_quant quant;

static struct phimoe_session *open_session(const struct phimoe_model *m, enum sm_compute c,
					   int max_seqs, int kv_tokens, int max_batch)
{
	struct phimoe_session_opts o = {
		.compute = c, .threads = 2, .max_seq = 256, .max_batch = max_batch,
		.max_seqs = max_seqs, .kv_tokens = kv_tokens, .quant = quant,
	};
	struct phimoe_session *s = NULL;
	char err[256];
	int rc = phimoe_session_create(m, &o, &s, err, sizeof(err));

	if (rc)
		fprintf(stderr, "session: %s\n", err);
	assert_int_equal(rc, 0);
	return s;
}

static int argmax(const float *x, int n)
{
	int best = 0;

	for (int i = 1; i < n; i++)
		if (x[i] > x[best])
			best = i;
	return best;
}

/* One sequence of a schedule and its reference, run alone. */
struct seq_plan {
	int plen, chunk, join, steps;
	int32_t prompt[96];
	/* alone: logits after the prompt (0) and after each decode (1..) */
	float *ref;
	int32_t tok[16];	/* greedy tokens fed, tok[k] = argmax ref[k] */
	/* batched run */
	int id;			/* -1: not open */
	int fed, done;
	bool finished;
	double worst;
};

static void make_prompt(struct seq_plan *p, uint64_t seed, int vocab)
{
	uint64_t st[4], x = seed;

	for (int i = 0; i < 4; i++)
		st[i] = sm_splitmix64(&x);
	p->prompt[0] = 1;
	for (int i = 1; i < p->plen; i++)
		p->prompt[i] = 3 + (int32_t)(sm_xoshiro256ss(st) % (uint64_t)(vocab - 3));
}

static void run_alone(const struct phimoe_model *m, enum sm_compute c, struct seq_plan *p)
{
	struct phimoe_session *s = open_session(m, c, 1, 0, 0);
	int V = m->cfg.vocab_size;
	const float *lg;

	p->ref = malloc(sizeof(float) * V * (p->steps + 1));
	assert_non_null(p->ref);
	assert_int_equal(phimoe_prefill(s, p->prompt, p->plen, NULL), 0);
	memcpy(p->ref, phimoe_session_logits(s), sizeof(float) * V);
	for (int k = 0; k < p->steps; k++) {
		p->tok[k] = argmax(p->ref + (size_t)k * V, V);
		assert_int_equal(phimoe_decode(s, p->tok[k], &lg), 0);
		memcpy(p->ref + (size_t)(k + 1) * V, lg, sizeof(float) * V);
	}
	phimoe_session_destroy(s);
}

/* max |a - b| / max(1, max |b|); the argmaxes must agree. */
static double compare(const float *a, const float *b, int V, const char *what)
{
	double d = 0, mx = 1;

	for (int i = 0; i < V; i++) {
		double e = fabs((double)a[i] - b[i]);

		d = e > d ? e : d;
		mx = fabs(b[i]) > mx ? fabs(b[i]) : mx;
	}
	if (argmax(a, V) != argmax(b, V) || d / mx > TOL)
		fprintf(stderr, "%s: argmax %d vs %d alone, max|d| %.3g (scale %.3g)\n", what,
			argmax(a, V), argmax(b, V), d, mx);
	assert_int_equal(argmax(a, V), argmax(b, V));
	assert_true(d / mx <= TOL);
	return d / mx;
}

/*
 * Five sequences through a session of four (sequence 0 and three more):
 * S0 is sequence 0 (its prompt whole), S1's prompt goes in chunks of 16
 * while S0 decodes, S2 and S3 join later, S4 waits (-EBUSY) until a slot
 * frees and then takes it. Prompts cross block boundaries (32 tokens).
 */
static void continuous_batching(const struct phimoe_model *m, const char *dir, enum sm_compute c)
{
	struct seq_plan p[5] = {
		{ .plen = 37, .chunk = 64, .join = 0, .steps = 10 },
		{ .plen = 70, .chunk = 16, .join = 0, .steps = 6 },
		{ .plen = 5, .chunk = 5, .join = 2, .steps = 12 },
		{ .plen = 33, .chunk = 8, .join = 3, .steps = 4 },
		{ .plen = 20, .chunk = 7, .join = 5, .steps = 5 },
	};
	int V = m->cfg.vocab_size, np = 5, left = np, busy = 0;
	struct phimoe_session *s;
	struct phimoe_batch_item items[5];
	float *out = malloc(sizeof(float) * V * np);
	double worst = 0;

	assert_non_null(out);
	for (int i = 0; i < np; i++) {
		make_prompt(&p[i], 1000 + i, V);
		run_alone(m, c, &p[i]);
		p[i].id = -1;
	}
	s = open_session(m, c, 4, 0, 64);
	for (int step = 0; left > 0; step++) {
		int n = 0;

		assert_true(step < 100);
		for (int i = 0; i < np; i++) {
			if (p[i].id >= 0 || p[i].finished || step < p[i].join)
				continue;
			if (i == 0) {
				p[i].id = 0;
				continue;
			}
			int id = phimoe_seq_open(s);

			if (id == -EBUSY) {
				busy++;
				continue;
			}
			assert_true(id >= 1 && id < 4);
			assert_int_equal(phimoe_seq_pos(s, id), 0);
			p[i].id = id;
		}
		for (int i = 0; i < np; i++) {
			struct seq_plan *q = &p[i];
			struct phimoe_batch_item *it = &items[n];

			if (q->id < 0)
				continue;
			it->seq = q->id;
			it->logits = out + (size_t)n * V;
			if (q->fed < q->plen) {
				it->n = q->plen - q->fed < q->chunk ? q->plen - q->fed : q->chunk;
				it->ids = q->prompt + q->fed;
				if (q->fed + it->n < q->plen)
					it->logits = NULL;
			} else {
				it->n = 1;
				it->ids = &q->tok[q->done];
			}
			n++;
		}
		assert_true(n > 0);
		assert_int_equal(phimoe_batch(s, items, n), 0);
		for (int i = 0, j = 0; i < np; i++) {
			struct seq_plan *q = &p[i];
			char what[160];

			if (q->id < 0)
				continue;
			const struct phimoe_batch_item *it = &items[j++];

			if (q->fed < q->plen)
				q->fed += it->n;
			else
				q->done++;
			assert_int_equal(phimoe_seq_pos(s, q->id), q->fed + q->done);
			if (!it->logits)
				continue;
			snprintf(what, sizeof(what), "%s %s: S%d step %d (pos %d)", dir,
				 sm_compute_name(c), i, step, q->fed + q->done);
			double d = compare(it->logits, q->ref + (size_t)q->done * V, V, what);

			worst = d > worst ? d : worst;
			if (q->done == q->steps) {
				if (q->id)
					phimoe_seq_close(s, q->id);
				assert_int_equal(phimoe_seq_pos(s, q->id), q->id ? -EINVAL : q->plen + q->steps);
				q->id = -1;
				q->finished = true;
				left--;
			}
		}
	}
	/* S4 waited for a slot */
	assert_true(busy > 0);
	printf("# %s %s: 5 sequences, continuous batching: max |d| %.3g of the logit scale, "
	       "argmax equal\n", dir, sm_compute_name(c), worst);
	for (int i = 0; i < np; i++)
		free(p[i].ref);
	free(out);
	phimoe_session_destroy(s);
}

static void test_continuous_batching(void **st)
{
	(void)st;
	for (int mi = 0; mi < nmodels; mi++)
		for (int ci = 0; ci < ncomputes(); ci++)
			continuous_batching(&models[mi], model_dirs[mi], compute_at(ci));
}

/*
 * 40 sequences decoding together: 40 rows, past the few-row kernels'
 * thresholds (32 rows a linear layer, 8 an expert), so oneDNN's products
 * and the batched attention on more items than a thread count; the
 * prompts go in one batch of 40 items. f32, bf16, and f32 over the int8
 * weights (the quantized kernels take any row count). AMX is turned off
 * here (it is on by default where the CPU has it): there
 * products of 16+ rows take their activations in bf16 rather than in
 * int8 groups (cpu_qgemm_amx.h), another rounding than a row's alone,
 * checked against the exact product in numerics-qkernels.
 */
static void test_many_sequences(void **st)
{
	enum { S = 40, STEPS = 3 };
	const struct phimoe_model *m = &models[0];
	int V = m->cfg.vocab_size;
	struct seq_plan *p = calloc(S, sizeof(*p));
	struct phimoe_batch_item items[S];
	float *out = malloc(sizeof(float) * V * S);

	(void)st;
	assert_non_null(p);
	assert_non_null(out);
	for (int ci = 0; ci <= ncomputes(); ci++) {
		/* the last round: f32 over int8 weights */
		enum sm_compute c = ci < ncomputes() ? compute_at(ci) : SM_COMPUTE_F32;
		struct phimoe_session *s;

		quant = ci < ncomputes() ? SM_QUANT_NONE : SM_QUANT_INT8;
		sm_qamx_override(0);
		s = open_session(m, c, S, 0, 256);
		double worst = 0;

		for (int i = 0; i < S; i++) {
			p[i].plen = 2 + i % 5;
			p[i].steps = STEPS;
			make_prompt(&p[i], 77 + i, V);
			run_alone(m, c, &p[i]);
			p[i].id = i ? phimoe_seq_open(s) : 0;
			assert_true(p[i].id >= 0);
			items[i] = (struct phimoe_batch_item){ .seq = p[i].id, .ids = p[i].prompt,
							       .n = p[i].plen, .logits = out + (size_t)i * V };
		}
		assert_int_equal(phimoe_batch(s, items, S), 0);
		for (int k = 0; k <= STEPS; k++) {
			for (int i = 0; i < S; i++) {
				char what[64];

				snprintf(what, sizeof(what), "%s S%d step %d", sm_compute_name(c), i, k);
				double d = compare(out + (size_t)i * V, p[i].ref + (size_t)k * V, V, what);

				worst = d > worst ? d : worst;
				items[i] = (struct phimoe_batch_item){ .seq = p[i].id, .ids = &p[i].tok[k],
								       .n = 1, .logits = out + (size_t)i * V };
			}
			if (k < STEPS)
				assert_int_equal(phimoe_batch(s, items, S), 0);
		}
		printf("# %s%s: %d sequences decoding together: max |d| %.3g of the logit scale\n",
		       sm_compute_name(c), quant ? " int8" : "", S, worst);
		for (int i = 0; i < S; i++)
			free(p[i].ref);
		phimoe_session_destroy(s);
	}
	quant = SM_QUANT_NONE;
	sm_qamx_override(-1);
	free(p);
	free(out);
}

/*
 * The pool: 4 blocks of 32 tokens. Filling it refuses the next block
 * with -ENOSPC and runs nothing (positions kept, the running sequence
 * still decodes as alone); closing returns the blocks (reopen, fill
 * again); the per-sequence max_seq limit refuses too.
 */
static void test_pool(void **st)
{
	const struct phimoe_model *m = &models[0];
	struct seq_plan ref = { .plen = 10, .steps = 4 };
	int V = m->cfg.vocab_size;
	int32_t fill[96];
	float *lg = malloc(sizeof(float) * V);
	struct phimoe_session *s;
	int a;

	(void)st;
	assert_non_null(lg);
	make_prompt(&ref, 7, V);
	run_alone(m, SM_COMPUTE_F32, &ref);
	for (int i = 0; i < 96; i++)
		fill[i] = 5 + i;
	s = open_session(m, SM_COMPUTE_F32, 3, 128, 96);
	assert_int_equal(phimoe_prefill(s, ref.prompt, ref.plen, NULL), 0);	/* 1 block */
	a = phimoe_seq_open(s);
	assert_true(a > 0);
	struct phimoe_batch_item fill_a = { .seq = a, .ids = fill, .n = 96 };	/* 3 blocks */

	assert_int_equal(phimoe_batch(s, &fill_a, 1), 0);
	assert_int_equal(phimoe_seq_pos(s, a), 96);
	/* the pool is full: sequence 0 needs no new block for 4 tokens,
	 * b needs one: the whole batch is refused */
	int b = phimoe_seq_open(s);

	assert_true(b > 0 && b != a);
	struct phimoe_batch_item two[2] = {
		{ .seq = 0, .ids = &ref.tok[0], .n = 1, .logits = lg },
		{ .seq = b, .ids = fill, .n = 3 },
	};
	assert_int_equal(phimoe_batch(s, two, 2), -ENOSPC);
	assert_non_null(strstr(phimoe_session_error(s), "KV pool"));
	assert_int_equal(phimoe_seq_pos(s, 0), 10);
	assert_int_equal(phimoe_seq_pos(s, b), 0);
	/* a's next block: refused too */
	struct phimoe_batch_item one_a = { .seq = a, .ids = fill, .n = 1 };

	assert_int_equal(phimoe_batch(s, &one_a, 1), -ENOSPC);
	assert_int_equal(phimoe_seq_pos(s, a), 96);
	/* sequence 0 goes on as alone */
	for (int k = 0; k < ref.steps; k++) {
		struct phimoe_batch_item d = { .seq = 0, .ids = &ref.tok[k], .n = 1, .logits = lg };

		assert_int_equal(phimoe_batch(s, &d, 1), 0);
		compare(lg, ref.ref + (size_t)(k + 1) * V, V, "pool: sequence 0");
	}
	/* close a: its 3 blocks serve b, then a reopened slot */
	phimoe_seq_close(s, a);
	assert_int_equal(phimoe_seq_pos(s, a), -EINVAL);
	struct phimoe_batch_item fill_b = { .seq = b, .ids = fill, .n = 96 };

	assert_int_equal(phimoe_batch(s, &fill_b, 1), 0);
	phimoe_seq_close(s, b);
	a = phimoe_seq_open(s);
	assert_true(a > 0);
	fill_a.seq = a;
	assert_int_equal(phimoe_batch(s, &fill_a, 1), 0);
	/* prefill of sequence 0 beyond the pool */
	assert_int_equal(phimoe_prefill(s, fill, 30, NULL), -ENOSPC);
	assert_int_equal(phimoe_session_pos(s), 14);
	/* reset returns sequence 0's block */
	phimoe_session_reset(s);
	phimoe_seq_close(s, a);
	assert_int_equal(phimoe_prefill(s, fill, 96, NULL), 0);
	phimoe_session_destroy(s);

	/* max_seq (256) per sequence, with room in the pool */
	s = open_session(m, SM_COMPUTE_F32, 2, 1024, 96);
	a = phimoe_seq_open(s);
	for (int k = 0; k < 2; k++) {
		fill_a.seq = a;
		assert_int_equal(phimoe_batch(s, &fill_a, 1), 0);
	}
	assert_int_equal(phimoe_batch(s, &fill_a, 1), -ENOSPC);
	assert_non_null(strstr(phimoe_session_error(s), "max_seq"));
	assert_int_equal(phimoe_seq_pos(s, a), 192);
	fill_a.n = 64;
	assert_int_equal(phimoe_batch(s, &fill_a, 1), 0);
	phimoe_session_destroy(s);
	free(ref.ref);
	free(lg);
}

/* Bad batches: -EINVAL, nothing run; -EBUSY beyond max_seqs. */
static void test_bad_batches(void **st)
{
	const struct phimoe_model *m = &models[0];
	struct phimoe_session *s = open_session(m, SM_COMPUTE_F32, 3, 0, 8);
	int32_t ids[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	int32_t bad = m->cfg.vocab_size;
	int a, b;

	(void)st;
	a = phimoe_seq_open(s);
	b = phimoe_seq_open(s);
	assert_true(a > 0 && b > 0 && a != b);
	assert_int_equal(phimoe_seq_open(s), -EBUSY);
	assert_non_null(strstr(phimoe_session_error(s), "max_seqs"));
	struct {
		struct phimoe_batch_item it[2];
		int count;
		const char *why;
	} cases[] = {
		{ { { .seq = 5, .ids = ids, .n = 1 } }, 1, "not open" },
		{ { { .seq = -1, .ids = ids, .n = 1 } }, 1, "not open" },
		{ { { .seq = a, .ids = ids, .n = 1 }, { .seq = a, .ids = ids, .n = 1 } }, 2, "twice" },
		{ { { .seq = a, .ids = ids, .n = 0 } }, 1, "no tokens" },
		{ { { .seq = a, .ids = NULL, .n = 1 } }, 1, "no tokens" },
		{ { { .seq = 0, .ids = ids, .n = 1 }, { .seq = b, .ids = &bad, .n = 1 } }, 2,
		  "vocabulary" },
		{ { { .seq = a, .ids = ids, .n = 5 }, { .seq = b, .ids = ids, .n = 4 } }, 2,
		  "max_batch" },
		{ { { .seq = a, .ids = ids, .n = 1 } }, 0, "items" },
		{ { { .seq = a, .ids = ids, .n = 1 } }, 4, "items" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(phimoe_batch(s, cases[i].it, cases[i].count), -EINVAL);
		if (!strstr(phimoe_session_error(s), cases[i].why))
			fail_msg("case %zu: '%s' lacks '%s'", i, phimoe_session_error(s), cases[i].why);
	}
	assert_int_equal(phimoe_batch(s, NULL, 1), -EINVAL);
	assert_int_equal(phimoe_seq_pos(s, 0), 0);
	assert_int_equal(phimoe_seq_pos(s, a), 0);
	assert_int_equal(phimoe_seq_pos(s, b), 0);
	assert_int_equal(phimoe_seq_pos(s, 3), -EINVAL);
	/* closing 0 or a closed id does nothing */
	phimoe_seq_close(s, 0);
	phimoe_seq_close(s, 7);
	assert_int_equal(phimoe_seq_pos(s, 0), 0);
	/* the exact max_batch is fine */
	struct phimoe_batch_item ok[2] = { { .seq = a, .ids = ids, .n = 4 },
					   { .seq = b, .ids = ids, .n = 4 } };
	assert_int_equal(phimoe_batch(s, ok, 2), 0);
	assert_int_equal(phimoe_seq_pos(s, a), 4);
	phimoe_session_destroy(s);

	/* a session of one sequence: nothing to open */
	s = open_session(m, SM_COMPUTE_F32, 0, 0, 0);
	assert_int_equal(phimoe_seq_open(s), -EBUSY);
	phimoe_session_destroy(s);
}

/* A borrowed backend (the Level Zero or split path) keeps one
 * contiguous cache: max_seqs > 1 is refused in one line. */
static void test_borrowed_backend_refuses(void **st)
{
	struct sm_cpu_backend_opts bo = { .compute = SM_BACKEND_F32, .threads = 1 };
	struct sm_backend *be = NULL;
	char err[256];
	struct phimoe_session *s = NULL;

	(void)st;
	assert_int_equal(sm_cpu_backend_create(&bo, &be, err, sizeof(err)), 0);
	struct phimoe_session_opts o = { .compute = SM_COMPUTE_F32, .backend = be, .max_seqs = 8 };

	assert_int_equal(phimoe_session_create(&models[0], &o, &s, err, sizeof(err)), -EOPNOTSUPP);
	assert_null(s);
	assert_non_null(strstr(err, "batched decode (max_seqs 8) runs on the CPU backend only"));
	o.max_seqs = 1;
	assert_int_equal(phimoe_session_create(&models[0], &o, &s, err, sizeof(err)), 0);
	assert_int_equal(phimoe_seq_open(s), -EBUSY);
	phimoe_session_destroy(s);
	be->ops->destroy(be);
	o.backend = NULL;
	o.max_seqs = -1;
	assert_int_equal(phimoe_session_create(&models[0], &o, &s, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_continuous_batching),
		cmocka_unit_test(test_many_sequences),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_bad_batches),
		cmocka_unit_test(test_borrowed_backend_refuses),
	};

	const char *isa = getenv("SPLITMOE_ISA");

	/* run again with SPLITMOE_ISA=avx2 (the target laptop's path) */
	return cmocka_run_group_tests_name(isa && !strcmp(isa, "avx2") ? "numerics-batch-avx2" :
					   "numerics-batch", tests, setup, teardown);
}
