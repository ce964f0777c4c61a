/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Layout of the memory controllers' free-running data counters behind
 * MCHBAR on Alder Lake, Raptor Lake and Meteor Lake client chips (the
 * layout Linux's uncore driver uses for them): MCHBAR is the 64-bit
 * register at offset 0x48 of the host bridge (PCI 0000:00:00.0), bit 0
 * enables it; controller i's counters sit at MCHBAR + 0x10000 * i + 0xd800,
 * read +0x58, write +0xa0, total +0x40, each a 64-bit count of 64-byte
 * lines, readable with one MMIO load in any context.
 *
 * Plain C (no kernel headers) so that the unit tests run it. UNTESTED ON
 * HARDWARE: nothing here has touched a real MCHBAR.
 */
#ifndef BWARB_MCHBAR_LAYOUT_H
#define BWARB_MCHBAR_LAYOUT_H

#include "arb_types.h"

#define MCHBAR_PCI_REG		0x48	/* low dword; high dword at 0x4c */
#define MCHBAR_NR_IMC		2
#define MCHBAR_IMC_STRIDE	0x10000
#define MCHBAR_FREE_RUNNING	0xd800
#define MCHBAR_MAP_SIZE		0x100	/* per controller, from FREE_RUNNING */
#define MCHBAR_LINE_BYTES	64

enum mchbar_counter { MCHBAR_READ, MCHBAR_WRITE, MCHBAR_NR_COUNTERS };

/* Physical base from the two config dwords; -ENODEV if disabled or 0. */
int mchbar_decode_base(u32 lo, u32 hi, u64 *base);

/* Offset of a counter from the start of its controller's mapping. */
u32 mchbar_counter_offset(enum mchbar_counter c);

/* Physical address of controller imc's mapping (imc < MCHBAR_NR_IMC). */
u64 mchbar_imc_phys(u64 base, unsigned int imc);

/*
 * Bytes moved between two readings of a counter into *bytes. The counters
 * are 64 bits wide; unsigned subtraction also covers a wrap. -ERANGE
 * (nothing stored) when that is above max_bytes, what the bus can carry
 * in the time between the readings: the counter went backwards (a reset:
 * suspend, a controller reset) or jumped.
 */
int mchbar_delta_bytes(u64 prev, u64 now, u64 max_bytes, u64 *bytes);

#endif /* BWARB_MCHBAR_LAYOUT_H */
