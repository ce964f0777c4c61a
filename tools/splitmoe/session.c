// SPDX-License-Identifier: MIT
/* Set-up shared by run, logits, eval and info. */
#include "session.h"
#include "arbiter.h"
#include "inference.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int cli_load(struct cli_opts *o, struct cli_ctx *c, bool tokenizer)
{
	char err[PHIMOE_ERRLEN];

	memset(c, 0, sizeof(*c));
	if (!o->have_model) {
		cli_err("%s: --model DIR is required", o->cmd);
		return -1;
	}
	if (phimoe_model_load(o->cfg.model, &c->m, err, sizeof(err))) {
		cli_err("%s", err);
		return -1;
	}
	c->model_loaded = true;
	if (tokenizer && phimoe_tokenizer_load(o->cfg.model, &c->tk, err, sizeof(err))) {
		cli_err("%s", err);
		cli_close(c);
		return -1;
	}
	return 0;
}

int cli_start_session(struct cli_opts *o, struct cli_ctx *c, int max_seq)
{
	struct sm_arbiter_opts ao = { 0 };
	struct phimoe_session_opts so = { 0 };
	char err[PHIMOE_ERRLEN];
	int rc;

	if (sm_arbiter_kind_parse(o->cfg.arbiter, &ao.kind) ||
	    sm_compute_parse(o->cfg.dtype, &so.compute)) {
		cli_err("bad arbiter '%s' or dtype '%s'", o->cfg.arbiter, o->cfg.dtype);
		return -1;
	}
	ao.dev_path = o->cfg.arbiter_dev;
	rc = sm_arbiter_open(&ao, &c->arb, err, sizeof(err));
	if (rc) {
		cli_err("arbiter %s: %s", o->cfg.arbiter, err);
		return -1;
	}
	so.threads = o->cfg.threads;
	so.max_seq = max_seq;
	so.arbiter = c->arb;
	so.arb_weight = o->cfg.cpu_weight;
	so.arb_reserve_mbps = o->cfg.cpu_reserve_mbps;
	rc = phimoe_session_create(&c->m, &so, &c->s, err, sizeof(err));
	if (rc) {
		cli_err("%s", err);
		return -1;
	}
	return 0;
}

void cli_close(struct cli_ctx *c)
{
	if (c->s)
		phimoe_session_destroy(c->s);
	if (c->arb)
		sm_arbiter_close(c->arb);
	phimoe_tokenizer_free(c->tk);
	if (c->model_loaded)
		phimoe_model_free(&c->m);
	memset(c, 0, sizeof(*c));
}
