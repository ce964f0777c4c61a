/* SPDX-License-Identifier: MIT */
/*
 * Products of a few activation rows with row-major weights, read where
 * they lie (the checkpoint's mapping): the decode path, where reading the
 * weights once is the whole cost. y[i][j] = (x[i] . W[j] + b[j]) * s[i]
 * for i < m, j < n; W is [n][k] in bf16 or f32 (bf16 widened to f32 as it
 * is loaded: exact f32 products, f32 sums). Several products run in one
 * parallel pass, their rows split among the threads by work (weight
 * bytes, and the products with each product's rows: experts of unlike
 * row counts), so that q|k|v or the w1|w3 of two experts cost one fork
 * and one stream.
 * Kernels for AVX-512, AVX2+FMA and plain C (cpu_isa.h chooses);
 * quantized weights run cpu_qgemm.h's int8 kernels.
 */
#ifndef SPLITMOE_CPU_GEMV_H
#define SPLITMOE_CPU_GEMV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/gemv_desc.h"
#include "util/work_steal.h"

#define SM_GEMV_MAX_JOBS 64

/* Whether sm_gemv handles weights of this dtype. */
bool sm_gemv_dtype_ok(enum phimoe_dtype dt);

/* Runs the ng products on nthreads threads (<= 1: the calling thread
 * alone, no parallel region); quantizes the activations of quantized
 * ones first. */
void sm_gemv_run(const struct sm_gemv *g, int ng, int nthreads);
/* The same, its phases (the input's quantization with its barrier, the
 * rows) on tm's clocks (util/pass_timer.h; NULL: none). */
struct sm_pass_timer;
void sm_gemv_run_timed(const struct sm_gemv *g, int ng, int nthreads, struct sm_pass_timer *tm);

/*
 * Products of few activation rows (decode; none on AMX) go by shares of
 * units of this many rows with stealing (util/work_steal.h): a thread
 * done with its share takes units from the back of the one with the most
 * left (SPLITMOE_GEMV_STEAL_ROWS, rounded up to a row tile of 4; 0: fixed shares).
 * Which thread makes a row changes no bit.
 */
int sm_gemv_steal_rows(void);
/* Tests: units of rows from now on (0: fixed shares; -1: the environment). */
void sm_gemv_override_steal(int rows);
/* Whether sm_gemv_run on nthreads threads shares g[0..ng)'s rows so. */
bool sm_gemv_stealing(const struct sm_gemv *g, int ng, int nthreads);
/* Before a parallel region of nth threads: the shares of g[0..ng) in s
 * (false: too many threads, products or units; use fixed shares). */
bool sm_gemv_steal_prepare(const struct sm_gemv *g, int ng, int nth, struct sm_steal *s);
/* Inside it: thread tid's share, then what it can steal, until no unit is
 * left (every thread of the team calls it). */
void sm_gemv_steal_part(const struct sm_gemv *g, int tid, struct sm_steal *s);
/* Before the region's first claim: as sm_gemv_prefetch_part, thread
 * tid's first share of s. */
void sm_gemv_steal_prefetch(const struct sm_gemv *g, int tid, const struct sm_steal *s,
			    size_t max_bytes);

/* The share of thread tid of nth of the same work: for use inside a
 * parallel region of the caller's (several phases, one fork). Quantized
 * products need their xq filled: sm_gemv_quantize_part, then a barrier. */
void sm_gemv_part(const struct sm_gemv *g, int ng, int tid, int nth);

/* Rows [r0, r1) of g alone, on the calling thread (xq filled where
 * quantized): for callers that split the rows themselves. */
void sm_gemv_rows(const struct sm_gemv *g, int r0, int r1);

/* Starts bringing the weights (and scales) of thread tid's share of
 * sm_gemv_part's split into L2, up to max_bytes of them, without waiting
 * for them: a thread that would wait at a barrier before the products
 * reads its share from memory while it waits. */
void sm_gemv_prefetch_part(const struct sm_gemv *g, int ng, int tid, int nth, size_t max_bytes);

/* Thread tid's share of quantizing the activations of the quantized
 * products among g[0..ng) into their xq (once per distinct xq). */
void sm_gemv_quantize_part(const struct sm_gemv *g, int ng, int tid, int nth);

/* Quantizes activation row i of g (groups [g0, g1)) into its xq; not
 * for products on AMX (sm_qamx_product), whose rows go by blocks of 16
 * in sm_gemv_quantize_part. */
void sm_gemv_quantize_row(const struct sm_gemv *g, int i, int g0, int g1);

/* Whether any of g[0..ng) is quantized. */
bool sm_gemv_any_quantized(const struct sm_gemv *g, int ng);

#endif
