/* SPDX-License-Identifier: MIT */
/*
 * `splitmoe eval`: runs a model against a reference.json of the fixture's
 * format (cases with prompt, input_ids, logits [pos][vocab], router_logits
 * [layer][pos][expert], greedy_ids) and prints one table row per case.
 *
 * Criteria, f32: tokenizer ids equal; every logit within logit_tol; the
 * router's top-2 choice equal at every layer and position; the greedy
 * continuation (prefill + KV-cache decode) equal. bf16: tokenizer ids
 * equal; top-1 equal on at least min_top1 of all positions; cosine
 * similarity of every position's logits at least min_cos (router and greedy
 * are reported, not required).
 */
#ifndef SPLITMOE_EVAL_REFERENCE_H
#define SPLITMOE_EVAL_REFERENCE_H

#include <stdbool.h>
#include <stdio.h>

#include "engine/inference.h"

#define EVAL_MAX_CASES 64

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
	/* Quantized weights (quant.h): the criteria become top-1 agreement
	 * on at least min_top1 of the positions (0: 0.95 int8, 0.85 q4) and
	 * a mean cosine of at least min_mean_cos (0: 0.998 int8, 0.98 q4). */
	enum sm_quant quant;
	double min_mean_cos;
};

struct eval_case_result {
	int n_pos;			/* prompt tokens */
	int tokenizer_ok;		/* 1 equal, 0 differs, -1 not checked */
	double max_abs_err;		/* over every logit */
	double min_cos;			/* over positions */
	int top1_agree;			/* positions whose argmax agrees */
	int router_agree, router_total;	/* (layer, position) top-2 pairs */
	double router_max_abs_err;	/* raw router scores */
	int greedy_agree, greedy_n;	/* leading greedy ids equal */
	double sum_cos;			/* over positions */
	double sum_kl;			/* KL(reference || ours) of the softmaxes */
	/* positions routed as the reference in every layer: the same two
	 * experts, each weight within EVAL_ROUTE_WEIGHT_TOL (the sparsemixer's
	 * choice and weights are discontinuous); their top-1 and cosine */
	int routed_same, routed_same_top1;
	double routed_same_sum_cos;
	bool pass;
};
#define EVAL_ROUTE_WEIGHT_TOL 0.05

struct eval_result {
	int n_cases;
	struct eval_case_result cases[EVAL_MAX_CASES];
	enum sm_compute compute;	/* what ran */
	int top1_agree, positions;	/* over all cases */
	double mean_cos, min_cos, mean_kl;	/* over all positions */
	int greedy_agree, greedy_n;
	/* over the positions routed as the reference (eval_case_result) */
	int routed_same, routed_same_top1;
	double routed_same_mean_cos;
	double prefill_tok_s, decode_tok_s;
	bool pass;
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
