/* SPDX-License-Identifier: MIT */
/*
 * The reference evaluator (eval_core.h) on a runtime session of the
 * caller's making, for the tests of the backends: a Level Zero or split
 * backend, an arbiter, options the public API has no names for. `splitmoe
 * eval` runs eval_core.h on the public API instead.
 */
#ifndef SPLITMOE_EVAL_REFERENCE_H
#define SPLITMOE_EVAL_REFERENCE_H

#include <stdbool.h>
#include <stdio.h>

#include "engine/inference.h"
#include "tools/eval/eval_core.h"

struct sm_arbiter;

struct eval_opts {
	enum sm_compute compute;	/* AUTO: the CPU's default */
	int threads;			/* 0: library default */
	struct sm_arbiter *arbiter;	/* NULL: ungated */
	struct sm_backend *backend;	/* NULL: CPU backend */
	enum sm_weights_layout weights;	/* that CPU backend's; 0: auto */
	double logit_tol;		/* 0: 1e-3 */
	double min_top1;		/* 0: 0.95 */
	double min_cos;			/* 0: 0.999 */
	bool skip_tokenizer;		/* trust input_ids (no tokenizer.model) */
	/* Quantized weights (quant.h): eval_criteria.quant */
	enum sm_quant quant;
	double min_mean_cos;
};

/*
 * Loads model_dir, runs every case, prints the table to out (NULL: none).
 * 0 when every criterion holds, 1 when one fails (res says which), or a
 * negative errno with one line on stderr naming the file and field
 * (unreadable/malformed reference, model or tokenizer that will not load).
 * res may be NULL.
 */
int splitmoe_eval(const char *model_dir, const char *ref_path,
		  const struct eval_opts *o, FILE *out, struct eval_result *res);

#endif /* SPLITMOE_EVAL_REFERENCE_H */
