/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The bwarb tracer's lifetime from userspace: load, attach and pin it
 * under /sys/fs/bpf/bwarb (it then outlives the loading process), read
 * its pinned maps, and remove it. Used by `bwarbctl trace` and `top`.
 *
 * Functions return 0 or a negative errno and, on error, write one line
 * (no newline) naming what failed into err.
 */
#ifndef BWARB_TRACE_CTL_H
#define BWARB_TRACE_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "bpf/bwarb_bpf.h"

/* Pin-directory names of the tracer's maps. */
#define BWARB_TRACE_MAP_CLIENTS	"clients"
#define BWARB_TRACE_MAP_TOTALS	"totals"
/* A link is pinned as LINK_PREFIX + program name. */
#define BWARB_TRACE_LINK_PREFIX	"link_"

/* Loads, attaches and pins everything; -EEXIST if already started,
 * -ENOENT if the bwarb tracepoints do not exist (module not loaded).
 * Leaves nothing behind on failure.
 */
int bwarb_trace_start(const char *pin_dir, char *err, size_t errlen);

/* Unpins everything start pinned and removes pin_dir; the kernel then
 * detaches and frees the programs and maps. -ENOENT if not started.
 */
int bwarb_trace_stop(const char *pin_dir, char *err, size_t errlen);

/* True when pin_dir holds a started tracer. */
bool bwarb_trace_started(const char *pin_dir);

/* One client's entry, as read from the pinned "clients" map. */
struct bwarb_trace_client {
	__u32 id;
	struct bwarb_client_stats st;
};

/*
 * Reads the pinned maps: *clients (malloc'ed, sorted by id, free() it) and
 * *nr, and *totals.
 */
int bwarb_trace_read(const char *pin_dir, struct bwarb_trace_client **clients,
		     size_t *nr, struct bwarb_trace_totals *totals, char *err,
		     size_t errlen);

/* Upper bound (exclusive) of log2 bucket slot: 2^slot (slot 0: 1). */
__u64 bwarb_hist_upper(unsigned int slot);

/* The value below which fraction q (0..1) of the histogram's counts lie,
 * as a bucket upper bound; 0 for an empty histogram.
 */
__u64 bwarb_hist_quantile(const __u64 *hist, unsigned int slots, double q);

/* libbpf's messages (verifier log included) go to stderr only if verbose. */
void bwarb_bpf_set_verbose(bool verbose);

#endif /* BWARB_TRACE_CTL_H */
