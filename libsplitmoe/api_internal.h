/* SPDX-License-Identifier: MIT */
/*
 * What the handles of include/splitmoe.h hold, for the files that
 * implement the API (libsplitmoe/api*.c); never installed. Nothing here is
 * exported from libsplitmoe.so (splitmoe.map: splitmoe_* only).
 */
#ifndef SPLITMOE_API_INTERNAL_H
#define SPLITMOE_API_INTERNAL_H

#include "splitmoe.h"

#include "engine/inference.h"
#include "engine/sampler.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "sched/device_setup.h"

struct splitmoe_model {
	struct phimoe_model m;		/* zero when loaded vocab_only */
	struct phimoe_tokenizer *tk;	/* NULL: loaded without */
	bool weights;			/* m loaded */
};

struct splitmoe_session {
	const struct splitmoe_model *model;
	struct sm_arbiter *arb;
	struct sm_devices dev;		/* GPU/SPLIT: the backends; zero for the CPU */
	bool dev_open;
	/* why GPU/SPLIT runs on the CPU ("device NAME: " and dev.note); "" if not */
	char note[600];
	struct phimoe_session *s;
	char err[PHIMOE_ERRLEN];	/* the last error of a call */
	/* a session wrapped around a runtime session it does not own
	 * (sm_api_session_wrap): free leaves s alone */
	bool borrowed;
	struct splitmoe_session_params params;	/* as created (defaults filled in) */
};

struct splitmoe_sampler {
	struct sm_sampler *smp;
};

struct splitmoe_detok {
	struct phimoe_detok d;
};

/* A runtime errno (0 or negative) as a splitmoe_status. */
splitmoe_status sm_api_status(int rc);

/*
 * For the tests' evaluator adapter (tools/eval/eval_runtime.c), which runs
 * the API-level evaluator on a runtime session with a backend of its own
 * (a Level Zero or split one the public API cannot name): the model's
 * runtime view, and a session handle around a runtime session that stays
 * the caller's (splitmoe_session_free frees the handle only).
 */
const struct phimoe_model *sm_api_model_runtime(const splitmoe_model *m);
splitmoe_status sm_api_session_wrap(const splitmoe_model *m, struct phimoe_session *rs,
				    splitmoe_session **out);

#endif /* SPLITMOE_API_INTERNAL_H */
