// SPDX-License-Identifier: MIT
/* serve: the batch loop (see serve_engine.h). */
#include "serve_engine.h"
#include "serve_metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A running request: its sequence, sampler and text on the engine side. */
struct slot {
	struct serve_req *r;		/* NULL: free */
	int seq;
	uint64_t admitted;		/* admission order: newest gives way when the KV pool is full */
	int fed;			/* prompt tokens prefilled */
	int32_t next;			/* token to decode next */
	int n_gen;
	splitmoe_sampler *smp;
	splitmoe_detok *dt;		/* NULL: free */
	char *gen;			/* generated text; [0, released) handed out */
	size_t glen, gcap, released;
	float *logits;			/* [vocab] */
	bool oom;			/* text could not grow: the request fails */
};

struct serve_engine {
	struct serve_engine_opts o;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct serve_req **queue;	/* ring of queue_max */
	int qhead, qlen;
	bool stopping;
	uint64_t deadline_ns;		/* while stopping: cancel all after it */
	struct slot *slots;
	struct splitmoe_batch_item *items;
	int *item_slot;
	uint64_t admissions;
	uint64_t win_start_ns, win_tokens;	/* tok/s window */
	double tok_s;
};

/* Hand text [released, upto) to the request's reader. */
static void release(struct slot *sl, size_t upto)
{
	struct serve_req *r = sl->r;
	size_t n = upto - sl->released;

	pthread_mutex_lock(&r->mu);
	if (n) {
		if (r->len + n + 1 > r->cap) {
			size_t cap = (r->len + n + 1) * 2;
			char *t = realloc(r->text, cap);

			if (!t) {
				pthread_mutex_unlock(&r->mu);
				sl->oom = true;	/* take_token ends the request */
				return;
			}
			r->text = t;
			r->cap = cap;
		}
		memcpy(r->text + r->len, sl->gen + sl->released, n);
		r->len += n;
		r->text[r->len] = '\0';
	}
	r->n_gen = sl->n_gen;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	sl->released = upto;
}

static void finish(struct serve_engine *e, struct slot *sl, enum serve_finish why,
		   const char *msg)
{
	struct serve_req *r = sl->r;

	if (why != SERVE_FINISH_CANCELLED && why != SERVE_FINISH_ERROR)
		release(sl, sl->glen);
	pthread_mutex_lock(&r->mu);
	r->n_gen = sl->n_gen;
	r->finish = why;
	if (msg)
		snprintf(r->err, sizeof(r->err), "%s", msg);
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	serve_metrics_tokens(e->o.metrics, (uint64_t)sl->fed, (uint64_t)sl->n_gen);
	splitmoe_sampler_free(sl->smp);
	sl->smp = NULL;
	splitmoe_detok_free(sl->dt);
	sl->dt = NULL;
	if (sl->seq > 0)
		splitmoe_seq_close(e->o.s, sl->seq);
	serve_req_put(r);
	sl->r = NULL;
}

/* Append a token's text; end the request on a stop string. */
static bool add_text(struct slot *sl, const char *s, size_t n)
{
	const struct serve_req *r = sl->r;
	size_t from, hold = 0, cut = (size_t)-1, upto;
	int i;

	if (sl->glen + n + 1 > sl->gcap) {
		size_t cap = (sl->glen + n + 1) * 2;
		char *t = realloc(sl->gen, cap);

		if (!t) {
			sl->oom = true;	/* take_token ends the request */
			return false;
		}
		sl->gen = t;
		sl->gcap = cap;
	}
	memcpy(sl->gen + sl->glen, s, n);
	sl->glen += n;
	sl->gen[sl->glen] = '\0';
	if (!r->nstop) {
		release(sl, sl->glen);
		return false;
	}
	from = sl->released;
	for (i = 0; i < r->nstop; i++) {
		const char *hit = memmem(sl->gen + from, sl->glen - from, r->stop[i],
					 strlen(r->stop[i]));
		size_t k;

		if (hit && (size_t)(hit - sl->gen) < cut)
			cut = (size_t)(hit - sl->gen);
		/* the longest tail that may yet become this stop string */
		for (k = strlen(r->stop[i]) - 1; k > hold; k--)
			if (k <= sl->glen - from &&
			    !memcmp(sl->gen + sl->glen - k, r->stop[i], k)) {
				hold = k;
				break;
			}
	}
	if (cut != (size_t)-1) {
		sl->glen = cut;
		sl->gen[cut] = '\0';
		return true;
	}
	upto = sl->glen - hold;
	while (upto > sl->released && ((unsigned char)sl->gen[upto] & 0xc0) == 0x80)
		upto--;		/* never half a character */
	release(sl, upto);
	return false;
}

/* A token sampled for sl: stream it, or end the request. */
static void take_token(struct serve_engine *e, struct slot *sl, int id)
{
	struct serve_req *r = sl->r;
	char buf[256];
	size_t k;

	if (sl->n_gen == 0)
		serve_metrics_ttft(e->o.metrics, (serve_now_ns() - r->t_submit_ns) / 1e9);
	if (splitmoe_token_is_eos(e->o.model, id)) {
		k = splitmoe_detok_flush(sl->dt, buf, sizeof(buf));
		add_text(sl, buf, k);
		finish(e, sl, SERVE_FINISH_STOP, NULL);
		return;
	}
	sl->n_gen++;
	e->win_tokens++;
	k = splitmoe_detok_push(sl->dt, id, buf, sizeof(buf));
	if (add_text(sl, buf, k)) {
		finish(e, sl, SERVE_FINISH_STOP, NULL);
		return;
	}
	if (sl->oom) {
		finish(e, sl, SERVE_FINISH_ERROR, "out of memory for the reply's text");
		return;
	}
	if (sl->n_gen >= r->max_tokens || r->n_prompt + sl->n_gen >= e->o.ctx) {
		k = splitmoe_detok_flush(sl->dt, buf, sizeof(buf));
		finish(e, sl, add_text(sl, buf, k) ? SERVE_FINISH_STOP : SERVE_FINISH_LENGTH, NULL);
		return;
	}
	sl->next = id;
}

/* Give a free slot the request r; false when no sequence could open. */
static bool admit(struct serve_engine *e, struct slot *sl, struct serve_req *r)
{
	/* one slot runs on sequence 0, which every backend runs */
	int seq = 0;

	if (e->o.parallel > 1 && splitmoe_seq_open(e->o.s, &seq))
		return false;
	if (seq == 0)
		splitmoe_session_reset(e->o.s);
	/* room for the usual text of max_tokens at admission, so that steps
	 * rarely allocate (a longer text still grows the buffer) */
	if (sl->gcap < (size_t)r->max_tokens * 8 + 64) {
		char *t = realloc(sl->gen, (size_t)r->max_tokens * 8 + 64);

		if (t) {
			sl->gen = t;
			sl->gcap = (size_t)r->max_tokens * 8 + 64;
		}
	}
	sl->r = r;
	sl->seq = seq;
	sl->admitted = ++e->admissions;
	sl->fed = 0;
	sl->n_gen = 0;
	sl->glen = sl->released = 0;
	sl->oom = false;
	if (splitmoe_sampler_create(e->o.model, &r->sampling, &sl->smp)) {
		sl->smp = NULL;
		finish(e, sl, SERVE_FINISH_ERROR, "bad sampling options");
		return true;
	}
	/* keep_leading_space: a completion continues its prompt's text; a
	 * chat answer starts fresh */
	sl->dt = splitmoe_detok_create(e->o.model, r->continues);
	if (!sl->dt)
		finish(e, sl, SERVE_FINISH_ERROR, "out of memory");
	return true;
}

static int running(const struct serve_engine *e)
{
	int i, n = 0;

	for (i = 0; i < e->o.parallel; i++)
		n += e->slots[i].r != NULL;
	return n;
}

/* Under e->mu: the request at the head of the queue, taken off it. */
static struct serve_req *pop(struct serve_engine *e)
{
	struct serve_req *r = e->queue[e->qhead];

	e->qhead = (e->qhead + 1) % e->o.queue_max;
	e->qlen--;
	return r;
}

/* A request that never ran ends; the engine's reference goes. */
static void end_unrun(struct serve_req *r, const char *msg)
{
	pthread_mutex_lock(&r->mu);
	r->finish = SERVE_FINISH_CANCELLED;
	if (msg)
		snprintf(r->err, sizeof(r->err), "%s", msg);
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	serve_req_put(r);
}

/* Under e->mu: move queued requests into free slots. */
static void admit_queued(struct serve_engine *e)
{
	int i;

	for (i = 0; i < e->o.parallel && e->qlen; i++) {
		if (e->slots[i].r)
			continue;
		while (e->qlen && atomic_load(&e->queue[e->qhead]->cancel))
			end_unrun(pop(e), NULL);	/* the client left while it waited */
		if (!e->qlen || !admit(e, &e->slots[i], e->queue[e->qhead]))
			break;	/* no sequence free: try after the next step */
		pop(e);
	}
}

static void cancel_all(struct serve_engine *e)
{
	int i;

	for (i = 0; i < e->o.parallel; i++)
		if (e->slots[i].r)
			finish(e, &e->slots[i], SERVE_FINISH_CANCELLED, "the server is shutting down");
	while (e->qlen)
		end_unrun(pop(e), "the server is shutting down");
}

/* One forward pass over every running slot. */
static void step(struct serve_engine *e)
{
	int i, n = 0, rows = 0, rc;
	struct slot *newest = NULL;

	for (i = 0; i < e->o.parallel; i++) {
		struct slot *sl = &e->slots[i];

		if (sl->r && atomic_load(&sl->r->cancel))
			finish(e, sl, SERVE_FINISH_CANCELLED, "the client went away");
	}
	/* decoders first: one row each */
	for (i = 0; i < e->o.parallel; i++) {
		struct slot *sl = &e->slots[i];

		if (!sl->r || sl->fed < sl->r->n_prompt)
			continue;
		e->items[n] = (struct splitmoe_batch_item){ sl->seq, &sl->next, 1, sl->logits };
		e->item_slot[n++] = i;
		rows++;
	}
	/* then prompt chunks in the rows left */
	for (i = 0; i < e->o.parallel && rows < e->o.max_rows; i++) {
		struct slot *sl = &e->slots[i];
		int chunk;

		if (!sl->r || sl->fed >= sl->r->n_prompt)
			continue;
		chunk = sl->r->n_prompt - sl->fed;
		if (chunk > e->o.max_rows - rows)
			chunk = e->o.max_rows - rows;
		e->items[n] = (struct splitmoe_batch_item){
			sl->seq, sl->r->ids + sl->fed, chunk,
			sl->fed + chunk == sl->r->n_prompt ? sl->logits : NULL,
		};
		e->item_slot[n++] = i;
		rows += chunk;
	}
	if (!n)
		return;
	rc = splitmoe_batch(e->o.s, e->items, n);
	if (rc == SPLITMOE_ERR_KV_FULL) {
		/* the KV pool is full: the newest request gives way */
		for (i = 0; i < e->o.parallel; i++)
			if (e->slots[i].r && (!newest || e->slots[i].admitted > newest->admitted))
				newest = &e->slots[i];
		finish(e, newest, newest->n_gen ? SERVE_FINISH_LENGTH : SERVE_FINISH_ERROR,
		       "the KV cache is full: retry later or ask for fewer tokens");
		return;
	}
	if (rc) {
		char msg[256];

		snprintf(msg, sizeof(msg), "engine: %s", splitmoe_session_error(e->o.s));
		fprintf(stderr, "splitmoe: serve: %s\n", msg);
		for (i = 0; i < n; i++)
			if (e->slots[e->item_slot[i]].r)
				finish(e, &e->slots[e->item_slot[i]], SERVE_FINISH_ERROR, msg);
		return;
	}
	for (i = 0; i < n; i++) {
		struct slot *sl = &e->slots[e->item_slot[i]];

		if (sl->fed < sl->r->n_prompt) {
			sl->fed += e->items[i].n;
			if (sl->fed < sl->r->n_prompt)
				continue;
		}
		take_token(e, sl, splitmoe_sample(sl->smp, sl->logits));
	}
}

static void publish(struct serve_engine *e, int queued, int run)
{
	uint64_t now = serve_now_ns();

	if (!run) {		/* idle time counts in no window */
		e->tok_s = 0;
		e->win_tokens = 0;
		e->win_start_ns = now;
	} else if (now - e->win_start_ns >= 1000000000ull) {
		e->tok_s = e->win_tokens / ((now - e->win_start_ns) / 1e9);
		e->win_tokens = 0;
		e->win_start_ns = now;
	}
	serve_metrics_engine(e->o.metrics, queued, run, e->tok_s);
	if (e->o.after_step)
		e->o.after_step(e->o.arg);
}

static void *engine_main(void *arg)
{
	struct serve_engine *e = arg;
	int queued, run;

	e->win_start_ns = serve_now_ns();
	for (;;) {
		pthread_mutex_lock(&e->mu);
		admit_queued(e);
		if (e->stopping && serve_now_ns() > e->deadline_ns)
			cancel_all(e);
		run = running(e);
		queued = e->qlen;
		if (!run) {
			publish(e, queued, 0);
			if (e->stopping && !queued) {
				pthread_mutex_unlock(&e->mu);
				break;
			}
			if (!queued || e->stopping) {
				struct timespec ts;
				uint64_t t = serve_now_ns() + 100000000ull;

				ts.tv_sec = (time_t)(t / 1000000000ull);
				ts.tv_nsec = (long)(t % 1000000000ull);
				pthread_cond_timedwait(&e->cv, &e->mu, &ts);
			}
			pthread_mutex_unlock(&e->mu);
			continue;
		}
		pthread_mutex_unlock(&e->mu);
		step(e);
		publish(e, queued, running(e));
	}
	return NULL;
}

int serve_engine_start(const struct serve_engine_opts *o, struct serve_engine **out,
		       char *err, size_t errlen)
{
	struct serve_engine *e = calloc(1, sizeof(*e));
	pthread_condattr_t ca;
	int i;

	*out = NULL;
	if (!e)
		goto nomem;
	e->o = *o;
	e->queue = calloc((size_t)o->queue_max, sizeof(*e->queue));
	e->slots = calloc((size_t)o->parallel, sizeof(*e->slots));
	e->items = calloc((size_t)o->parallel, sizeof(*e->items));
	e->item_slot = calloc((size_t)o->parallel, sizeof(*e->item_slot));
	if (!e->queue || !e->slots || !e->items || !e->item_slot)
		goto nomem;
	for (i = 0; i < o->parallel; i++) {
		e->slots[i].logits = malloc((size_t)splitmoe_model_vocab(o->model) * sizeof(float));
		e->slots[i].gcap = 1024;
		e->slots[i].gen = malloc(e->slots[i].gcap);
		if (!e->slots[i].logits || !e->slots[i].gen)
			goto nomem;
	}
	pthread_mutex_init(&e->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&e->thread, NULL, engine_main, e)) {
		snprintf(err, errlen, "serve: cannot start the engine thread");
		pthread_cond_destroy(&e->cv);
		pthread_mutex_destroy(&e->mu);
		e->o.parallel = o->parallel;
		goto fail;
	}
	*out = e;
	return 0;
nomem:
	snprintf(err, errlen, "serve: out of memory");
fail:
	if (e) {
		for (i = 0; e->slots && i < o->parallel; i++) {
			free(e->slots[i].logits);
			free(e->slots[i].gen);
		}
		free(e->queue);
		free(e->slots);
		free(e->items);
		free(e->item_slot);
		free(e);
	}
	return -1;
}

int serve_engine_submit(struct serve_engine *e, struct serve_req *r)
{
	int rc = 0;

	pthread_mutex_lock(&e->mu);
	if (e->stopping) {
		rc = -ESHUTDOWN;
	} else if (e->qlen == e->o.queue_max) {
		rc = -EAGAIN;
	} else {
		serve_req_get(r);
		e->queue[(e->qhead + e->qlen) % e->o.queue_max] = r;
		e->qlen++;
		pthread_cond_signal(&e->cv);
	}
	pthread_mutex_unlock(&e->mu);
	return rc;
}

void serve_engine_stop(struct serve_engine *e, int drain_ms)
{
	pthread_mutex_lock(&e->mu);
	e->stopping = true;
	e->deadline_ns = serve_now_ns() + (uint64_t)drain_ms * 1000000ull;
	pthread_cond_signal(&e->cv);
	pthread_mutex_unlock(&e->mu);
	pthread_join(e->thread, NULL);
}

void serve_engine_free(struct serve_engine *e)
{
	int i;

	if (!e)
		return;
	for (i = 0; i < e->o.parallel; i++) {
		free(e->slots[i].logits);
		free(e->slots[i].gen);
	}
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->mu);
	free(e->queue);
	free(e->slots);
	free(e->items);
	free(e->item_slot);
	free(e);
}
