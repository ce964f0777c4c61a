/* SPDX-License-Identifier: MIT */
/*
 * splitmoe CLI: options shared by the subcommands and their entry points.
 * OWNER: runtime loading & CLI.
 */
#ifndef SPLITMOE_CLI_H
#define SPLITMOE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "config_yaml.h"

struct cli_opts {
	const char *cmd;
	struct sm_config cfg;		/* YAML, then flags */
	bool have_model;
	const char *prompt, *chat, *ids, *text, *out, *reference;
	int n;				/* tokens to generate */
	float temperature, top_p;
	int top_k;
	uint64_t seed;
	bool print_ids;
	bool device_given;		/* --device on the command line */
	bool weights_given;		/* --weights on the command line */
};

/* Parse argv after the subcommand. 0, or -1 after printing one error. */
int cli_parse(int argc, char **argv, struct cli_opts *o);

/* Print "splitmoe: " + message to stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse "1,2,3" into a malloc'ed array; ids must be in [0, vocab). */
int cli_parse_ids(const char *s, int vocab, int **ids, size_t *n);

int cmd_run(struct cli_opts *o);
int cmd_logits(struct cli_opts *o);
int cmd_tokenize(struct cli_opts *o);
int cmd_eval(struct cli_opts *o);
int cmd_info(struct cli_opts *o);

/* One line "resident memory (WHEN): ... MB" on out. */
void cli_report_memory(FILE *out, const char *when);

#endif /* SPLITMOE_CLI_H */
