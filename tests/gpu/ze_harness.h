/* SPDX-License-Identifier: MIT */
/*
 * A small harness for the GPU suite: TAP output, one Level Zero device
 * (context, immediate command list, timestamp event pool), USM shared
 * buffers, kernels from build/kernels/NAME.spv, synchronous launches with
 * a timeout so that nothing can hang.
 */
#ifndef SPLITMOE_TESTS_ZE_HARNESS_H
#define SPLITMOE_TESTS_ZE_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <level_zero/ze_api.h>

struct zh {
	ze_driver_handle_t driver;
	ze_device_handle_t device;
	ze_context_handle_t ctx;
	ze_command_list_handle_t list;
	ze_event_pool_handle_t pool;
	ze_event_handle_t ev;		/* signalled by each zh_launch */
	char kernel_dir[4096];
};

#define ZH_TIMEOUT_NS (120ull * 1000000000ull)

#include "tap.h"

/* 0, or -1 with a message on stderr. */
int zh_open(struct zh *z, const char *kernel_dir, char *err, size_t errlen);
void zh_close(struct zh *z);
void *zh_alloc(struct zh *z, size_t bytes);
void zh_free(struct zh *z, void *p);
/* Module from <kernel_dir>/<name>.spv; NULL with the build log on stderr. */
ze_module_handle_t zh_module(struct zh *z, const char *name);
ze_kernel_handle_t zh_kernel(ze_module_handle_t m, const char *name);
/* Arguments as (size, pointer-to-value) pairs, nargs of them. */
int zh_args(ze_kernel_handle_t k, int nargs, ...);
/* Launch with the given group size and count; waits for completion. */
int zh_launch(struct zh *z, ze_kernel_handle_t k, const uint32_t group[3],
	      const uint32_t count[3], uint64_t *kernel_ns);

#define ZH_ARG(v) sizeof(v), (const void *)&(v)

#endif
