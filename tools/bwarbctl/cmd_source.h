/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * bwarbctl source: show or select the module's measured-traffic source.
 *
 *   bwarbctl source                       source, counters and figures
 *   bwarbctl source declared              no counters
 *   bwarbctl source perf [--pmu PATTERN] [--cpu N] [--dry-run]
 *   bwarbctl source pmus [--pmu PATTERN]  what discovery finds; changes nothing
 *
 * Environment (for tests): BWARB_SYSFS_DIR (default /sys/kernel/bwarb),
 * BWARB_PMU_ROOT (default /sys/bus/event_source/devices).
 */
#ifndef BWARBCTL_CMD_SOURCE_H
#define BWARBCTL_CMD_SOURCE_H

/* argv[0] is "source". Returns the process exit status. */
int cmd_source(int argc, char **argv);

#endif /* BWARBCTL_CMD_SOURCE_H */
