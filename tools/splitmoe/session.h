/* SPDX-License-Identifier: MIT */
/* Model, tokenizer, arbiter and inference session of one CLI invocation. */
#ifndef SPLITMOE_CLI_SESSION_H
#define SPLITMOE_CLI_SESSION_H

#include "cli.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "sched/device_setup.h"
#include "engine/inference.h"
#include "cpu/quant.h"
#include "arbiter/arbiter.h"

struct phimoe_session;
struct sm_arbiter;

struct cli_ctx {
	struct phimoe_model m;
	bool model_loaded;
	struct phimoe_tokenizer *tk;
	struct sm_arbiter *arb;
	struct phimoe_session *s;
	struct sm_devices dev;		/* --device gpu|split: the backends */
	enum sm_weights_layout weights;	/* the CPU's weights layout */
	enum sm_quant quant;		/* the CPU's quantization (auto resolved) */
};

/* --quant auto (the default) made what the CPU and the checkpoint call
 * for (sm_quant_default; none on the Level Zero devices and for a
 * quantized file, which runs as stored). */
void cli_quant_resolve(struct cli_opts *o, enum phimoe_dtype storage, bool quantized_file);
/* Load the model (and the tokenizer when asked; --quant auto resolved).
 * 0, or -1 after one error. */
int cli_load(struct cli_opts *o, struct cli_ctx *c, bool tokenizer);
/* arbiter.capacity_mbps / guaranteed_mbps: auto replaced by the measured
 * figures (in a child process: call before any OpenMP region), for the
 * process backend; 0 (the module's own) for kernel and off. 0, or -1
 * after one error. */
int cli_resolve_arbiter_bus(struct cli_opts *o, enum sm_arbiter_kind kind);
/* Open the arbiter and create the session (KV cache for max_seq tokens). */
int cli_start_session(struct cli_opts *o, struct cli_ctx *c, int max_seq);
/* Undo cli_start_session (session, devices, arbiter); the model stays,
 * and cli_start_session may follow again (bench: one per thread count). */
void cli_end_session(struct cli_ctx *c);
void cli_close(struct cli_ctx *c);
/* One line: the weight bytes each device's backend holds for the session,
 * and how many of them both devices read from one copy. */
void cli_report_weights(FILE *out, const struct cli_ctx *c);
/* One line: the format the CPU runs (a quantized file's, --quant's copy,
 * or the checkpoint's dtype as compute type) and the weight bytes one
 * decoded token reads (bench.h's count: top-k experts per layer, one
 * embedding row). */
void cli_report_format(FILE *out, const struct phimoe_model *m, enum sm_compute compute,
		       enum sm_quant quant);
/* After the work: one line per arbiter client (cpu, and gpu for --device
 * gpu|split): acquires, completes, bytes granted, time waiting. */
void cli_report_arbiter(FILE *out, const struct cli_ctx *c);
/* For --device gpu|split, after the work: one line with the iGPU's
 * device time per op class (Level Zero kernel timestamps) and its arbiter
 * client's figures; nothing on the CPU path. */
void cli_report_gpu(FILE *out, const struct cli_ctx *c);
/* For --device gpu|split: the backends and their arbiter clients (arb may
 * be NULL); *backend stays NULL for the CPU path (also after a fallback,
 * which prints one line). 0, or -1 after one error. */
int cli_open_devices(struct cli_opts *o, struct sm_arbiter *arb, enum sm_compute compute,
		     struct sm_devices *d, struct sm_backend **backend);

#endif
