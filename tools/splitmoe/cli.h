/* SPDX-License-Identifier: MIT */
/*
 * splitmoe CLI: options shared by the subcommands and their entry points.
 */
#ifndef SPLITMOE_CLI_H
#define SPLITMOE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "splitmoe.h"

/* A comma list of integers from the command line (-p, -d, -t). */
#define CLI_LIST_MAX 32
struct cli_int_list {
	bool given;
	int n;
	int v[CLI_LIST_MAX];
};

struct synth_shape;

struct cli_opts {
	const char *cmd;
	/* --config's YAML, then the flags over it (owned by cli_parse for the
	 * life of the process) */
	const splitmoe_config *conf;
	/* the session conf describes; a subcommand may change fields before
	 * cli_start_session (bench: threads) */
	struct splitmoe_session_params sp;
	const char *model;		/* the model directory ("" when none) */
	bool have_model;
	const char *prompt, *chat, *ids, *text, *out, *reference;
	int n;				/* tokens to generate */
	float temperature, top_p;
	int top_k;
	uint64_t seed;
	bool print_ids;
	bool device_given;		/* --device on the command line */
	bool weights_given;		/* --weights on the command line */
	bool dtype_given;		/* --dtype on the command line */
	bool seed_given;		/* --seed on the command line */
	bool n_given;			/* -n on the command line */
	int max_batch;			/* prefill chunk of the session; 0: engine default */
	int max_seqs, kv_tokens;	/* batched decode (inference.h); 0: engine default */
	bool profile;			/* bench --profile: session timing by op class */
	/* bench */
	struct cli_int_list pp;		/* -p: prefill sizes */
	struct cli_int_list depth;	/* -d: context depths of the decode tests */
	struct cli_int_list tlist;	/* -t: thread counts */
	struct cli_int_list parallel;	/* --parallel: concurrent sequences */
	int reps;			/* -r: repetitions; 0: not given */
	bool json, membw, no_membw;
	double membw_gbs;		/* --membw-gbs: > 0 when given */
	/* serve */
	const char *host;		/* --host: numeric address (127.0.0.1) */
	int port;			/* --port (8080; 0: any free one) */
	int queue;			/* --queue: requests waiting beyond them (64) */
	/* synth */
	const struct synth_shape *shape;	/* --shape */
	int layers;			/* --layers; 0: the shape's */
	/* quantize */
	int quant_type;			/* --type: splitmoe_quant INT8 or Q4; 0: not given */
	unsigned quant_tensors;		/* --tensors: QZ_* of quantize.h */
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
int cmd_bench(struct cli_opts *o);
int cmd_synth(struct cli_opts *o);
int cmd_serve(struct cli_opts *o);
int cmd_chat(struct cli_opts *o);
int cmd_quantize(struct cli_opts *o);

/* One line "resident memory (WHEN): ... MB" on out. */
void cli_report_memory(FILE *out, const char *when);

#endif /* SPLITMOE_CLI_H */
