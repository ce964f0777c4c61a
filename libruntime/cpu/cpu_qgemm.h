/* SPDX-License-Identifier: MIT */
/*
 * Products of quantized weights (cpu_gemv.h's SM_GEMV_Q8 / SM_GEMV_Q4,
 * read in their stored layout, never repacked) with int8 activations:
 * each activation row is quantized once per product, symmetric, in groups
 * of SM_Q4_GROUP like the weights (a float scale per group, values in
 * -127..127), and every group's dot product is summed in integers, then
 * scaled by the two groups' scales in f32.
 *
 * Kernels: AVX-512-VNNI (vpdpbusd zmm), AVX2 with VNNI (VEX vpdpbusd ymm,
 * AVX-VNNI: the target laptop's; or its EVEX twin where AVX-512-VNNI has
 * no AVX-VNNI beside it, so the same ymm kernel runs here), AVX2 without
 * VNNI (vpmaddubsw + vpmaddwd) and plain C. Products of several rows are
 * tiled: 4 weight rows x 4 activation rows per register tile, every
 * activation row passing over 4 weight rows while they sit in L1, so the
 * weights are read from memory once per product whatever the row count.
 * Each cell sums blocks of 8 groups (16 in zmm) in integers, a lane per
 * group, before one f32 scaling; the next tile's rows are prefetched as
 * the blocks pass (cpu_qgemm.c says why).
 *
 * Why not oneDNN's int8 matmul: Debian's 2.6 takes one scale per output
 * channel (or per tensor), not one per group of 32 inputs; the groups are
 * what keeps q4 (and int8 on outlier channels) accurate and the layout is
 * fixed by the quantized files, which load mapped.
 */
#ifndef SPLITMOE_CPU_QGEMM_H
#define SPLITMOE_CPU_QGEMM_H

#include <stddef.h>

#include "cpu/gemv_desc.h"

enum sm_qkern {
	SM_QKERN_GENERIC = 0,	/* plain C */
	SM_QKERN_AVX2,		/* AVX2: vpmaddubsw + vpmaddwd */
	SM_QKERN_AVX2_VNNI,	/* AVX2 + AVX-VNNI: VEX vpdpbusd ymm */
	SM_QKERN_AVX2_VNNI_EVEX,	/* the same ymm kernel, EVEX vpdpbusd */
	SM_QKERN_AVX512_VNNI,	/* AVX-512-VNNI: vpdpbusd zmm */
};

/* The kernel cpu_isa's choice (and SPLITMOE_ISA) gives on this CPU. */
enum sm_qkern sm_qkern_active(void);
/* "generic", "avx2", "avx2-vnni", "avx2-vnni-evex", "avx512-vnni". */
const char *sm_qkern_name(enum sm_qkern k);

/* The kernels quantized products run here: sm_qkern_name's, and AMX's
 * beside it where it runs ("avx512-vnni, amx-bf16 from 16 rows"). */
const char *sm_qgemm_kernels_name(void);

/* Bytes of one quantized activation row of k inputs (k a multiple of
 * SM_Q4_GROUP): k int8 values, then k / SM_Q4_GROUP float scales, each
 * part padded to 64 bytes. */
size_t sm_qact_row_bytes(int k);

/* Bytes per activation row a product's xq may take in any form (int8
 * in one or two parts, or cpu_qgemm_amx.h's bf16 tiles where AMX runs):
 * products given m * this each never overlap. */
size_t sm_qact_slot_bytes(int k);

/* Quantizes groups [g0, g1) of the k-input row x into the row out
 * (sm_qact_row_bytes(k) bytes). The same bits on every kernel path. */
void sm_qact_quantize(const float *x, int k, int g0, int g1, void *out);

/* The same as two rows, out and the next sm_qact_row_bytes(k) bytes: x
 * quantized (hi), then what that left (x - hi, quantized to its own
 * scales): x = hi + lo to about 15 bits. */
void sm_qact_quantize_fine(const float *x, int k, int g0, int g1, void *out);

/* y rows of weight rows [r0, r1) of g for all g->m activation rows, from
 * the quantized activations g->xq (rows sm_qact_row_bytes(g->k) apart;
 * with xq_fine, 2 * g->m rows, summed in pairs); products of many rows
 * on AMX where it runs (cpu_qgemm_amx.h). */
void sm_qgemm_rows(const struct sm_gemv *g, int r0, int r1);

/* Starts bringing weight rows [r0, r1) of g and their scales into L2,
 * up to *max_bytes of them (less what it asked for on return). */
void sm_qgemm_prefetch_rows(const struct sm_gemv *g, int r0, int r1, size_t *max_bytes);

/* Starts bringing bytes at p into L2 (a prefetch per cache line; never
 * faults, never waits). */
void sm_prefetch_l2(const void *p, size_t bytes);

/* Tests and measurements: L2 blocking of many-row products in chunks
 * and panels of about this many bytes (0: off, the default unless
 * SPLITMOE_QGEMM_BLOCK_KB says); the results are the same either way. */
void sm_qgemm_override_block(size_t bytes);

/* Tests: AVX-512 products of at least min_rows activation rows (hi and
 * lo counted apart) go by weight panels, 0: none, -1: as
 * SPLITMOE_QGEMM_PANEL_ROWS says (default 32); the results are the same
 * either way. */
void sm_qgemm_override_panel(int min_rows);

#endif
