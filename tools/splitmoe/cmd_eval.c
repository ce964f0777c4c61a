// SPDX-License-Identifier: MIT
/* splitmoe eval: compare with a reference.json (forward-pass engineer's
 * evaluator). */
#include "cli.h"

int cmd_eval(struct cli_opts *o)
{
	cli_err("%s: not wired yet", o->cmd);
	return 1;
}
