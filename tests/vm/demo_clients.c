// SPDX-License-Identifier: MIT
/*
 * demo_clients: the two-client demonstration of `make demo`. Each NAME:WEIGHT
 * argument becomes one bwarb client (its own open file, its own thread)
 * that acquires CHUNK bytes in a loop for SECONDS, completing each grant at
 * once. Prints every client's granted MB/s twice a second, then its totals
 * (from QUERY) and its share of the grants next to its share of the weights.
 *
 *   demo_clients [-t SECONDS] [-c CHUNK_BYTES] NAME:WEIGHT...
 *
 * The weights only show when the clients together ask for more than
 * capacity_mbps: scripts/demo.sh lowers it for the run.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arbiter/bwarb_client.h"

#define MAX_CLIENTS	8
#define ACQUIRE_TIMEOUT_NS	1000000000ULL	/* one second: never hang */

struct demo_client {
	char name[32];
	uint32_t weight;
	struct bwarb_client *c;
	pthread_t thread;
	_Atomic uint64_t granted;	/* bytes, updated by the thread */
	uint64_t last;			/* granted at the previous report */
	int err;			/* first error of the loop, or 0 */
};

static atomic_int stop;
static uint64_t chunk = 1000000;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *client_loop(void *arg)
{
	struct demo_client *d = arg;
	uint64_t id;
	int err;

	while (!atomic_load(&stop)) {
		err = bwarb_acquire(d->c, chunk, ACQUIRE_TIMEOUT_NS, 0, &id);
		if (err == -ETIMEDOUT)
			continue;
		if (!err)
			err = bwarb_complete(d->c, id, chunk);
		if (err) {
			d->err = err;
			break;
		}
		atomic_fetch_add(&d->granted, chunk);
	}
	return NULL;
}

static int parse_client(const char *arg, struct demo_client *d)
{
	const char *colon = strchr(arg, ':');
	char *end;
	unsigned long w;

	if (!colon || colon == arg || (size_t)(colon - arg) >= sizeof(d->name))
		return -1;
	errno = 0;
	w = strtoul(colon + 1, &end, 10);
	if (errno || *end || w == 0 || w > 10000)
		return -1;
	memcpy(d->name, arg, colon - arg);
	d->name[colon - arg] = '\0';
	d->weight = w;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: demo_clients [-t SECONDS] [-c CHUNK_BYTES] NAME:WEIGHT...\n"
		"  (1..%d clients, weight 1..10000)\n", MAX_CLIENTS);
	exit(2);
}

int main(int argc, char **argv)
{
	static struct demo_client dc[MAX_CLIENTS];
	double seconds = 3, t0, t, tprev;
	uint64_t sum_granted = 0, sum_weight = 0;
	int n = 0, i, err, failed = 0;
	char *end;

	for (i = 1; i < argc && argv[i][0] == '-'; i += 2) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "-t")) {
			seconds = strtod(argv[i + 1], &end);
			if (*end || seconds <= 0 || seconds > 3600)
				usage();
		} else if (!strcmp(argv[i], "-c")) {
			chunk = strtoull(argv[i + 1], &end, 10);
			if (*end || chunk == 0)
				usage();
		} else {
			usage();
		}
	}
	if (i >= argc || argc - i > MAX_CLIENTS)
		usage();
	for (; i < argc; i++, n++) {
		if (parse_client(argv[i], &dc[n])) {
			fprintf(stderr, "demo_clients: bad client '%s' (want NAME:WEIGHT)\n", argv[i]);
			return 2;
		}
	}

	for (i = 0; i < n; i++) {
		struct bwarb_register_opts o = {
			.name = dc[i].name, .class = 2, .weight = dc[i].weight,
			.reserve_mbps = 0, .burst_bytes = chunk,
		};

		err = bwarb_open(NULL, &dc[i].c);
		if (!err)
			err = bwarb_register(dc[i].c, &o);
		if (err) {
			fprintf(stderr, "demo_clients: client %s: %s\n", dc[i].name,
				bwarb_strerror(err));
			return 1;
		}
		printf("client %-8s weight %5u  id %u  fast path %s\n", dc[i].name,
		       dc[i].weight, bwarb_client_id(dc[i].c),
		       bwarb_has_fastpath(dc[i].c) ? "yes" : "no");
		sum_weight += dc[i].weight;
	}
	printf("%d clients acquiring %" PRIu64 "-byte grants for %.1f s\n", n, chunk, seconds);

	t0 = tprev = now_s();
	for (i = 0; i < n; i++) {
		err = pthread_create(&dc[i].thread, NULL, client_loop, &dc[i]);
		if (err) {
			fprintf(stderr, "demo_clients: pthread_create: %s\n", strerror(err));
			atomic_store(&stop, 1);
			n = i;
			failed = 1;
			break;
		}
	}
	while (!failed && (t = now_s()) - t0 < seconds) {
		struct timespec half = { 0, 500000000 };

		nanosleep(&half, NULL);
		t = now_s();
		printf("%5.1f s", t - t0);
		for (i = 0; i < n; i++) {
			uint64_t g = atomic_load(&dc[i].granted);

			printf("  %s %8.1f MB/s", dc[i].name, (g - dc[i].last) / 1e6 / (t - tprev));
			dc[i].last = g;
		}
		printf("\n");
		fflush(stdout);
		tprev = t;
	}
	atomic_store(&stop, 1);
	for (i = 0; i < n; i++)
		pthread_join(dc[i].thread, NULL);
	t = now_s() - t0;

	for (i = 0; i < n; i++)
		sum_granted += atomic_load(&dc[i].granted);
	printf("%-8s %6s %12s %10s %8s %8s %11s %7s %7s\n", "client", "weight", "granted MB",
	       "MB/s", "grants", "waits", "max wait ms", "share", "weight%");
	for (i = 0; i < n; i++) {
		struct bwarb_client_info info;
		uint64_t g = atomic_load(&dc[i].granted);

		if (dc[i].err) {
			fprintf(stderr, "demo_clients: client %s: %s\n", dc[i].name,
				bwarb_strerror(dc[i].err));
			failed = 1;
		}
		err = bwarb_query(dc[i].c, &info);
		if (err) {
			fprintf(stderr, "demo_clients: query %s: %s\n", dc[i].name,
				bwarb_strerror(err));
			failed = 1;
			memset(&info, 0, sizeof(info));
		}
		printf("%-8s %6u %12.1f %10.1f %8" PRIu64 " %8" PRIu64 " %11.2f %6.1f%% %6.1f%%\n",
		       dc[i].name, dc[i].weight, info.granted_bytes / 1e6, g / 1e6 / t,
		       info.grants, info.waits, info.max_wait_ns / 1e6,
		       sum_granted ? 100.0 * g / sum_granted : 0.0,
		       100.0 * dc[i].weight / sum_weight);
		bwarb_close(dc[i].c);
	}
	return failed;
}
