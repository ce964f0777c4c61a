/* SPDX-License-Identifier: MIT */
/*
 * The handles of include/splitmoe.h as libsplitmoe's files share them, and
 * the public enums to the runtime's. Not installed.
 */
#ifndef SPLITMOE_API_INTERNAL_H
#define SPLITMOE_API_INTERNAL_H

#include "splitmoe.h"

#include "arbiter/arbiter.h"
#include "config/config_yaml.h"
#include "cpu/quant.h"
#include "engine/inference.h"
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
	bool arb_shared;		/* the caller's (params.arb): not closed here */
	struct sm_devices dev;		/* GPU/SPLIT: the backends; zero for the CPU */
	bool dev_open;
	/* why GPU/SPLIT runs on the CPU ("device NAME: " and dev.note); "" if not */
	char note[600];
	struct phimoe_session *s;
	splitmoe_weights weights;	/* as asked */
	splitmoe_quant quant;		/* AUTO resolved */
	char err[PHIMOE_ERRLEN];	/* the last error of a call */
	/* around a runtime session it does not own (sm_api_session_wrap):
	 * free leaves s alone */
	bool borrowed;
};

struct splitmoe_config {
	struct sm_config c;
};

/*
 * Copies text (malloc'ed; freed here) into buf, truncated to cap bytes with
 * its NUL; returns its whole length, as the *_describe/_render calls do.
 */
long sm_api_text_out(char *text, char *buf, size_t cap);

/* Public enum values to the runtime's and back; -1 / the runtime's AUTO
 * for a value outside the enum. */
enum sm_device_mode sm_api_device(splitmoe_device d);
splitmoe_device sm_api_device_of(enum sm_device_mode d);
enum sm_compute sm_api_compute(splitmoe_compute c);
splitmoe_compute sm_api_compute_of(enum sm_compute c);
enum sm_weights_layout sm_api_weights(splitmoe_weights w);
splitmoe_weights sm_api_weights_of(enum sm_weights_layout w);
enum sm_quant sm_api_quant(splitmoe_quant q);
splitmoe_quant sm_api_quant_of(enum sm_quant q);
enum sm_arbiter_kind sm_api_arbiter(splitmoe_arbiter a);
splitmoe_arbiter sm_api_arbiter_of(enum sm_arbiter_kind a);

/*
 * For the tests' evaluator adapter (tests/eval/eval_reference.c), which
 * runs the API-level evaluator on a runtime session with a backend of its
 * own (a Level Zero or split one the public API cannot name): the model's
 * runtime view, and a session handle around a runtime session that stays
 * the caller's (splitmoe_session_free frees the handle only).
 */
const struct phimoe_model *sm_api_model_runtime(const splitmoe_model *m);
splitmoe_status sm_api_session_wrap(const splitmoe_model *m, struct phimoe_session *rs,
				    splitmoe_session **out);

#endif /* SPLITMOE_API_INTERNAL_H */
