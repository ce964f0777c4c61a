// SPDX-License-Identifier: MIT
/*
 * Element types of checkpoint tensors and their scalar conversions: what
 * the safetensors reader and the model's views share (so that neither
 * depends on the other's header).
 */
#include "model/dtype.h"

#include <math.h>
#include <string.h>

size_t phimoe_dtype_size(enum phimoe_dtype dt)
{
	switch (dt) {
	case PHIMOE_DTYPE_F32: return 4;
	case PHIMOE_DTYPE_F16:
	case PHIMOE_DTYPE_BF16: return 2;
	case PHIMOE_DTYPE_I8:
	case PHIMOE_DTYPE_U8: return 1;
	}
	return 1;
}

const char *phimoe_dtype_name(enum phimoe_dtype dt)
{
	switch (dt) {
	case PHIMOE_DTYPE_F32: return "f32";
	case PHIMOE_DTYPE_F16: return "f16";
	case PHIMOE_DTYPE_BF16: return "bf16";
	case PHIMOE_DTYPE_I8: return "i8";
	case PHIMOE_DTYPE_U8: return "u8";
	}
	return "?";
}

float phimoe_bf16_to_f32(uint16_t v)
{
	uint32_t u = (uint32_t)v << 16;
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

uint16_t phimoe_f32_to_bf16(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	if ((u & 0x7fffffffu) > 0x7f800000u)	/* NaN stays a quiet NaN */
		return (uint16_t)((u >> 16) | 0x40);
	u += 0x7fffu + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}

float phimoe_f16_to_f32(uint16_t h)
{
	uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff;
	float f;

	if (e == 0)
		f = ldexpf((float)m, -24);	/* zero or subnormal */
	else if (e == 31)
		f = m ? NAN : INFINITY;
	else
		f = ldexpf((float)(m | 0x400), (int)e - 25);
	if (s)
		f = -f;
	return f;
}
