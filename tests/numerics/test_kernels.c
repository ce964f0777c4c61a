// SPDX-License-Identifier: MIT
/*
 * Our own CPU kernels against naive double-precision references, on every
 * ISA path this CPU has (forced one after the other as SPLITMOE_ISA does):
 * cpu_gemv's few-row products (bf16 and f32 weights, every row and column
 * tail, bias, row scale, strides, several products split over 1..5
 * threads), the weight quantization's own error, and the ISA choice
 * itself (the int8 and q4 products: test_qkernels.c).
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

#include "config/options.h"
#include "cpu/cpu_gemv.h"
#include "cpu/cpu_isa.h"
#include "cpu/quant.h"

static float frand(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return ((*seed >> 8) & 0xffff) / 65536.0f - 0.5f;
}

static uint16_t to_bf16(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	u += 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

static float from_bf16(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

/* One product of the given shape: weights, inputs and expected output. */
struct product {
	struct sm_gemv g;
	float *wf;		/* the weights as f32 (bf16 values widened) */
	void *w;
	float *x, *bias, *scale, *y;
	double *want;
};

static void product_make(struct product *p, bool bf16, int n, int k, int m, bool bias,
			 bool scale, unsigned *seed)
{
	int ldx = k + 3, ldy = n + 5;

	memset(p, 0, sizeof(*p));
	p->wf = malloc(sizeof(float) * (size_t)n * k);
	p->w = malloc((bf16 ? 2 : 4) * (size_t)n * k);
	p->x = malloc(sizeof(float) * (size_t)m * ldx);
	p->y = malloc(sizeof(float) * (size_t)m * ldy);
	p->want = malloc(sizeof(double) * (size_t)m * n);
	p->bias = bias ? malloc(sizeof(float) * n) : NULL;
	p->scale = scale ? malloc(sizeof(float) * m) : NULL;
	assert_non_null(p->wf);
	assert_non_null(p->w);
	assert_non_null(p->x);
	assert_non_null(p->y);
	assert_non_null(p->want);
	for (size_t i = 0; i < (size_t)n * k; i++) {
		float v = frand(seed);

		if (bf16) {
			((uint16_t *)p->w)[i] = to_bf16(v);
			p->wf[i] = from_bf16(((uint16_t *)p->w)[i]);
		} else {
			((float *)p->w)[i] = v;
			p->wf[i] = v;
		}
	}
	for (size_t i = 0; i < (size_t)m * ldx; i++)
		p->x[i] = frand(seed);
	for (int j = 0; bias && j < n; j++)
		p->bias[j] = frand(seed);
	for (int i = 0; scale && i < m; i++)
		p->scale[i] = 0.5f + (float)i;
	for (size_t i = 0; i < (size_t)m * ldy; i++)
		p->y[i] = NAN;		/* every output written, nothing else */
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++) {
			double s = 0.0;

			for (int c = 0; c < k; c++)
				s += (double)p->wf[(size_t)j * k + c] * p->x[(size_t)i * ldx + c];
			s += bias ? p->bias[j] : 0.0;
			p->want[(size_t)i * n + j] = s * (scale ? p->scale[i] : 1.0);
		}
	p->g = (struct sm_gemv){
		.w = p->w, .dtype = bf16 ? PHIMOE_DTYPE_BF16 : PHIMOE_DTYPE_F32,
		.n = n, .k = k, .m = m, .x = p->x, .ldx = ldx, .bias = p->bias,
		.row_scale = p->scale, .y = p->y, .ldy = ldy,
	};
}

/* Worst |got - want| relative to the sum of |terms| (f32 rounding). */
static void product_check(const struct product *p, const char *what)
{
	const struct sm_gemv *g = &p->g;

	for (int i = 0; i < g->m; i++) {
		for (int j = 0; j < g->n; j++) {
			double want = p->want[(size_t)i * g->n + j];
			double got = g->y[(size_t)i * g->ldy + j];
			double mag = 1e-3;

			for (int c = 0; c < g->k; c++)
				mag += fabs(p->wf[(size_t)j * g->k + c] * g->x[(size_t)i * g->ldx + c]);
			mag *= g->row_scale ? g->row_scale[i] : 1.0;
			if (!(fabs(got - want) <= 1e-5 * mag + 1e-6)) {
				print_message("%s: y[%d][%d] = %.9g, want %.9g\n", what, i, j, got,
					      want);
				fail();
			}
		}
		for (int j = g->n; j < g->ldy; j++)
			assert_true(isnan(g->y[(size_t)i * g->ldy + j]));
	}
}

static void product_free(struct product *p)
{
	free(p->wf);
	free(p->w);
	free(p->x);
	free(p->y);
	free(p->want);
	free(p->bias);
	free(p->scale);
}

static int restore_isa(void **st)
{
	(void)st;
	sm_isa_override(sm_isa_best());
	return 0;
}

/* Every shape tail on every ISA path, one product at a time. */
static void test_gemv_shapes(void **st)
{
	static const int ns[] = { 1, 3, 4, 5, 8, 37 };
	static const int ks[] = { 1, 7, 8, 15, 16, 17, 133 };
	unsigned seed = 7;
	int cases = 0;

	(void)st;
	for (int isa = SM_ISA_GENERIC; isa <= (int)sm_isa_best(); isa++) {
		sm_isa_override((enum sm_isa)isa);
		assert_int_equal(sm_isa_active(), isa);
		for (int bf = 0; bf < 2; bf++)
			for (size_t a = 0; a < sizeof(ns) / sizeof(ns[0]); a++)
				for (size_t b = 0; b < sizeof(ks) / sizeof(ks[0]); b++)
					for (int m = 1; m <= 9; m += 2) {
						struct product p;
						char what[96];

						product_make(&p, bf, ns[a], ks[b], m, (a + b) % 2,
							     (a + m) % 3 == 0, &seed);
						sm_gemv_run(&p.g, 1, (int)(a + b) % 4);
						snprintf(what, sizeof(what),
							 "%s %s n=%d k=%d m=%d",
							 sm_isa_name((enum sm_isa)isa),
							 bf ? "bf16" : "f32", ns[a], ks[b], m);
						product_check(&p, what);
						product_free(&p);
						cases++;
					}
	}
	print_message("# %d products on %d ISA paths\n", cases, (int)sm_isa_best() + 1);
}

/*
 * A row's result does not depend on the rows beside it (batched decode
 * equals each sequence alone): products of 2 to 33 rows (tiles of 4
 * rows and their tails) equal, bit for bit, each row run alone, on
 * every ISA path, bf16 and f32.
 */
static void test_gemv_rows_alone(void **st)
{
	static const int ms[] = { 2, 8, 9, 13, 16, 33 };
	unsigned seed = 23;

	(void)st;
	for (int isa = SM_ISA_GENERIC; isa <= (int)sm_isa_best(); isa++) {
		sm_isa_override((enum sm_isa)isa);
		for (int bf = 0; bf < 2; bf++)
			for (size_t a = 0; a < sizeof(ms) / sizeof(ms[0]); a++) {
				struct product p;
				int n = 37, k = 133 + (int)a * 16;
				float *y1 = malloc(sizeof(float) * (size_t)n);

				assert_non_null(y1);
				product_make(&p, bf, n, k, ms[a], a % 2, a % 3 == 0, &seed);
				sm_gemv_run(&p.g, 1, 1 + (int)a % 3);
				product_check(&p, "rows together");
				for (int i = 0; i < ms[a]; i++) {
					struct sm_gemv one = p.g;

					one.m = 1;
					one.x = p.g.x + (size_t)i * p.g.ldx;
					one.y = y1;
					one.ldy = n;
					one.row_scale = p.g.row_scale ? p.g.row_scale + i : NULL;
					sm_gemv_run(&one, 1, 1);
					if (memcmp(y1, p.g.y + (size_t)i * p.g.ldy, sizeof(float) * n)) {
						print_error("%s %s m=%d: row %d differs from itself alone\n",
							    sm_isa_name((enum sm_isa)isa),
							    bf ? "bf16" : "f32", ms[a], i);
						fail();
					}
				}
				free(y1);
				product_free(&p);
			}
	}
}

/* Several products of unlike sizes in one pass, split over 1..5 threads
 * (by weight bytes, in whole row blocks): every row by exactly one. */
static void test_gemv_several(void **st)
{
	unsigned seed = 11;

	(void)st;
	for (int isa = SM_ISA_GENERIC; isa <= (int)sm_isa_best(); isa++) {
		sm_isa_override((enum sm_isa)isa);
		for (int th = 1; th <= 5; th++) {
			struct product p[4];
			struct sm_gemv g[4];
			const int n[4] = { 64, 3, 130, 17 }, k[4] = { 96, 200, 33, 64 };

			for (int j = 0; j < 4; j++) {
				product_make(&p[j], j % 2, n[j], k[j], 1 + j % 3, j == 0, j == 3,
					     &seed);
				g[j] = p[j].g;
			}
			sm_gemv_run(g, 4, th);
			for (int j = 0; j < 4; j++) {
				product_check(&p[j], sm_isa_name((enum sm_isa)isa));
				product_free(&p[j]);
			}
		}
	}
}

/* Dequantized weight (r, c) of q, as the kernels must read it. */
static double dequant(const struct sm_qweight *q, int r, int c)
{
	const uint16_t *sc = (const uint16_t *)q->scale + (size_t)r * (q->k / SM_Q4_GROUP);
	double s = phimoe_f16_to_f32(sc[c / SM_Q4_GROUP]);

	if (q->kind == SM_GEMV_Q8)
		return s * ((const int8_t *)q->q)[(size_t)r * q->k + c];
	const uint8_t *b = (const uint8_t *)q->q + (size_t)r * q->k / 2 +
			   (size_t)(c / SM_Q4_GROUP) * 16;
	int j = c % SM_Q4_GROUP;
	int v = j < 16 ? (b[j] & 15) : (b[j - 16] >> 4);

	return s * (v - 8);
}

/* int8 and q4: each format's error against the original within its
 * step (their products, with int8 activations: test_qkernels.c). */
static void test_gemv_quantized(void **st)
{
	const int n = 37, k = 160;
	unsigned seed = 5;
	float *w = malloc(sizeof(float) * n * k);
	struct phimoe_tensor t = { .name = "w", .dtype = PHIMOE_DTYPE_F32, .ndim = 2,
				   .shape = { n, k }, .numel = (size_t)n * k,
				   .nbytes = sizeof(float) * n * k, .data = w };

	(void)st;
	assert_non_null(w);
	for (int i = 0; i < n * k; i++)
		w[i] = frand(&seed) * (1 + i % 7);
	for (int qi = SM_QUANT_INT8; qi <= SM_QUANT_Q4; qi++) {
		struct sm_qweight q;
		double worst = 0;

		assert_int_equal(sm_qweight_make(&t, (enum sm_quant)qi, &q), 0);
		/* the rounding error is at most half a step of the group's scale */
		for (int r = 0; r < n; r++)
			for (int c = 0; c < k; c++) {
				const uint16_t *sc = (const uint16_t *)q.scale +
						     (size_t)r * (k / SM_Q4_GROUP);
				double step = phimoe_f16_to_f32(sc[c / SM_Q4_GROUP]);
				double e = fabs(dequant(&q, r, c) - w[(size_t)r * k + c]);

				assert_true(e <= step * 0.5 + step * 1e-3);
				if (e > worst)
					worst = e;
			}
		print_message("# %s: worst weight error %.3g\n", sm_quant_name(qi), worst);
		/* the products of these weights: test_qkernels.c */
		sm_qweight_free(&q);
	}
	/* no multiple of the group: not quantized */
	t.shape[1] = 150;
	t.numel = (size_t)n * 150;
	assert_false(sm_quant_fits(SM_QUANT_Q4, 150));
	assert_int_equal(sm_qweight_make(&t, SM_QUANT_INT8, &(struct sm_qweight){ 0 }), -EINVAL);
	free(w);
}

static void test_quant_names(void **st)
{
	enum sm_quant q;

	(void)st;
	assert_int_equal(sm_quant_parse("int8", &q), 0);
	assert_int_equal(q, SM_QUANT_INT8);
	assert_int_equal(sm_quant_parse("q4", &q), 0);
	assert_int_equal(q, SM_QUANT_Q4);
	assert_int_equal(sm_quant_parse("none", &q), 0);
	assert_int_equal(q, SM_QUANT_NONE);
	assert_true(sm_quant_parse("q5", &q) < 0);
	assert_string_equal(sm_quant_name(SM_QUANT_Q4), "q4");
}

static void test_isa_names(void **st)
{
	(void)st;
	assert_string_equal(sm_isa_name(SM_ISA_GENERIC), "generic");
	assert_string_equal(sm_isa_name(SM_ISA_AVX2), "avx2");
	assert_string_equal(sm_isa_name(SM_ISA_AVX512), "avx512");
	/* asking above the CPU's best gives its best */
	sm_isa_override(SM_ISA_AVX512);
	assert_int_equal(sm_isa_active(), sm_isa_best());
	assert_false(sm_isa_forced());
	sm_isa_override(SM_ISA_GENERIC);
	assert_int_equal(sm_isa_active(), SM_ISA_GENERIC);
	assert_true(sm_isa_forced() == (sm_isa_best() != SM_ISA_GENERIC));
	print_message("# this CPU's best: %s\n", sm_isa_name(sm_isa_best()));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_gemv_shapes, restore_isa),
		cmocka_unit_test_teardown(test_gemv_rows_alone, restore_isa),
		cmocka_unit_test_teardown(test_gemv_several, restore_isa),
		cmocka_unit_test_teardown(test_gemv_quantized, restore_isa),
		cmocka_unit_test(test_quant_names),
		cmocka_unit_test_teardown(test_isa_names, restore_isa),
	};

	return cmocka_run_group_tests_name("numerics-kernels", tests, NULL, NULL);
}
