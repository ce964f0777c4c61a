// SPDX-License-Identifier: MIT
/* Set-up shared by the subcommands that load a model, on the public API. */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRLEN 1024

int cli_load(struct cli_opts *o, struct cli_ctx *c, bool tokenizer)
{
	struct splitmoe_model_params mp = splitmoe_model_default_params();
	char err[ERRLEN];

	memset(c, 0, sizeof(*c));
	if (!o->have_model) {
		cli_err("%s: --model DIR is required", o->cmd);
		return -1;
	}
	mp.tokenizer = tokenizer;
	if (splitmoe_model_load(o->model, &mp, &c->model, err, sizeof(err))) {
		cli_err("%s", err);
		return -1;
	}
	o->sp.quant = splitmoe_quant_resolve(c->model, o->sp.device, o->sp.quant);
	return 0;
}

int cli_tokenize(const struct cli_ctx *c, const char *text, bool chat, int32_t **ids, size_t *n)
{
	size_t count = 0, cap;
	splitmoe_status st;

	*ids = NULL;
	*n = 0;
	/* the count first, then the ids */
	st = chat ? splitmoe_tokenize_chat(c->model, NULL, text, NULL, 0, &count) :
	     splitmoe_tokenize(c->model, text, NULL, 0, &count);
	if (st == SPLITMOE_ERR_TOO_SMALL || st == SPLITMOE_OK) {
		cap = count ? count : 1;
		*ids = malloc(cap * sizeof(**ids));
		st = !*ids ? SPLITMOE_ERR_NOMEM :
		     chat ? splitmoe_tokenize_chat(c->model, NULL, text, *ids, cap, n) :
		     splitmoe_tokenize(c->model, text, *ids, cap, n);
	}
	if (st) {
		cli_err("tokenizer: %s", st == SPLITMOE_ERR_NOMEM ? "out of memory" :
			"SentencePiece failed to encode the text");
		free(*ids);
		*ids = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

/* The messages of the combinations only the CPU runs. 0, or -1. */
static int check_device(const struct cli_opts *o, const struct cli_ctx *c)
{
	struct splitmoe_model_info mi;

	if (o->sp.device == SPLITMOE_DEVICE_CPU)
		return 0;
	if (o->sp.quant != SPLITMOE_QUANT_NONE) {
		cli_err("--quant %s runs on the CPU only: the Level Zero kernels have no int8 or "
			"q4 form yet (use --device cpu)", cli_name(SPLITMOE_OPTION_QUANT, o->sp.quant));
		return -1;
	}
	splitmoe_model_info(c->model, &mi);
	if (mi.file_quant != SPLITMOE_QUANT_NONE) {
		cli_err("%s: a model quantized as %s runs on the CPU only: the Level Zero kernels "
			"have no int8 or q4 form yet (use --device cpu)", o->model,
			cli_name(SPLITMOE_OPTION_QUANT, mi.file_quant));
		return -1;
	}
	return 0;
}

int cli_start_session(struct cli_opts *o, struct cli_ctx *c, int max_seq)
{
	struct splitmoe_session_params p;
	char err[ERRLEN];

	if (check_device(o, c) || cli_resolve_arbiter_bus(o))
		return -1;
	p = o->sp;
	p.max_seq = max_seq;
	p.max_batch = o->max_batch;
	p.max_seqs = o->max_seqs;
	p.kv_tokens = o->kv_tokens;
	p.profile = o->profile;
	if (splitmoe_session_create(c->model, &p, &c->session, err, sizeof(err))) {
		cli_err("%s", err);
		return -1;
	}
	if (splitmoe_session_note(c->session)[0])
		cli_err("%s", splitmoe_session_note(c->session));
	return 0;
}

void cli_report_weights(FILE *out, const struct cli_ctx *c)
{
	struct splitmoe_session_info si = { 0 };
	struct splitmoe_model_info mi;

	splitmoe_model_info(c->model, &mi);
	if (c->session)
		splitmoe_session_info(c->session, &si);
	fprintf(out, "weights held (%s): cpu %.2f MB, gpu %.2f MB; shared %.2f MB (the gpu's, "
		"which the cpu reads in place: %.2f MB); checkpoint %.2f MB mapped, of which the cpu "
		"reads %.2f MB in place besides its %.2f MB packed (weights %s%s%s)\n",
		cli_name(SPLITMOE_OPTION_DEVICE, si.running), si.cpu_weight_bytes / 1e6,
		si.gpu_weight_bytes / 1e6, si.shared_weight_bytes / 1e6,
		si.borrowed_weight_bytes / 1e6, mi.bytes / 1e6, si.mapped_weight_bytes / 1e6,
		si.cpu_weight_bytes / 1e6, cli_name(SPLITMOE_OPTION_WEIGHTS, si.weights),
		si.quant != SPLITMOE_QUANT_NONE ? ", quant " : "",
		si.quant != SPLITMOE_QUANT_NONE ? cli_name(SPLITMOE_OPTION_QUANT, si.quant) : "");
}

void cli_report_model_format(FILE *out, const splitmoe_model *m, splitmoe_compute compute,
			     splitmoe_quant quant)
{
	struct splitmoe_model_info mi;
	struct splitmoe_token_bytes b;
	const char *cname;
	char what[160];

	if (compute == SPLITMOE_COMPUTE_AUTO)
		compute = splitmoe_compute_default();
	cname = cli_name(SPLITMOE_OPTION_COMPUTE, compute);
	splitmoe_model_info(m, &mi);
	if (mi.file_quant != SPLITMOE_QUANT_NONE)
		snprintf(what, sizeof(what), "%s file (groups of %d, f16 scales), read in place; "
			 "other weights %s, compute %s", cli_name(SPLITMOE_OPTION_QUANT, mi.file_quant),
			 mi.file_quant_group, mi.storage_dtype, cname);
	else if (quant != SPLITMOE_QUANT_NONE)
		snprintf(what, sizeof(what), "%s, quantized at load from %s (groups of %d, f16 "
			 "scales); compute %s", cli_name(SPLITMOE_OPTION_QUANT, quant),
			 mi.storage_dtype, mi.load_quant_group, cname);
	else
		snprintf(what, sizeof(what), "%s checkpoint, compute %s", mi.storage_dtype, cname);
	splitmoe_model_token_bytes(m, compute, quant, &b);
	fprintf(out, "format: %s; weights read per decoded token %.2f MB (%d of %d experts per "
		"layer)\n", what, splitmoe_token_bytes_decode(&b) / 1e6, mi.experts_per_token,
		mi.experts);
}

/* One client's line; a session without one (ungated CPU path) prints 0s. */
static void report_client(FILE *out, const char *kind, const char *client,
			  const splitmoe_arb_client *ac)
{
	struct splitmoe_arb_client_stats cs = { 0 };

	if (ac)
		splitmoe_arb_client_stats(ac, &cs);
	fprintf(out, "arbiter %s: %s client %llu acquires, %llu completed, %.2f MB granted, "
		"%.2f ms waiting\n", kind, client, (unsigned long long)cs.acquires,
		(unsigned long long)cs.completes, cs.granted_bytes / 1e6, cs.wait_ns / 1e6);
}

void cli_report_arbiter(FILE *out, const struct cli_ctx *c)
{
	const splitmoe_arb_client *cpu, *gpu;
	struct splitmoe_session_info si;
	const char *kind;

	if (!c->session)
		return;
	splitmoe_session_info(c->session, &si);
	cpu = splitmoe_session_arb_client(c->session);
	gpu = splitmoe_session_gpu_arb_client(c->session);
	kind = cli_name(SPLITMOE_OPTION_ARBITER, si.arbiter);
	/* the CPU path's line even when its session runs ungated */
	if (cpu || !si.gpu)
		report_client(out, kind, "cpu", cpu);
	if (gpu)
		report_client(out, kind, "gpu", gpu);
}

void cli_report_gpu(FILE *out, const struct cli_ctx *c)
{
	struct splitmoe_gpu_profile p;

	if (!c->session || !splitmoe_session_gpu_profile(c->session, &p))
		return;
	fprintf(out, "gpu kernels (Level Zero timestamps): linear %.2f ms in %llu ops, experts "
		"%.2f ms in %llu, other %.2f ms in %llu; %llu of %llu kernels under grants of "
		"the gpu client\n",
		p.linear_ns / 1e6, (unsigned long long)p.linear_ops, p.expert_ns / 1e6,
		(unsigned long long)p.expert_ops, p.other_ns / 1e6,
		(unsigned long long)p.other_ops, (unsigned long long)p.gated_launches,
		(unsigned long long)p.launches);
}

void cli_end_session(struct cli_ctx *c)
{
	splitmoe_session_free(c->session);
	c->session = NULL;
}

void cli_close(struct cli_ctx *c)
{
	cli_end_session(c);
	splitmoe_model_free(c->model);
	memset(c, 0, sizeof(*c));
}
