// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile-client run of bwarb (issue 11; suite 'hostile'): for a fixed
 * time, several unprivileged processes (uid/gid 65534, no groups) issue a
 * randomized sequence of ioctls (good and bad: sizes, flags, ids, huge
 * byte counts, names), mmaps of the fast page and writes to it, forks,
 * closes, signals and random ioctl numbers, while root writes the knobs
 * (period_us from 10 us to 1 s, capacity_mbps, guaranteed_mbps, bad
 * values) and a reserved client (root, SCHED_FIFO) asks for its
 * reservation once a period. Prints its seed first: the same seed gives
 * every process the same sequence of choices (the interleaving is the
 * scheduler's).
 *
 *   hostile [--seconds S] [--seed N] [--procs P] [--toggle-tracepoints]
 *
 * --toggle-tracepoints: root also switches tracepoints on and off at
 * random (static keys patched while the other vCPU runs through them);
 * not under multi-threaded TCG (README, "MTTCG").
 *
 * TAP: the reserved client kept its bound (every request granted within
 * ceil(bytes / (r * P)) + 1 = 2 runs of the period timer, which funds
 * every boundary that passed since its last run; requests during which
 * period_us changed are not judged), every process ended as it should,
 * the module is left with no client and can be unloaded. The guest dmesg
 * check (oops, WARN, lockdep, KASAN, ...) follows in the suite.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kmod/uapi/bwarb.h"
#include "bwarb_selftest_io.h"

#define NOBODY		65534
#define MAX_FDS		24
#define MAX_IDS		64
#define MAX_KIDS	8
#define R_MBPS		200ULL		/* the reserved client's rate */

static int tap_n;
static int toggle_tracepoints;

static void tap(int ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void tap(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* xorshift64*: the sequence of one process, from its seed. */
static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* A byte count: small, period-sized or absurd. */
static uint64_t rnd_bytes(void)
{
	switch (below(6)) {
	case 0:
		return below(2);
	case 1:
		return 1 + below(4096);
	case 2:
		return 1 + below(1000000);
	case 3:
		return 1ULL << below(42);
	case 4:
		return rnd();
	default:
		return 1 + below(100000000);
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_usr1(int sig)
{
	(void)sig;
}

struct worker {
	int fds[MAX_FDS];
	void *pages[MAX_FDS];
	uint64_t ids[MAX_IDS];
	pid_t kids[MAX_KIDS];
	pid_t *peers;
	int npeers;
};

static int pick_fd(struct worker *w)
{
	int i = below(MAX_FDS);

	return w->fds[i];
}

static void do_register_rnd(int fd)
{
	static const char *const names[] = {
		"ok", "a\nb", "sp ace", "", "\x1b[2J", "tab\t", "n-1.2_x",
	};
	struct {
		struct bwarb_register r;
		uint64_t tail[2];
	} b;

	memset(&b, 0, sizeof(b));
	b.r.size = below(4) ? sizeof(b.r) : below(sizeof(b) + 16);
	b.r.class = below(5);
	strncpy(b.r.name, names[below(7)], sizeof(b.r.name) - 1);
	if (!below(20))
		memset(b.r.name, 'x', sizeof(b.r.name));
	b.r.weight = below(3) ? 1 + below(BWARB_DEFAULT_WEIGHT) : below(20000);
	b.r.reserve_mbps = below(4) ? 0 : rnd_bytes();
	b.r.burst_bytes = rnd_bytes();
	if (!below(10))
		b.tail[below(2)] = rnd();
	if (!below(20))
		b.r.reserved[below(4)] = 1;
	ioctl(fd, BWARB_IOC_REGISTER, &b);
}

static void do_acquire_rnd(struct worker *w, int fd)
{
	struct bwarb_acquire a;

	memset(&a, 0, sizeof(a));
	a.size = below(10) ? sizeof(a) : below(128);
	a.flags = below(3) ? BWARB_ACQUIRE_NONBLOCK : (below(10) ? 0 : rnd());
	a.bytes = rnd_bytes();
	/* Blocking ones always end: 1 us .. 20 ms. */
	a.timeout_ns = 1000 + below(20000000);
	if (!ioctl(fd, BWARB_IOC_ACQUIRE, &a))
		w->ids[below(MAX_IDS)] = a.grant_id;
}

static void do_complete_rnd(struct worker *w, int fd)
{
	struct bwarb_complete c;

	memset(&c, 0, sizeof(c));
	c.size = below(10) ? sizeof(c) : below(64);
	c.grant_id = below(4) ? w->ids[below(MAX_IDS)] : rnd();
	c.actual_bytes = below(3) ? rnd_bytes() : 1ULL << 40;
	ioctl(fd, BWARB_IOC_COMPLETE, &c);
}

static void do_query_rnd(int fd)
{
	struct {
		struct bwarb_query q;
		uint64_t tail[4];
	} b;

	memset(&b, 0, sizeof(b));
	b.q.size = below(3) ? sizeof(b.q) : below(sizeof(b) + 32);
	ioctl(fd, BWARB_IOC_QUERY, &b);
}

static void do_page_rnd(struct worker *w, int slot)
{
	struct bwarb_fast_page *pg = w->pages[slot];
	int64_t v;

	if (!pg) {
		pg = mmap(NULL, BWARB_FAST_PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_SHARED, w->fds[slot], 0);
		w->pages[slot] = pg == MAP_FAILED ? NULL : pg;
		return;
	}
	switch (below(6)) {
	case 0:		/* take like the library */
		v = __atomic_load_n(&pg->avail, __ATOMIC_ACQUIRE);
		if (v > 0)
			__atomic_compare_exchange_n(&pg->avail, &v,
						    v - (int64_t)below(v + 1), 0,
						    __ATOMIC_ACQ_REL,
						    __ATOMIC_ACQUIRE);
		break;
	case 1:		/* lie */
		__atomic_store_n(&pg->avail, (int64_t)rnd(), __ATOMIC_RELEASE);
		break;
	case 2:
		pg->period = rnd();
		pg->issued = rnd();
		pg->reserved[below(5)] = rnd();
		break;
	case 3:
		madvise(pg, BWARB_FAST_PAGE_SIZE, MADV_DONTNEED);
		break;
	default:
		munmap(pg, BWARB_FAST_PAGE_SIZE);
		w->pages[slot] = NULL;
		break;
	}
}

static void close_slot(struct worker *w, int i)
{
	if (w->pages[i])
		munmap(w->pages[i], BWARB_FAST_PAGE_SIZE);
	w->pages[i] = NULL;
	if (w->fds[i] >= 0)
		close(w->fds[i]);
	w->fds[i] = -1;
}

static void reap_kids(struct worker *w, int block)
{
	int i;

	for (i = 0; i < MAX_KIDS; i++)
		if (w->kids[i] > 0 &&
		    waitpid(w->kids[i], NULL, block ? 0 : WNOHANG) != 0)
			w->kids[i] = 0;
}

static void one_op(struct worker *w, int depth);

/* A child: a few random operations on what it inherited, then exit. */
static void do_fork(struct worker *w, int depth)
{
	int i = below(MAX_KIDS), n;
	pid_t pid;

	if (depth || w->kids[i] > 0)
		return;
	pid = fork();
	if (pid < 0)
		return;
	if (!pid) {
		for (n = below(50); n > 0; n--)
			one_op(w, 1);
		_exit(0);
	}
	w->kids[i] = pid;
}

static void one_op(struct worker *w, int depth)
{
	int i = below(MAX_FDS), fd;

	switch (below(16)) {
	case 0:
		if (w->fds[i] < 0)
			w->fds[i] = open(BWARB_DEVICE_PATH, O_RDWR);
		break;
	case 1:
	case 2:
		fd = w->fds[i];
		if (fd >= 0)
			do_register_rnd(fd);
		break;
	case 3:
	case 4:
	case 5:
		fd = w->fds[i];
		if (fd >= 0)
			do_acquire_rnd(w, fd);
		break;
	case 6:
	case 7:
		fd = w->fds[i];
		if (fd >= 0)
			do_complete_rnd(w, fd);
		break;
	case 8:
		fd = pick_fd(w);
		if (fd >= 0)
			do_query_rnd(fd);
		break;
	case 9:
	case 10:
		if (w->fds[i] >= 0)
			do_page_rnd(w, i);
		break;
	case 11:
		close_slot(w, i);
		break;
	case 12:
		do_fork(w, depth);
		break;
	case 13:
		if (w->npeers)
			kill(w->peers[below(w->npeers)], SIGUSR1);
		break;
	case 14:	/* any ioctl number */
		fd = pick_fd(w);
		if (fd >= 0) {
			uint64_t buf[64];

			memset(buf, 0, sizeof(buf));
			buf[0] = rnd() & 0xfff;
			ioctl(fd, (unsigned int)rnd(), below(2) ? buf : (void *)rnd());
		}
		break;
	default:
		if (!depth)
			reap_kids(w, 0);
		break;
	}
}

/* Runs fn as nobody in a child; returns its exit status (or -1). */
static int as_nobody(int (*fn)(void))
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(90);
		_exit(fn());
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static int reg(int fd, const char *name, __u32 weight, __u64 reserve)
{
	struct bwarb_register r;

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	strncpy(r.name, name, sizeof(r.name) - 1);
	r.weight = weight;
	r.reserve_mbps = reserve;
	return ioctl(fd, BWARB_IOC_REGISTER, &r) ? errno : 0;
}

/* The theft of issue 11: all of guaranteed_mbps, weight 10000, all slots. */
static int steal(void)
{
	int fd = open(BWARB_DEVICE_PATH, O_RDWR), i, n = 0;

	if (fd < 0 || reg(fd, "thief", 1, knob_get("guaranteed_mbps")) != EPERM)
		return 1;
	if (reg(fd, "thief", BWARB_MAX_WEIGHT, 0) != EPERM)
		return 2;
	for (i = 0; i < 300; i++) {
		fd = open(BWARB_DEVICE_PATH, O_RDWR);
		if (fd < 0 || reg(fd, "filler", 1, 0))
			break;
		n++;
	}
	/* The clients stay open while the parent checks. */
	printf("# thief registered %d best-effort clients\n", n);
	fflush(stdout);
	if (n >= 256)
		return 3;
	pause();
	return 0;
}

/* The panic of issue 11, as three unprivileged clients. */
static int lie(void)
{
	struct bwarb_acquire a;
	uint64_t ids[64];
	int i, j, fd;

	for (i = 0; i < 3; i++) {
		fd = open(BWARB_DEVICE_PATH, O_RDWR);
		if (fd < 0 || reg(fd, "liar", 1, 0))
			return 1;
		for (j = 0; j < 64; j++) {
			if (do_acquire(fd, 1, 2000000000ULL, 0, &a))
				return 2;
			ids[j] = a.grant_id;
		}
		for (j = 0; j < 64; j++)
			if (do_complete(fd, ids[j], 1ULL << 40))
				return 3;
	}
	return 0;
}

static int forge(void)
{
	int fd = open(BWARB_DEVICE_PATH, O_RDWR);

	return fd >= 0 && reg(fd, "x\n1 1 forged cpu 1 0 0 0 0 0", 1, 0) == EINVAL ?
	       0 : 1;
}

/* The scenarios of issue 11, one by one, before the random run. */
static void scenarios(void)
{
	int fd, st, alive;
	pid_t pid;

	pid = fork();
	if (!pid) {
		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(90);
		_exit(steal());
	}
	wait_periods(50, 1000);
	/* Still there: all its attempts were refused as they should be. */
	alive = waitpid(pid, &st, WNOHANG) == 0;
	if (!alive && WIFEXITED(st))
		printf("# thief exited with %d (1: reserved, 2: weighed 10000, 3: every slot)\n",
		       WEXITSTATUS(st));
	fd = dev_open();
	tap(alive && fd >= 0 && !reg(fd, "reserved-after-thief", 1, 100),
	    "an unprivileged thief gets no reservation, no weight above %d, not every slot; root still reserves",
	    BWARB_DEFAULT_WEIGHT);
	if (fd >= 0)
		close(fd);
	if (alive) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}

	knob_write("period_us", "1000000");
	st = as_nobody(lie);
	knob_write("period_us", "10");
	usleep(1500000);
	knob_write("period_us", "1000");
	tap(st == 0 && knob_get("periods") != ~0ULL,
	    "3 x 64 grants completed as 2^40 bytes in a 1 s period, then period_us 10: alive");
	tap(as_nobody(forge) == 0, "a name with a newline is refused");
}

static void worker_main(uint64_t seed, double end, pid_t *peers, int npeers)
{
	struct sigaction sa = { .sa_handler = on_usr1 };	/* no SA_RESTART */
	struct worker w;
	int i;

	rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	memset(&w, 0, sizeof(w));
	for (i = 0; i < MAX_FDS; i++)
		w.fds[i] = -1;
	w.peers = peers;
	w.npeers = npeers;
	sigaction(SIGUSR1, &sa, NULL);
	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		_exit(90);
	while (now_s() < end)
		one_op(&w, 0);
	reap_kids(&w, 1);
	for (i = 0; i < MAX_FDS; i++)
		close_slot(&w, i);
	_exit(0);
}

/* root: knob writes, good and bad, held for a random while each. */
static void knobs_main(uint64_t seed, double end)
{
	static const char *const periods[] = {
		"1000", "1000", "2000", "5000", "10", "100", "1000000", "0",
		"9", "1000001", "-1", "abc",
	};
	char v[32];

	rng = seed * 0x9e3779b97f4a7c15ULL + 7;
	while (now_s() < end) {
		switch (below(5)) {
		case 0:
			knob_write("period_us", periods[below(12)]);
			break;
		case 1:
			snprintf(v, sizeof(v), "%llu",
				 (unsigned long long)(1000 + below(200000)));
			knob_write("capacity_mbps", v);
			break;
		case 2:
			snprintf(v, sizeof(v), "%llu",
				 (unsigned long long)below(100000));
			knob_write("guaranteed_mbps", v);
			break;
		case 3:
			knob_write("tick_ns_max", "0");
			/*
			 * Static keys (tracepoints) patched with int3 while
			 * the other vCPU runs through them. Not under
			 * multi-threaded TCG: QEMU 7.2 then leaves the other
			 * vCPU a stale translation holding the int3, which it
			 * traps on forever (README, "MTTCG").
			 */
			if (toggle_tracepoints) {
				sysfs_write("/sys/kernel/tracing/events/bwarb/enable",
					    below(2) ? "1" : "0");
				sysfs_write("/sys/kernel/tracing/events/sched/sched_switch/enable",
					    below(2) ? "1" : "0");
			}
			break;
		default:
			knob_write("period_us", "1000");
			break;
		}
		/* 10 us periods are short-lived: back to 1 ms soon. */
		usleep(20000 + below(200000));
		if (knob_get("period_us") == 1000000)
			usleep(below(1200000));
		if (knob_get("period_us") < 1000 || knob_get("period_us") > 100000)
			knob_write("period_us", below(4) ? "1000" : "10");
	}
	knob_write("period_us", "1000");
	sysfs_write("/sys/kernel/tracing/events/bwarb/enable", "0");
	sysfs_write("/sys/kernel/tracing/events/sched/sched_switch/enable", "0");
	_exit(0);
}

/*
 * The reserved client: once a period, its reservation for the period
 * (bytes = r * P). Returns requests judged, late ones and the worst
 * excess over the bound through *late / *worst.
 */
static unsigned long long reserved_main(double end, unsigned long long *late,
					unsigned long long *worst,
					unsigned long long *skipped)
{
	struct sched_param sp = { .sched_priority = 10 };
	unsigned long long p, last = 0, req = 0, p_us, late0, late1;
	struct bwarb_acquire a;
	int fd, ret;

	*late = *worst = *skipped = 0;
	fd = dev_open();
	if (fd < 0 || do_register_burst(fd, "reserved", 1, R_MBPS,
					R_MBPS * 10000))	/* 10 ms of it */
		return 0;
	sched_setscheduler(0, SCHED_FIFO, &sp);
	while (now_s() < end) {
		p = knob_get("periods");
		if (p == last) {
			usleep(200);
			continue;
		}
		last = p;
		p_us = knob_get("period_us");
		late0 = knob_get("late_periods");
		ret = do_acquire(fd, R_MBPS * p_us, 5000000000ULL, 0, &a);
		late1 = knob_get("late_periods");
		if (!ret)
			do_complete(fd, a.grant_id, R_MBPS * p_us);
		if (knob_get("period_us") != p_us || p_us > 10000) {
			(*skipped)++;	/* the period changed under it */
			continue;
		}
		req++;
		if (ret) {
			printf("# reserved: acquire of %llu bytes failed: %d\n",
			       R_MBPS * p_us, ret);
			(*late)++;
		} else if (a.wait_periods > 2) {
			printf("# reserved: waited %llu periods (%llu boundaries late) at period_us %llu\n",
			       (unsigned long long)a.wait_periods, late1 - late0, p_us);
			(*late)++;
			if (a.wait_periods - 2 > *worst)
				*worst = a.wait_periods - 2;
		}
	}
	sp.sched_priority = 0;
	sched_setscheduler(0, SCHED_OTHER, &sp);
	close(fd);
	return req;
}

int main(int argc, char **argv)
{
	unsigned long long seed = 0, late, worst, skipped, req;
	int seconds = 20, procs = 4, i, st, bad = 0, opt;
	pid_t pids[16], kp;
	double end;

	static const struct option lo[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'r' },
		{ "procs", required_argument, NULL, 'p' },
		{ "toggle-tracepoints", no_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt == 's')
			seconds = atoi(optarg);
		else if (opt == 'r')
			seed = strtoull(optarg, NULL, 0);
		else if (opt == 'p')
			procs = atoi(optarg);
		else if (opt == 't')
			toggle_tracepoints = 1;
		else
			return 2;
	}
	if (procs < 1 || procs > 16 || seconds < 1)
		return 2;
	if (!seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (unsigned long long)ts.tv_sec * 1000003ULL + ts.tv_nsec;
	}
	printf("# hostile: seed %llu, %d unprivileged processes, %d s (rerun: --seed %llu)\n",
	       seed, procs, seconds, seed);
	fflush(stdout);
	if (knobs_set(1000, 100000, 50000)) {
		tap(0, "knobs set up");
		return 1;
	}
	scenarios();
	end = now_s() + seconds;
	for (i = 0; i < procs; i++) {
		pids[i] = fork();
		if (!pids[i])
			worker_main(seed + i, end, pids, i);
	}
	kp = fork();
	if (!kp)
		knobs_main(seed + 100, end);
	req = reserved_main(end, &late, &worst, &skipped);
	for (i = 0; i < procs; i++) {
		if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) ||
		    WEXITSTATUS(st)) {
			printf("# worker %d ended with status 0x%x\n", i, st);
			bad++;
		}
	}
	waitpid(kp, &st, 0);
	tap(!bad, "%d unprivileged processes ran %d s and exited", procs, seconds);
	tap(req > 0 && !late,
	    "reserved client kept its bound: %llu requests judged (%llu skipped: period changed), %llu late, worst by %llu periods",
	    req, skipped, late, worst);
	knob_write("period_us", "1000");
	wait_periods(3, 1000);
	tap(knob_get("nr_clients") == 0, "no client left (nr_clients %llu)",
	    knob_get("nr_clients"));
	printf("# tick_ns_max %llu, late_periods %llu, lost_periods %llu, tamper_events %llu\n",
	       knob_get("tick_ns_max"), knob_get("late_periods"),
	       knob_get("lost_periods"), knob_get("tamper_events"));
	st = system("rmmod bwarb");
	tap(st == 0, "bwarb unloads afterwards");
	return 0;
}
