// SPDX-License-Identifier: GPL-2.0
/*
 * bwarb kernel selftests (kselftest harness, TAP). Run as root in a guest
 * with bwarb loaded, from the repository top (the load/unload tests take
 * ./bwarb.ko, or $BWARB_KO).
 *
 * Each test sets the knobs it relies on (fixture) and puts the old values
 * back. The tests that unload the module are global tests, which the
 * harness runs before the fixture's; each leaves it loaded with its
 * default parameters.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmod/uapi/bwarb.h"
#include "bwarb_selftest_io.h"

/* The knobs every fixture test starts from, and what was there before. */
FIXTURE(bwarb) {
	unsigned long long period_us, capacity, guaranteed;
};

FIXTURE_SETUP(bwarb)
{
	self->period_us = knob_get("period_us");
	self->capacity = knob_get("capacity_mbps");
	self->guaranteed = knob_get("guaranteed_mbps");
	ASSERT_NE(~0ULL, self->period_us) TH_LOG("bwarb not loaded?");
	/* 1 ms periods of 100 000 bytes; 50 MB/s may be reserved. */
	ASSERT_EQ(0, knobs_set(1000, 100, 50));
}

FIXTURE_TEARDOWN(bwarb)
{
	knobs_set(self->period_us, self->capacity, self->guaranteed);
}

TEST_F(bwarb, register_acquire_complete_close)
{
	struct bwarb_acquire a;
	struct bwarb_register r;
	struct bwarb_query q;
	unsigned long long g0 = knob_get("granted_bytes");
	unsigned long long c0 = knob_get("completed_bytes");
	int fd = dev_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(-ENOTCONN, do_acquire(fd, 1000, 0, 0, NULL));
	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.class = BWARB_CLASS_GPU;
	strcpy(r.name, "basic");
	r.weight = 3;
	r.burst_bytes = 4096;
	ASSERT_EQ(0, xioctl(fd, BWARB_IOC_REGISTER, &r));
	ASSERT_NE(0, r.client_id);
	ASSERT_EQ(-EBUSY, xioctl(fd, BWARB_IOC_REGISTER, &r));
	ASSERT_EQ(1, knob_get("nr_clients"));

	ASSERT_EQ(0, do_acquire(fd, 1000, 1000000000ULL, 0, &a));
	ASSERT_NE(0, a.grant_id);
	ASSERT_EQ(0, do_complete(fd, a.grant_id, 800));
	ASSERT_EQ(-ENOENT, do_complete(fd, a.grant_id, 800));

	ASSERT_EQ(0, do_query(fd, &q));
	EXPECT_EQ(r.client_id, q.client_id);
	EXPECT_EQ(1000, q.granted_bytes);
	EXPECT_EQ(800, q.completed_bytes);
	EXPECT_EQ(1, q.grants);
	EXPECT_EQ(0, q.reserved[0]);
	EXPECT_LE(g0 + 1000, knob_get("granted_bytes"));
	EXPECT_LE(c0 + 800, knob_get("completed_bytes"));

	/* An outstanding grant is returned by close. */
	ASSERT_EQ(0, do_acquire(fd, 1000, 1000000000ULL, 0, &a));
	close(fd);
	EXPECT_EQ(0, knob_get("nr_clients"));
}

/*
 * Takes (and completes) grants of chunk bytes without waiting until the
 * period has none left: -EAGAIN then, or the first other error.
 */
static int drain_period(int fd, __u64 chunk)
{
	struct bwarb_acquire a;
	int ret;

	while (!(ret = do_acquire(fd, chunk, 0, BWARB_ACQUIRE_NONBLOCK, &a))) {
		ret = do_complete(fd, a.grant_id, chunk);
		if (ret)
			return ret;
	}
	return ret;
}

TEST_F(bwarb, blocked_acquire_woken_next_period)
{
	struct bwarb_acquire a;
	struct bwarb_query q;
	int fd = dev_open(), tries;
	/* 50 ms periods: wide enough that the test's own steps fit in one. */
	const __u64 per_period = 100 * MB / 20;

	ASSERT_EQ(0, knob_set("period_us", 50000));
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, do_register(fd, "blocked", 1, 0));
	for (tries = 0; tries < 5; tries++) {
		/* Take everything this period offers... */
		ASSERT_EQ(-EAGAIN, drain_period(fd, per_period));
		/* ...so this one has to wait for the next boundary. */
		ASSERT_EQ(0, do_acquire(fd, per_period, 5000000000ULL, 0, &a));
		ASSERT_EQ(0, do_complete(fd, a.grant_id, per_period));
		if (a.wait_periods)
			break;
		/* A boundary fell between the two calls: try again. */
	}
	ASSERT_LT(tries, 5);
	EXPECT_EQ(1, a.wait_periods);
	EXPECT_LT(0, a.wait_ns);
	ASSERT_EQ(0, do_query(fd, &q));
	EXPECT_LE(1, q.waits);
	EXPECT_LE(a.wait_ns, q.max_wait_ns);
	close(fd);
}

TEST_F(bwarb, timeout_gives_etimedout)
{
	struct bwarb_acquire a;
	struct bwarb_query q;
	int fd = dev_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, do_register(fd, "timeout", 1, 0));
	/* 10^12 bytes at 100 000 bytes a period: never within 20 ms. */
	ASSERT_EQ(-ETIMEDOUT, do_acquire(fd, 1000000ULL * MB, 20000000ULL, 0, &a));
	ASSERT_EQ(0, do_query(fd, &q));
	EXPECT_EQ(0, q.grants);
	EXPECT_EQ(0, q.granted_bytes);
	/* The demand is gone: a small acquire is served. */
	ASSERT_EQ(0, do_acquire(fd, 1000, 1000000000ULL, 0, &a));
	ASSERT_EQ(0, do_complete(fd, a.grant_id, 1000));
	close(fd);
}

static void on_alarm(int sig)
{
	(void)sig;
}

TEST_F(bwarb, signal_interrupts_blocked_acquire)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct itimerval it = { .it_value = { .tv_usec = 30000 } };
	struct bwarb_acquire a;
	struct bwarb_query q;
	int fd = dev_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, do_register(fd, "signal", 1, 0));
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	ASSERT_EQ(-EINTR, do_acquire(fd, 1000000ULL * MB, 0, 0, &a));
	ASSERT_EQ(0, do_query(fd, &q));
	EXPECT_EQ(0, q.grants);
	EXPECT_EQ(0, q.granted_bytes);
	/* No grant and no demand left behind: a small acquire is served. */
	ASSERT_EQ(0, do_acquire(fd, 1000, 1000000000ULL, 0, &a));
	ASSERT_EQ(0, do_complete(fd, a.grant_id, 1000));
	ASSERT_EQ(0, do_query(fd, &q));
	EXPECT_EQ(1, q.grants);
	EXPECT_EQ(1000, q.granted_bytes);
	close(fd);
}

/* Everything QUERY and sysfs show about one client and the device. */
struct snapshot {
	struct bwarb_query q;
	unsigned long long nr_clients, granted, completed;
};

static int snap(int fd, struct snapshot *s)
{
	s->nr_clients = knob_get("nr_clients");
	s->granted = knob_get("granted_bytes");
	s->completed = knob_get("completed_bytes");
	return do_query(fd, &s->q);
}

static volatile sig_atomic_t alarms;

static void count_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* SIGALRM every 20 ms to a handler with SA_RESTART; 0 or -errno. */
static int restarting_alarms(void)
{
	struct sigaction sa = { .sa_handler = count_alarm,
				.sa_flags = SA_RESTART };
	struct itimerval it = { .it_value = { .tv_usec = 20000 },
				.it_interval = { .tv_usec = 20000 } };

	alarms = 0;
	if (sigaction(SIGALRM, &sa, NULL) || setitimer(ITIMER_REAL, &it, NULL))
		return -errno;
	return 0;
}

static void stop_alarms(void)
{
	struct itimerval off = { 0 };

	setitimer(ITIMER_REAL, &off, NULL);
	signal(SIGALRM, SIG_DFL);
}

/*
 * A handler with SA_RESTART (or an ignored signal, such as the SIGCHLD of
 * a child) does not end a blocked acquire: the module returns
 * -ERESTARTSYS and the call restarts until the grant.
 */
TEST_F(bwarb, sa_restart_signal_restarts_blocked_acquire)
{
	struct bwarb_acquire a;
	int fd = dev_open(), tries, ret;
	/* 300 ms periods of 30 MB: several alarms fall inside one wait. */
	const __u64 per_period = 100 * MB * 3 / 10;

	ASSERT_EQ(0, knob_set("period_us", 300000));
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, do_register(fd, "restart", 1, 0));
	for (tries = 0; tries < 5; tries++) {
		ASSERT_EQ(-EAGAIN, drain_period(fd, per_period));
		ASSERT_EQ(0, restarting_alarms());
		ret = do_acquire(fd, per_period, 0, 0, &a);
		stop_alarms();
		ASSERT_EQ(0, ret);
		ASSERT_EQ(0, do_complete(fd, a.grant_id, per_period));
		if (alarms)
			break;
		/* The boundary came before the first alarm: try again. */
	}
	ASSERT_LT(tries, 5);
	EXPECT_LE(1, a.wait_periods);
	close(fd);
}

/*
 * Each restart waits only for the time left (the module rewrites
 * timeout_ns), so alarms every 20 ms cannot stretch a 200 ms timeout
 * forever: the acquire ends with -ETIMEDOUT.
 */
TEST_F(bwarb, restarted_acquire_keeps_its_deadline)
{
	const __u64 timeout_ns = 200000000ULL;
	struct bwarb_acquire a;
	struct bwarb_query q;
	int fd = dev_open(), ret;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, do_register(fd, "deadline", 1, 0));
	ASSERT_EQ(0, restarting_alarms());
	ret = do_acquire(fd, 1000000ULL * MB, timeout_ns, 0, &a);
	stop_alarms();
	ASSERT_EQ(-ETIMEDOUT, ret);
	EXPECT_LE(1, alarms);
	EXPECT_LT(0, a.timeout_ns);
	EXPECT_GT(timeout_ns, a.timeout_ns);
	ASSERT_EQ(0, do_query(fd, &q));
	EXPECT_EQ(0, q.grants);
	close(fd);
}

TEST_F(bwarb, bad_input_changes_nothing)
{
	struct {
		struct bwarb_register r;
		__u64 tail;
	} bigger;
	struct {
		struct bwarb_complete c;
		__u64 tail;
	} cbig;
	struct bwarb_register r;
	struct bwarb_acquire a;
	struct bwarb_complete c;
	struct bwarb_query q;
	struct snapshot s0, s1;
	int fd = dev_open(), fd2;
	void *ro;

	ASSERT_LE(0, fd);
	/* Unregistered: every bad REGISTER leaves the file unregistered. */
	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	strcpy(r.name, "bad");
	r.weight = 1;
	r.size = sizeof(r) - 8;
	EXPECT_EQ(-EINVAL, xioctl(fd, BWARB_IOC_REGISTER, &r));
	/*
	 * A newer caller's larger struct is accepted only if the bytes this
	 * kernel does not know are zero (copy_struct_from_user(), issue 11).
	 */
	memcpy(&bigger.r, &r, sizeof(r));
	bigger.r.size = sizeof(bigger);
	bigger.tail = 1;
	EXPECT_EQ(-E2BIG, xioctl(fd, BWARB_IOC_REGISTER, &bigger));
	r.size = sizeof(r);
	r.reserved[3] = 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, BWARB_IOC_REGISTER, &r));
	r.reserved[3] = 0;
	r.weight = 0;
	EXPECT_EQ(-EINVAL, xioctl(fd, BWARB_IOC_REGISTER, &r));
	r.weight = BWARB_MAX_WEIGHT + 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, BWARB_IOC_REGISTER, &r));
	r.weight = 1;
	r.class = BWARB_CLASS_OTHER + 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, BWARB_IOC_REGISTER, &r));
	r.class = BWARB_CLASS_CPU;
	memset(r.name, 'x', sizeof(r.name));	/* no terminating NUL */
	EXPECT_EQ(-EINVAL, xioctl(fd, BWARB_IOC_REGISTER, &r));
	strcpy(r.name, "bad");
	r.burst_bytes = ~0ULL;
	EXPECT_EQ(-EINVAL, xioctl(fd, BWARB_IOC_REGISTER, &r));
	r.burst_bytes = 0;
	EXPECT_EQ(-EFAULT, xioctl(fd, BWARB_IOC_REGISTER, NULL));
	EXPECT_EQ(-EFAULT, xioctl(fd, BWARB_IOC_REGISTER, (void *)8));
	/* Readable but not writable: the id could not be returned. */
	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	memcpy(ro, &r, sizeof(r));
	ASSERT_EQ(0, mprotect(ro, 4096, PROT_READ));
	EXPECT_EQ(-EFAULT, xioctl(fd, BWARB_IOC_REGISTER, ro));
	munmap(ro, 4096);
	EXPECT_EQ(-ENOTCONN, do_query(fd, &q));
	EXPECT_EQ(0, knob_get("nr_clients"));

	ASSERT_EQ(0, xioctl(fd, BWARB_IOC_REGISTER, &r));
	ASSERT_EQ(0, do_acquire(fd, 5000, 1000000000ULL, 0, &a));
	/* Keep another client's grant outstanding as part of the state. */
	fd2 = dev_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, do_register(fd2, "bystander", 1, 0));
	ASSERT_EQ(0, snap(fd, &s0));

	/* Unknown commands, and known numbers with another size encoded. */
	EXPECT_EQ(-ENOTTY, xioctl(fd, _IO(BWARB_IOC_MAGIC, 99), &a));
	EXPECT_EQ(-ENOTTY, xioctl(fd, _IOWR(BWARB_IOC_MAGIC, 2, __u64), &a));
	EXPECT_EQ(-ENOTTY, xioctl(fd, _IOWR('x', 2, struct bwarb_acquire), &a));

	/* ACQUIRE */
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a) - 1;
	a.bytes = 1000;
	EXPECT_EQ(-EINVAL, xioctl(fd, BWARB_IOC_ACQUIRE, &a));
	a.size = sizeof(a);
	a.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, BWARB_IOC_ACQUIRE, &a));
	a.reserved[0] = 0;
	a.flags = 0x80;
	EXPECT_EQ(-EINVAL, xioctl(fd, BWARB_IOC_ACQUIRE, &a));
	a.flags = 0;
	a.bytes = 0;
	EXPECT_EQ(-EINVAL, xioctl(fd, BWARB_IOC_ACQUIRE, &a));
	a.bytes = ~0ULL;
	EXPECT_EQ(-EINVAL, xioctl(fd, BWARB_IOC_ACQUIRE, &a));
	EXPECT_EQ(-EFAULT, xioctl(fd, BWARB_IOC_ACQUIRE, NULL));
	EXPECT_EQ(-EFAULT, xioctl(fd, BWARB_IOC_ACQUIRE, (void *)8));

	/* COMPLETE */
	memset(&c, 0, sizeof(c));
	c.grant_id = s0.q.grants;
	/* Larger, with bytes this kernel does not know set: E2BIG. */
	memset(&cbig, 0, sizeof(cbig));
	memcpy(&cbig.c, &c, sizeof(c));
	cbig.c.size = sizeof(cbig);
	cbig.tail = 4;
	EXPECT_EQ(-E2BIG, xioctl(fd, BWARB_IOC_COMPLETE, &cbig));
	c.size = sizeof(c) - 4;
	EXPECT_EQ(-EINVAL, xioctl(fd, BWARB_IOC_COMPLETE, &c));
	c.size = sizeof(c);
	c.reserved0 = 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, BWARB_IOC_COMPLETE, &c));
	c.reserved0 = 0;
	c.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, BWARB_IOC_COMPLETE, &c));
	c.reserved[1] = 0;
	c.grant_id = 0;
	EXPECT_EQ(-ENOENT, xioctl(fd, BWARB_IOC_COMPLETE, &c));
	c.grant_id = 0x123456789ULL;
	EXPECT_EQ(-ENOENT, xioctl(fd, BWARB_IOC_COMPLETE, &c));
	EXPECT_EQ(-EFAULT, xioctl(fd, BWARB_IOC_COMPLETE, NULL));

	/* QUERY */
	memset(&q, 0, sizeof(q));
	q.size = 8;
	EXPECT_EQ(-EINVAL, xioctl(fd, BWARB_IOC_QUERY, &q));
	q.size = sizeof(q);
	q.reserved[0] = 7;
	EXPECT_EQ(-EINVAL, xioctl(fd, BWARB_IOC_QUERY, &q));
	EXPECT_EQ(-EFAULT, xioctl(fd, BWARB_IOC_QUERY, (void *)8));

	/* Registering again on another file with bad input: no new client. */
	EXPECT_EQ(-EINVAL, xioctl(fd2, BWARB_IOC_REGISTER, &a));

	ASSERT_EQ(0, snap(fd, &s1));
	EXPECT_EQ(s0.nr_clients, s1.nr_clients);
	EXPECT_EQ(s0.granted, s1.granted);
	EXPECT_EQ(s0.completed, s1.completed);
	EXPECT_EQ(0, memcmp(&s0.q, &s1.q, sizeof(s0.q)));
	close(fd2);
	close(fd);
}

TEST_F(bwarb, knob_bad_values_keep_old)
{
	EXPECT_EQ(-EINVAL, knob_write("period_us", "5"));
	EXPECT_EQ(-EINVAL, knob_write("period_us", "2000000"));
	EXPECT_EQ(-EINVAL, knob_write("period_us", "abc"));
	EXPECT_EQ(-EINVAL, knob_write("period_us", "-1"));
	EXPECT_EQ(-EINVAL, knob_write("period_us", "99999999999999999999999"));
	EXPECT_EQ(1000, knob_get("period_us"));
	/* guaranteed above capacity, capacity below guaranteed */
	EXPECT_EQ(-EINVAL, knob_write("guaranteed_mbps", "101"));
	EXPECT_EQ(-EINVAL, knob_write("capacity_mbps", "49"));
	EXPECT_EQ(50, knob_get("guaranteed_mbps"));
	EXPECT_EQ(100, knob_get("capacity_mbps"));
	/* read-only figures */
	EXPECT_EQ(-EACCES, knob_write("nr_clients", "3"));
	EXPECT_EQ(0, knob_write("period_us", "500"));
	EXPECT_EQ(500, knob_get("period_us"));
}

/* Drops CAP_SYS_ADMIN from the calling process (stays uid 0). */
static int drop_sys_admin(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	d[CAP_SYS_ADMIN / 32].effective &= ~(1U << (CAP_SYS_ADMIN % 32));
	d[CAP_SYS_ADMIN / 32].permitted &= ~(1U << (CAP_SYS_ADMIN % 32));
	return syscall(SYS_capset, &h, d) ? -1 : 0;
}

TEST_F(bwarb, non_root_cannot_write_knobs)
{
	static const char *const knobs[] = {
		"period_us", "capacity_mbps", "guaranteed_mbps",
	};
	int status, i;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(10);
		for (i = 0; i < 3; i++)
			if (knob_write(knobs[i], "2000") != -EACCES)
				_exit(20 + i);
		/* Any user may be a client. */
		i = dev_open();
		if (i < 0 || do_register(i, "nobody", 1, 0))
			_exit(30);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));

	/* Root without CAP_SYS_ADMIN passes the file mode, not the check. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (drop_sys_admin())
			_exit(10);
		for (i = 0; i < 3; i++)
			if (knob_write(knobs[i], "2000") != -EPERM)
				_exit(20 + i);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(1000, knob_get("period_us"));
	EXPECT_EQ(100, knob_get("capacity_mbps"));
	EXPECT_EQ(50, knob_get("guaranteed_mbps"));
}

TEST_F(bwarb, admission_control)
{
	int a = dev_open(), b = dev_open();

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, do_register(a, "res30", 1, 30));
	/* 30 + 30 > guaranteed 50 */
	EXPECT_EQ(-ENOSPC, do_register(b, "res30b", 1, 30));
	EXPECT_EQ(0, do_register(b, "res20", 1, 20));
	/* guaranteed below the 50 reserved: refused, kept */
	EXPECT_EQ(-EBUSY, knob_write("guaranteed_mbps", "49"));
	EXPECT_EQ(50, knob_get("guaranteed_mbps"));
	close(b);
	EXPECT_EQ(0, knob_write("guaranteed_mbps", "30"));
	EXPECT_EQ(-EBUSY, knob_write("guaranteed_mbps", "29"));
	close(a);
	EXPECT_EQ(0, knob_write("guaranteed_mbps", "0"));
	EXPECT_EQ(0, knob_get("nr_clients"));
}

struct thread_arg {
	int fd;
	int failures;
};

static void *acquire_loop(void *p)
{
	struct thread_arg *t = p;
	struct bwarb_acquire a;
	int i;

	for (i = 0; i < 50; i++) {
		if (do_acquire(t->fd, 20000, 5000000000ULL, 0, &a) ||
		    do_complete(t->fd, a.grant_id, 20000))
			t->failures++;
	}
	return NULL;
}

TEST_F(bwarb, threads_share_one_file)
{
	struct thread_arg t[4];
	pthread_t th[4];
	struct bwarb_query q;
	int fd = dev_open(), i;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, do_register(fd, "threads", 1, 0));
	for (i = 0; i < 4; i++) {
		t[i].fd = fd;
		t[i].failures = 0;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, acquire_loop, &t[i]));
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		EXPECT_EQ(0, t[i].failures);
	}
	ASSERT_EQ(0, do_query(fd, &q));
	EXPECT_EQ(200, q.grants);
	EXPECT_EQ(200 * 20000ULL, q.granted_bytes);
	EXPECT_EQ(200 * 20000ULL, q.completed_bytes);
	close(fd);
}

/*
 * Random ioctl sequences from 4 processes of 2 threads each (threads share
 * the file), with fast pages scribbled on and files closed and reopened:
 * the kernel must survive (the dmesg check after the suite) and end with
 * no client left.
 */
struct storm {
	int fd;
	unsigned int seed;
	__u64 last_id;
};

static void storm_step(struct storm *st)
{
	struct bwarb_acquire a;
	struct bwarb_query q;
	unsigned int r = rand_r(&st->seed);
	__u64 big[32];

	switch (r % 6) {
	case 0:
	case 1:
		if (!do_acquire(st->fd, 1 + rand_r(&st->seed) % 300000,
				1000000ULL * (1 + rand_r(&st->seed) % 5),
				rand_r(&st->seed) % 2 ? BWARB_ACQUIRE_NONBLOCK : 0, &a))
			st->last_id = a.grant_id;
		break;
	case 2:
		do_complete(st->fd, rand_r(&st->seed) % 4 ? st->last_id :
			    rand_r(&st->seed), rand_r(&st->seed) % 400000);
		break;
	case 3:
		do_query(st->fd, &q);
		break;
	case 4:
		/* Any size may match a real command: a buffer for all. */
		memset(big, 0, sizeof(big));
		ioctl(st->fd, _IOC(rand_r(&st->seed) % 4, BWARB_IOC_MAGIC,
				   rand_r(&st->seed) % 8, rand_r(&st->seed) % 200), big);
		break;
	default:
		do_register(st->fd, "storm", 1 + rand_r(&st->seed) % 10,
			    rand_r(&st->seed) % 3 ? 0 : rand_r(&st->seed) % 30);
		break;
	}
}

static void *storm_loop(void *p)
{
	struct storm *st = p;
	int i;

	for (i = 0; i < 1000; i++)
		storm_step(st);
	return NULL;
}

static void storm_process(unsigned int seed)
{
	struct storm st[2];
	struct bwarb_fast_page *pg;
	pthread_t th;
	int round, fd;

	for (round = 0; round < 4; round++) {
		fd = dev_open();
		if (fd < 0)
			_exit(1);
		do_register(fd, "storm", 1 + seed % 5, 0);
		pg = mmap(NULL, BWARB_FAST_PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_SHARED, fd, 0);
		st[0] = (struct storm){ .fd = fd, .seed = seed * 7 + round };
		st[1] = (struct storm){ .fd = fd, .seed = seed * 13 + round };
		if (pthread_create(&th, NULL, storm_loop, &st[1]))
			_exit(2);
		storm_loop(&st[0]);
		if (pg != MAP_FAILED) {
			/* Scribble: the kernel must count it, not trust it. */
			pg->avail = (long long)rand_r(&seed) - RAND_MAX / 2;
			pg->reserved[rand_r(&seed) % 5] = rand_r(&seed);
		}
		pthread_join(th, NULL);
		if (pg != MAP_FAILED && round % 2)
			munmap(pg, BWARB_FAST_PAGE_SIZE);
		close(fd);	/* the mapping, if kept, holds the file */
	}
	_exit(0);
}

TEST_F(bwarb, random_ioctl_storm)
{
	int i, status;
	pid_t pids[4];

	for (i = 0; i < 4; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0)
			storm_process(i + 1);
	}
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	EXPECT_EQ(0, knob_get("nr_clients"));
}

#define TRACEFS "/sys/kernel/tracing/"

static int trace_write(const char *file, const char *val)
{
	char path[128];
	int fd, ret = 0;

	snprintf(path, sizeof(path), TRACEFS "%s", file);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* The whole trace buffer as one string (caller frees). */
static char *trace_read(void)
{
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap + 1);
	ssize_t n;
	int fd = open(TRACEFS "trace", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
		len += n;
	buf[len] = '\0';
	close(fd);
	return buf;
}

TEST_F(bwarb, tracepoints_fire)
{
	struct bwarb_acquire a;
	char *t, want[128];
	int fd, ret;
	__u64 id;

	if (access(TRACEFS "events/bwarb/enable", W_OK))
		SKIP(return, "no tracefs at " TRACEFS);
	ASSERT_EQ(0, trace_write("trace", ""));
	ASSERT_EQ(0, trace_write("events/bwarb/enable", "1"));
	fd = dev_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, do_register(fd, "traced", 7, 20));
	ASSERT_EQ(0, do_acquire(fd, 1000, 1000000000ULL, 0, &a));
	id = a.grant_id;
	ASSERT_EQ(0, do_complete(fd, id, 800));
	/* Drain the period, then a non-blocking acquire fails. */
	do {
		ret = do_acquire(fd, 50000, 0, BWARB_ACQUIRE_NONBLOCK, &a);
		if (!ret)
			ASSERT_EQ(0, do_complete(fd, a.grant_id, 50000));
	} while (!ret);
	ASSERT_EQ(-EAGAIN, ret);
	close(fd);
	usleep(5000);	/* a few boundaries */
	ASSERT_EQ(0, trace_write("events/bwarb/enable", "0"));
	t = trace_read();
	ASSERT_NE(NULL, t);
	EXPECT_NE(NULL, strstr(t, "bwarb_register: client="));
	EXPECT_NE(NULL, strstr(t, "class=0 weight=7 reserve_mbps=20 burst_bytes=1000000 ret=0"));
	snprintf(want, sizeof(want), "grant_id=%llu bytes=1000 wait_ns=", (unsigned long long)id);
	EXPECT_NE(NULL, strstr(t, want));
	snprintf(want, sizeof(want), "grant_id=%llu granted=1000 actual=800", (unsigned long long)id);
	EXPECT_NE(NULL, strstr(t, want));
	EXPECT_NE(NULL, strstr(t, "bwarb_acquire_fail: client="));
	EXPECT_NE(NULL, strstr(t, "bytes=50000 wait_ns="));
	EXPECT_NE(NULL, strstr(t, "ret=-11"));
	EXPECT_NE(NULL, strstr(t, "bwarb_period: period="));
	free(t);
	trace_write("trace", "");
}

/* Runs build/bwarbctl with args; returns its exit status, output in out. */
static int bwarbctl(char *out, size_t len, const char *args)
{
	char cmd[256];
	size_t n = 0;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "build/bwarbctl %s 2>&1", args);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (n + 1 < len && fgets(out + n, len - n, p))
		n += strlen(out + n);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST_F(bwarb, bwarbctl_status_and_set)
{
	char out[4096];
	int status;
	pid_t pid;

	if (access("build/bwarbctl", X_OK))
		SKIP(return, "build/bwarbctl not built");
	ASSERT_EQ(0, bwarbctl(out, sizeof(out), "status"));
	EXPECT_NE(NULL, strstr(out, "period_us          1000 us\n"));
	EXPECT_NE(NULL, strstr(out, "capacity_mbps      100 MB/s\n"));
	EXPECT_NE(NULL, strstr(out, "guaranteed_mbps    50 MB/s\n"));
	EXPECT_NE(NULL, strstr(out, "nr_clients         0\n"));
	EXPECT_NE(NULL, strstr(out, "granted_bytes      "));
	EXPECT_NE(NULL, strstr(out, " bytes ("));

	EXPECT_EQ(0, bwarbctl(out, sizeof(out), "set period_us 700"));
	EXPECT_EQ(700, knob_get("period_us"));
	EXPECT_EQ(1, bwarbctl(out, sizeof(out), "set period_us 5"));
	EXPECT_NE(NULL, strstr(out, "out of range")) TH_LOG("%s", out);
	EXPECT_EQ(2, bwarbctl(out, sizeof(out), "set period_us 5ms"));
	EXPECT_EQ(2, bwarbctl(out, sizeof(out), "set nosuch 5"));
	EXPECT_EQ(2, bwarbctl(out, sizeof(out), "frobnicate"));
	EXPECT_EQ(700, knob_get("period_us"));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(10);
		_exit(bwarbctl(out, sizeof(out), "set period_us 900") == 1 &&
		      strstr(out, "permission denied") ? 0 : 11);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(700, knob_get("period_us"));
}

/* Module load and unload, by system call (no kmod tools needed). */
static const char *ko_path(void)
{
	const char *p = getenv("BWARB_KO");

	return p && *p ? p : "bwarb.ko";
}

static int unload(void)
{
	return syscall(SYS_delete_module, "bwarb", O_NONBLOCK) ? -errno : 0;
}

static int load_with(const char *params)
{
	int fd = open(ko_path(), O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	return ret;
}

static int load(void)
{
	return load_with("");
}

#define ABI_DOC "docs/ABI/testing/sysfs-kernel-bwarb"

/* Whether a "What:" line of the ABI file (kernel format) names SYSFS file. */
static int abi_doc_has_what(const char *doc, const char *file)
{
	size_t n = strlen(SYSFS), m = strlen(file);
	const char *p;

	for (p = strstr(doc, "\nWhat:"); p; p = strstr(p + 1, "\nWhat:")) {
		const char *q = p + 6;

		q += strspn(q, " \t");
		if (!strncmp(q, SYSFS, n) && !strncmp(q + n, file, m) && q[n + m] == '\n')
			return 1;
	}
	return 0;
}

/*
 * Every file the module creates in /sys/kernel/bwarb (knobs, totals and
 * the counters' figures) has its own entry in the ABI document.
 */
TEST(abi_doc_covers_every_sysfs_file)
{
	static char doc[65536];
	struct dirent *de;
	int fd, n, files = 0;
	ssize_t len;
	DIR *d;

	fd = open(ABI_DOC, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", ABI_DOC, strerror(errno));
	len = read(fd, doc, sizeof(doc) - 1);
	close(fd);
	ASSERT_LT(0, len);
	ASSERT_GT((ssize_t)sizeof(doc) - 1, len);
	doc[len] = '\0';
	d = opendir(SYSFS);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		files++;
		n = abi_doc_has_what(doc, de->d_name);
		EXPECT_TRUE(n) TH_LOG("%s%s has no entry in %s", SYSFS,
				      de->d_name, ABI_DOC);
	}
	closedir(d);
	/* 9 knobs and totals, 10 counters files at least. */
	EXPECT_LE(19, files);
}

TEST(rmmod_refused_while_client_open)
{
	struct stat sb;
	int fd = dev_open(), ret;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, do_register(fd, "pin", 1, 0));
	ret = unload();
	EXPECT_TRUE(ret == -EWOULDBLOCK || ret == -EBUSY) TH_LOG("unload: %d", ret);
	EXPECT_EQ(0, stat(BWARB_DEVICE_PATH, &sb));
	close(fd);
	ASSERT_EQ(0, unload());
	EXPECT_NE(0, stat(BWARB_DEVICE_PATH, &sb));
	EXPECT_NE(0, stat(SYSFS "period_us", &sb));
	ASSERT_EQ(0, load()) TH_LOG("cannot load %s", ko_path());
	EXPECT_EQ(0, stat(BWARB_DEVICE_PATH, &sb));
}

TEST(load_unload_20_cycles_with_clients)
{
	struct bwarb_acquire a;
	int i, fd;

	for (i = 0; i < 20; i++) {
		ASSERT_EQ(0, unload()) TH_LOG("cycle %d", i);
		ASSERT_EQ(0, load()) TH_LOG("cycle %d: cannot load %s", i, ko_path());
		fd = dev_open();
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, do_register(fd, "cycle", 1, 0));
		ASSERT_EQ(0, do_acquire(fd, 1000, 1000000000ULL, 0, &a));
		/* Half the cycles close with the grant outstanding. */
		if (i % 2)
			ASSERT_EQ(0, do_complete(fd, a.grant_id, 1000));
		close(fd);
		ASSERT_EQ(0, knob_get("nr_clients"));
	}
}

TEST(max_clients_cap_gives_emfile)
{
	int fd[3], i;

	ASSERT_EQ(0, unload());
	ASSERT_EQ(0, load_with("max_clients=2"));
	for (i = 0; i < 3; i++) {
		fd[i] = dev_open();
		ASSERT_LE(0, fd[i]);
	}
	EXPECT_EQ(0, do_register(fd[0], "one", 1, 0));
	EXPECT_EQ(0, do_register(fd[1], "two", 1, 0));
	EXPECT_EQ(-EMFILE, do_register(fd[2], "three", 1, 0));
	EXPECT_EQ(2, knob_get("nr_clients"));
	close(fd[0]);
	EXPECT_EQ(0, do_register(fd[2], "three", 1, 0));
	close(fd[1]);
	close(fd[2]);
	ASSERT_EQ(0, unload());
	ASSERT_EQ(0, load());
}

TEST_HARNESS_MAIN
