/* SPDX-License-Identifier: MIT */
/*
 * serve: the engine thread. Requests wait in a bounded queue; up to
 * `parallel` of them hold a sequence of the session and run together,
 * one splitmoe_batch() per step: every running sequence decodes one token
 * and newcomers' prompts are prefilled in chunks filling the rest of the
 * step's rows, so running sequences keep decoding (continuous batching).
 */
#ifndef SPLITMOE_SERVE_ENGINE_H
#define SPLITMOE_SERVE_ENGINE_H

#include <stddef.h>

#include "serve.h"

struct serve_metrics;

struct serve_engine_opts {
	splitmoe_session *s;		/* parallel 1: sequence 0; more: max_seqs > parallel */
	const splitmoe_model *model;	/* its tokenizer, vocabulary and end tokens */
	int ctx;			/* tokens one sequence may hold */
	int parallel;			/* sequences at once */
	int queue_max;			/* waiting requests beyond the running */
	int max_rows;			/* rows of one step (the session's max_batch) */
	struct serve_metrics *metrics;
	/* called on the engine thread after each step (arbiter figures) */
	void (*after_step)(void *arg);
	void *arg;
};

struct serve_engine;

/* Starts the engine thread. 0, or -1 with one line in err. */
int serve_engine_start(const struct serve_engine_opts *o, struct serve_engine **out,
		       char *err, size_t errlen);
/*
 * Hands r (inputs filled) to the engine, which takes its own reference.
 * 0; -EAGAIN when the queue is full; -ESHUTDOWN while draining.
 */
int serve_engine_submit(struct serve_engine *e, struct serve_req *r);
/* Refuses new requests (submit answers -ESHUTDOWN from then on), lets the
 * queued and running finish for at most drain_ms, cancels what remains,
 * and joins the thread. */
void serve_engine_stop(struct serve_engine *e, int drain_ms);
/* After serve_engine_stop, once nothing can submit any more. */
void serve_engine_free(struct serve_engine *e);

#endif
