// SPDX-License-Identifier: GPL-2.0
/*
 * bwarb selftests of issue 11: what a hostile unprivileged client (and
 * root's knob writes beside it) could do to the module. Run as root in the
 * guest with bwarb loaded, from the repository top; the unprivileged parts
 * run in children that drop to uid/gid 65534 with no groups.
 *
 * The test that once panicked the kernel (huge completes, then a short
 * period) is defined last, so that on a module without the fix every other
 * result is printed before the guest dies.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmod/uapi/bwarb.h"
#include "bwarb_selftest_io.h"

#define NOBODY	65534

/* Drops to uid/gid 65534 with no supplementary groups (child only). */
static void become_nobody(void)
{
	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		_exit(200);
}

/*
 * Runs fn(arg) in a child as nobody; returns its result, an errno value
 * (0..199), or -1 if the child died otherwise.
 */
static int as_nobody(int (*fn)(void *), void *arg)
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		become_nobody();
		_exit(fn(arg) & 0xff);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void fill_register(struct bwarb_register *r, const char *name,
			  __u32 weight, __u64 reserve)
{
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->class = BWARB_CLASS_CPU;
	strncpy(r->name, name, sizeof(r->name) - 1);
	r->weight = weight;
	r->reserve_mbps = reserve;
	r->burst_bytes = 1000000;
}

/* REGISTER on a fresh file; returns -errno, or the open fd (>= 0). */
static int open_register(const char *name, __u32 weight, __u64 reserve)
{
	struct bwarb_register r;
	int fd = dev_open(), ret;

	if (fd < 0)
		return -errno;
	fill_register(&r, name, weight, reserve);
	ret = xioctl(fd, BWARB_IOC_REGISTER, &r);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

FIXTURE(hard) {
	unsigned long long period_us, capacity, guaranteed;
};

FIXTURE_SETUP(hard)
{
	self->period_us = knob_get("period_us");
	self->capacity = knob_get("capacity_mbps");
	self->guaranteed = knob_get("guaranteed_mbps");
	ASSERT_NE(~0ULL, self->period_us) TH_LOG("bwarb not loaded?");
	ASSERT_EQ(0, knobs_set(1000, 100, 50));
}

FIXTURE_TEARDOWN(hard)
{
	knobs_set(self->period_us, self->capacity, self->guaranteed);
}

/* Forged stats: a name may not carry a newline (or any non-graphic byte). */
TEST_F(hard, name_must_be_printable)
{
	static const char *const bad[] = { "a\nb", "two words", "tab\there",
					   "\x7f", "\xc3\xa9" };
	char buf[8192];
	unsigned int i;
	int fd, lines = 0;
	char *p;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = open_register(bad[i], 1, 0);
		if (fd >= 0)
			close(fd);
		EXPECT_EQ(-EINVAL, fd) TH_LOG("name %u accepted", i);
	}
	/* The debugfs table: a header and one line per client. */
	fd = open_register("fine-name_1.x", 1, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, sysfs_read("/sys/kernel/debug/bwarb/clients", buf, sizeof(buf)));
	for (p = buf; *p; p++)
		lines += *p == '\n';
	EXPECT_EQ(2, lines) TH_LOG("%s", buf);
	close(fd);
}

static int nobody_reserve(void *arg)
{
	int fd = open_register("nobody-res", 1, 1);

	return fd >= 0 ? 0 : -fd;
}

static int nobody_heavy(void *arg)
{
	int fd = open_register("nobody-heavy", BWARB_MAX_WEIGHT, 0);

	return fd >= 0 ? 0 : -fd;
}

static int nobody_default(void *arg)
{
	int fd = open_register("nobody-be", BWARB_DEFAULT_WEIGHT, 0);

	return fd >= 0 ? 0 : -fd;
}

/* Theft of the guarantee: only privileged callers reserve or weigh more. */
TEST_F(hard, unprivileged_cannot_reserve_or_outweigh)
{
	int fd;

	EXPECT_EQ(EPERM, as_nobody(nobody_reserve, NULL));
	EXPECT_EQ(EPERM, as_nobody(nobody_heavy, NULL));
	/* Best effort at the default weight stays open to everyone. */
	EXPECT_EQ(0, as_nobody(nobody_default, NULL));
	/* Root (CAP_SYS_NICE) may do both. */
	fd = open_register("root-res", BWARB_MAX_WEIGHT, 1);
	EXPECT_LE(0, fd);
	if (fd >= 0)
		close(fd);
}

#define PARAMS "/sys/module/bwarb/parameters/"

/*
 * A member of the privileged_gid group (here nobody with supplementary
 * group 4242) may reserve and weigh more, within user_reserve_mbps for
 * its uid (-EDQUOT beyond).
 */
TEST_F(hard, privileged_group_within_user_reserve)
{
	gid_t g = 4242;
	int st, fd;
	pid_t pid;

	ASSERT_EQ(0, sysfs_write(PARAMS "privileged_gid", "4242"));
	ASSERT_EQ(0, sysfs_write(PARAMS "user_reserve_mbps", "20"));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int a, b, c;

		if (setgroups(1, &g) || setgid(NOBODY) || setuid(NOBODY))
			_exit(200);
		a = open_register("grp-a", BWARB_MAX_WEIGHT, 15);
		if (a < 0)
			_exit(1);
		b = open_register("grp-b", 1, 10);	/* 25 > 20 */
		if (b != -EDQUOT)
			_exit(2);
		c = open_register("grp-c", 1, 5);	/* 20: fits */
		if (c < 0)
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
		TH_LOG("child status 0x%x (1: no reservation, 2: over the user limit, 3: within)", st);
	/* Without the group again: no reservation. */
	ASSERT_EQ(0, sysfs_write(PARAMS "privileged_gid", "-1"));
	ASSERT_EQ(0, sysfs_write(PARAMS "user_reserve_mbps", "0"));
	EXPECT_EQ(EPERM, as_nobody(nobody_reserve, NULL));
	/* Root is not held to the per-user limit. */
	ASSERT_EQ(0, sysfs_write(PARAMS "user_reserve_mbps", "1"));
	fd = open_register("root-res", 1, 40);
	EXPECT_LE(0, fd);
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(0, sysfs_write(PARAMS "user_reserve_mbps", "0"));
}

static int nobody_many(void *arg)
{
	unsigned int limit = *(unsigned int *)arg, i;
	int fds[64], fd, ret = 0;

	for (i = 0; i < limit; i++) {
		fds[i] = open_register("nobody-n", 1, 0);
		if (fds[i] < 0)
			return 100 + i;		/* refused too early */
	}
	fd = open_register("nobody-n", 1, 0);
	if (fd >= 0)
		ret = 99;			/* one more was accepted */
	else
		ret = -fd;
	/* Closing one makes room again. */
	close(fds[0]);
	fd = open_register("nobody-n", 1, 0);
	if (fd < 0 && !ret)
		ret = 98;
	return ret;
}

/* Filling max_clients: a user has at most user_max_clients. */
TEST_F(hard, per_user_client_limit)
{
	unsigned long long lim = ~0ULL;
	unsigned int n;
	char buf[32];
	int fd;

	if (!sysfs_read("/sys/module/bwarb/parameters/user_max_clients", buf,
			sizeof(buf)))
		lim = strtoull(buf, NULL, 10);
	ASSERT_GT(64, lim) TH_LOG("no user_max_clients parameter below 64");
	n = lim;
	EXPECT_EQ(EMFILE, as_nobody(nobody_many, &n));
	EXPECT_EQ(0, knob_get("nr_clients"));
	/* root is not limited by it */
	fd = open_register("root", 1, 0);
	EXPECT_LE(0, fd);
	close(fd);
}

static int nobody_over_complete(void *arg)
{
	struct bwarb_acquire a;
	int fd = open_register("liar", BWARB_DEFAULT_WEIGHT, 0);

	if (fd < 0)
		return -fd;
	if (do_acquire(fd, 1, 1000000000ULL, 0, &a))
		return 1;
	if (do_complete(fd, a.grant_id, 1ULL << 40))
		return 2;
	/* Keep the client (and its debt) while the parent measures. */
	pause();
	return 0;
}

/*
 * A COMPLETE of 2^40 bytes: the liar's debt is bounded and takes nothing
 * from a best-effort client that asks while the liar does not wait.
 */
TEST_F(hard, debt_hurts_only_the_liar)
{
	struct bwarb_acquire a;
	struct bwarb_query q;
	int fd, i, ok = 0;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		become_nobody();
		_exit(nobody_over_complete(NULL));
	}
	wait_periods(5, 1000);
	fd = open_register("honest", BWARB_DEFAULT_WEIGHT, 0);
	ASSERT_LE(0, fd);
	/* 10 ms of a 100 MB/s bus is 1 MB; half of it, 20 times. */
	for (i = 0; i < 20; i++) {
		if (!do_acquire(fd, 50000, 0, BWARB_ACQUIRE_NONBLOCK, &a)) {
			ok++;
			do_complete(fd, a.grant_id, 50000);
		}
		wait_periods(2, 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ASSERT_EQ(0, do_query(fd, &q));
	close(fd);
	/* Each try came at least one boundary after the last: most succeed. */
	EXPECT_LE(15, ok) TH_LOG("only %d of 20 non-blocking acquires of half a period", ok);
}

/* A NONBLOCK miss changes no state: no wait is counted. */
TEST_F(hard, nonblock_miss_changes_nothing)
{
	struct bwarb_query q0, q1;
	struct bwarb_acquire a;
	int fd = open_register("nb", 1, 0), i, misses = 0;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, do_query(fd, &q0));
	for (i = 0; i < 50; i++)
		if (do_acquire(fd, 10 * MB, 0, BWARB_ACQUIRE_NONBLOCK, &a) == -EAGAIN)
			misses++;
	ASSERT_EQ(50, misses);
	ASSERT_EQ(0, do_query(fd, &q1));
	EXPECT_EQ(q0.waits, q1.waits);
	EXPECT_EQ(q0.grants, q1.grants);
	close(fd);
}

/* copy_struct_from_user() rules for every ioctl struct. */
TEST_F(hard, struct_size_versions)
{
	struct {
		struct bwarb_query q;
		__u64 tail[4];
	} big;
	struct {
		struct bwarb_register r;
		__u64 tail[2];
	} bigr;
	unsigned long cmd;
	int fd = dev_open();

	ASSERT_LE(0, fd);
	/* A newer, larger REGISTER whose extra bytes are zero: accepted. */
	memset(&bigr, 0, sizeof(bigr));
	fill_register(&bigr.r, "bigger", 1, 0);
	bigr.r.size = sizeof(bigr);
	bigr.tail[1] = 1;
	cmd = _IOC(_IOC_READ | _IOC_WRITE, BWARB_IOC_MAGIC, 1, sizeof(bigr));
	EXPECT_EQ(-E2BIG, xioctl(fd, cmd, &bigr));
	bigr.tail[1] = 0;
	EXPECT_EQ(0, xioctl(fd, cmd, &bigr));
	EXPECT_NE(0, bigr.r.client_id);
	/* An older (smaller) size than the first version: rejected. */
	memset(&big, 0, sizeof(big));
	big.q.size = 8;
	EXPECT_EQ(-EINVAL, xioctl(fd, BWARB_IOC_QUERY, &big.q));
	/* A larger QUERY through the plain command number. */
	big.q.size = sizeof(big);
	EXPECT_EQ(0, xioctl(fd, BWARB_IOC_QUERY, &big.q));
	EXPECT_EQ(bigr.r.client_id, big.q.client_id);
	big.tail[3] = 7;
	EXPECT_EQ(-E2BIG, xioctl(fd, BWARB_IOC_QUERY, &big.q));
	/* Absurd sizes: */
	big.q.size = 1 << 20;
	EXPECT_EQ(-E2BIG, xioctl(fd, BWARB_IOC_QUERY, &big.q));
	close(fd);
}

/* The fast page is not inherited: a child cannot keep the client alive. */
TEST_F(hard, fast_page_not_inherited)
{
	int fd = open_register("forker", 1, 0), st, go[2], ready[2];
	char c = 0;
	void *pg;
	pid_t pid;

	ASSERT_LE(0, fd);
	pg = mmap(NULL, BWARB_FAST_PAGE_SIZE, PROT_READ | PROT_WRITE,
		  MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, pg);
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* The child lets go of the file; only a mapping could stay. */
		close(fd);
		if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	munmap(pg, BWARB_FAST_PAGE_SIZE);
	close(fd);
	/* The child holds no file and (VM_DONTCOPY) no mapping of it. */
	EXPECT_EQ(0, knob_get("nr_clients"));
	ASSERT_EQ(1, write(go[1], &c, 1));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

struct efault_race {
	struct bwarb_register *r;
	volatile int stop;
};

static void *mprotect_flip(void *arg)
{
	struct efault_race *er = arg;
	void *page = (void *)((uintptr_t)er->r & ~4095UL);

	while (!er->stop) {
		mprotect(page, 4096, PROT_READ);
		mprotect(page, 4096, PROT_READ | PROT_WRITE);
	}
	return NULL;
}

/* REGISTER never registers and then reports -EFAULT. */
TEST_F(hard, register_efault_leaves_nothing_registered)
{
	struct efault_race er = { 0 };
	struct bwarb_register ok;
	pthread_t t;
	int i, fd, ret, bad = 0, faults = 0;

	er.r = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, er.r);
	fill_register(&ok, "racer", 1, 0);
	memcpy(er.r, &ok, sizeof(ok));
	ASSERT_EQ(0, pthread_create(&t, NULL, mprotect_flip, &er));
	for (i = 0; i < 3000; i++) {
		fd = dev_open();
		ASSERT_LE(0, fd);
		ret = xioctl(fd, BWARB_IOC_REGISTER, er.r);
		if (ret == -EFAULT) {
			faults++;
			/* Not registered: a second REGISTER must succeed. */
			if (xioctl(fd, BWARB_IOC_REGISTER, &ok) == -EBUSY)
				bad++;
		}
		close(fd);
	}
	er.stop = 1;
	pthread_join(t, NULL);
	TH_LOG("%d of 3000 REGISTERs faulted", faults);
	EXPECT_EQ(0, bad);
}

/* Writing period_us re-arms the timer: no waiting out an old 1 s period. */
TEST_F(hard, period_write_rearms_timer)
{
	struct bwarb_acquire a;
	unsigned long long p0;
	int fd, ret;

	/* 1 s periods of 1,000,000 bytes. */
	ASSERT_EQ(0, knobs_set(1000000, 1, 0));
	fd = open_register("rearm", 1, 0);
	ASSERT_LE(0, fd);
	/* Right after a boundary: most of a second is left. */
	p0 = knob_get("periods");
	while (knob_get("periods") == p0)
		usleep(1000);
	while (do_acquire(fd, 100000, 0, BWARB_ACQUIRE_NONBLOCK, &a) == 0)
		do_complete(fd, a.grant_id, 100000);
	ASSERT_EQ(0, knob_set("period_us", 1000));
	/* 1 ms periods of 1000 bytes: granted within a few of them. */
	ret = do_acquire(fd, 500, 500000000ULL, 0, &a);
	EXPECT_EQ(0, ret) TH_LOG("still waiting for the old period");
	close(fd);
}

/* A thread's voluntary context switches so far. */
static long ctxt_switches(pid_t tid)
{
	char path[64], buf[4096], *p;
	long v = -1;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	if (sysfs_read(path, buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "\nvoluntary_ctxt_switches:");
	if (p)
		v = strtol(p + 25, NULL, 10);
	return v;
}

struct blocked {
	int fd;
	pid_t tid;
	volatile int started;
	int ret;
};

static void *blocked_fn(void *arg)
{
	struct blocked *b = arg;
	struct bwarb_acquire a;

	b->tid = syscall(SYS_gettid);
	b->started = 1;
	b->ret = do_acquire(b->fd, 5 * MB, 20000000000ULL, 0, &a);
	return NULL;
}

/*
 * A client spinning on NONBLOCK does not wake the blocked threads of
 * other clients (before: one global waitqueue woken after every acquire).
 */
TEST_F(hard, nonblock_spinner_wakes_nobody)
{
	struct blocked b = { 0 };
	struct bwarb_acquire a;
	unsigned long long t0;
	long before, after;
	pthread_t t;
	int spin, i;

	/* 1 s periods of 1,000,000 bytes: the 5 MB acquire waits seconds. */
	ASSERT_EQ(0, knobs_set(1000000, 1, 0));
	b.fd = open_register("blocked", 1, 0);
	spin = open_register("spinner", 1, 0);
	ASSERT_LE(0, b.fd);
	ASSERT_LE(0, spin);
	ASSERT_EQ(0, pthread_create(&t, NULL, blocked_fn, &b));
	while (!b.started)
		usleep(1000);
	usleep(50000);
	before = ctxt_switches(b.tid);
	/* About a second of spinning (no time is asserted). */
	t0 = knob_get("periods");
	for (i = 0; i < 400000 && knob_get("periods") < t0 + 2; i++)
		if (!do_acquire(spin, 1, 0, BWARB_ACQUIRE_NONBLOCK, &a))
			do_complete(spin, a.grant_id, 1);
	after = ctxt_switches(b.tid);
	close(spin);
	/* End the blocked acquire: a signal. */
	pthread_kill(t, SIGURG);
	pthread_join(t, NULL);
	close(b.fd);
	TH_LOG("blocked thread switched %ld times in %d acquires", after - before, i);
	/* Two boundaries passed meanwhile, nothing else concerns it. */
	EXPECT_GT(10, after - before);
}

/* Defined last: on a module without the fix this panics the guest. */
TEST_F(hard, huge_completes_then_short_period)
{
	struct bwarb_acquire a;
	__u64 ids[3][64];
	int fd[3], i, j;

	ASSERT_EQ(0, knobs_set(1000000, 100, 50));
	for (i = 0; i < 3; i++) {
		fd[i] = open_register("huge", 1, 0);
		ASSERT_LE(0, fd[i]);
		for (j = 0; j < 64; j++) {
			ASSERT_EQ(0, do_acquire(fd[i], 1, 2000000000ULL, 0, &a));
			ids[i][j] = a.grant_id;
		}
	}
	for (i = 0; i < 3; i++)
		for (j = 0; j < 64; j++)
			ASSERT_EQ(0, do_complete(fd[i], ids[i][j], 1ULL << 40));
	ASSERT_EQ(0, knob_set("period_us", 10));
	usleep(1500000);
	/* Still alive, still ticking. */
	EXPECT_NE(~0ULL, knob_get("periods"));
	for (i = 0; i < 3; i++)
		close(fd[i]);
}

static void ignore(int sig)
{
}

static void __attribute__((constructor)) setup_signals(void)
{
	struct sigaction sa = { .sa_handler = ignore };

	sigaction(SIGURG, &sa, NULL);
}

TEST_HARNESS_MAIN
