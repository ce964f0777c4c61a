// SPDX-License-Identifier: MIT
/* The reference evaluator on a runtime session; see eval_reference.h. */
#include "tests/eval/eval_reference.h"
#include "libsplitmoe/api_internal.h"

#include <errno.h>
#include <string.h>

static splitmoe_quant quant_of(enum sm_quant q)
{
	return q == SM_QUANT_INT8 ? SPLITMOE_QUANT_INT8 :
	       q == SM_QUANT_Q4 ? SPLITMOE_QUANT_Q4 : SPLITMOE_QUANT_NONE;
}

int splitmoe_eval(const char *model_dir, const char *ref_path,
		  const struct eval_opts *o, FILE *out, struct eval_result *res)
{
	struct splitmoe_model_params mp = splitmoe_model_default_params();
	struct eval_criteria crit = {
		.logit_tol = o->logit_tol,
		.min_top1 = o->min_top1,
		.min_cos = o->min_cos,
		.quant = quant_of(o->quant),
		.min_mean_cos = o->min_mean_cos,
		.skip_tokenizer = o->skip_tokenizer,
	};
	struct eval_ref *ref = NULL;
	splitmoe_model *m = NULL;
	struct phimoe_session *rs = NULL;
	splitmoe_session *s = NULL;
	char err[PHIMOE_ERRLEN];
	int rc;

	if (res)
		memset(res, 0, sizeof(*res));
	rc = eval_ref_read(ref_path, &ref);
	if (rc)
		return rc;
	mp.tokenizer = !o->skip_tokenizer;
	if (splitmoe_model_load(model_dir, &mp, &m, err, sizeof(err)) != SPLITMOE_OK) {
		fprintf(stderr, "%s\n", err);
		rc = -EINVAL;
		goto done;
	}
	rc = eval_ref_check(ref, m);
	if (rc)
		goto done;

	struct phimoe_session_opts so = {
		.compute = o->compute,
		.threads = o->threads,
		.max_seq = eval_ref_max_seq(ref),
		.max_batch = eval_ref_max_batch(ref),
		.arbiter = o->arbiter,
		.backend = o->backend,
		.weights = o->weights,
		.quant = o->quant,
	};

	rc = phimoe_session_create(sm_api_model_runtime(m), &so, &rs, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s: %s\n", model_dir, err);
		goto done;
	}
	if (sm_api_session_wrap(m, rs, &s) != SPLITMOE_OK) {
		fprintf(stderr, "eval: out of memory\n");
		rc = -ENOMEM;
		goto done;
	}
	rc = eval_ref_run(ref, m, s, model_dir, &crit, out, res);
done:
	splitmoe_session_free(s);
	phimoe_session_destroy(rs);
	splitmoe_model_free(m);
	eval_ref_free(ref);
	return rc;
}
