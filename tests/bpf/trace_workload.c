// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Causes a known number of grants, timeouts, interrupted waits and
 * would-block failures on one bwarb client, then checks that the tracer's
 * pinned "clients" entry for that client holds exactly those counts.
 *
 *   trace_workload GRANTS TIMEOUTS INTERRUPTS EAGAINS
 *
 * Refused acquires ask for 2^40 bytes, which no bwarb capacity grants
 * within the 20 ms timeout or before the 30 ms signal (the VM test sets
 * capacity_mbps low). Outcomes are counted from the ioctl's errno, never
 * assumed; a mismatch there is its own failure. TAP lines on stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <unistd.h>

#include "bpf/trace_ctl.h"
#include "kmod/uapi/bwarb.h"
#include "tests/selftests/bwarb/bwarb_selftest_io.h"

#define HUGE_BYTES	(1ULL << 40)
#define GRANT_BYTES	4096ULL

static int failures;

static void check(bool ok, const char *what, unsigned long long got,
		  unsigned long long want)
{
	printf("%s - %s: %llu (expected %llu)\n", ok ? "ok" : "not ok", what,
	       got, want);
	failures += !ok;
}

static void on_alarm(int sig)
{
	(void)sig;
}

static long parse_count(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > 100000) {
		fprintf(stderr, "trace_workload: '%s' is not a count 0..100000\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	unsigned long long got_grants = 0, got_timeouts = 0, got_eintr = 0,
			   got_eagain = 0, got_other = 0, hist_wait = 0,
			   hist_bytes = 0;
	const struct bwarb_client_stats *st = NULL;
	struct bwarb_trace_client *cl = NULL;
	struct bwarb_trace_totals tot;
	long grants, timeouts, interrupts, eagains, i;
	struct bwarb_register r;
	struct itimerval it;
	struct sigaction sa;
	char err[256];
	__u64 gid = 0;
	size_t n, k;
	int fd, ret;

	if (argc != 5) {
		fprintf(stderr, "usage: trace_workload GRANTS TIMEOUTS INTERRUPTS EAGAINS\n");
		return 2;
	}
	grants = parse_count(argv[1]);
	timeouts = parse_count(argv[2]);
	interrupts = parse_count(argv[3]);
	eagains = parse_count(argv[4]);

	fd = open(BWARB_DEVICE_PATH, O_RDWR);
	if (fd < 0) {
		printf("not ok - open %s: %s\n", BWARB_DEVICE_PATH, strerror(errno));
		return 1;
	}
	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.class = BWARB_CLASS_OTHER;
	r.weight = 7;
	r.burst_bytes = GRANT_BYTES;
	snprintf(r.name, sizeof(r.name), "trace_workload");
	if (ioctl(fd, BWARB_IOC_REGISTER, &r)) {
		printf("not ok - REGISTER: %s\n", strerror(errno));
		return 1;
	}

	/* No SA_RESTART: the signal must end the blocked acquire. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);

	for (i = 0; i < grants; i++) {
		ret = acquire_id(fd, GRANT_BYTES, 0, 0, &gid);
		if (ret) {
			got_other++;
			continue;
		}
		got_grants++;
		if (do_complete(fd, gid, GRANT_BYTES))
			got_other++;
	}
	for (i = 0; i < timeouts; i++) {
		ret = acquire_id(fd, HUGE_BYTES, 20000000ULL, 0, &gid);
		if (ret == -ETIMEDOUT)
			got_timeouts++;
		else
			got_other++;
	}
	for (i = 0; i < interrupts; i++) {
		memset(&it, 0, sizeof(it));
		it.it_value.tv_usec = 30000;
		setitimer(ITIMER_REAL, &it, NULL);
		ret = acquire_id(fd, HUGE_BYTES, 0, 0, &gid);
		if (ret == -EINTR)
			got_eintr++;
		else
			got_other++;
	}
	for (i = 0; i < eagains; i++) {
		ret = acquire_id(fd, HUGE_BYTES, 0, BWARB_ACQUIRE_NONBLOCK, &gid);
		if (ret == -EAGAIN)
			got_eagain++;
		else
			got_other++;
	}

	check(got_grants == (unsigned long long)grants, "workload: acquires granted", got_grants, grants);
	check(got_timeouts == (unsigned long long)timeouts, "workload: acquires timed out", got_timeouts, timeouts);
	check(got_eintr == (unsigned long long)interrupts, "workload: acquires interrupted", got_eintr, interrupts);
	check(got_eagain == (unsigned long long)eagains, "workload: non-blocking acquires refused", got_eagain, eagains);
	check(got_other == 0, "workload: unexpected outcomes", got_other, 0);

	if (bwarb_trace_read(BWARB_BPF_PIN_DIR, &cl, &n, &tot, err, sizeof(err))) {
		printf("not ok - reading the tracer's maps: %s\n", err);
		return 1;
	}
	for (k = 0; k < n; k++)
		if (cl[k].id == r.client_id)
			st = &cl[k].st;
	printf("%s - tracer has an entry for client %u\n", st ? "ok" : "not ok",
	       r.client_id);
	if (!st) {
		free(cl);
		return 1;
	}
	for (k = 0; k < BWARB_HIST_SLOTS; k++) {
		hist_wait += st->wait_hist[k];
		hist_bytes += st->bytes_hist[k];
	}
	check(st->registered == 1 && st->pid == getpid() && st->weight == 7 &&
	      st->class == BWARB_CLASS_OTHER, "tracer: register seen (pid, class, weight) for pid",
	      (unsigned long long)st->pid, (unsigned long long)getpid());
	printf("%s - tracer: registering task's name '%.16s'\n",
	       strncmp(st->comm, "trace_workload", sizeof(st->comm)) ? "not ok" : "ok",
	       st->comm);
	failures += !!strncmp(st->comm, "trace_workload", sizeof(st->comm));
	check(st->grants == got_grants, "tracer: grants", st->grants, got_grants);
	check(st->timeouts == got_timeouts, "tracer: timeouts", st->timeouts, got_timeouts);
	check(st->interrupts == got_eintr, "tracer: interrupted waits", st->interrupts, got_eintr);
	check(st->would_block == got_eagain, "tracer: would-block failures", st->would_block, got_eagain);
	check(st->other_failures == 0, "tracer: other failures", st->other_failures, 0);
	check(st->completes == got_grants, "tracer: completes", st->completes, got_grants);
	check(st->granted_bytes == got_grants * GRANT_BYTES, "tracer: granted bytes",
	      st->granted_bytes, got_grants * GRANT_BYTES);
	check(hist_wait == got_grants, "tracer: wait histogram total", hist_wait, got_grants);
	check(hist_bytes == got_grants && (!grants || st->bytes_hist[13] == got_grants),
	      "tracer: bytes histogram, all in the 4 KiB bucket", st->bytes_hist[13], got_grants);
	check(tot.periods > 0, "tracer: period events seen (at least)", tot.periods, 1);
	free(cl);
	close(fd);
	return failures ? 1 : 0;
}
