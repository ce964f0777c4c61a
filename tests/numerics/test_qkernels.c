// SPDX-License-Identifier: MIT
/*
 * The int8-activation kernels of quantized weights (cpu_qgemm.h) on every
 * path this CPU runs (forced one after the other as SPLITMOE_ISA does):
 * the activations' quantization bit for bit against a scalar reference;
 * products whose scales are all 1 (the math is integer: bitwise equal to
 * an exact integer reference); products of real scales against exact
 * integer group sums scaled in double; activations in one int8 part and
 * in two (hi and residual, xq_fine); every tail of n (row quads), k (the
 * blocks of 16, 8 and 4 groups, lone groups after them) and m (activation
 * tiles of 4), 1 and 3 threads,
 * products sharing one quantized x; the kernel each setting chooses.
 * SPLITMOE_QKERN_EXPECT (check-numerics sets it beside SPLITMOE_ISA)
 * names the kernel the environment must have chosen.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_features.h"
#include "cpu/cpu_gemv.h"
#include "cpu/cpu_isa.h"
#include "cpu/cpu_qgemm.h"
#include "cpu/cpu_qgemm_amx.h"
#include "cpu/quant.h"
#include "util/pass_timer.h"

#define GRP SM_Q4_GROUP

static unsigned rnd(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

static float frand(unsigned *seed)
{
	return (rnd(seed) & 0xffff) / 65536.0f - 0.5f;
}

/* The kernel settings to try: ISA and VNNI as SPLITMOE_ISA sets them. */
struct path {
	enum sm_isa isa;
	int vnni;
};

static const struct path paths[] = {
	{ SM_ISA_GENERIC, 1 }, { SM_ISA_AVX2, 0 }, { SM_ISA_AVX2, 1 }, { SM_ISA_AVX512, 1 },
};
#define NPATHS ((int)(sizeof(paths) / sizeof(paths[0])))

static enum sm_qkern path_kern(int p)
{
	sm_isa_override(paths[p].isa);
	sm_isa_override_vnni(paths[p].vnni);
	return sm_qkern_active();
}

/* Sets path p; false when an earlier path gives the same kernel. */
static bool path_set(int p)
{
	enum sm_qkern k = path_kern(p);
	bool dup = false;

	for (int q = 0; q < p; q++)
		dup |= path_kern(q) == k;
	path_kern(p);
	return !dup;
}

static int restore(void **st)
{
	(void)st;
	sm_isa_override(sm_isa_best());
	sm_isa_override_vnni(1);
	sm_qamx_override(-1);
	sm_qgemm_override_block(0);
	sm_qgemm_override_panel(-1);
	sm_gemv_override_steal(-1);
	return 0;
}

/* ---- references ---- */

static void ref_quant_row(const float *x, int k, int8_t *q, float *d)
{
	for (int g = 0; g < k / GRP; g++) {
		float amax = 0.0f, inv;

		for (int j = 0; j < GRP; j++)
			amax = fmaxf(amax, fabsf(x[g * GRP + j]));
		d[g] = amax / 127.0f;
		inv = amax > 0.0f ? 127.0f / amax : 0.0f;
		for (int j = 0; j < GRP; j++)
			q[g * GRP + j] = (int8_t)lrintf(x[g * GRP + j] * inv);
	}
}

/* x in two parts: hi as above, then the residual quantized the same way */
static void ref_quant_fine(const float *x, int k, int8_t *hi, float *dh, int8_t *lo, float *dl)
{
	float *r = malloc(sizeof(float) * k);

	assert_non_null(r);
	ref_quant_row(x, k, hi, dh);
	for (int c = 0; c < k; c++)
		r[c] = x[c] - (float)hi[c] * dh[c / GRP];
	ref_quant_row(r, k, lo, dl);
	free(r);
}

static int wval(const struct sm_gemv *g, int r, int c)
{
	if (g->quant == SM_GEMV_Q8)
		return ((const int8_t *)g->w)[(size_t)r * g->k + c];
	const uint8_t *b = (const uint8_t *)g->w + (size_t)r * g->k / 2 + (size_t)(c / GRP) * 16;
	int j = c % GRP;

	return (j < 16 ? (b[j] & 15) : (b[j - 16] >> 4)) - 8;
}

/* Exact integer sum of group gr of weight row r with quantized x, and
 * the sum of the products' magnitudes (*mag: the kernels sum in lanes
 * that may cancel, so their f32 error scales with it). */
static int64_t group_dot(const struct sm_gemv *g, int r, const int8_t *xq, int gr, int64_t *mag)
{
	int64_t t = 0;

	*mag = 0;
	for (int j = 0; j < GRP; j++) {
		int64_t p = (int64_t)wval(g, r, gr * GRP + j) * xq[gr * GRP + j];

		t += p;
		*mag += p < 0 ? -p : p;
	}
	return t;
}

/* ---- activations ---- */

static void test_qact_bits(void **st)
{
	static const int ks[] = { 32, 96, 4096 };
	unsigned seed = 3;

	(void)st;
	for (int p = 0; p < NPATHS; p++) {
		if (paths[p].isa > sm_isa_best() || !paths[p].vnni)
			continue;
		sm_isa_override(paths[p].isa);
		for (size_t a = 0; a < sizeof(ks) / sizeof(ks[0]); a++) {
			int k = ks[a];
			size_t rb = sm_qact_row_bytes(k);
			float *x = malloc(sizeof(float) * k), *d = malloc(sizeof(float) * k / GRP);
			int8_t *q = malloc(k);
			unsigned char *row = malloc(rb + 64);

			assert_non_null(x);
			assert_non_null(d);
			assert_non_null(q);
			assert_non_null(row);
			for (int i = 0; i < k; i++)
				x[i] = frand(&seed) * (float)(1 + i % 13);
			for (int j = 0; j < GRP; j++)		/* a group of zeros */
				x[j] = 0.0f;
			if (k > GRP)				/* values on half steps */
				for (int j = 0; j < GRP; j++)
					x[GRP + j] = ((float)j - 15.5f) * 2.0f;
			ref_quant_row(x, k, q, d);
			memset(row, 0xa5, rb + 64);
			sm_qact_quantize(x, k, 0, k / GRP, row);
			assert_memory_equal(row, q, k);
			assert_memory_equal(row + (k + 63) / 64 * 64, d, sizeof(float) * (k / GRP));
			/* a part of the row: only its groups written */
			memset(row, 0xa5, rb + 64);
			sm_qact_quantize(x, k, k / GRP / 2, k / GRP, row);
			for (int i = 0; i < k; i++)
				assert_true(row[i] == (i < k / GRP / 2 * GRP ? 0xa5 : (uint8_t)q[i]));
			assert_int_equal(row[rb], 0xa5);
			/* in two parts: hi, then the residual's row */
			{
				unsigned char *two = malloc(2 * rb);
				int8_t *lo = malloc(k);
				float *dl = malloc(sizeof(float) * k / GRP);

				assert_true(two && lo && dl);
				ref_quant_fine(x, k, q, d, lo, dl);
				sm_qact_quantize_fine(x, k, 0, k / GRP, two);
				assert_memory_equal(two, q, k);
				assert_memory_equal(two + (k + 63) / 64 * 64, d, sizeof(float) * (k / GRP));
				assert_memory_equal(two + rb, lo, k);
				assert_memory_equal(two + rb + (k + 63) / 64 * 64, dl,
						    sizeof(float) * (k / GRP));
				free(two);
				free(lo);
				free(dl);
			}
			free(x);
			free(d);
			free(q);
			free(row);
		}
	}
}

/* ---- products ---- */

struct qprod {
	struct sm_gemv g;
	void *w, *scale, *xq;
	float *x, *bias, *rs, *y;
};

/* A product of n x k weights (int8 or q4), m activation rows. unit: every
 * scale 1 and the activations integers with a +-127 in each group, so
 * that the whole product is integer arithmetic. */
static void qprod_make(struct qprod *p, enum sm_gemv_quant kind, int n, int k, int m, bool unit,
		       bool extras, bool fine, unsigned *seed)
{
	size_t wb = kind == SM_GEMV_Q8 ? (size_t)n * k : (size_t)n * k / 2;
	uint16_t *sc;

	memset(p, 0, sizeof(*p));
	p->w = malloc(wb);
	p->scale = malloc(sizeof(uint16_t) * n * (k / GRP));
	p->x = malloc(sizeof(float) * m * (k + 3));
	p->y = malloc(sizeof(float) * m * (n + 5));
	p->xq = malloc((fine ? 2 : 1) * m * sm_qact_row_bytes(k));
	assert_true(p->w && p->scale && p->x && p->y && p->xq);
	for (size_t i = 0; i < wb; i++) {
		unsigned v = rnd(seed);

		((uint8_t *)p->w)[i] = kind == SM_GEMV_Q8 ? (uint8_t)(int8_t)((int)(v % 255) - 127) :
				       (uint8_t)v;
	}
	if (kind == SM_GEMV_Q8 && wb > 2) {	/* the extremes */
		((int8_t *)p->w)[0] = 127;
		((int8_t *)p->w)[1] = -127;
	}
	sc = p->scale;
	for (int i = 0; i < n * (k / GRP); i++)
		sc[i] = unit ? 0x3c00 : (uint16_t)(0x2000 + rnd(seed) % 0x1800);
	for (int i = 0; i < m; i++)
		for (int c = 0; c < k; c++) {
			float *xv = &p->x[(size_t)i * (k + 3) + c];

			if (unit)
				*xv = c % GRP == (i * 7) % GRP ? (c & 32 ? -127.0f : 127.0f) :
				      (float)((int)(rnd(seed) % 255) - 127);
			else
				*xv = frand(seed) * (float)(1 + c % 5);
		}
	p->g.w = p->w;
	p->g.quant = kind;
	p->g.wscale = p->scale;
	p->g.n = n;
	p->g.k = k;
	p->g.m = m;
	p->g.x = p->x;
	p->g.ldx = k + 3;
	p->g.y = p->y;
	p->g.ldy = n + 5;
	p->g.xq = p->xq;
	p->g.xq_fine = fine;
	if (extras) {
		p->bias = malloc(sizeof(float) * n);
		p->rs = malloc(sizeof(float) * m);
		assert_true(p->bias && p->rs);
		for (int j = 0; j < n; j++)
			p->bias[j] = frand(seed);
		for (int i = 0; i < m; i++)
			p->rs[i] = 0.5f + (float)i;
		p->g.bias = p->bias;
		p->g.row_scale = p->rs;
	}
}

static void qprod_free(struct qprod *p)
{
	free(p->w);
	free(p->scale);
	free(p->xq);
	free(p->x);
	free(p->y);
	free(p->bias);
	free(p->rs);
}

/* Checks y: exact for unit products, else within f32 summation error. */
static void qprod_check(const struct qprod *p, bool unit, const char *what)
{
	const struct sm_gemv *g = &p->g;
	int k = g->k, ng = k / GRP;
	int8_t *xq = malloc(k), *lo = malloc(k);
	float *xd = malloc(sizeof(float) * ng), *dl = malloc(sizeof(float) * ng);

	assert_true(xq && xd && lo && dl);
	for (int i = 0; i < g->m; i++) {
		if (g->xq_fine)
			ref_quant_fine(g->x + (size_t)i * g->ldx, k, xq, xd, lo, dl);
		else
			ref_quant_row(g->x + (size_t)i * g->ldx, k, xq, xd);
		for (int r = 0; r < g->n; r++) {
			double want = 0, mag = 0;
			float got = g->y[(size_t)i * g->ldy + r];

			for (int gr = 0; gr < ng; gr++) {
				double sw = phimoe_f16_to_f32(((const uint16_t *)g->wscale)[(size_t)r * ng + gr]);
				int64_t am;
				double t = (double)group_dot(g, r, xq, gr, &am) * sw * xd[gr];

				want += t;
				mag += (double)am * sw * xd[gr];
				if (g->xq_fine) {
					t = (double)group_dot(g, r, lo, gr, &am) * sw * dl[gr];
					want += t;
					mag += (double)am * sw * dl[gr];
				}
			}
			if (unit) {
				/* every scale 1: xd is exactly 1 */
				if (got != (float)want) {
					print_message("%s: y[%d][%d] = %.9g, want exactly %.9g\n", what,
						      i, r, got, want);
					fail();
				}
				continue;
			}
			double rs = g->row_scale ? g->row_scale[i] : 1.0;

			want = (want + (g->bias ? g->bias[r] : 0.0)) * rs;
			if (!(fabs(got - want) <= (1e-5 * mag + 1e-6) * rs)) {
				print_message("%s: y[%d][%d] = %.9g, want %.9g\n", what, i, r, got, want);
				fail();
			}
		}
	}
	free(xq);
	free(xd);
	free(lo);
	free(dl);
}

static void run_shapes(bool unit)
{
	static const int ns[] = { 1, 3, 4, 5, 37 };
	/* groups: 1, 2, 3, 4 + 1, 8 + 4 + 2, 8, 16 + 8 + 4 + 1 (the kernels' blocks) */
	static const int ks[] = { 32, 64, 96, 160, 448, 256, 928 };
	unsigned seed = unit ? 17 : 19;
	int cases = 0, kernels = 0;

	for (int p = 0; p < NPATHS; p++) {
		if (paths[p].isa > sm_isa_best() || !path_set(p))
			continue;
		kernels++;
		print_message("# %s: kernel %s\n", unit ? "integer" : "scaled",
			      sm_qkern_name(sm_qkern_active()));
		for (int kind = SM_GEMV_Q8; kind <= SM_GEMV_Q4; kind++)
		for (int fine = 0; fine < 2; fine++)
			for (size_t a = 0; a < sizeof(ns) / sizeof(ns[0]); a++)
				for (size_t b = 0; b < sizeof(ks) / sizeof(ks[0]); b++)
					for (int m = 1; m <= 9; m += (m < 5 ? 1 : 4)) {
						struct qprod q;
						char what[128];

						qprod_make(&q, (enum sm_gemv_quant)kind, ns[a], ks[b], m,
							   unit, !unit && (a + m) % 2, fine, &seed);
						sm_gemv_run(&q.g, 1, 1 + 2 * (int)((a + b + m) % 2));
						snprintf(what, sizeof(what), "%s %s%s n=%d k=%d m=%d",
							 sm_qkern_name(sm_qkern_active()),
							 kind == SM_GEMV_Q8 ? "int8" : "q4",
							 fine ? " fine" : "", ns[a], ks[b], m);
						qprod_check(&q, unit, what);
						qprod_free(&q);
						cases++;
					}
	}
	print_message("# %d products on %d kernels\n", cases, kernels);
}

static void test_qgemm_integer(void **st)
{
	(void)st;
	run_shapes(true);
}

static void test_qgemm_scaled(void **st)
{
	(void)st;
	run_shapes(false);
}

/* q|k|v-like: products of one x sharing its quantized copy, and an
 * unrelated one, in one pass over 1..5 threads. */
static void test_qgemm_shared_x(void **st)
{
	unsigned seed = 23;

	(void)st;
	for (int p = 0; p < NPATHS; p++) {
		if (paths[p].isa > sm_isa_best() || !path_set(p))
			continue;
		for (int th = 1; th <= 5; th += 2) {
			struct qprod q[4];
			struct sm_gemv g[4];
			const int n[4] = { 64, 33, 9, 17 };

			for (int j = 0; j < 4; j++) {
				/* product 3 in two parts, the others one */
				qprod_make(&q[j], j % 2 ? SM_GEMV_Q4 : SM_GEMV_Q8, n[j], j == 3 ? 64 : 128,
					   j == 3 ? 2 : 6, false, j == 1, j == 3, &seed);
				g[j] = q[j].g;
			}
			/* 1 and 2 read product 0's x and its quantized copy */
			for (int j = 1; j < 3; j++) {
				g[j].x = q[0].x;
				g[j].ldx = q[0].g.ldx;
				g[j].xq = q[0].xq;
				q[j].g.x = q[0].x;
				q[j].g.ldx = q[0].g.ldx;
			}
			sm_gemv_run(g, 4, th);
			for (int j = 0; j < 4; j++)
				qprod_check(&q[j], false, sm_qkern_name(sm_qkern_active()));
			for (int j = 0; j < 4; j++)
				qprod_free(&q[j]);
		}
	}
}

/* The kernel each setting chooses, and the one the environment chose. */
static void test_qkern_choice(void **st)
{
	struct sm_cpu_features f;
	const char *expect = getenv("SPLITMOE_QKERN_EXPECT");
	enum sm_qkern want;

	(void)st;
	sm_cpu_features_get(&f);
	if (expect && *expect) {
		/* as the environment left it: before any override */
		print_message("# SPLITMOE_ISA=%s: kernel %s\n", getenv("SPLITMOE_ISA"),
			      sm_qkern_name(sm_qkern_active()));
		assert_string_equal(sm_qkern_name(sm_qkern_active()), expect);
	}
	sm_isa_override(SM_ISA_GENERIC);
	assert_int_equal(sm_qkern_active(), SM_QKERN_GENERIC);
	if (sm_isa_best() < SM_ISA_AVX2)
		return;
	sm_isa_override(SM_ISA_AVX2);
	sm_isa_override_vnni(0);
	assert_int_equal(sm_qkern_active(), SM_QKERN_AVX2);
	sm_isa_override_vnni(1);
	want = f.avx_vnni ? SM_QKERN_AVX2_VNNI : f.avx512_vnni ? SM_QKERN_AVX2_VNNI_EVEX :
	       SM_QKERN_AVX2;
	assert_int_equal(sm_qkern_active(), want);
	sm_isa_override(SM_ISA_AVX512);
	if (sm_isa_best() == SM_ISA_AVX512 && f.avx512_vnni)
		want = SM_QKERN_AVX512_VNNI;
	assert_int_equal(sm_qkern_active(), want);
	print_message("# this CPU: avx512_vnni %d, avx_vnni %d, best kernel %s\n", f.avx512_vnni,
		      f.avx_vnni, sm_qkern_name(want));
}

/* w[r][c] as the file means it: code x binary16 scale (exact in double) */
static double wreal(const struct sm_gemv *g, int r, int c)
{
	return wval(g, r, c) *
	       (double)phimoe_f16_to_f32(((const uint16_t *)g->wscale)[(size_t)r * (g->k / GRP) +
								 c / GRP]);
}

/* Runs q on th threads; its y, in a new buffer (y itself zeroed again) */
static float *run_saved(struct qprod *q, int th)
{
	size_t ybytes = sizeof(float) * (size_t)q->g.m * q->g.ldy;
	float *saved = malloc(ybytes);

	assert_non_null(saved);
	sm_gemv_run(&q->g, 1, th);
	memcpy(saved, q->y, ybytes);
	memset(q->y, 0, ybytes);
	return saved;
}

/* q's y bitwise equal to want, or a line naming the first difference */
static void assert_same_y(const struct qprod *q, const float *want, const char *what,
			  const char *against)
{
	for (int i = 0; i < q->g.m; i++)
		for (int r = 0; r < q->g.n; r++) {
			size_t at = (size_t)i * q->g.ldy + r;

			if (memcmp(&q->y[at], &want[at], sizeof(float))) {
				print_message("%s %s %s%s, k %d m %d: y[%d][%d] = %.9g, %s %.9g\n",
					      what, sm_qkern_name(sm_qkern_active()),
					      q->g.quant == SM_GEMV_Q8 ? "int8" : "q4",
					      q->g.xq_fine ? " fine" : "", q->g.k, q->g.m, i, r,
					      q->y[at], against, want[at]);
				fail();
			}
		}
}

/*
 * L2 blocking (sm_qgemm_override_block, SPLITMOE_QGEMM_BLOCK_KB) only
 * reorders the tiles: blocked and unblocked products are bitwise equal on
 * every kernel path, int8 and q4, with and without xq_fine, with bias and
 * row scales, on 1 and 3 threads; blocks of 4 and 16 KB cut these
 * products into several chunks of activation rows and panels of weight
 * rows, with tails of both.
 */
static void test_qgemm_blocked(void **st)
{
	static const size_t blocks[] = { 4u << 10, 16u << 10 };
	unsigned seed = 41;
	int cases = 0;

	(void)st;
	sm_qamx_override(0);
	for (int p = 0; p < NPATHS; p++) {
		if (paths[p].isa > sm_isa_best() || !path_set(p))
			continue;
		for (int kind = SM_GEMV_Q8; kind <= SM_GEMV_Q4; kind++)
		for (int fine = 0; fine < 2; fine++)
			for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++) {
				int n = 37, k = 448, m = 50, th = 1 + 2 * (int)((b + fine) % 2);
				struct qprod q;
				float *want;

				qprod_make(&q, (enum sm_gemv_quant)kind, n, k, m, false, true, fine,
					   &seed);
				sm_qgemm_override_block(0);
				want = run_saved(&q, th);
				sm_qgemm_override_block(blocks[b]);
				sm_gemv_run(&q.g, 1, th);
				sm_qgemm_override_block(0);
				assert_same_y(&q, want, "blocked", "unblocked");
				free(want);
				qprod_free(&q);
				cases++;
			}
	}
	print_message("# %d blocked products equal the unblocked\n", cases);
}

/*
 * The AVX-512 products by weight panels (cpu_qgemm.c) against the tiles,
 * bitwise: rows of all groups counts that take each of tile512's forms
 * (16-group blocks, then 8, 4 and single groups; under 16 groups the
 * ymm form alone), a panel and a part of one, 1 to 9 activation rows,
 * int8 and q4, fine or not, bias and row scales, 1 and 3 threads. On
 * other paths the panels are not used and the same holds trivially.
 */
static void test_qgemm_panel(void **st)
{
	static const int ks[] = { 32, 96, 256, 448, 512, 672, 864, 1536 };
	static const int ms[] = { 1, 4, 9 };
	unsigned seed = 43;
	int cases = 0;

	(void)st;
	sm_qamx_override(0);
	for (int p = 0; p < NPATHS; p++) {
		if (paths[p].isa > sm_isa_best() || !path_set(p))
			continue;
		for (int kind = SM_GEMV_Q8; kind <= SM_GEMV_Q4; kind++)
		for (int fine = 0; fine < 2; fine++)
		for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++)
			for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]); mi++) {
				int n = ki % 2 ? 16 : 37, k = ks[ki], m = ms[mi];
				int th = 1 + 2 * (int)((ki + mi) % 2);
				struct qprod q;
				float *want;

				qprod_make(&q, (enum sm_gemv_quant)kind, n, k, m, false, true, fine,
					   &seed);
				sm_qgemm_override_panel(0);
				want = run_saved(&q, th);
				sm_qgemm_override_panel(1);
				sm_gemv_run(&q.g, 1, th);
				sm_qgemm_override_panel(-1);
				assert_same_y(&q, want, "panels", "tiles");
				free(want);
				qprod_free(&q);
				cases++;
			}
	}
	print_message("# %d products by panels equal the tiles\n", cases);
}

/*
 * Shares of units with stealing (util/work_steal.h): first shares by
 * work, a thread takes its own from the front, own at a time, then one at
 * a time from the back of the share with the most left; pieces stop at
 * the parts; on a team of 4 over uneven shares every unit is taken
 * exactly once.
 */
struct steal_arg {
	struct sm_steal *s;
	int tid;
	_Atomic int *taken;
};

static void *steal_thread(void *p)
{
	struct steal_arg *a = p;
	uint32_t u0, u1;

	while (sm_steal_next(a->s, a->tid, 4, 1, &u0, &u1))
		for (uint32_t u = u0; u < u1; u++)
			atomic_fetch_add(&a->taken[u], 1);
	return NULL;
}

static void pass_marks(struct sm_pass_timer *t, int tid, uint64_t m0, uint64_t m1, uint64_t m2)
{
	t->th[tid].t[0] = m0;
	t->th[tid].t[1] = m1;
	t->th[tid].t[2] = m2;
}

/* The phase clocks: a call's marks folded into means and slowest threads */
static void test_pass_timer(void **st)
{
	static const char *const phases[] = { "a", "b" };
	struct sm_pass_timer *t = sm_pass_timer_new("pass", phases, 2);
	char line[256];

	(void)st;
	assert_non_null(t);
	assert_null(sm_pass_timer_new("pass", phases, SM_PASS_PHASES_MAX + 1));
	t->call_start = 100000;
	pass_marks(t, 0, 110000, 130000, 170000);	/* fork 10, a 20, b 40, join 40 us */
	pass_marks(t, 1, 120000, 125000, 200000);	/* fork 20, a 5, b 75, join 10 */
	sm_pass_end_at(t, 2, 210000);
	sm_pass_timer_format(t, line, sizeof(line));
	assert_string_equal(line, "pass: 1 calls, us a call (mean/slowest thread): fork 15.0/20.0, "
			    "a 12.5/20.0, b 57.5/75.0, join 25.0/40.0; total 110.0");
	/* a second call, one thread, a mark before the start counts 0 */
	t->call_start = 300000;
	pass_marks(t, 0, 290000, 310000, 330000);
	sm_pass_end_at(t, 1, 340000);
	sm_pass_timer_format(t, line, sizeof(line));
	assert_string_equal(line, "pass: 2 calls, us a call (mean/slowest thread): fork 7.5/10.0, "
			    "a 16.2/20.0, b 38.8/47.5, join 17.5/25.0; total 75.0");
	sm_pass_timer_format(t, line, 20);	/* truncated, terminated */
	assert_int_equal(strlen(line), 19);
	/* off: nothing to mark, nothing to fold */
	sm_pass_begin(NULL);
	sm_pass_mark(NULL, 0, 0);
	sm_pass_end(NULL, 4);
	sm_pass_timer_free(t);
}

static void test_work_steal(void **st)
{
	/* shares [0, 10), [10, 30), [30, 31); then 1, 1, 1 and 3997 units */
	static const uint32_t units[] = { 10, 20, 1 }, uneven[] = { 1, 1, 1, 3997 };
	static const uint64_t work[] = { 2, 1, 20 }, uneven_work[] = { 1000000, 1000000, 1000000, 1 };
	static _Atomic int taken[4000];
	struct sm_steal *s = malloc(sizeof(*s));
	uint32_t u0, u1;

	(void)st;
	assert_non_null(s);
	assert_true(sm_steal_init(s, 3, 3, units, work));
	assert_true(sm_steal_next(s, 2, 4, 1, &u0, &u1));
	assert_true(u0 == 30 && u1 == 31);
	assert_true(sm_steal_next(s, 2, 4, 1, &u0, &u1));	/* thread 1 has the most left */
	assert_true(u0 == 29 && u1 == 30);
	assert_true(sm_steal_next(s, 1, 4, 1, &u0, &u1));
	assert_true(u0 == 10 && u1 == 14);
	/* an owner takes a quarter of what it has left near its end */
	assert_true(sm_steal_next(s, 0, 16, 1, &u0, &u1));
	assert_true(u0 == 0 && u1 == 2);
	assert_true(sm_steal_next(s, 0, 16, 1, &u0, &u1));
	assert_true(u0 == 2 && u1 == 4);
	for (uint32_t u = 4; u < 10; u++) {
		assert_true(sm_steal_next(s, 0, 16, 1, &u0, &u1));
		assert_true(u0 == u && u1 == u + 1);
	}
	assert_true(sm_steal_next(s, 0, 16, 3, &u0, &u1));
	assert_true(u0 == 26 && u1 == 29);
	assert_true(sm_steal_init(s, 4, 4, uneven, uneven_work));
	assert_true(atomic_load(&s->t[3].left) == ((uint64_t)4000 << 32 | 3));
	for (unsigned seed = 1; seed <= 200; seed++) {	/* shares by work, unit by unit */
		uint32_t un[6], at = 0;
		uint64_t wk[6], total = 0, cum = 0;
		unsigned r = seed;
		int np = 1 + (int)(seed % 6), nth = 1 + (int)(seed % 17), t = 0;

		for (int p = 0; p < np; p++) {
			r = r * 1103515245u + 12345u;
			un[p] = (r >> 8) % 50;
			wk[p] = 1 + (r >> 20) % 1000;
			total += un[p] * wk[p];
		}
		assert_true(sm_steal_init(s, nth, np, un, wk));
		for (int p = 0; p < np; p++)
			for (uint32_t k = 0; k < un[p]; k++, at++, cum += wk[p])
				for (; t < nth && cum >= total * (uint64_t)t / (uint64_t)nth; t++)
					assert_int_equal((uint32_t)atomic_load(&s->t[t].left), at);
		for (; t < nth; t++)
			assert_int_equal((uint32_t)atomic_load(&s->t[t].left), at);
		assert_int_equal((uint32_t)(atomic_load(&s->t[nth - 1].left) >> 32), at);
		/* fixed shares (sm_share_of) are the same first shares, and
		 * tile the units for any team, one larger than stealing takes */
		for (t = 0; t < nth; t++) {
			uint64_t v = atomic_load(&s->t[t].left);

			sm_share_of(nth, np, un, wk, t, &u0, &u1);
			assert_true(u0 == (uint32_t)v && u1 == (uint32_t)(v >> 32));
		}
		for (t = 0, at = 0; t < SM_STEAL_MAX_THREADS + 72; t++) {
			sm_share_of(SM_STEAL_MAX_THREADS + 72, np, un, wk, t, &u0, &u1);
			assert_true(u0 == at && u1 >= u0);
			at = u1;
		}
		assert_int_equal(at, un[0] + (np > 1 ? un[1] : 0) + (np > 2 ? un[2] : 0) +
				 (np > 3 ? un[3] : 0) + (np > 4 ? un[4] : 0) + (np > 5 ? un[5] : 0));
	}
	{	/* pieces stop at the parts: [0, 1) of part 0 for thread 0 */
		struct sm_steal_cursor c = { 0, 0 };
		uint32_t a, b;
		int part;

		sm_steal_init(s, 4, 4, uneven, uneven_work);
		assert_true(sm_steal_piece(s, 0, &c, 4, 1, &part, &a, &b));
		assert_true(part == 0 && a == 0 && b == 1);
		assert_true(sm_steal_piece(s, 0, &c, 4, 1, &part, &a, &b));	/* stolen */
		assert_true(part == 3 && a == 3996 && b == 3997);
		sm_steal_init(s, 4, 4, uneven, uneven_work);
		c = (struct sm_steal_cursor){ 0, 0 };
		assert_true(sm_steal_next(s, 1, 4, 1, &a, &b));
		c = (struct sm_steal_cursor){ 0, 3 };	/* a claim across parts 0-2 */
		for (int p = 0; p < 3; p++) {
			uint32_t pa, pb;

			assert_true(sm_steal_piece(s, 0, &c, 4, 1, &part, &pa, &pb));
			assert_true(part == p && pa == 0 && pb == 1);
		}
		sm_steal_init(s, 4, 4, uneven, uneven_work);
	}
	{
		struct steal_arg args[4];
		pthread_t th[4];

		for (int t = 0; t < 4; t++) {
			args[t] = (struct steal_arg){ s, t, taken };
			assert_int_equal(pthread_create(&th[t], NULL, steal_thread, &args[t]), 0);
		}
		for (int t = 0; t < 4; t++)
			pthread_join(th[t], NULL);
	}
	for (int u = 0; u < 4000; u++)
		assert_int_equal(atomic_load(&taken[u]), 1);
	free(s);
}

/*
 * Decode's products go by shares with stealing (sm_gemv_steal_rows):
 * bitwise the same as fixed shares on every kernel path, int8 and q4,
 * fine or not, with bias and row scales, 1 to 8 activation rows, 2 and 3
 * threads, one product and two at once (units running from one into the
 * next), units of 4, 16 and 64 rows (owners claim 16, 4 and 1 at a time) over
 * row counts that leave a part unit;
 * 9 rows and more go by fixed shares.
 */
static void test_gemv_steal(void **st)
{
	static const int ns[] = { 5, 37, 300 };
	static const int ms[] = { 1, 2, 8 };
	unsigned seed = 47;
	int cases = 0;

	(void)st;
	sm_qamx_override(0);
	sm_gemv_override_steal(-1);
	assert_int_equal(sm_gemv_steal_rows(), 4);	/* a row tile by default */
	sm_gemv_override_steal(5);
	assert_int_equal(sm_gemv_steal_rows(), 8);
	for (int p = 0; p < NPATHS; p++) {
		if (paths[p].isa > sm_isa_best() || !path_set(p))
			continue;
		for (int kind = SM_GEMV_Q8; kind <= SM_GEMV_Q4; kind++)
		for (int fine = 0; fine < 2; fine++)
		for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ni++)
			for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]); mi++) {
				int n = ns[ni], k = ni % 2 ? 448 : 96, m = ms[mi];
				int th = 2 + (int)((ni + mi) % 2), rows = 4 << (2 * ((ni + mi) % 3));
				struct qprod q[2];
				struct sm_gemv g[2];
				float *want[2];

				for (int j = 0; j < 2; j++) {
					qprod_make(&q[j], (enum sm_gemv_quant)kind, n + 11 * j, k, m,
						   false, true, fine, &seed);
					g[j] = q[j].g;
				}
				sm_gemv_override_steal(0);
				assert_false(sm_gemv_stealing(g, 2, th));
				want[0] = run_saved(&q[0], th);
				want[1] = run_saved(&q[1], th);
				sm_gemv_override_steal(rows);
				assert_true(sm_gemv_stealing(g, 2, th));
				assert_false(sm_gemv_stealing(g, 2, 1));
				sm_gemv_run(&q[0].g, 1, th);
				assert_same_y(&q[0], want[0], "shares with stealing", "fixed shares");
				memset(q[0].y, 0, sizeof(float) * (size_t)m * q[0].g.ldy);
				sm_gemv_run(g, 2, th);
				for (int j = 0; j < 2; j++) {
					assert_same_y(&q[j], want[j], "two with stealing", "fixed shares");
					free(want[j]);
					qprod_free(&q[j]);
				}
				cases++;
			}
	}
	{
		struct qprod q;

		qprod_make(&q, SM_GEMV_Q8, 32, 64, 9, false, false, false, &seed);
		assert_false(sm_gemv_stealing(&q.g, 1, 2));
		qprod_free(&q);
	}
	sm_gemv_override_steal(-1);
	print_message("# %d products with stealing equal fixed shares\n", cases);
}

/*
 * Products of SM_QAMX_MIN_ROWS rows and more on AMX (cpu_qgemm_amx.h),
 * where this CPU has it: against the exact product of the weights as
 * stored and the f32 activations. The error allowed is what bf16 costs:
 * with every scale 1 the weights are exact in bf16 and only the
 * activations round (2^-8 of each product's size, 2^-15 with xq_fine's
 * hi and lo, 2^-13 with f32 sums); with real scales the weights round once too. Shapes: tails
 * of the 32-row weight blocks and 16-row activation tiles, one and two
 * tiles of each, bias and row scales, 1 and 3 threads. Everywhere: which
 * products go there (enough rows, quantized, AMX not turned off; on by
 * default, off under SPLITMOE_ISA=avx512).
 */
static void test_qgemm_amx(void **st)
{
	static const int ns[] = { 1, 17, 32, 45, 64, 300 };
	static const int ks[] = { 32, 96, 448 };
	static const int ms[] = { 16, 17, 33, 64 };
	unsigned seed = 29;
	int cases = 0;
	struct qprod q;

	(void)st;
	sm_qamx_override(1);
	qprod_make(&q, SM_GEMV_Q8, 4, 64, SM_QAMX_MIN_ROWS - 1, false, false, false, &seed);
	assert_false(sm_qamx_product(&q.g));
	q.g.m = SM_QAMX_MIN_ROWS;
	assert_true(sm_qamx_product(&q.g) == sm_qamx_ready());
	q.g.quant = SM_GEMV_PLAIN;
	assert_false(sm_qamx_product(&q.g));
	q.g.quant = SM_GEMV_Q8;
	sm_qamx_override(0);
	assert_false(sm_qamx_product(&q.g));
	sm_qamx_override(1);
	sm_isa_override(SM_ISA_AVX2);
	assert_false(sm_qamx_product(&q.g));
	sm_isa_override(sm_isa_best());
	{	/* on by default where it can run; SPLITMOE_ISA=avx512 turns it off */
		const char *isa = getenv("SPLITMOE_ISA");
		bool can = sm_qamx_product(&q.g);

		sm_qamx_override(-1);
		if (!isa || !*isa)
			assert_true(sm_qamx_product(&q.g) == can);
		else if (!strcmp(isa, "avx512"))
			assert_false(sm_qamx_product(&q.g));
		sm_qamx_override(1);
	}
	qprod_free(&q);
	if (!sm_qamx_ready()) {
		print_message("# no AMX-BF16 here: products of %d+ rows run the int8 kernels\n",
			      SM_QAMX_MIN_ROWS);
		return;
	}
	for (int kind = SM_GEMV_Q8; kind <= SM_GEMV_Q4; kind++)
	for (int unit = 0; unit < 2; unit++)
	for (int fine = 0; fine < 2; fine++)
		for (size_t a = 0; a < sizeof(ns) / sizeof(ns[0]); a++)
			for (size_t b = 0; b < sizeof(ks) / sizeof(ks[0]); b++)
				for (size_t c = 0; c < sizeof(ms) / sizeof(ms[0]); c++) {
					int m = ms[c], n = ns[a], k = ks[b];
					double tol = unit ? (fine ? 0x1p-13 : 0x1p-8) : 0x1p-7;

					qprod_make(&q, (enum sm_gemv_quant)kind, n, k, m, false,
						   (a + c) % 2, fine, &seed);
					if (unit)	/* scale 1: weights exact in bf16 */
						for (int i = 0; i < n * (k / GRP); i++)
							((uint16_t *)q.scale)[i] = 0x3c00;
					free(q.xq);
					q.xq = malloc((size_t)m * sm_qact_slot_bytes(k));
					assert_non_null(q.xq);
					q.g.xq = q.xq;
					assert_true(sm_qamx_product(&q.g));
					sm_gemv_run(&q.g, 1, 1 + 2 * (int)((a + b + c) % 2));
					for (int i = 0; i < m; i++)
						for (int r = 0; r < n; r++) {
							double want = 0, mag = 0, rs;
							float got = q.y[(size_t)i * q.g.ldy + r];

							for (int j = 0; j < k; j++) {
								double t = wreal(&q.g, r, j) *
									   q.x[(size_t)i * q.g.ldx + j];

								want += t;
								mag += fabs(t);
							}
							rs = q.rs ? q.rs[i] : 1.0;
							want = (want + (q.bias ? q.bias[r] : 0.0)) * rs;
							if (!(fabs(got - want) <= (tol * mag + 1e-6) * rs)) {
								print_message("amx %s%s%s n=%d k=%d m=%d: y[%d][%d] = %.9g, want %.9g (size %.3g)\n",
									      kind == SM_GEMV_Q8 ? "int8" : "q4",
									      unit ? " unit" : "", fine ? " fine" : "",
									      n, k, m, i, r, got, want, mag);
								fail();
							}
						}
					qprod_free(&q);
					cases++;
				}
	print_message("# %d products on AMX-BF16\n", cases);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_qkern_choice, restore),
		cmocka_unit_test_teardown(test_qact_bits, restore),
		cmocka_unit_test_teardown(test_qgemm_integer, restore),
		cmocka_unit_test_teardown(test_qgemm_scaled, restore),
		cmocka_unit_test_teardown(test_qgemm_shared_x, restore),
		cmocka_unit_test_teardown(test_qgemm_blocked, restore),
		cmocka_unit_test_teardown(test_qgemm_panel, restore),
		cmocka_unit_test(test_work_steal),
		cmocka_unit_test(test_pass_timer),
		cmocka_unit_test_teardown(test_gemv_steal, restore),
		cmocka_unit_test_teardown(test_qgemm_amx, restore),
	};

	return cmocka_run_group_tests_name("numerics-qkernels", tests, NULL, NULL);
}
