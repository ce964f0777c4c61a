// SPDX-License-Identifier: MIT
/* include/splitmoe.h: DRAM bandwidth: bench --membw's figure. */
#include "splitmoe.h"

#include "arbiter/membw.h"

#include <string.h>

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
