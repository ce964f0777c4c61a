/* SPDX-License-Identifier: MIT */
/*
 * The driver's entry points as the Level Zero loader sees them: the 46
 * "Get*ProcAddrTable" functions. The loader refuses a driver that lacks
 * any of them, so all are exported. The ze tables hold what swgpu
 * implements, and in every other slot a function answering
 * ZE_RESULT_ERROR_UNSUPPORTED_FEATURE (unsupported.c); the zet (tools) and
 * zes (sysman) tables stay empty, which the loader reports as unsupported.
 */
#include <string.h>

#include <level_zero/zet_ddi.h>
#include <level_zero/zes_ddi.h>

#include "swgpu.h"

static ze_result_t check_version(ze_api_version_t version, const void *table)
{
	if (!table)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	if (ZE_MAJOR_VERSION(version) != ZE_MAJOR_VERSION(ZE_API_VERSION_CURRENT))
		return ZE_RESULT_ERROR_UNSUPPORTED_VERSION;
	return ZE_RESULT_SUCCESS;
}

/* A ze table: swgpu's functions, the rest unsupported. */
#define FILLED(prefix, Name, type, fill, unsupported)				\
ZE_DLLEXPORT ze_result_t ZE_APICALL						\
prefix##Get##Name##ProcAddrTable(ze_api_version_t version, type *t)		\
{										\
	ze_result_t r = check_version(version, t);				\
										\
	if (r != ZE_RESULT_SUCCESS)						\
		return r;							\
	memset(t, 0, sizeof(*t));						\
	fill(t);								\
	unsupported(t);								\
	return ZE_RESULT_SUCCESS;						\
}

/* Tables of which swgpu implements nothing (images, samplers, virtual
 * and physical memory). */
static void fill_none(void *t)
{
	(void)t;
}

/* A table swgpu leaves empty: every entry NULL. */
#define EMPTY(prefix, Name, type)						\
ZE_DLLEXPORT ze_result_t ZE_APICALL						\
prefix##Get##Name##ProcAddrTable(ze_api_version_t version, type *t)		\
{										\
	ze_result_t r = check_version(version, t);				\
										\
	if (r == ZE_RESULT_SUCCESS)						\
		memset(t, 0, sizeof(*t));					\
	return r;								\
}

FILLED(ze, Global, ze_global_dditable_t, sw_fill_global, sw_fill_unsupported_global)
FILLED(ze, Driver, ze_driver_dditable_t, sw_fill_driver, sw_fill_unsupported_driver)
FILLED(ze, Device, ze_device_dditable_t, sw_fill_device, sw_fill_unsupported_device)
FILLED(ze, Context, ze_context_dditable_t, sw_fill_context, sw_fill_unsupported_context)
FILLED(ze, CommandQueue, ze_command_queue_dditable_t, sw_fill_command_queue, sw_fill_unsupported_command_queue)
FILLED(ze, CommandList, ze_command_list_dditable_t, sw_fill_command_list, sw_fill_unsupported_command_list)
FILLED(ze, Event, ze_event_dditable_t, sw_fill_event, sw_fill_unsupported_event)
FILLED(ze, EventPool, ze_event_pool_dditable_t, sw_fill_event_pool, sw_fill_unsupported_event_pool)
FILLED(ze, Fence, ze_fence_dditable_t, sw_fill_fence, sw_fill_unsupported_fence)
FILLED(ze, Image, ze_image_dditable_t, fill_none, sw_fill_unsupported_image)
FILLED(ze, Kernel, ze_kernel_dditable_t, sw_fill_kernel, sw_fill_unsupported_kernel)
FILLED(ze, Mem, ze_mem_dditable_t, sw_fill_mem, sw_fill_unsupported_mem)
FILLED(ze, Module, ze_module_dditable_t, sw_fill_module, sw_fill_unsupported_module)
FILLED(ze, ModuleBuildLog, ze_module_build_log_dditable_t, sw_fill_build_log, sw_fill_unsupported_module_build_log)
FILLED(ze, PhysicalMem, ze_physical_mem_dditable_t, fill_none, sw_fill_unsupported_physical_mem)
FILLED(ze, Sampler, ze_sampler_dditable_t, fill_none, sw_fill_unsupported_sampler)
FILLED(ze, VirtualMem, ze_virtual_mem_dditable_t, fill_none, sw_fill_unsupported_virtual_mem)

EMPTY(zet, CommandList, zet_command_list_dditable_t)
EMPTY(zet, Context, zet_context_dditable_t)
EMPTY(zet, Debug, zet_debug_dditable_t)
EMPTY(zet, Device, zet_device_dditable_t)
EMPTY(zet, Kernel, zet_kernel_dditable_t)
EMPTY(zet, Metric, zet_metric_dditable_t)
EMPTY(zet, MetricGroup, zet_metric_group_dditable_t)
EMPTY(zet, MetricQuery, zet_metric_query_dditable_t)
EMPTY(zet, MetricQueryPool, zet_metric_query_pool_dditable_t)
EMPTY(zet, MetricStreamer, zet_metric_streamer_dditable_t)
EMPTY(zet, Module, zet_module_dditable_t)
EMPTY(zet, TracerExp, zet_tracer_exp_dditable_t)

EMPTY(zes, Device, zes_device_dditable_t)
EMPTY(zes, Diagnostics, zes_diagnostics_dditable_t)
EMPTY(zes, Driver, zes_driver_dditable_t)
EMPTY(zes, Engine, zes_engine_dditable_t)
EMPTY(zes, FabricPort, zes_fabric_port_dditable_t)
EMPTY(zes, Fan, zes_fan_dditable_t)
EMPTY(zes, Firmware, zes_firmware_dditable_t)
EMPTY(zes, Frequency, zes_frequency_dditable_t)
EMPTY(zes, Led, zes_led_dditable_t)
EMPTY(zes, Memory, zes_memory_dditable_t)
EMPTY(zes, PerformanceFactor, zes_performance_factor_dditable_t)
EMPTY(zes, Power, zes_power_dditable_t)
EMPTY(zes, Psu, zes_psu_dditable_t)
EMPTY(zes, Ras, zes_ras_dditable_t)
EMPTY(zes, Scheduler, zes_scheduler_dditable_t)
EMPTY(zes, Standby, zes_standby_dditable_t)
EMPTY(zes, Temperature, zes_temperature_dditable_t)
