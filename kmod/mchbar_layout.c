// SPDX-License-Identifier: GPL-2.0 OR MIT
/* MCHBAR free-running counter layout; see mchbar_layout.h. */
#include "mchbar_layout.h"

int mchbar_decode_base(u32 lo, u32 hi, u64 *base)
{
	u64 v = (u64)hi << 32 | lo;

	if (!(v & 1))
		return -ENODEV;
	v &= ~(u64)1;
	if (!v)
		return -ENODEV;
	*base = v;
	return 0;
}

u32 mchbar_counter_offset(enum mchbar_counter c)
{
	return c == MCHBAR_READ ? 0x58 : 0xa0;
}

u64 mchbar_imc_phys(u64 base, unsigned int imc)
{
	return base + (u64)MCHBAR_IMC_STRIDE * imc + MCHBAR_FREE_RUNNING;
}

int mchbar_delta_bytes(u64 prev, u64 now, u64 max_bytes, u64 *bytes)
{
	u64 lines = now - prev;

	if (lines > max_bytes / MCHBAR_LINE_BYTES)
		return -ERANGE;
	*bytes = lines * MCHBAR_LINE_BYTES;
	return 0;
}
