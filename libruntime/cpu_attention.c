// SPDX-License-Identifier: MIT
/*
 * Fast CPU attention; see cpu_attention.h.
 *
 * Work is cut into tasks. A task is a tile of up to CA_ROWS query rows
 * (a row: one query position and one head) that share a kv head, against
 * one range of keys: for prefill a block of positions times the heads of a
 * group, for decode the group's heads. The task walks its keys in blocks of
 * CA_BK: the scores of the block for all its rows (each key row read once
 * from cache for the tile), a running max and sum per row (online
 * softmax: when the max grows, the sum and the accumulated output shrink
 * by e^(old-new)), then P*V into per-row accumulators. Key blocks outside
 * a row's causal / sliding-window range are skipped. When the tiles alone
 * are too few to keep the threads busy (decode, short prefill chunks), the
 * key range of each tile is split too; each split leaves its max, sum and
 * unnormalised output, and a second pass combines them per row.
 *
 * Build: this file needs -fopenmp (the parallel regions and the simd
 * loops) and -ffp-contract=fast (FMA in the dot products): see
 * libruntime/build.mk.
 *
 * ISA: the kernels (task_body, combine_body and what they inline) are
 * written once, always_inline, and instantiated in functions with
 * target("avx512...") and target("avx2,fma") attributes besides the
 * generic one, so each is vectorised for its ISA; the parallel regions
 * stay in the generic code and call them through a pointer.
 */
#include "cpu_attention.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CA_BK 64		/* keys per block of a task */
#define CA_ROWS 32		/* query rows per tile */
#define CA_PART_FLOATS 32768	/* partial sums of split keys, on the caller's stack */
#define CA_MIN_SPLIT_KEYS 128	/* keys of a split at least */
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
	float *out;
	int group;		/* heads per kv head */
	int hc, nhc;		/* heads per tile, head chunks */
	int qb, nqb;		/* query positions per tile, query blocks */
	int nsplit;		/* key splits per tile (1: none) */
	int rows;		/* m * n_heads */
	float *part_o;		/* [nsplit][rows][hd] */
	float *part_m, *part_l;	/* [nsplit][rows] */
};

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
 * s[a][b] = q_a . k_b over hd (2 rows x 2 keys: each load serves two
 * FMAs). L is the vector width in floats of the instance (a constant once
 * inlined): the sums run in L lanes held in vector registers, then a tree
 * over the lanes. (An omp simd reduction would do, but GCC 12 ends those
 * with a scalar loop over the lanes, a chain of 16 dependent adds per sum;
 * plain reductions do not vectorise in f32 without -fassociative-math,
 * which would also undo ca_expf's range reduction.)
 */
AI void dot2x2(const float *restrict q0, const float *restrict q1,
	       const float *restrict k0, const float *restrict k1, int hd,
	       float *s00, float *s01, float *s10, float *s11, const int L)
{
	float a[CA_LMAX], b[CA_LMAX], c[CA_LMAX], d[CA_LMAX];
	int hv = hd / L * L;

	for (int l = 0; l < L; l++)
		a[l] = b[l] = c[l] = d[l] = 0.0f;
	for (int i = 0; i < hv; i += L) {
#pragma omp simd
		for (int l = 0; l < L; l++) {
			a[l] += q0[i + l] * k0[i + l];
			b[l] += q0[i + l] * k1[i + l];
			c[l] += q1[i + l] * k0[i + l];
			d[l] += q1[i + l] * k1[i + l];
		}
	}
	for (int i = hv; i < hd; i++) {
		a[0] += q0[i] * k0[i];
		b[0] += q0[i] * k1[i];
		c[0] += q1[i] * k0[i];
		d[0] += q1[i] * k1[i];
	}
	if (L >= 16) {
#pragma omp simd
		for (int l = 0; l < 8; l++) {
			a[l] += a[l + 8];
			b[l] += b[l + 8];
			c[l] += c[l + 8];
			d[l] += d[l + 8];
		}
	}
	if (L >= 8) {
#pragma omp simd
		for (int l = 0; l < 4; l++) {
			a[l] += a[l + 4];
			b[l] += b[l + 4];
			c[l] += c[l + 4];
			d[l] += d[l + 4];
		}
	}
	*s00 = (a[0] + a[2]) + (a[1] + a[3]);
	*s01 = (b[0] + b[2]) + (b[1] + b[3]);
	*s10 = (c[0] + c[2]) + (c[1] + c[3]);
	*s11 = (d[0] + d[2]) + (d[1] + d[3]);
}

/* o0 += P0 . V, o1 += P1 . V over 4 keys. */
AI void pv2x4(float *restrict o0, float *restrict o1, const float *p0, const float *p1,
	      const float *restrict v0, const float *restrict v1,
	      const float *restrict v2, const float *restrict v3, int hd)
{
	float a0 = p0[0], a1 = p0[1], a2 = p0[2], a3 = p0[3];
	float b0 = p1[0], b1 = p1[1], b2 = p1[2], b3 = p1[3];

#pragma omp simd
	for (int i = 0; i < hd; i++) {
		float x0 = v0[i], x1 = v1[i], x2 = v2[i], x3 = v3[i];

		o0[i] = o0[i] + a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3;
		o1[i] = o1[i] + b0 * x0 + b1 * x1 + b2 * x2 + b3 * x3;
	}
}

AI void pv1x4(float *restrict o0, const float *p0,
	      const float *restrict v0, const float *restrict v1,
	      const float *restrict v2, const float *restrict v3, int hd)
{
	float a0 = p0[0], a1 = p0[1], a2 = p0[2], a3 = p0[3];

#pragma omp simd
	for (int i = 0; i < hd; i++)
		o0[i] = o0[i] + a0 * v0[i] + a1 * v1[i] + a2 * v2[i] + a3 * v3[i];
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
 * One task: tile (query block, kv head, head chunk) x key split. See the
 * top of the file.
 */
AI void task_body(const struct ca_call *c, int t, const int L)
{
	float O[CA_ROWS * CA_MAX_HEAD_DIM];
	float S[CA_ROWS][CA_BK];
	float mx[CA_ROWS], l[CA_ROWS];
	int ra[CA_ROWS], rb[CA_ROWS];	/* keys of each row */
	int ua[CA_ROWS], ub[CA_ROWS];	/* keys of the row's pair in this block */
	const float *qp[CA_ROWS];
	size_t kvo[CA_ROWS];		/* the row's kv head in a cache row */
	int pr0[CA_ROWS], pr1[CA_ROWS], np = 0;	/* pairs of rows on one kv head */
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
	for (int i = 0; i < nr; np++) {
		int i1 = i + 1 < nr && kvo[i + 1] == kvo[i] ? i + 1 : i;

		pr0[np] = i;
		pr1[np] = i1;
		i = i1 + 1;
	}

	/* this split's keys of the tile */
	int tlo = ra[0], thi = rb[nr - 1];
	int len = thi - tlo + 1;
	int per = ((len + c->nsplit - 1) / c->nsplit + CA_BK - 1) / CA_BK * CA_BK;
	int ts = tlo + split * per;
	int te = ts + per - 1 < thi ? ts + per - 1 : thi;

	for (int kb = ts; kb <= te; kb += CA_BK) {
		int ke = kb + CA_BK - 1 < te ? kb + CA_BK - 1 : te;

		/* keys of each pair of rows in this block */
		int blo = ke + 1, bhi = kb - 1;

		for (int pi = 0; pi < np; pi++) {
			int i = pr0[pi], i1 = pr1[pi];
			int a0 = ra[i] > kb ? ra[i] : kb, b0 = rb[i] < ke ? rb[i] : ke;
			int a1 = ra[i1] > kb ? ra[i1] : kb, b1 = rb[i1] < ke ? rb[i1] : ke;
			int lo, hi;

			if (a0 <= b0 && a1 <= b1) {
				lo = a0 < a1 ? a0 : a1;
				hi = b0 > b1 ? b0 : b1;
			} else if (a0 <= b0) {
				lo = a0;
				hi = b0;
			} else if (a1 <= b1) {
				lo = a1;
				hi = b1;
			} else {
				lo = 1;
				hi = 0;
			}
			ua[i] = ua[i1] = lo;
			ub[i] = ub[i1] = hi;
			blo = lo < blo ? lo : blo;
			bhi = hi > bhi ? hi : bhi;
		}
		/*
		 * Scores, two rows and two keys at a time; keys outer, so that
		 * the cache is read in order, whole rows (all kv heads) when the
		 * tile has every head (decode).
		 */
		for (int j = blo; j <= bhi; j += 2) {
			for (int pi = 0; pi < np; pi++) {
				int i = pr0[pi], i1 = pr1[pi];
				int ja = j > ua[i] ? j : ua[i];
				int jb = j + 1 < ub[i] ? j + 1 : ub[i];
				const float *kbase = c->k + kvo[i];

				if (ja > jb)
					continue;
				dot2x2(qp[i], qp[i1], kbase + (size_t)ja * kv_dim,
				       kbase + (size_t)jb * kv_dim, hd,
				       &S[i][ja - kb], &S[i][jb - kb],
				       &S[i1][ja - kb], &S[i1][jb - kb], L);
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
		/* O += P V, two rows and four keys at a time, keys outer */
		for (int j = blo; j <= bhi; j += 4) {
			for (int pi = 0; pi < np; pi++) {
				int i = pr0[pi], lo = ua[i], hi = ub[i];
				bool two = pr1[pi] != i;
				const float *vbase = c->v + kvo[i];
				const float *vp[4];
				float p0[4], p1[4];

				if (j + 3 < lo || j > hi)
					continue;
				for (int u = 0; u < 4; u++) {
					bool in = j + u >= lo && j + u <= hi;
					int jj = j + u < lo ? lo : j + u > hi ? hi : j + u;

					vp[u] = vbase + (size_t)jj * kv_dim;
					p0[u] = in ? S[i][jj - kb] : 0.0f;
					p1[u] = two && in ? S[i + 1][jj - kb] : 0.0f;
				}
				if (two)
					pv2x4(O + (size_t)i * hd, O + (size_t)(i + 1) * hd, p0, p1,
					      vp[0], vp[1], vp[2], vp[3], hd);
				else
					pv1x4(O + (size_t)i * hd, p0, vp[0], vp[1], vp[2], vp[3], hd);
			}
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
		if (!strcmp(name, isa_names[i]))
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
	const char *env = getenv("SPLITMOE_ISA");
	int want = env ? isa_parse(env) : -1;

	isa_default = want >= 0 && want < best ? want : best;
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
				const float *kj = c->k + (size_t)j * c->kv_dim + kvo;
				const float *vj = c->v + (size_t)j * c->kv_dim + kvo;
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

/* Key splits per tile: enough tasks for every thread, as a multiple of the
 * thread count where one is near, within the partial-sum buffer. */
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
	int want = (2 * nthreads + base - 1) / base;
	int s = want;

	for (int t = want; t <= 2 * want; t++)
		if ((base * t) % nthreads == 0) {
			s = t;
			break;
		}
	if (s > cap)
		s = cap;
	return s < 1 ? 1 : s;
}

void ca_attention(const float *q, int q_stride, int m, int pos0,
		  int n_heads, int n_kv_heads, int head_dim, int window,
		  float scale, const float *k_cache, const float *v_cache,
		  float *out, int nthreads)
{
	float part[CA_PART_FLOATS];
	struct ca_call c = {
		.q = q, .q_stride = q_stride, .m = m, .pos0 = pos0,
		.n_heads = n_heads, .n_kv = n_kv_heads, .hd = head_dim,
		.window = window > 0 ? window : 0, .kv_dim = n_kv_heads * head_dim,
		.scale = scale, .k = k_cache, .v = v_cache, .out = out,
		.group = n_heads / n_kv_heads, .rows = m * n_heads,
	};

	if (m < 1 || n_heads < 1)
		return;
	if (head_dim > CA_MAX_HEAD_DIM) {
		attention_scalar(&c);
		return;
	}
	if (m * n_heads <= CA_ROWS) {
		/* decode: one tile of every head, so that it reads whole cache
		 * rows (all kv heads) in order; threads split the keys */
		c.hc = n_heads;
		c.qb = m;
	} else if (m == 1) {
		c.hc = c.group < CA_ROWS ? CA_ROWS / c.group * c.group : CA_ROWS;
		c.qb = 1;
	} else {
		/* prefill: the heads of a group (one kv head) times positions */
		c.hc = c.group < CA_ROWS ? c.group : CA_ROWS;
		c.qb = CA_ROWS / c.hc;
	}
	c.nhc = (n_heads + c.hc - 1) / c.hc;
	c.nqb = (m + c.qb - 1) / c.qb;
	c.nsplit = choose_splits(&c, nthreads);
	if (c.nsplit > 1) {
		c.part_o = part;
		c.part_m = part + (size_t)c.nsplit * c.rows * head_dim;
		c.part_l = c.part_m + (size_t)c.nsplit * c.rows;
	}

	const struct ca_kernels *kern = &kernels[ca_isa_current()];
	int ntasks = c.nhc * c.nqb * c.nsplit;

	if (nthreads <= 1) {
		for (int t = 0; t < ntasks; t++)
			kern->task(&c, t);
		return;
	}
#pragma omp parallel num_threads(nthreads)
	{
#pragma omp for schedule(dynamic, 1)
		for (int t = 0; t < ntasks; t++)
			kern->task(&c, t);
		if (c.nsplit > 1) {
#pragma omp for schedule(static)
			for (int r = 0; r < c.rows; r++)
				kern->combine(&c, r);
		}
	}
}
