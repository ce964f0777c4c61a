/* SPDX-License-Identifier: MIT */
/*
 * Weight quantization for the CPU's few-row kernels (cpu_gemv.h):
 * int8 and 4-bit, symmetric, in groups of SM_Q4_GROUP along the input,
 * a binary16 scale each (max|w| / 127 and max|w| / 7; 4-bit values
 * rounded to -8..7). Made once from a checkpoint tensor of any dtype,
 * held by the backend. A tensor whose input width is no multiple of the
 * group stays unquantized.
 */
#ifndef SPLITMOE_QUANT_H
#define SPLITMOE_QUANT_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu_gemv.h"
#include "model/model.h"

/* What --quant / YAML quant name: the checkpoint's own precision, int8, q4
 * (the values of model.h's enum phimoe_quant, the formats of files). */
enum sm_quant {
	/* the configuration's auto, resolved by the caller
	 * (sm_quant_default) before anything is quantized */
	SM_QUANT_AUTO = -1,
	SM_QUANT_NONE = 0,
	SM_QUANT_INT8,
	SM_QUANT_Q4,
};


struct sm_qweight {
	enum sm_gemv_quant kind;	/* SM_GEMV_Q8 or SM_GEMV_Q4 */
	int n, k;
	void *q;			/* int8 [n][k] or nibbles [n][k / 2] */
	void *scale;			/* binary16 [n][k / group] */
	size_t bytes;			/* q and scale */
	/* q and scale point into a quantized file's mapping (not ours) */
	bool mapped;
};

/* The format's name in messages: the file formats' (model.h), whose values
 * these are (quant.c checks). */
static inline const char *sm_quant_format_name(enum sm_quant q)
{
	return phimoe_quant_name((enum phimoe_quant)q);
}

/* Whether q can take a [n][k] tensor (k a multiple of the group). */
int sm_quant_fits(enum sm_quant q, int k);

/*
 * Quantizes the 2-D tensor t into *out (allocated; sm_qweight_free).
 * 0, -EINVAL (not 2-D, or k not a multiple of the group), -ENOMEM.
 */
int sm_qweight_make(const struct phimoe_tensor *t, enum sm_quant q, struct sm_qweight *out);
void sm_qweight_free(struct sm_qweight *w);

/* The quantized tensor t of a quantized file (t->quant set), in place:
 * *out points into the mapping, no copy. 0, or -EINVAL. */
int sm_qweight_view(const struct phimoe_tensor *t, struct sm_qweight *out);

/* The product of w for cpu_gemv (inputs filled per call). */
void sm_qweight_gemv(const struct sm_qweight *w, const float *bias, struct sm_gemv *g);

#endif
