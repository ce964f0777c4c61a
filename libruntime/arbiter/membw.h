/* SPDX-License-Identifier: MIT */
/*
 * DRAM bandwidth with every core (OpenMP): the roofline's denominator for
 * splitmoe bench. Read: every thread sums its share of one buffer; copy:
 * every thread copies its share of one half into the other (read + write
 * bytes counted). Best of `runs`, each pass timed from outside the
 * parallel region.
 */
#ifndef SPLITMOE_MEMBW_H
#define SPLITMOE_MEMBW_H

#include <stddef.h>
#include <stdint.h>

struct sm_membw {
	int threads;
	int runs;
	uint64_t bytes;		/* the buffer read (copy: half of it to the other half) */
	double read_gbs;	/* best read pass, 1e9 bytes/s */
	double copy_gbs;	/* best copy pass, bytes read + written per s */
};

/* The buffer size: 1 GiB, or 8 x cpu0's largest cache (sysfs) if more. */
uint64_t sm_membw_default_bytes(void);

/* 0, or -1 when the buffer cannot be allocated. */
int sm_membw_measure(uint64_t bytes, int runs, struct sm_membw *out);

#endif
