// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * bwarbctl set KNOB VALUE: writes one of the module's knobs (root only).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bwarbctl.h"

static const struct {
	const char *name;
	const char *unit;
} knobs[] = {
	{ "period_us", "us" },
	{ "capacity_mbps", "MB/s" },
	{ "guaranteed_mbps", "MB/s" },
};

#define NR_KNOBS (sizeof(knobs) / sizeof(knobs[0]))

static int is_decimal(const char *s)
{
	if (!*s || strlen(s) > 20)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static int cmd_set(int argc, char **argv)
{
	const char *knob, *value;
	char old[64];
	size_t i;
	int ret;

	if (argc != 3) {
		fprintf(stderr, "usage: bwarbctl set KNOB VALUE (knobs: period_us capacity_mbps guaranteed_mbps)\n");
		return 2;
	}
	knob = argv[1];
	value = argv[2];
	for (i = 0; i < NR_KNOBS; i++)
		if (!strcmp(knobs[i].name, knob))
			break;
	if (i == NR_KNOBS) {
		fprintf(stderr, "bwarbctl set: unknown knob '%s' (knobs: period_us capacity_mbps guaranteed_mbps)\n",
			knob);
		return 2;
	}
	if (!is_decimal(value)) {
		fprintf(stderr, "bwarbctl set: %s: '%s' is not a whole number of %s\n",
			knob, value, knobs[i].unit);
		return 2;
	}
	if (bwarbctl_require_module())
		return 1;
	ret = bwarbctl_sysfs_read(knob, old, sizeof(old));
	if (!ret)
		ret = bwarbctl_sysfs_write(knob, value);
	switch (ret) {
	case 0:
		printf("%s: %s -> %s %s\n", knob, old, value, knobs[i].unit);
		return 0;
	case -EACCES:
	case -EPERM:
		fprintf(stderr, "bwarbctl set: %s: permission denied (knobs are root's)\n", knob);
		break;
	case -EINVAL:
		fprintf(stderr, "bwarbctl set: %s: %s %s rejected by the module as out of range (kept %s)\n",
			knob, value, knobs[i].unit, old);
		break;
	case -EBUSY:
		fprintf(stderr, "bwarbctl set: %s: %s %s is below the sum of current reservations (kept %s)\n",
			knob, value, knobs[i].unit, old);
		break;
	default:
		fprintf(stderr, "bwarbctl set: %s/%s: %s\n", bwarbctl_sysfs_dir(), knob,
			strerror(-ret));
		break;
	}
	return 1;
}

BWARBCTL_COMMAND(set, "set a knob: period_us, capacity_mbps, guaranteed_mbps", cmd_set)
