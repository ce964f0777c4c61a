// SPDX-License-Identifier: MIT
/*
 * splitmoe_synth (include/splitmoe.h): the plan (api_synth.h), a check of
 * the free space, the shards, config and index, the tokenizer files, all
 * into a temporary directory beside out_dir renamed into place at the end
 * (api_out_dir.h).
 */
#include "api_out_dir.h"
#include "api_synth.h"
#include "util/errbuf.h"

#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>

#define MARGIN_BYTES (256ull << 20)	/* beyond the checkpoint's size */

struct splitmoe_synth_params splitmoe_synth_default_params(void)
{
	return (struct splitmoe_synth_params){ .shape = SPLITMOE_SYNTH_PHI_TINY_MOE };
}

static splitmoe_status write_dir(const struct synth_plan *p, const char *out, uint64_t seed,
				 struct synth_run *run, char *err, size_t errlen)
{
	char msg[PHIMOE_ERRLEN];
	struct statvfs vfs;
	struct out_dir od;
	splitmoe_status st;
	uint64_t avail;
	int rc = 0;

	st = out_dir_open("synth", out, &od, err, errlen);
	if (st)
		return st;
	if (statvfs(od.parent, &vfs)) {
		sm_errf(err, errlen, "synth: --out %s: %s: %s", out, od.parent, strerror(errno));
		goto refused;
	}
	avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (avail < p->total_bytes + MARGIN_BYTES) {
		sm_errf(err, errlen, "synth: %s has %.2f GB free; the checkpoint needs %.2f GB "
			"(+ %.2f GB margin)", od.parent, avail / 1e9, p->total_bytes / 1e9,
			MARGIN_BYTES / 1e9);
		goto refused;
	}
	run->r.tmp_dir = od.tmp;
	msg[0] = '\0';
	st = SPLITMOE_ERR_INTERRUPTED;
	if (!synth_go_on(run, SPLITMOE_WRITE_START))
		goto out;
	for (int sh = 0; sh < p->shards && !rc; sh++)
		rc = synth_write_shard(p, sh, od.tmp, seed, run, msg, sizeof(msg));
	st = rc > 0 ? SPLITMOE_ERR_INTERRUPTED : SPLITMOE_ERR_IO;
	if (rc || synth_write_meta(p, od.tmp, msg, sizeof(msg)) ||
	    synth_write_tokenizer(od.tmp, msg, sizeof(msg)))
		goto out;
	st = SPLITMOE_ERR_INTERRUPTED;
	if (!synth_go_on(run, SPLITMOE_WRITE_FINISH))
		goto out;
	st = SPLITMOE_ERR_IO;
	if (out_dir_commit(&od, msg, sizeof(msg)))
		goto out;
	st = SPLITMOE_OK;
out:
	st = out_dir_end(&od, "synth", st, msg, err, errlen);
	run->r.tmp_dir = NULL;
	return st;
refused:
	out_dir_close(&od);
	return SPLITMOE_ERR_IO;
}

splitmoe_status splitmoe_synth(const char *out_dir, const struct splitmoe_synth_params *params,
			       struct splitmoe_synth_report *report, char *err, size_t errlen)
{
	struct splitmoe_synth_params dp = splitmoe_synth_default_params();
	const struct splitmoe_synth_params *pp = params ? params : &dp;
	struct synth_run run = { .fn = pp->progress, .user = pp->progress_user };
	const struct synth_dims *dims = synth_dims_of(pp->shape);
	enum phimoe_dtype dt = pp->f32 ? PHIMOE_DTYPE_F32 : PHIMOE_DTYPE_BF16;
	struct synth_plan plan;
	splitmoe_status st;

	if (report)
		memset(report, 0, sizeof(*report));
	if (!dims || pp->layers < 0 || pp->layers > 1024) {
		sm_errf(err, errlen, "synth: %s", !dims ? "shape: no such shape" :
			"layers: want 0 (the shape's) to 1024");
		return SPLITMOE_ERR_INVALID;
	}
	if (synth_plan_build(dims, pp->layers, dt, &plan)) {
		sm_errf(err, errlen, "synth: out of memory");
		return SPLITMOE_ERR_NOMEM;
	}
	run.r.shape = dims->name;
	run.r.dtype = phimoe_dtype_name(dt);
	run.r.layers = plan.shape.layers;
	run.r.shards = plan.shards;
	run.r.total_bytes = plan.total_bytes;
	st = write_dir(&plan, out_dir, pp->seed, &run, err, errlen);
	if (report)
		*report = run.r;
	synth_plan_free(&plan);
	return st;
}
