/* SPDX-License-Identifier: MIT */
/*
 * The vector ISA our own CPU kernels run, chosen once: the best the CPU
 * (and OS) has, or a lower one forced with
 * SPLITMOE_ISA=avx512|avx2|avx2-novnni|generic (the target laptop has AVX2
 * and AVX-VNNI without AVX-512: forcing avx2 runs its path on any machine;
 * avx2-novnni also keeps the int8 kernels off VNNI, the AVX2 fallback);
 * avx512-amx is the default where the CPU has AMX: avx512 with quantized
 * products of many rows on AMX (cpu_qgemm_amx.h); avx512 keeps them on
 * the VNNI kernels.
 * A forced ISA the CPU lacks falls back to the best below.
 */
#ifndef SPLITMOE_CPU_ISA_H
#define SPLITMOE_CPU_ISA_H

enum sm_isa {
	SM_ISA_GENERIC = 0,	/* plain C */
	SM_ISA_AVX2,		/* AVX2 + FMA */
	SM_ISA_AVX512,		/* AVX-512 F/BW/VL */
};

/* The ISA in use (thread-safe; the environment is read once). */
enum sm_isa sm_isa_active(void);
/* The best the CPU supports, ignoring SPLITMOE_ISA. */
enum sm_isa sm_isa_best(void);
/* Whether SPLITMOE_ISA asked for an ISA below the best. */
int sm_isa_forced(void);
/* Whether the int8 kernels may use VNNI (vpdpbusd) where the CPU has it:
 * not under SPLITMOE_ISA=avx2-novnni. */
int sm_isa_vnni(void);
/* Whether AMX's quantized products are wanted: unless SPLITMOE_ISA=avx512. */
int sm_isa_amx(void);
/* "generic", "avx2", "avx512". */
const char *sm_isa_name(enum sm_isa isa);
/* Tests: use isa (capped at the CPU's best) from now on. */
void sm_isa_override(enum sm_isa isa);
/* Tests: allow (1) or forbid (0) VNNI from now on. */
void sm_isa_override_vnni(int on);

#endif
