/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ze_harness.h"

int zh_open(struct zh *z, const char *kernel_dir, char *err, size_t errlen)
{
	uint32_t n = 1;
	ze_result_t r;
	ze_context_desc_t cd = { ZE_STRUCTURE_TYPE_CONTEXT_DESC, NULL, 0 };
	ze_command_queue_desc_t qd = { ZE_STRUCTURE_TYPE_COMMAND_QUEUE_DESC, NULL, 0, 0, 0,
				       ZE_COMMAND_QUEUE_MODE_ASYNCHRONOUS,
				       ZE_COMMAND_QUEUE_PRIORITY_NORMAL };
	ze_event_pool_desc_t pd = { ZE_STRUCTURE_TYPE_EVENT_POOL_DESC, NULL,
				    ZE_EVENT_POOL_FLAG_HOST_VISIBLE |
				    ZE_EVENT_POOL_FLAG_KERNEL_TIMESTAMP, 16 };
	ze_event_desc_t ed = { ZE_STRUCTURE_TYPE_EVENT_DESC, NULL, 0, 0, ZE_EVENT_SCOPE_FLAG_HOST };

	memset(z, 0, sizeof(*z));
	snprintf(z->kernel_dir, sizeof(z->kernel_dir), "%s", kernel_dir);
	r = zeInit(ZE_INIT_FLAG_GPU_ONLY);
	if (r != ZE_RESULT_SUCCESS) {
		snprintf(err, errlen, "zeInit failed (0x%x): no Level Zero driver", r);
		return -1;
	}
	r = zeDriverGet(&n, &z->driver);
	if (r != ZE_RESULT_SUCCESS || n == 0) {
		snprintf(err, errlen, "no Level Zero driver (zeDriverGet 0x%x)", r);
		return -1;
	}
	n = 1;
	r = zeDeviceGet(z->driver, &n, &z->device);
	if (r != ZE_RESULT_SUCCESS || n == 0) {
		snprintf(err, errlen, "no Level Zero device (zeDeviceGet 0x%x)", r);
		return -1;
	}
	if (zeContextCreate(z->driver, &cd, &z->ctx) ||
	    zeCommandListCreateImmediate(z->ctx, z->device, &qd, &z->list) ||
	    zeEventPoolCreate(z->ctx, &pd, 1, &z->device, &z->pool) ||
	    zeEventCreate(z->pool, &ed, &z->ev)) {
		snprintf(err, errlen, "cannot create a context, command list or events");
		return -1;
	}
	return 0;
}

void zh_close(struct zh *z)
{
	if (z->ev)
		zeEventDestroy(z->ev);
	if (z->pool)
		zeEventPoolDestroy(z->pool);
	if (z->list)
		zeCommandListDestroy(z->list);
	if (z->ctx)
		zeContextDestroy(z->ctx);
}

void *zh_alloc(struct zh *z, size_t bytes)
{
	ze_device_mem_alloc_desc_t dd = { ZE_STRUCTURE_TYPE_DEVICE_MEM_ALLOC_DESC, NULL, 0, 0 };
	ze_host_mem_alloc_desc_t hd = { ZE_STRUCTURE_TYPE_HOST_MEM_ALLOC_DESC, NULL, 0 };
	void *p = NULL;

	if (zeMemAllocShared(z->ctx, &dd, &hd, bytes, 64, z->device, &p) != ZE_RESULT_SUCCESS) {
		fprintf(stderr, "zeMemAllocShared(%zu) failed\n", bytes);
		exit(1);
	}
	return p;
}

void zh_free(struct zh *z, void *p)
{
	if (p)
		zeMemFree(z->ctx, p);
}

ze_module_handle_t zh_module(struct zh *z, const char *name)
{
	char path[4200];
	FILE *f;
	long n;
	unsigned char *buf;
	ze_module_desc_t md = { ZE_STRUCTURE_TYPE_MODULE_DESC, NULL, ZE_MODULE_FORMAT_IL_SPIRV,
				0, NULL, "", NULL };
	ze_module_handle_t m = NULL;
	ze_module_build_log_handle_t log = NULL;
	ze_result_t r;

	snprintf(path, sizeof(path), "%s/%s.spv", z->kernel_dir, name);
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: cannot open\n", path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "%s: cannot read\n", path);
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	md.inputSize = (size_t)n;
	md.pInputModule = buf;
	r = zeModuleCreate(z->ctx, z->device, &md, &m, &log);
	if (r != ZE_RESULT_SUCCESS) {
		size_t ls = 0;
		char *text;

		zeModuleBuildLogGetString(log, &ls, NULL);
		text = malloc(ls + 1);
		if (text && zeModuleBuildLogGetString(log, &ls, text) == ZE_RESULT_SUCCESS)
			fprintf(stderr, "%s: build failed (0x%x):\n%s\n", path, r, text);
		free(text);
		m = NULL;
	}
	if (log)
		zeModuleBuildLogDestroy(log);
	free(buf);
	return m;
}

ze_kernel_handle_t zh_kernel(ze_module_handle_t m, const char *name)
{
	ze_kernel_desc_t kd = { ZE_STRUCTURE_TYPE_KERNEL_DESC, NULL, 0, name };
	ze_kernel_handle_t k = NULL;

	if (!m || zeKernelCreate(m, &kd, &k) != ZE_RESULT_SUCCESS) {
		fprintf(stderr, "kernel %s: cannot create\n", name);
		return NULL;
	}
	return k;
}

int zh_args(ze_kernel_handle_t k, int nargs, ...)
{
	va_list ap;
	int rc = 0;

	va_start(ap, nargs);
	for (int i = 0; i < nargs; i++) {
		size_t size = va_arg(ap, size_t);
		const void *v = va_arg(ap, const void *);
		ze_result_t r = zeKernelSetArgumentValue(k, (uint32_t)i, size, v);

		if (r != ZE_RESULT_SUCCESS) {
			fprintf(stderr, "argument %d: zeKernelSetArgumentValue 0x%x\n", i, r);
			rc = -1;
		}
	}
	va_end(ap);
	return rc;
}

int zh_launch(struct zh *z, ze_kernel_handle_t k, const uint32_t group[3],
	      const uint32_t count[3], uint64_t *kernel_ns)
{
	ze_group_count_t gc = { count[0], count[1], count[2] };
	ze_kernel_timestamp_result_t ts;
	ze_result_t r;

	if (!k)
		return -1;
	zeEventHostReset(z->ev);
	r = zeKernelSetGroupSize(k, group[0], group[1], group[2]);
	if (r == ZE_RESULT_SUCCESS)
		r = zeCommandListAppendLaunchKernel(z->list, k, &gc, z->ev, 0, NULL);
	if (r == ZE_RESULT_SUCCESS)
		r = zeEventHostSynchronize(z->ev, ZH_TIMEOUT_NS);
	if (r != ZE_RESULT_SUCCESS) {
		fprintf(stderr, "launch failed or timed out: 0x%x\n", r);
		return -1;
	}
	if (kernel_ns && zeEventQueryKernelTimestamp(z->ev, &ts) == ZE_RESULT_SUCCESS)
		*kernel_ns = ts.global.kernelEnd - ts.global.kernelStart;
	return 0;
}
