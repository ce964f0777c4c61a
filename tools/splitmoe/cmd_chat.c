// SPDX-License-Identifier: MIT
/*
 * splitmoe chat: a conversation in the terminal. The history lives in the
 * session's KV cache: each user turn is appended through the chat template
 * and the reply streamed as it is decoded. When the context cannot hold
 * the next turn and its reply, the conversation starts over (said so).
 * Ctrl-C stops a reply (a flag checked between tokens); Ctrl-D leaves.
 */
#include "session.h"
#include "model/chat_format.h"
#include "engine/sampler.h"

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

static bool is_eos(const struct phimoe_config *cfg, int id)
{
	int i;

	for (i = 0; i < cfg->n_eos; i++)
		if (cfg->eos_token_ids[i] == id)
			return true;
	return false;
}

/* The ids of a user turn; a later turn first closes the previous reply
 * (its end token was sampled, not fed) and carries no BOS. */
static int turn_ids(struct cli_ctx *c, const char *msg, bool first, int **ids, size_t *n)
{
	struct phimoe_chat_msg m = { PHIMOE_ROLE_USER, msg };
	char err[PHIMOE_ERRLEN], *t = phimoe_chat_render(&m, 1, true), *text = NULL;
	int rc;

	if (t && asprintf(&text, "%s%s", first ? "" : "<|end|>\n", t) < 0)
		text = NULL;
	free(t);
	if (!text) {
		cli_err("chat: out of memory");
		return -1;
	}
	rc = phimoe_tokenizer_encode(c->tk, text, ids, n, err, sizeof(err));
	free(text);
	if (rc) {
		cli_err("chat: %s", err);
		return -1;
	}
	if (!first && *n && phimoe_tokenizer_add_bos(c->tk) &&
	    (*ids)[0] == phimoe_tokenizer_bos_id(c->tk)) {
		memmove(*ids, *ids + 1, (*n - 1) * sizeof(**ids));
		(*n)--;
	}
	return 0;
}

/* Prefill the turn, then stream the reply. 0, or -1 on an engine error. */
static int reply(struct cli_ctx *c, struct sm_sampler *smp, const int *ids, size_t n, int max)
{
	struct phimoe_detok dt;
	const float *logits;
	char buf[256];
	int i, e;

	e = phimoe_prefill(c->s, (const int32_t *)ids, (int)n, NULL);
	if (e) {
		cli_err("chat: prefill: %s", phimoe_session_error(c->s));
		return -1;
	}
	logits = phimoe_session_logits(c->s);
	phimoe_detok_init(&dt, c->tk, false);
	for (i = 0; i < max && !interrupted; i++) {
		int id = sm_sampler_sample(smp, logits);

		if (is_eos(&c->m.cfg, id))
			break;
		if (phimoe_detok_push(&dt, id, buf, sizeof(buf))) {
			fputs(buf, stdout);
			fflush(stdout);
		}
		e = phimoe_decode(c->s, id, &logits);
		if (e) {
			cli_err("chat: decode: %s", phimoe_session_error(c->s));
			return -1;
		}
	}
	if (phimoe_detok_flush(&dt, buf, sizeof(buf)))
		fputs(buf, stdout);
	fputs(interrupted ? " [stopped]\n" : "\n", stdout);
	fflush(stdout);
	return 0;
}

int cmd_chat(struct cli_opts *o)
{
	struct sm_sampler_opts so = {
		.temperature = o->temperature, .top_k = o->top_k, .top_p = o->top_p, .seed = o->seed,
	};
	struct sm_sampler *smp = NULL;
	struct sigaction sa;
	struct cli_ctx c;
	char *line = NULL;
	size_t cap = 0;
	int ctx, max = o->n_given ? o->n : DEFAULT_REPLY_TOKENS, rc = 1;
	bool first = true;

	if (cli_load(o, &c, true))
		return 1;
	ctx = c.m.cfg.max_position_embeddings < 4096 ? c.m.cfg.max_position_embeddings : 4096;
	if (sm_sampler_create(c.m.cfg.vocab_size, &so, &smp)) {
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
		int *ids = NULL;
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
			phimoe_session_reset(c.s);
			first = true;
			fputs("(conversation reset)\n", stdout);
			continue;
		}
		if (turn_ids(&c, line, first, &ids, &n))
			goto out;
		if (!first && (size_t)phimoe_session_pos(c.s) + n + (size_t)max > (size_t)ctx) {
			free(ids);
			fputs("(the context is full: the conversation starts over)\n", stdout);
			phimoe_session_reset(c.s);
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
	sm_sampler_free(smp);
	cli_close(&c);
	return rc;
}
