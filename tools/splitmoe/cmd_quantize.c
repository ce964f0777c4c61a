// SPDX-License-Identifier: MIT
/*
 * splitmoe quantize --model DIR --out DIR2 --type int8|q4
 *                   [--tensors attention,experts,lm_head,router] [--threads N]
 *
 * splitmoe_quantize() (splitmoe.h, README "Quantized model files") writes
 * DIR2: the quantized model.safetensors, config.json with
 * splitmoe_quantization, and DIR's other files copied; into a temporary
 * directory beside DIR2, renamed into place once it loads; DIR2 must be
 * absent or empty. This prints its progress and stops it on SIGINT,
 * SIGTERM and SIGHUP (out_dir.h).
 */
#include "cli.h"
#include "out_dir.h"
#include "quantize.h"
#include "splitmoe.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The progress lines: checkpoint bytes read so far, MB/s. */
struct progress {
	const char *model;
	uint64_t t0_ns, last_ns;
	bool tty;
	char tmp[PATH_MAX + NAME_MAX + 32];	/* the temporary directory, for messages */
};

static void progress_line(struct progress *pr, const struct splitmoe_quantize_report *r,
			  bool force)
{
	double s;

	if (!out_dir_progress_due(&pr->last_ns, pr->tty, force))
		return;
	s = (pr->last_ns - pr->t0_ns) / 1e9;
	fprintf(stderr, "%squantize: %.1f of %.1f MB read, %.1f MB/s%s", pr->tty ? "\r" : "",
		r->done_bytes / 1e6, r->read_bytes / 1e6, s > 0 ? r->done_bytes / 1e6 / s : 0.0,
		pr->tty ? "" : "\n");
}

static bool on_progress(const struct splitmoe_quantize_report *r, void *user)
{
	struct progress *pr = user;

	switch (r->stage) {
	case SPLITMOE_WRITE_START:
		snprintf(pr->tmp, sizeof(pr->tmp), "%s", r->tmp_dir);
		fprintf(stderr, "quantize: %s to %s (%s): %zu tensors quantized, %zu copied, "
			"%.1f MB -> %.1f MB, into %s\n", pr->model, r->format, r->classes,
			r->tensors_quantized, r->tensors_copied, r->read_bytes / 1e6,
			r->write_bytes / 1e6, r->tmp_dir);
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

int cmd_quantize(struct cli_opts *o)
{
	struct splitmoe_quantize_params qp = splitmoe_quantize_default_params();
	struct splitmoe_quantize_report r;
	struct progress pr = { .model = o->model, .tty = isatty(2) };
	struct out_dir_signals sigs = { 0 };
	char err[512];
	splitmoe_status st;

	if (!o->have_model || !o->quant_type) {
		cli_err("quantize: --model DIR, --out DIR2 and --type int8|q4 are required");
		return 2;
	}
	if (!o->out || !*o->out) {
		cli_err("quantize: --out DIR is required");
		return 2;
	}
	qp.type = (splitmoe_quant)o->quant_type;	/* the same values */
	qp.classes = o->quant_tensors;
	qp.threads = o->sp.threads > 0 ? o->sp.threads : 0;
	qp.progress = on_progress;
	qp.progress_user = &pr;
	out_dir_catch(&sigs);
	st = splitmoe_quantize(o->model, o->out, &qp, &r, err, sizeof(err));
	out_dir_release(&sigs);
	if (st == SPLITMOE_OK) {
		double s = (out_dir_now_ns() - pr.t0_ns) / 1e9;

		progress_line(&pr, &r, true);
		if (pr.tty)
			fputc('\n', stderr);
		fprintf(stderr, "quantize: wrote %s in %.1f s (%.1f MB/s read); weights %.1f MB "
			"(were %.1f), read per decoded token %.1f MB (were %.1f)\n", o->out, s,
			s > 0 ? r.read_bytes / 1e6 / s : 0.0, r.weight_bytes_after / 1e6,
			r.weight_bytes_before / 1e6, r.token_bytes_after / 1e6,
			r.token_bytes_before / 1e6);
		return 0;
	}
	if (st == SPLITMOE_ERR_INTERRUPTED && out_dir_stopped())
		cli_err("quantize: interrupted by signal %d; removed %s", out_dir_stopped(), pr.tmp);
	else
		cli_err("%s", err);
	return st == SPLITMOE_ERR_INVALID ? 2 : 1;
}
