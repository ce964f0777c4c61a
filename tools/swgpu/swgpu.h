/* SPDX-License-Identifier: MIT */
/*
 * swgpu: a software Level Zero driver. It reports one integrated GPU and
 * runs everything on PoCL (OpenCL on the host CPU): SPIR-V modules are
 * translated back to SPIR bitcode with llvm-spirv and built by PoCL; USM
 * allocations are fine-grained SVM; command lists become in-order OpenCL
 * queues; events are OpenCL user events completed by callbacks.
 *
 * It is a test device and a way to run the iGPU code path anywhere: it
 * says nothing about the speed of a real iGPU.
 *
 * Handles are pointers to the structs below; each starts with a magic
 * number so that a wrong or stale handle is refused rather than followed.
 */
#ifndef SPLITMOE_SWGPU_H
#define SPLITMOE_SWGPU_H

#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl.h>
#include <level_zero/ze_api.h>
#include <level_zero/ze_ddi.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SW_MAGIC_DRIVER 0x53574452u
#define SW_MAGIC_DEVICE 0x53574456u
#define SW_MAGIC_CONTEXT 0x53574358u
#define SW_MAGIC_MODULE 0x53574d44u
#define SW_MAGIC_BUILDLOG 0x5357424cu
#define SW_MAGIC_KERNEL 0x53574b4eu
#define SW_MAGIC_CMDLIST 0x5357434cu
#define SW_MAGIC_QUEUE 0x53575155u
#define SW_MAGIC_POOL 0x53575050u
#define SW_MAGIC_EVENT 0x53574556u
#define SW_MAGIC_FENCE 0x53574645u

#define SW_DEVICE_NAME_PREFIX "swgpu software test GPU (PoCL"

/* The process-wide OpenCL state, set up once by the first zeInit. */
struct sw_platform {
	cl_platform_id platform;
	cl_device_id device;
	cl_context context;
	char device_name[256];		/* the OpenCL device's name */
	cl_ulong max_alloc;
	cl_ulong global_mem;
	cl_uint compute_units;
	cl_uint clock_mhz;
	size_t max_wg;
};

struct _ze_driver_handle_t { uint32_t magic; };
struct _ze_device_handle_t { uint32_t magic; };

struct _ze_context_handle_t {
	uint32_t magic;
};

/* A completion that host threads can wait on with a timeout: armed on an
 * OpenCL event, completed by its CL_COMPLETE callback. */
struct sw_completion {
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* CLOCK_MONOTONIC */
	bool done;
	bool failed;			/* the command ended in an error */
};

struct _ze_event_pool_handle_t {
	uint32_t magic;
	uint32_t count;
	ze_event_pool_flags_t flags;
	pthread_mutex_t mu;		/* protects used[] */
	uint8_t *used;			/* index taken by a live event */
};

struct _ze_event_handle_t {
	uint32_t magic;
	struct _ze_event_pool_handle_t *pool;
	uint32_t index;
	/* Protected by done.mu: gate (the user event device-side waits use),
	 * pending, gen, the kernel timestamps and whether they are valid. */
	struct sw_completion done;
	cl_event gate;
	int pending;			/* commands attached, callback not yet run */
	uint64_t gen;			/* lives: bumped by each reset */
	bool has_ts;
	uint64_t ts_start, ts_end;
};

struct _ze_fence_handle_t {
	uint32_t magic;
	struct _ze_command_queue_handle_t *queue;
	struct sw_completion done;
	bool armed;			/* an execution is attached (done.mu) */
};

/* A kernel argument as last set: kept so that each append captures the
 * values of that moment (Level Zero semantics) and a recorded command
 * list can replay them. */
enum sw_arg_kind { SW_ARG_VALUE, SW_ARG_POINTER, SW_ARG_LOCAL };
#define SW_ARG_MAX_BYTES 128
struct sw_arg {
	enum sw_arg_kind kind;
	bool set;
	size_t size;
	unsigned char value[SW_ARG_MAX_BYTES];
};

struct _ze_module_handle_t {
	uint32_t magic;
	cl_program program;
};

struct _ze_module_build_log_handle_t {
	uint32_t magic;
	char *text;			/* NUL-terminated, never NULL */
};

struct _ze_kernel_handle_t {
	uint32_t magic;
	struct _ze_module_handle_t *module;
	char name[128];
	cl_kernel kernel;
	pthread_mutex_t mu;		/* serialises arg application + enqueue */
	uint32_t nargs;
	struct sw_arg *args;		/* [nargs] */
	uint32_t group[3];		/* zeKernelSetGroupSize, or the required size */
	size_t reqd[3];			/* 0s when the kernel has none */
};

enum sw_cmd_kind {
	SW_CMD_LAUNCH,
	SW_CMD_COPY,
	SW_CMD_FILL,
	SW_CMD_BARRIER,
	SW_CMD_SIGNAL,
	SW_CMD_WAIT,
	SW_CMD_TIMESTAMP,
};

/* One command of a regular (recorded) command list. */
struct sw_cmd {
	enum sw_cmd_kind kind;
	struct _ze_event_handle_t *signal;
	uint32_t nwait;
	struct _ze_event_handle_t **wait;
	/* SW_CMD_LAUNCH */
	struct _ze_kernel_handle_t *kernel;
	struct sw_arg *args;
	uint32_t group[3], count[3];
	/* SW_CMD_COPY, SW_CMD_FILL, SW_CMD_TIMESTAMP */
	void *dst;
	const void *src;
	size_t size;
	unsigned char pattern[128];
	size_t pattern_size;
};

struct _ze_command_list_handle_t {
	uint32_t magic;
	bool immediate;
	bool closed;
	cl_command_queue queue;		/* immediate lists only */
	struct sw_cmd *cmds;		/* regular lists: the recording */
	size_t ncmds, cap;
};

struct _ze_command_queue_handle_t {
	uint32_t magic;
	cl_command_queue queue;
};

extern struct _ze_driver_handle_t sw_driver;
extern struct _ze_device_handle_t sw_device;

/* driver.c */
const struct sw_platform *sw_platform_get(void);	/* NULL before zeInit */
ze_result_t sw_cl_result(cl_int err);
cl_command_queue sw_queue_create(ze_result_t *res);

/* event.c */
void sw_completion_init(struct sw_completion *c, bool done);
void sw_completion_destroy(struct sw_completion *c);
/* Wait up to timeout_ns (UINT64_MAX: forever): SUCCESS, NOT_READY,
 * or DEVICE_LOST when the command failed. */
ze_result_t sw_completion_wait(struct sw_completion *c, uint64_t timeout_ns);
/* Called once the command that signals ev has been enqueued as cmd:
 * completes ev (timestamps from cmd) when cmd finishes. */
ze_result_t sw_event_attach(struct _ze_event_handle_t *ev, cl_event cmd, bool timestamps);
/* The OpenCL events of wait[0..n): caller frees the array. */
ze_result_t sw_event_gates(uint32_t n, ze_event_handle_t *wait, cl_event **out);
ze_result_t sw_fence_attach(struct _ze_fence_handle_t *f, cl_event cmd);

/* module.c */
ze_result_t sw_kernel_apply_args(struct _ze_kernel_handle_t *k, const struct sw_arg *args);

/* cmdlist.c */
ze_result_t sw_cmd_enqueue(cl_command_queue q, const struct sw_cmd *c);

/* The DDI tables' contents, one function per file group. */
void sw_fill_global(ze_global_dditable_t *t);
void sw_fill_driver(ze_driver_dditable_t *t);
void sw_fill_device(ze_device_dditable_t *t);
void sw_fill_context(ze_context_dditable_t *t);
void sw_fill_mem(ze_mem_dditable_t *t);
void sw_fill_module(ze_module_dditable_t *t);
void sw_fill_build_log(ze_module_build_log_dditable_t *t);
void sw_fill_kernel(ze_kernel_dditable_t *t);
void sw_fill_command_list(ze_command_list_dditable_t *t);
void sw_fill_command_queue(ze_command_queue_dditable_t *t);
void sw_fill_event(ze_event_dditable_t *t);
void sw_fill_event_pool(ze_event_pool_dditable_t *t);
void sw_fill_fence(ze_fence_dditable_t *t);

/* unsupported.c (generated): the remaining slots of each ze table. */
void sw_fill_unsupported_global(ze_global_dditable_t *t);
void sw_fill_unsupported_driver(ze_driver_dditable_t *t);
void sw_fill_unsupported_device(ze_device_dditable_t *t);
void sw_fill_unsupported_context(ze_context_dditable_t *t);
void sw_fill_unsupported_command_queue(ze_command_queue_dditable_t *t);
void sw_fill_unsupported_command_list(ze_command_list_dditable_t *t);
void sw_fill_unsupported_image(ze_image_dditable_t *t);
void sw_fill_unsupported_fence(ze_fence_dditable_t *t);
void sw_fill_unsupported_event_pool(ze_event_pool_dditable_t *t);
void sw_fill_unsupported_event(ze_event_dditable_t *t);
void sw_fill_unsupported_module(ze_module_dditable_t *t);
void sw_fill_unsupported_module_build_log(ze_module_build_log_dditable_t *t);
void sw_fill_unsupported_kernel(ze_kernel_dditable_t *t);
void sw_fill_unsupported_sampler(ze_sampler_dditable_t *t);
void sw_fill_unsupported_physical_mem(ze_physical_mem_dditable_t *t);
void sw_fill_unsupported_mem(ze_mem_dditable_t *t);
void sw_fill_unsupported_virtual_mem(ze_virtual_mem_dditable_t *t);

#endif /* SPLITMOE_SWGPU_H */
