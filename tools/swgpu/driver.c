/* SPDX-License-Identifier: MIT */
/*
 * Driver, device and context: the one PoCL device, set up once by the
 * first zeInit (the loader calls zeInit several times), shown to Level
 * Zero as one integrated GPU whose name says it is a software test device.
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#include "swgpu.h"

struct _ze_driver_handle_t sw_driver = { SW_MAGIC_DRIVER };
struct _ze_device_handle_t sw_device = { SW_MAGIC_DEVICE };

static struct sw_platform plat;
static pthread_once_t plat_once = PTHREAD_ONCE_INIT;
static ze_result_t plat_result = ZE_RESULT_ERROR_UNINITIALIZED;

ze_result_t sw_cl_result(cl_int err)
{
	switch (err) {
	case CL_SUCCESS:
		return ZE_RESULT_SUCCESS;
	case CL_OUT_OF_HOST_MEMORY:
		return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
	case CL_OUT_OF_RESOURCES:
	case CL_MEM_OBJECT_ALLOCATION_FAILURE:
		return ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY;
	case CL_INVALID_WORK_GROUP_SIZE:
	case CL_INVALID_WORK_ITEM_SIZE:
		return ZE_RESULT_ERROR_INVALID_GROUP_SIZE_DIMENSION;
	case CL_INVALID_KERNEL_ARGS:
		return ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_INDEX;
	case CL_INVALID_ARG_SIZE:
		return ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_SIZE;
	case CL_INVALID_ARG_INDEX:
		return ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_INDEX;
	case CL_INVALID_KERNEL_NAME:
		return ZE_RESULT_ERROR_INVALID_KERNEL_NAME;
	case CL_BUILD_PROGRAM_FAILURE:
	case CL_INVALID_BINARY:
		return ZE_RESULT_ERROR_MODULE_BUILD_FAILURE;
	case CL_DEVICE_NOT_AVAILABLE:
	case CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST:
		return ZE_RESULT_ERROR_DEVICE_LOST;
	default:
		return ZE_RESULT_ERROR_UNKNOWN;
	}
}

/* Picks the first OpenCL platform with a device that takes SPIR and
 * fine-grained SVM (PoCL's CPU device does). */
static void plat_init(void)
{
	cl_platform_id ids[8];
	cl_uint n = 0;
	cl_int err;

	if (clGetPlatformIDs(8, ids, &n) != CL_SUCCESS || n == 0)
		return;
	for (cl_uint i = 0; i < n && i < 8; i++) {
		cl_device_id dev;
		cl_device_svm_capabilities svm = 0;
		char ext[4096] = "";

		if (clGetDeviceIDs(ids[i], CL_DEVICE_TYPE_ALL, 1, &dev, NULL) != CL_SUCCESS)
			continue;
		clGetDeviceInfo(dev, CL_DEVICE_EXTENSIONS, sizeof(ext) - 1, ext, NULL);
		clGetDeviceInfo(dev, CL_DEVICE_SVM_CAPABILITIES, sizeof(svm), &svm, NULL);
		if (!strstr(ext, "cl_khr_spir") || !(svm & CL_DEVICE_SVM_FINE_GRAIN_BUFFER))
			continue;
		plat.context = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
		if (err != CL_SUCCESS)
			continue;
		plat.platform = ids[i];
		plat.device = dev;
		clGetDeviceInfo(dev, CL_DEVICE_NAME, sizeof(plat.device_name) - 1,
				plat.device_name, NULL);
		clGetDeviceInfo(dev, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof(plat.max_alloc),
				&plat.max_alloc, NULL);
		clGetDeviceInfo(dev, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof(plat.global_mem),
				&plat.global_mem, NULL);
		clGetDeviceInfo(dev, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof(plat.compute_units),
				&plat.compute_units, NULL);
		clGetDeviceInfo(dev, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof(plat.clock_mhz),
				&plat.clock_mhz, NULL);
		clGetDeviceInfo(dev, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof(plat.max_wg),
				&plat.max_wg, NULL);
		plat_result = ZE_RESULT_SUCCESS;
		return;
	}
}

const struct sw_platform *sw_platform_get(void)
{
	return plat_result == ZE_RESULT_SUCCESS ? &plat : NULL;
}

cl_command_queue sw_queue_create(ze_result_t *res)
{
	cl_queue_properties props[] = { CL_QUEUE_PROPERTIES, CL_QUEUE_PROFILING_ENABLE, 0 };
	cl_int err;
	cl_command_queue q;

	if (!sw_platform_get()) {
		*res = ZE_RESULT_ERROR_UNINITIALIZED;
		return NULL;
	}
	q = clCreateCommandQueueWithProperties(plat.context, plat.device, props, &err);
	*res = sw_cl_result(err);
	return q;
}

static ze_result_t ZE_APICALL sw_init(ze_init_flags_t flags)
{
	if (flags && !(flags & ZE_INIT_FLAG_GPU_ONLY))
		return ZE_RESULT_ERROR_UNINITIALIZED;	/* we only have a GPU */
	pthread_once(&plat_once, plat_init);
	return plat_result;
}

/* Level Zero's protocol for a list, here always of one item: with *count 0
 * or no array the caller only asks how many; true when it wants them. */
static bool list_of_one(uint32_t *count, const void *items)
{
	bool fill = *count != 0 && items;

	*count = 1;
	return fill;
}

static ze_result_t ZE_APICALL sw_driver_get(uint32_t *count, ze_driver_handle_t *drivers)
{
	if (!count)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	if (!sw_platform_get()) {
		*count = 0;
		return ZE_RESULT_ERROR_UNINITIALIZED;
	}
	if (list_of_one(count, drivers))
		drivers[0] = &sw_driver;
	return ZE_RESULT_SUCCESS;
}

static ze_result_t check_driver(ze_driver_handle_t d)
{
	if (!d)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	return d->magic == SW_MAGIC_DRIVER ? ZE_RESULT_SUCCESS : ZE_RESULT_ERROR_INVALID_ARGUMENT;
}

static ze_result_t check_device(ze_device_handle_t d)
{
	if (!d)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	return d->magic == SW_MAGIC_DEVICE ? ZE_RESULT_SUCCESS : ZE_RESULT_ERROR_INVALID_ARGUMENT;
}

/* What every device query checks first: the handle, and a place to write. */
static ze_result_t check_query(ze_device_handle_t d, const void *out)
{
	ze_result_t r = check_device(d);

	if (r == ZE_RESULT_SUCCESS && !out)
		r = ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	return r;
}

static ze_result_t ZE_APICALL sw_driver_api_version(ze_driver_handle_t d, ze_api_version_t *v)
{
	ze_result_t r = check_driver(d);

	if (r)
		return r;
	if (!v)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	*v = ZE_API_VERSION_CURRENT;
	return ZE_RESULT_SUCCESS;
}

static void fill_uuid(uint8_t *out, size_t n, const char *seed)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a: stable across runs */

	for (size_t i = 0; i < n; i++) {
		for (const char *s = seed; *s; s++)
			h = (h ^ (unsigned char)*s) * 1099511628211ull;
		h = (h ^ i) * 1099511628211ull;
		out[i] = (uint8_t)(h >> 32);
	}
}

static ze_result_t ZE_APICALL sw_driver_properties(ze_driver_handle_t d, ze_driver_properties_t *p)
{
	ze_result_t r = check_driver(d);

	if (r)
		return r;
	if (!p)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	fill_uuid(p->uuid.id, ZE_MAX_DRIVER_UUID_SIZE, "swgpu-driver");
	p->driverVersion = 1;
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_driver_ipc_properties(ze_driver_handle_t d,
						       ze_driver_ipc_properties_t *p)
{
	ze_result_t r = check_driver(d);

	if (r)
		return r;
	if (!p)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	p->flags = 0;	/* no IPC */
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_driver_ext_properties(ze_driver_handle_t d, uint32_t *count,
						       ze_driver_extension_properties_t *p)
{
	ze_result_t r = check_driver(d);

	(void)p;
	if (r)
		return r;
	if (!count)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	*count = 0;	/* no extensions */
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_driver_ext_function(ze_driver_handle_t d, const char *name,
						     void **fn)
{
	(void)d;
	(void)name;
	if (fn)
		*fn = NULL;
	return ZE_RESULT_ERROR_UNSUPPORTED_FEATURE;
}

void sw_fill_global(ze_global_dditable_t *t)
{
	t->pfnInit = sw_init;
}

void sw_fill_driver(ze_driver_dditable_t *t)
{
	t->pfnGet = sw_driver_get;
	t->pfnGetApiVersion = sw_driver_api_version;
	t->pfnGetProperties = sw_driver_properties;
	t->pfnGetIpcProperties = sw_driver_ipc_properties;
	t->pfnGetExtensionProperties = sw_driver_ext_properties;
	t->pfnGetExtensionFunctionAddress = sw_driver_ext_function;
}

/* ---- device ---- */

static ze_result_t ZE_APICALL sw_device_get(ze_driver_handle_t d, uint32_t *count,
					    ze_device_handle_t *devices)
{
	ze_result_t r = check_driver(d);

	if (r)
		return r;
	if (!count)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	if (list_of_one(count, devices))
		devices[0] = &sw_device;
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_device_sub_devices(ze_device_handle_t d, uint32_t *count,
						    ze_device_handle_t *subs)
{
	ze_result_t r = check_device(d);

	(void)subs;
	if (r)
		return r;
	if (!count)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	*count = 0;
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_device_properties(ze_device_handle_t d, ze_device_properties_t *p)
{
	ze_result_t r = check_query(d, p);

	if (r)
		return r;
	p->type = ZE_DEVICE_TYPE_GPU;
	p->vendorId = 0;	/* no PCI device behind it */
	p->deviceId = 0;
	p->flags = ZE_DEVICE_PROPERTY_FLAG_INTEGRATED;
	p->subdeviceId = 0;
	p->coreClockRate = plat.clock_mhz;
	p->maxMemAllocSize = plat.max_alloc;
	p->maxHardwareContexts = 1;
	p->maxCommandQueuePriority = 0;
	p->numThreadsPerEU = 1;
	p->physicalEUSimdWidth = 8;
	p->numEUsPerSubslice = plat.compute_units;
	p->numSubslicesPerSlice = 1;
	p->numSlices = 1;
	/* Timestamps are OpenCL profiling times: nanoseconds. */
	p->timerResolution = p->stype == ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES_1_2 ? 1000000000ull : 1;
	p->timestampValidBits = 64;
	p->kernelTimestampValidBits = 64;
	fill_uuid(p->uuid.id, ZE_MAX_DEVICE_UUID_SIZE, "swgpu-device");
	snprintf(p->name, sizeof(p->name), SW_DEVICE_NAME_PREFIX " %.160s)", plat.device_name);
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_device_compute(ze_device_handle_t d,
						ze_device_compute_properties_t *p)
{
	ze_result_t r = check_query(d, p);
	uint32_t wg = plat.max_wg > 1024 ? 1024 : (uint32_t)plat.max_wg;

	if (r)
		return r;
	p->maxTotalGroupSize = wg;
	p->maxGroupSizeX = wg;
	p->maxGroupSizeY = wg;
	p->maxGroupSizeZ = wg;
	p->maxGroupCountX = UINT32_MAX;
	p->maxGroupCountY = UINT32_MAX;
	p->maxGroupCountZ = UINT32_MAX;
	p->maxSharedLocalMemory = 64 * 1024;	/* what a real iGPU offers */
	p->numSubGroupSizes = 1;
	p->subGroupSizes[0] = 1;
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_device_module(ze_device_handle_t d,
					       ze_device_module_properties_t *p)
{
	ze_result_t r = check_query(d, p);

	if (r)
		return r;
	p->spirvVersionSupported = ZE_MAKE_VERSION(1, 4);
	p->flags = ZE_DEVICE_MODULE_FLAG_INT64_ATOMICS;
	p->fp16flags = 0;
	p->fp32flags = ZE_DEVICE_FP_FLAG_DENORM | ZE_DEVICE_FP_FLAG_INF_NAN |
		ZE_DEVICE_FP_FLAG_ROUND_TO_NEAREST | ZE_DEVICE_FP_FLAG_FMA;
	p->fp64flags = 0;
	p->maxArgumentsSize = 1024;
	p->printfBufferSize = 0;
	memset(&p->nativeKernelSupported, 0, sizeof(p->nativeKernelSupported));
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_device_queue_groups(ze_device_handle_t d, uint32_t *count,
						     ze_command_queue_group_properties_t *p)
{
	ze_result_t r = check_query(d, count);

	if (r)
		return r;
	if (!list_of_one(count, p))
		return ZE_RESULT_SUCCESS;
	p[0].flags = ZE_COMMAND_QUEUE_GROUP_PROPERTY_FLAG_COMPUTE |
		ZE_COMMAND_QUEUE_GROUP_PROPERTY_FLAG_COPY;
	p[0].maxMemoryFillPatternSize = 128;
	p[0].numQueues = 1;
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_device_memory(ze_device_handle_t d, uint32_t *count,
					       ze_device_memory_properties_t *p)
{
	ze_result_t r = check_query(d, count);

	if (r)
		return r;
	if (!list_of_one(count, p))
		return ZE_RESULT_SUCCESS;
	p[0].flags = 0;
	p[0].maxClockRate = 0;
	p[0].maxBusWidth = 0;
	p[0].totalSize = plat.global_mem;
	snprintf(p[0].name, sizeof(p[0].name), "host memory (shared with the CPU)");
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_device_memory_access(ze_device_handle_t d,
						      ze_device_memory_access_properties_t *p)
{
	ze_result_t r = check_query(d, p);
	ze_memory_access_cap_flags_t all = ZE_MEMORY_ACCESS_CAP_FLAG_RW |
		ZE_MEMORY_ACCESS_CAP_FLAG_ATOMIC | ZE_MEMORY_ACCESS_CAP_FLAG_CONCURRENT |
		ZE_MEMORY_ACCESS_CAP_FLAG_CONCURRENT_ATOMIC;

	if (r)
		return r;
	p->hostAllocCapabilities = all;
	p->deviceAllocCapabilities = all;
	p->sharedSingleDeviceAllocCapabilities = all;
	p->sharedCrossDeviceAllocCapabilities = 0;
	p->sharedSystemAllocCapabilities = 0;
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_device_status(ze_device_handle_t d)
{
	return check_device(d);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* PoCL's profiling clock is the host's CLOCK_MONOTONIC_RAW, so host and
 * device timestamps are one clock here. */
static ze_result_t ZE_APICALL sw_device_timestamps(ze_device_handle_t d, uint64_t *host,
						   uint64_t *dev)
{
	ze_result_t r = check_device(d);

	if (r)
		return r;
	if (!host || !dev)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	*host = now_ns();
	*dev = *host;
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_device_pci(ze_device_handle_t d, ze_pci_ext_properties_t *p)
{
	(void)d;
	(void)p;
	return ZE_RESULT_ERROR_UNSUPPORTED_FEATURE;	/* not a PCI device */
}

void sw_fill_device(ze_device_dditable_t *t)
{
	t->pfnGet = sw_device_get;
	t->pfnGetSubDevices = sw_device_sub_devices;
	t->pfnGetProperties = sw_device_properties;
	t->pfnGetComputeProperties = sw_device_compute;
	t->pfnGetModuleProperties = sw_device_module;
	t->pfnGetCommandQueueGroupProperties = sw_device_queue_groups;
	t->pfnGetMemoryProperties = sw_device_memory;
	t->pfnGetMemoryAccessProperties = sw_device_memory_access;
	t->pfnGetStatus = sw_device_status;
	t->pfnGetGlobalTimestamps = sw_device_timestamps;
	t->pfnPciGetPropertiesExt = sw_device_pci;
}

/* ---- context ---- */

static ze_result_t ZE_APICALL sw_context_create(ze_driver_handle_t d, const ze_context_desc_t *desc,
						ze_context_handle_t *out)
{
	ze_result_t r = check_driver(d);
	struct _ze_context_handle_t *c;

	if (r)
		return r;
	if (!desc || !out)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
	c->magic = SW_MAGIC_CONTEXT;
	*out = c;
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_context_destroy(ze_context_handle_t c)
{
	if (!c)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (c->magic != SW_MAGIC_CONTEXT)
		return ZE_RESULT_ERROR_INVALID_ARGUMENT;
	c->magic = 0;
	free(c);
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_context_status(ze_context_handle_t c)
{
	if (!c)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	return c->magic == SW_MAGIC_CONTEXT ? ZE_RESULT_SUCCESS : ZE_RESULT_ERROR_INVALID_ARGUMENT;
}

void sw_fill_context(ze_context_dditable_t *t)
{
	t->pfnCreate = sw_context_create;
	t->pfnDestroy = sw_context_destroy;
	t->pfnGetStatus = sw_context_status;
}
