/* SPDX-License-Identifier: MIT */
/*
 * splitmoe serve: the typed request the HTTP edge parses (serve_json.c),
 * the request's life shared between an HTTP thread and the engine thread
 * (serve_engine.c), and the metrics both update (serve_metrics.c).
 */
#ifndef SPLITMOE_SERVE_H
#define SPLITMOE_SERVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "splitmoe.h"

#define SERVE_MAX_STOP 4		/* OpenAI's limit on "stop" */
#define SERVE_STOP_LEN 128		/* bytes of one stop string */

/* What the server accepts; beyond it a 400 naming the field. */
struct serve_limits {
	size_t max_body;		/* bytes of a request body (413 beyond) */
	int max_prompt_tokens;
	int max_tokens;			/* largest max_tokens accepted */
	int default_max_tokens;
};

enum serve_kind { SERVE_CHAT, SERVE_COMPLETION };

/* A request as parsed and validated: no JSON beyond this point. */
struct serve_params {
	enum serve_kind kind;
	char *prompt;			/* malloc'ed text (chat: rendered template) */
	int max_tokens;
	struct splitmoe_sampler_params sampling;
	int nstop;
	char stop[SERVE_MAX_STOP][SERVE_STOP_LEN + 1];
	bool stream;
	bool include_usage;		/* stream_options.include_usage */
};

/* An error for the client: HTTP status, OpenAI error type, field. */
struct serve_error {
	int status;
	const char *type;		/* "invalid_request_error", ... */
	char param[96];			/* "" for none */
	char message[320];
};

/* printf into e (status, type, param); returns -1 for convenience. */
int serve_errorf(struct serve_error *e, int status, const char *type, const char *param,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * Parse a request body into *p. 0, or -1 with *e filled (400 for bad JSON,
 * a bad or unknown field). Tokenization and the prompt-length limit are
 * the caller's (they need the tokenizer).
 */
int serve_parse_request(enum serve_kind kind, const char *body, size_t len,
			const struct serve_limits *lim, struct serve_params *p,
			struct serve_error *e);
void serve_params_free(struct serve_params *p);

/* {"error":{...}} as a malloc'ed string (NULL on allocation failure). */
char *serve_error_json(const struct serve_error *e);

/* Why a request ended. */
enum serve_finish {
	SERVE_RUNNING = 0,
	SERVE_FINISH_STOP,		/* end-of-sequence token or a stop string */
	SERVE_FINISH_LENGTH,		/* max_tokens or the context */
	SERVE_FINISH_CANCELLED,		/* the client left, or the server drains */
	SERVE_FINISH_ERROR,		/* the engine failed: message in err */
};
const char *serve_finish_name(enum serve_finish f);

/*
 * One request between its HTTP thread and the engine. The HTTP side fills
 * the inputs, submits, then waits on cv for text/done; the engine appends
 * released text (stop strings held back) under mu. Two references (HTTP,
 * engine) until both let go.
 */
struct serve_req {
	/* inputs: written before submit, read-only after */
	int32_t *ids;
	int n_prompt;
	int max_tokens;
	bool continues;			/* completion: the text continues the prompt */
	struct splitmoe_sampler_params sampling;
	int nstop;
	char stop[SERVE_MAX_STOP][SERVE_STOP_LEN + 1];
	uint64_t t_submit_ns;

	atomic_bool cancel;		/* set by HTTP: the engine drops it */

	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	char *text;			/* released text, NUL-terminated */
	size_t len, cap;
	int n_gen;			/* tokens generated */
	enum serve_finish finish;
	char err[256];
};

/* A new request with one reference and room for text_cap bytes of text
 * (the engine grows it beyond); NULL on allocation failure. */
struct serve_req *serve_req_new(size_t text_cap);
void serve_req_get(struct serve_req *r);
void serve_req_put(struct serve_req *r);

uint64_t serve_now_ns(void);

#endif /* SPLITMOE_SERVE_H */
