// SPDX-License-Identifier: MIT
/*
 * Fast CPU attention; see cpu_attention.h.
 *
 * Work is cut into tasks. A task is a tile of up to CA_ROWS query rows
 * (a row: one query position and one head) against one range of keys.
 * Prefill: a block of positions times the heads of one kv head, so that
 * every key row read serves all the tile's rows. Decode (m * n_heads <=
 * CA_ROWS): every head, so that the task reads whole cache rows (all kv
 * heads) in order. The task walks its keys in blocks of CA_BK: the scores
 * of the block for all its rows, a running max and sum per row (online
 * softmax: when the max grows, the sum and the accumulated output shrink
 * by e^(old-new)), then P*V into per-row accumulators. Key blocks outside
 * a row's causal / sliding-window range are skipped, so are the keys of a
 * block no row of a quad (below) attends. When the tiles alone are too
 * few to keep the threads busy (decode, short prefill chunks), the key
 * range of each tile is split too; each split leaves its max, sum and
 * unnormalised output, and a second pass combines them per row.
 *
 * Memory: nothing allocated. A task's tile lives on its thread's stack
 * (about 45 KB), the partial sums of split keys on the caller's (a frame
 * sized to the call, at most CA_PART_FLOATS floats = 256 KB; 133 KB for
 * 16 heads x 128 split 16 ways).
 *
 * Build: this file needs -fopenmp (the parallel regions and the simd
 * loops), -ffp-contract=fast (FMA) and -fno-trapping-math (selects that
 * vectorise without AVX-512 masks): see libruntime/build.mk.
 *
 * ISA: the kernels (task_body, combine_body and what they inline) are
 * written once, always_inline, and instantiated in functions with
 * target("avx512...") and target("avx2,fma") attributes besides the
 * generic one, so each is vectorised for its ISA; the parallel regions
 * stay in the generic code and call them through a pointer.
 */
#include "cpu/cpu_attention.h"
#include "cpu/cpu_isa.h"
#include "util/omp_team.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CA_BK 64		/* keys per block of a task */
#define CA_ROWS 32		/* query rows per tile */
#define CA_PART_FLOATS 65536	/* partial sums of split keys, on the caller's stack */
#define CA_MIN_SPLIT_KEYS 64	/* keys of a split at least */
#define CA_MIN_THREAD_WORK (1u << 18)	/* multiply-adds a thread takes at least */
#define CA_LMAX 16		/* floats in the widest vector (>= 4) */

#define AI static inline __attribute__((always_inline))

#if defined(__x86_64__) || defined(__i386__)
#define CA_X86 1
#define TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,prefer-vector-width=512")))
#define TARGET_AVX2 __attribute__((target("avx2,fma")))
#endif

/* One call, as the tasks see it. */
struct ca_call {
	const float *q;
	int q_stride, m, pos0, n_heads, n_kv, hd, window, kv_dim;
	float scale;
	const float *k, *v;
	/* KV blocks: position j is cache row (tab[j >> shift] << shift) |
	 * (j & mask); contiguous caches use one block of 2^31 rows */
	const int32_t *tab;
	int shift;
	uint32_t mask;
	float *out;
	int group;		/* heads per kv head */
	int hc, nhc;		/* heads per tile, head chunks */
	int qb, nqb;		/* query positions per tile, query blocks */
	int nsplit;		/* key splits per tile (1: none) */
	int rows;		/* m * n_heads */
	float *part_o;		/* [nsplit][rows][hd] */
	float *part_m, *part_l;	/* [nsplit][rows] */
};

/* The cache row of key position j. */
AI size_t kv_row(const struct ca_call *c, int j)
{
	return ((size_t)c->tab[j >> c->shift] << c->shift) | ((uint32_t)j & c->mask);
}

/* --- exp ------------------------------------------------------------------ */

/*
 * e^x: x = n ln2 + r, n = round(x log2 e) by the 1.5*2^23 trick (the
 * integer lands in the low mantissa bits of t), r in two steps (Cody-Waite:
 * ln2 = C1 + C2, C1 exact in few bits), e^r = 1 + r + r^2 P(r) with Cephes'
 * degree-5 P, times 2^n built in the exponent field. Branch-free so that it
 * vectorises inside simd loops. Accuracy: see cpu_attention.h.
 */
AI float ca_expf(float x)
{
	float xc = x < -87.0f ? -87.0f : x;

	xc = xc > 88.0f ? 88.0f : xc;
	float t = xc * 1.44269504088896341f + 12582912.0f;
	float n = t - 12582912.0f;
	int32_t ti;

	memcpy(&ti, &t, sizeof(ti));
	float r = xc - n * 0.693359375f;

	r = r - n * -2.12194440e-4f;
	float p = 1.9875691500e-4f;

	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	float y = p * (r * r) + r + 1.0f;
	/* n in [-126, 127]: 2^n is a normal float */
	uint32_t eb = (uint32_t)(ti - 0x4B400000 + 127) << 23;
	float s;

	memcpy(&s, &eb, sizeof(s));
	y = y * s;
	return x < -87.0f ? 0.0f : y;
}

AI void expf_body(const float *x, float *y, int n)
{
#pragma omp simd
	for (int i = 0; i < n; i++)
		y[i] = ca_expf(x[i]);
}

/* --- kernels ---------------------------------------------------------------- */

/*
 * The kernels work on quads: up to four query rows on one kv head (a
 * quad short of four is padded with a dummy row whose results go nowhere).
 * L is the vector width in floats of the instance (a constant once
 * inlined); sums run in arrays of L lanes, which GCC keeps in vector
 * registers when a loop covers exactly L.
 */
struct quad {
	const float *q[4];	/* query rows */
	float *s[4];		/* their score / probability rows (S) */
	float *o[4];		/* their output accumulators */
	size_t kvo;		/* the kv head's offset in a cache row */
	int lo, hi;		/* keys of the quad's rows in the current block */
};

#define LANES4(X) X(0) X(1) X(2) X(3)

/*
 * s[r][j0], s[r][j1] = q_r . k_j for the quad's 4 rows and 2 keys: 8 sums,
 * 6 loads per 8 FMAs, then a tree over the lanes. (An omp simd reduction
 * would do, but GCC 12 ends those with a scalar loop over the lanes, a
 * chain of 16 dependent adds per sum; plain f32 reductions do not
 * vectorise without -fassociative-math, which would also undo ca_expf's
 * range reduction.)
 */
AI void dot4x2(const struct quad *qd, const float *restrict k0,
	       const float *restrict k1, int j0, int j1, int hd, const int L)
{
	const float *restrict q0 = qd->q[0], *restrict q1 = qd->q[1];
	const float *restrict q2 = qd->q[2], *restrict q3 = qd->q[3];
	float a0[CA_LMAX], a1[CA_LMAX], a2[CA_LMAX], a3[CA_LMAX];
	float b0[CA_LMAX], b1[CA_LMAX], b2[CA_LMAX], b3[CA_LMAX];
	int hv = hd / L * L;

	for (int l = 0; l < L; l++)
		a0[l] = a1[l] = a2[l] = a3[l] = b0[l] = b1[l] = b2[l] = b3[l] = 0.0f;
	for (int i = 0; i < hv; i += L) {
#pragma omp simd
		for (int l = 0; l < L; l++) {
			float x = k0[i + l], y = k1[i + l];

			a0[l] += q0[i + l] * x;
			a1[l] += q1[i + l] * x;
			a2[l] += q2[i + l] * x;
			a3[l] += q3[i + l] * x;
			b0[l] += q0[i + l] * y;
			b1[l] += q1[i + l] * y;
			b2[l] += q2[i + l] * y;
			b3[l] += q3[i + l] * y;
		}
	}
	for (int i = hv; i < hd; i++) {
		a0[0] += q0[i] * k0[i];
		a1[0] += q1[i] * k0[i];
		a2[0] += q2[i] * k0[i];
		a3[0] += q3[i] * k0[i];
		b0[0] += q0[i] * k1[i];
		b1[0] += q1[i] * k1[i];
		b2[0] += q2[i] * k1[i];
		b3[0] += q3[i] * k1[i];
	}
#define HALVE(W) \
	for (int l = 0; l < (W); l++) { \
		a0[l] += a0[l + (W)]; a1[l] += a1[l + (W)]; \
		a2[l] += a2[l + (W)]; a3[l] += a3[l + (W)]; \
		b0[l] += b0[l + (W)]; b1[l] += b1[l + (W)]; \
		b2[l] += b2[l + (W)]; b3[l] += b3[l + (W)]; \
	}
	if (L >= 16) {
#pragma omp simd
		HALVE(8)
	}
	if (L >= 8) {
#pragma omp simd
		HALVE(4)
	}
#undef HALVE
#define SUM4(v) (((v)[0] + (v)[2]) + ((v)[1] + (v)[3]))
	qd->s[0][j0] = SUM4(a0);
	qd->s[1][j0] = SUM4(a1);
	qd->s[2][j0] = SUM4(a2);
	qd->s[3][j0] = SUM4(a3);
	qd->s[0][j1] = SUM4(b0);
	qd->s[1][j1] = SUM4(b1);
	qd->s[2][j1] = SUM4(b2);
	qd->s[3][j1] = SUM4(b3);
#undef SUM4
}

/*
 * o[r][d0 .. d0+W) += sum over keys j in [lo, hi] of p[r][j - kb] v_j[d],
 * the quad's 4 rows, W = L or 2L: the accumulators stay in registers over
 * the keys (4 or 8 independent FMA chains), each v load serves 4 FMAs.
 */
AI void pv4_chunk(const struct quad *qd, const struct ca_call *c, size_t kv_dim,
		  int kb, int d0, const int W, const int L)
{
	float a0[CA_LMAX], a1[CA_LMAX], a2[CA_LMAX], a3[CA_LMAX];
	float b0[CA_LMAX], b1[CA_LMAX], b2[CA_LMAX], b3[CA_LMAX];
	float *restrict o0 = qd->o[0] + d0, *restrict o1 = qd->o[1] + d0;
	float *restrict o2 = qd->o[2] + d0, *restrict o3 = qd->o[3] + d0;
	const float *p0 = qd->s[0], *p1 = qd->s[1], *p2 = qd->s[2], *p3 = qd->s[3];

	(void)b0, (void)b1, (void)b2, (void)b3;
#pragma omp simd
	for (int l = 0; l < L; l++) {
		a0[l] = o0[l];
		a1[l] = o1[l];
		a2[l] = o2[l];
		a3[l] = o3[l];
	}
	if (W > L) {
#pragma omp simd
		for (int l = 0; l < L; l++) {
			b0[l] = o0[L + l];
			b1[l] = o1[L + l];
			b2[l] = o2[L + l];
			b3[l] = o3[L + l];
		}
	}
	for (int j = qd->lo; j <= qd->hi; j++) {
		const float *restrict v = c->v + kv_row(c, j) * kv_dim + qd->kvo + d0;
		float x0 = p0[j - kb], x1 = p1[j - kb], x2 = p2[j - kb], x3 = p3[j - kb];

#pragma omp simd
		for (int l = 0; l < L; l++) {
			a0[l] += x0 * v[l];
			a1[l] += x1 * v[l];
			a2[l] += x2 * v[l];
			a3[l] += x3 * v[l];
		}
		if (W > L) {
#pragma omp simd
			for (int l = 0; l < L; l++) {
				b0[l] += x0 * v[L + l];
				b1[l] += x1 * v[L + l];
				b2[l] += x2 * v[L + l];
				b3[l] += x3 * v[L + l];
			}
		}
	}
#pragma omp simd
	for (int l = 0; l < L; l++) {
		o0[l] = a0[l];
		o1[l] = a1[l];
		o2[l] = a2[l];
		o3[l] = a3[l];
	}
	if (W > L) {
#pragma omp simd
		for (int l = 0; l < L; l++) {
			o0[L + l] = b0[l];
			o1[L + l] = b1[l];
			o2[L + l] = b2[l];
			o3[L + l] = b3[l];
		}
	}
}

AI void pv4(const struct quad *qd, const struct ca_call *c, size_t kv_dim, int kb,
	    int hd, const int L)
{
	int d = 0;

	for (; d + 2 * L <= hd; d += 2 * L)
		pv4_chunk(qd, c, kv_dim, kb, d, 2 * L, L);
	for (; d + L <= hd; d += L)
		pv4_chunk(qd, c, kv_dim, kb, d, L, L);
	for (; d < hd; d++)
		for (int j = qd->lo; j <= qd->hi; j++) {
			float x = c->v[kv_row(c, j) * kv_dim + qd->kvo + d];

			for (int r = 0; r < 4; r++)
				qd->o[r][d] += qd->s[r][j - kb] * x;
		}
}

AI void scale_row(float *restrict o, float f, int hd)
{
#pragma omp simd
	for (int i = 0; i < hd; i++)
		o[i] *= f;
}

/* First key query position `pos` attends. */
AI int first_key(const struct ca_call *c, int pos)
{
	return c->window > 0 && pos - c->window + 1 > 0 ? pos - c->window + 1 : 0;
}

/*
 * One task: tile (query block, head chunk) x key split. See the top of
 * the file.
 */
AI void task_body(const struct ca_call *c, int t, const int L)
{
	/* rows, then a dummy row (padding of quads: scores land there, its
	 * output is never read) and a row of zero probabilities */
	enum { DUMMY = CA_ROWS, ZERO = CA_ROWS + 1 };
	float O[(CA_ROWS + 1) * CA_MAX_HEAD_DIM];
	float S[CA_ROWS + 2][CA_BK];
	float mx[CA_ROWS], l[CA_ROWS];
	int ra[CA_ROWS], rb[CA_ROWS];	/* keys of each row */
	int ua[CA_ROWS], ub[CA_ROWS];	/* keys of the row's quad in this block */
	const float *qp[CA_ROWS];
	size_t kvo[CA_ROWS];		/* the row's kv head in a cache row */
	struct quad quads[CA_ROWS];
	int qrow[CA_ROWS][4], nq = 0;	/* rows of each quad, -1: padding */
	int hd = c->hd, kv_dim = c->kv_dim;

	int split = t % c->nsplit;
	int rest = t / c->nsplit;
	int hci = rest % c->nhc;
	int qbi = c->nqb - 1 - rest / c->nhc;	/* the longest tiles first */

	int r0 = qbi * c->qb, r1 = r0 + c->qb < c->m ? r0 + c->qb : c->m;
	int h0 = hci * c->hc, h1 = h0 + c->hc < c->n_heads ? h0 + c->hc : c->n_heads;
	int nh = h1 - h0, nr = (r1 - r0) * nh;

	for (int i = 0; i < nr; i++) {
		int r = r0 + i / nh, h = h0 + i % nh;

		qp[i] = c->q + (size_t)r * c->q_stride + (size_t)h * hd;
		kvo[i] = (size_t)(h / c->group) * hd;
		rb[i] = c->pos0 + r;
		ra[i] = first_key(c, rb[i]);
		mx[i] = -INFINITY;
		l[i] = 0.0f;
	}
	memset(O, 0, sizeof(float) * (size_t)nr * hd);
	memset(O + (size_t)DUMMY * hd, 0, sizeof(float) * hd);
	memset(S[ZERO], 0, sizeof(S[ZERO]));
	/* quads: consecutive rows on one kv head */
	for (int i = 0; i < nr; nq++) {
		struct quad *qd = &quads[nq];

		qd->kvo = kvo[i];
		for (int u = 0; u < 4; u++) {
			bool real = i < nr && kvo[i] == qd->kvo;

			qrow[nq][u] = real ? i : -1;
			qd->q[u] = qp[real ? i : qrow[nq][0]];
			qd->s[u] = real ? S[i] : S[DUMMY];
			qd->o[u] = O + (size_t)(real ? i : DUMMY) * hd;
			i += real;
		}
	}

	/* this split's keys of the tile */
	int tlo = ra[0], thi = rb[nr - 1];
	int len = thi - tlo + 1;
	int per = ((len + c->nsplit - 1) / c->nsplit + CA_BK - 1) / CA_BK * CA_BK;
	int ts = tlo + split * per;
	int te = ts + per - 1 < thi ? ts + per - 1 : thi;

	for (int kb = ts; kb <= te; kb += CA_BK) {
		int ke = kb + CA_BK - 1 < te ? kb + CA_BK - 1 : te;
		/* keys of each quad in this block: the union of its rows' */
		int blo = ke + 1, bhi = kb - 1;

		for (int qi = 0; qi < nq; qi++) {
			int lo = ke + 1, hi = kb - 1;

			for (int u = 0; u < 4 && qrow[qi][u] >= 0; u++) {
				int i = qrow[qi][u];
				int a = ra[i] > kb ? ra[i] : kb, b = rb[i] < ke ? rb[i] : ke;

				if (a > b)
					continue;
				lo = a < lo ? a : lo;
				hi = b > hi ? b : hi;
			}
			quads[qi].lo = lo;
			quads[qi].hi = hi;
			for (int u = 0; u < 4 && qrow[qi][u] >= 0; u++) {
				ua[qrow[qi][u]] = lo;
				ub[qrow[qi][u]] = hi;
			}
			blo = lo < blo ? lo : blo;
			bhi = hi > bhi ? hi : bhi;
		}
		/*
		 * Scores, a quad and two keys at a time; keys outer, so that
		 * the cache is read in order, whole rows (all kv heads) when the
		 * tile has every head (decode).
		 */
		for (int j = blo; j <= bhi; j += 2) {
			for (int qi = 0; qi < nq; qi++) {
				const struct quad *qd = &quads[qi];
				int ja = j > qd->lo ? j : qd->lo;
				int jb = j + 1 < qd->hi ? j + 1 : qd->hi;
				const float *kbase = c->k + qd->kvo;

				if (ja > jb)
					continue;
				dot4x2(qd, kbase + kv_row(c, ja) * kv_dim, kbase + kv_row(c, jb) * kv_dim,
				       ja - kb, jb - kb, hd, L);
			}
		}
		/* online softmax per row */
		for (int i = 0; i < nr; i++) {
			int lo = ua[i], hi = ub[i];
			int a = ra[i] > kb ? ra[i] : kb, b = rb[i] < ke ? rb[i] : ke;
			float *s = S[i];

			/* offsets in the block from here on */
			lo -= kb;
			hi -= kb;
			a -= kb;
			b -= kb;
			if (a > b) {	/* no key of this row here: p = 0 */
				for (int j = lo; j <= hi; j++)
					s[j] = 0.0f;
				continue;
			}
			float bm = -INFINITY, scale = c->scale;

#pragma omp simd reduction(max:bm)
			for (int j = lo; j <= hi; j++) {
				float x = j >= a && j <= b ? s[j] * scale : -INFINITY;

				s[j] = x;
				bm = x > bm ? x : bm;
			}
			float mnew = bm > mx[i] ? bm : mx[i];
			float alpha = ca_expf(mx[i] - mnew);	/* 0 from -inf */
			float sum = 0.0f;

#pragma omp simd reduction(+:sum)
			for (int j = lo; j <= hi; j++) {
				float p = ca_expf(s[j] - mnew);

				s[j] = p;
				sum += p;
			}
			if (alpha != 1.0f) {
				scale_row(O + (size_t)i * hd, alpha, hd);
				l[i] *= alpha;
			}
			l[i] += sum;
			mx[i] = mnew;
		}
		/* O += P V per quad; the padding's probabilities are zero */
		for (int qi = 0; qi < nq; qi++) {
			struct quad pq = quads[qi];

			if (pq.lo > pq.hi)
				continue;
			for (int u = 0; u < 4; u++)
				if (qrow[qi][u] < 0)
					pq.s[u] = S[ZERO];
			pv4(&pq, c, kv_dim, kb, hd, L);
		}
	}

	for (int i = 0; i < nr; i++) {
		int r = r0 + i / nh, h = h0 + i % nh;
		size_t row = (size_t)r * c->n_heads + h;

		if (c->nsplit == 1) {
			/* every row attends at least itself: l >= 1 */
			float *o = c->out + row * hd;
			float inv = 1.0f / l[i];
			const float *src = O + (size_t)i * hd;

#pragma omp simd
			for (int d = 0; d < hd; d++)
				o[d] = src[d] * inv;
		} else {
			size_t at = (size_t)split * c->rows + row;

			memcpy(c->part_o + at * hd, O + (size_t)i * hd, sizeof(float) * hd);
			c->part_m[at] = mx[i];
			c->part_l[at] = l[i];
		}
	}
}

/* out row `row` from the splits' partial sums. */
AI void combine_body(const struct ca_call *c, int row)
{
	int hd = c->hd;
	float M = -INFINITY, L = 0.0f;
	float *o = c->out + (size_t)row * hd;

	for (int s = 0; s < c->nsplit; s++) {
		float ms = c->part_m[(size_t)s * c->rows + row];

		M = ms > M ? ms : M;
	}
	memset(o, 0, sizeof(float) * hd);
	for (int s = 0; s < c->nsplit; s++) {
		size_t at = (size_t)s * c->rows + row;

		if (c->part_l[at] == 0.0f)
			continue;	/* no key of this row in the split */
		float w = ca_expf(c->part_m[at] - M);
		const float *src = c->part_o + at * hd;

		L += w * c->part_l[at];
#pragma omp simd
		for (int d = 0; d < hd; d++)
			o[d] += w * src[d];
	}
	scale_row(o, 1.0f / L, hd);
}

/* --- instances per ISA --------------------------------------------------------- */

struct ca_kernels {
	void (*task)(const struct ca_call *c, int t);
	void (*combine)(const struct ca_call *c, int row);
	void (*expf_array)(const float *x, float *y, int n);
};

static void task_generic(const struct ca_call *c, int t) { task_body(c, t, 4); }
static void combine_generic(const struct ca_call *c, int r) { combine_body(c, r); }
static void expf_generic(const float *x, float *y, int n) { expf_body(x, y, n); }

#ifdef CA_X86
TARGET_AVX2 static void task_avx2(const struct ca_call *c, int t) { task_body(c, t, 8); }
TARGET_AVX2 static void combine_avx2(const struct ca_call *c, int r) { combine_body(c, r); }
TARGET_AVX2 static void expf_avx2(const float *x, float *y, int n) { expf_body(x, y, n); }
TARGET_AVX512 static void task_avx512(const struct ca_call *c, int t) { task_body(c, t, 16); }
TARGET_AVX512 static void combine_avx512(const struct ca_call *c, int r) { combine_body(c, r); }
TARGET_AVX512 static void expf_avx512(const float *x, float *y, int n) { expf_body(x, y, n); }
#endif

static const struct ca_kernels kernels[] = {
	[CA_ISA_GENERIC] = { task_generic, combine_generic, expf_generic },
#ifdef CA_X86
	[CA_ISA_AVX2] = { task_avx2, combine_avx2, expf_avx2 },
	[CA_ISA_AVX512] = { task_avx512, combine_avx512, expf_avx512 },
#else
	[CA_ISA_AVX2] = { task_generic, combine_generic, expf_generic },
	[CA_ISA_AVX512] = { task_generic, combine_generic, expf_generic },
#endif
};

/* --- ISA choice ------------------------------------------------------------------ */

static const char *const isa_names[] = {
	[CA_ISA_GENERIC] = "generic",
	[CA_ISA_AVX2] = "avx2",
	[CA_ISA_AVX512] = "avx512",
};

static atomic_int isa_sel = -1;
static int isa_default;
static pthread_once_t isa_once = PTHREAD_ONCE_INIT;

int ca_isa_supported(enum ca_isa isa)
{
	switch (isa) {
	case CA_ISA_GENERIC:
		return 1;
#ifdef CA_X86
	case CA_ISA_AVX2:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	case CA_ISA_AVX512:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
		       __builtin_cpu_supports("fma");
#endif
	default:
		return 0;
	}
}

static int isa_parse(const char *name)
{
	for (int i = 0; i < (int)(sizeof(isa_names) / sizeof(isa_names[0])); i++)
		if (!strcasecmp(name, isa_names[i]))
			return i;
	return -1;
}

static void isa_init(void)
{
	int best = CA_ISA_GENERIC;

	for (int i = CA_ISA_AVX512; i > CA_ISA_GENERIC; i--)
		if (ca_isa_supported(i)) {
			best = i;
			break;
		}
	/* the one ISA choice of our kernels (SPLITMOE_ISA: cpu_isa.h) */
	int want = sm_isa_active() == SM_ISA_AVX512 ? CA_ISA_AVX512 :
		   sm_isa_active() == SM_ISA_AVX2 ? CA_ISA_AVX2 : CA_ISA_GENERIC;

	isa_default = want < best ? want : best;
	atomic_store(&isa_sel, isa_default);
}

enum ca_isa ca_isa_current(void)
{
	int v = atomic_load_explicit(&isa_sel, memory_order_relaxed);

	if (v < 0) {
		pthread_once(&isa_once, isa_init);
		v = atomic_load(&isa_sel);
	}
	return (enum ca_isa)v;
}

const char *ca_isa_name(enum ca_isa isa)
{
	return isa >= CA_ISA_GENERIC && isa <= CA_ISA_AVX512 ? isa_names[isa] : "?";
}

int ca_force_isa(const char *name)
{
	pthread_once(&isa_once, isa_init);
	if (!name) {
		atomic_store(&isa_sel, isa_default);
		return 0;
	}
	int want = isa_parse(name);

	if (want < 0)
		return -EINVAL;
	if (!ca_isa_supported(want))
		return -ENOTSUP;
	atomic_store(&isa_sel, want);
	return 0;
}

void ca_expf_array(const float *x, float *y, int n)
{
	kernels[ca_isa_current()].expf_array(x, y, n);
}

/* --- the call ---------------------------------------------------------------------- */

/* head_dim too large for the tiles: online softmax straight into out, serial. */
static void attention_scalar(const struct ca_call *c)
{
	int hd = c->hd;

	for (int r = 0; r < c->m; r++) {
		int i = c->pos0 + r;

		for (int h = 0; h < c->n_heads; h++) {
			const float *qh = c->q + (size_t)r * c->q_stride + (size_t)h * hd;
			size_t kvo = (size_t)(h / c->group) * hd;
			float *o = c->out + ((size_t)r * c->n_heads + h) * hd;
			float mxv = -INFINITY, sum = 0.0f;

			memset(o, 0, sizeof(float) * hd);
			for (int j = first_key(c, i); j <= i; j++) {
				const float *kj = c->k + kv_row(c, j) * c->kv_dim + kvo;
				const float *vj = c->v + kv_row(c, j) * c->kv_dim + kvo;
				float dot = 0.0f;

				for (int d = 0; d < hd; d++)
					dot += qh[d] * kj[d];
				dot *= c->scale;
				if (dot > mxv) {
					float a = expf(mxv - dot);

					for (int d = 0; d < hd; d++)
						o[d] *= a;
					sum *= a;
					mxv = dot;
				}
				float p = expf(dot - mxv);

				sum += p;
				for (int d = 0; d < hd; d++)
					o[d] += p * vj[d];
			}
			for (int d = 0; d < hd; d++)
				o[d] /= sum;
		}
	}
}

/*
 * Key splits per tile: none where the tiles alone give every thread two
 * or more; else the count, up to what the keys (CA_MIN_SPLIT_KEYS each)
 * and CA_PART_FLOATS allow, whose tasks fill the last round of the
 * threads best (the fewest splits among equals): decode's equal splits
 * come out as a multiple of the thread count where one fits.
 */
static int choose_splits(const struct ca_call *c, int nthreads)
{
	int base = c->nhc * c->nqb;

	if (nthreads <= 1 || base >= 2 * nthreads)
		return 1;
	/* keys of the longest tile */
	int last = c->pos0 + c->m - 1;
	int keys = last - first_key(c, c->pos0 + (c->nqb - 1) * c->qb) + 1;
	int max_keys = keys / CA_MIN_SPLIT_KEYS;
	int max_buf = CA_PART_FLOATS / (c->rows * (c->hd + 2));
	int cap = max_keys < max_buf ? max_keys : max_buf;
	int best = 1;
	double best_fill = 0;

	if (cap > 4 * nthreads)
		cap = 4 * nthreads;
	for (int s = 1; s <= cap; s++) {
		int tasks = base * s;
		int rounds = (tasks + nthreads - 1) / nthreads;
		double fill = (double)tasks / ((double)rounds * nthreads);

		if (fill > best_fill + 1e-9) {
			best_fill = fill;
			best = s;
		}
	}
	return best;
}

/* Multiply-adds of a call, about: q.k and p.v of every row over the keys
 * its last query sees. */
static uint64_t call_work(const struct ca_call *c)
{
	int last = c->pos0 + c->m - 1;
	uint64_t keys = (uint64_t)(last - first_key(c, last) + 1);

	return 2 * (uint64_t)c->rows * keys * (uint64_t)c->hd;
}

static _Atomic uint64_t min_thread_work = CA_MIN_THREAD_WORK;

uint64_t ca_set_min_thread_work(uint64_t work)
{
	return atomic_exchange_explicit(&min_thread_work, work, memory_order_relaxed);
}

/* Threads worth a fork for this much work: each takes at least
 * min_thread_work (a few microseconds of work against a fork and join,
 * or on a loaded machine waking a descheduled thread). */
static int threads_for_work(uint64_t work, int nthreads)
{
	uint64_t least = atomic_load_explicit(&min_thread_work, memory_order_relaxed);
	uint64_t t = least ? work / least : (uint64_t)nthreads;

	/* enough for two: the whole team (omp_team.h) */
	return sm_team_threads(t, nthreads);
}

static void run_tasks(struct ca_call *c, int nthreads)
{
	const struct ca_kernels *kern = &kernels[ca_isa_current()];
	int ntasks = c->nhc * c->nqb * c->nsplit;

	/* fewer tasks than threads: the rest idle (omp_team.h) */
	nthreads = sm_team_threads(ntasks, nthreads);
	if (nthreads <= 1) {
		for (int t = 0; t < ntasks; t++)
			kern->task(c, t);
		for (int r = 0; c->nsplit > 1 && r < c->rows; r++)
			kern->combine(c, r);
		return;
	}
#pragma omp parallel num_threads(nthreads)
	{
#pragma omp for schedule(dynamic, 1)
		for (int t = 0; t < ntasks; t++)
			kern->task(c, t);
		if (c->nsplit > 1) {
#pragma omp for schedule(static)
			for (int r = 0; r < c->rows; r++)
				kern->combine(c, r);
		}
	}
}

/* The partial sums of split keys on this frame, sized to the call. */
static __attribute__((noinline)) void run_split(struct ca_call *c, int nthreads)
{
	size_t n = (size_t)c->nsplit * c->rows * (c->hd + 2);
	float part[n];

	c->part_o = part;
	c->part_m = part + (size_t)c->nsplit * c->rows * c->hd;
	c->part_l = c->part_m + (size_t)c->nsplit * c->rows;
	run_tasks(c, nthreads);
}

void ca_attention(const float *q, int q_stride, int m, int pos0,
		  int n_heads, int n_kv_heads, int head_dim, int window,
		  float scale, const float *k_cache, const float *v_cache,
		  float *out, int nthreads)
{
	ca_attention_blocks(q, q_stride, m, pos0, n_heads, n_kv_heads, head_dim, window,
			    scale, k_cache, v_cache, NULL, 0, out, nthreads);
}

/* A call's fields but the splits; the tiles for head_dim up to
 * CA_MAX_HEAD_DIM. */
static void plan_call(struct ca_call *c, const float *q, int q_stride, int m, int pos0,
		      int n_heads, int n_kv_heads, int head_dim, int window, float scale,
		      const float *k_cache, const float *v_cache, const int32_t *block_table,
		      int block_size, float *out)
{
	static const int32_t one_block[1] = { 0 };
	int shift = 31;

	*c = (struct ca_call){
		.q = q, .q_stride = q_stride, .m = m, .pos0 = pos0,
		.n_heads = n_heads, .n_kv = n_kv_heads, .hd = head_dim,
		.window = window > 0 ? window : 0, .kv_dim = n_kv_heads * head_dim,
		.scale = scale, .k = k_cache, .v = v_cache, .out = out,
		.group = n_heads / n_kv_heads, .rows = m * n_heads, .nsplit = 1,
	};
	if (block_table) {
		for (shift = 0; (1 << shift) < block_size; shift++)
			;
	}
	c->tab = block_table ? block_table : one_block;
	c->shift = shift;
	c->mask = shift >= 31 ? 0x7fffffffu : (1u << shift) - 1;
	if (head_dim > CA_MAX_HEAD_DIM)
		return;
	if (m * n_heads <= CA_ROWS) {
		/* decode: one tile of every head, so that it reads whole cache
		 * rows (all kv heads) in order; threads split the keys */
		c->hc = n_heads;
		c->qb = m;
	} else if (m == 1) {
		c->hc = c->group < CA_ROWS ? CA_ROWS / c->group * c->group : CA_ROWS;
		c->qb = 1;
	} else {
		/* prefill: the heads of a group (one kv head) times positions */
		c->hc = c->group < CA_ROWS ? c->group : CA_ROWS;
		c->qb = CA_ROWS / c->hc;
	}
	c->nhc = (n_heads + c->hc - 1) / c->hc;
	c->nqb = (m + c->qb - 1) / c->qb;
}

void ca_attention_blocks(const float *q, int q_stride, int m, int pos0,
			 int n_heads, int n_kv_heads, int head_dim, int window,
			 float scale, const float *k_cache, const float *v_cache,
			 const int32_t *block_table, int block_size,
			 float *out, int nthreads)
{
	struct ca_call c;

	if (m < 1 || n_heads < 1)
		return;
	plan_call(&c, q, q_stride, m, pos0, n_heads, n_kv_heads, head_dim, window, scale,
		  k_cache, v_cache, block_table, block_size, out);
	if (head_dim > CA_MAX_HEAD_DIM) {
		attention_scalar(&c);
		return;
	}
	nthreads = threads_for_work(call_work(&c), nthreads);
	c.nsplit = choose_splits(&c, nthreads);
	if (c.nsplit > 1)
		run_split(&c, nthreads);
	else
		run_tasks(&c, nthreads);
}

/* --- many sequences in one region ---------------------------------------------------- */

#define CA_BATCH_MAX 64		/* calls of one parallel region */

/* The call that task (or combine row) t belongs to: first[] ascending. */
static int call_of(const int *first, int n, int t)
{
	int lo = 0, hi = n - 1;

	while (lo < hi) {
		int mid = (lo + hi + 1) / 2;

		if (first[mid] <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* Up to CA_BATCH_MAX planned calls: their tasks, then the combines of
 * the split ones, in one parallel region. */
static void run_calls(struct ca_call *calls, int n, int nthreads)
{
	const struct ca_kernels *kern = &kernels[ca_isa_current()];
	int first[CA_BATCH_MAX + 1], rfirst[CA_BATCH_MAX + 1];

	first[0] = rfirst[0] = 0;
	for (int i = 0; i < n; i++) {
		struct ca_call *c = &calls[i];

		first[i + 1] = first[i] + c->nhc * c->nqb * c->nsplit;
		rfirst[i + 1] = rfirst[i] + (c->nsplit > 1 ? c->rows : 0);
	}
	int ntasks = first[n], nrows = rfirst[n];

	nthreads = sm_team_threads(ntasks, nthreads);	/* omp_team.h */
	if (nthreads <= 1) {
		for (int i = 0; i < n; i++)
			run_tasks(&calls[i], 1);
		return;
	}
#pragma omp parallel num_threads(nthreads)
	{
#pragma omp for schedule(dynamic, 1)
		for (int t = 0; t < ntasks; t++) {
			int i = call_of(first, n, t);

			kern->task(&calls[i], t - first[i]);
		}
		if (nrows) {
#pragma omp for schedule(static)
			for (int r = 0; r < nrows; r++) {
				/* unsplit calls have no rows here: the last
				 * call starting at or before r is split */
				int i = call_of(rfirst, n, r);

				kern->combine(&calls[i], r - rfirst[i]);
			}
		}
	}
}

/* The partial sums of the split calls on this frame. */
static __attribute__((noinline)) void run_calls_split(struct ca_call *calls, int n,
						      size_t floats, int nthreads)
{
	float part[floats];
	size_t at = 0;

	for (int i = 0; i < n; i++) {
		struct ca_call *c = &calls[i];
		size_t k = (size_t)c->nsplit * c->rows;

		if (c->nsplit == 1)
			continue;
		c->part_o = part + at;
		c->part_m = c->part_o + k * c->hd;
		c->part_l = c->part_m + k;
		at += k * (c->hd + 2);
	}
	run_calls(calls, n, nthreads);
}

void ca_attention_batch(const struct ca_item *items, int count, int q_stride,
			int n_heads, int n_kv_heads, int head_dim, int window, float scale,
			const float *k_cache, const float *v_cache, int block_size,
			int nthreads)
{
	struct ca_call calls[CA_BATCH_MAX];

	if (n_heads < 1)
		return;
	for (int b0 = 0; b0 < count; b0 += CA_BATCH_MAX) {
		int n = count - b0 < CA_BATCH_MAX ? count - b0 : CA_BATCH_MAX, nc = 0;
		int base = 0, nth;
		size_t floats = 0;
		uint64_t work = 0;

		for (int i = 0; i < n; i++) {
			const struct ca_item *it = &items[b0 + i];

			if (it->m < 1)
				continue;
			plan_call(&calls[nc], it->q, q_stride, it->m, it->pos0, n_heads, n_kv_heads,
				  head_dim, window, scale, k_cache, v_cache, it->block_table,
				  block_size, it->out);
			if (head_dim > CA_MAX_HEAD_DIM) {
				attention_scalar(&calls[nc]);
				continue;
			}
			base += calls[nc].nhc * calls[nc].nqb;
			work += call_work(&calls[nc]);
			nc++;
		}
		if (!nc)
			continue;
		nth = threads_for_work(work, nthreads);
		/* split keys only where the tiles of all the calls are too few
		 * for the threads: each call as if it had its share of them */
		for (int i = 0; base < 2 * nth && i < nc; i++) {
			struct ca_call *c = &calls[i];
			int share = (nth * c->nhc * c->nqb + base - 1) / base;

			c->nsplit = choose_splits(c, share);
			floats += c->nsplit > 1 ? (size_t)c->nsplit * c->rows * (c->hd + 2) : 0;
		}
		if (floats > CA_PART_FLOATS) {
			for (int i = 0; i < nc; i++)
				calls[i].nsplit = 1;
			floats = 0;
		}
		if (floats)
			run_calls_split(calls, nc, floats, nth);
		else
			run_calls(calls, nc, nth);
	}
}
