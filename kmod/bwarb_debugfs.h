/* SPDX-License-Identifier: GPL-2.0 */
/*
 * /sys/kernel/debug/bwarb/clients: a table of every registered client.
 * Called by bwarb_counters.c, which sets up the statistics files.
 */
#ifndef BWARB_DEBUGFS_H
#define BWARB_DEBUGFS_H

struct bwarb_dev;

/* Creates the files under bd->debugfs; a missing debugfs is not an error. */
void bwarb_debugfs_init(struct bwarb_dev *bd);
void bwarb_debugfs_exit(struct bwarb_dev *bd);

#endif /* BWARB_DEBUGFS_H */
