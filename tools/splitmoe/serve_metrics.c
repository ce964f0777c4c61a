// SPDX-License-Identifier: MIT
/* serve: metrics in Prometheus' text format. */
#include "serve_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const paths[] = {
	"/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics", "other",
};
#define NPATHS (sizeof(paths) / sizeof(paths[0]))
#define NSTATUS 8		/* distinct statuses per path kept */
#define NCLIENTS 2
static const double ttft_bounds[] = { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };
#define NBUCKETS (sizeof(ttft_bounds) / sizeof(ttft_bounds[0]))

/* The figures, copied whole for a consistent exposition. */
struct figures {
	struct { int status; uint64_t n; } req[NPATHS][NSTATUS];
	uint64_t prompt_tokens, completion_tokens;
	uint64_t ttft_buckets[NBUCKETS], ttft_count;
	double ttft_sum;
	int queued, running;
	double tok_s;
	char arb_kind[16];
	struct { char name[8]; struct splitmoe_arb_client_stats st; } clients[NCLIENTS];
	int nclients;
};

struct serve_metrics {
	pthread_mutex_t mu;
	struct figures f;
};

struct serve_metrics *serve_metrics_new(void)
{
	struct serve_metrics *m = calloc(1, sizeof(*m));

	if (m)
		pthread_mutex_init(&m->mu, NULL);
	return m;
}

void serve_metrics_free(struct serve_metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m);
}

void serve_metrics_request(struct serve_metrics *m, const char *path, int status)
{
	size_t p, i;

	for (p = 0; p < NPATHS - 1; p++)
		if (!strcmp(path, paths[p]))
			break;
	pthread_mutex_lock(&m->mu);
	for (i = 0; i < NSTATUS; i++) {
		if (!m->f.req[p][i].status)
			m->f.req[p][i].status = status;
		if (m->f.req[p][i].status == status) {
			m->f.req[p][i].n++;
			break;
		}
	}
	pthread_mutex_unlock(&m->mu);
}

void serve_metrics_tokens(struct serve_metrics *m, uint64_t prompt, uint64_t completion)
{
	pthread_mutex_lock(&m->mu);
	m->f.prompt_tokens += prompt;
	m->f.completion_tokens += completion;
	pthread_mutex_unlock(&m->mu);
}

void serve_metrics_ttft(struct serve_metrics *m, double seconds)
{
	size_t i;

	pthread_mutex_lock(&m->mu);
	for (i = 0; i < NBUCKETS; i++)
		if (seconds <= ttft_bounds[i])
			m->f.ttft_buckets[i]++;
	m->f.ttft_count++;
	m->f.ttft_sum += seconds;
	pthread_mutex_unlock(&m->mu);
}

void serve_metrics_engine(struct serve_metrics *m, int queued, int running, double tok_s)
{
	pthread_mutex_lock(&m->mu);
	m->f.queued = queued;
	m->f.running = running;
	m->f.tok_s = tok_s;
	pthread_mutex_unlock(&m->mu);
}

void serve_metrics_arbiter(struct serve_metrics *m, const char *kind, const char *client,
			   const struct splitmoe_arb_client_stats *st)
{
	int i;

	pthread_mutex_lock(&m->mu);
	snprintf(m->f.arb_kind, sizeof(m->f.arb_kind), "%s", kind);
	for (i = 0; i < m->f.nclients; i++)
		if (!strcmp(m->f.clients[i].name, client))
			break;
	if (i == m->f.nclients && i < NCLIENTS)
		snprintf(m->f.clients[m->f.nclients++].name, sizeof(m->f.clients[0].name), "%s",
			 client);
	if (i < NCLIENTS)
		m->f.clients[i].st = *st;
	pthread_mutex_unlock(&m->mu);
}

static void help(FILE *f, const char *name, const char *type, const char *text)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

char *serve_metrics_render(struct serve_metrics *m)
{
	char *s = NULL;
	size_t len = 0, p, i;
	FILE *f = open_memstream(&s, &len);
	struct figures c;

	if (!f)
		return NULL;
	pthread_mutex_lock(&m->mu);
	c = m->f;	/* a consistent snapshot, printed unlocked */
	pthread_mutex_unlock(&m->mu);

	help(f, "splitmoe_requests_total", "counter", "HTTP requests answered, by path and status.");
	for (p = 0; p < NPATHS; p++)
		for (i = 0; i < NSTATUS && c.req[p][i].status; i++)
			fprintf(f, "splitmoe_requests_total{path=\"%s\",status=\"%d\"} %llu\n",
				paths[p], c.req[p][i].status, (unsigned long long)c.req[p][i].n);
	help(f, "splitmoe_prompt_tokens_total", "counter", "Prompt tokens prefilled.");
	fprintf(f, "splitmoe_prompt_tokens_total %llu\n", (unsigned long long)c.prompt_tokens);
	help(f, "splitmoe_completion_tokens_total", "counter", "Tokens generated.");
	fprintf(f, "splitmoe_completion_tokens_total %llu\n",
		(unsigned long long)c.completion_tokens);
	help(f, "splitmoe_decode_tokens_per_second", "gauge",
	     "Tokens generated per second over the recent engine steps.");
	fprintf(f, "splitmoe_decode_tokens_per_second %.3f\n", c.tok_s);
	help(f, "splitmoe_queue_depth", "gauge", "Requests waiting for a slot.");
	fprintf(f, "splitmoe_queue_depth %d\n", c.queued);
	help(f, "splitmoe_running_requests", "gauge", "Requests holding a slot.");
	fprintf(f, "splitmoe_running_requests %d\n", c.running);
	help(f, "splitmoe_time_to_first_token_seconds", "histogram",
	     "From a request's arrival to its first generated token.");
	for (i = 0; i < NBUCKETS; i++)
		fprintf(f, "splitmoe_time_to_first_token_seconds_bucket{le=\"%g\"} %llu\n",
			ttft_bounds[i], (unsigned long long)c.ttft_buckets[i]);
	fprintf(f, "splitmoe_time_to_first_token_seconds_bucket{le=\"+Inf\"} %llu\n",
		(unsigned long long)c.ttft_count);
	fprintf(f, "splitmoe_time_to_first_token_seconds_sum %.6f\n", c.ttft_sum);
	fprintf(f, "splitmoe_time_to_first_token_seconds_count %llu\n",
		(unsigned long long)c.ttft_count);
	help(f, "splitmoe_arbiter_grants_total", "counter",
	     "Bandwidth grants (acquires) of each arbiter client.");
	for (i = 0; i < (size_t)c.nclients; i++)
		fprintf(f, "splitmoe_arbiter_grants_total{arbiter=\"%s\",client=\"%s\"} %llu\n",
			c.arb_kind, c.clients[i].name, (unsigned long long)c.clients[i].st.acquires);
	help(f, "splitmoe_arbiter_granted_bytes_total", "counter",
	     "Bytes granted to each arbiter client.");
	for (i = 0; i < (size_t)c.nclients; i++)
		fprintf(f, "splitmoe_arbiter_granted_bytes_total{arbiter=\"%s\",client=\"%s\"} %llu\n",
			c.arb_kind, c.clients[i].name,
			(unsigned long long)c.clients[i].st.granted_bytes);
	help(f, "splitmoe_arbiter_waits_total", "counter",
	     "Grants that had to wait, per arbiter client.");
	for (i = 0; i < (size_t)c.nclients; i++)
		fprintf(f, "splitmoe_arbiter_waits_total{arbiter=\"%s\",client=\"%s\"} %llu\n",
			c.arb_kind, c.clients[i].name, (unsigned long long)c.clients[i].st.waits);
	help(f, "splitmoe_arbiter_wait_seconds_total", "counter",
	     "Time spent waiting for grants, per arbiter client.");
	for (i = 0; i < (size_t)c.nclients; i++)
		fprintf(f, "splitmoe_arbiter_wait_seconds_total{arbiter=\"%s\",client=\"%s\"} %.6f\n",
			c.arb_kind, c.clients[i].name, c.clients[i].st.wait_ns / 1e9);
	if (fclose(f)) {
		free(s);
		return NULL;
	}
	return s;
}
