// SPDX-License-Identifier: MIT
/*
 * splitmoe serve: the model behind an OpenAI-compatible HTTP API
 * (serve_http.c), requests batched by one engine thread (serve_engine.c).
 * SIGTERM or SIGINT drains: running requests get DRAIN_MS to finish, the
 * rest are cancelled, and the process exits 0.
 */
#include "session.h"
#include "serve_engine.h"
#include "serve_http.h"
#include "serve_metrics.h"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DRAIN_MS 10000
#define DEFAULT_PARALLEL 4
#define BODY_MAX (1u << 20)
#define DEFAULT_MAX_TOKENS 128

struct arb_snapshot {
	struct cli_ctx *c;
	struct serve_metrics *m;
};

/* After each engine step: the arbiter clients' figures for /metrics. */
static void snapshot_arbiter(void *arg)
{
	struct arb_snapshot *a = arg;
	const splitmoe_arb_client *cpu, *gpu;
	struct splitmoe_arb_client_stats st;
	struct splitmoe_session_info si;
	const char *kind;

	if (!a->c->session)
		return;
	splitmoe_session_info(a->c->session, &si);
	cpu = splitmoe_session_arb_client(a->c->session);
	gpu = splitmoe_session_gpu_arb_client(a->c->session);
	kind = cli_name(SPLITMOE_OPTION_ARBITER, si.arbiter);
	if (cpu) {
		splitmoe_arb_client_stats(cpu, &st);
		serve_metrics_arbiter(a->m, kind, "cpu", &st);
	}
	if (gpu) {
		splitmoe_arb_client_stats(gpu, &st);
		serve_metrics_arbiter(a->m, kind, "gpu", &st);
	}
}

int cmd_serve(struct cli_opts *o)
{
	struct serve_engine_opts eo = { 0 };
	struct serve_http_opts ho = { 0 };
	struct serve_engine *eng = NULL;
	struct serve_http *http = NULL;
	struct serve_metrics *metrics = NULL;
	struct arb_snapshot snap;
	struct cli_ctx c;
	char err[512], *dir = NULL;
	sigset_t sigs;
	int ctx, parallel, port = 0, sig = 0, rc = 1;

	/* every thread started from here on leaves the signals to sigwait */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);	/* a client gone mid-write is an EPIPE */

	if (o->parallel.given && o->parallel.n != 1) {
		cli_err("serve: --parallel takes one number (sequences at once)");
		return 2;
	}
	parallel = o->parallel.given ? o->parallel.v[0] : DEFAULT_PARALLEL;
	if (o->sp.device != SPLITMOE_DEVICE_CPU && parallel > 1) {
		cli_err("serve: --device %s runs one sequence at a time (batched decode runs on the "
			"CPU backend only): use --parallel 1, or --device cpu",
			cli_name(SPLITMOE_OPTION_DEVICE, o->sp.device));
		return 1;
	}
	if (cli_load(o, &c, true))
		return 1;
	ctx = splitmoe_model_max_positions(c.model) < 4096 ? splitmoe_model_max_positions(c.model) :
	      4096;
	/* one slot runs on sequence 0; more open their own beside it */
	o->max_seqs = parallel == 1 ? 1 : parallel + 1;
	if (cli_start_session(o, &c, ctx))
		goto out;
	metrics = serve_metrics_new();
	dir = strdup(o->model);
	if (!metrics || !dir) {
		cli_err("serve: out of memory");
		goto out;
	}
	snap = (struct arb_snapshot){ &c, metrics };
	eo = (struct serve_engine_opts){
		.s = c.session, .model = c.model, .ctx = ctx, .parallel = parallel, .queue_max = o->queue,
		.max_rows = o->max_batch ? o->max_batch : 256, .metrics = metrics,
		.after_step = snapshot_arbiter, .arg = &snap,
	};
	if (eo.max_rows < parallel) {
		cli_err("serve: -b %d is below --parallel %d: every running sequence decodes one "
			"row per step", eo.max_rows, parallel);
		goto out;
	}
	if (serve_engine_start(&eo, &eng, err, sizeof(err))) {
		cli_err("%s", err);
		goto out;
	}
	ho = (struct serve_http_opts){
		.host = o->host, .port = o->port, .model_id = basename(dir), .ctx = ctx,
		.lim = { .max_body = BODY_MAX, .max_prompt_tokens = ctx - 1, .max_tokens = ctx - 1,
			 .default_max_tokens = DEFAULT_MAX_TOKENS },
		.model = c.model, .engine = eng, .metrics = metrics,
	};
	if (serve_http_start(&ho, &http, &port, err, sizeof(err))) {
		cli_err("%s", err);
		goto out;
	}
	fprintf(stderr, "splitmoe: serving %s on http://%s%s%s:%d/ (%d sequences at once, "
		"compute %s, context %d tokens)\n", ho.model_id, strchr(o->host, ':') ? "[" : "",
		o->host, strchr(o->host, ':') ? "]" : "", port, parallel,
		cli_name(SPLITMOE_OPTION_COMPUTE, splitmoe_session_compute(c.session)), ctx);
	fflush(stderr);
	while (sigwait(&sigs, &sig) == EINTR)
		;
	fprintf(stderr, "splitmoe: serve: %s: draining (at most %d ms)\n",
		sig == SIGTERM ? "SIGTERM" : "SIGINT", DRAIN_MS);
	rc = 0;
out:
	if (eng)
		serve_engine_stop(eng, DRAIN_MS);
	serve_http_stop(http, 5000);
	serve_engine_free(eng);
	if (rc == 0) {
		cli_report_arbiter(stderr, &c);
		fprintf(stderr, "splitmoe: serve: stopped\n");
	}
	serve_metrics_free(metrics);
	free(dir);
	cli_close(&c);
	return rc;
}
