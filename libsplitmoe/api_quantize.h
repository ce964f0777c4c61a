/* SPDX-License-Identifier: MIT */
/*
 * splitmoe_quantize: a checkpoint's weights as a quantized model file
 * (README "Quantized model files"). One model.safetensors: every weight of
 * the chosen classes whose rows are whole groups becomes NAME (I8 [n][k]
 * for int8, U8 [n][k/2] for q4: quant.h's layout) and NAME_scale (F16
 * [n][k/32]); every other tensor is copied as stored. The same codes as
 * --quant at load (sm_qweight_make), so the two run bit for bit alike.
 *
 *   api_quantize_plan.c   which tensors, where each goes, the header
 *   api_quantize.c        splitmoe_quantize: directories, data, config, copies
 */
#ifndef SPLITMOE_API_QUANTIZE_H
#define SPLITMOE_API_QUANTIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "cpu/quant.h"
#include "model/safetensors.h"
#include "splitmoe.h"

/* The names of a class mask (SPLITMOE_QUANTIZE_*), comma-separated, into buf. */
void qz_classes_text(unsigned mask, char *buf, size_t len);

/* One tensor of the output file. */
struct qz_entry {
	char *name;
	enum phimoe_dtype dtype;
	int ndim;
	int64_t shape[ST_MAX_DIMS];
	uint64_t offset, nbytes;	/* in the data section */
	const struct st_tensor *copy;	/* copied as is; NULL: quantized */
	const struct phimoe_tensor *src;	/* quantized from */
	bool scales;			/* src's scales (else its codes) */
	size_t pair;			/* codes: the index of its scales */
};

struct qz_plan {
	enum sm_quant q;
	unsigned classes;
	struct qz_entry *e;		/* in file order */
	size_t n;
	size_t quantized;		/* tensors quantized */
	uint64_t data_bytes;		/* of the data section */
	uint64_t src_bytes;		/* read from the checkpoint */
	uint64_t src_quant_bytes, quant_bytes;	/* of the quantized ones, before and after */
	char *header;			/* JSON, padded: 8 + header_len a multiple of 64 */
	size_t header_len;
};

/* The plan of m's file in format q. 0, or -ENOMEM, or -EEXIST (the
 * checkpoint has a NAME_scale tensor already), with one line in err. */
int qz_plan_build(const struct phimoe_model *m, enum sm_quant q, unsigned classes,
		  struct qz_plan *p, char *err, size_t errlen);
void qz_plan_free(struct qz_plan *p);

#endif
