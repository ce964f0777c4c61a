// SPDX-License-Identifier: MIT
/*
 * include/splitmoe.h, api-bench's system part: enum names, the CPU
 * kernels in use, resident memory, DRAM bandwidth.
 */
#include "splitmoe.h"
#include "api_internal.h"

#include "arbiter/membw.h"
#include "config/options.h"
#include "cpu/cpu_isa.h"
#include "cpu/cpu_qgemm.h"
#include "util/memstat.h"

#include <string.h>

const char *splitmoe_compute_name(splitmoe_compute c)
{
	static const enum sm_compute computes[] = { SM_COMPUTE_AUTO, SM_COMPUTE_F32,
						    SM_COMPUTE_BF16 };

	if ((unsigned)c > SPLITMOE_COMPUTE_BF16)
		return "?";
	return sm_compute_name(computes[c]);
}

const char *splitmoe_quant_name(splitmoe_quant q)
{
	static const enum sm_quant quants[] = { SM_QUANT_NONE, SM_QUANT_INT8, SM_QUANT_Q4 };

	if ((unsigned)q > SPLITMOE_QUANT_Q4)
		return "?";
	return sm_quant_name(quants[q]);
}

void splitmoe_cpu_kernels(struct splitmoe_cpu_kernels *k)
{
	k->isa = sm_isa_name(sm_isa_active());
	k->isa_lowered = sm_isa_forced() || !sm_isa_vnni();
	k->int8_products = sm_qkern_name(sm_qkern_active());
}

splitmoe_status splitmoe_memory_read(struct splitmoe_memory *mem)
{
	struct sm_memstat ms;
	int rc = sm_memstat_read(&ms);

	*mem = (struct splitmoe_memory){
		.rss_bytes = ms.rss_bytes,
		.peak_bytes = ms.hwm_bytes,
		.file_bytes = ms.rss_file_bytes,
		.anon_bytes = ms.rss_anon_bytes,
	};
	return rc ? SPLITMOE_ERR_UNSUPPORTED : SPLITMOE_OK;
}

uint64_t splitmoe_membw_default_bytes(void)
{
	return sm_membw_default_bytes();
}

struct membw_job {
	uint64_t bytes;
	int runs;
};

static int membw_job(void *arg, void *out)
{
	const struct membw_job *j = arg;

	return sm_membw_measure(j->bytes, j->runs, out);
}

splitmoe_status splitmoe_membw_measure(uint64_t bytes, int runs, struct splitmoe_membw *out)
{
	struct membw_job job = { .bytes = bytes, .runs = runs };
	struct sm_membw bw = { 0 };
	int rc;

	if (!out || !bytes || runs <= 0)
		return SPLITMOE_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	rc = sm_membw_in_child(membw_job, &job, &bw, sizeof(bw));
	if (rc == -1)
		return SPLITMOE_ERR_UNSUPPORTED;	/* errno from pipe or fork */
	if (rc)
		return SPLITMOE_ERR_NOMEM;
	*out = (struct splitmoe_membw){
		.threads = bw.threads,
		.runs = bw.runs,
		.bytes = bw.bytes,
		.read_gbs = bw.read_gbs,
		.copy_gbs = bw.copy_gbs,
	};
	return SPLITMOE_OK;
}
