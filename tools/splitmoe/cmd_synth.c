// SPDX-License-Identifier: MIT
/*
 * splitmoe synth --shape phi-tiny-moe|tiny --out DIR [--seed S]
 *                [--dtype bf16|f32] [--layers N]
 *
 * Writes into a temporary directory beside DIR and renames it into place
 * at the end (out_dir.h): an interrupted run (SIGINT, SIGTERM, SIGHUP: the
 * temporary directory is removed; SIGKILL: it stays, named
 * .DIR.synth-XXXXXX) never leaves a DIR that loads.
 */
#include "cli.h"
#include "synth.h"
#include "out_dir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define MARGIN_BYTES (256ull << 20)	/* beyond the checkpoint's size */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int cmd_synth(struct cli_opts *o)
{
	const struct synth_shape *shape = o->shape;
	struct synth_progress pr = { 0 };
	struct synth_plan p;
	struct out_dir od;
	enum phimoe_dtype dt;
	char err[PHIMOE_ERRLEN];
	struct statvfs vfs;
	uint64_t avail, t0;
	int rc, sh;

	if (!shape && synth_shape_parse("phi-tiny-moe", &shape))
		return 2;
	if (o->cfg.dtype == SM_COMPUTE_F32)
		dt = PHIMOE_DTYPE_F32;
	else
		dt = PHIMOE_DTYPE_BF16;	/* bf16, or auto: the released model's */
	if (synth_plan_build(shape, o->layers, dt, &p)) {
		cli_err("synth: out of memory");
		return 1;
	}
	rc = out_dir_open("synth", o->out, &od);
	if (rc) {
		synth_plan_free(&p);
		return rc > 0 ? rc : 1;
	}
	rc = 1;
	if (statvfs(od.parent, &vfs)) {
		cli_err("synth: --out %s: %s: %s", o->out, od.parent, strerror(errno));
		goto out;
	}
	avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (avail < p.total_bytes + MARGIN_BYTES) {
		cli_err("synth: %s has %.2f GB free; the checkpoint needs %.2f GB (+ %.2f GB margin)",
			od.parent, avail / 1e9, p.total_bytes / 1e9, MARGIN_BYTES / 1e9);
		goto out;
	}
	fprintf(stderr, "synth: %s, %d layers, %s, %.2f %s in %d shards, seed %llu, into %s\n",
		p.shape.name, p.shape.layers, phimoe_dtype_name(dt),
		p.total_bytes / synth_unit(p.total_bytes), synth_unit_name(p.total_bytes), p.shards,
		(unsigned long long)o->seed, od.tmp);
	t0 = pr.t0_ns = pr.last_ns = now_ns();
	pr.total = p.total_bytes;
	pr.tty = isatty(2);
	err[0] = '\0';
	for (sh = 0; sh < p.shards; sh++)
		if (synth_write_shard(&p, sh, od.tmp, o->seed, &pr, out_dir_stop_flag(),
				      err, sizeof(err)))
			break;
	if (sh == p.shards && !out_dir_stopped() &&
	    !synth_write_meta(&p, od.tmp, err, sizeof(err)) &&
	    !synth_write_tokenizer(od.tmp, err, sizeof(err)) &&
	    !out_dir_commit(&od, err, sizeof(err))) {
		double s = (now_ns() - t0) / 1e9;

		synth_progress_done(&pr);
		fprintf(stderr, "synth: wrote %s: %.2f %s in %.1f s (%.2f GB/s)\n", o->out,
			p.total_bytes / synth_unit(p.total_bytes),
			synth_unit_name(p.total_bytes), s,
			s > 0 ? p.total_bytes / 1e9 / s : 0.0);
		rc = 0;
	}
	if (rc) {
		if (pr.tty)
			fputc('\n', stderr);
		if (out_dir_stopped())
			cli_err("synth: interrupted by signal %d; removed %s", out_dir_stopped(), od.tmp);
		else
			cli_err("synth: %s; removed %s", err[0] ? err : "failed", od.tmp);
	}
out:
	out_dir_close(&od);
	synth_plan_free(&p);
	return rc;
}
