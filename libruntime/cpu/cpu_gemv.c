// SPDX-License-Identifier: MIT
/* Few-row products on row-major weights; see cpu_gemv.h. */
#include "cpu/cpu_gemv.h"
#include "cpu/cpu_qgemm_amx.h"
#include "cpu/cpu_isa.h"
#include "cpu/cpu_qgemm.h"

#include "util/env_knob.h"
#include "util/pass_timer.h"

#include <omp.h>
#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

/* Rows of W one kernel call reads together (one stream each). */
#define ROW_BLOCK 4
/* Input rows one pass over a row block serves (registers: 4 x 4 sums). */
#define X_BLOCK 4

bool sm_gemv_dtype_ok(enum phimoe_dtype dt)
{
	return dt == PHIMOE_DTYPE_BF16 || dt == PHIMOE_DTYPE_F32;
}

static inline float bf16_to_f32(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

/* out[q][i] = W[q] . x[i] for q < nr rows of W, i < mm rows of x. */
static void dot_generic(const void *w, enum phimoe_dtype dt, size_t ldw, int k,
			const float *x, int ldx, int mm, int nr, float out[ROW_BLOCK][X_BLOCK])
{
	for (int q = 0; q < nr; q++) {
		for (int i = 0; i < mm; i++) {
			const float *xi = x + (size_t)i * ldx;
			float s = 0.0f;

			if (dt == PHIMOE_DTYPE_BF16) {
				const uint16_t *wq = (const uint16_t *)w + q * ldw;

				for (int c = 0; c < k; c++)
					s += bf16_to_f32(wq[c]) * xi[c];
			} else {
				const float *wq = (const float *)w + q * ldw;

				for (int c = 0; c < k; c++)
					s += wq[c] * xi[c];
			}
			out[q][i] = s;
		}
	}
}

#if HAVE_X86
#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))
#define T256 __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

INLINE T512 __m512 ld16_bf16(const uint16_t *p)
{
	__m256i h = _mm256_loadu_si256((const __m256i *)p);

	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

INLINE T512 __m512 ld16_bf16_mask(const uint16_t *p, __mmask16 msk)
{
	__m256i h = _mm256_maskz_loadu_epi16(msk, p);

	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* The AVX-512 kernel for NR rows of W and MM rows of x (constants once
 * inlined: the sums stay in registers). */
INLINE T512 void dot512(const void *w, bool bf16, size_t ldw, int k, const float *x,
			int ldx, const int MM, const int NR, float out[ROW_BLOCK][X_BLOCK])
{
	__m512 acc[ROW_BLOCK][X_BLOCK];
	int c = 0;

#pragma GCC unroll 4
	for (int q = 0; q < NR; q++)
#pragma GCC unroll 4
		for (int i = 0; i < MM; i++)
			acc[q][i] = _mm512_setzero_ps();
	for (; c + 16 <= k; c += 16) {
		__m512 wv[ROW_BLOCK];

#pragma GCC unroll 4
		for (int q = 0; q < NR; q++)
			wv[q] = bf16 ? ld16_bf16((const uint16_t *)w + q * ldw + c) :
				       _mm512_loadu_ps((const float *)w + q * ldw + c);
#pragma GCC unroll 4
		for (int i = 0; i < MM; i++) {
			__m512 xv = _mm512_loadu_ps(x + (size_t)i * ldx + c);

#pragma GCC unroll 4
			for (int q = 0; q < NR; q++)
				acc[q][i] = _mm512_fmadd_ps(wv[q], xv, acc[q][i]);
		}
	}
	if (c < k) {
		__mmask16 msk = (__mmask16)((1u << (k - c)) - 1);
		__m512 wv[ROW_BLOCK];

#pragma GCC unroll 4
		for (int q = 0; q < NR; q++)
			wv[q] = bf16 ? ld16_bf16_mask((const uint16_t *)w + q * ldw + c, msk) :
				       _mm512_maskz_loadu_ps(msk, (const float *)w + q * ldw + c);
#pragma GCC unroll 4
		for (int i = 0; i < MM; i++) {
			__m512 xv = _mm512_maskz_loadu_ps(msk, x + (size_t)i * ldx + c);

#pragma GCC unroll 4
			for (int q = 0; q < NR; q++)
				acc[q][i] = _mm512_fmadd_ps(wv[q], xv, acc[q][i]);
		}
	}
#pragma GCC unroll 4
	for (int q = 0; q < NR; q++)
#pragma GCC unroll 4
		for (int i = 0; i < MM; i++)
			out[q][i] = _mm512_reduce_add_ps(acc[q][i]);
}

INLINE T256 __m256 ld8_bf16(const uint16_t *p)
{
	__m128i h = _mm_loadu_si128((const __m128i *)p);

	return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

INLINE T256 float hsum256(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

INLINE T256 void dot256(const void *w, bool bf16, size_t ldw, int k, const float *x,
			int ldx, const int MM, const int NR, float out[ROW_BLOCK][X_BLOCK])
{
	__m256 acc[ROW_BLOCK][X_BLOCK];
	int c = 0;

#pragma GCC unroll 4
	for (int q = 0; q < NR; q++)
#pragma GCC unroll 4
		for (int i = 0; i < MM; i++)
			acc[q][i] = _mm256_setzero_ps();
	for (; c + 8 <= k; c += 8) {
		__m256 wv[ROW_BLOCK];

#pragma GCC unroll 4
		for (int q = 0; q < NR; q++)
			wv[q] = bf16 ? ld8_bf16((const uint16_t *)w + q * ldw + c) :
				       _mm256_loadu_ps((const float *)w + q * ldw + c);
#pragma GCC unroll 4
		for (int i = 0; i < MM; i++) {
			__m256 xv = _mm256_loadu_ps(x + (size_t)i * ldx + c);

#pragma GCC unroll 4
			for (int q = 0; q < NR; q++)
				acc[q][i] = _mm256_fmadd_ps(wv[q], xv, acc[q][i]);
		}
	}
#pragma GCC unroll 4
	for (int q = 0; q < NR; q++) {
#pragma GCC unroll 4
		for (int i = 0; i < MM; i++) {
			float s = hsum256(acc[q][i]);

			for (int t = c; t < k; t++) {
				float wt = bf16 ? bf16_to_f32(((const uint16_t *)w)[q * ldw + t]) :
						  ((const float *)w)[q * ldw + t];

				s += wt * x[(size_t)i * ldx + t];
			}
			out[q][i] = s;
		}
	}
}

/* One function per ISA with the (MM, NR) cases spelt out, so that each
 * inlined kernel is specialised. */
#define DOT_SWITCH(fn, w, bf16, ldw, k, x, ldx, mm, nr, out)			\
	do {									\
		if (nr == ROW_BLOCK) {						\
			switch (mm) {						\
			case 1: fn(w, bf16, ldw, k, x, ldx, 1, ROW_BLOCK, out); break; \
			case 2: fn(w, bf16, ldw, k, x, ldx, 2, ROW_BLOCK, out); break; \
			case 3: fn(w, bf16, ldw, k, x, ldx, 3, ROW_BLOCK, out); break; \
			default: fn(w, bf16, ldw, k, x, ldx, 4, ROW_BLOCK, out); break; \
			}							\
		} else {							\
			switch (mm) {						\
			case 1: fn(w, bf16, ldw, k, x, ldx, 1, 1, out); break;	\
			case 2: fn(w, bf16, ldw, k, x, ldx, 2, 1, out); break;	\
			case 3: fn(w, bf16, ldw, k, x, ldx, 3, 1, out); break;	\
			default: fn(w, bf16, ldw, k, x, ldx, 4, 1, out); break;	\
			}							\
		}								\
	} while (0)

static T512 void dot_avx512(const void *w, enum phimoe_dtype dt, size_t ldw, int k,
			    const float *x, int ldx, int mm, int nr,
			    float out[ROW_BLOCK][X_BLOCK])
{
	if (dt == PHIMOE_DTYPE_BF16)
		DOT_SWITCH(dot512, w, true, ldw, k, x, ldx, mm, nr, out);
	else
		DOT_SWITCH(dot512, w, false, ldw, k, x, ldx, mm, nr, out);
}

static T256 void dot_avx2(const void *w, enum phimoe_dtype dt, size_t ldw, int k,
			  const float *x, int ldx, int mm, int nr,
			  float out[ROW_BLOCK][X_BLOCK])
{
	if (dt == PHIMOE_DTYPE_BF16)
		DOT_SWITCH(dot256, w, true, ldw, k, x, ldx, mm, nr, out);
	else
		DOT_SWITCH(dot256, w, false, ldw, k, x, ldx, mm, nr, out);
}
#endif

typedef void dot_fn(const void *w, enum phimoe_dtype dt, size_t ldw, int k,
		    const float *x, int ldx, int mm, int nr, float out[ROW_BLOCK][X_BLOCK]);

static dot_fn *pick_dot(void)
{
#if HAVE_X86
	switch (sm_isa_active()) {
	case SM_ISA_AVX512: return dot_avx512;
	case SM_ISA_AVX2: return dot_avx2;
	default: break;
	}
#endif
	return dot_generic;
}

static void gemv_rows(dot_fn *dot, const struct sm_gemv *g, int r0, int r1)
{
	int m = g->m;

	if (g->quant != SM_GEMV_PLAIN) {
		sm_qgemm_rows(g, r0, r1);
		return;
	}

	size_t esz = g->dtype == PHIMOE_DTYPE_BF16 ? 2 : 4;
	float out[ROW_BLOCK][X_BLOCK];

	for (int r = r0; r < r1;) {
		int nr = r1 - r >= ROW_BLOCK ? ROW_BLOCK : 1;
		const char *wr = (const char *)g->w + (size_t)r * g->k * esz;

		for (int i0 = 0; i0 < m; i0 += X_BLOCK) {
			int mm = m - i0 < X_BLOCK ? m - i0 : X_BLOCK;

			dot(wr, g->dtype, (size_t)g->k, g->k, g->x + (size_t)i0 * g->ldx, g->ldx,
			    mm, nr, out);
			for (int i = 0; i < mm; i++) {
				float *yr = g->y + (size_t)(i0 + i) * g->ldy + r;
				float s = g->row_scale ? g->row_scale[i0 + i] : 1.0f;

				for (int q = 0; q < nr; q++)
					yr[q] = (out[q][i] + (g->bias ? g->bias[r + q] : 0.0f)) * s;
			}
		}
		r += nr;
	}
}

/*
 * The work of one row of W: reading it (as much as about 4 activation
 * rows' products in the tiles) and its products with the m rows (2m for
 * xq_fine). Jobs of unlike m (prefill's experts: routing is skewed) are
 * split by it, not by weight bytes alone; with one m for all, as in
 * decode, the split is by bytes as before.
 */
static uint64_t row_work(const struct sm_gemv *g)
{
	uint64_t prods = (uint64_t)(g->xq_fine ? 2 : 1) * (uint64_t)g->m;

	/* on AMX a product costs about an eighth of the int8 kernels' */
	if (sm_qamx_product(g))
		return (uint64_t)g->k * (4 + prods / 8);
	return (uint64_t)g->k * (4 + prods);
}

/* Rows a thread's share is cut to: AMX's dequantized blocks whole. */
static uint64_t row_align(const struct sm_gemv *g)
{
	return sm_qamx_product(g) ? SM_QAMX_ROW_ALIGN : ROW_BLOCK;
}

/* Thread tid's rows [lo[j], hi[j]) of each product j (sm_gemv_part's
 * split): units of row_align rows weighed by their work, cut by
 * sm_share_of (the first shares of the stealing below, so threads read
 * whole blocks). */
static void part_rows(const struct sm_gemv *g, int ng, int tid, int nth, int *lo, int *hi)
{
	uint32_t units[SM_GEMV_MAX_JOBS] = { 0 }, u0, u1, at = 0;
	uint64_t work[SM_GEMV_MAX_JOBS] = { 0 };

	for (int j = 0; j < ng; j++) {
		uint32_t a = (uint32_t)row_align(&g[j]);

		units[j] = ((uint32_t)g[j].n + a - 1) / a;
		work[j] = row_work(&g[j]) * a;
	}
	sm_share_of(nth, ng, units, work, tid, &u0, &u1);
	for (int j = 0; j < ng; at += units[j], j++) {
		uint64_t a = row_align(&g[j]);
		uint32_t b0 = sm_unit_in_part(u0, at, units[j]);
		uint32_t b1 = sm_unit_in_part(u1, at, units[j]);

		lo[j] = b0 * a < (uint64_t)g[j].n ? (int)(b0 * a) : g[j].n;
		hi[j] = b1 * a < (uint64_t)g[j].n ? (int)(b1 * a) : g[j].n;
	}
}

/* Rows of a unit of the shares with stealing (sm_gemv_steal_rows): a
 * row tile, 16 KB of int8 at k = 4096, so that the last unit a thread
 * holds when the others are done is short (16-core machine, int8 decode:
 * with 16-row units the team waited about 10 us at each product's end);
 * an owner claims up to STEAL_OWN_ROWS at a time (sm_steal_next: fewer
 * near its share's end), a thief one unit. */
#define STEAL_ROWS_DEFAULT ROW_BLOCK
/* Rows a unit is a multiple of: the kernels' row tiles. */
#define STEAL_ALIGN ROW_BLOCK
#define STEAL_OWN_ROWS 64
/* Activation rows up to which a product's rows can be stolen (decode,
 * small batches: the same work a row, no weight panels to fill). */
#define STEAL_MAX_M 8

static int steal_rows;
static pthread_once_t steal_once = PTHREAD_ONCE_INIT;

static void steal_init(void)
{
	long r = sm_env_knob("SPLITMOE_GEMV_STEAL_ROWS", 0, 1 << 16, STEAL_ROWS_DEFAULT);

	steal_rows = (int)((r + STEAL_ALIGN - 1) / STEAL_ALIGN * STEAL_ALIGN);
}

int sm_gemv_steal_rows(void)
{
	pthread_once(&steal_once, steal_init);
	return steal_rows;
}

void sm_gemv_override_steal(int rows)
{
	pthread_once(&steal_once, steal_init);
	if (rows < 0)
		steal_init();
	else
		steal_rows = (rows + STEAL_ALIGN - 1) / STEAL_ALIGN * STEAL_ALIGN;
}

static uint32_t job_units(const struct sm_gemv *g, int rows)
{
	return (uint32_t)((g->n + rows - 1) / rows);
}

bool sm_gemv_stealing(const struct sm_gemv *g, int ng, int nthreads)
{
	int rows = sm_gemv_steal_rows();
	uint64_t units = 0;

	if (!rows || nthreads < 2 || nthreads > SM_STEAL_MAX_THREADS || ng > SM_STEAL_MAX_PARTS)
		return false;
	for (int j = 0; j < ng; j++) {
		if (g[j].m > STEAL_MAX_M || sm_qamx_product(&g[j]))
			return false;
		units += job_units(&g[j], rows);
	}
	return units < UINT32_MAX;
}

bool sm_gemv_steal_prepare(const struct sm_gemv *g, int ng, int nth, struct sm_steal *s)
{
	uint32_t units[SM_GEMV_MAX_JOBS];
	uint64_t work[SM_GEMV_MAX_JOBS];
	int rows = sm_gemv_steal_rows();

	for (int j = 0; j < ng; j++) {
		units[j] = job_units(&g[j], rows);
		work[j] = row_work(&g[j]) * (uint64_t)rows;
	}
	return sm_steal_init(s, nth, ng, units, work);
}

void sm_gemv_steal_part(const struct sm_gemv *g, int tid, struct sm_steal *s)
{
	struct sm_steal_cursor c = { 0, 0 };
	dot_fn *dot = pick_dot();
	int rows = sm_gemv_steal_rows(), j;
	uint32_t a, b, own = rows < STEAL_OWN_ROWS ? (uint32_t)(STEAL_OWN_ROWS / rows) : 1;

	while (sm_steal_piece(s, tid, &c, own, 1, &j, &a, &b))
		gemv_rows(dot, &g[j], (int)a * rows,
			  (int)b * rows < g[j].n ? (int)b * rows : g[j].n);
}

void sm_gemv_part(const struct sm_gemv *g, int ng, int tid, int nth)
{
	dot_fn *dot = pick_dot();
	int lo[SM_GEMV_MAX_JOBS], hi[SM_GEMV_MAX_JOBS];

	part_rows(g, ng, tid, nth, lo, hi);
	for (int j = 0; j < ng; j++)
		if (lo[j] < hi[j])
			gemv_rows(dot, &g[j], lo[j], hi[j]);
}

void sm_gemv_rows(const struct sm_gemv *g, int r0, int r1)
{
	if (r0 < r1)
		gemv_rows(pick_dot(), g, r0, r1);
}

/* Rows [lo, hi) of g into L2, as much of them as *max_bytes leaves. */
static void prefetch_rows(const struct sm_gemv *g, int lo, int hi, size_t *max_bytes)
{
	size_t esz = g->dtype == PHIMOE_DTYPE_BF16 ? 2 : 4, rb, b;

	if (lo >= hi || !*max_bytes)
		return;
	if (g->quant != SM_GEMV_PLAIN) {
		sm_qgemm_prefetch_rows(g, lo, hi, max_bytes);
		return;
	}
	rb = (size_t)g->k * esz;
	b = (size_t)(hi - lo) * rb;
	b = b < *max_bytes ? b : *max_bytes;
	sm_prefetch_l2((const char *)g->w + (size_t)lo * rb, b);
	*max_bytes -= b;
}

void sm_gemv_prefetch_part(const struct sm_gemv *g, int ng, int tid, int nth, size_t max_bytes)
{
	int lo[SM_GEMV_MAX_JOBS], hi[SM_GEMV_MAX_JOBS];

	part_rows(g, ng, tid, nth, lo, hi);
	for (int j = 0; j < ng; j++)
		prefetch_rows(&g[j], lo[j], hi[j], &max_bytes);
}

void sm_gemv_steal_prefetch(const struct sm_gemv *g, int tid, const struct sm_steal *s,
			    size_t max_bytes)
{
	uint64_t left = atomic_load_explicit(&s->t[tid].left, memory_order_relaxed);
	uint32_t u0 = (uint32_t)left, u1 = (uint32_t)(left >> 32);
	int rows = sm_gemv_steal_rows();

	for (int j = 0; j < s->nparts && u0 < u1; j++) {
		uint32_t a, b;

		if (u0 >= s->start[j + 1])
			continue;
		a = u0 - s->start[j];
		b = (u1 < s->start[j + 1] ? u1 : s->start[j + 1]) - s->start[j];
		prefetch_rows(&g[j], (int)a * rows,
			      (int)b * rows < g[j].n ? (int)b * rows : g[j].n, &max_bytes);
		u0 = s->start[j] + b;
	}
}

bool sm_gemv_any_quantized(const struct sm_gemv *g, int ng)
{
	for (int j = 0; j < ng; j++)
		if (g[j].quant != SM_GEMV_PLAIN)
			return true;
	return false;
}

/* Activation groups one quantizing unit covers (a row is cut into units
 * so that a single decode row is shared among the threads too). */
#define QACT_UNIT_GROUPS 32

static bool xq_first(const struct sm_gemv *g, int j)
{
	if (g[j].quant == SM_GEMV_PLAIN)
		return false;
	for (int p = 0; p < j; p++)
		if (g[p].quant != SM_GEMV_PLAIN && g[p].xq == g[j].xq && g[p].xq_fine == g[j].xq_fine)
			return false;
	return true;
}

/* Units of product g's activations: rows (blocks of 16 on AMX) times
 * spans of QACT_UNIT_GROUPS groups. */
static int qact_row_units(const struct sm_gemv *g)
{
	return sm_qamx_product(g) ? (g->m + 15) / 16 : g->m;
}

static int qact_spans(const struct sm_gemv *g)
{
	return (g->k / SM_Q4_GROUP + QACT_UNIT_GROUPS - 1) / QACT_UNIT_GROUPS;
}

void sm_gemv_quantize_part(const struct sm_gemv *g, int ng, int tid, int nth)
{
	uint64_t total = 0, a, b, u = 0;

	for (int j = 0; j < ng; j++)
		if (xq_first(g, j))
			total += (uint64_t)qact_row_units(&g[j]) * (uint64_t)qact_spans(&g[j]);
	a = total * (uint64_t)tid / (uint64_t)nth;
	b = total * (uint64_t)(tid + 1) / (uint64_t)nth;
	for (int j = 0; j < ng && u < b; j++) {
		int groups, units;
		bool amx;

		if (!xq_first(g, j))
			continue;
		groups = g[j].k / SM_Q4_GROUP;
		units = qact_spans(&g[j]);
		amx = sm_qamx_product(&g[j]);
		for (int i = 0; i < qact_row_units(&g[j]); i++)
			for (int c = 0; c < units; c++, u++) {
				int g0 = c * QACT_UNIT_GROUPS;
				int g1 = g0 + QACT_UNIT_GROUPS < groups ? g0 + QACT_UNIT_GROUPS : groups;

				if (u < a || u >= b)
					continue;
				if (amx)
					sm_qamx_act_block(&g[j], i, g0, g1);
				else
					sm_gemv_quantize_row(&g[j], i, g0, g1);
			}
	}
}

void sm_gemv_quantize_row(const struct sm_gemv *g, int i, int g0, int g1)
{
	size_t rowb = sm_qact_row_bytes(g->k);
	const float *x = g->x + (size_t)i * g->ldx;

	if (g->xq_fine)
		sm_qact_quantize_fine(x, g->k, g0, g1, (char *)g->xq + (size_t)2 * i * rowb);
	else
		sm_qact_quantize(x, g->k, g0, g1, (char *)g->xq + (size_t)i * rowb);
}

void sm_gemv_run_timed(const struct sm_gemv *g, int ng, int nthreads, struct sm_pass_timer *tm)
{
	bool quant = sm_gemv_any_quantized(g, ng), stealing = sm_gemv_stealing(g, ng, nthreads);
	struct sm_steal steal;
	int team = 1;

	if (nthreads <= 1) {
		if (quant)
			sm_gemv_quantize_part(g, ng, 0, 1);
		sm_gemv_part(g, ng, 0, 1);
		return;
	}
	if (stealing)
		stealing = sm_gemv_steal_prepare(g, ng, nthreads, &steal);
	sm_pass_begin(tm);
#pragma omp parallel num_threads(nthreads)
	{
		int tid = omp_get_thread_num(), nth = omp_get_num_threads();

		sm_pass_mark(tm, tid, 0);
		if (quant) {
			sm_gemv_quantize_part(g, ng, tid, nth);
#pragma omp barrier
		}
		sm_pass_mark(tm, tid, 1);
		/* a smaller team than asked: the shares of the threads that are
		 * not there are stolen */
		if (stealing)
			sm_gemv_steal_part(g, tid, &steal);
		else
			sm_gemv_part(g, ng, tid, nth);
		sm_pass_mark(tm, tid, 2);
		if (!tid)
			team = nth;
	}
	sm_pass_end(tm, team);
}

void sm_gemv_run(const struct sm_gemv *g, int ng, int nthreads)
{
	sm_gemv_run_timed(g, ng, nthreads, NULL);
}
