/* SPDX-License-Identifier: MIT */
/*
 * Element types of checkpoint tensors (safetensors dtypes) and the scalar
 * conversions between them: the declarations the safetensors reader, the
 * model and the CPU kernels share.
 */
#ifndef SPLITMOE_DTYPE_H
#define SPLITMOE_DTYPE_H

#include <stddef.h>
#include <stdint.h>

enum phimoe_dtype {
	PHIMOE_DTYPE_F32 = 0,
	PHIMOE_DTYPE_F16 = 1,
	PHIMOE_DTYPE_BF16 = 2,
	/* the codes of quantized weights (splitmoe quantize's files) */
	PHIMOE_DTYPE_I8 = 3,
	PHIMOE_DTYPE_U8 = 4,
};

/* Bytes per element of a dtype (4, 2, 2, 1, 1). */
size_t phimoe_dtype_size(enum phimoe_dtype dt);
/* "f32", "f16", "bf16", "i8", "u8". */
const char *phimoe_dtype_name(enum phimoe_dtype dt);

/* Scalar conversions (round-to-nearest-even for float -> bf16/f16). */
float phimoe_bf16_to_f32(uint16_t v);
uint16_t phimoe_f32_to_bf16(float f);
float phimoe_f16_to_f32(uint16_t v);

#endif /* SPLITMOE_DTYPE_H */
