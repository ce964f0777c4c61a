// SPDX-License-Identifier: MIT
/*
 * The bandwidth hog of splitmoe contend: a stand-in for the iGPU's or
 * another program's traffic. Each thread, pinned to one core, copies its
 * share of a buffer far beyond the caches from one half to the other in
 * chunks; gated, it acquires every chunk (read + written bytes) from its
 * own arbiter client before moving it and completes it after.
 */
#include "contend.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* An acquire gives up after this long to look at the stop flag. */
#define HOG_ACQUIRE_TIMEOUT_NS 50000000ull

struct hog_thread {
	struct hog *h;
	pthread_t tid;
	int cpu;
	unsigned char *lo;		/* its share: [lo, lo + 2 * half) */
	uint64_t half;
	splitmoe_arb_client *client;	/* NULL: ungated */
	splitmoe_status err;		/* a failed acquire or complete */
	uint64_t timeouts;
	/* written by the thread, read by the sampler: its own cache line */
	_Alignas(64) uint64_t moved;
};

struct hog {
	unsigned char *buf;
	uint64_t bytes, chunk;
	int n;
	struct hog_thread *t;
	int stop;
	bool running;
};

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);	/* best effort */
}

static void *touch_main(void *arg)
{
	struct hog_thread *t = arg;

	pin(t->cpu);
	memset(t->lo, 1, 2 * t->half);	/* first touch on its core (NUMA) */
	return NULL;
}

static void *hog_main(void *arg)
{
	struct hog_thread *t = arg;
	uint64_t chunk = t->h->chunk, off = 0, grant = 0;

	pin(t->cpu);
	while (!__atomic_load_n(&t->h->stop, __ATOMIC_ACQUIRE)) {
		if (t->client) {
			splitmoe_status rc = splitmoe_arb_acquire(t->client, 2 * chunk,
								  HOG_ACQUIRE_TIMEOUT_NS, &grant);

			if (rc == SPLITMOE_ERR_TIMEOUT) {
				t->timeouts++;
				continue;
			}
			if (rc) {
				t->err = rc;
				break;
			}
		}
		memcpy(t->lo + t->half + off, t->lo + off, chunk);
		if (t->client) {
			splitmoe_status rc = splitmoe_arb_complete(t->client, grant, 2 * chunk);

			if (rc) {
				t->err = rc;
				break;
			}
		}
		__atomic_store_n(&t->moved, t->moved + 2 * chunk, __ATOMIC_RELAXED);
		off += chunk;
		if (off + chunk > t->half)
			off = 0;
	}
	return NULL;
}

int hog_create(uint64_t bytes, uint64_t chunk, int nthreads, const int *cpus,
	       struct hog **out, char *err, size_t errlen)
{
	struct hog *h = calloc(1, sizeof(*h));
	uint64_t share;
	int i, rc;

	if (!h || nthreads < 1)
		goto oom;
	share = bytes / (uint64_t)nthreads / 2 / chunk * chunk;	/* one half, whole chunks */
	if (share < chunk) {
		snprintf(err, errlen, "contend: the hog's buffer (%.1f MB) is less than two chunks (%.1f MB) per thread",
			 bytes / 1e6, 2 * chunk / 1e6);
		free(h);
		return -1;
	}
	h->bytes = share * 2 * (uint64_t)nthreads;
	h->chunk = chunk;
	h->n = nthreads;
	h->buf = aligned_alloc(1u << 21, h->bytes);
	h->t = aligned_alloc(64, (size_t)nthreads * sizeof(*h->t));	/* a multiple of 64 */
	if (!h->buf || !h->t)
		goto oom;
	memset(h->t, 0, (size_t)nthreads * sizeof(*h->t));
	madvise(h->buf, h->bytes, MADV_HUGEPAGE);	/* fewer TLB misses; advice only */
	for (i = 0; i < nthreads; i++) {
		struct hog_thread *t = &h->t[i];

		t->h = h;
		t->cpu = cpus[i];
		t->lo = h->buf + (uint64_t)i * 2 * share;
		t->half = share;
	}
	for (i = 0; i < nthreads; i++) {
		rc = pthread_create(&h->t[i].tid, NULL, touch_main, &h->t[i]);
		if (rc) {
			snprintf(err, errlen, "contend: hog thread: %s", strerror(rc));
			while (i--)
				pthread_join(h->t[i].tid, NULL);
			hog_destroy(h);
			return -1;
		}
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(h->t[i].tid, NULL);
	*out = h;
	return 0;
oom:
	snprintf(err, errlen, "contend: cannot allocate the hog's %.2f GB buffer", bytes / 1e9);
	if (h) {
		free(h->buf);
		free(h->t);
	}
	free(h);
	return -1;
}

static void close_clients(struct hog *h)
{
	int i;

	for (i = 0; i < h->n; i++) {
		splitmoe_arb_client_free(h->t[i].client);
		h->t[i].client = NULL;
	}
}

int hog_start(struct hog *h, splitmoe_arb *arb, uint32_t weight, uint64_t reserve_mbps,
	      char *err, size_t errlen)
{
	int i, rc;

	for (i = 0; i < h->n; i++) {
		struct hog_thread *t = &h->t[i];
		char name[32];

		t->moved = 0;
		t->err = SPLITMOE_OK;
		t->timeouts = 0;
		if (!arb)
			continue;
		snprintf(name, sizeof(name), "hog-%d", i);
		struct splitmoe_arb_client_params cp = {
			.name = name,
			.cls = SPLITMOE_ARB_CLASS_OTHER,
			.weight = weight / (uint32_t)h->n ? weight / (uint32_t)h->n : 1,
			.reserve_mbps = reserve_mbps / (uint64_t)h->n,
			.burst_bytes = 2 * h->chunk,
		};
		if (splitmoe_arb_client_open(arb, &cp, &t->client, err, errlen)) {
			close_clients(h);
			return -1;
		}
	}
	h->stop = 0;
	for (i = 0; i < h->n; i++) {
		rc = pthread_create(&h->t[i].tid, NULL, hog_main, &h->t[i]);
		if (rc) {
			snprintf(err, errlen, "contend: hog thread: %s", strerror(rc));
			__atomic_store_n(&h->stop, 1, __ATOMIC_RELEASE);
			while (i--)
				pthread_join(h->t[i].tid, NULL);
			close_clients(h);
			return -1;
		}
	}
	h->running = true;
	return 0;
}

uint64_t hog_bytes(struct hog *h)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < h->n; i++)
		sum += __atomic_load_n(&h->t[i].moved, __ATOMIC_RELAXED);
	return sum;
}

int hog_stop(struct hog *h, struct hog_share *out, char *err, size_t errlen)
{
	int i, rc = 0;

	memset(out, 0, sizeof(*out));
	if (!h->running)
		return 0;
	__atomic_store_n(&h->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < h->n; i++) {
		struct hog_thread *t = &h->t[i];

		pthread_join(t->tid, NULL);
		out->timeouts += t->timeouts;
		if (t->err && !rc) {
			snprintf(err, errlen, "contend: hog thread %d: arbiter: %s", i,
				 splitmoe_status_str(t->err));
			rc = -1;
		}
		if (t->client) {
			struct splitmoe_arb_client_stats st;

			splitmoe_arb_client_stats(t->client, &st);
			out->acquires += st.acquires;
			out->granted_bytes += st.granted_bytes;
			out->waits += st.waits;
			out->wait_ns += st.wait_ns;
			if (st.max_wait_ns > out->max_wait_ns)
				out->max_wait_ns = st.max_wait_ns;
		}
	}
	close_clients(h);
	h->running = false;
	return rc;
}

void hog_destroy(struct hog *h)
{
	if (!h)
		return;
	free(h->buf);
	free(h->t);
	free(h);
}
