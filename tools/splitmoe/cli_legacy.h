/* SPDX-License-Identifier: MIT */
/*
 * TRANSITIONAL (issue 15): the runtime's objects behind the API's handles,
 * for the subcommands not yet on include/splitmoe.h (bench, eval,
 * contend, quantize, synth read o->cfg, c->m, c->s, c->dev, c->arb, c->tk
 * and the two functions below). Once they use o->sp, c->model and
 * c->session, delete this file, cli_legacy.c and the CLI_LEGACY_* lines
 * in cli.h and session.h: then nothing in tools/splitmoe includes a
 * libruntime header.
 *
 * One source of truth: o->cfg is filled from the parsed configuration,
 * and cli_start_session takes the session's options from it again (what
 * those subcommands changed in it counts); c's runtime fields are views
 * of the API's handles, valid until cli_end_session / cli_close.
 */
#ifndef SPLITMOE_CLI_LEGACY_H
#define SPLITMOE_CLI_LEGACY_H

#include <stdio.h>

#include "config/config_yaml.h"
#include "engine/inference.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "sched/device_setup.h"

#define CLI_LEGACY 1

#define CLI_LEGACY_OPTS struct sm_config cfg;

#define CLI_LEGACY_CTX							\
	struct phimoe_model m;		/* a copy of the model's view */	\
	struct phimoe_tokenizer *tk;					\
	struct sm_arbiter *arb;						\
	struct phimoe_session *s;					\
	struct sm_devices dev;		/* a copy of the session's view */

struct cli_opts;
struct cli_ctx;

/* After parsing: o->cfg from o->conf. */
void cli_legacy_opts_fill(struct cli_opts *o);
/* Before a session: o->sp from o->cfg (strings point into it). */
void cli_legacy_opts_sync(struct cli_opts *o);
/* o->cfg's quant and arbiter bus from o->sp (resolved there). */
void cli_legacy_opts_resolved(struct cli_opts *o);
/* c's runtime fields from c->model and c->session (NULL: zeroed). */
void cli_legacy_ctx_fill(struct cli_ctx *c);

/* One line: the format the CPU runs and the weight bytes one decoded token
 * reads (bench's caller; the API form is cli_report_model_format). */
void cli_report_format(FILE *out, const struct phimoe_model *m, enum sm_compute compute,
		       enum sm_quant quant);
/* For --device gpu|split: the backends and their arbiter clients (eval's
 * caller). 0, or -1 after one error. */
int cli_open_devices(struct cli_opts *o, struct sm_arbiter *arb, enum sm_compute compute,
		     struct sm_devices *d, struct sm_backend **backend);

#endif /* SPLITMOE_CLI_LEGACY_H */
