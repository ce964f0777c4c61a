// SPDX-License-Identifier: MIT
/* splitmoe eval: compare with a reference.json through the forward-pass
 * evaluator (tools/eval/eval_reference.h), gated like run. */
#include "cli.h"
#include "session.h"
#include "arbiter/arbiter.h"
#include "tools/eval/eval_reference.h"
#include "model/model.h"

#include <stdio.h>
#include <string.h>

int cmd_eval(struct cli_opts *o)
{
	struct sm_arbiter_opts ao = { 0 };
	struct eval_opts eo = { 0 };
	struct sm_arbiter *arb = NULL;
	struct sm_devices dev;
	char err[PHIMOE_ERRLEN];
	int rc;

	if (!o->have_model || !o->reference) {
		cli_err("eval: --model DIR and --reference FILE.json are required");
		return 2;
	}
	/* eval measures the checkpoint's own precision unless asked */
	if (o->cfg.quant == SM_QUANT_AUTO)
		o->cfg.quant = SM_QUANT_NONE;
	ao.kind = o->cfg.arbiter;
	eo.compute = o->cfg.dtype;
	eo.weights = o->cfg.weights;
	eo.quant = o->cfg.quant;
	ao.dev_path = o->cfg.arbiter_dev;
	if (sm_arbiter_open(&ao, &arb, err, sizeof(err))) {
		cli_err("arbiter %s: %s", sm_arbiter_kind_name(o->cfg.arbiter), err);
		return 1;
	}
	eo.threads = o->cfg.threads;
	eo.arbiter = arb;
	if (cli_open_devices(o, arb, eo.compute, &dev, &eo.backend)) {
		sm_arbiter_close(arb);
		return 1;
	}
	rc = splitmoe_eval(o->cfg.model, o->reference, &eo, stdout, NULL);
	sm_devices_close(&dev);
	sm_arbiter_close(arb);
	/* negative: the evaluator printed why; 1: a criterion failed */
	return rc < 0 ? 1 : rc;
}
