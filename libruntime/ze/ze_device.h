/* SPDX-License-Identifier: MIT */
/*
 * Level Zero plumbing shared by the backend: driver and device discovery,
 * a context with one immediate command list, and SPIR-V modules loaded
 * from the kernel directory with their build log on failure.
 */
#ifndef SPLITMOE_ZE_DEVICE_H
#define SPLITMOE_ZE_DEVICE_H

#include <stddef.h>
#include <level_zero/ze_api.h>

struct ze_dev {
	ze_driver_handle_t driver;
	ze_device_handle_t device;
	ze_context_handle_t ctx;
	ze_command_list_handle_t list;	/* immediate, in order */
	char name[256];
	char kernel_dir[4096];
};

/* zeInit and the device whose name contains want (NULL/"": the first
 * integrated GPU, else the first GPU). 0, or -ENODEV with one line. */
int ze_dev_open(struct ze_dev *d, const char *want, char *err, size_t errlen);
void ze_dev_close(struct ze_dev *d);

/* The kernel directory: explicit, $SPLITMOE_KERNEL_DIR, or next to the
 * executable. 0, or -ENOENT with one line. */
int ze_dev_find_kernels(struct ze_dev *d, const char *explicit_dir, char *err, size_t errlen);

/* <kernel_dir>/<name>.spv built for the device. 0; -ENOENT (file), -EIO
 * (build failed: the log's first lines in err). */
int ze_dev_module(struct ze_dev *d, const char *name, ze_module_handle_t *out,
		  char *err, size_t errlen);

/* "zeXxx failed: ZE_RESULT_... (0x...)" names for messages. */
const char *ze_result_name(ze_result_t r);

#endif /* SPLITMOE_ZE_DEVICE_H */
