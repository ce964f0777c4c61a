// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Grant throughput of one bwarb client: ACQUIRE 4 KiB then COMPLETE, in a
 * loop, for the given time. Prints "grants_per_s N". Used by
 * tests/bpf/vm-bench.sh with and without the tracer attached; the caller
 * raises capacity_mbps so that no acquire waits.
 *
 *   bench_grants MILLISECONDS
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kmod/uapi/bwarb.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct bwarb_register r;
	struct bwarb_acquire a;
	struct bwarb_complete c;
	unsigned long long n = 0;
	double t0, t, dur;
	char *end;
	long ms;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: bench_grants MILLISECONDS\n");
		return 2;
	}
	ms = strtol(argv[1], &end, 10);
	if (*end || ms < 1 || ms > 600000) {
		fprintf(stderr, "bench_grants: '%s' is not a duration in ms (1..600000)\n",
			argv[1]);
		return 2;
	}
	dur = (double)ms / 1e3;
	fd = open(BWARB_DEVICE_PATH, O_RDWR);
	if (fd < 0) {
		fprintf(stderr, "bench_grants: %s: %s\n", BWARB_DEVICE_PATH,
			strerror(errno));
		return 1;
	}
	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.class = BWARB_CLASS_CPU;
	r.weight = 1;
	r.burst_bytes = 4096;
	snprintf(r.name, sizeof(r.name), "bench_grants");
	if (ioctl(fd, BWARB_IOC_REGISTER, &r)) {
		fprintf(stderr, "bench_grants: REGISTER: %s\n", strerror(errno));
		return 1;
	}
	t0 = now_s();
	do {
		int i;

		/* Read the clock every 64 grants only. */
		for (i = 0; i < 64; i++) {
			memset(&a, 0, sizeof(a));
			a.size = sizeof(a);
			a.bytes = 4096;
			if (ioctl(fd, BWARB_IOC_ACQUIRE, &a)) {
				fprintf(stderr, "bench_grants: ACQUIRE: %s\n",
					strerror(errno));
				return 1;
			}
			memset(&c, 0, sizeof(c));
			c.size = sizeof(c);
			c.grant_id = a.grant_id;
			c.actual_bytes = 4096;
			if (ioctl(fd, BWARB_IOC_COMPLETE, &c)) {
				fprintf(stderr, "bench_grants: COMPLETE: %s\n",
					strerror(errno));
				return 1;
			}
			n++;
		}
		t = now_s();
	} while (t - t0 < dur);
	printf("grants_per_s %.0f\n", (double)n / (t - t0));
	close(fd);
	return 0;
}
