// SPDX-License-Identifier: GPL-2.0
/*
 * Tick cost (issue 11; make bench-bwarb-tick): the time the period timer
 * spends per boundary (sysfs tick_ns, tick_ns_max) with N clients
 * registered, each with its fast page mapped, and every page hammered
 * (compare-and-swap takes) by two threads for a few seconds at 1 ms
 * periods, a quarter of the clients also acquiring through the ioctl.
 * Prints the median and the 99th percentile of tick_ns sampled each
 * period, and tick_ns_max.
 *
 *   tick_cost [N] [seconds]      (N: default the module's max_clients)
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kmod/uapi/bwarb.h"
#include "bwarb_selftest_io.h"

static int nclients;
static int *fds;
static struct bwarb_fast_page **pages;
static volatile int stop;

static void *hammer(void *arg)
{
	long half = (long)arg;
	unsigned long long takes = 0;
	int i;

	while (!stop) {
		for (i = half; i < nclients; i += 2) {
			int64_t v = __atomic_load_n(&pages[i]->avail, __ATOMIC_ACQUIRE);

			if (v >= 64 &&
			    __atomic_compare_exchange_n(&pages[i]->avail, &v, v - 64, 0,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				takes++;
			if (i % 4 == 0) {
				struct bwarb_acquire a;

				if (!do_acquire(fds[i], 4096, 0, BWARB_ACQUIRE_NONBLOCK, &a))
					do_complete(fds[i], a.grant_id, 4096);
			}
		}
	}
	return (void *)takes;
}

static int cmp(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a;
	unsigned long long y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	char buf[32];
	int seconds = argc > 2 ? atoi(argv[2]) : 3, i, n = 0;
	unsigned long long *samples, p, last = 0, end;
	pthread_t t[2];
	void *r0, *r1;

	nclients = argc > 1 ? atoi(argv[1]) : 0;
	if (!nclients && !sysfs_read("/sys/module/bwarb/parameters/max_clients",
				     buf, sizeof(buf)))
		nclients = atoi(buf);
	if (nclients <= 0 || knobs_set(1000, 100000, 50000))
		return 1;
	fds = calloc(nclients, sizeof(*fds));
	pages = calloc(nclients, sizeof(*pages));
	samples = calloc(seconds * 2000 + 16, sizeof(*samples));
	for (i = 0; i < nclients; i++) {
		char name[32];

		snprintf(name, sizeof(name), "tick%d", i);
		fds[i] = dev_open();
		if (fds[i] < 0 || do_register(fds[i], name, 1, 0))
			return 2;
		pages[i] = mmap(NULL, BWARB_FAST_PAGE_SIZE, PROT_READ | PROT_WRITE,
				MAP_SHARED, fds[i], 0);
		if (pages[i] == MAP_FAILED)
			return 3;
	}
	pthread_create(&t[0], NULL, hammer, (void *)0L);
	pthread_create(&t[1], NULL, hammer, (void *)1L);
	wait_periods(50, 1000);
	knob_write("tick_ns_max", "0");
	end = knob_get("periods") + seconds * 1000ULL;
	while ((p = knob_get("periods")) < end && n < seconds * 2000) {
		if (p != last) {
			samples[n++] = knob_get("tick_ns");
			last = p;
		}
		usleep(300);
	}
	stop = 1;
	pthread_join(t[0], &r0);
	pthread_join(t[1], &r1);
	qsort(samples, n, sizeof(*samples), cmp);
	printf("FIGURE tick cost, %d clients mapped and hammered (%llu page takes), 1 ms periods: median %llu ns, p99 %llu ns, max %llu ns (%d samples)\n",
	       nclients, (unsigned long long)(uintptr_t)r0 + (unsigned long long)(uintptr_t)r1,
	       n ? samples[n / 2] : 0, n ? samples[n * 99 / 100] : 0,
	       knob_get("tick_ns_max"), n);
	for (i = 0; i < nclients; i++)
		close(fds[i]);
	return 0;
}
