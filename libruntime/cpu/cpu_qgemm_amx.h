/* SPDX-License-Identifier: MIT */
/*
 * Products of many activation rows with quantized weights on AMX
 * (AMX-BF16), where the CPU has it: prefill's and large batches' products
 * (SM_QAMX_MIN_ROWS rows and more). Int8 activations in groups (the
 * decode kernels' form) cost an f32 scaling per group of 32 inputs and
 * output, which AMX's int8 tiles could only do by storing every group's
 * sums; so here the weights are dequantized instead, up to 768 KB of
 * rows at a time, into bf16 kept in L2 (w = code x scale, rounded once to
 * bf16), and multiplied with the activations in bf16 on the tiles,
 * summed in f32 over the whole row. The block is read by every
 * activation row: the dequantizing costs one pass over the weights per
 * product.
 *
 * Activations: bf16, in AMX's pair layout (cpu_qgemm_amx.c), made by
 * sm_qamx_act_block before the product; with xq_fine, x as bf16 hi and
 * the bf16 of what hi left (x to about 16 bits), both products summed.
 * Results differ from the int8-activation kernels' by the activations'
 * rounding (bf16 against int8 groups), so a row's result depends on
 * whether its product has SM_QAMX_MIN_ROWS rows.
 */
#ifndef SPLITMOE_CPU_QGEMM_AMX_H
#define SPLITMOE_CPU_QGEMM_AMX_H

#include <stdbool.h>
#include <stddef.h>

#include "cpu/gemv_desc.h"

/* Products of at least this many activation rows run here. */
#define SM_QAMX_MIN_ROWS 16
/* Weight rows a block (and a thread's share of rows) is cut to. */
#define SM_QAMX_ROW_ALIGN 32

/* Whether AMX-BF16 runs here: the CPU has it, the OS lets this process
 * use its tile data (asked once), the ISA in use is avx512 and neither
 * SPLITMOE_ISA=avx512 nor a test turned it off. On by default: on the
 * 16-core AMX machine it prefills 1.6-1.7x faster than the VNNI panels
 * (README). */
bool sm_qamx_ready(void);

/* Whether product g runs on AMX (quantized, ready, enough rows). */
bool sm_qamx_product(const struct sm_gemv *g);

/* Bytes per activation row of a product's xq on AMX: hi and lo bf16
 * rows, padded to whole tiles of 16 rows (for m >= SM_QAMX_MIN_ROWS). */
size_t sm_qamx_act_row_bytes(int k);

/* Activation rows [16 b, 16 b + 16) of g, groups [g0, g1), into g->xq
 * in the tiles' layout (rows past m as zeros). */
void sm_qamx_act_block(const struct sm_gemv *g, int b, int g0, int g1);

/* y rows of weight rows [r0, r1) of g for all g->m activation rows. */
void sm_qamx_rows(const struct sm_gemv *g, int r0, int r1);

/* Tests: AMX off (0), on where the CPU has it (1), or as SPLITMOE_ISA
 * says (-1). */
void sm_qamx_override(int on);

#endif
