/* SPDX-License-Identifier: MIT */
/*
 * serve: counters and gauges for GET /metrics (Prometheus text format
 * 0.0.4). HTTP threads count requests; the engine thread counts tokens,
 * time to first token, and snapshots queue depth, tok/s and the arbiter's
 * per-client figures after each step. One mutex; nothing per token but
 * a few additions under it.
 */
#ifndef SPLITMOE_SERVE_METRICS_H
#define SPLITMOE_SERVE_METRICS_H

#include <stdint.h>

#include "splitmoe.h"

struct serve_metrics;

struct serve_metrics *serve_metrics_new(void);
void serve_metrics_free(struct serve_metrics *m);

/* One HTTP request answered: endpoint path (an unknown one counts as
 * "other") and the status sent. */
void serve_metrics_request(struct serve_metrics *m, const char *path, int status);
void serve_metrics_tokens(struct serve_metrics *m, uint64_t prompt, uint64_t completion);
void serve_metrics_ttft(struct serve_metrics *m, double seconds);
/* The engine's state after a step: waiting and running requests, decode
 * tok/s over the recent steps. */
void serve_metrics_engine(struct serve_metrics *m, int queued, int running, double tok_s);
/* The arbiter's figures of one client ("cpu", "gpu"); kind names the arbiter. */
void serve_metrics_arbiter(struct serve_metrics *m, const char *kind, const char *client,
			   const struct splitmoe_arb_client_stats *st);

/* The whole exposition as a malloc'ed string; NULL on allocation failure. */
char *serve_metrics_render(struct serve_metrics *m);

#endif
