/* SPDX-License-Identifier: MIT */
/*
 * The reference evaluator on the public API (include/splitmoe.h): a model
 * against a reference.json of the fixture's format (cases with prompt,
 * input_ids, logits [pos][vocab], router_logits [layer][pos][expert],
 * greedy_ids), one table row per case.
 *
 * Criteria, f32: tokenizer ids equal; every logit within logit_tol; the
 * router's top-2 choice equal at every layer and position; the greedy
 * continuation (prefill + KV-cache decode) equal. bf16: tokenizer ids
 * equal; top-1 equal on at least min_top1 of all positions; cosine
 * similarity of every position's logits at least min_cos (router and greedy
 * are reported, not required).
 *
 * `splitmoe eval` loads the model, reads the reference (eval_ref_load),
 * creates a session of the size it asks (eval_ref_max_seq, _max_batch) and
 * runs it (eval_ref_run). tests/eval/eval_reference.h runs the same on a runtime
 * session for the tests.
 */
#ifndef SPLITMOE_EVAL_CORE_H
#define SPLITMOE_EVAL_CORE_H

#include <stdbool.h>
#include <stdio.h>

#include "splitmoe.h"

#define EVAL_MAX_CASES 64

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
	splitmoe_compute compute;	/* what ran */
	int top1_agree, positions;	/* over all cases */
	double mean_cos, min_cos, mean_kl;	/* over all positions */
	int greedy_agree, greedy_n;
	/* over the positions routed as the reference (eval_case_result) */
	int routed_same, routed_same_top1;
	double routed_same_mean_cos;
	double prefill_tok_s, decode_tok_s;
	bool pass;
};

struct eval_criteria {
	double logit_tol;		/* 0: 1e-3 */
	double min_top1;		/* 0: 0.95 */
	double min_cos;			/* 0: 0.999 */
	/* Quantized weights (--quant's copy, or a quantized file, judged
	 * as its format): the criteria become top-1 agreement on at least
	 * min_top1 of the positions (0: 0.95 int8, 0.85 q4) and a mean
	 * cosine of at least min_mean_cos (0: 0.998 int8, 0.98 q4). */
	splitmoe_quant quant;
	double min_mean_cos;
	bool skip_tokenizer;		/* trust input_ids (no tokenizer.model) */
};

struct eval_ref;

/*
 * Reads ref_path and checks its cases against the model (ids within the
 * vocabulary, router layers). 0, or a negative errno with one line on
 * stderr naming the file and field.
 */
int eval_ref_read(const char *ref_path, struct eval_ref **out);
int eval_ref_check(struct eval_ref *r, const splitmoe_model *m);
void eval_ref_free(struct eval_ref *r);
/* The KV positions and the rows per pass a session needs for the cases
 * (after eval_ref_check). */
int eval_ref_max_seq(const struct eval_ref *r);
int eval_ref_max_batch(const struct eval_ref *r);

/*
 * Runs every case on session s (its sequence 0, reset before each),
 * prints the table to out (NULL: none). 0 when every criterion holds, 1
 * when one fails (res says which), or a negative errno with one line on
 * stderr. res may be NULL.
 */
int eval_ref_run(const struct eval_ref *r, const splitmoe_model *m, splitmoe_session *s,
		 const char *model_dir, const struct eval_criteria *c, FILE *out,
		 struct eval_result *res);

#endif /* SPLITMOE_EVAL_CORE_H */
