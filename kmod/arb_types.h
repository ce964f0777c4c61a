/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Fixed-width types and errno values for the arbitration core, which is
 * compiled both into the bwarb module and into userspace (tests, simulator,
 * fuzzer, the runtime's in-process arbiter). Only this file differs between
 * the two worlds.
 */
#ifndef BWARB_ARB_TYPES_H
#define BWARB_ARB_TYPES_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/errno.h>
#include <linux/limits.h>
/* The C99 limits the core uses, under their kernel names. */
#ifndef UINT64_MAX
#define UINT64_MAX	U64_MAX
#endif
#ifndef INT64_MAX
#define INT64_MAX	S64_MAX
#endif
#ifndef UINT32_MAX
#define UINT32_MAX	U32_MAX
#endif
#else
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <errno.h>
/* The kernel's fixed-width names, which kernel style asks for. */
typedef __UINT64_TYPE__ u64;
typedef __INT64_TYPE__ s64;
typedef __UINT32_TYPE__ u32;
typedef __INT32_TYPE__ s32;
#endif

#endif /* BWARB_ARB_TYPES_H */
