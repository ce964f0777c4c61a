/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The per-client table of `bwarbctl trace show` and `bwarbctl top`,
 * printed from snapshots of the tracer's pinned maps.
 */
#ifndef BWARBCTL_TRACE_TABLE_H
#define BWARBCTL_TRACE_TABLE_H

#include <stddef.h>
#include <stdio.h>

#include "bpf/trace_ctl.h"

/*
 * Prints one row per client of cur. prev (may be NULL) is the snapshot
 * taken secs seconds earlier, for the grants-per-second column.
 */
void trace_table_print(FILE *f, const struct bwarb_trace_client *cur,
		       size_t nr, const struct bwarb_trace_client *prev,
		       size_t nr_prev, double secs,
		       const struct bwarb_trace_totals *totals);

#endif /* BWARBCTL_TRACE_TABLE_H */
