// SPDX-License-Identifier: MIT
/*
 * splitmoe synth --shape phi-tiny-moe|tiny --out DIR [--seed S]
 *                [--dtype bf16|f32] [--layers N]
 *
 * splitmoe_synth() (splitmoe.h) writes into a temporary directory beside
 * DIR and renames it into place at the end: an interrupted run (SIGINT,
 * SIGTERM, SIGHUP: the temporary directory is removed, out_dir.h;
 * SIGKILL: it stays, named .DIR.synth-XXXXXX) never leaves a DIR that
 * loads. This prints its progress.
 */
#include "cli.h"
#include "out_dir.h"
#include "splitmoe.h"
#include "synth.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* GB for sizes of a GB and more, else MB: divisor and name. */
static double unit(uint64_t total)
{
	return total >= 1000000000ull ? 1e9 : 1e6;
}

static const char *unit_name(uint64_t total)
{
	return total >= 1000000000ull ? "GB" : "MB";
}

/* The progress lines: bytes written so far, GB/s. */
struct progress {
	uint64_t seed, t0_ns, last_ns;
	bool tty;
	char tmp[PATH_MAX + NAME_MAX + 32];	/* the temporary directory, for messages */
};

static void progress_line(struct progress *pr, const struct splitmoe_synth_report *r,
			  bool force)
{
	double s;

	if (!out_dir_progress_due(&pr->last_ns, pr->tty, force))
		return;
	s = (pr->last_ns - pr->t0_ns) / 1e9;
	fprintf(stderr, "%ssynth: %.2f of %.2f %s written, %.2f GB/s%s", pr->tty ? "\r" : "",
		r->done_bytes / unit(r->total_bytes), r->total_bytes / unit(r->total_bytes),
		unit_name(r->total_bytes), s > 0 ? r->done_bytes / 1e9 / s : 0.0,
		pr->tty ? "" : "\n");
}

static bool on_progress(const struct splitmoe_synth_report *r, void *user)
{
	struct progress *pr = user;

	switch (r->stage) {
	case SPLITMOE_WRITE_START:
		snprintf(pr->tmp, sizeof(pr->tmp), "%s", r->tmp_dir);
		fprintf(stderr, "synth: %s, %d layers, %s, %.2f %s in %d shards, seed %llu, "
			"into %s\n", r->shape, r->layers, r->dtype,
			r->total_bytes / unit(r->total_bytes), unit_name(r->total_bytes), r->shards,
			(unsigned long long)pr->seed, r->tmp_dir);
		pr->t0_ns = pr->last_ns = out_dir_now_ns();
		break;
	case SPLITMOE_WRITE_DATA:
		if (!out_dir_stopped())
			progress_line(pr, r, false);
		break;
	case SPLITMOE_WRITE_FINISH:
		break;
	}
	return !out_dir_stopped();
}

int cmd_synth(struct cli_opts *o)
{
	struct splitmoe_synth_params sp = splitmoe_synth_default_params();
	struct progress pr = { .seed = o->seed, .tty = isatty(2) };
	struct splitmoe_synth_report r;
	struct out_dir_signals sigs = { 0 };
	char err[512];
	splitmoe_status st;

	if (!o->out || !*o->out) {
		cli_err("synth: --out DIR is required");
		return 2;
	}
	if (o->shape)
		sp.shape = o->shape->id;
	/* bf16, or auto: the released model's */
	sp.f32 = o->sp.compute == SPLITMOE_COMPUTE_F32;
	sp.layers = o->layers;
	sp.seed = o->seed;
	sp.progress = on_progress;
	sp.progress_user = &pr;
	out_dir_catch(&sigs);
	st = splitmoe_synth(o->out, &sp, &r, err, sizeof(err));
	out_dir_release(&sigs);
	if (st == SPLITMOE_OK) {
		double s = (out_dir_now_ns() - pr.t0_ns) / 1e9;

		progress_line(&pr, &r, true);
		if (pr.tty)
			fputc('\n', stderr);
		fprintf(stderr, "synth: wrote %s: %.2f %s in %.1f s (%.2f GB/s)\n", o->out,
			r.total_bytes / unit(r.total_bytes), unit_name(r.total_bytes), s,
			s > 0 ? r.total_bytes / 1e9 / s : 0.0);
		return 0;
	}
	if (pr.tty && r.done_bytes)
		fputc('\n', stderr);
	if (st == SPLITMOE_ERR_INTERRUPTED && out_dir_stopped())
		cli_err("synth: interrupted by signal %d; removed %s", out_dir_stopped(), pr.tmp);
	else
		cli_err("%s", err);
	return st == SPLITMOE_ERR_INVALID ? 2 : 1;
}
