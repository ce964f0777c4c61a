// SPDX-License-Identifier: MIT
/* splitmoe eval: compare with a reference.json through the evaluator on
 * the public API (tools/eval/eval_core.h), gated like run. */
#include "cli.h"
#include "session.h"
#include "tools/eval/eval_core.h"

#include <stdio.h>

int cmd_eval(struct cli_opts *o)
{
	struct eval_criteria crit = { 0 };
	struct eval_ref *ref = NULL;
	struct cli_ctx c = { 0 };
	int rc = 1;

	if (!o->have_model || !o->reference) {
		cli_err("eval: --model DIR and --reference FILE.json are required");
		return 2;
	}
	/* eval measures the checkpoint's own precision unless asked */
	if (o->sp.quant == SPLITMOE_QUANT_AUTO)
		o->sp.quant = SPLITMOE_QUANT_NONE;
	/* the evaluator printed why on failure */
	if (eval_ref_read(o->reference, &ref))
		return 1;
	if (cli_load(o, &c, true) || eval_ref_check(ref, c.model))
		goto out;
	/* every case's prompt in one pass; its greedy ids after it */
	o->max_batch = eval_ref_max_batch(ref);
	if (cli_start_session(o, &c, eval_ref_max_seq(ref)))
		goto out;
	crit.quant = o->sp.quant;
	rc = eval_ref_run(ref, c.model, c.session, o->model, &crit, stdout, NULL);
	/* negative: the evaluator printed why; 1: a criterion failed */
	rc = rc < 0 ? 1 : rc;
out:
	cli_close(&c);
	eval_ref_free(ref);
	return rc;
}
