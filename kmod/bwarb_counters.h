/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bwarb measured-traffic source: what the memory counters saw during each
 * period. The module core calls these; bwarb_counters.c implements them and
 * may add its own sysfs attributes to bd->kobj and debugfs files under
 * bd->debugfs (both exist before bwarb_counters_init() is called).
 *
 * Sources (sysfs 'source'): 'declared' (no counters: measured = what the
 * clients completed) and 'perf' (kernel perf counters that userspace
 * describes through sysfs 'counters'; bwarbctl discovers them). See
 * docs/ABI/testing/sysfs-kernel-bwarb.
 *
 * This is a contract with kmod/bwarb_main.c.
 */
#ifndef BWARB_COUNTERS_H
#define BWARB_COUNTERS_H

#include <linux/types.h>

struct bwarb_dev;

/* Called once at module load, after sysfs and debugfs are set up. */
int bwarb_counters_init(struct bwarb_dev *bd);

/* Called once at module unload, before sysfs and debugfs go away. */
void bwarb_counters_exit(struct bwarb_dev *bd);

/*
 * Bytes of DRAM traffic measured during the period that just ended, or
 * ARB_MEASURED_NONE when no counter source is active. Called from the
 * period hrtimer (hard-irq context) with bd->lock held: must not sleep.
 */
u64 bwarb_counters_period_bytes(struct bwarb_dev *bd);

#endif /* BWARB_COUNTERS_H */
