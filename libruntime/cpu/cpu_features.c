// SPDX-License-Identifier: MIT
#include "cpu/cpu_features.h"

#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void)
{
	unsigned int lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((unsigned long long)hi << 32) | lo;
}
#endif

void sm_cpu_features_get(struct sm_cpu_features *f)
{
	memset(f, 0, sizeof(*f));
#if defined(__x86_64__) || defined(__i386__)
	unsigned int a, b, c, d, max, i;
	bool os_avx = false, os_avx512 = false, os_amx = false;

	if (!__get_cpuid(0, &max, &b, &c, &d))
		return;
	memcpy(f->vendor, &b, 4);
	memcpy(f->vendor + 4, &d, 4);
	memcpy(f->vendor + 8, &c, 4);
	__cpuid(1, a, b, c, d);
	if (c & bit_OSXSAVE) {
		unsigned long long x = xgetbv0();

		os_avx = (x & 0x6) == 0x6;		/* XMM, YMM */
		os_avx512 = (x & 0xe6) == 0xe6;		/* + opmask, ZMM */
		os_amx = (x & 0x60000) == 0x60000;	/* XTILECFG, XTILEDATA */
	}
	f->fma = os_avx && (c & bit_FMA);
	if (max >= 7) {
		__cpuid_count(7, 0, a, b, c, d);
		f->avx2 = os_avx && (b & bit_AVX2);
		f->avx512f = os_avx512 && (b & bit_AVX512F);
		f->avx512bw = os_avx512 && (b & bit_AVX512BW);
		f->avx512vl = os_avx512 && (b & bit_AVX512VL);
		f->avx512_vnni = os_avx512 && (c & (1u << 11));
		f->amx_bf16 = os_amx && (d & (1u << 22));
		f->amx_tile = os_amx && (d & (1u << 24));
		f->amx_int8 = os_amx && (d & (1u << 25));
		__cpuid_count(7, 1, a, b, c, d);
		f->avx_vnni = os_avx && (a & (1u << 4));
		f->avx512_bf16 = os_avx512 && (a & (1u << 5));
	}
	__cpuid(0x80000000, max, b, c, d);
	if (max >= 0x80000004) {
		unsigned int r[12];

		for (i = 0; i < 3; i++)
			__cpuid(0x80000002 + i, r[4 * i], r[4 * i + 1], r[4 * i + 2], r[4 * i + 3]);
		memcpy(f->brand, r, 48);
		f->brand[48] = '\0';
	}
#endif
}
