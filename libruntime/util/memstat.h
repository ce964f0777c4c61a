/* SPDX-License-Identifier: MIT */
/*
 * Resident memory of this process, from /proc/self/status.
 */
#ifndef SPLITMOE_MEMSTAT_H
#define SPLITMOE_MEMSTAT_H

#include <stdint.h>

struct sm_memstat {
	uint64_t rss_bytes;		/* VmRSS: resident now */
	uint64_t hwm_bytes;		/* VmHWM: peak resident */
	uint64_t rss_file_bytes;	/* RssFile: of that, file-backed (mapped weights) */
	uint64_t rss_anon_bytes;	/* RssAnon: heap, packed weights, buffers */
};

/* 0, or -1 when /proc is unreadable (fields then 0). */
int sm_memstat_read(struct sm_memstat *m);

#endif /* SPLITMOE_MEMSTAT_H */
