// SPDX-License-Identifier: MIT
/* serve: a request's shared state and its two references (HTTP, engine). */
#include "serve.h"

#include <stdlib.h>
#include <time.h>

uint64_t serve_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct serve_req *serve_req_new(size_t text_cap)
{
	struct serve_req *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;

	if (!r)
		return NULL;
	r->cap = text_cap > 0 ? text_cap : 1;
	r->text = malloc(r->cap);
	if (!r->text) {
		free(r);
		return NULL;
	}
	r->text[0] = '\0';
	atomic_init(&r->cancel, false);
	pthread_mutex_init(&r->mu, NULL);
	/* waits are bounded in monotonic time */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	r->refs = 1;
	return r;
}

void serve_req_get(struct serve_req *r)
{
	pthread_mutex_lock(&r->mu);
	r->refs++;
	pthread_mutex_unlock(&r->mu);
}

void serve_req_put(struct serve_req *r)
{
	int left;

	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	left = --r->refs;
	pthread_mutex_unlock(&r->mu);
	if (left)
		return;
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r->ids);
	free(r->text);
	free(r);
}
