// SPDX-License-Identifier: MIT
/* splitmoe tokenize: text -> ids (BOS and special tokens included). */
#include "cli.h"
#include "model/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>

int cmd_tokenize(struct cli_opts *o)
{
	struct phimoe_tokenizer *tk;
	char err[512];
	int *ids;
	size_t n, i;

	if (!o->have_model) {
		cli_err("tokenize: --model DIR is required");
		return 2;
	}
	if (!o->text) {
		cli_err("tokenize: --text TEXT is required");
		return 2;
	}
	if (phimoe_tokenizer_load(o->cfg.model, &tk, err, sizeof(err))) {
		cli_err("%s", err);
		return 1;
	}
	if (phimoe_tokenizer_encode(tk, o->text, &ids, &n, err, sizeof(err))) {
		cli_err("%s", err);
		phimoe_tokenizer_free(tk);
		return 1;
	}
	for (i = 0; i < n; i++)
		printf("%s%d", i ? " " : "", ids[i]);
	putchar('\n');
	free(ids);
	phimoe_tokenizer_free(tk);
	return 0;
}
