// SPDX-License-Identifier: MIT
/* TRANSITIONAL (cli_legacy.h): the runtime's view for the subcommands not
 * yet on the API. */
#include "session.h"
#include "bench.h"
#include "libsplitmoe/api_internal.h"

#include <string.h>

void cli_legacy_opts_fill(struct cli_opts *o)
{
	o->cfg = o->conf->c;
}

void cli_legacy_opts_sync(struct cli_opts *o)
{
	sm_api_params_of_config(&o->cfg, &o->sp);
}

void cli_legacy_opts_resolved(struct cli_opts *o)
{
	o->cfg.quant = sm_api_quant(o->sp.quant);
	o->cfg.arb_capacity_mbps = o->sp.arbiter_capacity_mbps == SPLITMOE_MBPS_AUTO ?
				   SM_CONFIG_AUTO : o->sp.arbiter_capacity_mbps;
	o->cfg.arb_guaranteed_mbps = o->sp.arbiter_guaranteed_mbps == SPLITMOE_MBPS_AUTO ?
				     SM_CONFIG_AUTO : o->sp.arbiter_guaranteed_mbps;
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

void cli_report_format(FILE *out, const struct phimoe_model *m, enum sm_compute compute,
		       enum sm_quant quant)
{
	const struct phimoe_config *k = &m->cfg;
	struct bench_bytes b;
	char what[160];

	if (compute == SM_COMPUTE_AUTO)
		compute = sm_compute_default();
	if (k->quant != PHIMOE_QUANT_NONE)
		snprintf(what, sizeof(what), "%s file (groups of %d, f16 scales), read in place; "
			 "other weights %s, compute %s", phimoe_quant_name(k->quant), k->quant_group,
			 phimoe_dtype_name(k->storage_dtype), sm_compute_name(compute));
	else if (quant != SM_QUANT_NONE)
		snprintf(what, sizeof(what), "%s, quantized at load from %s (groups of %d, f16 "
			 "scales); compute %s", sm_quant_name(quant),
			 phimoe_dtype_name(k->storage_dtype), SM_Q4_GROUP, sm_compute_name(compute));
	else
		snprintf(what, sizeof(what), "%s checkpoint, compute %s",
			 phimoe_dtype_name(k->storage_dtype), sm_compute_name(compute));
	bench_bytes_init(m, compute, quant, &b);
	fprintf(out, "format: %s; weights read per decoded token %.2f MB (%d of %d experts per "
		"layer)\n", what, bench_bytes_decode(&b) / 1e6, k->num_experts_per_tok,
		k->num_local_experts);
}

int cli_open_devices(struct cli_opts *o, struct sm_arbiter *arb, enum sm_compute compute,
		     struct sm_devices *d, struct sm_backend **backend)
{
	struct sm_device_opts dop = {
		.device = o->cfg.device,
		.gpu_name = o->cfg.gpu_device,
		.plan = o->cfg.split,
		.weights = o->cfg.weights,
		.threads = o->cfg.threads,
		.arbiter = arb,
		.cpu_weight = o->cfg.cpu_weight,
		.gpu_weight = o->cfg.gpu_weight,
		.cpu_reserve_mbps = o->cfg.cpu_reserve_mbps,
		.gpu_reserve_mbps = o->cfg.gpu_reserve_mbps,
	};
	char err[PHIMOE_ERRLEN];

	*backend = NULL;
	memset(d, 0, sizeof(*d));
	if (o->cfg.device == SM_DEVICE_CPU)
		return 0;	/* the session's own CPU backend, as always */
	if (compute == SM_COMPUTE_AUTO)
		compute = sm_compute_default();
	dop.compute = compute == SM_COMPUTE_BF16 ? SM_BACKEND_BF16 : SM_BACKEND_F32;
	if (sm_devices_open(&dop, d, err, sizeof(err))) {
		cli_err("%s", err);
		return -1;
	}
	if (d->note[0]) {
		cli_err("device %s: %s", sm_device_mode_name(dop.device), d->note);
		sm_devices_close(d);	/* the session's own CPU backend */
		return 0;
	}
	*backend = d->use;
	return 0;
}
