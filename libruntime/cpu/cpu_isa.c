// SPDX-License-Identifier: MIT
/* ISA choice for our kernels; see cpu_isa.h. */
#include "cpu/cpu_isa.h"
#include "cpu/cpu_features.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum sm_isa best_isa, active_isa;
/* amx: AMX wanted for quantized products of many rows (default; avx512 turns it off) */
static int forced, vnni = 1, amx = 1;
static pthread_once_t isa_once = PTHREAD_ONCE_INIT;

static void isa_init(void)
{
	struct sm_cpu_features f;
	const char *env = getenv("SPLITMOE_ISA");

	sm_cpu_features_get(&f);
	best_isa = SM_ISA_GENERIC;
	if (f.avx2 && f.fma)
		best_isa = SM_ISA_AVX2;
	if (best_isa == SM_ISA_AVX2 && f.avx512f && f.avx512bw && f.avx512vl)
		best_isa = SM_ISA_AVX512;
	active_isa = best_isa;
	if (!env || !*env)
		return;
	if (!strcmp(env, "generic"))
		active_isa = SM_ISA_GENERIC;
	else if (!strcmp(env, "avx2"))
		active_isa = SM_ISA_AVX2;
	else if (!strcmp(env, "avx2-novnni"))
		active_isa = SM_ISA_AVX2, vnni = 0;
	else if (!strcmp(env, "avx512"))
		active_isa = SM_ISA_AVX512, amx = 0;
	else if (!strcmp(env, "avx512-amx"))
		active_isa = SM_ISA_AVX512, amx = 1;
	else
		fprintf(stderr, "splitmoe: SPLITMOE_ISA='%s' is not generic, avx2-novnni, avx2, avx512 or avx512-amx; using %s\n",
			env, sm_isa_name(best_isa));
	if (active_isa > best_isa)
		active_isa = best_isa;
	forced = active_isa < best_isa;
}

enum sm_isa sm_isa_active(void)
{
	pthread_once(&isa_once, isa_init);
	return active_isa;
}

enum sm_isa sm_isa_best(void)
{
	pthread_once(&isa_once, isa_init);
	return best_isa;
}

int sm_isa_forced(void)
{
	pthread_once(&isa_once, isa_init);
	return forced;
}

int sm_isa_vnni(void)
{
	pthread_once(&isa_once, isa_init);
	return vnni;
}

int sm_isa_amx(void)
{
	pthread_once(&isa_once, isa_init);
	return amx;
}

const char *sm_isa_name(enum sm_isa isa)
{
	switch (isa) {
	case SM_ISA_AVX2: return "avx2";
	case SM_ISA_AVX512: return "avx512";
	default: return "generic";
	}
}

void sm_isa_override(enum sm_isa isa)
{
	pthread_once(&isa_once, isa_init);
	active_isa = isa > best_isa ? best_isa : isa;
	forced = active_isa < best_isa;
}

void sm_isa_override_vnni(int on)
{
	pthread_once(&isa_once, isa_init);
	vnni = !!on;
}
