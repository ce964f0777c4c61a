/* SPDX-License-Identifier: MIT */
/*
 * x86 CPU features relevant to the compute types, from cpuid (and xgetbv:
 * the OS must enable the AVX-512 / AMX register state too).
 */
#ifndef SPLITMOE_CPU_FEATURES_H
#define SPLITMOE_CPU_FEATURES_H

#include <stdbool.h>

struct sm_cpu_features {
	char vendor[13];
	char brand[49];
	bool avx2, fma, avx512f, avx512bw, avx512vl, avx512_vnni, avx512_bf16;
	bool avx_vnni, amx_tile, amx_bf16, amx_int8;
};

void sm_cpu_features_get(struct sm_cpu_features *f);

#endif /* SPLITMOE_CPU_FEATURES_H */
