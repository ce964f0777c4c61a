// SPDX-License-Identifier: MIT
/*
 * bwsim: drives the arbitration core from a YAML scenario and checks the
 * contract. Usage: bwsim [--clients] [--progress] SCENARIO.yaml
 * Exit: 0 pass, 1 contract violation or missed expectation, 2 bad input.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "report.h"
#include "scenario.h"
#include "sim.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: bwsim [--clients] [--progress] [--all-violations] SCENARIO.yaml\n"
		"  --clients         one line per client (default when <= 64 clients)\n"
		"  --progress        progress lines on stderr\n"
		"  --all-violations  print every violation (default: 10 of each kind,\n"
		"                    then the count of each kind)\n");
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	int per_client = -1, progress = 0, all = 0, i, ret;
	struct bw_scenario sc;
	struct timespec t0, t1, c0, c1;
	char err[512];
	struct sim s;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--clients")) {
			per_client = 1;
		} else if (!strcmp(argv[i], "--progress")) {
			progress = 1;
		} else if (!strcmp(argv[i], "--all-violations")) {
			all = 1;
		} else if (argv[i][0] == '-' || path) {
			usage();
			return 2;
		} else {
			path = argv[i];
		}
	}
	if (!path) {
		usage();
		return 2;
	}
	if (scenario_load(path, &sc, err, sizeof(err))) {
		fprintf(stderr, "bwsim: %s\n", err);
		return 2;
	}
	if (per_client < 0)
		per_client = sc.nclients <= 64;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	if (sim_init(&s, &sc, all ? UINT64_MAX : 10)) {
		sim_free(&s);
		scenario_free(&sc);
		return 2;
	}
	sim_run(&s, progress);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	ret = report_print(&s, per_client);
	printf("simulated %u clients x %llu periods in %.2f s wall, %.2f s CPU\n",
	       s.n, (unsigned long long)sc.periods,
	       (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	       (double)(c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9);
	sim_free(&s);
	scenario_free(&sc);
	return ret ? 1 : 0;
}
