// SPDX-License-Identifier: MIT
/* TRANSITIONAL (cli_legacy.h): the runtime's view for the subcommands not
 * yet on the API. */
#include "session.h"
#include "libsplitmoe/api_internal.h"

#include <string.h>

/* o->cfg as last derived from or given to o->sp: what a subcommand not
 * yet ported changed in o->cfg since is what it asks for. */
static struct sm_config seen;

void cli_legacy_opts_fill(struct cli_opts *o)
{
	o->cfg = o->conf->c;
	seen = o->cfg;
}

void cli_legacy_opts_sync(struct cli_opts *o)
{
	/* only when o->cfg changed: a ported subcommand sets o->sp itself */
	if (!memcmp(&o->cfg, &seen, sizeof(seen)))
		return;
	sm_api_params_of_config(&o->cfg, &o->sp);
	seen = o->cfg;
}

void cli_legacy_opts_resolved(struct cli_opts *o)
{
	o->cfg.quant = sm_api_quant(o->sp.quant);
	o->cfg.arb_capacity_mbps = o->sp.arbiter_capacity_mbps == SPLITMOE_MBPS_AUTO ?
				   SM_CONFIG_AUTO : o->sp.arbiter_capacity_mbps;
	o->cfg.arb_guaranteed_mbps = o->sp.arbiter_guaranteed_mbps == SPLITMOE_MBPS_AUTO ?
				     SM_CONFIG_AUTO : o->sp.arbiter_guaranteed_mbps;
	seen.quant = o->cfg.quant;
	seen.arb_capacity_mbps = o->cfg.arb_capacity_mbps;
	seen.arb_guaranteed_mbps = o->cfg.arb_guaranteed_mbps;
}

void cli_legacy_ctx_fill(struct cli_ctx *c)
{
	memset(&c->m, 0, sizeof(c->m));
	c->tk = NULL;
	c->arb = NULL;
	c->s = NULL;
	memset(&c->dev, 0, sizeof(c->dev));
	if (c->model) {
		c->m = c->model->m;
		c->tk = c->model->tk;
	}
	if (c->session) {
		c->arb = c->session->arb;
		c->s = c->session->s;
		if (c->session->dev_open)
			c->dev = c->session->dev;
	}
}
