// SPDX-License-Identifier: MIT
/*
 * The CPU backend's experts of few rows on a team of threads (cpu_backend.c
 * experts_gemv): the fused pass (up to 8 rows: up products by columns with
 * silu, each thread quantizing the down products' input itself) and the
 * pass by phases (more rows) against the same experts on one thread, for
 * int8, q4 and plain f32 weights, teams of 2, 3 and 5, experts of unlike
 * row counts; f32 also against a double-precision reference; the team's
 * result bitwise the same whether the up products' columns and the down
 * products' rows go by shares with stealing (sm_gemv_steal_rows, the
 * default) or fixed shares. The experts
 * are wide enough (over 1 MB) that the backend runs them on its team.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "config/options.h"
#include "cpu/cpu_gemv.h"
#include "cpu/quant.h"

#define HIDDEN 2048
#define INTER 448
#define NEXP 2
#define MAX_ROWS 16

static float frand(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return ((*seed >> 8) & 0xffff) / 65536.0f - 0.5f;
}

/* w1, w3 [INTER][HIDDEN] and w2 [HIDDEN][INTER] of each expert, f32. */
static float *weights[NEXP][3];

static int setup(void **st)
{
	unsigned seed = 11;

	(void)st;
	for (int e = 0; e < NEXP; e++)
		for (int p = 0; p < 3; p++) {
			size_t n = (size_t)HIDDEN * INTER;

			weights[e][p] = malloc(sizeof(float) * n);
			if (!weights[e][p])
				return -1;
			for (size_t i = 0; i < n; i++)
				weights[e][p][i] = frand(&seed) * 0.1f;
		}
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	for (int e = 0; e < NEXP; e++)
		for (int p = 0; p < 3; p++)
			free(weights[e][p]);
	return 0;
}

/* A tensor over a fresh copy of the weights: quantizing at load releases
 * the pages of the tensor it read (backend.h). */
static struct phimoe_tensor tensor(const char *name, const float *w, int rows, int cols)
{
	size_t n = (size_t)rows * cols;
	float *copy = malloc(sizeof(float) * n);

	assert_non_null(copy);
	memcpy(copy, w, sizeof(float) * n);
	return (struct phimoe_tensor){ .name = name, .dtype = PHIMOE_DTYPE_F32, .ndim = 2,
				       .shape = { rows, cols }, .numel = n,
				       .nbytes = sizeof(float) * n, .data = copy };
}

struct experts {
	struct sm_backend *be;
	struct sm_expert *e[NEXP];
	void *copies[NEXP][3];
};

static void experts_make(struct experts *x, enum sm_quant q, int threads)
{
	struct sm_cpu_backend_opts o = { .compute = SM_BACKEND_F32, .quant = q,
					 .threads = threads, .max_rows = MAX_ROWS };
	char err[256];

	memset(x, 0, sizeof(*x));
	if (sm_cpu_backend_create(&o, &x->be, err, sizeof(err)))
		fail_msg("cpu backend: %s", err);
	for (int e = 0; e < NEXP; e++) {
		struct sm_expert_desc d = {
			.name = "expert",
			.w1 = tensor("w1", weights[e][0], INTER, HIDDEN),
			.w3 = tensor("w3", weights[e][1], INTER, HIDDEN),
			.w2 = tensor("w2", weights[e][2], HIDDEN, INTER),
		};

		x->copies[e][0] = (void *)d.w1.data;
		x->copies[e][1] = (void *)d.w3.data;
		x->copies[e][2] = (void *)d.w2.data;
		if (x->be->ops->expert_create(x->be, &d, &x->e[e]))
			fail_msg("expert_create: %s", x->be->last_error);
	}
}

static void experts_free(struct experts *x)
{
	for (int e = 0; e < NEXP; e++) {
		x->be->ops->expert_destroy(x->be, x->e[e]);
		for (int p = 0; p < 3; p++)
			free(x->copies[e][p]);
	}
	x->be->ops->destroy(x->be);
}

/* y[e] (m[e] rows) of both experts in one call. */
static void experts_run(struct experts *x, float *const *in, const int *m,
			float *const *scale, float *const *y)
{
	const float *cin[NEXP] = { in[0], in[1] }, *cs[NEXP] = { scale[0], scale[1] };

	assert_int_equal(sm_be_experts(x->be, x->e, cin, m, cs, y, NEXP), 0);
}

/* scale * w2 (silu(w1 x) * w3 x) of expert e, row x, in double. */
static void reference(int e, const float *x, float scale, double *y)
{
	static double g[INTER];

	for (int c = 0; c < INTER; c++) {
		double h1 = 0, h3 = 0;

		for (int k = 0; k < HIDDEN; k++) {
			h1 += (double)weights[e][0][(size_t)c * HIDDEN + k] * x[k];
			h3 += (double)weights[e][1][(size_t)c * HIDDEN + k] * x[k];
		}
		g[c] = h1 / (1 + exp(-h1)) * h3;
	}
	for (int r = 0; r < HIDDEN; r++) {
		double s = 0;

		for (int c = 0; c < INTER; c++)
			s += (double)weights[e][2][(size_t)r * INTER + c] * g[c];
		y[r] = s * scale;
	}
}

/* Row counts of the two experts: the fused pass (<= 8 rows in all), the
 * pass by phases (more). */
static const int row_cases[][NEXP] = { { 1, 1 }, { 3, 2 }, { 1, 6 }, { 6, 5 }, { 2, 9 } };

static void check_quant(enum sm_quant q)
{
	static const int teams[] = { 2, 3, 5 };
	static const char *const knobs[][2] = {
		{ "SPLITMOE_PROFILE_PASSES", "1" }, { "SPLITMOE_EXPERTS_UNIT_COLS", "8" },
		{ "SPLITMOE_EXPERTS_DOWN_PREFETCH_KB", "64" },
	};
	unsigned seed = 3;
	float *in[NEXP], *scale[NEXP], *want[NEXP], *got[NEXP];
	struct experts one, timed;

	for (int e = 0; e < NEXP; e++) {
		in[e] = malloc(sizeof(float) * MAX_ROWS * HIDDEN);
		scale[e] = malloc(sizeof(float) * MAX_ROWS);
		want[e] = malloc(sizeof(float) * MAX_ROWS * HIDDEN);
		got[e] = malloc(sizeof(float) * MAX_ROWS * HIDDEN);
		assert_true(in[e] && scale[e] && want[e] && got[e]);
		for (int i = 0; i < MAX_ROWS * HIDDEN; i++)
			in[e][i] = frand(&seed) * 4;
		for (int i = 0; i < MAX_ROWS; i++)
			scale[e][i] = 0.25f + 0.1f * (float)i;
	}
	experts_make(&one, q, 1);
	/* a team of 3 with the phase clocks on and the fused pass's knobs
	 * moved: 8-column units, the down prefetch (read at the backend's
	 * creation) */
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		assert_int_equal(setenv(knobs[i][0], knobs[i][1], 1), 0);
	experts_make(&timed, q, 3);
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		unsetenv(knobs[i][0]);
	for (size_t t = 0; t < sizeof(teams) / sizeof(teams[0]); t++) {
		struct experts team;

		experts_make(&team, q, teams[t]);
		for (size_t c = 0; c < sizeof(row_cases) / sizeof(row_cases[0]); c++) {
			const int *m = row_cases[c];
			double worst = 0, top = 0;

			experts_run(&one, in, m, scale, want);
			for (int e = 0; e < NEXP; e++)
				memset(got[e], 0xff, sizeof(float) * MAX_ROWS * HIDDEN);	/* NaN */
			experts_run(&team, in, m, scale, got);
			for (int e = 0; e < NEXP; e++)
				for (int i = 0; i < m[e] * HIDDEN; i++) {
					double d = fabs((double)got[e][i] - want[e][i]);

					assert_false(isnan(got[e][i]));
					worst = d > worst ? d : worst;
					top = fabs(want[e][i]) > top ? fabs(want[e][i]) : top;
				}
			/* the up products' columns and the down products' rows by
			 * shares with stealing (the default) or fixed shares: which
			 * thread makes a column or a row changes no bit */
			for (int e = 0; e < NEXP; e++)
				memcpy(want[e], got[e], sizeof(float) * m[e] * HIDDEN);
			for (int r = 0; r < 4; r++) {
				sm_gemv_override_steal((int[]){ 0, 8, 16, 64 }[r]);
				experts_run(&team, in, m, scale, got);
				for (int e = 0; e < NEXP; e++)
					assert_memory_equal(got[e], want[e], sizeof(float) * m[e] * HIDDEN);
			}
			sm_gemv_override_steal(-1);
			if (teams[t] == 3) {	/* the phase clocks and the knobs: no bit */
				experts_run(&timed, in, m, scale, got);
				for (int e = 0; e < NEXP; e++)
					assert_memory_equal(got[e], want[e], sizeof(float) * m[e] * HIDDEN);
			}
			experts_run(&one, in, m, scale, want);
			print_message("# %s, %d threads, rows %d+%d: worst |team - one| %.3g of %.3g\n",
				      sm_quant_name(q), teams[t], m[0], m[1], worst, top);
			assert_true(worst <= 1e-5 * top);
			if (q != SM_QUANT_NONE || teams[t] != 3)
				continue;
			for (int e = 0; e < NEXP; e++)
				for (int r = 0; r < m[e]; r++) {
					double y[HIDDEN];

					reference(e, in[e] + (size_t)r * HIDDEN, scale[e][r], y);
					for (int i = 0; i < HIDDEN; i++)
						assert_true(fabs(got[e][(size_t)r * HIDDEN + i] - y[i]) <=
							    1e-4 * top);
				}
		}
		experts_free(&team);
	}
	experts_free(&timed);
	experts_free(&one);
	for (int e = 0; e < NEXP; e++) {
		free(in[e]);
		free(scale[e]);
		free(want[e]);
		free(got[e]);
	}
}

static void test_experts_int8(void **st)
{
	(void)st;
	check_quant(SM_QUANT_INT8);
}

static void test_experts_q4(void **st)
{
	(void)st;
	check_quant(SM_QUANT_Q4);
}

static void test_experts_f32(void **st)
{
	(void)st;
	check_quant(SM_QUANT_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_experts_int8),
		cmocka_unit_test(test_experts_q4),
		cmocka_unit_test(test_experts_f32),
	};

	return cmocka_run_group_tests_name("numerics-experts", tests, setup, teardown);
}
