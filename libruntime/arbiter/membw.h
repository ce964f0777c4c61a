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

/* One thread's read of n words (whole groups of 8): eight independent
 * sums, so the loads never wait on adds; their xor, to be used. */
uint64_t sm_membw_read_words(const uint64_t *a, size_t n);

/* 0, or -1 when the buffer cannot be allocated. */
int sm_membw_measure(uint64_t bytes, int runs, struct sm_membw *out);

/*
 * measure(arg, out) run in a forked child, its outlen bytes of result
 * piped back into out: the child's buffer stays out of the caller's
 * memory and its threads out of the caller's OpenMP pool. Call before any
 * OpenMP region of this process (a forked libgomp pool does not work).
 * 0; -1 when pipe or fork failed (errno set); -2 when the measurement
 * failed (measure returned non-zero, or the child died).
 */
int sm_membw_in_child(int (*measure)(void *arg, void *out), void *arg, void *out,
		      size_t outlen);

#endif
