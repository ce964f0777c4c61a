// SPDX-License-Identifier: MIT
/* serve: HTTP routes, JSON replies and server-sent events (serve_http.h). */
#include "serve_http.h"
#include "serve_engine.h"
#include "serve_metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct serve_http {
	struct serve_http_opts o;
	struct MHD_Daemon *d;
	atomic_ullong next_id;
	atomic_int replying;		/* generation requests not yet completed */
};

/* A request body as it arrives. */
struct conn_body {
	char *p;
	size_t len, cap;
	bool too_big;
	bool replying;			/* counted in serve_http.replying */
};

enum stream_phase { PH_START, PH_BODY, PH_DONE };

/* A streamed reply between MHD's reader calls. */
struct stream {
	struct serve_http *h;
	struct MHD_Connection *conn;
	struct serve_req *r;
	enum serve_kind kind;
	bool include_usage;
	char id[48];
	long created;
	size_t pos;			/* bytes of r->text already sent */
	enum stream_phase phase;
	char *out;			/* the events being sent */
	size_t out_len, out_off;
};

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define WAIT_NS 200000000ull	/* between checks that the client is still there */

static enum MHD_Result send_body(struct serve_http *h, struct MHD_Connection *conn,
				 const char *path, int status, const char *type, char *body)
{
	struct MHD_Response *resp;
	enum MHD_Result rc;

	if (!body)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	rc = MHD_queue_response(conn, (unsigned int)status, resp);
	MHD_destroy_response(resp);
	serve_metrics_request(h->o.metrics, path, status);
	return rc;
}

static enum MHD_Result send_json(struct serve_http *h, struct MHD_Connection *conn,
				 const char *path, int status, json_object *obj)
{
	char *s = strdup(json_object_to_json_string_ext(obj, JSON_FLAGS));

	json_object_put(obj);
	return send_body(h, conn, path, status, "application/json", s);
}

static enum MHD_Result send_error(struct serve_http *h, struct MHD_Connection *conn,
				  const char *path, const struct serve_error *e)
{
	return send_body(h, conn, path, e->status, "application/json", serve_error_json(e));
}

/* The peer closed or reset its end (checked while waiting for tokens). */
static bool peer_gone(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct pollfd p;

	if (!ci)
		return true;
	p.fd = ci->connect_fd;
	p.events = POLLIN | POLLRDHUP;
	p.revents = 0;
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Under r->mu: wait up to WAIT_NS for news of r. */
static void wait_news(struct serve_req *r)
{
	uint64_t t = serve_now_ns() + WAIT_NS;
	struct timespec ts = { (time_t)(t / 1000000000ull), (long)(t % 1000000000ull) };

	pthread_cond_timedwait(&r->cv, &r->mu, &ts);
}

static json_object *usage_json(const struct serve_req *r)
{
	json_object *u = json_object_new_object();

	json_object_object_add(u, "prompt_tokens", json_object_new_int(r->n_prompt));
	json_object_object_add(u, "completion_tokens", json_object_new_int(r->n_gen));
	json_object_object_add(u, "total_tokens", json_object_new_int(r->n_prompt + r->n_gen));
	return u;
}

/* The fields every reply and chunk starts with. */
static json_object *reply_head(struct serve_http *h, const char *id, long created,
			       const char *object)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "object", json_object_new_string(object));
	json_object_object_add(o, "created", json_object_new_int64(created));
	json_object_object_add(o, "model", json_object_new_string(h->o.model_id));
	return o;
}

static json_object *finish_json(enum serve_finish f)
{
	return f == SERVE_RUNNING ? NULL : json_object_new_string(serve_finish_name(f));
}

/* --- streaming --- */

/* Append "data: JSON\n\n" (obj consumed) to the stream's output. */
static void put_event(struct stream *st, json_object *obj)
{
	const char *s = obj ? json_object_to_json_string_ext(obj, JSON_FLAGS) : "[DONE]";
	size_t n = strlen(s) + 8;
	char *t = realloc(st->out, st->out_len + n + 1);

	if (t) {
		st->out = t;
		st->out_len += (size_t)snprintf(st->out + st->out_len, n + 1, "data: %s\n\n", s);
	}
	json_object_put(obj);
}

/* A chunk with text (or a role, or a finish reason). */
static json_object *chunk(struct stream *st, const char *text, bool role, enum serve_finish f)
{
	json_object *o = reply_head(st->h, st->id, st->created,
				    st->kind == SERVE_CHAT ? "chat.completion.chunk"
							   : "text_completion");
	json_object *choices = json_object_new_array(), *c = json_object_new_object();

	json_object_object_add(c, "index", json_object_new_int(0));
	if (st->kind == SERVE_CHAT) {
		json_object *delta = json_object_new_object();

		if (role)
			json_object_object_add(delta, "role", json_object_new_string("assistant"));
		if (text)
			json_object_object_add(delta, "content", json_object_new_string(text));
		json_object_object_add(c, "delta", delta);
	} else {
		json_object_object_add(c, "text", json_object_new_string(text ? text : ""));
		json_object_object_add(c, "logprobs", NULL);
	}
	json_object_object_add(c, "finish_reason", finish_json(f));
	json_object_array_add(choices, c);
	json_object_object_add(o, "choices", choices);
	return o;
}

/* Fill st->out with the next events; false when the client is gone. */
static bool next_events(struct stream *st)
{
	struct serve_req *r = st->r;
	enum serve_finish f;
	char *text = NULL;

	if (st->phase == PH_START) {
		if (st->kind == SERVE_CHAT)
			put_event(st, chunk(st, "", true, SERVE_RUNNING));
		st->phase = PH_BODY;
		return true;
	}
	pthread_mutex_lock(&r->mu);
	while (r->len == st->pos && r->finish == SERVE_RUNNING) {
		wait_news(r);
		if (r->len == st->pos && r->finish == SERVE_RUNNING && peer_gone(st->conn)) {
			pthread_mutex_unlock(&r->mu);
			return false;
		}
	}
	if (r->len > st->pos) {
		text = strndup(r->text + st->pos, r->len - st->pos);
		st->pos = r->len;
		pthread_mutex_unlock(&r->mu);
		if (text)
			put_event(st, chunk(st, text, false, SERVE_RUNNING));
		free(text);
		return true;
	}
	f = r->finish;
	pthread_mutex_unlock(&r->mu);
	if (f == SERVE_FINISH_ERROR || f == SERVE_FINISH_CANCELLED) {
		struct serve_error e;
		json_object *o;
		char *js;

		serve_errorf(&e, f == SERVE_FINISH_ERROR ? 500 : 503,
			     f == SERVE_FINISH_ERROR ? "server_error" : "service_unavailable",
			     NULL, "%s", r->err[0] ? r->err : "the request was cancelled");
		js = serve_error_json(&e);
		o = js ? json_tokener_parse(js) : NULL;
		free(js);
		if (o)
			put_event(st, o);
	} else {
		put_event(st, chunk(st, NULL, false, f));
		if (st->include_usage) {
			json_object *o = reply_head(st->h, st->id, st->created,
						    st->kind == SERVE_CHAT ? "chat.completion.chunk"
									   : "text_completion");

			json_object_object_add(o, "choices", json_object_new_array());
			json_object_object_add(o, "usage", usage_json(r));
			put_event(st, o);
		}
	}
	put_event(st, NULL);
	st->phase = PH_DONE;
	return true;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;

	(void)pos;
	while (st->out_off == st->out_len) {
		st->out_off = st->out_len = 0;
		if (st->phase == PH_DONE)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (!next_events(st)) {
			atomic_store(&st->r->cancel, true);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
	}
	if (max > st->out_len - st->out_off)
		max = st->out_len - st->out_off;
	memcpy(buf, st->out + st->out_off, max);
	st->out_off += max;
	return (ssize_t)max;
}

/* MHD is done with the reply, sent or not: a request still running is
 * cancelled (the client went away). */
static void stream_free(void *cls)
{
	struct stream *st = cls;

	atomic_store(&st->r->cancel, true);
	serve_req_put(st->r);
	free(st->out);
	free(st);
}

/* --- completions --- */

static enum MHD_Result reply_whole(struct serve_http *h, struct MHD_Connection *conn,
				   const char *path, struct serve_req *r, enum serve_kind kind,
				   const char *id, long created)
{
	json_object *o, *choices, *c;
	struct serve_error e;

	pthread_mutex_lock(&r->mu);
	while (r->finish == SERVE_RUNNING) {
		wait_news(r);
		if (r->finish == SERVE_RUNNING && peer_gone(conn)) {
			pthread_mutex_unlock(&r->mu);
			atomic_store(&r->cancel, true);
			serve_metrics_request(h->o.metrics, path, 499);
			return MHD_NO;	/* closes the connection */
		}
	}
	pthread_mutex_unlock(&r->mu);
	if (r->finish == SERVE_FINISH_ERROR || r->finish == SERVE_FINISH_CANCELLED) {
		serve_errorf(&e, r->finish == SERVE_FINISH_ERROR ? 500 : 503,
			     r->finish == SERVE_FINISH_ERROR ? "server_error" : "service_unavailable",
			     NULL, "%s", r->err[0] ? r->err : "the request was cancelled");
		return send_error(h, conn, path, &e);
	}
	o = reply_head(h, id, created, kind == SERVE_CHAT ? "chat.completion" : "text_completion");
	choices = json_object_new_array();
	c = json_object_new_object();
	json_object_object_add(c, "index", json_object_new_int(0));
	if (kind == SERVE_CHAT) {
		json_object *m = json_object_new_object();

		json_object_object_add(m, "role", json_object_new_string("assistant"));
		json_object_object_add(m, "content", json_object_new_string(r->text));
		json_object_object_add(c, "message", m);
	} else {
		json_object_object_add(c, "text", json_object_new_string(r->text));
		json_object_object_add(c, "logprobs", NULL);
	}
	json_object_object_add(c, "finish_reason", finish_json(r->finish));
	json_object_array_add(choices, c);
	json_object_object_add(o, "choices", choices);
	json_object_object_add(o, "usage", usage_json(r));
	return send_json(h, conn, path, 200, o);
}

/* text's ids into a malloc'ed array (count first, then the ids). 0, or -1. */
static int tokenize(const splitmoe_model *m, const char *text, int32_t **ids, size_t *n)
{
	size_t count = 0;
	splitmoe_status st = splitmoe_tokenize(m, text, NULL, 0, &count);

	*ids = NULL;
	*n = 0;
	if (st != SPLITMOE_OK && st != SPLITMOE_ERR_TOO_SMALL)
		return -1;
	*ids = malloc((count ? count : 1) * sizeof(**ids));
	if (!*ids || splitmoe_tokenize(m, text, *ids, count ? count : 1, n)) {
		free(*ids);
		*ids = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

static enum MHD_Result generate(struct serve_http *h, struct MHD_Connection *conn,
				const char *path, enum serve_kind kind, struct conn_body *b)
{
	struct serve_params p;
	struct serve_error e;
	struct serve_req *r = NULL;
	struct MHD_Response *resp;
	struct stream *st;
	char id[48];
	int32_t *ids = NULL;
	int rc;
	size_t n = 0;
	long created = (long)time(NULL);
	enum MHD_Result ret;

	if (b->too_big) {
		serve_errorf(&e, 413, "invalid_request_error", NULL,
			     "the body is over %zu bytes", h->o.lim.max_body);
		return send_error(h, conn, path, &e);
	}
	if (serve_parse_request(kind, b->p ? b->p : "", b->len, &h->o.lim, &p, &e))
		return send_error(h, conn, path, &e);
	if (tokenize(h->o.model, p.prompt, &ids, &n)) {
		serve_errorf(&e, 400, "invalid_request_error", kind == SERVE_CHAT ? "messages" : "prompt",
			     "tokenizer: SentencePiece failed to encode the text");
		goto fail;
	}
	if (!n || n > (size_t)h->o.lim.max_prompt_tokens || n >= (size_t)h->o.ctx) {
		serve_errorf(&e, 400, "invalid_request_error", kind == SERVE_CHAT ? "messages" : "prompt",
			     "the prompt is %zu tokens: it must be 1 to %d (and leave room in the "
			     "%d-token context)", n,
			     h->o.lim.max_prompt_tokens < h->o.ctx - 1 ? h->o.lim.max_prompt_tokens
								       : h->o.ctx - 1, h->o.ctx);
		goto fail;
	}
	r = serve_req_new((size_t)p.max_tokens * 8 + 64);	/* the usual text: no growth */
	if (!r) {
		serve_errorf(&e, 500, "server_error", NULL, "out of memory");
		goto fail;
	}
	r->ids = ids;
	ids = NULL;
	r->n_prompt = (int)n;
	r->max_tokens = p.max_tokens < h->o.ctx - (int)n ? p.max_tokens : h->o.ctx - (int)n;
	r->continues = kind == SERVE_COMPLETION;
	r->sampling = p.sampling;
	r->nstop = p.nstop;
	memcpy(r->stop, p.stop, sizeof(r->stop));
	r->t_submit_ns = serve_now_ns();
	rc = serve_engine_submit(h->o.engine, r);
	if (rc) {
		serve_errorf(&e, 503, rc == -EAGAIN ? "server_overloaded" : "service_unavailable", NULL,
			     rc == -EAGAIN ? "the queue is full: retry later"
					   : "the server is shutting down");
		goto fail;
	}
	b->replying = true;	/* until MHD completes the request: see serve_http_stop */
	atomic_fetch_add(&h->replying, 1);
	snprintf(id, sizeof(id), "%s-%llu", kind == SERVE_CHAT ? "chatcmpl" : "cmpl",
		 (unsigned long long)atomic_fetch_add(&h->next_id, 1));
	if (!p.stream) {
		ret = reply_whole(h, conn, path, r, kind, id, created);
		serve_req_put(r);
		serve_params_free(&p);
		return ret;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		atomic_store(&r->cancel, true);
		serve_errorf(&e, 500, "server_error", NULL, "out of memory");
		goto fail;
	}
	*st = (struct stream){ .h = h, .conn = conn, .r = r, .kind = kind,
			       .include_usage = p.include_usage, .created = created };
	snprintf(st->id, sizeof(st->id), "%s", id);
	serve_params_free(&p);
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st,
						 stream_free);
	if (!resp) {
		stream_free(st);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	serve_metrics_request(h->o.metrics, path, 200);
	return ret;
fail:
	free(ids);
	serve_req_put(r);
	serve_params_free(&p);
	return send_error(h, conn, path, &e);
}

/* --- routes --- */

static enum MHD_Result models(struct serve_http *h, struct MHD_Connection *conn)
{
	json_object *o = json_object_new_object(), *list = json_object_new_array(),
		    *m = json_object_new_object();

	json_object_object_add(m, "id", json_object_new_string(h->o.model_id));
	json_object_object_add(m, "object", json_object_new_string("model"));
	json_object_object_add(m, "created", json_object_new_int64(0));
	json_object_object_add(m, "owned_by", json_object_new_string("splitmoe"));
	json_object_array_add(list, m);
	json_object_object_add(o, "object", json_object_new_string("list"));
	json_object_object_add(o, "data", list);
	return send_json(h, conn, "/v1/models", 200, o);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct serve_http *h = cls;
	struct conn_body *b = *con_cls;
	struct serve_error e;
	bool post = !strcmp(method, "POST"), get = !strcmp(method, "GET");

	(void)version;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return MHD_NO;
		*con_cls = b;
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (b->too_big || b->len + n > h->o.lim.max_body) {
			b->too_big = true;	/* read and drop the rest */
			return MHD_YES;
		}
		if (b->len + n + 1 > b->cap) {
			size_t cap = (b->len + n + 1) * 2;
			char *t = realloc(b->p, cap);

			if (!t)
				return MHD_NO;
			b->p = t;
			b->cap = cap;
		}
		memcpy(b->p + b->len, upload_data, n);
		b->len += n;
		b->p[b->len] = '\0';
		return MHD_YES;
	}
	if (!strcmp(url, "/v1/chat/completions") || !strcmp(url, "/v1/completions")) {
		if (post)
			return generate(h, conn, url, url[4] == 'c' && url[5] == 'h' ? SERVE_CHAT
										   : SERVE_COMPLETION, b);
	} else if (!strcmp(url, "/v1/models")) {
		if (get)
			return models(h, conn);
	} else if (!strcmp(url, "/health")) {
		if (get)
			return send_body(h, conn, url, 200, "application/json",
					 strdup("{\"status\":\"ok\"}"));
	} else if (!strcmp(url, "/metrics")) {
		if (get)
			return send_body(h, conn, url, 200, "text/plain; version=0.0.4",
					 serve_metrics_render(h->o.metrics));
	} else {
		serve_errorf(&e, 404, "invalid_request_error", NULL, "no route %s %s", method, url);
		return send_error(h, conn, "other", &e);
	}
	serve_errorf(&e, 405, "invalid_request_error", NULL, "%s does not take %s", url, method);
	return send_error(h, conn, url, &e);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct serve_http *h = cls;
	struct conn_body *b = *con_cls;

	(void)conn;
	(void)toe;
	if (b && b->replying)
		atomic_fetch_sub(&h->replying, 1);
	if (b) {
		free(b->p);
		free(b);
		*con_cls = NULL;
	}
}

/* libmicrohttpd's own messages, one prefixed line each. */
static void http_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strcspn(msg, "\n");
	fprintf(stderr, "splitmoe: serve: http: %.*s\n", (int)n, msg);
}

int serve_http_start(const struct serve_http_opts *o, struct serve_http **out, int *port,
		     char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			     MHD_USE_ERROR_LOG | MHD_USE_ITC;	/* ITC: quiesce at stop */
	const union MHD_DaemonInfo *di;
	struct serve_http *h;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, o->host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)o->port);
	} else if (inet_pton(AF_INET6, o->host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)o->port);
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, errlen, "serve: --host '%s' is not a numeric IPv4 or IPv6 address",
			 o->host);
		return -1;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "serve: out of memory");
		return -1;
	}
	h->o = *o;
	atomic_init(&h->next_id, 1);
	h->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, h,
				MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
				MHD_OPTION_CONNECTION_LIMIT, 256u,
				MHD_OPTION_CONNECTION_TIMEOUT, 120u,
				MHD_OPTION_END);
	if (!h->d) {
		snprintf(err, errlen, "serve: cannot listen on %s port %d: %s", o->host, o->port,
			 strerror(errno));
		free(h);
		return -1;
	}
	di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	*port = di ? di->port : o->port;
	*out = h;
	return 0;
}

void serve_http_stop(struct serve_http *h, int wait_ms)
{
	uint64_t deadline = serve_now_ns() + (uint64_t)wait_ms * 1000000ull;
	MHD_socket listener;

	if (!h)
		return;
	/* no new connections; replies under way are written out (the engine
	 * has ended their requests) before every connection is closed */
	listener = MHD_quiesce_daemon(h->d);
	while (atomic_load(&h->replying) > 0 && serve_now_ns() < deadline) {
		struct timespec ts = { 0, 10000000 };

		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(h->d);
	if (listener != MHD_INVALID_SOCKET)
		close(listener);
	free(h);
}
