// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * bwarbctl top: runs the eBPF sampler (bpf/sampler_ctl.c) on the
 * memory-controller counters that pmu_discovery.c finds, for as long as it
 * runs, and once a second prints the bandwidth the sampler measured over
 * that second and the tracer's per-client table (if `trace start` ran).
 *
 *   bwarbctl top [--count N | --once] [--pmu PATTERN] [--tick-ms MS]
 *                [--no-sampler] [-v]
 *
 * Environment: BWARB_PMU_ROOT (default /sys/bus/event_source/devices).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bwarbctl.h"
#include "bpf/sampler_ctl.h"
#include "bpf/trace_ctl.h"
#include "arbiter/pmu_discovery.h"
#include "trace_table.h"

#define TOP_MAX_COUNTERS BWARB_SAMPLER_MAX_COUNTERS

static volatile sig_atomic_t top_stop;

static void on_signal(int sig)
{
	(void)sig;
	top_stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bwarbctl top [--count N | --once] [--pmu PATTERN] [--tick-ms MS]\n"
		"                    [--no-sampler] [-v]\n"
		"  --count N      print N reports (one a second), then exit\n"
		"  --once         the same as --count 1\n"
		"  --pmu PATTERN  memory-controller PMUs to sample (fnmatch; default\n"
		"                 uncore_imc_free_running_*, then uncore_imc_[0-9]*)\n"
		"  --tick-ms MS   sampler timer period (default 100)\n"
		"  --no-sampler   only the tracer's table\n");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *pmu_root(void)
{
	const char *d = getenv("BWARB_PMU_ROOT");

	return d && *d ? d : PMU_SYSFS_ROOT;
}

/* Discovers the counters and starts the sampler on them. */
static int start_sampler(const char *pattern, unsigned int tick_ms,
			 struct bwarb_sampler **out, size_t *nr, int *cpu)
{
	struct pmu_counter pc[TOP_MAX_COUNTERS];
	struct bwarb_sampler_counter sc[TOP_MAX_COUNTERS];
	char err[PMU_ERR_MAX];
	size_t i, n = 0;
	int ret;

	ret = pmu_discover(pmu_root(), pattern, pc, TOP_MAX_COUNTERS, &n, err,
			   sizeof(err));
	if (ret) {
		/* The caller reports a default search that found nothing. */
		if (ret != -ENOENT || pattern)
			fprintf(stderr, "bwarbctl: top: %s\n", err);
		return ret;
	}
	for (i = 0; i < n; i++) {
		if (pc[i].config[1] || pc[i].config[2]) {
			fprintf(stderr, "bwarbctl: top: %s needs config1/config2, which the sampler does not set\n",
				pc[i].label);
			return -EINVAL;
		}
		memset(&sc[i], 0, sizeof(sc[i]));
		sc[i].type = pc[i].type;
		sc[i].config = pc[i].config[0];
		sc[i].cpu = pc[i].cpu;
		/* A data_total-only PMU is reported as reads. */
		sc[i].kind = pc[i].dir == PMU_DIR_WRITE ? BWARB_COUNTER_WRITE :
							  BWARB_COUNTER_READ;
		sc[i].bytes_per_count = (double)pc[i].scale_num /
					(double)pc[i].scale_den;
		snprintf(sc[i].name, sizeof(sc[i].name), "%.127s", pc[i].label);
	}
	ret = bwarb_sampler_start(out, sc, n, tick_ms, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "bwarbctl: top: %s\n", err);
		return ret;
	}
	*nr = n;
	*cpu = sc[0].cpu;
	return 0;
}

static void print_bandwidth(struct bwarb_sampler *s, size_t nr, int cpu)
{
	struct bwarb_bw_total t;
	__u64 ticks, errors;
	__s64 last;
	double secs;

	bwarb_sampler_take(s, &t);
	bwarb_sampler_diag(s, &ticks, &errors, &last);
	if (!t.samples || !t.dt_ns) {
		printf("DRAM: no sample this second (eBPF sampler: %llu ticks, %llu read errors, last %lld)\n",
		       (unsigned long long)ticks, (unsigned long long)errors,
		       (long long)last);
		return;
	}
	secs = (double)t.dt_ns / 1e9;
	printf("DRAM read %.1f MB/s, write %.1f MB/s (eBPF sampler: %llu ticks over %.1f ms, %zu counters on CPU %d, %llu read errors)\n",
	       (double)t.read_bytes / 1e6 / secs,
	       (double)t.write_bytes / 1e6 / secs,
	       (unsigned long long)t.samples, secs * 1e3, nr, cpu,
	       (unsigned long long)errors);
}

/* The module's own measurement, to set against the sampler's; nothing
 * when the module is not loaded (or predates the measured figures).
 */
static void print_module_figures(void)
{
	char src[32], rd[32], wr[32];

	if (bwarbctl_sysfs_read("source", src, sizeof(src)) ||
	    bwarbctl_sysfs_read("read_mbps_avg", rd, sizeof(rd)) ||
	    bwarbctl_sysfs_read("write_mbps_avg", wr, sizeof(wr)))
		return;
	printf("bwarb module (source %s): read %s MB/s, write %s MB/s (smoothed)\n",
	       src, rd, wr);
}

/* Prints the tracer's table; keeps the snapshot for the next rates. */
static void print_clients(struct bwarb_trace_client **prev, size_t *nr_prev,
			  double secs)
{
	struct bwarb_trace_client *cur = NULL;
	struct bwarb_trace_totals t;
	char err[256];
	size_t n;

	if (!bwarb_trace_started(BWARB_BPF_PIN_DIR)) {
		printf("clients: tracer not started (bwarbctl trace start)\n");
		return;
	}
	if (bwarb_trace_read(BWARB_BPF_PIN_DIR, &cur, &n, &t, err,
			     sizeof(err))) {
		printf("clients: %s\n", err);
		return;
	}
	trace_table_print(stdout, cur, n, *prev, *nr_prev, secs, &t);
	free(*prev);
	*prev = cur;
	*nr_prev = n;
}

static int cmd_top(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "once", no_argument, NULL, '1' },
		{ "pmu", required_argument, NULL, 'p' },
		{ "tick-ms", required_argument, NULL, 't' },
		{ "no-sampler", no_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bwarb_trace_client *prev = NULL;
	struct bwarb_sampler *s = NULL;
	const char *pattern = NULL;
	unsigned int tick_ms = 100;
	long count = -1, done = 0;
	bool sampler = true, verbose = false;
	size_t nr_counters = 0, nr_prev = 0;
	double t_prev, t_next, t;
	int opt, cpu = -1, ret = 0;
	struct sigaction sa;
	char *end;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "n:1p:t:Svh", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			errno = 0;
			count = strtol(optarg, &end, 10);
			if (errno || *end || count < 1) {
				fprintf(stderr, "bwarbctl: top: --count: '%s' is not a positive number\n",
					optarg);
				return 2;
			}
			break;
		case '1':
			count = 1;
			break;
		case 'p':
			pattern = optarg;
			break;
		case 't':
			errno = 0;
			tick_ms = (unsigned int)strtoul(optarg, &end, 10);
			if (errno || *end || tick_ms < 1 || tick_ms > 1000) {
				fprintf(stderr, "bwarbctl: top: --tick-ms: '%s' is not in 1..1000\n",
					optarg);
				return 2;
			}
			break;
		case 'S':
			sampler = false;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bwarbctl: top: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	bwarb_bpf_set_verbose(verbose);
	if (sampler) {
		ret = start_sampler(pattern, tick_ms, &s, &nr_counters, &cpu);
		/* No memory-controller PMU here (most VMs): the client
		 * table is still worth showing, unless a PMU was asked for.
		 */
		if (ret == -ENOENT && !pattern)
			printf("DRAM: no memory-controller PMU found, sampler off\n");
		else if (ret)
			return 1;
		ret = 0;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	t_prev = now_s();
	t_next = t_prev + 1.0;
	while (!top_stop && (count < 0 || done < count)) {
		t = now_s();
		if (t < t_next) {
			int ms = (int)((t_next - t) * 1e3) + 1;

			if (s) {
				ret = bwarb_sampler_poll(s, ms);
				if (ret) {
					fprintf(stderr, "bwarbctl: top: reading the sampler's ring buffer: %s\n",
						strerror(-ret));
					break;
				}
			} else {
				struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

				nanosleep(&ts, NULL);
			}
			continue;
		}
		printf("--- bwarbctl top, report %ld\n", done + 1);
		if (s)
			print_bandwidth(s, nr_counters, cpu);
		print_module_figures();
		print_clients(&prev, &nr_prev, t - t_prev);
		t_prev = t;
		fflush(stdout);
		done++;
		t_next += 1.0;
		if (t_next < t)	/* fell behind (e.g. stopped): no burst */
			t_next = t + 1.0;
	}
	free(prev);
	bwarb_sampler_stop(s);
	return ret ? 1 : 0;
}

BWARBCTL_COMMAND(top, "live DRAM bandwidth (eBPF sampler) and per-client table", cmd_top)
