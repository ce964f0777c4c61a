// SPDX-License-Identifier: GPL-2.0
/*
 * bwarb counters selftests, run in the VM with bwarb.ko and the test PMU
 * (bwarb_test_pmu.ko, nr_pmus controllers) loaded by test_pmu_run.sh:
 * bwarbctl discovers and programs the test PMU, a rate set on it shows in
 * sysfs within 2 periods with under 1% error, undeclared traffic shrinks
 * best-effort grants but not reservations, switching source loses no grant
 * and no client, bad counter attributes are rejected with a clear errno,
 * the debugfs clients table lists clients, and the test PMU cannot be
 * removed while bwarb counts with it.
 *
 * Tests run in order and share the module state; each sets what it needs.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmod/uapi/bwarb.h"
#include "bwarb_selftest_io.h"

#define TP_PARAMS	"/sys/module/bwarb_test_pmu/parameters/"
#define TP_PMU		"/sys/bus/event_source/devices/bwarb_test_imc_0/"
#define CLIENTS_TABLE	"/sys/kernel/debug/bwarb/clients"
#define TEST_PATTERN	"'bwarb_test_imc_*'"

static const char *bwarbctl(void)
{
	const char *p = getenv("BWARBCTL");

	return p && *p ? p : "build/bwarbctl";
}

static int putf(const char *path, unsigned long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", v);
	return sysfs_write(path, buf);
}

static long long get_ll(const char *path)
{
	char buf[64];

	if (sysfs_read(path, buf, sizeof(buf)))
		return -1;
	return strtoll(buf, NULL, 0);
}

static int nr_pmus(void)
{
	return (int)get_ll(TP_PARAMS "nr_pmus");
}

static void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sh(const char *fmt, const char *arg)
{
	char cmd[512];
	int st;

	snprintf(cmd, sizeof(cmd), fmt, bwarbctl(), arg);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void set_rates(unsigned int read_mbps, unsigned int write_mbps)
{
	putf(TP_PARAMS "read_mbps", read_mbps);
	putf(TP_PARAMS "write_mbps", write_mbps);
}

static void set_arbiter(unsigned int period_us, unsigned int cap,
			unsigned int guaranteed)
{
	/* Order matters: guaranteed must stay <= capacity at every step. */
	putf(SYSFS "guaranteed_mbps", 0);
	putf(SYSFS "capacity_mbps", cap);
	putf(SYSFS "guaranteed_mbps", guaranteed);
	putf(SYSFS "period_us", period_us);
}

/*
 * Lets the arbiter's unattributed estimate of earlier tests decay to 0
 * (short periods make it quick), then sets the arbiter up.
 */
static void fresh_arbiter(unsigned int period_us, unsigned int cap,
			  unsigned int guaranteed)
{
	int i;

	set_rates(0, 0);
	set_arbiter(1000, cap, guaranteed);
	for (i = 0; i < 500 && get_ll(SYSFS "unattributed_mbps") > 0; i++)
		msleep(10);
	set_arbiter(period_us, cap, guaranteed);
}

static int program_test_pmu(void)
{
	return sh("%s source perf --pmu %s >/dev/null", TEST_PATTERN);
}

static int within(long long got, long long want, double tol)
{
	if (want == 0)
		return got == 0;
	return got >= want * (1 - tol) && got <= want * (1 + tol);
}

/* Clients through the uapi. */
static int client_open(const char *name, unsigned int weight,
		       unsigned long long reserve_mbps)
{
	struct bwarb_register r = {
		.size = sizeof(r),
		.class = BWARB_CLASS_OTHER,
		.weight = weight,
		.reserve_mbps = reserve_mbps,
		.burst_bytes = 32 << 20,
	};
	int fd = open(BWARB_DEVICE_PATH, O_RDWR);

	if (fd < 0)
		return -errno;
	snprintf(r.name, sizeof(r.name), "%s", name);
	if (ioctl(fd, BWARB_IOC_REGISTER, &r)) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

TEST(bwarbctl_discovers_and_programs_test_pmu)
{
	char buf[4096], want[64], *line;
	int n = 0, reads = 0, writes = 0, cpu;

	ASSERT_EQ(0, sh("%s source pmus --pmu %s", TEST_PATTERN));
	ASSERT_EQ(0, sh("%s source perf --pmu %s", TEST_PATTERN));
	ASSERT_EQ(0, sysfs_read(SYSFS "source", buf, sizeof(buf)));
	ASSERT_STREQ("perf\n", buf);

	cpu = (int)get_ll(TP_PMU "cpumask");
	ASSERT_EQ(0, sysfs_read(SYSFS "counters", buf, sizeof(buf)));
	snprintf(want, sizeof(want), "type=%lld ", get_ll(TP_PMU "type"));
	ASSERT_NE(NULL, strstr(buf, want));
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char c[16];

		n++;
		snprintf(c, sizeof(c), "cpu=%d ", cpu);
		EXPECT_NE(NULL, strstr(line, c));
		EXPECT_NE(NULL, strstr(line, "scale=64/1"));
		if (!strncmp(line, "read ", 5) && strstr(line, "config=0x20ff "))
			reads++;
		if (!strncmp(line, "write ", 6) && strstr(line, "config=0x30ff "))
			writes++;
	}
	EXPECT_EQ(2 * nr_pmus(), n);
	EXPECT_EQ(nr_pmus(), reads);
	EXPECT_EQ(nr_pmus(), writes);
	/* The status view runs and prints units. */
	EXPECT_EQ(0, sh("%s source | grep -q 'read_mbps .* MB/s'%s", ""));
	EXPECT_EQ(0, sh("%s source | grep -Eq '^samples +[0-9]+$'%s", ""));
}

/* How far a sysfs counter of the module moved since its value at *from. */
struct progress {
	const char *name;	/* under SYSFS: periods, samples */
	long long from, moved;
};

/*
 * Waits until read_mbps and write_mbps are within 1% of r and w (at most
 * 40 periods); returns the periods it took in wall time, or -1. Each of
 * the n counters in pr gets how far it moved by then: it is read before
 * the figures, so it never understates.
 */
static double settle_count(long long r, long long w, unsigned int period_ms,
			   struct progress *pr, unsigned int n)
{
	double t0 = now_s(), t;
	char path[128];
	unsigned int i;

	do {
		for (i = 0; i < n; i++) {
			snprintf(path, sizeof(path), SYSFS "%s", pr[i].name);
			pr[i].moved = get_ll(path) - pr[i].from;
		}
		if (within(get_ll(SYSFS "read_mbps"), r, 0.01) &&
		    within(get_ll(SYSFS "write_mbps"), w, 0.01))
			return (now_s() - t0) * 1000 / period_ms;
		msleep(1);
		t = now_s() - t0;
	} while (t < 40 * period_ms / 1000.0);
	return -1;
}

static double settle(long long r, long long w, unsigned int period_ms)
{
	return settle_count(r, w, period_ms, NULL, 0);
}

/*
 * Waits for n more samples published, polling every millisecond for at
 * most 40 periods; 0, or -1 if they did not come.
 */
static int wait_samples(long long n, unsigned int period_ms)
{
	long long s0 = get_ll(SYSFS "samples");
	double t0 = now_s();

	while (s0 >= 0 && get_ll(SYSFS "samples") < s0 + n) {
		if (now_s() - t0 > 40 * period_ms / 1000.0)
			return -1;
		msleep(1);
	}
	return s0 >= 0 ? 0 : -1;
}

/*
 * Per controller rates r and w: sysfs shows nr_pmus * r and nr_pmus * w
 * with under 1% error by the second sample the module publishes after the
 * change, counted by its own sample counter (the first one may span the
 * change; the second covers only the new rate), and the smoothed values
 * follow. A period whose counter reads were too slow to place in time
 * publishes no sample (sysfs samples), which happens on the debug kernel
 * under emulation, so the periods it took (wall time, and boundaries) are
 * figures, not bounds.
 */
TEST(rate_shows_in_sysfs_within_one_percent)
{
	static const unsigned int rates[][2] = {
		{ 1500, 500 }, { 50, 20000 }, { 0, 700 }, { 30000, 0 },
		{ 4000, 1000 },
	};
	const unsigned int period_ms = 100;
	long long errs0 = get_ll(SYSFS "sample_errors");
	int k = nr_pmus();
	struct progress pr[2] = { { .name = "samples" }, { .name = "periods" } };
	double worst = 0;
	unsigned int i;

	set_arbiter(period_ms * 1000, 120000, 80000);
	ASSERT_EQ(0, program_test_pmu());
	/* Newly programmed counters are primed by the first sample. */
	ASSERT_EQ(0, wait_samples(2, period_ms));
	for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		long long r = (long long)rates[i][0] * k;
		long long w = (long long)rates[i][1] * k;
		double periods;

		/*
		 * Set the rates just after a sample was published, so that
		 * the next one (a period later) reads the counters after
		 * the rates took effect (on the debug kernel the two sysfs
		 * writes take milliseconds).
		 */
		ASSERT_EQ(0, wait_samples(1, period_ms));
		pr[0].from = get_ll(SYSFS "samples");
		pr[1].from = get_ll(SYSFS "periods");
		set_rates(rates[i][0], rates[i][1]);
		periods = settle_count(r, w, period_ms, pr, 2);
		TH_LOG("FIGURE set %lld+%lld MB/s: read_mbps %lld write_mbps %lld measured_mbps %lld after %.2f periods (%lld samples, %lld boundaries)",
		       r, w, get_ll(SYSFS "read_mbps"),
		       get_ll(SYSFS "write_mbps"),
		       get_ll(SYSFS "measured_mbps"), periods, pr[0].moved,
		       pr[1].moved);
		EXPECT_LE(0, periods);
		EXPECT_LE(pr[0].moved, 2);
		EXPECT_TRUE(within(get_ll(SYSFS "measured_mbps"), r + w, 0.01));
		if (periods > worst)
			worst = periods;
	}
	TH_LOG("FIGURE slowest change to show within 1%%: %.2f periods of %u ms",
	       worst, period_ms);

	/* The smoothed values follow: 60 periods are 8 time constants. */
	msleep(60 * period_ms);
	EXPECT_TRUE(within(get_ll(SYSFS "read_mbps_avg"), 4000LL * k, 0.01));
	EXPECT_TRUE(within(get_ll(SYSFS "write_mbps_avg"), 1000LL * k, 0.01));
	EXPECT_TRUE(within(get_ll(SYSFS "measured_mbps_avg"), 5000LL * k, 0.01));
	EXPECT_EQ(errs0, get_ll(SYSFS "sample_errors"));
	set_rates(0, 0);
}

struct load {
	int fd;
	double seconds;
	unsigned long long chunk, bytes;
	int err;
};

/* Acquires and completes chunks for the given time; counts the bytes. */
static void *load_fn(void *arg)
{
	struct load *l = arg;
	double end = now_s() + l->seconds;
	unsigned long long id = 0;
	int ret = 0;

	l->bytes = 0;
	while (now_s() < end) {
		ret = acquire_id(l->fd, l->chunk, 400000000ULL, 0, &id);
		if (ret == -ETIMEDOUT)
			continue;
		if (ret) {
			l->err = ret;
			break;
		}
		ret = do_complete(l->fd, id, l->chunk);
		if (ret) {
			l->err = ret;
			break;
		}
		l->bytes += l->chunk;
	}
	return NULL;
}

static void run_pair(struct load *a, struct load *b, double *ra, double *rb)
{
	pthread_t ta, tb;

	pthread_create(&ta, NULL, load_fn, a);
	pthread_create(&tb, NULL, load_fn, b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	*ra = a->bytes / a->seconds / 1e6;
	*rb = b->bytes / b->seconds / 1e6;
}

/*
 * A reserved client (100 MB/s) and a best-effort one share 400 MB/s (small
 * enough for the client loops to use under TCG). Test PMU traffic above
 * what they complete (1000 MB/s per controller) is unattributed: the
 * best-effort client loses most of its share, the reserved one keeps its
 * reservation.
 */
TEST(undeclared_load_shrinks_best_effort_not_reservations)
{
	/*
	 * One chunk per 200 ms period is the 100 MB/s reservation (the core
	 * funds a reservation up to the pending request); few ioctls per
	 * second and long periods, so that a busy host runs the loops in time.
	 */
	struct load a = { .seconds = 3.0, .chunk = 20000000 };
	struct load b = { .seconds = 3.0, .chunk = 5000000 };
	double a0, b0, a1, b1;
	long long un0, un1;

	ASSERT_EQ(0, program_test_pmu());
	fresh_arbiter(200000, 400, 300);
	a.fd = client_open("reserved", 1, 100);
	ASSERT_LE(0, a.fd);
	b.fd = client_open("besteffort", 1, 0);
	ASSERT_LE(0, b.fd);

	msleep(400);
	run_pair(&a, &b, &a0, &b0);
	un0 = get_ll(SYSFS "unattributed_mbps");

	set_rates(1000, 0);
	msleep(2400);		/* 12 periods: the EMA settles */
	run_pair(&a, &b, &a1, &b1);
	un1 = get_ll(SYSFS "unattributed_mbps");
	set_rates(0, 0);

	TH_LOG("FIGURE no load: reserved %.0f MB/s, best-effort %.0f MB/s, unattributed %lld MB/s",
	       a0, b0, un0);
	TH_LOG("FIGURE %d x 1000 MB/s undeclared: reserved %.0f MB/s, best-effort %.0f MB/s, unattributed %lld MB/s",
	       nr_pmus(), a1, b1, un1);
	EXPECT_EQ(0, a.err);
	EXPECT_EQ(0, b.err);
	EXPECT_GT(b0, 20);		/* the shared part is really used */
	EXPECT_LT(un0, 20);
	EXPECT_GT(un1, 200);
	EXPECT_LT(b1, b0 / 2);
	/*
	 * The reservation, or what the loop managed before the load; a loaded
	 * host delays wake-ups, hence the margin (the loss is the client's, a
	 * shrunk reservation would show as 0 MB/s like the best effort).
	 */
	EXPECT_GT(a1, 0.75 * (a0 < 100 ? a0 : 100));
	close(a.fd);
	close(b.fd);
}

/* Acquires and completes in the background while the test samples sysfs. */
static void *load_bg(void *arg)
{
	return load_fn(arg);
}

/*
 * Under 'declared' the measured traffic is what clients complete: the
 * figures follow the client, nothing is unattributed, directions are 0,
 * and test PMU traffic is ignored.
 */
TEST(declared_source_measures_completed_traffic)
{
	struct load a = { .seconds = 2.0, .chunk = 1000000 };
	long long m = 0, un = 0, rd = 0;
	pthread_t t;
	double rate;
	int i;

	ASSERT_EQ(0, sysfs_write(SYSFS "source", "declared"));
	fresh_arbiter(20000, 100, 80);
	set_rates(5000, 5000);
	a.fd = client_open("declared", 1, 50);
	ASSERT_LE(0, a.fd);
	pthread_create(&t, NULL, load_bg, &a);
	/*
	 * The smoothed figure's mean over 25 periods: one read of it carries
	 * the jitter of the guest's ticks (3 MB completed in a tick that came
	 * early reads as 150+ MB/s for that period).
	 */
	msleep(1000);
	for (i = 0; i < 10; i++) {
		m += get_ll(SYSFS "measured_mbps_avg");
		msleep(50);
	}
	m /= 10;
	un = get_ll(SYSFS "unattributed_mbps");
	rd = get_ll(SYSFS "read_mbps") + get_ll(SYSFS "write_mbps");
	pthread_join(t, NULL);
	rate = a.bytes / a.seconds / 1e6;
	TH_LOG("FIGURE declared: client %.0f MB/s, measured_mbps_avg (mean of 10) %lld, unattributed %lld",
	       rate, m, un);
	EXPECT_EQ(0, a.err);
	EXPECT_GT(rate, 10);
	/*
	 * The capacity (100 MB/s) bounds both; the EMA lags a little. The
	 * timer funds exactly the elapsed time, so the client runs at the
	 * capacity and a period may see one 1 MB completion more than its
	 * 2 MB share (funded in the one before): 50 MB/s more for a period,
	 * of which the EMA (weight 1/8) takes 6.25.
	 */
	EXPECT_GT(m, rate / 2);
	EXPECT_LE(m, 100 + (long long)(a.chunk / 0.020 / 1e6 / 8) + 1);
	EXPECT_EQ(0, un);
	EXPECT_EQ(0, rd);
	close(a.fd);
	set_rates(0, 0);
	set_arbiter(1000, 120000, 80000);
}

struct blocked {
	int fd;
	unsigned long long bytes, id;
	int ret, done;
};

static void *blocked_fn(void *arg)
{
	struct blocked *w = arg;

	/*
	 * The main thread runs bwarbctl (system(), which blocks SIGCHLD in
	 * that thread only): its children's SIGCHLD may wake this wait, and
	 * the module restarts the call rather than fail it with -EINTR.
	 */
	w->ret = acquire_id(w->fd, w->bytes, 0, 0, &w->id);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * With long periods, a client holds a grant and another waits in ACQUIRE
 * while the source flips between perf and declared: the held grant still
 * completes, the waiter is granted at a later period, no client is lost.
 */
TEST(switching_source_loses_no_grant_and_no_client)
{
	struct blocked w = { .bytes = 8 << 20 };
	unsigned long long held = 0, id = 0;
	long long clients;
	char table[8192];
	pthread_t t;
	int holder, i, ret;

	ASSERT_EQ(0, program_test_pmu());
	fresh_arbiter(400000, 100, 80);	/* 40 MB per 400 ms period */
	holder = client_open("holder", 1, 0);
	ASSERT_LE(0, holder);
	w.fd = client_open("waiter", 1, 0);
	ASSERT_LE(0, w.fd);
	clients = get_ll(SYSFS "nr_clients");

	ASSERT_EQ(0, acquire_id(holder, 1 << 20, 1000000000ULL, 0, &held));
	/* Drain what the waiter could get at once. */
	for (i = 0; i < 200; i++) {
		ret = acquire_id(w.fd, 1 << 20, 0, BWARB_ACQUIRE_NONBLOCK, &id);
		if (ret)
			break;
		ASSERT_EQ(0, do_complete(w.fd, id, 1 << 20));
	}
	ASSERT_EQ(-EAGAIN, ret);

	pthread_create(&t, NULL, blocked_fn, &w);
	msleep(20);
	EXPECT_EQ(0, __atomic_load_n(&w.done, __ATOMIC_ACQUIRE));
	for (i = 0; i < 6; i++) {
		EXPECT_EQ(0, sysfs_write(SYSFS "source", i % 2 ? "perf" : "declared"));
		msleep(5);
	}
	EXPECT_EQ(0, sh("%s source declared >/dev/null%s", ""));
	EXPECT_EQ(0, program_test_pmu());
	EXPECT_EQ(clients, get_ll(SYSFS "nr_clients"));

	pthread_join(t, NULL);
	EXPECT_EQ(1, w.done);
	EXPECT_EQ(0, w.ret);
	EXPECT_EQ(0, do_complete(w.fd, w.id, w.bytes));
	EXPECT_EQ(0, do_complete(holder, held, 1 << 20));
	EXPECT_EQ(clients, get_ll(SYSFS "nr_clients"));
	ASSERT_EQ(0, sysfs_read(CLIENTS_TABLE, table, sizeof(table)));
	EXPECT_NE(NULL, strstr(table, " holder "));
	EXPECT_NE(NULL, strstr(table, " waiter "));
	close(holder);
	close(w.fd);
	set_arbiter(1000, 120000, 80000);
}

TEST(bad_counter_attrs_rejected_with_clear_errno)
{
	char before[4096], after[4096], line[256];
	long long type = get_ll(TP_PMU "type");
	int cpu = (int)get_ll(TP_PMU "cpumask");
	int other = cpu == 0 ? 1 : 0;

	ASSERT_EQ(0, program_test_pmu());
	ASSERT_EQ(0, sysfs_read(SYSFS "counters", before, sizeof(before)));

	/* No PMU has this type. */
	EXPECT_EQ(-ENOENT, sysfs_write(SYSFS "counters",
			       "add read type=4000000 config=0x20ff cpu=0 scale=64/1"));
	/* A CPU outside the PMU's cpumask (needs a second CPU). */
	if (sysconf(_SC_NPROCESSORS_ONLN) > 1) {
		snprintf(line, sizeof(line),
			 "add read type=%lld config=0x20ff cpu=%d scale=64/1",
			 type, other);
		EXPECT_EQ(-EINVAL, sysfs_write(SYSFS "counters", line));
		/* bwarbctl checks the cpumask itself, naming the file. */
		snprintf(line, sizeof(line), "%d", other);
		EXPECT_EQ(0, sh("out=$(%s source perf --pmu 'bwarb_test_imc_*' --cpu %s 2>&1); [ $? = 1 ] && echo \"$out\" | grep -q 'not in the PMU.s cpumask'", line));
	} else {
		TH_LOG("one CPU: the outside-cpumask case is not exercised");
	}
	/* No such CPU, a generic perf type, an event the PMU does not have. */
	snprintf(line, sizeof(line),
		 "add read type=%lld config=0x20ff cpu=4096 scale=64/1", type);
	EXPECT_EQ(-EINVAL, sysfs_write(SYSFS "counters", line));
	EXPECT_EQ(-EINVAL, sysfs_write(SYSFS "counters",
			       "add read type=1 config=0 cpu=0 scale=64/1"));
	snprintf(line, sizeof(line),
		 "add read type=%lld config=0x99ff cpu=%d scale=64/1", type, cpu);
	EXPECT_EQ(-EINVAL, sysfs_write(SYSFS "counters", line));
	/* Malformed lines. */
	snprintf(line, sizeof(line),
		 "add read type=%lld config=0x20ff cpu=%d scale=64/0", type, cpu);
	EXPECT_EQ(-EINVAL, sysfs_write(SYSFS "counters", line));
	snprintf(line, sizeof(line), "add read type=%lld config=0x20ff cpu=%d",
		 type, cpu);
	EXPECT_EQ(-EINVAL, sysfs_write(SYSFS "counters", line));
	snprintf(line, sizeof(line),
		 "add sideways type=%lld config=0x20ff cpu=%d scale=64/1", type, cpu);
	EXPECT_EQ(-EINVAL, sysfs_write(SYSFS "counters", line));
	EXPECT_EQ(-EINVAL, sysfs_write(SYSFS "counters", "add read colour=blue"));
	EXPECT_EQ(-EINVAL, sysfs_write(SYSFS "counters", "remove everything"));
	/* Counters in use cannot be cleared; sources are validated. */
	EXPECT_EQ(-EBUSY, sysfs_write(SYSFS "counters", "clear"));
	EXPECT_EQ(-EINVAL, sysfs_write(SYSFS "source", "mchbar-of-doom"));
	/* The guest CPU is no Alder/Raptor/Meteor Lake: no MCHBAR counters. */
	EXPECT_EQ(-ENODEV, sysfs_write(SYSFS "source", "mchbar"));
	EXPECT_EQ(1, sh("%s source mchbar 2>/dev/null%s", ""));
	ASSERT_EQ(0, sysfs_read(SYSFS "counters", after, sizeof(after)));
	EXPECT_STREQ(before, after);

	EXPECT_EQ(0, sysfs_write(SYSFS "source", "declared"));
	EXPECT_EQ(0, sysfs_write(SYSFS "counters", "clear"));
	EXPECT_EQ(-ENODEV, sysfs_write(SYSFS "source", "perf"));
	EXPECT_EQ(0, sysfs_read(SYSFS "source", after, sizeof(after)));
	EXPECT_STREQ("declared\n", after);
	/* bwarbctl reports an absent PMU by name and changes nothing. */
	EXPECT_EQ(1, sh("%s source perf --pmu %s 2>/dev/null", "'no_such_pmu_*'"));
	EXPECT_EQ(0, sysfs_read(SYSFS "source", after, sizeof(after)));
	EXPECT_STREQ("declared\n", after);
}

TEST(non_root_cannot_change_source)
{
	pid_t pid = fork();
	int st;

	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(3);
		/* Mode 0644: the open fails before the store runs. */
		_exit(sysfs_write(SYSFS "source", "declared") == -EACCES ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
}

TEST(clients_table_lists_every_client)
{
	char table[8192], row[128];
	unsigned long long id = 0;
	int a, b;

	a = client_open("tbl-alpha", 7, 0);
	ASSERT_LE(0, a);
	b = client_open("tbl-beta", 3, 25);
	ASSERT_LE(0, b);
	/* granted_bytes and completed_bytes are the client's own. */
	ASSERT_EQ(0, acquire_id(a, 1000, 1000000000ULL, 0, &id));
	ASSERT_EQ(0, do_complete(a, id, 800));
	ASSERT_EQ(0, sysfs_read(CLIENTS_TABLE, table, sizeof(table)));
	EXPECT_EQ(0, strncmp(table,
			     "id pid name class weight reserve_mbps granted_bytes completed_bytes waits max_wait_us\n",
			     strlen("id pid name class")));
	snprintf(row, sizeof(row), " %d tbl-alpha other 7 0 1000 800 ", getpid());
	EXPECT_NE(NULL, strstr(table, row));
	snprintf(row, sizeof(row), " %d tbl-beta other 3 25 0 0 0 0\n", getpid());
	EXPECT_NE(NULL, strstr(table, row));
	close(a);
	close(b);
	ASSERT_EQ(0, sysfs_read(CLIENTS_TABLE, table, sizeof(table)));
	EXPECT_EQ(NULL, strstr(table, "tbl-alpha"));
}

/*
 * Issue 11: a counter that jumps (by 2^60 lines: the bytes of its total no
 * longer fit in 64 bits) or goes back (a reset) is not traffic: the sample
 * is dropped, the counter primed again, and nothing overflows in the
 * sampling work (before: a divide error there). The rates come back.
 */
TEST(counter_jump_and_reset_are_not_traffic)
{
	int k = nr_pmus();
	long long errs0, p0;
	int i;

	fresh_arbiter(10000, 120000, 80000);
	ASSERT_EQ(0, program_test_pmu());
	set_rates(1000, 0);
	EXPECT_LE(0, settle(1000LL * k, 0, 10));
	errs0 = get_ll(SYSFS "sample_errors");
	ASSERT_EQ(0, putf(TP_PARAMS "offset_lines", 1ULL << 60));
	p0 = get_ll(SYSFS "periods");
	for (i = 0; i < 5000 && get_ll(SYSFS "periods") < p0 + 5; i++)
		msleep(2);
	EXPECT_LT(errs0, get_ll(SYSFS "sample_errors"));
	EXPECT_GE(10000000, get_ll(SYSFS "measured_mbps"));
	EXPECT_LE(0, settle(1000LL * k, 0, 10)) TH_LOG("no recovery after a jump");
	errs0 = get_ll(SYSFS "sample_errors");
	ASSERT_EQ(0, putf(TP_PARAMS "offset_lines", 0));
	p0 = get_ll(SYSFS "periods");
	for (i = 0; i < 5000 && get_ll(SYSFS "periods") < p0 + 5; i++)
		msleep(2);
	EXPECT_LT(errs0, get_ll(SYSFS "sample_errors"));
	EXPECT_LE(0, settle(1000LL * k, 0, 10)) TH_LOG("no recovery after a reset");
	set_rates(0, 0);
	sysfs_write(SYSFS "source", "declared");
}

/*
 * A read that stalls inside the PMU (its vCPU preempted) is not placed in
 * time by the midpoint of its timestamps: with every third read 600 us late
 * in 1 ms periods, a rate taken from it is up to 30% off (one such sample
 * moved the smoothed figure by 2%: a CI failure of the bpf suite). Every
 * sample published stays within the module's bound for reads it keeps
 * (1/16 of the interval: 6.25%), and the averages within 2%.
 */
TEST(slow_counter_reads_do_not_skew_the_rate)
{
	int k = nr_pmus();
	long long w, worst = 0, wavg = 0, ravg = 0, stale0;
	int i, n = 0;

	fresh_arbiter(1000, 120000, 80000);
	ASSERT_EQ(0, program_test_pmu());
	set_rates(1000, 1000);
	EXPECT_LE(0, settle(1000LL * k, 1000LL * k, 1));
	stale0 = get_ll(SYSFS "stale_events");
	ASSERT_EQ(0, putf(TP_PARAMS "slow_read_us", 600));
	ASSERT_EQ(0, putf(TP_PARAMS "slow_read_every", 3));
	for (i = 0; i < 400; i++) {
		msleep(1);
		w = get_ll(SYSFS "write_mbps");
		if (w == 0)
			continue;	/* none published yet */
		n++;
		if (llabs(w - 1000LL * k) > worst)
			worst = llabs(w - 1000LL * k);
	}
	/*
	 * The averages as published, read like the samples above: on a slow
	 * kernel (the debug kernel under TCG, where a read's slack of 1/64
	 * of its interval rejects many) complete samples can come further
	 * apart than BWARB_STALE_PERIODS, and a stale source publishes 0
	 * until its next sample.
	 */
	for (i = 0; i < 400 && !(wavg && ravg); i++) {
		wavg = get_ll(SYSFS "write_mbps_avg");
		ravg = get_ll(SYSFS "read_mbps_avg");
		if (!(wavg && ravg))
			msleep(1);
	}
	TH_LOG("FIGURE slow reads: %d samples seen, worst write_mbps error %lld of %lld MB/s, averages write %lld read %lld MB/s, %lld stale events",
	       n, worst, 1000LL * k, wavg, ravg, get_ll(SYSFS "stale_events") - stale0);
	EXPECT_LT(0, n);
	EXPECT_GE(1000LL * k / 16, worst);
	EXPECT_TRUE(within(wavg, 1000LL * k, 0.02));
	EXPECT_TRUE(within(ravg, 1000LL * k, 0.02));
	putf(TP_PARAMS "slow_read_every", 0);
	putf(TP_PARAMS "slow_read_us", 0);
	set_rates(0, 0);
	sysfs_write(SYSFS "source", "declared");
}

/*
 * Issue 11: once samples fail (here the PMU's CPU goes offline), the last
 * rate is not reused forever: after 8 periods the source is stale and
 * feeds no measurement. Last: the test PMU's events stay off afterwards.
 */
TEST(stale_samples_feed_no_measurement)
{
	char path[80];
	long long stale0, p0;
	int cpu, i;

	fresh_arbiter(10000, 120000, 80000);
	ASSERT_EQ(0, program_test_pmu());
	set_rates(1000, 1000);
	EXPECT_LE(0, settle(1000LL * nr_pmus(), 1000LL * nr_pmus(), 10));
	cpu = (int)get_ll(TP_PMU "cpumask");
	ASSERT_LT(0, cpu) TH_LOG("the test PMU sits on CPU 0, which cannot go offline");
	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	stale0 = get_ll(SYSFS "stale_events");
	ASSERT_EQ(0, sysfs_write(path, "0"));
	p0 = get_ll(SYSFS "periods");
	for (i = 0; i < 10000 && get_ll(SYSFS "periods") < p0 + 20; i++)
		msleep(2);
	EXPECT_EQ(0, get_ll(SYSFS "measured_mbps"));
	EXPECT_LT(stale0, get_ll(SYSFS "stale_events"));
	ASSERT_EQ(0, sysfs_write(path, "1"));
	set_rates(0, 0);
	sysfs_write(SYSFS "source", "declared");
}


/*
 * bwarb holds the test PMU's counters: rmmod is refused (the perf core
 * pins the PMU's module) and counting goes on; after 'declared' and
 * 'clear' the module goes away cleanly and 'perf' has nothing to use.
 */
TEST(removing_test_pmu_in_use_is_refused)
{
	long long errs;

	set_arbiter(20000, 120000, 80000);
	ASSERT_EQ(0, program_test_pmu());
	set_rates(1000, 0);
	errs = get_ll(SYSFS "sample_errors");
	EXPECT_NE(0, system("rmmod bwarb_test_pmu 2>/dev/null"));
	EXPECT_EQ(0, access(TP_PMU "type", F_OK));
	EXPECT_LE(0, settle(1000LL * nr_pmus(), 0, 20));
	EXPECT_EQ(errs, get_ll(SYSFS "sample_errors"));

	EXPECT_EQ(0, sh("%s source declared >/dev/null%s", ""));
	EXPECT_EQ(0, sysfs_write(SYSFS "counters", "clear"));
	EXPECT_EQ(0, system("rmmod bwarb_test_pmu"));
	EXPECT_NE(0, access(TP_PMU "type", F_OK));
	EXPECT_EQ(-ENODEV, sysfs_write(SYSFS "source", "perf"));
	EXPECT_EQ(1, sh("%s source perf --pmu %s 2>/dev/null", TEST_PATTERN));
	set_arbiter(1000, 120000, 80000);
}

/*
 * Unloading bwarb while it counts with perf releases the counters: the
 * test PMU can go right after. bwarb is loaded again for the runner.
 */
TEST(unloading_bwarb_with_perf_source_releases_counters)
{
	ASSERT_EQ(0, system("grep -q '^bwarb_test_pmu ' /proc/modules || insmod \"${TEST_PMU_KO:-build/bwarb_test_pmu.ko}\""));
	ASSERT_EQ(0, program_test_pmu());
	set_rates(500, 500);
	msleep(50);
	EXPECT_EQ(0, system("rmmod bwarb"));
	EXPECT_EQ(0, system("rmmod bwarb_test_pmu"));
	EXPECT_EQ(0, system("insmod \"${BWARB_KO:-bwarb.ko}\""));
	EXPECT_EQ(0, access(SYSFS "source", F_OK));
}

TEST_HARNESS_MAIN
