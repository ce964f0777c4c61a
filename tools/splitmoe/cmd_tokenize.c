// SPDX-License-Identifier: MIT
/* splitmoe tokenize: text -> ids (BOS and special tokens included), through
 * the public API (splitmoe.h) with the tokenizer alone loaded. */
#include "cli.h"
#include "splitmoe.h"

#include <stdio.h>
#include <stdlib.h>

int cmd_tokenize(struct cli_opts *o)
{
	struct splitmoe_model_params p = splitmoe_model_default_params();
	splitmoe_model *m;
	splitmoe_status st;
	char err[512];
	int32_t *ids = NULL;
	size_t n = 0, i;

	if (!o->have_model) {
		cli_err("tokenize: --model DIR is required");
		return 2;
	}
	if (!o->text) {
		cli_err("tokenize: --text TEXT is required");
		return 2;
	}
	p.vocab_only = true;
	if (splitmoe_model_load(o->model, &p, &m, err, sizeof(err))) {
		cli_err("%s", err);
		return 1;
	}
	/* the count first, then the ids */
	st = splitmoe_tokenize(m, o->text, NULL, 0, &n);
	if (st == SPLITMOE_OK || st == SPLITMOE_ERR_TOO_SMALL) {
		ids = malloc((n ? n : 1) * sizeof(*ids));
		st = ids ? splitmoe_tokenize(m, o->text, ids, n, &n) : SPLITMOE_ERR_NOMEM;
	}
	if (st != SPLITMOE_OK) {
		cli_err("tokenize: %s", splitmoe_status_str(st));
		free(ids);
		splitmoe_model_free(m);
		return 1;
	}
	for (i = 0; i < n; i++)
		printf("%s%d", i ? " " : "", ids[i]);
	putchar('\n');
	free(ids);
	splitmoe_model_free(m);
	return 0;
}
