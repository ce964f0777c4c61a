// SPDX-License-Identifier: GPL-2.0
/*
 * Cost of one acquire (+ its complete) through the fast path and through
 * the ioctl, printed in ns and as a ratio.
 *
 *   bwarb_bench device      against /dev/bwarb (run in the VM): the
 *                           library's fast path vs forced ioctls
 *   bwarb_bench userspace   on this machine without the module: the same
 *                           compare-and-swap on a plain page vs the
 *                           arbitration core called in-process under a
 *                           mutex (what an in-process arbiter pays)
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arbiter/bwarb_client.h"
#include "kmod/arb_core.h"

#define CHUNK	64ULL

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int write_knob(const char *name, const char *val)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/kernel/bwarb/%s", name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	ok = fputs(val, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/*
 * n acquire+complete pairs in batches of BATCH, timed per batch: a batch
 * the page served entirely counts for the fast path, one served entirely
 * by ioctls for the ioctl (the page refills only at period boundaries, so
 * a busy loop mixes both; mixed batches are left out).
 */
#define BATCH 64

struct device_run {
	double fast_ns, ioctl_ns;	/* sums over pure batches */
	long fast_ops, ioctl_ops;
};

static int run_device(struct bwarb_client *c, long n, struct device_run *r)
{
	double t0;
	long i, k, fast;
	uint64_t id;
	int ret;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < n; i += BATCH) {
		fast = 0;
		t0 = now_ns();
		for (k = 0; k < BATCH; k++) {
			ret = bwarb_acquire(c, CHUNK, 1000000000ULL, 0, &id);
			if (!ret)
				ret = bwarb_complete(c, id, CHUNK);
			if (ret) {
				fprintf(stderr, "bwarb_bench: acquire: %s\n", bwarb_strerror(ret));
				return 1;
			}
			fast += !!(id & 0x8000000000000000ULL);
		}
		t0 = now_ns() - t0;
		if (fast == BATCH) {
			r->fast_ns += t0;
			r->fast_ops += BATCH;
		} else if (!fast) {
			r->ioctl_ns += t0;
			r->ioctl_ops += BATCH;
		}
	}
	return 0;
}

static int bench_device(long n)
{
	struct bwarb_register_opts o = { .name = "bench", .weight = 1,
					 .burst_bytes = 1 << 20 };
	struct device_run fr, ir;
	struct bwarb_client *c;
	double fast_ns, ioctl_ns;
	long i;
	uint64_t id;
	int ret;

	/* Far more capacity than the loop can use: nothing ever waits. */
	if (write_knob("capacity_mbps", "10000000")) {
		fprintf(stderr, "bwarb_bench: cannot set /sys/kernel/bwarb/capacity_mbps (root, module loaded?)\n");
		return 1;
	}
	ret = bwarb_open(NULL, &c);
	if (!ret)
		ret = bwarb_register(c, &o);
	if (ret) {
		fprintf(stderr, "bwarb_bench: %s\n", bwarb_strerror(ret));
		return 1;
	}
	if (!bwarb_has_fastpath(c)) {
		fprintf(stderr, "bwarb_bench: the module offers no fast-path page\n");
		return 1;
	}
	/* Warm up: use builds the budget the boundaries put on the page. */
	for (i = 0; i < n / 10; i++)
		if (!bwarb_acquire(c, CHUNK, 1000000000ULL, 0, &id))
			bwarb_complete(c, id, CHUNK);
	if (run_device(c, n, &fr))
		return 1;
	bwarb_set_fastpath(c, 0);
	if (run_device(c, n / 4, &ir))
		return 1;
	bwarb_close(c);
	if (!fr.fast_ops || !ir.ioctl_ops) {
		fprintf(stderr, "bwarb_bench: no batch entirely served by the %s\n",
			fr.fast_ops ? "ioctl" : "page");
		return 1;
	}
	fast_ns = fr.fast_ns / fr.fast_ops;
	ioctl_ns = ir.ioctl_ns / ir.ioctl_ops;
	printf("acquire+complete in the VM (/dev/bwarb, TCG): fast path %.0f ns, ioctl %.0f ns; ioctl/fast = %.1fx (%.0f%% of the fast-path run served by the page)\n",
	       fast_ns, ioctl_ns, ioctl_ns / fast_ns, 100.0 * fr.fast_ops / n);
	return 0;
}

static int bench_userspace(long n)
{
	struct arb_params p = { .period_ns = 1000000, .capacity_mbps = 10000000,
				.guaranteed_mbps = 0, .max_clients = 16 };
	struct arb_client_params cp = { .class = ARB_CLASS_CPU, .weight = 1,
					.burst_bytes = 1 << 20 };
	static struct arb_state st;
	static struct arb_client cl;
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static int64_t page[512];
	double t0, cas_ns, core_ns;
	int64_t v;
	uint64_t id;
	long i, ticks = 0;

	if (arb_init(&st, &p) || arb_client_add(&st, &cl, &cp)) {
		fprintf(stderr, "bwarb_bench: arb_init failed\n");
		return 1;
	}
	/* The fast path: one CAS on a page that always holds enough. */
	page[0] = INT64_MAX;
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		v = __atomic_load_n(&page[0], __ATOMIC_ACQUIRE);
		while (v >= (int64_t)CHUNK &&
		       !__atomic_compare_exchange_n(&page[0], &v, v - (int64_t)CHUNK, 0,
						    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			;
	}
	cas_ns = (now_ns() - t0) / n;

	/* The core in-process, serialised like the module serialises it. */
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		pthread_mutex_lock(&mu);
		while (arb_acquire(&st, &cl, CHUNK, &id) == -EAGAIN) {
			arb_tick(&st, ARB_MEASURED_NONE);
			ticks++;
		}
		arb_complete(&st, &cl, id, CHUNK);
		pthread_mutex_unlock(&mu);
	}
	core_ns = (now_ns() - t0) / n;
	printf("acquire+complete in userspace (this machine): fast-path CAS %.1f ns, in-process core %.1f ns (%ld ticks); core/fast = %.1fx\n",
	       cas_ns, core_ns, ticks, core_ns / cas_ns);
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 0;

	if (argc < 2 || (strcmp(argv[1], "device") && strcmp(argv[1], "userspace"))) {
		fprintf(stderr, "usage: bwarb_bench device|userspace [ITERATIONS]\n");
		return 2;
	}
	if (!strcmp(argv[1], "device"))
		return bench_device(n > 0 ? n : 200000);
	return bench_userspace(n > 0 ? n : 10000000);
}
