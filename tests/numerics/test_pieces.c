// SPDX-License-Identifier: MIT
/*
 * Unit tests of the forward pass's pieces against hand-computed values and
 * naive double-precision references: sparsemixer router, LayerNorm, RoPE,
 * attention (causal, sliding window, GQA, decode rows), the oneDNN matmul
 * in f32 and bf16, the SiLU gate, name parsing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config/options.h"
#include "arbiter/arbiter.h"
#include "cpu/cpu_attention.h"
#include "cpu/cpu_math.h"
#include "cpu/dnnl_matmul.h"
#include "engine/inference.h"

static float frand(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return ((*seed >> 8) & 0xffff) / 65536.0f - 0.5f;
}

/* --- sparsemixer ------------------------------------------------------ */

static void test_router_positive(void **st)
{
	const float s[4] = { 1.0f, 0.5f, 0.99f, 0.2f };
	int32_t e[2];
	float w[2];

	(void)st;
	cm_sparsemixer_top2(s, 4, 0.01f, e, w);
	assert_int_equal(e[0], 0);
	assert_int_equal(e[1], 2);
	/* first: 0.99 is within 2% of the max, 0.5 and 0.2 are masked */
	assert_float_equal(w[0], 1.0 / (1.0 + exp(-0.01)), 1e-6);
	/* second: only 0.99 survives its own threshold (1.0 is -inf) */
	assert_float_equal(w[1], 1.0f, 1e-6);
}

static void test_router_negative_scores(void **st)
{
	const float s[4] = { -1.0f, -2.0f, -1.01f, -3.0f };
	int32_t e[2];
	float w[2];

	(void)st;
	cm_sparsemixer_top2(s, 4, 0.01f, e, w);
	/* factor = max(|s|, max) = |s| when max < 0 */
	assert_int_equal(e[0], 0);
	assert_int_equal(e[1], 2);
	assert_float_equal(w[0], 1.0 / (1.0 + exp(-0.01)), 1e-6);
	assert_float_equal(w[1], 1.0f, 1e-6);
}

static void test_router_wide_threshold(void **st)
{
	/* eps 0.5: threshold 1.0 keeps everything within max * 1.0 */
	const float s[3] = { 2.0f, 1.0f, 0.5f };
	int32_t e[2];
	float w[2];
	double z0 = 1 + exp(-1.0) + exp(-1.5);

	(void)st;
	cm_sparsemixer_top2(s, 3, 0.5f, e, w);
	assert_int_equal(e[0], 0);
	assert_int_equal(e[1], 1);
	assert_float_equal(w[0], 1.0 / z0, 1e-6);
	/* second: max 1.0; (1 - 0.5) / max(0.5, 1) = 0.5 <= 1 kept */
	assert_float_equal(w[1], 1.0 / (1 + exp(-0.5)), 1e-6);
	/* not renormalised */
	assert_true(fabs(w[0] + w[1] - 1.0) > 0.1);
}

static void test_router_ties_lowest_index(void **st)
{
	const float s[4] = { 0.3f, 2.0f, 2.0f, 1.0f };
	int32_t e[2];
	float w[2];

	(void)st;
	cm_sparsemixer_top2(s, 4, 0.01f, e, w);
	assert_int_equal(e[0], 1);
	assert_int_equal(e[1], 2);
	assert_float_equal(w[0], 0.5f, 1e-6);	/* the tie shares the softmax */
	assert_float_equal(w[1], 1.0f, 1e-6);
}

/* --- LayerNorm, RoPE, gate --------------------------------------------- */

static void test_layernorm(void **st)
{
	const float x[8] = { 1, 2, 3, 4, -1, -1, -1, -1 };
	const float g[4] = { 1, 2, 1, 0.5f }, b[4] = { 0, 0.5f, 0, -1 };
	float y[8];
	double rstd = 1.0 / sqrt(1.25 + 1e-5);

	(void)st;
	cm_layernorm(x, 2, 4, g, b, 1e-5f, y);
	assert_float_equal(y[0], -1.5 * rstd, 1e-5);
	assert_float_equal(y[1], -0.5 * rstd * 2 + 0.5, 1e-5);
	assert_float_equal(y[2], 0.5 * rstd, 1e-5);
	assert_float_equal(y[3], 1.5 * rstd * 0.5 - 1, 1e-5);
	/* a constant row normalises to the bias */
	for (int i = 0; i < 4; i++)
		assert_float_equal(y[4 + i], b[i], 1e-5);
}

static void test_rope(void **st)
{
	enum { D = 4, S = 8 };
	float cs[S * D / 2], sn[S * D / 2];
	/* two rows (positions 0 and 3), two heads */
	float x[2 * 2 * D] = { 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8 };
	float orig[2 * 2 * D];

	(void)st;
	memcpy(orig, x, sizeof(x));
	cm_rope_tables(S, D, 10000.0, cs, sn);
	assert_float_equal(cs[0], 1.0f, 0);
	assert_float_equal(sn[1], 0.0f, 0);
	cm_rope(x, 1, 2 * D, 2, D, 0, cs, sn);	/* position 0: identity */
	assert_memory_equal(x, orig, sizeof(float) * 2 * D);
	cm_rope(x + 2 * D, 1, 2 * D, 2, D, 3, cs, sn);
	/* inv_freq = {1, 0.01}: pairs (x0, x2) and (x1, x3) rotate */
	for (int h = 0; h < 2; h++) {
		const float *o = orig + 2 * D + h * D;
		const float *r = x + 2 * D + h * D;

		assert_float_equal(r[0], o[0] * cos(3.0) - o[2] * sin(3.0), 1e-5);
		assert_float_equal(r[2], o[2] * cos(3.0) + o[0] * sin(3.0), 1e-5);
		assert_float_equal(r[1], o[1] * cos(0.03) - o[3] * sin(0.03), 1e-5);
		assert_float_equal(r[3], o[3] * cos(0.03) + o[1] * sin(0.03), 1e-5);
	}
}

static void test_silu_gate(void **st)
{
	const float h[4] = { 1.0f, -2.0f, 3.0f, 0.5f };	/* w1 x = {1,-2}, w3 x = {3,.5} */
	float g[2];

	(void)st;
	cm_silu_gate(h, 1, 2, g);
	assert_float_equal(g[0], 1.0 / (1 + exp(-1.0)) * 3.0, 1e-6);
	assert_float_equal(g[1], -2.0 / (1 + exp(2.0)) * 0.5, 1e-6);
}

/* --- attention ---------------------------------------------------------- */

enum { NH = 4, NKV = 2, HD = 6, T = 12 };

/* Naive attention of query i over keys with an explicit mask, in double. */
static void naive_attention(const float *q, const float *k, const float *v, int i,
			    int window, double *out)
{
	for (int h = 0; h < NH; h++) {
		int g = h / (NH / NKV);
		double sc[T], mx = -INFINITY, sum = 0;

		for (int j = 0; j < T; j++) {
			bool on = j <= i && (window == 0 || j > i - window);

			sc[j] = -INFINITY;
			if (!on)
				continue;
			double d = 0;

			for (int c = 0; c < HD; c++)
				d += (double)q[i * NH * HD + h * HD + c] * k[j * NKV * HD + g * HD + c];
			sc[j] = d / sqrt(HD);
			mx = fmax(mx, sc[j]);
		}
		for (int j = 0; j < T; j++)
			sum += sc[j] == -INFINITY ? 0 : exp(sc[j] - mx);
		for (int c = 0; c < HD; c++) {
			double o = 0;

			for (int j = 0; j < T; j++)
				if (sc[j] != -INFINITY)
					o += exp(sc[j] - mx) / sum * v[j * NKV * HD + g * HD + c];
			out[h * HD + c] = o;
		}
	}
}

static void check_attention(int window)
{
	static float q[T * NH * HD], k[T * NKV * HD], v[T * NKV * HD];
	static float kc[T * NKV * HD], vc[T * NKV * HD];
	static float out_pre[T * NH * HD], out_dec[NH * HD];
	float scratch[T];
	double ref[NH * HD];
	unsigned seed = 7u + window;

	for (int i = 0; i < T * NH * HD; i++)
		q[i] = 2 * frand(&seed);
	for (int i = 0; i < T * NKV * HD; i++) {
		k[i] = 2 * frand(&seed);
		v[i] = frand(&seed);
	}
	/* prefill: all rows at once */
	memcpy(kc, k, sizeof(k));
	memcpy(vc, v, sizeof(v));
	cm_attention(q, NH * HD, T, 0, NH, NKV, HD, window, 1.0f / sqrtf(HD), kc, vc,
		     out_pre, scratch);
	for (int i = 0; i < T; i++) {
		naive_attention(q, k, v, i, window, ref);
		for (int c = 0; c < NH * HD; c++)
			assert_float_equal(out_pre[i * NH * HD + c], ref[c], 1e-5);
		/* decode: row i alone against the cache filled so far */
		memset(kc, 0, sizeof(kc));
		memset(vc, 0, sizeof(vc));
		cm_kv_append(k, v, NKV * HD, i + 1, 0, NKV * HD, kc, vc);
		cm_attention(q + i * NH * HD, NH * HD, 1, i, NH, NKV, HD, window,
			     1.0f / sqrtf(HD), kc, vc, out_dec, scratch);
		for (int c = 0; c < NH * HD; c++)
			assert_float_equal(out_dec[c], ref[c], 1e-5);
	}
}

static void test_attention_causal(void **st)
{
	(void)st;
	check_attention(0);
}

static void test_attention_sliding_window(void **st)
{
	(void)st;
	check_attention(3);
	check_attention(1);	/* attends itself only: output = its own v */
}

static void test_attention_window_one_is_own_value(void **st)
{
	float q[NH * HD], k[NKV * HD * 3], v[NKV * HD * 3], o[NH * HD], scratch[3];
	unsigned seed = 3;

	(void)st;
	for (int i = 0; i < NH * HD; i++)
		q[i] = frand(&seed);
	for (int i = 0; i < NKV * HD * 3; i++) {
		k[i] = frand(&seed);
		v[i] = frand(&seed);
	}
	cm_attention(q, NH * HD, 1, 2, NH, NKV, HD, 1, 0.5f, k, v, o, scratch);
	for (int h = 0; h < NH; h++)
		for (int c = 0; c < HD; c++)
			assert_float_equal(o[h * HD + c], v[2 * NKV * HD + (h / 2) * HD + c], 1e-6);
}

/* --- fast attention (cpu_attention.c) against cm_attention ---------------- */

static const char *const isa_paths[] = { "generic", "avx2", "avx512" };

/*
 * ca_attention on every ISA path this CPU has against cm_attention, with
 * 1, 2 and 3 threads (all: every path with each count; else 1 thread on
 * every path and 3 on the default one: the kernels are many times slower
 * under ASan+UBSan than optimised, and for long prefill chunks the thread
 * count changes only which thread runs which tile, not the sums): max abs
 * error over the output at most 2e-5 of the values' scale (v in [-1, 1]).
 * q rows are padded (q_stride > n_heads*head_dim); qk scales q and k
 * (larger: peakier softmax).
 */
static void check_fast_attention_threads(int m, int pos0, int nh, int nkv, int hd,
					 int window, float qk, bool all)
{
	int n = pos0 + m, kvd = nkv * hd, od = nh * hd, qs = od + 3;
	float *q = malloc(sizeof(float) * (size_t)m * qs);
	float *k = malloc(sizeof(float) * (size_t)n * kvd);
	float *v = malloc(sizeof(float) * (size_t)n * kvd);
	float *ref = malloc(sizeof(float) * (size_t)m * od);
	float *out = malloc(sizeof(float) * (size_t)m * od);
	float *scratch = malloc(sizeof(float) * (size_t)n);
	unsigned seed = 1u + (unsigned)(m * 131 + pos0 * 7 + nh * 3 + hd + window);
	float scale = 1.0f / sqrtf((float)hd);

	assert_non_null(q);
	assert_non_null(k);
	assert_non_null(v);
	assert_non_null(ref);
	assert_non_null(out);
	assert_non_null(scratch);
	for (size_t i = 0; i < (size_t)m * qs; i++)
		q[i] = 4 * qk * frand(&seed);
	for (size_t i = 0; i < (size_t)n * kvd; i++) {
		k[i] = 4 * qk * frand(&seed);
		v[i] = 2 * frand(&seed);
	}
	cm_attention(q, qs, m, pos0, nh, nkv, hd, window, scale, k, v, ref, scratch);
	int best = 0;
	uint64_t least = ca_set_min_thread_work(0);	/* every thread count as asked */

	for (int p = 0; p < 3; p++)
		if (ca_isa_supported(p))
			best = p;
	for (int p = 0; p < 3; p++) {
		if (ca_force_isa(isa_paths[p]) == -ENOTSUP)
			continue;	/* this CPU lacks the path */
		assert_int_equal(ca_isa_current(), p);
		for (int th = 1; th <= 3; th++) {
			double err = 0;

			if (!all && th > 1 && (th == 2 || p != best))
				continue;

			for (size_t i = 0; i < (size_t)m * od; i++)
				out[i] = NAN;
			ca_attention(q, qs, m, pos0, nh, nkv, hd, window, scale, k, v, out, th);
			for (size_t i = 0; i < (size_t)m * od; i++) {
				double e = fabs((double)out[i] - ref[i]);

				if (!(e <= err))	/* NaN too */
					err = isnan(e) ? INFINITY : e;
			}
			if (!(err <= 2e-5)) {
				print_error("ca_attention %s, %d threads: m %d pos0 %d heads %d/%d "
					    "head_dim %d window %d qk %g: max error %g\n",
					    isa_paths[p], th, m, pos0, nh, nkv, hd, window, qk, err);
				fail();
			}
		}
	}
	assert_int_equal(ca_force_isa(NULL), 0);
	ca_set_min_thread_work(least);
	free(q);
	free(k);
	free(v);
	free(ref);
	free(out);
	free(scratch);
}

static void check_fast_attention(int m, int pos0, int nh, int nkv, int hd,
				 int window, float qk)
{
	check_fast_attention_threads(m, pos0, nh, nkv, hd, window, qk, true);
}

static const int fa_shapes[][2] = { { 16, 4 }, { 4, 4 }, { 6, 2 } };
static const int fa_dims[] = { 16, 64, 128 };
static const int fa_windows[] = { 0, 7, 64 };

/*
 * ca_attention_batch (batched decode): items of several lengths on one
 * pool of 16-row blocks handed out in shuffled order, against
 * cm_attention on each item's keys copied contiguous; every ISA path, 1,
 * 3 and 8 threads (two long decode items on 8 threads split their keys),
 * with and without a sliding window.
 */
struct batch_case {
	int m, pos0;
};

static void check_attention_batch(const struct batch_case *bc, int count, int window)
{
	enum { NH = 8, NKV = 2, HD = 64, BS = 16, NB = 64, QS = NH * HD + 5 };
	int kvd = NKV * HD, od = NH * HD, perm[NB], used = 0;
	float *kp = malloc(sizeof(float) * NB * BS * kvd), *vp = malloc(sizeof(float) * NB * BS * kvd);
	float *q[8], *ref[8], *out[8], *k = NULL, *v = NULL, *scratch = NULL;
	int32_t tab[8][NB];
	struct ca_item items[8];
	unsigned seed = 99u + (unsigned)(count * 7 + window);
	float scale = 1.0f / sqrtf((float)HD);

	assert_true(count <= 8);
	assert_non_null(kp);
	assert_non_null(vp);
	for (size_t i = 0; i < (size_t)NB * BS * kvd; i++) {
		kp[i] = 2 * frand(&seed);
		vp[i] = 2 * frand(&seed);
	}
	for (int b = 0; b < NB; b++)
		perm[b] = b;
	for (int b = NB - 1; b > 0; b--) {
		int j = (int)(frand(&seed) * 0.5f * (b + 1) + 0.5f * (b + 1)) % (b + 1), t = perm[b];

		perm[b] = perm[j];
		perm[j] = t;
	}
	for (int i = 0; i < count; i++) {
		int n = bc[i].pos0 + bc[i].m, nb = (n + BS - 1) / BS;

		assert_true(used + nb <= NB);
		for (int b = 0; b < nb; b++)
			tab[i][b] = perm[used++];
		q[i] = malloc(sizeof(float) * (size_t)bc[i].m * QS);
		ref[i] = malloc(sizeof(float) * (size_t)bc[i].m * od);
		out[i] = malloc(sizeof(float) * (size_t)bc[i].m * od);
		k = realloc(k, sizeof(float) * (size_t)n * kvd);
		v = realloc(v, sizeof(float) * (size_t)n * kvd);
		scratch = realloc(scratch, sizeof(float) * (size_t)n);
		assert_true(q[i] && ref[i] && out[i] && k && v && scratch);
		for (size_t j = 0; j < (size_t)bc[i].m * QS; j++)
			q[i][j] = 2 * frand(&seed);
		for (int j = 0; j < n; j++) {
			size_t row = (size_t)tab[i][j / BS] * BS + j % BS;

			memcpy(k + (size_t)j * kvd, kp + row * kvd, sizeof(float) * kvd);
			memcpy(v + (size_t)j * kvd, vp + row * kvd, sizeof(float) * kvd);
		}
		cm_attention(q[i], QS, bc[i].m, bc[i].pos0, NH, NKV, HD, window, scale, k, v,
			     ref[i], scratch);
		items[i] = (struct ca_item){ .q = q[i], .m = bc[i].m, .pos0 = bc[i].pos0,
					     .block_table = tab[i], .out = out[i] };
	}
	uint64_t least = ca_set_min_thread_work(0);	/* every thread count as asked */

	for (int p = 0; p < 3; p++) {
		if (ca_force_isa(isa_paths[p]) == -ENOTSUP)
			continue;
		for (int th = 1; th <= 8; th += th == 1 ? 2 : 5) {
			double err = 0;

			for (int i = 0; i < count; i++)
				for (size_t j = 0; j < (size_t)bc[i].m * od; j++)
					out[i][j] = NAN;
			ca_attention_batch(items, count, QS, NH, NKV, HD, window, scale, kp, vp, BS, th);
			for (int i = 0; i < count; i++)
				for (size_t j = 0; j < (size_t)bc[i].m * od; j++) {
					double e = fabs((double)out[i][j] - ref[i][j]);

					if (!(e <= err))
						err = isnan(e) ? INFINITY : e;
				}
			if (!(err <= 2e-5)) {
				print_error("ca_attention_batch %s, %d threads, %d items, window %d: "
					    "max error %g\n", isa_paths[p], th, count, window, err);
				fail();
			}
		}
	}
	assert_int_equal(ca_force_isa(NULL), 0);
	ca_set_min_thread_work(least);
	for (int i = 0; i < count; i++) {
		free(q[i]);
		free(ref[i]);
		free(out[i]);
	}
	free(k);
	free(v);
	free(scratch);
	free(kp);
	free(vp);
}

static void test_fast_attention_batch(void **st)
{
	static const struct batch_case mixed[] = {
		{ 1, 200 }, { 1, 5 }, { 3, 40 }, { 1, 130 }, { 17, 20 }, { 1, 0 },
	};
	static const struct batch_case long_decode[] = { { 1, 300 }, { 1, 255 } };

	(void)st;
	for (int w = 0; w <= 30; w += 30) {
		check_attention_batch(mixed, 6, w);
		check_attention_batch(long_decode, 2, w);
	}
}

/*
 * Little work runs on one thread: one decode query over 201 keys (8 heads
 * of 64: about 206k multiply-adds) asked of 8 threads equals the 1-thread
 * result bit for bit (no fork, no split keys), while with the threshold
 * off the 8 threads split the keys and round otherwise.
 */
static void test_fast_attention_small_work(void **st)
{
	enum { NH = 8, NKV = 2, HD = 64, POS = 200, QS = NH * HD };
	int kvd = NKV * HD, n = POS + 1;
	float *q = malloc(sizeof(float) * QS), *k = malloc(sizeof(float) * (size_t)n * kvd);
	float *v = malloc(sizeof(float) * (size_t)n * kvd), out[3][NH * HD];
	struct ca_item it = { .q = q, .m = 1, .pos0 = POS, .out = NULL };
	unsigned seed = 5u;
	uint64_t least;

	(void)st;
	assert_true(q && k && v);
	for (int i = 0; i < QS; i++)
		q[i] = 2 * frand(&seed);
	for (size_t i = 0; i < (size_t)n * kvd; i++) {
		k[i] = 2 * frand(&seed);
		v[i] = 2 * frand(&seed);
	}
	for (int r = 0; r < 3; r++) {
		least = ca_set_min_thread_work(r == 2 ? 0 : 1u << 18);
		it.out = out[r];
		ca_attention_batch(&it, 1, QS, NH, NKV, HD, 0, 0.125f, k, v, 0, r == 0 ? 1 : 8);
		ca_set_min_thread_work(least);
	}
	assert_memory_equal(out[0], out[1], sizeof(out[0]));
	assert_memory_not_equal(out[0], out[2], sizeof(out[0]));
	free(q);
	free(k);
	free(v);
}

/* The pool threads of a 4-thread team, by thread number. */
static void team_tids(long tid[4])
{
#pragma omp parallel num_threads(4)
	tid[omp_get_thread_num()] = syscall(SYS_gettid);
}

/*
 * A region is one thread or the whole team (omp_team.h): decode
 * attention with work for 3 of 4 threads (8 heads of 64 over 1001 keys,
 * about 1M multiply-adds at 256k each) leaves the pool as it was, where
 * libgomp would end thread 3 after a 3-thread team and create another for
 * the next 4-thread one.
 */
static void test_attention_keeps_the_team(void **st)
{
	enum { NH = 8, NKV = 2, HD = 64, POS = 1000, QS = NH * HD };
	int kvd = NKV * HD, n = POS + 1;
	float *q = calloc(QS, sizeof(float)), *k = calloc((size_t)n * kvd, sizeof(float));
	float *v = calloc((size_t)n * kvd, sizeof(float)), out[NH * HD];
	struct ca_item it = { .q = q, .m = 1, .pos0 = POS, .out = out };
	long before[4], after[4];
	uint64_t least = ca_set_min_thread_work(1u << 18);

	(void)st;
	assert_true(q && k && v);
	team_tids(before);
	ca_attention_batch(&it, 1, QS, NH, NKV, HD, 0, 0.125f, k, v, 0, 4);
	team_tids(after);
	ca_set_min_thread_work(least);
	assert_memory_equal(before, after, sizeof(before));
	free(q);
	free(k);
	free(v);
}

static void test_fast_attention_decode(void **st)
{
	static const int pos[] = { 0, 1, 17, 300, 1000 };

	(void)st;
	for (int a = 0; a < 5; a++)
		for (int s = 0; s < 3; s++)
			for (int d = 0; d < 3; d++)
				for (int w = 0; w < 3; w++)
					check_fast_attention(1, pos[a], fa_shapes[s][0], fa_shapes[s][1],
							     fa_dims[d], fa_windows[w], 1.0f);
}

static void test_fast_attention_prefill(void **st)
{
	static const int rows[] = { 1, 5, 64, 200 }, pos[] = { 0, 37 };

	(void)st;
	for (int r = 0; r < 4; r++)
		for (int a = 0; a < 2; a++)
			for (int s = 0; s < 3; s++)
				for (int d = 0; d < 3; d++)
					for (int w = 0; w < 3; w++)
						check_fast_attention_threads(rows[r], pos[a],
									     fa_shapes[s][0],
									     fa_shapes[s][1], fa_dims[d],
									     fa_windows[w], 1.0f,
									     rows[r] < 64);
}

static void test_fast_attention_edges(void **st)
{
	(void)st;
	/* peaky softmax: the running max moves by a lot between key blocks */
	check_fast_attention(1, 700, 16, 4, 64, 0, 4.0f);
	check_fast_attention(40, 300, 6, 2, 64, 0, 4.0f);
	/* a short prefill chunk late in a long context: its keys split too */
	check_fast_attention(5, 1000, 16, 4, 64, 0, 1.0f);
	check_fast_attention(2, 3000, 16, 4, 128, 0, 1.0f);
	/* windows of one (own value) and of the block size and around it */
	check_fast_attention(9, 70, 4, 2, 16, 1, 1.0f);
	check_fast_attention(70, 100, 4, 2, 16, 64, 1.0f);
	check_fast_attention(70, 100, 4, 2, 16, 65, 1.0f);
	/* all heads on one kv head (more than one tile of rows), odd dims */
	check_fast_attention(1, 900, 40, 1, 24, 0, 1.0f);
	check_fast_attention(1, 900, 64, 2, 32, 100, 1.0f);
	check_fast_attention(3, 500, 40, 1, 24, 0, 1.0f);
	check_fast_attention(33, 10, 5, 1, 20, 0, 1.0f);
	/* head_dim above CA_MAX_HEAD_DIM: the scalar path */
	check_fast_attention(3, 20, 2, 1, CA_MAX_HEAD_DIM + 8, 5, 1.0f);
	/* unknown path names */
	assert_int_equal(ca_force_isa("sse9"), -EINVAL);
}

/* ulps between a float and the correctly rounded value of a double */
static double ulp_err(float y, double exact)
{
	float r = (float)exact;
	float up = nextafterf(r, INFINITY);

	return fabs((double)y - exact) / ((double)up - (double)r);
}

/* ca_expf (the softmax's exponential) within 2 ulp on [-87, 88] on every
 * path; 0 below -87, NaN for NaN. */
static void test_fast_expf(void **st)
{
	enum { N = 4096 };
	static float x[N], y[N];
	double worst[3] = { 0, 0, 0 };

	(void)st;
	for (int p = 0; p < 3; p++) {
		if (ca_force_isa(isa_paths[p]) == -ENOTSUP)
			continue;
		/* every 61st float of [-87, 0), then a sweep of [0, 88] */
		uint32_t bits = 0x80000000u;
		int done = 0;

		while (!done) {
			int n = 0;

			for (; n < N; n++) {
				float f;

				memcpy(&f, &bits, sizeof(f));
				if (f < -87.0f) {
					done = 1;
					break;
				}
				x[n] = f;
				bits += 61;
			}
			ca_expf_array(x, y, n);
			for (int i = 0; i < n; i++) {
				double e = ulp_err(y[i], exp((double)x[i]));

				if (e > worst[p])
					worst[p] = e;
			}
		}
		for (int i = 0; i < N; i++)
			x[i] = 88.0f * i / (N - 1);
		ca_expf_array(x, y, N);
		for (int i = 0; i < N; i++) {
			double e = ulp_err(y[i], exp((double)x[i]));

			if (e > worst[p])
				worst[p] = e;
		}
		x[0] = -87.5f;
		x[1] = -INFINITY;
		x[2] = NAN;
		x[3] = 0.0f;
		ca_expf_array(x, y, 4);
		assert_true(y[0] == 0.0f && y[1] == 0.0f && isnan(y[2]) && y[3] == 1.0f);
		print_message("# ca_expf %s: max error %.2f ulp\n", isa_paths[p], worst[p]);
		assert_true(worst[p] <= 2.0);
	}
	assert_int_equal(ca_force_isa(NULL), 0);
}

/* --- oneDNN matmul ------------------------------------------------------- */

/* y = x W^T + b, W the row concatenation of two parts (second without bias). */
static void check_matmul(bool bf16, enum phimoe_dtype wdt)
{
	enum { K = 40, N1 = 24, N2 = 9, N = N1 + N2, MAXM = 20 };
	static float w[N * K], b[N1], x[MAXM * K], y[MAXM * N];
	static uint16_t wb[N * K], bb[N1];
	unsigned seed = 11;
	struct dmm_ctx *c;
	struct dmm_weights *dw;
	char err[256];

	for (int i = 0; i < N * K; i++) {
		/* bf16-exact values, as the fixture's weights */
		cm_f32_to_bf16(&(float){ frand(&seed) }, &wb[i], 1);
		w[i] = phimoe_bf16_to_f32(wb[i]);
	}
	for (int i = 0; i < N1; i++) {
		cm_f32_to_bf16(&(float){ frand(&seed) }, &bb[i], 1);
		b[i] = phimoe_bf16_to_f32(bb[i]);
	}
	for (int i = 0; i < MAXM * K; i++)
		x[i] = 3 * frand(&seed);

	const void *wd1 = wdt == PHIMOE_DTYPE_BF16 ? (const void *)wb : (const void *)w;
	size_t es = wdt == PHIMOE_DTYPE_BF16 ? 2 : 4;
	struct phimoe_tensor tw[2] = {
		{ .name = "w1", .dtype = wdt, .ndim = 2, .shape = { N1, K }, .numel = N1 * K,
		  .nbytes = N1 * K * es, .data = wd1 },
		{ .name = "w2", .dtype = wdt, .ndim = 2, .shape = { N2, K }, .numel = N2 * K,
		  .nbytes = N2 * K * es, .data = (const char *)wd1 + N1 * K * es },
	};
	struct phimoe_tensor tb[2] = {
		{ .name = "b1", .dtype = wdt, .ndim = 1, .shape = { N1 }, .numel = N1,
		  .nbytes = N1 * es, .data = wdt == PHIMOE_DTYPE_BF16 ? (const void *)bb : (const void *)b },
		{ .name = "b2" },
	};

	assert_int_equal(dmm_ctx_create(bf16, MAXM, 1, &c, err, sizeof(err)), 0);
	assert_int_equal(dmm_weights_create(c, tw, tb, 2, &dw, err, sizeof(err)), 0);
	assert_int_equal(dmm_weights_k(dw), K);
	assert_int_equal(dmm_weights_n(dw), N);
	for (int m = 1; m <= MAXM; m += 6) {
		assert_int_equal(dmm_run(c, dw, x, m, y), 0);
		for (int r = 0; r < m; r++)
			for (int j = 0; j < N; j++) {
				double s = j < N1 ? b[j] : 0;

				for (int i = 0; i < K; i++)
					s += (double)x[r * K + i] * w[j * K + i];
				/* bf16 with hi/lo activations: ~2^-16 relative */
				assert_float_equal(y[r * N + j], s, bf16 ? 2e-4 : 2e-5);
			}
	}
	assert_int_equal(dmm_run(c, dw, x, MAXM + 1, y), -EINVAL);
	assert_int_equal(dmm_run(c, dw, x, 0, y), -EINVAL);
	dmm_weights_destroy(dw);
	dmm_ctx_destroy(c);
}

static void test_matmul_f32(void **st)
{
	(void)st;
	check_matmul(false, PHIMOE_DTYPE_BF16);
	check_matmul(false, PHIMOE_DTYPE_F32);
}

/* oneDNN 2.6 has bf16 matmul on AVX512 cores (natively with AVX512-BF16
 * or AMX), not on AVX2-only CPUs, where compute auto is f32. */
static bool onednn_has_bf16_matmul(void)
{
	uint16_t one = 0x3f80;
	struct phimoe_tensor w = { .name = "probe", .dtype = PHIMOE_DTYPE_BF16, .ndim = 2,
				   .shape = { 1, 1 }, .numel = 1, .nbytes = 2, .data = &one };
	struct dmm_ctx *c;
	struct dmm_weights *dw;
	char err[256];
	bool ok;

	if (dmm_ctx_create(true, 1, 1, &c, err, sizeof(err)))
		return false;
	ok = dmm_weights_create(c, &w, NULL, 1, &dw, err, sizeof(err)) == 0;
	if (ok)
		dmm_weights_destroy(dw);
	dmm_ctx_destroy(c);
	return ok;
}

static void test_matmul_bf16(void **st)
{
	(void)st;
	if (!onednn_has_bf16_matmul()) {
		/* then bf16 must be refused with a clear message */
		struct dmm_ctx *c;
		struct dmm_weights *dw;
		char err[256] = "";
		uint16_t one = 0x3f80;
		struct phimoe_tensor w = { .name = "w", .dtype = PHIMOE_DTYPE_BF16, .ndim = 2,
					   .shape = { 1, 1 }, .numel = 1, .nbytes = 2, .data = &one };

		assert_int_equal(dmm_ctx_create(true, 1, 1, &c, err, sizeof(err)), 0);
		assert_true(dmm_weights_create(c, &w, NULL, 1, &dw, err, sizeof(err)) < 0);
		assert_non_null(strstr(err, "use compute type f32"));
		dmm_ctx_destroy(c);
		return;
	}
	check_matmul(true, PHIMOE_DTYPE_BF16);
	check_matmul(true, PHIMOE_DTYPE_F32);
}

static void test_matmul_bad_shapes(void **st)
{
	float w[12] = { 0 };
	struct phimoe_tensor tw[2] = {
		{ .name = "a", .dtype = PHIMOE_DTYPE_F32, .ndim = 2, .shape = { 2, 3 }, .numel = 6, .data = w },
		{ .name = "b", .dtype = PHIMOE_DTYPE_F32, .ndim = 2, .shape = { 2, 2 }, .numel = 4, .data = w },
	};
	struct dmm_ctx *c;
	struct dmm_weights *dw;
	char err[256] = "";

	(void)st;
	assert_int_equal(dmm_ctx_create(false, 4, 1, &c, err, sizeof(err)), 0);
	assert_int_equal(dmm_weights_create(c, tw, NULL, 2, &dw, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "weight b "));
	dmm_ctx_destroy(c);
}

static void test_bf16_split(void **st)
{
	const float x[4] = { 1.0f / 3.0f, -1234.567f, 1e-20f, 0.0f };
	uint16_t hi[4], lo[4];

	(void)st;
	cm_f32_to_bf16_split(x, hi, lo, 4);
	for (int i = 0; i < 4; i++) {
		double back = (double)phimoe_bf16_to_f32(hi[i]) + phimoe_bf16_to_f32(lo[i]);

		assert_true(fabs(back - x[i]) <= fabs(x[i]) * 1.0 / 65536);
	}
}

static void test_names(void **st)
{
	enum sm_compute c;
	enum sm_arbiter_kind k;

	(void)st;
	assert_int_equal(sm_compute_parse("bf16", &c), 0);
	assert_int_equal(c, SM_COMPUTE_BF16);
	assert_int_equal(sm_compute_parse("f32", &c), 0);
	assert_int_equal(c, SM_COMPUTE_F32);
	assert_int_equal(sm_compute_parse("fp16", &c), -EINVAL);
	assert_string_equal(sm_compute_name(SM_COMPUTE_AUTO), "auto");
	assert_int_equal(sm_arbiter_kind_parse("process", &k), 0);
	assert_int_equal(k, SM_ARB_PROCESS);
	assert_int_equal(sm_arbiter_kind_parse("kern", &k), -EINVAL);
	assert_string_equal(sm_arbiter_kind_name(SM_ARB_OFF), "off");
	/* AUTO resolves to bf16 exactly when oneDNN sees native bf16 */
	assert_int_equal(sm_compute_default() == SM_COMPUTE_BF16, dmm_cpu_has_bf16());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_router_positive),
		cmocka_unit_test(test_router_negative_scores),
		cmocka_unit_test(test_router_wide_threshold),
		cmocka_unit_test(test_router_ties_lowest_index),
		cmocka_unit_test(test_layernorm),
		cmocka_unit_test(test_rope),
		cmocka_unit_test(test_silu_gate),
		cmocka_unit_test(test_attention_causal),
		cmocka_unit_test(test_attention_sliding_window),
		cmocka_unit_test(test_attention_window_one_is_own_value),
		cmocka_unit_test(test_fast_attention_decode),
		cmocka_unit_test(test_fast_attention_batch),
		cmocka_unit_test(test_fast_attention_small_work),
		cmocka_unit_test(test_attention_keeps_the_team),
		cmocka_unit_test(test_fast_attention_prefill),
		cmocka_unit_test(test_fast_attention_edges),
		cmocka_unit_test(test_fast_expf),
		cmocka_unit_test(test_matmul_f32),
		cmocka_unit_test(test_matmul_bf16),
		cmocka_unit_test(test_matmul_bad_shapes),
		cmocka_unit_test(test_bf16_split),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("numerics-pieces", tests, NULL, NULL);
}
