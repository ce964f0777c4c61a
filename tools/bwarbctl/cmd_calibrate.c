// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * bwarbctl calibrate [--apply] [--mb N] [--runs N]: measures the bus
 * (libruntime/arbiter/bwcal.h, the same code as the runtime's capacity_mbps: auto),
 * prints the figures and the proposed capacity_mbps and guaranteed_mbps,
 * and with --apply writes them to the module (root). docs/calibration.md.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bwarbctl.h"
#include "arbiter/bwcal.h"

static int parse_count(const char *flag, const char *v, long lo, long hi, long *out)
{
	char *end;
	long x;

	errno = 0;
	x = strtol(v, &end, 10);
	if (!*v || *end || errno || x < lo || x > hi) {
		fprintf(stderr, "bwarbctl calibrate: %s: '%s' is not a whole number in [%ld, %ld]\n",
			flag, v, lo, hi);
		return -1;
	}
	*out = x;
	return 0;
}

/* One knob, the module's error named. 0, or 1 (an exit status). */
static int write_knob(const char *knob, uint64_t v)
{
	char old[64] = "?", val[32];
	int ret;

	snprintf(val, sizeof(val), "%llu", (unsigned long long)v);
	ret = bwarbctl_sysfs_read(knob, old, sizeof(old));
	if (!ret)
		ret = bwarbctl_sysfs_write(knob, val);
	if (!ret) {
		printf("applied: %s %s -> %s MB/s\n", knob, old, val);
		return 0;
	}
	if (ret == -EINVAL)
		fprintf(stderr, "bwarbctl calibrate: %s: %s MB/s rejected by the module as out of range (kept %s)\n",
			knob, val, old);
	else if (ret == -EBUSY)
		fprintf(stderr, "bwarbctl calibrate: %s: %s MB/s is below the sum of current reservations (kept %s)\n",
			knob, val, old);
	else
		fprintf(stderr, "bwarbctl calibrate: %s/%s: %s\n", bwarbctl_sysfs_dir(), knob,
			strerror(-ret));
	return 1;
}

/* Writes both so that guaranteed <= capacity holds after each write. */
static int apply(const struct sm_bwcal *c)
{
	char cur[64];
	uint64_t old_g = 0;

	if (!bwarbctl_sysfs_read("guaranteed_mbps", cur, sizeof(cur)))
		old_g = strtoull(cur, NULL, 10);
	if (c->capacity_mbps >= old_g)
		return write_knob("capacity_mbps", c->capacity_mbps) ||
		       write_knob("guaranteed_mbps", c->guaranteed_mbps);
	return write_knob("guaranteed_mbps", c->guaranteed_mbps) ||
	       write_knob("capacity_mbps", c->capacity_mbps);
}

static int cmd_calibrate(int argc, char **argv)
{
	struct sm_bwcal c;
	uint64_t bytes = sm_membw_default_bytes();
	long runs = 3, mb;
	int do_apply = 0, i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--apply")) {
			do_apply = 1;
		} else if (!strcmp(argv[i], "--mb") && i + 1 < argc) {
			if (parse_count("--mb", argv[++i], 16, 1L << 20, &mb))
				return 2;
			bytes = (uint64_t)mb << 20;
		} else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
			if (parse_count("--runs", argv[++i], 1, 100, &runs))
				return 2;
		} else {
			fprintf(stderr, "usage: bwarbctl calibrate [--apply] [--mb N (buffer MiB)] [--runs N (3)]\n");
			return 2;
		}
	}
	/* the refusals first: nothing measured for nothing */
	if (do_apply) {
		if (bwarbctl_require_module())
			return 1;
		if (geteuid() != 0) {
			fprintf(stderr, "bwarbctl calibrate: --apply writes the module's capacity_mbps and guaranteed_mbps: root only (measure without --apply)\n");
			return 1;
		}
	}
	if (sm_bwcal_measure(bytes, (int)runs, &c)) {
		fprintf(stderr, "bwarbctl calibrate: cannot allocate the %.2f GB buffer\n", bytes / 1e9);
		return 1;
	}
	printf("calibrate: %d cores, %.2f GB buffer, best of %ld\n", c.all.threads,
	       c.all.bytes / 1e9, runs);
	printf("  read, every core:       %8.2f GB/s\n", c.all.read_gbs);
	printf("  copy, every core:       %8.2f GB/s (read + written)\n", c.all.copy_gbs);
	printf("  one core alone:         %8.2f GB/s read\n", c.solo_gbs);
	printf("  one core, %3d copying:  %8.2f GB/s read (r_min)\n", c.others, c.rmin_gbs);
	printf("  bus under contention:   %8.2f GB/s (reader + copiers)\n", c.contended_total_gbs);
	printf("proposed: capacity_mbps %llu MB/s, guaranteed_mbps %llu MB/s\n",
	       (unsigned long long)c.capacity_mbps, (unsigned long long)c.guaranteed_mbps);
	if (!do_apply)
		return 0;
	return apply(&c);
}

BWARBCTL_COMMAND(calibrate, "measure the bus; propose (--apply: set) capacity_mbps, guaranteed_mbps",
		 cmd_calibrate)
