// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * bwarbctl status: every one-line figure in the module's sysfs directory,
 * with its unit (taken from the attribute's name: _us, _mbps, _bytes).
 * The module's own figures come first in a fixed order; attributes other
 * parts add (the counters source...) follow in name order.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bwarbctl.h"

static const char *const status_first[] = {
	"period_us", "capacity_mbps", "guaranteed_mbps", "nr_clients",
	"granted_bytes", "completed_bytes",
};

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

static void print_attr(const char *name, const char *value)
{
	char *end;
	double v = strtod(value, &end);

	if (end == value || *end) {		/* not a number: as is */
		printf("  %-18s %s\n", name, value);
	} else if (ends_with(name, "_us")) {
		printf("  %-18s %s us\n", name, value);
	} else if (ends_with(name, "_mbps")) {
		printf("  %-18s %s MB/s\n", name, value);
	} else if (ends_with(name, "_bytes")) {
		printf("  %-18s %s bytes (%.1f MB)\n", name, value, v / 1e6);
	} else {
		printf("  %-18s %s\n", name, value);
	}
}

static int is_first(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(status_first) / sizeof(status_first[0]); i++)
		if (!strcmp(status_first[i], name))
			return 1;
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int cmd_status(int argc, char **argv)
{
	struct dirent **ents;
	char value[256];
	size_t i;
	int n, k, ret;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "bwarbctl status: takes no arguments\n");
		return 2;
	}
	if (bwarbctl_require_module())
		return 1;
	printf("bwarb (%s)\n", bwarbctl_sysfs_dir());
	for (i = 0; i < sizeof(status_first) / sizeof(status_first[0]); i++) {
		ret = bwarbctl_sysfs_read(status_first[i], value, sizeof(value));
		if (ret) {
			fprintf(stderr, "bwarbctl: %s/%s: %s\n", bwarbctl_sysfs_dir(),
				status_first[i], strerror(-ret));
			return 1;
		}
		print_attr(status_first[i], value);
	}
	n = scandir(bwarbctl_sysfs_dir(), &ents, NULL, by_name);
	if (n < 0) {
		fprintf(stderr, "bwarbctl: %s: %s\n", bwarbctl_sysfs_dir(), strerror(errno));
		return 1;
	}
	for (k = 0; k < n; k++) {
		const char *name = ents[k]->d_name;

		/* Extra one-line attributes only: no subdirectory, no table. */
		if (name[0] != '.' && !is_first(name) &&
		    ents[k]->d_type != DT_DIR &&
		    !bwarbctl_sysfs_read(name, value, sizeof(value)) &&
		    !strchr(value, '\n'))
			print_attr(name, value);
		free(ents[k]);
	}
	free(ents);
	return 0;
}

BWARBCTL_COMMAND(status, "the arbiter's figures and knobs, with units", cmd_status)
