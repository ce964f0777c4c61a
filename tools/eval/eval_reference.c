// SPDX-License-Identifier: MIT
/* `splitmoe eval`: a model against a reference.json; see eval_reference.h. */
#include "config/options.h"
#include "tools/eval/eval_reference.h"
#include "cpu/cpu_math.h"
#include "model/model.h"
#include "model/tokenizer.h"

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

static int parse_case(const char *ref, int i, struct json_object *c,
		      const struct phimoe_config *cfg, struct ref_case *rc)
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

		if (!json_object_is_type(v, json_type_int) || id < 0 || id >= cfg->vocab_size) {
			fprintf(stderr, "%s: cases[%d].input_ids[%d]: not a token id of vocab %d\n",
				ref, i, j, cfg->vocab_size);
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
	    (int)json_object_array_length(rc->router) != cfg->num_hidden_layers) {
		fprintf(stderr, "%s: cases[%d].router_logits: %zu layers, model has %d\n",
			ref, i, json_object_array_length(rc->router), cfg->num_hidden_layers);
		return -EINVAL;
	}
	rc->n_greedy = (int)json_object_array_length(rc->greedy);
	return 0;
}

struct eval_bufs {
	float *logits, *router, *ref_row, *ref_router, *weights;
	int32_t *experts;
	bool *same;		/* [n]: routed as the reference in every layer */
};

static int run_case(struct phimoe_session *s, const struct phimoe_model *m,
		    const struct phimoe_tokenizer *tk, const char *ref, int ci,
		    const struct ref_case *rc, struct eval_bufs *b,
		    struct eval_case_result *r, double *t_prefill, double *t_decode)
{
	const struct phimoe_config *cfg = &m->cfg;
	int V = cfg->vocab_size, L = cfg->num_hidden_layers, E = cfg->num_local_experts;
	struct phimoe_prefill_out po = {
		.logits = b->logits, .router_logits = b->router, .experts = b->experts,
		.expert_weights = b->weights,
	};
	double t0;
	int err;

	memset(r, 0, sizeof(*r));
	r->n_pos = rc->n;
	r->min_cos = 1.0;
	r->tokenizer_ok = -1;
	if (tk) {
		int *ids = NULL;
		size_t n = 0;
		char msg[PHIMOE_ERRLEN];

		if (phimoe_tokenizer_encode(tk, rc->prompt, &ids, &n, msg, sizeof(msg))) {
			fprintf(stderr, "%s: cases[%d].prompt: %s\n", ref, ci, msg);
			return -EINVAL;
		}
		r->tokenizer_ok = (int)n == rc->n;
		for (int j = 0; r->tokenizer_ok && j < rc->n; j++)
			r->tokenizer_ok = ids[j] == rc->ids[j];
		free(ids);
	}

	phimoe_session_reset(s);
	t0 = secs();
	err = phimoe_prefill(s, rc->ids, rc->n, &po);
	if (err) {
		fprintf(stderr, "%s: cases[%d]: prefill: %s\n", ref, ci, phimoe_session_error(s));
		return err;
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
			cm_sparsemixer_top2(b->ref_router, E, (float)cfg->router_jitter_noise, want, w);
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
	const float *lg = phimoe_session_logits(s);
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
		err = phimoe_decode(s, tok, &lg);
		if (err) {
			fprintf(stderr, "%s: cases[%d]: decode: %s\n", ref, ci, phimoe_session_error(s));
			return err;
		}
	}
	*t_decode += secs() - t0;
	return 0;
}

int splitmoe_eval(const char *model_dir, const char *ref_path,
		  const struct eval_opts *o, FILE *out, struct eval_result *res)
{
	struct eval_opts opt = *o;
	struct eval_result local, *R = res ? res : &local;
	struct phimoe_model *m = calloc(1, sizeof(*m));
	struct phimoe_tokenizer *tk = NULL;
	struct phimoe_session *s = NULL;
	struct json_object *root = NULL, *cases;
	struct eval_bufs b = { 0 };
	char err[PHIMOE_ERRLEN];
	double t_pre = 0, t_dec = 0;
	long n_pre = 0, n_dec = 0;
	int rc = -EINVAL, max_n = 0, max_greedy = 0;

	memset(R, 0, sizeof(*R));
	if (!m)
		return -ENOMEM;
	if (!opt.logit_tol)
		opt.logit_tol = 1e-3;
	if (!opt.min_top1)
		opt.min_top1 = 0.95;
	if (!opt.min_cos)
		opt.min_cos = 0.999;

	root = json_object_from_file(ref_path);
	if (!root) {
		const char *why = json_util_get_last_err();
		int len = why ? (int)strcspn(why, "\n") : 0;

		fprintf(stderr, "%s: cannot read reference: %.*s\n", ref_path, len, why ? why : "");
		goto done;
	}
	if (!json_object_object_get_ex(root, "cases", &cases) ||
	    !json_object_is_type(cases, json_type_array) || !json_object_array_length(cases)) {
		fprintf(stderr, "%s: cases: missing, empty or not an array\n", ref_path);
		goto done;
	}
	if (json_object_array_length(cases) > EVAL_MAX_CASES) {
		fprintf(stderr, "%s: cases: %zu cases, at most %d supported\n", ref_path,
			json_object_array_length(cases), EVAL_MAX_CASES);
		goto done;
	}
	if (phimoe_model_load(model_dir, m, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		goto done;
	}
	/* a quantized file is judged as its format (the session refuses
	 * another --quant; the same one would quantize the rest at load) */
	enum sm_quant judged = opt.quant != SM_QUANT_NONE ? opt.quant :
			       (enum sm_quant)m->cfg.quant;

	if (judged != SM_QUANT_NONE) {
		if (!o->min_top1)
			opt.min_top1 = judged == SM_QUANT_INT8 ? 0.95 : 0.85;
		if (!opt.min_mean_cos)
			opt.min_mean_cos = judged == SM_QUANT_INT8 ? 0.998 : 0.98;
	}
	if (!opt.skip_tokenizer && phimoe_tokenizer_load(model_dir, &tk, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		goto done_model;
	}

	R->n_cases = (int)json_object_array_length(cases);
	struct ref_case rcs[EVAL_MAX_CASES];

	memset(rcs, 0, sizeof(rcs));
	for (int i = 0; i < R->n_cases; i++) {
		rc = parse_case(ref_path, i, json_object_array_get_idx(cases, i), &m->cfg, &rcs[i]);
		if (rc)
			goto done_cases;
		if (rcs[i].n > max_n)
			max_n = rcs[i].n;
		if (rcs[i].n_greedy > max_greedy)
			max_greedy = rcs[i].n_greedy;
	}

	struct phimoe_session_opts so = {
		.compute = opt.compute,
		.threads = opt.threads,
		.max_seq = max_n + max_greedy + 1,
		.max_batch = max_n,
		.arbiter = opt.arbiter,
		.backend = opt.backend,
		.weights = opt.weights,
		.quant = opt.quant,
	};

	if (so.max_seq > m->cfg.max_position_embeddings) {
		fprintf(stderr, "%s: a case needs %d positions, the model has %d\n",
			ref_path, so.max_seq, m->cfg.max_position_embeddings);
		rc = -EINVAL;
		goto done_cases;
	}
	rc = phimoe_session_create(m, &so, &s, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s: %s\n", model_dir, err);
		goto done_cases;
	}
	R->compute = phimoe_session_compute(s);
	int V = m->cfg.vocab_size, L = m->cfg.num_hidden_layers, E = m->cfg.num_local_experts;

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
		goto done_session;
	}

	bool quant = judged != SM_QUANT_NONE;
	bool f32 = R->compute == SM_COMPUTE_F32 && !quant;

	if (out) {
		fprintf(out, "reference %s, model %s, compute %s\n", ref_path, model_dir,
			sm_compute_name(R->compute));
		fprintf(out, "%-5s %6s %8s %12s %10s %8s %12s %10s %8s %s\n", "case", "tokens",
			"tok-ids", "max|dlogit|", "min-cos", "top1", "router-top2",
			"max|drouter|", "greedy", "result");
	}
	R->pass = true;
	for (int i = 0; i < R->n_cases; i++) {
		struct eval_case_result *r = &R->cases[i];
		const struct ref_case *c = &rcs[i];

		rc = run_case(s, m, tk, ref_path, i, c, &b, r, &t_pre, &t_dec);
		if (rc)
			goto done_session;
		n_pre += c->n;
		n_dec += c->n_greedy > 0 ? c->n_greedy - 1 : 0;
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
				sm_quant_name(judged), sm_compute_name(R->compute), R->top1_agree,
				R->positions, 100.0 * R->top1_agree / R->positions,
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
				sm_compute_name(R->compute), R->top1_agree, R->positions,
				100.0 * R->top1_agree / R->positions, 100.0 * opt.min_top1, opt.min_cos);
		fprintf(out, "prefill %.1f tok/s (%ld tokens), decode %.1f tok/s (%ld tokens)\n",
			R->prefill_tok_s, n_pre, R->decode_tok_s, n_dec);
		fprintf(out, "%s\n", R->pass ? "PASS" : "FAIL");
	}
	rc = R->pass ? 0 : 1;
done_session:
	free(b.logits);
	free(b.router);
	free(b.experts);
	free(b.ref_row);
	free(b.ref_router);
	free(b.weights);
	free(b.same);
	phimoe_session_destroy(s);
done_cases:
	for (int i = 0; i < EVAL_MAX_CASES && i < R->n_cases; i++)
		free(rcs[i].ids);
	phimoe_tokenizer_free(tk);
done_model:
	phimoe_model_free(m);
done:
	json_object_put(root);
	free(m);
	return rc;
}
