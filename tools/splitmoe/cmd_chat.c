// SPDX-License-Identifier: MIT
/*
 * splitmoe chat: a conversation in the terminal. The history lives in the
 * session's KV cache: each user turn is appended through the chat template
 * and the reply streamed as it is decoded. When the context cannot hold
 * the next turn and its reply, the conversation starts over (said so).
 * Ctrl-C stops a reply (a flag checked between tokens); Ctrl-D leaves.
 */
#include "session.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_REPLY_TOKENS 256

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* The ids of a user turn; a later turn first closes the previous reply
 * (its end token was sampled, not fed) and carries no BOS. */
static int turn_ids(struct cli_ctx *c, const char *msg, bool first, int32_t **ids, size_t *n)
{
	struct splitmoe_chat_msg m = { SPLITMOE_ROLE_USER, msg };
	const char *close = first ? "" : "<|end|>\n";
	long len = splitmoe_chat_render(&m, 1, true, NULL, 0);
	char *text = len < 0 ? NULL : malloc(strlen(close) + (size_t)len + 1);
	int rc;

	if (!text) {
		cli_err("chat: out of memory");
		return -1;
	}
	strcpy(text, close);
	splitmoe_chat_render(&m, 1, true, text + strlen(close), (size_t)len + 1);
	rc = cli_tokenize(c, text, false, ids, n);
	free(text);
	if (rc)
		return -1;
	if (!first && *n && splitmoe_token_adds_bos(c->model) &&
	    (*ids)[0] == splitmoe_token_bos(c->model)) {
		memmove(*ids, *ids + 1, (*n - 1) * sizeof(**ids));
		(*n)--;
	}
	return 0;
}

/* Prefill the turn, then stream the reply. 0, or -1 on an engine error. */
static int reply(struct cli_ctx *c, splitmoe_sampler *smp, const int32_t *ids, size_t n, int max)
{
	splitmoe_detok *dt;
	const float *logits;
	char buf[256];
	int i;

	if (splitmoe_prefill(c->session, ids, (int)n)) {
		cli_err("chat: prefill: %s", splitmoe_session_error(c->session));
		return -1;
	}
	logits = splitmoe_logits(c->session);
	dt = splitmoe_detok_create(c->model, false);
	if (!dt) {
		cli_err("chat: out of memory");
		return -1;
	}
	for (i = 0; i < max && !interrupted; i++) {
		int32_t id = splitmoe_sample(smp, logits);

		if (splitmoe_token_is_eos(c->model, id))
			break;
		if (splitmoe_detok_push(dt, id, buf, sizeof(buf))) {
			fputs(buf, stdout);
			fflush(stdout);
		}
		if (splitmoe_decode(c->session, id)) {
			cli_err("chat: decode: %s", splitmoe_session_error(c->session));
			splitmoe_detok_free(dt);
			return -1;
		}
		logits = splitmoe_logits(c->session);
	}
	if (splitmoe_detok_flush(dt, buf, sizeof(buf)))
		fputs(buf, stdout);
	splitmoe_detok_free(dt);
	fputs(interrupted ? " [stopped]\n" : "\n", stdout);
	fflush(stdout);
	return 0;
}

int cmd_chat(struct cli_opts *o)
{
	struct splitmoe_sampler_params so = {
		.temperature = o->temperature, .top_k = o->top_k, .top_p = o->top_p, .seed = o->seed,
	};
	splitmoe_sampler *smp = NULL;
	struct sigaction sa;
	struct cli_ctx c;
	char *line = NULL;
	size_t cap = 0;
	int ctx, max = o->n_given ? o->n : DEFAULT_REPLY_TOKENS, rc = 1;
	bool first = true;

	if (cli_load(o, &c, true))
		return 1;
	ctx = splitmoe_model_max_positions(c.model) < 4096 ? splitmoe_model_max_positions(c.model) :
	      4096;
	if (splitmoe_sampler_create(c.model, &so, &smp)) {
		cli_err("chat: bad sampling options");
		goto out;
	}
	if (cli_start_session(o, &c, ctx))
		goto out;
	/* no SA_RESTART: Ctrl-C at the prompt interrupts the read */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	fprintf(stderr, "splitmoe chat: %d-token context, replies of up to %d tokens; /reset "
		"starts over, /exit or Ctrl-D leaves, Ctrl-C stops a reply\n", ctx, max);
	for (;;) {
		int32_t *ids = NULL;
		size_t n = 0, len;
		ssize_t got;

		fputs("> ", stdout);
		fflush(stdout);
		interrupted = 0;
		errno = 0;
		got = getline(&line, &cap, stdin);
		if (got < 0) {
			if (errno == EINTR || interrupted) {
				clearerr(stdin);
				fputs("\n", stdout);
				continue;
			}
			fputs("\n", stdout);
			break;		/* Ctrl-D */
		}
		len = strcspn(line, "\r\n");
		line[len] = '\0';
		if (!len)
			continue;
		if (!strcmp(line, "/exit"))
			break;
		if (!strcmp(line, "/reset")) {
			splitmoe_session_reset(c.session);
			first = true;
			fputs("(conversation reset)\n", stdout);
			continue;
		}
		if (turn_ids(&c, line, first, &ids, &n))
			goto out;
		if (!first && (size_t)splitmoe_session_pos(c.session) + n + (size_t)max > (size_t)ctx) {
			free(ids);
			fputs("(the context is full: the conversation starts over)\n", stdout);
			splitmoe_session_reset(c.session);
			first = true;
			if (turn_ids(&c, line, first, &ids, &n))
				goto out;
		}
		if (n + (size_t)max > (size_t)ctx) {
			free(ids);
			fprintf(stdout, "(that message is %zu tokens: with a %d-token reply it does "
				"not fit the %d-token context)\n", n, max, ctx);
			continue;
		}
		interrupted = 0;
		if (reply(&c, smp, ids, n, max)) {
			free(ids);
			goto out;
		}
		free(ids);
		first = false;
	}
	rc = 0;
out:
	free(line);
	splitmoe_sampler_free(smp);
	cli_close(&c);
	return rc;
}
