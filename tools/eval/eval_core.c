// SPDX-License-Identifier: MIT
/* The reference evaluator on the public API; see eval_core.h. */
#include "eval_core.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

struct ref_case {
	const char *prompt;
	int n;
	int32_t *ids;
	struct json_object *logits, *router, *greedy;
	int n_greedy;
};

static double secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* KL(p || q) of the softmaxes of logits p (reference) and q, in nats. */
static double kl_div(const float *p, const float *q, int n)
{
	double mp = -INFINITY, mq = -INFINITY, zp = 0, zq = 0, kl = 0;

	for (int i = 0; i < n; i++) {
		mp = p[i] > mp ? p[i] : mp;
		mq = q[i] > mq ? q[i] : mq;
	}
	for (int i = 0; i < n; i++) {
		zp += exp(p[i] - mp);
		zq += exp(q[i] - mq);
	}
	for (int i = 0; i < n; i++) {
		double lp = p[i] - mp - log(zp), lq = q[i] - mq - log(zq);

		kl += exp(lp) * (lp - lq);
	}
	return kl;
}

static int argmax(const float *v, int n)
{
	int b = 0;

	for (int i = 1; i < n; i++)
		if (v[i] > v[b])
			b = i;
	return b;
}

/* The array member `key` of case i, with `want` elements (-1: any). */
static struct json_object *get_array(const char *ref, int i, struct json_object *c,
				     const char *key, int want)
{
	struct json_object *a;

	if (!json_object_object_get_ex(c, key, &a) || !json_object_is_type(a, json_type_array)) {
		fprintf(stderr, "%s: cases[%d].%s: missing or not an array\n", ref, i, key);
		return NULL;
	}
	if (want >= 0 && (int)json_object_array_length(a) != want) {
		fprintf(stderr, "%s: cases[%d].%s: %zu entries, want %d\n", ref, i, key,
			json_object_array_length(a), want);
		return NULL;
	}
	return a;
}

/* Row `a` (an array of n numbers) into dst; -1 with a message if malformed. */
static int get_row(const char *ref, const char *what, struct json_object *a, int n, float *dst)
{
	if (!a || !json_object_is_type(a, json_type_array) ||
	    (int)json_object_array_length(a) != n) {
		fprintf(stderr, "%s: %s: not an array of %d numbers\n", ref, what, n);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(a, i);

		if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)) {
			fprintf(stderr, "%s: %s[%d]: not a number\n", ref, what, i);
			return -1;
		}
		dst[i] = (float)json_object_get_double(v);
	}
	return 0;
}

struct eval_ref {
	const char *path;
	struct json_object *root, *cases;
	int n_cases;
	struct ref_case rcs[EVAL_MAX_CASES];
	int max_n, max_greedy;
};

static int parse_case(const char *ref, int i, struct json_object *c,
		      const struct splitmoe_model_info *mi, struct ref_case *rc)
{
	struct json_object *p, *ids;

	memset(rc, 0, sizeof(*rc));
	if (!json_object_object_get_ex(c, "prompt", &p) || !json_object_is_type(p, json_type_string)) {
		fprintf(stderr, "%s: cases[%d].prompt: missing or not a string\n", ref, i);
		return -EINVAL;
	}
	rc->prompt = json_object_get_string(p);
	ids = get_array(ref, i, c, "input_ids", -1);
	if (!ids)
		return -EINVAL;
	rc->n = (int)json_object_array_length(ids);
	if (rc->n < 1) {
		fprintf(stderr, "%s: cases[%d].input_ids: empty\n", ref, i);
		return -EINVAL;
	}
	rc->ids = calloc(rc->n, sizeof(int32_t));
	if (!rc->ids)
		return -ENOMEM;
	for (int j = 0; j < rc->n; j++) {
		struct json_object *v = json_object_array_get_idx(ids, j);
		int64_t id = json_object_get_int64(v);

		if (!json_object_is_type(v, json_type_int) || id < 0 || id >= mi->vocab) {
			fprintf(stderr, "%s: cases[%d].input_ids[%d]: not a token id of vocab %d\n",
				ref, i, j, mi->vocab);
			return -EINVAL;
		}
		rc->ids[j] = (int32_t)id;
	}
	rc->logits = get_array(ref, i, c, "logits", rc->n);
	rc->router = get_array(ref, i, c, "router_logits", -1);
	rc->greedy = get_array(ref, i, c, "greedy_ids", -1);
	if (!rc->logits || !rc->router || !rc->greedy)
		return -EINVAL;
	if (json_object_array_length(rc->router) &&
	    (int)json_object_array_length(rc->router) != mi->layers) {
		fprintf(stderr, "%s: cases[%d].router_logits: %zu layers, model has %d\n",
			ref, i, json_object_array_length(rc->router), mi->layers);
		return -EINVAL;
	}
	rc->n_greedy = (int)json_object_array_length(rc->greedy);
	return 0;
}

int eval_ref_read(const char *ref_path, struct eval_ref **out)
{
	struct eval_ref *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->path = ref_path;
	r->root = json_object_from_file(ref_path);
	if (!r->root) {
		const char *why = json_util_get_last_err();
		int len = why ? (int)strcspn(why, "\n") : 0;

		fprintf(stderr, "%s: cannot read reference: %.*s\n", ref_path, len, why ? why : "");
		goto bad;
	}
	if (!json_object_object_get_ex(r->root, "cases", &r->cases) ||
	    !json_object_is_type(r->cases, json_type_array) ||
	    !json_object_array_length(r->cases)) {
		fprintf(stderr, "%s: cases: missing, empty or not an array\n", ref_path);
		goto bad;
	}
	if (json_object_array_length(r->cases) > EVAL_MAX_CASES) {
		fprintf(stderr, "%s: cases: %zu cases, at most %d supported\n", ref_path,
			json_object_array_length(r->cases), EVAL_MAX_CASES);
		goto bad;
	}
	*out = r;
	return 0;
bad:
	eval_ref_free(r);
	return -EINVAL;
}

int eval_ref_check(struct eval_ref *r, const splitmoe_model *m)
{
	struct splitmoe_model_info mi;
	int n = (int)json_object_array_length(r->cases);

	splitmoe_model_info(m, &mi);
	for (int i = 0; i < n; i++) {
		int rc = parse_case(r->path, i, json_object_array_get_idx(r->cases, i), &mi,
				    &r->rcs[i]);

		r->n_cases = i + 1;	/* what eval_ref_free frees */
		if (rc)
			return rc;
		if (r->rcs[i].n > r->max_n)
			r->max_n = r->rcs[i].n;
		if (r->rcs[i].n_greedy > r->max_greedy)
			r->max_greedy = r->rcs[i].n_greedy;
	}
	if (eval_ref_max_seq(r) > mi.max_positions) {
		fprintf(stderr, "%s: a case needs %d positions, the model has %d\n",
			r->path, eval_ref_max_seq(r), mi.max_positions);
		return -EINVAL;
	}
	return 0;
}

void eval_ref_free(struct eval_ref *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->n_cases; i++)
		free(r->rcs[i].ids);
	json_object_put(r->root);
	free(r);
}

int eval_ref_max_seq(const struct eval_ref *r)
{
	return r->max_n + r->max_greedy + 1;
}

int eval_ref_max_batch(const struct eval_ref *r)
{
	return r->max_n;
}

struct eval_bufs {
	float *logits, *router, *ref_row, *ref_router, *weights;
	int32_t *experts;
	bool *same;		/* [n]: routed as the reference in every layer */
	int32_t *tok;		/* the tokenizer's ids of a prompt */
	size_t tok_cap;
};

/* 1 when the tokenizer gives the case's input_ids, 0 when not; negative
 * errno with one line on stderr when it cannot tokenize. */
static int tokenizer_agrees(const splitmoe_model *m, const char *ref, int ci,
			    const struct ref_case *rc, struct eval_bufs *b)
{
	size_t n = 0;
	splitmoe_status st = splitmoe_tokenize(m, rc->prompt, b->tok, b->tok_cap, &n);

	if (st == SPLITMOE_ERR_TOO_SMALL) {
		int32_t *more = realloc(b->tok, n * sizeof(*more));

		if (!more)
			return -ENOMEM;
		b->tok = more;
		b->tok_cap = n;
		st = splitmoe_tokenize(m, rc->prompt, b->tok, b->tok_cap, &n);
	}
	if (st != SPLITMOE_OK) {
		fprintf(stderr, "%s: cases[%d].prompt: %s\n", ref, ci, splitmoe_status_str(st));
		return st == SPLITMOE_ERR_NOMEM ? -ENOMEM : -EINVAL;
	}
	if ((int)n != rc->n)
		return 0;
	for (int j = 0; j < rc->n; j++)
		if (b->tok[j] != rc->ids[j])
			return 0;
	return 1;
}

static int run_case(splitmoe_session *s, const splitmoe_model *m, bool tokenizer,
		    const char *ref, int ci, const struct ref_case *rc, struct eval_bufs *b,
		    struct eval_case_result *r, double *t_prefill, double *t_decode)
{
	int V = splitmoe_model_vocab(m), L = splitmoe_model_layers(m);
	int E = splitmoe_model_experts(m);
	struct splitmoe_prefill_out po = {
		.logits = b->logits, .router_logits = b->router, .experts = b->experts,
		.expert_weights = b->weights,
	};
	double t0;

	memset(r, 0, sizeof(*r));
	r->n_pos = rc->n;
	r->min_cos = 1.0;
	r->tokenizer_ok = -1;
	if (tokenizer) {
		r->tokenizer_ok = tokenizer_agrees(m, ref, ci, rc, b);
		if (r->tokenizer_ok < 0)
			return r->tokenizer_ok;
	}

	splitmoe_session_reset(s);
	t0 = secs();
	if (splitmoe_prefill_ex(s, rc->ids, rc->n, &po) != SPLITMOE_OK) {
		fprintf(stderr, "%s: cases[%d]: prefill: %s\n", ref, ci, splitmoe_session_error(s));
		return -EIO;
	}
	*t_prefill += secs() - t0;

	for (int p = 0; p < rc->n; p++)
		b->same[p] = true;
	for (int l = 0; json_object_array_length(rc->router) && l < L; l++) {
		struct json_object *layer = json_object_array_get_idx(rc->router, l);

		if (!json_object_is_type(layer, json_type_array) ||
		    (int)json_object_array_length(layer) != rc->n) {
			fprintf(stderr, "%s: cases[%d].router_logits[%d]: not %d positions\n",
				ref, ci, l, rc->n);
			return -EINVAL;
		}
		for (int p = 0; p < rc->n; p++) {
			const float *mine = b->router + ((size_t)l * rc->n + p) * E;
			const int32_t *sel = b->experts + ((size_t)l * rc->n + p) * 2;
			int32_t want[2];
			float w[2];
			char what[64];

			snprintf(what, sizeof(what), "cases[%d].router_logits[%d][%d]", ci, l, p);
			if (get_row(ref, what, json_object_array_get_idx(layer, p), E, b->ref_router))
				return -EINVAL;
			for (int e = 0; e < E; e++) {
				double d = fabs((double)mine[e] - b->ref_router[e]);

				if (d > r->router_max_abs_err)
					r->router_max_abs_err = d;
			}
			splitmoe_model_route(m, b->ref_router, want, w);
			r->router_total++;
			r->router_agree += sel[0] == want[0] && sel[1] == want[1];
			const float *mw = b->weights + ((size_t)l * rc->n + p) * 2;

			if (sel[0] != want[0] || sel[1] != want[1] ||
			    fabsf(mw[0] - w[0]) > EVAL_ROUTE_WEIGHT_TOL ||
			    fabsf(mw[1] - w[1]) > EVAL_ROUTE_WEIGHT_TOL)
				b->same[p] = false;
		}
	}

	for (int p = 0; p < rc->n; p++) {
		const float *mine = b->logits + (size_t)p * V;
		double dot = 0, na = 0, nb = 0;
		char what[64];

		snprintf(what, sizeof(what), "cases[%d].logits[%d]", ci, p);
		if (get_row(ref, what, json_object_array_get_idx(rc->logits, p), V, b->ref_row))
			return -EINVAL;
		for (int v = 0; v < V; v++) {
			double d = fabs((double)mine[v] - b->ref_row[v]);

			if (d > r->max_abs_err || isnan(d))
				r->max_abs_err = isnan(d) ? INFINITY : d;
			dot += (double)mine[v] * b->ref_row[v];
			na += (double)mine[v] * mine[v];
			nb += (double)b->ref_row[v] * b->ref_row[v];
		}
		double cs = (na > 0 && nb > 0) ? dot / sqrt(na * nb) : 0.0;

		if (cs < r->min_cos || isnan(cs))
			r->min_cos = isnan(cs) ? -1.0 : cs;
		r->sum_cos += isnan(cs) ? -1.0 : cs;
		r->sum_kl += kl_div(b->ref_row, mine, V);
		r->top1_agree += argmax(mine, V) == argmax(b->ref_row, V);
		if (b->same[p]) {
			r->routed_same++;
			r->routed_same_top1 += argmax(mine, V) == argmax(b->ref_row, V);
			r->routed_same_sum_cos += isnan(cs) ? -1.0 : cs;
		}
	}

	/* greedy continuation through the KV-cache decode path */
	r->greedy_n = rc->n_greedy;
	const float *lg = splitmoe_logits(s);
	bool agree = true;

	t0 = secs();
	for (int g = 0; g < rc->n_greedy; g++) {
		struct json_object *v = json_object_array_get_idx(rc->greedy, g);
		int tok = argmax(lg, V);

		if (!json_object_is_type(v, json_type_int)) {
			fprintf(stderr, "%s: cases[%d].greedy_ids[%d]: not an integer\n", ref, ci, g);
			return -EINVAL;
		}
		agree = agree && tok == json_object_get_int(v);
		r->greedy_agree += agree;
		if (g + 1 == rc->n_greedy)
			break;
		if (splitmoe_decode(s, tok) != SPLITMOE_OK) {
			fprintf(stderr, "%s: cases[%d]: decode: %s\n", ref, ci, splitmoe_session_error(s));
			return -EIO;
		}
		lg = splitmoe_logits(s);
	}
	*t_decode += secs() - t0;
	return 0;
}

int eval_ref_run(const struct eval_ref *ref, const splitmoe_model *m, splitmoe_session *s,
		 const char *model_dir, const struct eval_criteria *c, FILE *out,
		 struct eval_result *res)
{
	struct eval_criteria opt = *c;
	struct eval_result local, *R = res ? res : &local;
	struct splitmoe_model_info mi;
	struct eval_bufs b = { 0 };
	const char *ref_path = ref->path;
	double t_pre = 0, t_dec = 0;
	long n_pre = 0, n_dec = 0;
	int rc, max_n = ref->max_n;

	memset(R, 0, sizeof(*R));
	splitmoe_model_info(m, &mi);
	if (!opt.logit_tol)
		opt.logit_tol = 1e-3;
	if (!opt.min_top1)
		opt.min_top1 = 0.95;
	if (!opt.min_cos)
		opt.min_cos = 0.999;
	/* a quantized file is judged as its format (the session refuses
	 * another --quant; the same one would quantize the rest at load) */
	splitmoe_quant judged = opt.quant != SPLITMOE_QUANT_NONE ? opt.quant : mi.file_quant;

	if (judged != SPLITMOE_QUANT_NONE) {
		if (!c->min_top1)
			opt.min_top1 = judged == SPLITMOE_QUANT_INT8 ? 0.95 : 0.85;
		if (!opt.min_mean_cos)
			opt.min_mean_cos = judged == SPLITMOE_QUANT_INT8 ? 0.998 : 0.98;
	}
	R->n_cases = ref->n_cases;
	R->compute = splitmoe_session_compute(s);
	int V = mi.vocab, L = mi.layers, E = mi.experts;

	b.logits = malloc(sizeof(float) * (size_t)max_n * V);
	b.router = malloc(sizeof(float) * (size_t)L * max_n * E);
	b.experts = malloc(sizeof(int32_t) * (size_t)L * max_n * 2);
	b.ref_row = malloc(sizeof(float) * V);
	b.ref_router = malloc(sizeof(float) * E);
	b.weights = malloc(sizeof(float) * (size_t)L * max_n * 2);
	b.same = malloc(sizeof(bool) * (size_t)max_n);
	if (!b.logits || !b.router || !b.experts || !b.ref_row || !b.ref_router || !b.weights ||
	    !b.same) {
		rc = -ENOMEM;
		fprintf(stderr, "eval: out of memory\n");
		goto done;
	}

	bool quant = judged != SPLITMOE_QUANT_NONE;
	bool f32 = R->compute == SPLITMOE_COMPUTE_F32 && !quant;

	if (out) {
		fprintf(out, "reference %s, model %s, compute %s\n", ref_path, model_dir,
			splitmoe_option_name(SPLITMOE_OPTION_COMPUTE, R->compute));
		fprintf(out, "%-5s %6s %8s %12s %10s %8s %12s %10s %8s %s\n", "case", "tokens",
			"tok-ids", "max|dlogit|", "min-cos", "top1", "router-top2",
			"max|drouter|", "greedy", "result");
	}
	R->pass = true;
	for (int i = 0; i < R->n_cases; i++) {
		struct eval_case_result *r = &R->cases[i];
		const struct ref_case *rcase = &ref->rcs[i];

		rc = run_case(s, m, !opt.skip_tokenizer, ref_path, i, rcase, &b, r, &t_pre, &t_dec);
		if (rc)
			goto done;
		n_pre += rcase->n;
		n_dec += rcase->n_greedy > 0 ? rcase->n_greedy - 1 : 0;
		R->top1_agree += r->top1_agree;
		R->positions += r->n_pos;
		r->pass = r->tokenizer_ok != 0;
		R->mean_cos += r->sum_cos;
		R->mean_kl += r->sum_kl;
		R->min_cos = i == 0 || r->min_cos < R->min_cos ? r->min_cos : R->min_cos;
		R->greedy_agree += r->greedy_agree;
		R->greedy_n += r->greedy_n;
		R->routed_same += r->routed_same;
		R->routed_same_top1 += r->routed_same_top1;
		R->routed_same_mean_cos += r->routed_same_sum_cos;
		if (f32)
			r->pass = r->pass && r->max_abs_err <= opt.logit_tol &&
				  r->router_agree == r->router_total &&
				  r->greedy_agree == r->greedy_n;
		else if (!quant)
			r->pass = r->pass && r->min_cos >= opt.min_cos;
		R->pass = R->pass && r->pass;
		if (out)
			fprintf(out, "%-5d %6d %8s %12.3e %10.6f %4d/%-3d %6d/%-5d %10.3e %4d/%-3d %s\n",
				i, r->n_pos,
				r->tokenizer_ok < 0 ? "skipped" : r->tokenizer_ok ? "equal" : "DIFFER",
				r->max_abs_err, r->min_cos, r->top1_agree, r->n_pos,
				r->router_agree, r->router_total, r->router_max_abs_err,
				r->greedy_agree, r->greedy_n, r->pass ? "pass" : "FAIL");
	}
	if (R->positions) {
		R->mean_cos /= R->positions;
		R->mean_kl /= R->positions;
	}
	if (R->routed_same)
		R->routed_same_mean_cos /= R->routed_same;
	if (!f32 && R->positions &&
	    (double)R->top1_agree / R->positions < opt.min_top1)
		R->pass = false;
	if (quant && R->mean_cos < opt.min_mean_cos)
		R->pass = false;
	R->prefill_tok_s = t_pre > 0 ? n_pre / t_pre : 0;
	R->decode_tok_s = t_dec > 0 ? n_dec / t_dec : 0;
	if (out) {
		if (quant) {
			fprintf(out, "quality (%s weights, %s compute): top-1 agreement %d/%d (%.1f%%, need %.0f%%), cosine mean %.5f (need %.4f) min %.5f, KL mean %.5f, greedy %d/%d\n",
				splitmoe_option_name(SPLITMOE_OPTION_QUANT, judged),
				splitmoe_option_name(SPLITMOE_OPTION_COMPUTE, R->compute),
				R->top1_agree, R->positions, 100.0 * R->top1_agree / R->positions,
				100.0 * opt.min_top1, R->mean_cos, opt.min_mean_cos, R->min_cos,
				R->mean_kl, R->greedy_agree, R->greedy_n);
			fprintf(out, "routing: %d/%d positions routed as the reference in every layer (the same experts, weights within %.2f): top-1 agreement %d/%d (%.1f%%), cosine mean %.5f\n",
				R->routed_same, R->positions, EVAL_ROUTE_WEIGHT_TOL,
				R->routed_same_top1, R->routed_same,
				100.0 * R->routed_same_top1 / (R->routed_same ? R->routed_same : 1),
				R->routed_same_mean_cos);
		} else if (f32)
			fprintf(out, "criteria (f32): logits within %.1e, router top-2 and greedy ids equal, tokenizer ids equal\n",
				opt.logit_tol);
		else
			fprintf(out, "criteria (%s): top-1 agreement %d/%d (%.1f%%, need %.0f%%), min cosine >= %.4f, tokenizer ids equal\n",
				splitmoe_option_name(SPLITMOE_OPTION_COMPUTE, R->compute),
				R->top1_agree, R->positions,
				100.0 * R->top1_agree / R->positions, 100.0 * opt.min_top1, opt.min_cos);
		fprintf(out, "prefill %.1f tok/s (%ld tokens), decode %.1f tok/s (%ld tokens)\n",
			R->prefill_tok_s, n_pre, R->decode_tok_s, n_dec);
		fprintf(out, "%s\n", R->pass ? "PASS" : "FAIL");
	}
	rc = R->pass ? 0 : 1;
done:
	free(b.logits);
	free(b.router);
	free(b.experts);
	free(b.ref_row);
	free(b.ref_router);
	free(b.weights);
	free(b.same);
	free(b.tok);
	return rc;
}
