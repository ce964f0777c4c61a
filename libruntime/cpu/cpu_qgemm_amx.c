// SPDX-License-Identifier: MIT
/* Quantized weights times bf16 activations on AMX; see cpu_qgemm_amx.h.
 *
 * Tiles (one configuration, loaded on entry): C 0..3, f32 [16][16],
 * C[t][u] for weight tile t and activation tile u; A 4, 5: 16 weight rows
 * x 32 bf16 (one group) of the dequantized block, rows k apart; B 6, 7:
 * one activation tile, 16 pairs x 16 rows: dword [p][i] holds inputs
 * 2p and 2p + 1 of the step's group for activation row i. So C[n][i] is
 * y[i][n]: the weights need no transposing (only the activations, once a
 * product, and the results, once a whole row sum).
 *
 * The activations of a product (xq): tiles of 1 KB, [block of 16 rows]
 * [group] (k / 32 of them a block), hi first, then, with xq_fine, lo.
 */
#include "cpu/cpu_qgemm_amx.h"
#include "cpu/cpu_features.h"
#include "cpu/cpu_isa.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#define HAVE_AMX 1
#else
#define HAVE_AMX 0
#endif

#define GRP SM_Q4_GROUP
#define TILE_BYTES 1024
#define TROWS 16

static bool amx_cpu;
static int amx_on = -1;	/* -1: as SPLITMOE_ISA says */
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

#if HAVE_AMX
#define ARCH_GET_XCOMP_PERM 0x1022
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18
#endif

static void amx_init(void)
{
#if HAVE_AMX
	struct sm_cpu_features f;
	unsigned long bits = 0;

	sm_cpu_features_get(&f);
	if (!(f.amx_tile && f.amx_bf16 && f.avx512_bf16 && f.avx512f && f.avx512bw &&
	      f.avx512vl))
		return;
	/* Linux keeps tile data off until a process asks (5.16 on) */
	if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) ||
	    syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &bits) ||
	    !(bits & (1ul << XFEATURE_XTILEDATA)))
		return;
	amx_cpu = true;
#endif
}

bool sm_qamx_ready(void)
{
	pthread_once(&amx_once, amx_init);
	return amx_cpu && sm_isa_active() == SM_ISA_AVX512 &&
	       (amx_on < 0 ? sm_isa_amx() : amx_on);
}

void sm_qamx_override(int on)
{
	pthread_once(&amx_once, amx_init);
	amx_on = on < 0 ? -1 : !!on;
}

bool sm_qamx_product(const struct sm_gemv *g)
{
	return g->quant != SM_GEMV_PLAIN && g->m >= SM_QAMX_MIN_ROWS && sm_qamx_ready();
}

size_t sm_qamx_act_row_bytes(int k)
{
	/* 2 (hi, lo) x 2 bytes x k, twice for blocks padded to 16 rows */
	return (size_t)8 * (size_t)k;
}

static size_t act_part_bytes(const struct sm_gemv *g)
{
	return (size_t)((g->m + TROWS - 1) / TROWS) * (size_t)(g->k / GRP) * TILE_BYTES;
}

#if HAVE_AMX
#define T_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,f16c")))
#define T_AMX __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,f16c,amx-tile,amx-bf16")))

/* 16 x 16 dwords: out[p][i] = in[i][p] */
static T_BF16 void transpose16(const uint32_t in[TROWS][16], uint32_t *out)
{
	const __m512i rows = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
								  10, 11, 12, 13, 14, 15),
						_mm512_set1_epi32(16));

	for (int p = 0; p < 16; p++)
		_mm512_storeu_si512(out + 16 * p,
				   _mm512_i32gather_epi32(_mm512_add_epi32(rows, _mm512_set1_epi32(p)),
							  (const void *)in, 4));
}

static T_BF16 void act_block(const struct sm_gemv *g, int b, int g0, int g1)
{
	uint32_t hi[TROWS][16] __attribute__((aligned(64)));
	uint32_t lo[TROWS][16] __attribute__((aligned(64)));
	int groups = g->k / GRP;
	char *xh = (char *)g->xq, *xl = xh + act_part_bytes(g);

	for (int gr = g0; gr < g1; gr++) {
		size_t off = ((size_t)b * groups + gr) * TILE_BYTES;

		for (int i = 0; i < TROWS; i++) {
			int row = TROWS * b + i;
			__m512 x0 = _mm512_setzero_ps(), x1 = _mm512_setzero_ps();
			__m512i h;

			if (row < g->m) {
				const float *x = g->x + (size_t)row * g->ldx + (size_t)gr * GRP;

				x0 = _mm512_loadu_ps(x);
				x1 = _mm512_loadu_ps(x + 16);
			}
			h = (__m512i)_mm512_cvtne2ps_pbh(x1, x0);
			_mm512_store_si512(hi[i], h);
			if (g->xq_fine) {
				/* what hi left, x - hi (exact in f32). bf16 j of h
				 * sits in dword j / 2, the low half for even j: the
				 * two halves widened back to the inputs' order */
				__m512i ev = _mm512_slli_epi32(h, 16);
				__m512i od = _mm512_and_si512(h, _mm512_set1_epi32((int)0xffff0000u));
				__m512i idx_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5,
								   21, 6, 22, 7, 23);
				__m512i idx_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28,
								   13, 29, 14, 30, 15, 31);
				__m512 f0 = _mm512_castsi512_ps(_mm512_permutex2var_epi32(ev, idx_lo, od));
				__m512 f1 = _mm512_castsi512_ps(_mm512_permutex2var_epi32(ev, idx_hi, od));

				_mm512_store_si512(lo[i], (__m512i)_mm512_cvtne2ps_pbh(
					_mm512_sub_ps(x1, f1), _mm512_sub_ps(x0, f0)));
			}
		}
		transpose16((const uint32_t (*)[16])hi, (uint32_t *)(void *)(xh + off));
		if (g->xq_fine)
			transpose16((const uint32_t (*)[16])lo, (uint32_t *)(void *)(xl + off));
	}
}

/* Bytes of dequantized weights a thread keeps in L2: the block is read
 * once per pair of activation tiles, which are read once per block, so
 * the bigger the block, the fewer passes over the activations (from L3
 * for prefill's 512 rows: 4-8 MB a product at k = 4096). */
#define BLOCK_BUDGET (768u << 10)
#define BLOCK_ROWS_MAX 256

/* Weight rows a block holds: a multiple of SM_QAMX_ROW_ALIGN. */
static int block_rows(int k)
{
	size_t r = BLOCK_BUDGET / ((size_t)2 * (size_t)k) / SM_QAMX_ROW_ALIGN * SM_QAMX_ROW_ALIGN;

	if (r < SM_QAMX_ROW_ALIGN)
		return SM_QAMX_ROW_ALIGN;
	return r > BLOCK_ROWS_MAX ? BLOCK_ROWS_MAX : (int)r;
}

/* The dequantized weight block: block_rows(k) rows of k bf16, per
 * thread, kept. */
static pthread_key_t block_key;
static pthread_once_t block_once = PTHREAD_ONCE_INIT;
static _Thread_local uint16_t *block;
static _Thread_local size_t block_bytes;

static void block_key_init(void)
{
	(void)pthread_key_create(&block_key, free);
}

static uint16_t *weight_block(int k)
{
	size_t bytes = (size_t)block_rows(k) * (size_t)k * sizeof(uint16_t);
	void *p;

	if (bytes <= block_bytes)
		return block;
	pthread_once(&block_once, block_key_init);
	if (posix_memalign(&p, 64, bytes))
		return NULL;
	free(block);
	block = p;
	block_bytes = bytes;
	(void)pthread_setspecific(block_key, p);
	return block;
}

/* Weight row r of g as bf16 (k values) at out. */
static T_BF16 void dequant_row(const struct sm_gemv *g, int r, uint16_t *out)
{
	int groups = g->k / GRP;
	const uint16_t *sc = (const uint16_t *)g->wscale + (size_t)r * groups;

	if (g->quant == SM_GEMV_Q8) {
		const int8_t *w = (const int8_t *)g->w + (size_t)r * g->k;

		for (int gr = 0; gr < groups; gr++) {
			__m512 s = _mm512_set1_ps(_cvtsh_ss(sc[gr]));
			__m512 f0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
				_mm_loadu_si128((const __m128i *)(const void *)(w + GRP * gr))));
			__m512 f1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
				_mm_loadu_si128((const __m128i *)(const void *)(w + GRP * gr + 16))));

			_mm512_storeu_si512(out + GRP * gr, (__m512i)_mm512_cvtne2ps_pbh(
				_mm512_mul_ps(f1, s), _mm512_mul_ps(f0, s)));
		}
		return;
	}
	const uint8_t *w = (const uint8_t *)g->w + (size_t)r * (g->k / 2);
	const __m512i eight = _mm512_set1_epi32(8);

	for (int gr = 0; gr < groups; gr++) {
		__m512 s = _mm512_set1_ps(_cvtsh_ss(sc[gr]));
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(w + 16 * gr));
		__m128i lo = _mm_and_si128(b, _mm_set1_epi8(0x0f));
		__m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0f));
		__m512 f0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(lo), eight));
		__m512 f1 = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(hi), eight));

		_mm512_storeu_si512(out + GRP * gr, (__m512i)_mm512_cvtne2ps_pbh(
			_mm512_mul_ps(f1, s), _mm512_mul_ps(f0, s)));
	}
}

struct tilecfg {
	uint8_t palette, start_row;
	uint8_t reserved[14];
	uint16_t colsb[16];
	uint8_t rows[16];
};

/* C[t][u] (weight rows r + 16 t, activation rows 16 (b + u)) to y:
 * (sum + bias) x row scale, for the nr weight rows and m rows there are. */
static T_BF16 void store_c(const struct sm_gemv *g, const float c[TROWS][16], int r, int nr,
			   int i0)
{
	const __m512i cols = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
								  10, 11, 12, 13, 14, 15),
						_mm512_set1_epi32(16));
	__mmask16 mask = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1);
	__m512 bias = g->bias ? _mm512_maskz_loadu_ps(mask, g->bias + r) : _mm512_setzero_ps();

	for (int i = 0; i < TROWS && i0 + i < g->m; i++) {
		__m512 v = _mm512_i32gather_ps(_mm512_add_epi32(cols, _mm512_set1_epi32(i)),
					       (const void *)c, 4);

		v = _mm512_add_ps(v, bias);
		if (g->row_scale)
			v = _mm512_mul_ps(v, _mm512_set1_ps(g->row_scale[i0 + i]));
		_mm512_mask_storeu_ps(g->y + (size_t)(i0 + i) * g->ldy + r, mask, v);
	}
}

/* GCC's tile intrinsics are asm without a memory clobber: the block's and
 * the activations' stores must be done before the loads, the stored sums
 * read only after the stores. */
#define MEMORY_BARRIER() __asm__ volatile("" ::: "memory")

/* One pass of the block over activation tiles b (and b + 1 when two),
 * weight tiles 0 (and 1 when both_w: more than 16 rows), summed into
 * c[t * 2 + u]. */
#define DP(C, A, B) _tile_dpbf16ps(C, A, B)
static T_AMX void block_pass(const struct sm_gemv *g, const uint16_t *wb, int b, bool two,
			     bool both_w, float c[4][TROWS][16])
{
	int groups = g->k / GRP;
	size_t lda = (size_t)g->k * sizeof(uint16_t);
	const char *xh = (const char *)g->xq;
	const char *xl = xh + act_part_bytes(g);
	const uint16_t *w1 = wb + (size_t)16 * g->k;

	MEMORY_BARRIER();
	_tile_zero(0);
	_tile_zero(1);
	_tile_zero(2);
	_tile_zero(3);
	for (int gr = 0; gr < groups; gr++) {
		size_t t0 = ((size_t)b * groups + gr) * TILE_BYTES;
		size_t t1 = t0 + (size_t)groups * TILE_BYTES;

		_tile_loadd(4, wb + GRP * gr, lda);
		if (both_w)
			_tile_loadd(5, w1 + GRP * gr, lda);
		for (int part = 0; part < (g->xq_fine ? 2 : 1); part++) {
			const char *x = part ? xl : xh;

			_tile_loadd(6, x + t0, 64);
			DP(0, 4, 6);
			if (both_w)
				DP(2, 5, 6);
			if (two) {
				_tile_loadd(7, x + t1, 64);
				DP(1, 4, 7);
				if (both_w)
					DP(3, 5, 7);
			}
		}
	}
	_tile_stored(0, c[0], 64);
	_tile_stored(1, c[1], 64);
	_tile_stored(2, c[2], 64);
	_tile_stored(3, c[3], 64);
	MEMORY_BARRIER();
}

static T_AMX void rows_amx(const struct sm_gemv *g, int r0, int r1)
{
	struct tilecfg cfg __attribute__((aligned(64)));
	float c[4][TROWS][16] __attribute__((aligned(64)));
	uint16_t *wb = weight_block(g->k);
	int blocks = (g->m + TROWS - 1) / TROWS;
	int br = block_rows(g->k);

	if (!wb)
		abort();	/* a block of bf16 rows: nothing to fall back on */
	memset(&cfg, 0, sizeof(cfg));
	cfg.palette = 1;
	for (int t = 0; t < 8; t++) {
		cfg.colsb[t] = 64;
		cfg.rows[t] = TROWS;
	}
	_tile_loadconfig(&cfg);
	for (int r = r0; r < r1; r += br) {
		int nr = r1 - r < br ? r1 - r : br;
		int subs = (nr + SM_QAMX_ROW_ALIGN - 1) / SM_QAMX_ROW_ALIGN;
		int last = nr - SM_QAMX_ROW_ALIGN * (subs - 1);

		for (int j = 0; j < nr; j++)
			dequant_row(g, r + j, wb + (size_t)j * g->k);
		/* rows past nr of a used tile: zeros, never stored */
		for (int j = nr; j < SM_QAMX_ROW_ALIGN * (subs - 1) + (last > 16 ? 32 : 16); j++)
			memset(wb + (size_t)j * g->k, 0, (size_t)g->k * sizeof(uint16_t));
		for (int b = 0; b < blocks; b += 2) {
			bool two = b + 1 < blocks;

			/* the pair's activation tiles stay in L2 for the subs */
			for (int sb = 0; sb < subs; sb++) {
				int rs = r + SM_QAMX_ROW_ALIGN * sb;
				int ns = sb + 1 < subs ? SM_QAMX_ROW_ALIGN : last;

				block_pass(g, wb + (size_t)SM_QAMX_ROW_ALIGN * sb * g->k, b, two,
					   ns > 16, c);
				store_c(g, (const float (*)[16])c[0], rs, ns, TROWS * b);
				if (ns > 16)
					store_c(g, (const float (*)[16])c[2], rs + 16, ns - 16, TROWS * b);
				if (two) {
					store_c(g, (const float (*)[16])c[1], rs, ns, TROWS * (b + 1));
					if (ns > 16)
						store_c(g, (const float (*)[16])c[3], rs + 16, ns - 16,
							TROWS * (b + 1));
				}
			}
		}
	}
	_tile_release();
}
#endif /* HAVE_AMX */

void sm_qamx_act_block(const struct sm_gemv *g, int b, int g0, int g1)
{
#if HAVE_AMX
	act_block(g, b, g0, g1);
#else
	(void)g, (void)b, (void)g0, (void)g1;
#endif
}

void sm_qamx_rows(const struct sm_gemv *g, int r0, int r1)
{
#if HAVE_AMX
	rows_amx(g, r0, r1);
#else
	(void)g, (void)r0, (void)r1;
#endif
}
