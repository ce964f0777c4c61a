// SPDX-License-Identifier: MIT
/*
 * serve: request bodies (OpenAI chat/completions and completions) parsed
 * and validated into struct serve_params; every refusal names its field.
 */
#include "serve.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int serve_errorf(struct serve_error *e, int status, const char *type, const char *param,
		 const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	e->type = type;
	snprintf(e->param, sizeof(e->param), "%s", param ? param : "");
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -1;
}

static int bad(struct serve_error *e, const char *param, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad(struct serve_error *e, const char *param, const char *fmt, ...)
{
	va_list ap;

	e->status = 400;
	e->type = "invalid_request_error";
	snprintf(e->param, sizeof(e->param), "%s", param);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -1;
}

char *serve_error_json(const struct serve_error *e)
{
	json_object *root = json_object_new_object(), *err = json_object_new_object();
	char *s;

	json_object_object_add(err, "message", json_object_new_string(e->message));
	json_object_object_add(err, "type", json_object_new_string(e->type));
	json_object_object_add(err, "param",
			       e->param[0] ? json_object_new_string(e->param) : NULL);
	json_object_object_add(err, "code", NULL);
	json_object_object_add(root, "error", err);
	s = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
						  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return s;
}

const char *serve_finish_name(enum serve_finish f)
{
	switch (f) {
	case SERVE_FINISH_STOP: return "stop";
	case SERVE_FINISH_LENGTH: return "length";
	case SERVE_FINISH_CANCELLED: return "cancelled";
	case SERVE_FINISH_ERROR: return "error";
	case SERVE_RUNNING: break;
	}
	return "running";
}

/* An integer field: JSON integers only (1.5 and "3" are refused). */
static int get_int(json_object *v, const char *name, long long lo, long long hi, long long *out,
		   struct serve_error *e)
{
	long long x;

	if (!json_object_is_type(v, json_type_int))
		return bad(e, name, "'%s' must be an integer", name);
	errno = 0;
	x = json_object_get_int64(v);
	if (errno || x < lo || x > hi)
		return bad(e, name, "'%s' must be in [%lld, %lld]", name, lo, hi);
	*out = x;
	return 0;
}

static int get_num(json_object *v, const char *name, double lo, double hi, bool open_lo,
		   float *out, struct serve_error *e)
{
	double x;

	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return bad(e, name, "'%s' must be a number", name);
	x = json_object_get_double(v);
	if (!isfinite(x) || x > hi || x < lo || (open_lo && x == lo))
		return bad(e, name, "'%s' must be in %s%g, %g]", name, open_lo ? "(" : "[", lo, hi);
	*out = (float)x;
	return 0;
}

static int get_stop(json_object *v, struct serve_params *p, struct serve_error *e)
{
	size_t i, n;

	p->nstop = 0;
	if (json_object_is_type(v, json_type_null))
		return 0;
	if (json_object_is_type(v, json_type_string)) {
		n = 1;
	} else if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		if (n > SERVE_MAX_STOP)
			return bad(e, "stop", "'stop' holds at most %d strings", SERVE_MAX_STOP);
	} else {
		return bad(e, "stop", "'stop' must be a string or an array of strings");
	}
	for (i = 0; i < n; i++) {
		json_object *s = json_object_is_type(v, json_type_array) ?
				 json_object_array_get_idx(v, i) : v;
		const char *t;
		size_t len;

		if (!json_object_is_type(s, json_type_string))
			return bad(e, "stop", "'stop' must be a string or an array of strings");
		t = json_object_get_string(s);
		len = (size_t)json_object_get_string_len(s);
		if (!len || len > SERVE_STOP_LEN || strlen(t) != len)
			return bad(e, "stop", "each 'stop' string must be 1 to %d bytes",
				   SERVE_STOP_LEN);
		memcpy(p->stop[p->nstop++], t, len + 1);
	}
	return 0;
}

/* A string without NUL bytes (the engine works on C strings). */
static int get_text(json_object *v, const char *name, const char **out, struct serve_error *e)
{
	if (!json_object_is_type(v, json_type_string))
		return bad(e, name, "'%s' must be a string", name);
	*out = json_object_get_string(v);
	if (strlen(*out) != (size_t)json_object_get_string_len(v))
		return bad(e, name, "'%s' must not contain NUL characters", name);
	return 0;
}

/* The messages in the chat format with the assistant's turn opened, as a
 * malloc'ed string; NULL out of memory. */
static char *render(const struct splitmoe_chat_msg *msgs, int n)
{
	long len = splitmoe_chat_render(msgs, n, true, NULL, 0);
	char *text = len < 0 ? NULL : malloc((size_t)len + 1);

	if (text)
		splitmoe_chat_render(msgs, n, true, text, (size_t)len + 1);
	return text;
}

static int get_messages(json_object *v, struct serve_params *p, struct serve_error *e)
{
	struct splitmoe_chat_msg *msgs;
	size_t i, n;
	int rc = -1;

	if (!json_object_is_type(v, json_type_array) || !json_object_array_length(v))
		return bad(e, "messages", "'messages' must be a non-empty array");
	n = json_object_array_length(v);
	if (n > 4096)
		return bad(e, "messages", "'messages' holds at most 4096 messages");
	msgs = calloc(n, sizeof(*msgs));
	if (!msgs)
		return serve_errorf(e, 500, "server_error", NULL, "out of memory");
	for (i = 0; i < n; i++) {
		json_object *m = json_object_array_get_idx(v, i);
		char name[96];
		bool have_role = false, have_content = false;

		snprintf(name, sizeof(name), "messages[%zu]", i);
		if (!json_object_is_type(m, json_type_object)) {
			bad(e, name, "'%s' must be an object", name);
			goto out;
		}
		json_object_object_foreach(m, key, val) {
			snprintf(name, sizeof(name), "messages[%zu].%s", i, key);
			if (!strcmp(key, "role")) {
				const char *r;

				if (get_text(val, name, &r, e))
					goto out;
				if (splitmoe_chat_role_parse(r, &msgs[i].role)) {
					bad(e, name, "'%s' must be \"system\", \"user\" or \"assistant\"",
					    name);
					goto out;
				}
				have_role = true;
			} else if (!strcmp(key, "content")) {
				if (get_text(val, name, &msgs[i].content, e))
					goto out;
				have_content = true;
			} else if (!strcmp(key, "name")) {
				const char *ignored;

				if (get_text(val, name, &ignored, e))
					goto out;
			} else {
				bad(e, name, "unknown field '%s'", name);
				goto out;
			}
		}
		snprintf(name, sizeof(name), "messages[%zu].%s", i,
			 have_role ? "content" : "role");
		if (!have_role || !have_content) {
			bad(e, name, "'%s' is required", name);
			goto out;
		}
	}
	free(p->prompt);
	p->prompt = render(msgs, (int)n);
	if (!p->prompt) {
		serve_errorf(e, 500, "server_error", NULL, "out of memory");
		goto out;
	}
	rc = 0;
out:
	free(msgs);
	return rc;
}

static int get_stream_options(json_object *v, struct serve_params *p, struct serve_error *e)
{
	if (json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return bad(e, "stream_options", "'stream_options' must be an object");
	json_object_object_foreach(v, key, val) {
		if (strcmp(key, "include_usage"))
			return bad(e, "stream_options", "unknown field 'stream_options.%s'", key);
		if (!json_object_is_type(val, json_type_boolean))
			return bad(e, "stream_options.include_usage",
				   "'stream_options.include_usage' must be a boolean");
		p->include_usage = json_object_get_boolean(val);
	}
	return 0;
}

static int parse_field(enum serve_kind kind, const char *key, json_object *val,
		       const struct serve_limits *lim, struct serve_params *p,
		       struct serve_error *e)
{
	long long x;
	const char *s;

	if (!strcmp(key, "model") || !strcmp(key, "user"))
		return get_text(val, key, &s, e);	/* one model: any name is it */
	if (!strcmp(key, "messages") && kind == SERVE_CHAT)
		return get_messages(val, p, e);
	if (!strcmp(key, "prompt") && kind == SERVE_COMPLETION) {
		if (get_text(val, key, &s, e))
			return -1;
		free(p->prompt);
		p->prompt = strdup(s);
		return p->prompt ? 0 : serve_errorf(e, 500, "server_error", NULL, "out of memory");
	}
	if (!strcmp(key, "max_tokens") || !strcmp(key, "max_completion_tokens")) {
		if (json_object_is_type(val, json_type_null))
			return 0;
		if (get_int(val, key, 1, lim->max_tokens, &x, e))
			return -1;
		p->max_tokens = (int)x;
		return 0;
	}
	if (!strcmp(key, "temperature"))
		return get_num(val, key, 0, 2, false, &p->sampling.temperature, e);
	if (!strcmp(key, "top_p"))
		return get_num(val, key, 0, 1, true, &p->sampling.top_p, e);
	if (!strcmp(key, "top_k")) {
		if (get_int(val, key, 0, 1 << 30, &x, e))
			return -1;
		p->sampling.top_k = (int)x;
		return 0;
	}
	if (!strcmp(key, "seed")) {
		if (get_int(val, key, 0, INT64_MAX, &x, e))
			return -1;
		p->sampling.seed = (uint64_t)x;
		return 0;
	}
	if (!strcmp(key, "n")) {
		if (get_int(val, key, 1, 1, &x, e))
			return bad(e, "n", "'n' must be 1 (one choice per request)");
		return 0;
	}
	if (!strcmp(key, "stop"))
		return get_stop(val, p, e);
	if (!strcmp(key, "stream")) {
		if (!json_object_is_type(val, json_type_boolean))
			return bad(e, key, "'stream' must be a boolean");
		p->stream = json_object_get_boolean(val);
		return 0;
	}
	if (!strcmp(key, "stream_options"))
		return get_stream_options(val, p, e);
	return bad(e, key, "unknown field '%s'", key);
}

int serve_parse_request(enum serve_kind kind, const char *body, size_t len,
			const struct serve_limits *lim, struct serve_params *p,
			struct serve_error *e)
{
	struct json_tokener *tok;
	json_object *root;
	enum json_tokener_error jerr;
	size_t used;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->max_tokens = lim->default_max_tokens;
	p->sampling.temperature = 1.0f;		/* OpenAI's default */
	p->sampling.top_p = 1.0f;
	p->sampling.seed = (uint64_t)serve_now_ns();
	if (!splitmoe_utf8_valid(body, len, &used))
		return bad(e, "", "the body is not valid UTF-8 (byte %zu)", used);
	tok = json_tokener_new();
	if (!tok)
		return serve_errorf(e, 500, "server_error", NULL, "out of memory");
	root = json_tokener_parse_ex(tok, body, (int)len);
	jerr = json_tokener_get_error(tok);
	used = (size_t)json_tokener_get_parse_end(tok);
	if (!root || jerr != json_tokener_success) {
		bad(e, "", "malformed JSON body: %s",
		    jerr == json_tokener_continue ? "unexpected end" : json_tokener_error_desc(jerr));
		goto out;
	}
	while (used < len && strchr(" \t\r\n", body[used]))
		used++;
	if (used != len) {
		bad(e, "", "malformed JSON body: trailing bytes after the object");
		goto out;
	}
	if (!json_object_is_type(root, json_type_object)) {
		bad(e, "", "the body must be a JSON object");
		goto out;
	}
	json_object_object_foreach(root, key, val) {
		if (parse_field(kind, key, val, lim, p, e))
			goto out;
	}
	if (!p->prompt) {
		bad(e, kind == SERVE_CHAT ? "messages" : "prompt", "'%s' is required",
		    kind == SERVE_CHAT ? "messages" : "prompt");
		goto out;
	}
	rc = 0;
out:
	if (rc)
		serve_params_free(p);
	json_object_put(root);
	json_tokener_free(tok);
	return rc;
}

void serve_params_free(struct serve_params *p)
{
	free(p->prompt);
	p->prompt = NULL;
}
