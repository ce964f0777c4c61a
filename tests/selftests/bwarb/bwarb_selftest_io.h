/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every bwarb selftest binary does to the module: read and write its
 * sysfs files, and issue the raw ioctls (no client library). Every
 * function returns 0 or -errno unless said otherwise.
 */
#ifndef BWARB_SELFTEST_IO_H
#define BWARB_SELFTEST_IO_H

#include <stddef.h>

#include "kmod/uapi/bwarb.h"

#define SYSFS		"/sys/kernel/bwarb/"
#define MB		1000000ULL

/* Any file: text in one write(2); up to len - 1 bytes, NUL-terminated. */
int sysfs_write(const char *path, const char *text);
int sysfs_read(const char *path, char *buf, size_t len);

/* Files of SYSFS by name; knob_get returns ~0ULL if unreadable. */
int knob_write(const char *name, const char *val);
int knob_set(const char *name, unsigned long long v);
unsigned long long knob_get(const char *name);
/* The three knobs, in an order that keeps guaranteed <= capacity. */
int knobs_set(unsigned long long period_us, unsigned long long cap,
	      unsigned long long guar);
/* Sleeps until the module has counted n more period boundaries. */
void wait_periods(unsigned long long n, unsigned int period_us);

/* /dev/bwarb: a file descriptor or -1 (errno set). */
int dev_open(void);
int xioctl(int fd, unsigned long cmd, void *arg);
/* A CPU-class client with a burst of burst_bytes (1 MB for do_register). */
int do_register_burst(int fd, const char *name, __u32 weight, __u64 reserve,
		      __u64 burst_bytes);
int do_register(int fd, const char *name, __u32 weight, __u64 reserve);
/* *out (if not NULL) gets the struct as the module left it. */
int do_acquire(int fd, __u64 bytes, __u64 timeout_ns, __u32 flags,
	       struct bwarb_acquire *out);
/* do_acquire for callers that only want the grant id (set on success). */
int acquire_id(int fd, __u64 bytes, __u64 timeout_ns, __u32 flags,
	       __u64 *grant_id);
int do_complete(int fd, __u64 grant_id, __u64 actual);
int do_query(int fd, struct bwarb_query *q);

#endif
