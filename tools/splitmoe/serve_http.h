/* SPDX-License-Identifier: MIT */
/*
 * serve: the HTTP edge on libmicrohttpd (a thread per connection). Bodies
 * are read up to a limit, parsed into typed requests (serve_json.c),
 * tokenized and handed to the engine; replies are JSON or server-sent
 * events. A client that goes away cancels its request.
 */
#ifndef SPLITMOE_SERVE_HTTP_H
#define SPLITMOE_SERVE_HTTP_H

#include <stddef.h>

#include "serve.h"

struct serve_engine;
struct serve_metrics;

struct serve_http_opts {
	const char *host;		/* numeric IPv4 or IPv6 address */
	int port;			/* 0: any free port */
	const char *model_id;		/* /v1/models and the "model" of replies */
	struct serve_limits lim;
	int ctx;			/* tokens one sequence may hold */
	const splitmoe_model *model;	/* its tokenizer */
	struct serve_engine *engine;
	struct serve_metrics *metrics;
};

struct serve_http;

/* Listens; *port gets the bound port. 0, or -1 with one line in err. */
int serve_http_start(const struct serve_http_opts *o, struct serve_http **out, int *port,
		     char *err, size_t errlen);
/* Stops accepting connections, gives the replies under way up to wait_ms
 * to be written (call after the engine drained), closes everything. */
void serve_http_stop(struct serve_http *h, int wait_ms);

#endif
