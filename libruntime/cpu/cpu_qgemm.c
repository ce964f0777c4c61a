// SPDX-License-Identifier: MIT
/* Quantized weights times int8 activations; see cpu_qgemm.h. */
#include "cpu/cpu_qgemm.h"
#include "cpu/cpu_qgemm_amx.h"
#include "cpu/cpu_features.h"
#include "cpu/cpu_isa.h"
#include "model/dtype.h"	/* phimoe_f16_to_f32 */
#include "util/env_knob.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

#define GRP SM_Q4_GROUP
/* A register tile: weight rows x activation rows (4 x 4 sums). */
#define NR 4
#define MR 4

static size_t pad64(size_t b)
{
	return (b + 63) / 64 * 64;
}

size_t sm_qact_slot_bytes(int k)
{
	size_t b = 2 * sm_qact_row_bytes(k);

	if (sm_qamx_ready() && sm_qamx_act_row_bytes(k) > b)
		b = sm_qamx_act_row_bytes(k);
	return b;
}

size_t sm_qact_row_bytes(int k)
{
	/* 16 bytes past the scales: the kernels load 4 at a time */
	return pad64((size_t)k) + pad64(sizeof(float) * (size_t)(k / GRP) + 16);
}

static inline const int8_t *act_q(const struct sm_gemv *g, int i)
{
	return (const int8_t *)g->xq + (size_t)i * sm_qact_row_bytes(g->k);
}

static inline const float *act_scale(const struct sm_gemv *g, int i)
{
	return (const float *)(const void *)(act_q(g, i) + pad64((size_t)g->k));
}

static const uint8_t *wrow(const struct sm_gemv *g, int r)
{
	return (const uint8_t *)g->w + (size_t)r * (g->quant == SM_GEMV_Q4 ? g->k / 2 : g->k);
}

static const uint16_t *wscale_row(const struct sm_gemv *g, int r)
{
	return (const uint16_t *)g->wscale + (size_t)r * (g->k / GRP);
}

/* ---- activations ---- */

/* max|x| / 127 and x rounded (to nearest even) to that step */
static void quant_group_c(const float *x, int8_t *q, float *d)
{
	float amax = 0.0f, inv;

	for (int j = 0; j < GRP; j++)
		amax = fmaxf(amax, fabsf(x[j]));
	*d = amax / 127.0f;
	inv = amax > 0.0f ? 127.0f / amax : 0.0f;
	for (int j = 0; j < GRP; j++)
		q[j] = (int8_t)lrintf(x[j] * inv);
}

#if HAVE_X86
#define T256 __attribute__((target("avx2,fma,f16c")))
#define INLINE static inline __attribute__((always_inline))

/* The same arithmetic as quant_group_c, 8 lanes at a time. */
static T256 void quant_group_avx2(const float *x, int8_t *q, float *d)
{
	const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	__m256 v[4], m;
	__m256i iv[4], b;
	float amax, inv;

	for (int j = 0; j < 4; j++)
		v[j] = _mm256_loadu_ps(x + 8 * j);
	m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v[0], absm), _mm256_and_ps(v[1], absm)),
			  _mm256_max_ps(_mm256_and_ps(v[2], absm), _mm256_and_ps(v[3], absm)));
	m = _mm256_max_ps(m, _mm256_permute2f128_ps(m, m, 1));
	m = _mm256_max_ps(m, _mm256_shuffle_ps(m, m, 0x4e));
	m = _mm256_max_ps(m, _mm256_shuffle_ps(m, m, 0xb1));
	amax = _mm256_cvtss_f32(m);
	*d = amax / 127.0f;
	inv = amax > 0.0f ? 127.0f / amax : 0.0f;
	for (int j = 0; j < 4; j++)
		iv[j] = _mm256_cvtps_epi32(_mm256_mul_ps(v[j], _mm256_set1_ps(inv)));
	/* packs work within 128-bit lanes: put the dwords back in order */
	b = _mm256_packs_epi16(_mm256_packs_epi32(iv[0], iv[1]), _mm256_packs_epi32(iv[2], iv[3]));
	b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
	_mm256_storeu_si256((__m256i *)q, b);
}
#endif

static void quant_group(const float *x, int8_t *q, float *d)
{
#if HAVE_X86
	if (sm_isa_active() >= SM_ISA_AVX2) {
		quant_group_avx2(x, q, d);
		return;
	}
#endif
	quant_group_c(x, q, d);
}

void sm_qact_quantize(const float *x, int k, int g0, int g1, void *out)
{
	int8_t *q = out;
	float *d = (float *)(void *)((char *)out + pad64((size_t)k));

	for (int g = g0; g < g1; g++)
		quant_group(x + g * GRP, q + g * GRP, d + g);
}

void sm_qact_quantize_fine(const float *x, int k, int g0, int g1, void *out)
{
	size_t rb = sm_qact_row_bytes(k);
	int8_t *hi = out, *lo = (int8_t *)out + rb;
	float *dh = (float *)(void *)((char *)out + pad64((size_t)k));
	float *dl = (float *)(void *)((char *)out + rb + pad64((size_t)k));

	for (int g = g0; g < g1; g++) {
		float r[GRP];

		quant_group(x + g * GRP, hi + g * GRP, dh + g);
		/* the same bits on every path: C, no contraction (-std=c11) */
		for (int j = 0; j < GRP; j++)
			r[j] = x[g * GRP + j] - (float)hi[g * GRP + j] * dh[g];
		quant_group(r, lo + g * GRP, dl + g);
	}
}

/* ---- plain C ---- */

static void tile_c(const struct sm_gemv *g, int r, int i0, int nr, int mr, float out[NR][MR])
{
	int k = g->k, ng = k / GRP;

	for (int q = 0; q < nr; q++) {
		const uint8_t *w = wrow(g, r + q);
		const uint16_t *ws = wscale_row(g, r + q);

		for (int i = 0; i < mr; i++) {
			const int8_t *x = act_q(g, i0 + i);
			const float *xd = act_scale(g, i0 + i);
			float s = 0.0f;

			for (int gr = 0; gr < ng; gr++) {
				const int8_t *xg = x + gr * GRP;
				int32_t t = 0;

				if (g->quant == SM_GEMV_Q8) {
					const int8_t *wg = (const int8_t *)w + gr * GRP;

					for (int j = 0; j < GRP; j++)
						t += wg[j] * xg[j];
				} else {
					const uint8_t *b = w + gr * (GRP / 2);

					for (int j = 0; j < GRP / 2; j++)
						t += ((b[j] & 15) - 8) * xg[j] +
						     ((b[j] >> 4) - 8) * xg[j + GRP / 2];
				}
				s += (float)t * (phimoe_f16_to_f32(ws[gr]) * xd[gr]);
			}
			out[q][i] = s;
		}
	}
}

/* Into L2: bytes [off, off + len) of the tile's rows, ahead bytes on (the
 * next tile's): the hardware prefetchers stop at each 4 KB page, and a
 * row of 4096 int8 weights is one page. A prefetch never faults. */
static inline __attribute__((always_inline)) void prefetch_rows(const uint8_t *const *w,
								  const int NRR, size_t ahead,
								  size_t off, const int len)
{
	for (int q = 0; q < NRR; q++)
		for (int b = 0; b < len; b += 64)
			__builtin_prefetch(w[q] + ahead + off + b, 0, 2);
}

#if HAVE_X86
/* Activation rows from which the AVX-512 products go by weight panels
 * (below; SPLITMOE_QGEMM_PANEL_ROWS, 0: never) */
#define PANEL_MIN_ROWS_DEFAULT 32

static int panel_min_rows;
static pthread_once_t panel_once = PTHREAD_ONCE_INIT;

static void panel_init(void)
{
	panel_min_rows = sm_env_knob("SPLITMOE_QGEMM_PANEL_ROWS", 0, 1 << 20,
				     PANEL_MIN_ROWS_DEFAULT);
}

void sm_qgemm_override_panel(int min_rows)
{
	pthread_once(&panel_once, panel_init);
	if (min_rows < 0)
		panel_init();
	else
		panel_min_rows = min_rows;
}

/* ---- AVX2 forms: blocks of 8 groups ----
 * vpdpbusd takes unsigned x signed bytes. q8: the weights go in as
 * w + 128 (one xor) and the 128 * sum(x) that adds is taken off by
 * starting the sums at minus it, computed once per activation group and
 * shared by the tile's weight rows. q4: the nibbles 0..15 go in unsigned
 * as they are and the 8 * sum(x) they carry is taken off the same way.
 * One 32-byte load of q4 codes is two groups: its low nibbles are both
 * groups' weights 0-15, its high ones their weights 16-31, so one AND,
 * one shift and one AND unpack 64 weights; the activations' 16-byte
 * halves are put in that order once per tile.
 * Without VNNI, vpmaddubsw + vpmaddwd make the same sums, but w + 128
 * could saturate their int16 step: q8 there goes in as |w| and x with
 * the weights' signs (x in -127..127: no pair reaches the int16 limit,
 * 2 * 128 * 127 at most); q4's low and high products are added in int16
 * (4 * 15 * 127 at most) before the one vpmaddwd.
 * Each group's integer sum is scaled by its two scales in f32; the sums
 * of 8 groups (a lane each, after horizontal adds) take one conversion,
 * one scale product and one FMA, instead of one of each per group. */

INLINE T256 __m256i dp_maddubs(__m256i acc, __m256i u, __m256i s)
{
	return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s),
						       _mm256_set1_epi16(1)));
}

/* u1 . s1 + u2 . s2 with u bytes at most 15: summed in int16 first */
INLINE T256 __m256i dp2_maddubs(__m256i acc, __m256i u1, __m256i s1, __m256i u2, __m256i s2)
{
	__m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(u1, s1), _mm256_maddubs_epi16(u2, s2));

	return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

#define T256VEX __attribute__((target("avx2,fma,f16c,avxvnni")))
#define T256EVEX __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni")))

INLINE T256VEX __m256i dp_vex(__m256i acc, __m256i u, __m256i s)
{
	return _mm256_dpbusd_avx_epi32(acc, u, s);
}

INLINE T256VEX __m256i dp2_vex(__m256i acc, __m256i u1, __m256i s1, __m256i u2, __m256i s2)
{
	return dp_vex(dp_vex(acc, u1, s1), u2, s2);
}

INLINE T256EVEX __m256i dp_evex(__m256i acc, __m256i u, __m256i s)
{
	return _mm256_dpbusd_epi32(acc, u, s);
}

INLINE T256EVEX __m256i dp2_evex(__m256i acc, __m256i u1, __m256i s1, __m256i u2, __m256i s2)
{
	return dp_evex(dp_evex(acc, u1, s1), u2, s2);
}

INLINE T256 float hsum256(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

/*
 * NAME##_sums: the integer sums of NG (8 or 4) groups from gr, one lane
 * each in order (NG 4: the low 4 lanes), for NRR weight rows x MRR
 * activation rows, with dot products DP/DP2; OFFSET (VNNI: no int16 step
 * to saturate) selects the w + 128 form of q8.
 * NAME##_one: one group's sums, in 8 lanes, for a tail under 4 groups.
 * NAME##_from: groups gr.. of a tile into its f32 sums: blocks of 8
 * groups, one of 4, then single groups.
 * NAME##_core, NAME: the tile.
 */
#define DEFINE_TILE256(NAME, TGT, DP, DP2, OFFSET)					\
INLINE TGT void NAME##_sums(const int8_t *const *xq, const uint8_t *const *w, int gr,	\
			    const bool Q4, const int NG, const int NRR, const int MRR,	\
			    __m256i sums[NR][MR])					\
{											\
	const __m256i zero = _mm256_setzero_si256(), m4 = _mm256_set1_epi8(15);	\
	const __m256i eights = _mm256_set1_epi8(8), c128 = _mm256_set1_epi8((char)0x80); \
	__m256i h[NR][MR], h2[NR][MR], h3[NR][MR];					\
											\
	/* q4, and q8 with VNNI: 2 groups a step, a 128-bit lane of each	\
	 * (q8: its first 16 bytes, then its last 16), one hadd per 2 steps */	\
	if (Q4 || OFFSET) {								\
		_Pragma("GCC unroll 4") for (int p = 0; p < NG / 2; p++) {		\
			__m256i xlo[MR], xhi[MR], corr[MR];				\
											\
			_Pragma("GCC unroll 4") for (int i = 0; i < MRR; i++) {	\
				const int8_t *x = xq[i] + (gr + 2 * p) * GRP;		\
				__m256i a = _mm256_loadu_si256((const __m256i *)x);	\
				__m256i b = _mm256_loadu_si256((const __m256i *)(x + GRP)); \
											\
				xlo[i] = _mm256_permute2x128_si256(a, b, 0x20);		\
				xhi[i] = _mm256_permute2x128_si256(a, b, 0x31);		\
				corr[i] = _mm256_sub_epi32(zero, DP2(zero, Q4 ? eights : c128, \
								     xlo[i], Q4 ? eights : c128, \
								     xhi[i]));		\
			}								\
			_Pragma("GCC unroll 4") for (int q = 0; q < NRR; q++) {	\
				__m256i lo, hi;						\
											\
				if (Q4) {						\
					__m256i b = _mm256_loadu_si256((const __m256i *)\
						(w[q] + (gr + 2 * p) * (GRP / 2)));	\
											\
					lo = _mm256_and_si256(b, m4);			\
					hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), m4); \
				} else {						\
					const uint8_t *wg = w[q] + (gr + 2 * p) * GRP;	\
					__m256i a = _mm256_xor_si256(_mm256_loadu_si256(	\
						(const __m256i *)wg), c128);		\
					__m256i b = _mm256_xor_si256(_mm256_loadu_si256(	\
						(const __m256i *)(wg + GRP)), c128);	\
											\
					lo = _mm256_permute2x128_si256(a, b, 0x20);	\
					hi = _mm256_permute2x128_si256(a, b, 0x31);	\
				}							\
											\
				_Pragma("GCC unroll 4") for (int i = 0; i < MRR; i++) {	\
					/* lanes 0-3: group gr + 2p, 4-7: the next */	\
					__m256i t = DP2(corr[i], lo, xlo[i], hi, xhi[i]); \
											\
					if (p == 0)					\
						h[q][i] = t;				\
					else if (p == 1)				\
						h[q][i] = _mm256_hadd_epi32(h[q][i], t); \
					else if (p == 2)				\
						h2[q][i] = t;				\
					else						\
						h[q][i] = _mm256_hadd_epi32(h[q][i],	\
							_mm256_hadd_epi32(h2[q][i], t)); \
				}							\
			}								\
		}									\
		/* NG 8: groups 0 2 4 6 | 1 3 5 7; NG 4: 0 0 2 2 | 1 1 3 3 */		\
		const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);	\
		_Pragma("GCC unroll 4") for (int q = 0; q < NRR; q++)			\
			_Pragma("GCC unroll 4") for (int i = 0; i < MRR; i++)		\
				sums[q][i] = _mm256_permutevar8x32_epi32(NG == 8 ? h[q][i] : \
					_mm256_hadd_epi32(h[q][i], h[q][i]), order);	\
		return;									\
	}										\
	_Pragma("GCC unroll 8") for (int p = 0; p < NG; p++) {				\
		__m256i xv[MR], corr[MR];						\
											\
		_Pragma("GCC unroll 4") for (int i = 0; i < MRR; i++) {		\
			xv[i] = _mm256_loadu_si256((const __m256i *)(xq[i] + (gr + p) * GRP)); \
			corr[i] = OFFSET ? _mm256_sub_epi32(zero, DP(zero, c128, xv[i])) : zero; \
		}									\
		_Pragma("GCC unroll 4") for (int q = 0; q < NRR; q++) {		\
			__m256i wv = _mm256_loadu_si256((const __m256i *)(w[q] + (gr + p) * GRP)); \
			__m256i wu = OFFSET ? _mm256_xor_si256(wv, c128) : _mm256_abs_epi8(wv); \
											\
			_Pragma("GCC unroll 4") for (int i = 0; i < MRR; i++) {	\
				__m256i t = OFFSET ? DP(corr[i], wu, xv[i]) :		\
					    DP(zero, wu, _mm256_sign_epi8(xv[i], wv));	\
											\
				/* pairs: 0 1 -> h, 2 3 -> h with h (4 groups, both	\
				 * halves' partial sums), 4 5 -> h3, 6 7 -> h3 */	\
				if (p % 2 == 0) {					\
					h2[q][i] = t;					\
					continue;					\
				}							\
				t = _mm256_hadd_epi32(h2[q][i], t);			\
				if (p == 1)						\
					h[q][i] = t;					\
				else if (p == 3)					\
					h[q][i] = _mm256_hadd_epi32(h[q][i], t);	\
				else if (p == 5)					\
					h3[q][i] = t;					\
				else							\
					h3[q][i] = _mm256_hadd_epi32(h3[q][i], t);	\
			}							\
		}									\
	}										\
	/* h: groups 0 1 2 3 | 0 1 2 3 (two partial sums each), h3: 4-7 */		\
	_Pragma("GCC unroll 4") for (int q = 0; q < NRR; q++)				\
		_Pragma("GCC unroll 4") for (int i = 0; i < MRR; i++)			\
			sums[q][i] = NG == 8 ?							\
				_mm256_add_epi32(_mm256_permute2x128_si256(h[q][i], h3[q][i], 0x20), \
						 _mm256_permute2x128_si256(h[q][i], h3[q][i], 0x31)) : \
				_mm256_zextsi128_si256(_mm_add_epi32(_mm256_castsi256_si128(h[q][i]), \
						 _mm256_extracti128_si256(h[q][i], 1)));	\
}											\
											\
INLINE TGT void NAME##_one(const int8_t *const *xq, const uint8_t *const *w, int gr,	\
			   const bool Q4, const int NRR, const int MRR, __m256i d[NR][MR]) \
{											\
	const __m256i zero = _mm256_setzero_si256(), eights = _mm256_set1_epi8(8);	\
	const __m256i c128 = _mm256_set1_epi8((char)0x80);				\
	const __m128i lo4 = _mm_set1_epi8(15);						\
	__m256i xv[MR], corr[MR];							\
											\
	_Pragma("GCC unroll 4") for (int i = 0; i < MRR; i++) {			\
		xv[i] = _mm256_loadu_si256((const __m256i *)(xq[i] + gr * GRP));	\
		corr[i] = Q4 || OFFSET ?						\
			_mm256_sub_epi32(zero, DP(zero, Q4 ? eights : c128, xv[i])) : zero; \
	}										\
	_Pragma("GCC unroll 4") for (int q = 0; q < NRR; q++) {			\
		__m256i wv, wu;								\
											\
		if (Q4) {								\
			__m128i b = _mm_loadu_si128((const __m128i *)(w[q] + gr * (GRP / 2))); \
			/* weights 0-15 from the low nibbles, 16-31 the high */		\
			wv = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), lo4),	\
					      _mm_and_si128(b, lo4));			\
			wu = wv;							\
		} else {								\
			wv = _mm256_loadu_si256((const __m256i *)(w[q] + gr * GRP));	\
			wu = OFFSET ? _mm256_xor_si256(wv, c128) : _mm256_abs_epi8(wv);	\
		}									\
		_Pragma("GCC unroll 4") for (int i = 0; i < MRR; i++)			\
			d[q][i] = Q4 || OFFSET ? DP(corr[i], wu, xv[i]) :		\
				  DP(zero, wu, _mm256_sign_epi8(xv[i], wv));		\
	}										\
}											\
											\
/* groups [gr, ng) into acc */								\
INLINE TGT void NAME##_from(const int8_t *const *xq, const float *const *xd,		\
			    const uint8_t *const *w, const uint16_t *const *ws, int gr, int ng, \
			    size_t ahead, const bool Q4, const int NRR, const int MRR,	\
			    __m256 acc[NR][MR])						\
{											\
	__m256i sums[NR][MR];								\
											\
	for (; gr + 8 <= ng; gr += 8) {							\
		prefetch_rows(w, NRR, ahead, (size_t)gr * (Q4 ? GRP / 2 : GRP),		\
			      8 * (Q4 ? GRP / 2 : GRP));					\
		NAME##_sums(xq, w, gr, Q4, 8, NRR, MRR, sums);				\
		_Pragma("GCC unroll 4") for (int q = 0; q < NRR; q++) {		\
			__m256 wsv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(ws[q] + gr))); \
											\
			_Pragma("GCC unroll 4") for (int i = 0; i < MRR; i++)		\
				acc[q][i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[q][i]),	\
					_mm256_mul_ps(wsv, _mm256_loadu_ps(xd[i] + gr)), acc[q][i]); \
		}									\
	}										\
	if (gr + 4 <= ng) {								\
		NAME##_sums(xq, w, gr, Q4, 4, NRR, MRR, sums);				\
		_Pragma("GCC unroll 4") for (int q = 0; q < NRR; q++) {		\
			__m128 wsv = _mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)(ws[q] + gr))); \
											\
			_Pragma("GCC unroll 4") for (int i = 0; i < MRR; i++) {	\
				__m128 v = _mm_mul_ps(_mm_cvtepi32_ps(_mm256_castsi256_si128(sums[q][i])), \
					_mm_mul_ps(wsv, _mm_loadu_ps(xd[i] + gr)));	\
											\
				acc[q][i] = _mm256_add_ps(acc[q][i], _mm256_zextps128_ps256(v)); \
			}							\
		}									\
		gr += 4;								\
	}										\
	for (; gr < ng; gr++) {								\
		NAME##_one(xq, w, gr, Q4, NRR, MRR, sums);				\
		_Pragma("GCC unroll 4") for (int q = 0; q < NRR; q++) {		\
			__m256 wsv = _mm256_set1_ps(_cvtsh_ss(ws[q][gr]));		\
											\
			_Pragma("GCC unroll 4") for (int i = 0; i < MRR; i++)		\
				acc[q][i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[q][i]),	\
					_mm256_mul_ps(wsv, _mm256_set1_ps(xd[i][gr])), acc[q][i]); \
		}									\
	}										\
}											\
											\
INLINE TGT void NAME##_core(const struct sm_gemv *g, int r, int i0, const bool Q4,	\
			   const int NRR, const int MRR, float out[NR][MR])		\
{											\
	const int8_t *xq[MR];								\
	const float *xd[MR];								\
	const uint8_t *w[NR];								\
	const uint16_t *ws[NR];								\
	__m256 acc[NR][MR];								\
											\
	_Pragma("GCC unroll 4") for (int i = 0; i < MRR; i++) {			\
		xq[i] = act_q(g, i0 + i);						\
		xd[i] = act_scale(g, i0 + i);						\
	}										\
	_Pragma("GCC unroll 4") for (int q = 0; q < NRR; q++) {			\
		w[q] = wrow(g, r + q);							\
		ws[q] = wscale_row(g, r + q);						\
		_Pragma("GCC unroll 4") for (int i = 0; i < MRR; i++)			\
			acc[q][i] = _mm256_setzero_ps();				\
	}										\
	NAME##_from(xq, xd, w, ws, 0, g->k / GRP,					\
		    (size_t)NRR * (Q4 ? g->k / 2 : g->k), Q4, NRR, MRR, acc);		\
	_Pragma("GCC unroll 4") for (int q = 0; q < NRR; q++)				\
		_Pragma("GCC unroll 4") for (int i = 0; i < MRR; i++)			\
			out[q][i] = hsum256(acc[q][i]);					\
}											\
											\
/* q8 sums of more than 2 activation rows would not fit the registers:	\
 * 2 at a time (the same arithmetic per row) */					\
INLINE TGT void NAME(const struct sm_gemv *g, int r, int i0, const bool Q4,		\
		     const int NRR, const int MRR, float out[NR][MR])			\
{											\
	float o[NR][MR];								\
											\
	if (Q4 || MRR <= 2) {								\
		NAME##_core(g, r, i0, Q4, NRR, MRR, out);				\
		return;									\
	}										\
	NAME##_core(g, r, i0, Q4, NRR, 2, out);						\
	NAME##_core(g, r, i0 + 2, Q4, NRR, MRR - 2, o);					\
	for (int q = 0; q < NRR; q++)							\
		for (int i = 2; i < MRR; i++)						\
			out[q][i] = o[q][i - 2];					\
}

DEFINE_TILE256(tile_avx2, T256, dp_maddubs, dp2_maddubs, false)
DEFINE_TILE256(tile_vex, T256VEX, dp_vex, dp2_vex, true)
DEFINE_TILE256(tile_evex, T256EVEX, dp_evex, dp2_evex, true)

/* ---- AVX-512-VNNI ----
 * q4: blocks of 16 groups, as the AVX2 forms' blocks of 8 with a zmm: a
 * 64-byte load of codes is 4 groups (a 128-bit lane each, weights 0-15
 * from the low nibbles, 16-31 from the high), the activations' 16-byte
 * quarters put in that order; 4 loads' sums become one lane per group by
 * unpacks and adds (a 4 x 4 transpose) and a permute. The tail under 16
 * groups (all of a row under 16) takes the EVEX ymm form's blocks.
 * q8: the same blocks of 16 and the same transpose, two 64-byte loads (4
 * groups) put in q4's order by two lane shuffles, for 2 activation rows
 * at a time (4 measured slower at m 1 and 2: registers). Before, the sums
 * of 2 groups per load were reduced at every step, 3 shuffles and adds
 * per dpbusd: 20% slower at m 2 and 4, 11% at m 512 (bench-qgemm, here).
 * Every path's arithmetic per output is the same whatever the tile's
 * shape, so a sequence's logits do not depend on the rows batched with
 * it (test_batch: routing is discontinuous). */

#define T512V __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

/* The integer sums of groups gr..gr + 15, one lane each in order. Each
 * step takes 4 groups, a 128-bit lane each, in two registers: q4, from
 * one 64-byte load of codes (low nibbles, then high); q8, from two loads
 * (w + 128, as the ymm forms) put the same way by two lane shuffles (the
 * first 16 bytes of the 4 groups, then their last 16). */
INLINE T512V void sums512(const int8_t *const *xq, const uint8_t *const *w, int gr,
			  const bool Q4, const int NRR, const int MRR, __m512i sums[NR][MR])
{
	const __m512i zero = _mm512_setzero_si512(), m4 = _mm512_set1_epi8(15);
	const __m512i off = Q4 ? _mm512_set1_epi8(8) : _mm512_set1_epi8((char)0x80);
	/* lane 4j + p holds group 4p + j */
	const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
	__m512i a[NR][MR], b[NR][MR];

#pragma GCC unroll 4
	for (int p = 0; p < 4; p++) {
		__m512i xlo[MR], xhi[MR], corr[MR];

#pragma GCC unroll 4
		for (int i = 0; i < MRR; i++) {
			const int8_t *x = xq[i] + (gr + 4 * p) * GRP;
			__m512i x01 = _mm512_loadu_si512(x), x23 = _mm512_loadu_si512(x + 2 * GRP);

			xlo[i] = _mm512_shuffle_i64x2(x01, x23, _MM_SHUFFLE(2, 0, 2, 0));
			xhi[i] = _mm512_shuffle_i64x2(x01, x23, _MM_SHUFFLE(3, 1, 3, 1));
			corr[i] = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(
				_mm512_dpbusd_epi32(zero, off, xlo[i]), off, xhi[i]));
		}
#pragma GCC unroll 4
		for (int q = 0; q < NRR; q++) {
			__m512i lo, hi;

			if (Q4) {
				__m512i c = _mm512_loadu_si512(w[q] + (gr + 4 * p) * (GRP / 2));

				lo = _mm512_and_si512(c, m4);
				hi = _mm512_and_si512(_mm512_srli_epi16(c, 4), m4);
			} else {
				const uint8_t *wq = w[q] + (gr + 4 * p) * GRP;
				__m512i w01 = _mm512_xor_si512(_mm512_loadu_si512(wq), off);
				__m512i w23 = _mm512_xor_si512(_mm512_loadu_si512(wq + 2 * GRP), off);

				lo = _mm512_shuffle_i64x2(w01, w23, _MM_SHUFFLE(2, 0, 2, 0));
				hi = _mm512_shuffle_i64x2(w01, w23, _MM_SHUFFLE(3, 1, 3, 1));
			}
#pragma GCC unroll 4
			for (int i = 0; i < MRR; i++) {
				__m512i t = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(corr[i], lo, xlo[i]),
								hi, xhi[i]);

				/* the 16-group transpose: unpacks and adds */
				if (p == 0) {
					a[q][i] = t;
				} else if (p == 1) {
					a[q][i] = _mm512_add_epi32(_mm512_unpacklo_epi32(a[q][i], t),
								   _mm512_unpackhi_epi32(a[q][i], t));
				} else if (p == 2) {
					b[q][i] = t;
				} else {
					b[q][i] = _mm512_add_epi32(_mm512_unpacklo_epi32(b[q][i], t),
								   _mm512_unpackhi_epi32(b[q][i], t));
					a[q][i] = _mm512_add_epi32(_mm512_unpacklo_epi64(a[q][i], b[q][i]),
								   _mm512_unpackhi_epi64(a[q][i], b[q][i]));
				}
			}
		}
	}
#pragma GCC unroll 4
	for (int q = 0; q < NRR; q++)
#pragma GCC unroll 4
		for (int i = 0; i < MRR; i++)
			sums[q][i] = _mm512_permutexvar_epi32(order, a[q][i]);
}

INLINE T512V void tile512_core(const struct sm_gemv *g, int r, int i0, const bool Q4,
			       const int NRR, const int MRR, float out[NR][MR])
{
	const int ng = g->k / GRP;
	const int8_t *xq[MR];
	const float *xd[MR];
	const uint8_t *w[NR];
	const uint16_t *ws[NR];
	__m512 acc[NR][MR];
	__m256 tail[NR][MR];
	__m512i sums[NR][MR];
	size_t ahead = (size_t)NRR * (Q4 ? g->k / 2 : g->k);
	int gr = 0;

	if (ng < 16) {	/* no zmm block: no zmm sums to reduce */
		tile_evex(g, r, i0, Q4, NRR, MRR, out);
		return;
	}
#pragma GCC unroll 4
	for (int i = 0; i < MRR; i++) {
		xq[i] = act_q(g, i0 + i);
		xd[i] = act_scale(g, i0 + i);
	}
#pragma GCC unroll 4
	for (int q = 0; q < NRR; q++) {
		w[q] = wrow(g, r + q);
		ws[q] = wscale_row(g, r + q);
#pragma GCC unroll 4
		for (int i = 0; i < MRR; i++) {
			acc[q][i] = _mm512_setzero_ps();
			tail[q][i] = _mm256_setzero_ps();
		}
	}
	for (; gr + 16 <= ng; gr += 16) {
		prefetch_rows(w, NRR, ahead, (size_t)gr * (Q4 ? GRP / 2 : GRP), 16 * (Q4 ? GRP / 2 : GRP));
		sums512(xq, w, gr, Q4, NRR, MRR, sums);
#pragma GCC unroll 4
		for (int q = 0; q < NRR; q++) {
			__m512 wsv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(ws[q] + gr)));

#pragma GCC unroll 4
			for (int i = 0; i < MRR; i++)
				acc[q][i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums[q][i]),
							    _mm512_mul_ps(wsv, _mm512_loadu_ps(xd[i] + gr)),
							    acc[q][i]);
		}
	}
	tile_evex_from(xq, xd, w, ws, gr, ng, ahead, Q4, NRR, MRR, tail);
#pragma GCC unroll 4
	for (int q = 0; q < NRR; q++)
#pragma GCC unroll 4
		for (int i = 0; i < MRR; i++)
			out[q][i] = _mm512_reduce_add_ps(acc[q][i]) + hsum256(tail[q][i]);
}

/* q8: 2 activation rows at a time, as the ymm forms (same arithmetic) */
INLINE T512V void tile512(const struct sm_gemv *g, int r, int i0, const bool Q4,
			  const int NRR, const int MRR, float out[NR][MR])
{
	float o[NR][MR];

	if (Q4 || MRR <= 2) {
		tile512_core(g, r, i0, Q4, NRR, MRR, out);
		return;
	}
	tile512_core(g, r, i0, Q4, NRR, 2, out);
	tile512_core(g, r, i0 + 2, Q4, NRR, MRR - 2, o);
	for (int q = 0; q < NRR; q++)
		for (int i = 2; i < MRR; i++)
			out[q][i] = o[q][i - 2];
}

/* ---- AVX-512-VNNI for many activation rows: weight panels ----
 * The tiles above spend most of their instructions on putting each
 * group's sum in a lane of its own (shuffles, transposes) and on the
 * offset of the unsigned operand; at prefill's hundreds of rows that is
 * paid for every 4 weight rows and 2 activation rows. Here a thread
 * repacks 16 weight rows at a time (a panel, gathered once, kept in L2):
 * each group as 8 vectors of 4 codes of all 16 rows (signed: q8 as
 * stored, q4 less 8), so that a lane is a weight row, the activations
 * go in unsigned (+128, a copy of 4 rows at a time) broadcast 4 bytes a
 * step, and the offset is the weights' own sum, made once per panel.
 * One dpbusd is then 64 useful products and a group's sum needs no
 * shuffle.
 * The float arithmetic per output is that of tile512 exactly: the
 * integer sums are the same integers, each is scaled and accumulated in
 * the same operations and order (16 accumulators by group mod 16, a tail
 * of 8 by tile_evex_from's blocks of 8, 4 and single groups), and these
 * are reduced in the trees of _mm512_reduce_add_ps and hsum256. So the
 * results are bitwise those of the tiles (test_qgemm_panel), and a
 * sequence's logits still do not depend on the rows batched with it.
 * From SPLITMOE_QGEMM_PANEL_ROWS activation rows (hi and lo counted
 * apart; 0: never).
 */
#define PANEL_ROWS 16
#define PANEL_XR 8		/* activation rows a pass over a group */
#define PANEL_MAX_K 16384	/* the thread's buffer: 18 bytes a weight */

/* A thread's panel and activation copy: grown to the widest k it met,
 * once per thread and size (not per product). */
static _Thread_local struct {
	void *mem;
	size_t bytes;
} panel_tls;

/* The same buffer under a key whose destructor frees it when the thread
 * ends (libgomp ends the pool threads a smaller team leaves out). */
static pthread_key_t panel_key;
static bool panel_key_ok;
static pthread_once_t panel_key_once = PTHREAD_ONCE_INIT;

static void panel_key_make(void)
{
	panel_key_ok = !pthread_key_create(&panel_key, free);
}

/* The thread's buffer of at least bytes, or NULL */
static void *panel_buffer(size_t bytes)
{
	bytes = pad64(bytes);
	if (panel_tls.bytes < bytes) {
		void *mem = aligned_alloc(64, bytes);

		if (!mem)
			return NULL;
		pthread_once(&panel_key_once, panel_key_make);
		if (panel_key_ok && pthread_setspecific(panel_key, mem)) {
			free(mem);
			return NULL;
		}
		free(panel_tls.mem);
		panel_tls.mem = mem;
		panel_tls.bytes = bytes;
	}
	return panel_tls.mem;
}

struct panel {
	__m512i *w;	/* [ng][8]: codes 4c..4c+3 of group g, 16 rows */
	__m512i *corr;	/* [ng]: -128 x the sum of group g's codes, a row a lane */
	__m512 *ws;	/* [ng]: group g's weight scales */
	__m512i *ccorr;	/* [ng - single0 <= 3][8]: the same per 4 codes */
	uint8_t *xu;	/* PANEL_XR activation rows + 128, kpad apart */
	int ng, single0, kpad;
};

/*
 * The thread's buffer cut for k with vectors of vb bytes: w, corr, ws and
 * ccorr (their element types are the panel's), xu; single0 after the
 * tiles' blocks of wide (16 or 8), 8 and 4 groups. False when it could
 * not be had (the tiles then run).
 */
struct panel_parts {
	void *w, *corr, *ws, *ccorr;
	uint8_t *xu;
	int ng, single0, kpad;
};

static bool panel_carve(int k, size_t vb, int wide, struct panel_parts *pp)
{
	size_t ng = (size_t)k / GRP, kpad = pad64((size_t)k);
	char *mem = panel_buffer(ng * 10 * vb + 3 * 8 * vb + PANEL_XR * kpad);
	int gr;

	if (!mem)
		return false;
	pp->ng = (int)ng;
	pp->kpad = (int)kpad;
	pp->w = mem;
	pp->corr = mem + ng * 8 * vb;
	pp->ws = mem + ng * 9 * vb;
	pp->ccorr = mem + ng * 10 * vb;
	pp->xu = (uint8_t *)mem + ng * 10 * vb + 3 * 8 * vb;
	gr = pp->ng >= wide ? pp->ng / wide * wide : 0;
	gr += (pp->ng - gr) / 8 * 8;
	if (pp->ng - gr >= 4)
		gr += 4;
	pp->single0 = gr;
	return true;
}

static bool panel_layout(int k, struct panel *p)
{
	struct panel_parts pp;

	if (!panel_carve(k, sizeof(__m512i), 16, &pp))
		return false;
	*p = (struct panel){ .w = pp.w, .corr = pp.corr, .ws = pp.ws, .ccorr = pp.ccorr,
			     .xu = pp.xu, .ng = pp.ng, .single0 = pp.single0, .kpad = pp.kpad };
	return true;
}

/* Rows r.. (nrows of them, at most 16; the rest of the panel zero) */
static T512V void panel_pack(const struct sm_gemv *g, int r, int nrows, struct panel *p)
{
	const bool q4 = g->quant == SM_GEMV_Q4;
	const int rb = q4 ? g->k / 2 : g->k;
	const __m512i zero = _mm512_setzero_si512(), ones = _mm512_set1_epi8(1);
	const __m512i m4 = _mm512_set1_epi8(15), eights = _mm512_set1_epi8(8);
	const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
								  10, 11, 12, 13, 14, 15),
					       _mm512_set1_epi32(rb));
	const __mmask16 live = (__mmask16)((1u << nrows) - 1);
	const uint8_t *w0 = wrow(g, r);

	for (int gi = 0; gi < p->ng; gi++) {
		__m512i sum = zero;
		float s[PANEL_ROWS];

		for (int c = 0; c < 8; c++) {
			__m512i v, cs;

			if (q4) {
				/* codes 0-15: low nibbles of the group's 16 bytes,
				 * 16-31: their high nibbles */
				v = _mm512_mask_i32gather_epi32(zero, live, idx,
								w0 + gi * (GRP / 2) + (c & 3) * 4, 1);
				v = c < 4 ? _mm512_and_si512(v, m4) :
					    _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
				v = _mm512_sub_epi8(v, eights);
			} else {
				v = _mm512_mask_i32gather_epi32(zero, live, idx, w0 + gi * GRP + c * 4,
								1);
			}
			p->w[gi * 8 + c] = v;
			cs = _mm512_dpbusd_epi32(zero, ones, v);
			sum = _mm512_add_epi32(sum, cs);
			if (gi >= p->single0)
				p->ccorr[(gi - p->single0) * 8 + c] =
					_mm512_sub_epi32(zero, _mm512_slli_epi32(cs, 7));
		}
		p->corr[gi] = _mm512_sub_epi32(zero, _mm512_slli_epi32(sum, 7));
		for (int q = 0; q < PANEL_ROWS; q++)
			s[q] = q < nrows ? _cvtsh_ss(wscale_row(g, r + q)[gi]) : 0.0f;
		p->ws[gi] = _mm512_loadu_ps(s);
	}
}

/* Activation rows i0.. (nx) + 128, as the unsigned operand */
static T512V void panel_acts(const struct sm_gemv *g, int i0, int nx, struct panel *p)
{
	const __m512i c128 = _mm512_set1_epi8((char)0x80);

	for (int i = 0; i < nx; i++) {
		const int8_t *x = act_q(g, i0 + i);
		uint8_t *u = p->xu + (size_t)i * p->kpad;

		/* rows are padded to 64 bytes (sm_qact_row_bytes) */
		for (int e = 0; e < g->k; e += 64)
			_mm512_storeu_si512(u + e, _mm512_xor_si512(_mm512_loadu_si512(x + e), c128));
	}
}

/* Group gi's integer sums for NX activation rows, from init[i] */
INLINE T512V void panel_sums(const struct panel *p, const uint8_t *const *xu, int gi,
			     const int NX, const __m512i *init, __m512i s[PANEL_XR])
{
	const __m512i *w = p->w + (size_t)gi * 8;

#pragma GCC unroll 8
	for (int i = 0; i < NX; i++)
		s[i] = init[0];
#pragma GCC unroll 8
	for (int c = 0; c < 8; c++) {
		__m512i wv = _mm512_load_si512(w + c);

#pragma GCC unroll 8
		for (int i = 0; i < NX; i++) {
			int32_t x4;

			memcpy(&x4, xu[i] + (size_t)gi * GRP + 4 * c, sizeof(x4));
			s[i] = _mm512_dpbusd_epi32(s[i], _mm512_set1_epi32(x4), wv);
		}
	}
}

/* Single group gi: chunk c's sums (lane c of tile_evex's _one) */
INLINE T512V void panel_chunk(const struct panel *p, const uint8_t *const *xu, int gi, int c,
			      const int NX, __m512i s[PANEL_XR])
{
	__m512i wv = _mm512_load_si512(p->w + (size_t)gi * 8 + c);
	__m512i init = _mm512_load_si512(p->ccorr + (size_t)(gi - p->single0) * 8 + c);

#pragma GCC unroll 8
	for (int i = 0; i < NX; i++) {
		int32_t x4;

		memcpy(&x4, xu[i] + (size_t)gi * GRP + 4 * c, sizeof(x4));
		s[i] = _mm512_dpbusd_epi32(init, _mm512_set1_epi32(x4), wv);
	}
}

/* out[i]: the panel's 16 sums for activation row i0 + i, as tile512 */
INLINE T512V void panel_tile(const struct sm_gemv *g, const struct panel *p, int i0,
			     const int NX, __m512 out[PANEL_XR])
{
	const int ng = p->ng;
	const uint8_t *xu[PANEL_XR];
	const float *xd[PANEL_XR];
	__m512 t[8][PANEL_XR];
	__m512i s[PANEL_XR];
	int gr = 0;

#pragma GCC unroll 8
	for (int i = 0; i < NX; i++) {
		xu[i] = p->xu + (size_t)i * p->kpad;
		xd[i] = act_scale(g, i0 + i);
	}
	if (ng >= 16) {
		__m512 a[16][PANEL_XR];

		/* lane j of tile512's accumulator: groups j, j + 16, ... */
		for (int j = 0; j < 16; j++) {
			__m512 acc[PANEL_XR];

#pragma GCC unroll 8
			for (int i = 0; i < NX; i++)
				acc[i] = _mm512_setzero_ps();
			for (int gi = j; gi < ng / 16 * 16; gi += 16) {
				panel_sums(p, xu, gi, NX, p->corr + gi, s);
#pragma GCC unroll 8
				for (int i = 0; i < NX; i++)
					acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[i]),
								 _mm512_mul_ps(p->ws[gi],
									       _mm512_set1_ps(xd[i][gi])),
								 acc[i]);
			}
#pragma GCC unroll 8
			for (int i = 0; i < NX; i++)
				a[j][i] = acc[i];
		}
		/* _mm512_reduce_add_ps's tree, a row a lane */
#pragma GCC unroll 8
		for (int i = 0; i < NX; i++) {
			__m512 t3[8], t6[4];

			for (int l = 0; l < 8; l++)
				t3[l] = _mm512_add_ps(a[8 + l][i], a[l][i]);
			for (int l = 0; l < 4; l++)
				t6[l] = _mm512_add_ps(t3[4 + l], t3[l]);
			out[i] = _mm512_add_ps(_mm512_add_ps(t6[0], t6[2]),
					       _mm512_add_ps(t6[1], t6[3]));
		}
		gr = ng / 16 * 16;
	}
	/* tile_evex_from's tail: lane c of its accumulator */
	for (int c = 0; c < 8; c++)
#pragma GCC unroll 8
		for (int i = 0; i < NX; i++)
			t[c][i] = _mm512_setzero_ps();
	for (; gr + 8 <= ng; gr += 8)
		for (int c = 0; c < 8; c++) {
			panel_sums(p, xu, gr + c, NX, p->corr + gr + c, s);
#pragma GCC unroll 8
			for (int i = 0; i < NX; i++)
				t[c][i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[i]),
							  _mm512_mul_ps(p->ws[gr + c],
									_mm512_set1_ps(xd[i][gr + c])),
							  t[c][i]);
		}
	if (gr + 4 <= ng) {
		for (int c = 0; c < 8; c++) {
			if (c >= 4) {	/* the block's upper lanes add zeros */
#pragma GCC unroll 8
				for (int i = 0; i < NX; i++)
					t[c][i] = _mm512_add_ps(t[c][i], _mm512_setzero_ps());
				continue;
			}
			panel_sums(p, xu, gr + c, NX, p->corr + gr + c, s);
#pragma GCC unroll 8
			for (int i = 0; i < NX; i++)
				t[c][i] = _mm512_add_ps(t[c][i], _mm512_mul_ps(
					_mm512_cvtepi32_ps(s[i]),
					_mm512_mul_ps(p->ws[gr + c], _mm512_set1_ps(xd[i][gr + c]))));
		}
		gr += 4;
	}
	for (; gr < ng; gr++) {
		__m512 prod[PANEL_XR];

#pragma GCC unroll 8
		for (int i = 0; i < NX; i++)
			prod[i] = _mm512_mul_ps(p->ws[gr], _mm512_set1_ps(xd[i][gr]));
		for (int c = 0; c < 8; c++) {
			panel_chunk(p, xu, gr, c, NX, s);
#pragma GCC unroll 8
			for (int i = 0; i < NX; i++)
				t[c][i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[i]), prod[i], t[c][i]);
		}
	}
	/* hsum256's tree, a row a lane; tile512 adds it to the zmm sum */
#pragma GCC unroll 8
	for (int i = 0; i < NX; i++) {
		__m512 h = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(t[0][i], t[4][i]),
						       _mm512_add_ps(t[2][i], t[6][i])),
					 _mm512_add_ps(_mm512_add_ps(t[1][i], t[5][i]),
						       _mm512_add_ps(t[3][i], t[7][i])));

		out[i] = p->ng >= 16 ? _mm512_add_ps(out[i], h) : h;
	}
}

/* tile_store for the panel's rows r.. (nrows) and activation rows i0.. */
static T512V void panel_store(const struct sm_gemv *g, int r, int nrows, int i0, int nx,
			      const __m512 out[PANEL_XR])
{
	const __mmask16 live = (__mmask16)((1u << nrows) - 1);
	__m512 b = g->bias ? _mm512_maskz_loadu_ps(live, g->bias + r) : _mm512_setzero_ps();
	int step = g->xq_fine ? 2 : 1;

	for (int i = 0; i < nx; i += step) {
		int row = (i0 + i) / step;
		__m512 v = step == 2 ? _mm512_add_ps(out[i], out[i + 1]) : out[i];
		float s = g->row_scale ? g->row_scale[row] : 1.0f;

		_mm512_mask_storeu_ps(g->y + (size_t)row * g->ldy + r, live,
				      _mm512_mul_ps(_mm512_add_ps(v, b), _mm512_set1_ps(s)));
	}
}

/* Rows [r0, r1) by panels, if the product is one for them */
static T512V bool panel_rows(const struct sm_gemv *g, int r0, int r1)
{
	int m = g->xq_fine ? 2 * g->m : g->m;
	struct panel p;

	pthread_once(&panel_once, panel_init);
	if (!panel_min_rows || m < panel_min_rows || g->k > PANEL_MAX_K ||
	    !panel_layout(g->k, &p))
		return false;
	for (int r = r0; r < r1; r += PANEL_ROWS) {
		int nrows = r1 - r < PANEL_ROWS ? r1 - r : PANEL_ROWS;

		panel_pack(g, r, nrows, &p);
		for (int i0 = 0; i0 < m; i0 += PANEL_XR) {
			int nx = m - i0 < PANEL_XR ? m - i0 : PANEL_XR;
			__m512 out[PANEL_XR];

			panel_acts(g, i0, nx, &p);
			switch (nx) {
			case 1: panel_tile(g, &p, i0, 1, out); break;
			case 2: panel_tile(g, &p, i0, 2, out); break;
			case 3: panel_tile(g, &p, i0, 3, out); break;
			case 4: panel_tile(g, &p, i0, 4, out); break;
			case 5: panel_tile(g, &p, i0, 5, out); break;
			case 6: panel_tile(g, &p, i0, 6, out); break;
			case 7: panel_tile(g, &p, i0, 7, out); break;
			default: panel_tile(g, &p, i0, 8, out); break;
			}
			panel_store(g, r, nrows, i0, nx, out);
		}
	}
	return true;
}

/* ---- AVX2-VNNI (VEX and EVEX forms), many activation rows: panels ----
 * The zmm panels' scheme (above) on ymm, 8 weight rows a panel, for the
 * target laptop's prefill: tile_vex/tile_evex take every group by their
 * blocks of 8, 4 and single groups and one hsum256, which is the zmm
 * panels' tail alone, so the results are again bitwise the tiles'.
 */
#define PANEL8_ROWS 8

struct panel8 {
	__m256i *w;	/* [ng][8]: codes 4c..4c+3 of group g, 8 rows */
	__m256i *corr;	/* [ng]: -128 x the sum of group g's codes */
	__m256 *ws;	/* [ng]: group g's weight scales */
	__m256i *ccorr;	/* [ng - single0 <= 3][8]: the same per 4 codes */
	uint8_t *xu;	/* PANEL_XR activation rows + 128, kpad apart */
	int ng, single0, kpad;
};

static bool panel8_layout(int k, struct panel8 *p)
{
	struct panel_parts pp;

	if (!panel_carve(k, sizeof(__m256i), 8, &pp))
		return false;
	*p = (struct panel8){ .w = pp.w, .corr = pp.corr, .ws = pp.ws, .ccorr = pp.ccorr,
			      .xu = pp.xu, .ng = pp.ng, .single0 = pp.single0, .kpad = pp.kpad };
	return true;
}

#define DEFINE_PANEL256(NAME, TGT, DP)							\
static TGT void NAME##_pack(const struct sm_gemv *g, int r, int nrows, struct panel8 *p) \
{											\
	const bool q4 = g->quant == SM_GEMV_Q4;						\
	const int rb = q4 ? g->k / 2 : g->k;						\
	const __m256i zero = _mm256_setzero_si256(), ones = _mm256_set1_epi8(1);	\
	const __m256i m4 = _mm256_set1_epi8(15), eights = _mm256_set1_epi8(8);		\
	const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);		\
	const __m256i idx = _mm256_mullo_epi32(lane, _mm256_set1_epi32(rb));		\
	const __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32(nrows), lane);	\
	const uint8_t *w0 = wrow(g, r);							\
											\
	for (int gi = 0; gi < p->ng; gi++) {						\
		__m256i sum = zero;							\
		float s[PANEL8_ROWS];							\
											\
		for (int c = 0; c < 8; c++) {						\
			__m256i v, cs;							\
											\
			if (q4) {							\
				v = _mm256_mask_i32gather_epi32(zero, (const int *)(const void *) \
					(w0 + gi * (GRP / 2) + (c & 3) * 4), idx, live, 1); \
				v = c < 4 ? _mm256_and_si256(v, m4) :			\
					    _mm256_and_si256(_mm256_srli_epi16(v, 4), m4); \
				v = _mm256_sub_epi8(v, eights);				\
			} else {							\
				v = _mm256_mask_i32gather_epi32(zero, (const int *)(const void *) \
					(w0 + gi * GRP + c * 4), idx, live, 1);		\
			}								\
			p->w[gi * 8 + c] = v;						\
			cs = DP(zero, ones, v);						\
			sum = _mm256_add_epi32(sum, cs);				\
			if (gi >= p->single0)						\
				p->ccorr[(gi - p->single0) * 8 + c] =			\
					_mm256_sub_epi32(zero, _mm256_slli_epi32(cs, 7)); \
		}									\
		p->corr[gi] = _mm256_sub_epi32(zero, _mm256_slli_epi32(sum, 7));	\
		for (int q = 0; q < PANEL8_ROWS; q++)					\
			s[q] = q < nrows ? _cvtsh_ss(wscale_row(g, r + q)[gi]) : 0.0f;	\
		p->ws[gi] = _mm256_loadu_ps(s);						\
	}										\
}											\
											\
static TGT void NAME##_acts(const struct sm_gemv *g, int i0, int nx, struct panel8 *p)	\
{											\
	const __m256i c128 = _mm256_set1_epi8((char)0x80);				\
											\
	for (int i = 0; i < nx; i++) {							\
		const int8_t *x = act_q(g, i0 + i);					\
		uint8_t *u = p->xu + (size_t)i * p->kpad;				\
											\
		for (int e = 0; e < g->k; e += 32)					\
			_mm256_storeu_si256((__m256i *)(void *)(u + e), _mm256_xor_si256(	\
				_mm256_loadu_si256((const __m256i *)(const void *)(x + e)), c128)); \
	}										\
}											\
											\
/* group gi's sums (single: chunk c's alone, from its own offset) */		\
INLINE TGT void NAME##_sums(const struct panel8 *p, const uint8_t *const *xu, int gi,	\
			    int c0, int c1, __m256i init, const int NX, __m256i s[PANEL_XR]) \
{											\
	_Pragma("GCC unroll 8") for (int i = 0; i < NX; i++)				\
		s[i] = init;								\
	for (int c = c0; c < c1; c++) {							\
		__m256i wv = _mm256_load_si256(p->w + (size_t)gi * 8 + c);		\
											\
		_Pragma("GCC unroll 8") for (int i = 0; i < NX; i++) {			\
			int32_t x4;							\
											\
			memcpy(&x4, xu[i] + (size_t)gi * GRP + 4 * c, sizeof(x4));	\
			s[i] = DP(s[i], _mm256_set1_epi32(x4), wv);			\
		}									\
	}										\
}											\
											\
/* out[i]: the panel's 8 sums for activation row i0 + i, as tile_vex/evex */	\
INLINE TGT void NAME##_tile(const struct sm_gemv *g, const struct panel8 *p, int i0,	\
			    const int NX, __m256 out[PANEL_XR])				\
{											\
	const int ng = p->ng;								\
	const uint8_t *xu[PANEL_XR];							\
	const float *xd[PANEL_XR];							\
	__m256 t[8][PANEL_XR];								\
	__m256i s[PANEL_XR];								\
	int gr = 0;									\
											\
	_Pragma("GCC unroll 8") for (int i = 0; i < NX; i++) {				\
		xu[i] = p->xu + (size_t)i * p->kpad;					\
		xd[i] = act_scale(g, i0 + i);						\
	}										\
	for (int c = 0; c < 8; c++)							\
		_Pragma("GCC unroll 8") for (int i = 0; i < NX; i++)			\
			t[c][i] = _mm256_setzero_ps();					\
	for (; gr + 8 <= ng; gr += 8)							\
		for (int c = 0; c < 8; c++) {						\
			NAME##_sums(p, xu, gr + c, 0, 8, p->corr[gr + c], NX, s);	\
			_Pragma("GCC unroll 8") for (int i = 0; i < NX; i++)		\
				t[c][i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[i]),	\
					_mm256_mul_ps(p->ws[gr + c], _mm256_set1_ps(xd[i][gr + c])), \
					t[c][i]);					\
		}									\
	if (gr + 4 <= ng) {								\
		for (int c = 0; c < 8; c++) {						\
			if (c >= 4) {	/* the block's upper lanes add zeros */		\
				_Pragma("GCC unroll 8") for (int i = 0; i < NX; i++)	\
					t[c][i] = _mm256_add_ps(t[c][i], _mm256_setzero_ps()); \
				continue;						\
			}								\
			NAME##_sums(p, xu, gr + c, 0, 8, p->corr[gr + c], NX, s);	\
			_Pragma("GCC unroll 8") for (int i = 0; i < NX; i++)		\
				t[c][i] = _mm256_add_ps(t[c][i], _mm256_mul_ps(		\
					_mm256_cvtepi32_ps(s[i]),				\
					_mm256_mul_ps(p->ws[gr + c], _mm256_set1_ps(xd[i][gr + c])))); \
		}									\
		gr += 4;								\
	}										\
	for (; gr < ng; gr++) {								\
		__m256 prod[PANEL_XR];							\
											\
		_Pragma("GCC unroll 8") for (int i = 0; i < NX; i++)			\
			prod[i] = _mm256_mul_ps(p->ws[gr], _mm256_set1_ps(xd[i][gr]));	\
		for (int c = 0; c < 8; c++) {						\
			NAME##_sums(p, xu, gr, c, c + 1,				\
				    p->ccorr[(gr - p->single0) * 8 + c], NX, s);	\
			_Pragma("GCC unroll 8") for (int i = 0; i < NX; i++)		\
				t[c][i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[i]), prod[i], \
							  t[c][i]);			\
		}									\
	}										\
	/* hsum256's tree, a row a lane */						\
	_Pragma("GCC unroll 8") for (int i = 0; i < NX; i++)				\
		out[i] = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(t[0][i], t[4][i]),	\
						     _mm256_add_ps(t[2][i], t[6][i])),	\
				       _mm256_add_ps(_mm256_add_ps(t[1][i], t[5][i]),	\
						     _mm256_add_ps(t[3][i], t[7][i])));	\
}											\
											\
static TGT void NAME##_store(const struct sm_gemv *g, int r, int nrows, int i0, int nx,	\
			     const __m256 out[PANEL_XR])				\
{											\
	int step = g->xq_fine ? 2 : 1;							\
											\
	for (int i = 0; i < nx; i += step) {						\
		int row = (i0 + i) / step;						\
		__m256 v = step == 2 ? _mm256_add_ps(out[i], out[i + 1]) : out[i];	\
		float s = g->row_scale ? g->row_scale[row] : 1.0f, y[PANEL8_ROWS];	\
		float *dst = g->y + (size_t)row * g->ldy + r;				\
											\
		_mm256_storeu_ps(y, v);							\
		for (int q = 0; q < nrows; q++)						\
			dst[q] = (y[q] + (g->bias ? g->bias[r + q] : 0.0f)) * s;	\
	}										\
}											\
											\
static TGT bool NAME##_rows(const struct sm_gemv *g, int r0, int r1)			\
{											\
	int m = g->xq_fine ? 2 * g->m : g->m;						\
	struct panel8 p;								\
											\
	pthread_once(&panel_once, panel_init);						\
	if (!panel_min_rows || m < panel_min_rows || g->k > PANEL_MAX_K ||		\
	    !panel8_layout(g->k, &p))							\
		return false;								\
	for (int r = r0; r < r1; r += PANEL8_ROWS) {					\
		int nrows = r1 - r < PANEL8_ROWS ? r1 - r : PANEL8_ROWS;		\
											\
		NAME##_pack(g, r, nrows, &p);						\
		for (int i0 = 0; i0 < m; i0 += PANEL_XR) {				\
			int nx = m - i0 < PANEL_XR ? m - i0 : PANEL_XR;			\
			__m256 out[PANEL_XR];						\
											\
			NAME##_acts(g, i0, nx, &p);					\
			switch (nx) {							\
			case 1: NAME##_tile(g, &p, i0, 1, out); break;			\
			case 2: NAME##_tile(g, &p, i0, 2, out); break;			\
			case 3: NAME##_tile(g, &p, i0, 3, out); break;			\
			case 4: NAME##_tile(g, &p, i0, 4, out); break;			\
			case 5: NAME##_tile(g, &p, i0, 5, out); break;			\
			case 6: NAME##_tile(g, &p, i0, 6, out); break;			\
			case 7: NAME##_tile(g, &p, i0, 7, out); break;			\
			default: NAME##_tile(g, &p, i0, 8, out); break;			\
			}								\
			NAME##_store(g, r, nrows, i0, nx, out);				\
		}									\
	}										\
	return true;									\
}

DEFINE_PANEL256(panel_vex, T256VEX, dp_vex)
DEFINE_PANEL256(panel_evex, T256EVEX, dp_evex)
#endif

/* y = (sum + bias) * row scale for a tile of activation rows i0.. (with
 * xq_fine, of hi/lo row pairs: i0 and mr count both) */
static void tile_store(const struct sm_gemv *g, int r, int i0, int nr, int mr,
		       float out[NR][MR])
{
	int step = g->xq_fine ? 2 : 1;

	for (int i = 0; i < mr; i += step) {
		int row = (i0 + i) / step;
		float *y = g->y + (size_t)row * g->ldy + r;
		float s = g->row_scale ? g->row_scale[row] : 1.0f;

		for (int q = 0; q < nr; q++) {
			float v = step == 2 ? out[q][i] + out[q][i + 1] : out[q][i];

			y[q] = (v + (g->bias ? g->bias[r + q] : 0.0f)) * s;
		}
	}
}

/*
 * Rows shorter than SHORT_ROW_BYTES (an expert's down product in q4: 448
 * weights, 224 bytes) are prefetched whole, weights and scales,
 * SHORT_ROW_AHEAD bytes of weights ahead: the kernels' own prefetch of
 * the next tile reaches 4 rows ahead, 896 bytes there, too near to hide
 * memory's latency (16-core machine, decode at 16 threads: q4 89.9
 * against 82.0 tok/s without; int8's 448-byte rows, 1792 bytes ahead,
 * gained nothing: 58.3 with against 60.4).
 */
#define SHORT_ROW_BYTES 256
#define SHORT_ROW_AHEAD 4096

/* A prefetch into L2 that the compiler keeps: GCC deletes a loop of
 * __builtin_prefetch alone as a loop without effects. */
static inline void prefetch_l2(const char *p)
{
#if HAVE_X86
	__asm__ volatile("prefetcht1 %0" : : "m"(*p));
#else
	__builtin_prefetch(p, 0, 2);
#endif
}

static inline void prefetch_l2_range(const void *p, size_t bytes)
{
	const char *c = p;

	for (size_t b = 0; b < bytes; b += 64)
		prefetch_l2(c + b);
}

void sm_prefetch_l2(const void *p, size_t bytes)
{
	prefetch_l2_range(p, bytes);
}

void sm_qgemm_prefetch_rows(const struct sm_gemv *g, int r0, int r1, size_t *max_bytes)
{
	size_t rb = g->quant == SM_GEMV_Q4 ? (size_t)g->k / 2 : (size_t)g->k;
	size_t sb = sizeof(uint16_t) * (size_t)(g->k / GRP);
	size_t rows = *max_bytes / (rb + sb);

	if (rows > (size_t)(r1 - r0))
		rows = (size_t)(r1 - r0);
	prefetch_l2_range(wrow(g, r0), rows * rb);
	prefetch_l2_range(wscale_row(g, r0), rows * sb);
	*max_bytes -= rows * (rb + sb);
}

static inline void prefetch_short_rows(const struct sm_gemv *g, int r, int nr)
{
	size_t rb = g->quant == SM_GEMV_Q4 ? (size_t)g->k / 2 : (size_t)g->k;
	size_t sb = sizeof(uint16_t) * (size_t)(g->k / GRP);
	size_t rows = SHORT_ROW_AHEAD / rb;
	const char *w = (const char *)wrow(g, r) + rows * rb;
	const char *s = (const char *)wscale_row(g, r) + rows * sb;

	prefetch_l2_range(w, (size_t)nr * rb);
	prefetch_l2_range(s, (size_t)nr * sb);
}

/*
 * L2 blocking of many-row products (prefill), off unless
 * SPLITMOE_QGEMM_BLOCK_KB=N asks: activation rows in chunks of about N KB
 * and weight rows in panels of about N KB, so that each chunk passes over
 * a panel from L2 instead of every 4-row weight tile streaming all the
 * product's activations (at 512 rows and k = 4096: 2.2 MB, 4.4 MB with
 * xq_fine, once per 4 weight rows; beyond L2, so from L3 or memory on
 * every core at once). Measured here (2 cores) as neutral, so off until a
 * 16-core run says (README); the tiles and the order of every sum are
 * unchanged, so the results are bitwise the same either way.
 */
static size_t block_bytes;
static pthread_once_t block_once = PTHREAD_ONCE_INIT;

static void block_init(void)
{
	block_bytes = (size_t)sm_env_knob("SPLITMOE_QGEMM_BLOCK_KB", 0, 65536, 0) << 10;
}

void sm_qgemm_override_block(size_t bytes)
{
	pthread_once(&block_once, block_init);
	block_bytes = bytes;
}

/* Activation rows a chunk and weight rows a panel of rows [r0, r1) of
 * g (m: activation rows, hi and lo counted apart): multiples of the
 * tiles, so that the tiles are those of the unblocked loops. */
static void block_shape(const struct sm_gemv *g, int m, int r0, int r1, int *chunk, int *panel)
{
	size_t wb = (g->quant == SM_GEMV_Q4 ? (size_t)g->k / 2 : (size_t)g->k) +
		    sizeof(uint16_t) * (size_t)(g->k / GRP);
	size_t c, p;

	pthread_once(&block_once, block_init);
	*chunk = m;
	*panel = r1 - r0;
	if (!block_bytes || (size_t)m * sm_qact_row_bytes(g->k) <= block_bytes)
		return;
	c = block_bytes / sm_qact_row_bytes(g->k) / MR * MR;
	p = block_bytes / wb / NR * NR;
	*chunk = c < MR ? MR : (int)c;
	if (p < (size_t)*panel)
		*panel = p < NR ? NR : (int)p;
}

/* The (Q4, NRR, MRR) cases spelt out, so that each inlined tile is
 * specialised; weight tiles outside, activation tiles inside: the NR rows
 * of W stay in L1 while every activation row passes. */
#define TILE_M(tile, Q, N)								\
	switch (mr) {									\
	case 1: tile(g, r, i0, Q, N, 1, out); break;					\
	case 2: tile(g, r, i0, Q, N, 2, out); break;					\
	case 3: tile(g, r, i0, Q, N, 3, out); break;					\
	default: tile(g, r, i0, Q, N, 4, out); break;					\
	}
#define DEFINE_ROWS(NAME, TGT, tile)							\
static TGT void NAME(const struct sm_gemv *g, int r0, int r1)				\
{											\
	bool q4 = g->quant == SM_GEMV_Q4;						\
	bool short_rows = (size_t)(q4 ? g->k / 2 : g->k) < SHORT_ROW_BYTES;		\
	int m = g->xq_fine ? 2 * g->m : g->m;						\
	int chunk, panel;								\
											\
	block_shape(g, m, r0, r1, &chunk, &panel);					\
	for (int p0 = r0; p0 < r1; p0 += panel) {					\
		int p1 = r1 - p0 < panel ? r1 : p0 + panel;				\
											\
		for (int c0 = 0; c0 < m; c0 += chunk) {					\
			int c1 = m - c0 < chunk ? m : c0 + chunk;			\
											\
			for (int r = p0; r < p1;) {					\
				int nr = p1 - r >= NR ? NR : 1;				\
											\
				if (short_rows && !c0)					\
					prefetch_short_rows(g, r, nr);			\
				for (int i0 = c0; i0 < c1; i0 += MR) {			\
					int mr = c1 - i0 < MR ? c1 - i0 : MR;		\
					float out[NR][MR];				\
											\
					if (q4 && nr == NR) {				\
						TILE_M(tile, true, NR)			\
					} else if (q4) {				\
						TILE_M(tile, true, 1)			\
					} else if (nr == NR) {				\
						TILE_M(tile, false, NR)			\
					} else {					\
						TILE_M(tile, false, 1)			\
					}						\
					tile_store(g, r, i0, nr, mr, out);		\
				}							\
				r += nr;						\
			}								\
		}									\
	}										\
}

#if HAVE_X86
DEFINE_ROWS(rows_avx512, T512V, tile512)
DEFINE_ROWS(rows_vex, T256VEX, tile_vex)
DEFINE_ROWS(rows_evex, T256EVEX, tile_evex)
DEFINE_ROWS(rows_avx2, T256, tile_avx2)
#endif

static void rows_c(const struct sm_gemv *g, int r0, int r1)
{
	int m = g->xq_fine ? 2 * g->m : g->m;

	for (int r = r0; r < r1;) {
		int nr = r1 - r >= NR ? NR : 1;

		for (int i0 = 0; i0 < m; i0 += MR) {
			int mr = m - i0 < MR ? m - i0 : MR;
			float out[NR][MR];

			tile_c(g, r, i0, nr, mr, out);
			tile_store(g, r, i0, nr, mr, out);
		}
		r += nr;
	}
}

/* ---- dispatch ---- */

static struct sm_cpu_features feat;
static pthread_once_t feat_once = PTHREAD_ONCE_INIT;

static void feat_init(void)
{
	sm_cpu_features_get(&feat);
}

enum sm_qkern sm_qkern_active(void)
{
	enum sm_isa isa = sm_isa_active();
	int vnni = sm_isa_vnni();

	pthread_once(&feat_once, feat_init);
	if (isa >= SM_ISA_AVX512 && vnni && feat.avx512_vnni)
		return SM_QKERN_AVX512_VNNI;
	if (isa >= SM_ISA_AVX2) {
		if (vnni && feat.avx_vnni)
			return SM_QKERN_AVX2_VNNI;
		if (vnni && feat.avx512_vnni && feat.avx512vl && feat.avx512f)
			return SM_QKERN_AVX2_VNNI_EVEX;
		return SM_QKERN_AVX2;
	}
	return SM_QKERN_GENERIC;
}

const char *sm_qkern_name(enum sm_qkern k)
{
	switch (k) {
	case SM_QKERN_AVX2: return "avx2";
	case SM_QKERN_AVX2_VNNI: return "avx2-vnni";
	case SM_QKERN_AVX2_VNNI_EVEX: return "avx2-vnni-evex";
	case SM_QKERN_AVX512_VNNI: return "avx512-vnni";
	default: return "generic";
	}
}

#define STR_(x) #x
#define STR(x) STR_(x)

const char *sm_qgemm_kernels_name(void)
{
	/* AMX runs only on the avx512 path, whose kernel is avx512-vnni
	 * wherever AMX exists */
	if (sm_qamx_ready())
		return "avx512-vnni, amx-bf16 from " STR(SM_QAMX_MIN_ROWS) " rows";
	return sm_qkern_name(sm_qkern_active());
}

void sm_qgemm_rows(const struct sm_gemv *g, int r0, int r1)
{
	if (sm_qamx_product(g)) {
		sm_qamx_rows(g, r0, r1);
		return;
	}
	switch (sm_qkern_active()) {
#if HAVE_X86
	case SM_QKERN_AVX512_VNNI:
		if (!panel_rows(g, r0, r1))
			rows_avx512(g, r0, r1);
		return;
	case SM_QKERN_AVX2_VNNI:
		if (!panel_vex_rows(g, r0, r1))
			rows_vex(g, r0, r1);
		return;
	case SM_QKERN_AVX2_VNNI_EVEX:
		if (!panel_evex_rows(g, r0, r1))
			rows_evex(g, r0, r1);
		return;
	case SM_QKERN_AVX2: rows_avx2(g, r0, r1); return;
#endif
	default: rows_c(g, r0, r1); return;
	}
}
