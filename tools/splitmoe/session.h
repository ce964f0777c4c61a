/* SPDX-License-Identifier: MIT */
/* Model, tokenizer and inference session of one CLI invocation, on the
 * public API (include/splitmoe.h). */
#ifndef SPLITMOE_CLI_SESSION_H
#define SPLITMOE_CLI_SESSION_H

#include "cli.h"
#include "splitmoe.h"

#include <stdio.h>

struct cli_ctx {
	splitmoe_model *model;
	splitmoe_session *session;	/* NULL between sessions */
};

/* Load the model (and the tokenizer when asked) and resolve --quant auto
 * in o->sp for it (splitmoe_quant_resolve). 0, or -1 after one error. */
int cli_load(struct cli_opts *o, struct cli_ctx *c, bool tokenizer);
/* The arbiter's capacity and guarantee: auto replaced in o->sp by the
 * measured figures (in a child process: call before any OpenMP region)
 * for the process backend; 0 (the module's own) for kernel and off. 0, or
 * -1 after one error. */
int cli_resolve_arbiter_bus(struct cli_opts *o);
/* Open the arbiter and the devices and create the session (KV cache for
 * max_seq tokens) with o->sp and the batching flags. 0, or -1 after one
 * error. */
int cli_start_session(struct cli_opts *o, struct cli_ctx *c, int max_seq);
/* Undo cli_start_session; the model stays, and cli_start_session may
 * follow again (bench: one per thread count). */
void cli_end_session(struct cli_ctx *c);
void cli_close(struct cli_ctx *c);
/* text's ids (chat: one user turn in the chat format, text the user's
 * message) into a malloc'ed array. 0, or -1 after one error. */
int cli_tokenize(const struct cli_ctx *c, const char *text, bool chat, int32_t **ids, size_t *n);
/* One line: the weight bytes each device's backend holds for the session,
 * and how many of them both devices read from one copy. */
void cli_report_weights(FILE *out, const struct cli_ctx *c);
/* One line: the format the CPU runs (a quantized file's, --quant's copy,
 * or the checkpoint's dtype as compute type) and the weight bytes one
 * decoded token reads (top-k experts per layer, one embedding row). */
void cli_report_model_format(FILE *out, const splitmoe_model *m, splitmoe_compute compute,
			     splitmoe_quant quant);
/* After the work: one line per arbiter client (cpu, and gpu for --device
 * gpu|split): acquires, completes, bytes granted, time waiting. */
void cli_report_arbiter(FILE *out, const struct cli_ctx *c);
/* For --device gpu|split, after the work: one line with the iGPU's
 * device time per op class (Level Zero kernel timestamps); nothing on the
 * CPU path. */
void cli_report_gpu(FILE *out, const struct cli_ctx *c);
/* The name of an option's value ("bf16" for SPLITMOE_COMPUTE_BF16...). */
static inline const char *cli_name(splitmoe_option opt, int value)
{
	return splitmoe_option_name(opt, value);
}

#endif
