// SPDX-License-Identifier: MIT
/*
 * splitmoe run: prompt -> prefill -> sample/decode loop, streaming text.
 * splitmoe logits: ids -> prefill -> float32 logits [positions][vocab].
 */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --ids into int32 ids; 0, or -1 after one error. */
static int parse_ids(const char *s, int vocab, int32_t **ids, size_t *n)
{
	int *v;

	*ids = NULL;
	if (cli_parse_ids(s, vocab, &v, n))
		return -1;
	*ids = malloc(*n * sizeof(**ids));
	if (!*ids) {
		cli_err("out of memory");
		free(v);
		return -1;
	}
	for (size_t i = 0; i < *n; i++)
		(*ids)[i] = v[i];
	free(v);
	return 0;
}

/* The prompt's ids from exactly one of --prompt, --chat, --ids. */
static int prompt_ids(struct cli_opts *o, struct cli_ctx *c, int32_t **ids, size_t *n)
{
	int given = !!o->prompt + !!o->chat + !!o->ids;

	if (given != 1) {
		cli_err("%s: give exactly one of --prompt TEXT, --chat TEXT, --ids 1,2,3", o->cmd);
		return -1;
	}
	if (o->ids)
		return parse_ids(o->ids, splitmoe_model_vocab(c->model), ids, n);
	if (!*(o->prompt ? o->prompt : o->chat)) {
		cli_err("%s: %s: empty prompt", o->cmd, o->prompt ? "--prompt" : "--chat");
		return -1;
	}
	return cli_tokenize(c, o->chat ? o->chat : o->prompt, o->chat != NULL, ids, n);
}

static int check_length(struct cli_opts *o, const struct cli_ctx *c, size_t n)
{
	int max = splitmoe_model_max_positions(c->model);

	if (n > (size_t)max) {
		cli_err("%s: prompt is %zu tokens, longer than max_position_embeddings (%d)",
			o->cmd, n, max);
		return -1;
	}
	return 0;
}

static void stream(const char *s, size_t n)
{
	if (n) {
		fwrite(s, 1, n, stdout);
		fflush(stdout);
	}
}

int cmd_run(struct cli_opts *o)
{
	struct splitmoe_sampler_params sp = {
		.temperature = o->temperature, .top_k = o->top_k, .top_p = o->top_p, .seed = o->seed,
	};
	splitmoe_sampler *smp = NULL;
	splitmoe_detok *dt = NULL;
	struct cli_ctx c;
	const float *logits;
	int32_t *ids = NULL, *gen = NULL;
	int n_gen, n_out = 0, max_pos, rc = 1, i;
	splitmoe_status e;
	uint64_t t0, t1, t2;
	size_t n = 0;
	char buf[256];

	if (cli_load(o, &c, true))
		return 1;
	if (prompt_ids(o, &c, &ids, &n) || check_length(o, &c, n))
		goto out;
	max_pos = splitmoe_model_max_positions(c.model);
	n_gen = o->n;
	if ((size_t)n_gen > (size_t)max_pos - n) {
		n_gen = max_pos - (int)n;
		fprintf(stderr, "splitmoe: generating at most %d tokens (max_position_embeddings %d)\n",
			n_gen, max_pos);
	}
	e = splitmoe_sampler_create(c.model, &sp, &smp);
	gen = malloc(((size_t)n_gen + 1) * sizeof(*gen));
	if (e || !gen) {
		cli_err("run: %s", e == SPLITMOE_ERR_INVALID ? "bad sampling options" : "out of memory");
		goto out;
	}
	if (cli_start_session(o, &c, (int)n + n_gen))
		goto out;
	fprintf(stderr, "splitmoe: %zu prompt tokens, compute %s, up to %d new tokens\n", n,
		cli_name(SPLITMOE_OPTION_COMPUTE, splitmoe_session_compute(c.session)), n_gen);
	cli_report_weights(stderr, &c);
	cli_report_model_format(stderr, c.model, splitmoe_session_compute(c.session), o->sp.quant);

	t0 = now_ns();
	e = splitmoe_prefill(c.session, ids, (int)n);
	t1 = now_ns();
	if (e) {
		cli_err("run: prefill: %s", splitmoe_session_error(c.session));
		goto out;
	}
	logits = splitmoe_logits(c.session);
	/* a --chat answer starts fresh; other prompts are continued */
	dt = splitmoe_detok_create(c.model, !o->chat);
	if (!dt) {
		cli_err("run: out of memory");
		goto out;
	}
	for (i = 0; i < n_gen; i++) {
		int32_t id = splitmoe_sample(smp, logits);

		if (splitmoe_token_is_eos(c.model, id))
			break;
		gen[n_out++] = id;
		stream(buf, splitmoe_detok_push(dt, id, buf, sizeof(buf)));
		if (i + 1 == n_gen)
			break;
		e = splitmoe_decode(c.session, id);
		if (e) {
			cli_err("run: decode: %s", splitmoe_session_error(c.session));
			goto out;
		}
		logits = splitmoe_logits(c.session);
	}
	t2 = now_ns();
	stream(buf, splitmoe_detok_flush(dt, buf, sizeof(buf)));
	putchar('\n');
	if (o->print_ids) {
		for (i = 0; i < n_out; i++)
			printf("%s%d", i ? " " : "", gen[i]);
		putchar('\n');
	}
	fflush(stdout);
	/* the first new token comes from the prefill's logits: decode steps
	 * are the tokens fed back, n_out - 1 when the limit stopped us */
	{
		int steps = n_out - (n_out == n_gen ? 1 : 0);
		double pf = (t1 - t0) / 1e9, dc = (t2 - t1) / 1e9;

		if (steps < 0)
			steps = 0;
		fprintf(stderr, "prefill: %zu tokens in %.1f ms, %.1f tok/s\n", n, pf * 1e3,
			pf > 0 ? n / pf : 0);
		fprintf(stderr, "decode: %d tokens in %.1f ms, %.1f tok/s\n", steps, dc * 1e3,
			dc > 0 && steps ? steps / dc : 0);
	}
	cli_report_gpu(stderr, &c);
	cli_report_arbiter(stderr, &c);
	cli_report_memory(stderr, "end of run");
	rc = 0;
out:
	splitmoe_detok_free(dt);
	splitmoe_sampler_free(smp);
	free(gen);
	free(ids);
	cli_close(&c);
	return rc;
}

/* Write all of buf to path through a temporary file: never half-written. */
static int write_file_atomic(const char *path, const void *buf, size_t len)
{
	char tmp[4200];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	f = fopen(tmp, "wb");
	if (!f) {
		cli_err("%s: %s", path, strerror(errno));
		return -1;
	}
	if (fwrite(buf, 1, len, f) != len || fflush(f) || fsync(fileno(f))) {
		cli_err("%s: write: %s", path, strerror(errno));
		fclose(f);
		unlink(tmp);
		return -1;
	}
	if (fclose(f) || rename(tmp, path)) {
		cli_err("%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int cmd_logits(struct cli_opts *o)
{
	struct splitmoe_prefill_out po = { 0 };
	struct cli_ctx c;
	int32_t *ids = NULL;
	int rc = 1;
	size_t n = 0, vocab;

	if (!o->ids || !o->out) {
		cli_err("logits: --ids 1,2,3 and --out FILE are required");
		return 2;
	}
	if (cli_load(o, &c, false))
		return 1;
	vocab = (size_t)splitmoe_model_vocab(c.model);
	if (parse_ids(o->ids, (int)vocab, &ids, &n) || check_length(o, &c, n))
		goto out;
	po.logits = malloc(n * vocab * sizeof(float));
	if (!po.logits) {
		cli_err("logits: out of memory");
		goto out;
	}
	if (cli_start_session(o, &c, (int)n))
		goto out;
	if (splitmoe_prefill_ex(c.session, ids, (int)n, &po)) {
		cli_err("logits: prefill: %s", splitmoe_session_error(c.session));
		goto out;
	}
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "logits files are little-endian float32: add a byte swap for this host"
#endif
	if (write_file_atomic(o->out, po.logits, n * vocab * sizeof(float)))
		goto out;
	fprintf(stderr, "splitmoe: wrote %zu x %zu float32 logits (%s) to %s\n", n, vocab,
		cli_name(SPLITMOE_OPTION_COMPUTE, splitmoe_session_compute(c.session)), o->out);
	rc = 0;
out:
	free(po.logits);
	free(ids);
	cli_close(&c);
	return rc;
}
