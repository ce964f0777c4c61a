/* SPDX-License-Identifier: MIT */
/*
 * Unified shared memory. Host, shared and device allocations are all
 * fine-grained OpenCL SVM: on PoCL's CPU device that is host memory the
 * kernels and the host both address directly, which is what an iGPU's
 * USM is too. A registry of the live allocations answers
 * zeMemGetAllocProperties and zeMemGetAddressRange.
 */
#include <stdlib.h>
#include <string.h>

#include "swgpu.h"

struct sw_alloc {
	char *base;
	size_t size;
	ze_memory_type_t type;
	uint64_t id;
};

/* The registry, protected by reg_mu. */
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sw_alloc *reg;
static size_t reg_n, reg_cap;
static uint64_t reg_next_id = 1;

static ze_result_t reg_add(void *p, size_t size, ze_memory_type_t type)
{
	ze_result_t r = ZE_RESULT_SUCCESS;

	pthread_mutex_lock(&reg_mu);
	if (reg_n == reg_cap) {
		size_t cap = reg_cap ? reg_cap * 2 : 64;
		struct sw_alloc *n = realloc(reg, cap * sizeof(*n));

		if (!n) {
			r = ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
			goto out;
		}
		reg = n;
		reg_cap = cap;
	}
	reg[reg_n++] = (struct sw_alloc){ p, size, type, reg_next_id++ };
out:
	pthread_mutex_unlock(&reg_mu);
	return r;
}

/* Copies the allocation containing p into *out; false when none does. */
static bool reg_find(const void *p, struct sw_alloc *out, bool remove_exact)
{
	bool found = false;

	pthread_mutex_lock(&reg_mu);
	for (size_t i = 0; i < reg_n; i++) {
		const char *c = p;

		if (c < reg[i].base || c >= reg[i].base + (reg[i].size ? reg[i].size : 1))
			continue;
		if (remove_exact && c != reg[i].base)
			break;
		*out = reg[i];
		found = true;
		if (remove_exact)
			reg[i] = reg[--reg_n];
		break;
	}
	pthread_mutex_unlock(&reg_mu);
	return found;
}

static ze_result_t sw_alloc(ze_context_handle_t c, size_t size, size_t align,
			    ze_memory_type_t type, void **out)
{
	const struct sw_platform *p = sw_platform_get();
	ze_result_t r;
	void *mem;

	if (!c || !out)
		return c ? ZE_RESULT_ERROR_INVALID_NULL_POINTER : ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	*out = NULL;
	if (!p)
		return ZE_RESULT_ERROR_UNINITIALIZED;
	if (size == 0)
		return ZE_RESULT_ERROR_UNSUPPORTED_SIZE;
	if (size > p->max_alloc)
		return ZE_RESULT_ERROR_UNSUPPORTED_SIZE;
	if (align & (align - 1))
		return ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT;
	mem = clSVMAlloc(p->context, CL_MEM_READ_WRITE | CL_MEM_SVM_FINE_GRAIN_BUFFER,
			 size, (cl_uint)(align < 128 ? 128 : align));
	if (!mem)
		return ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY;
	r = reg_add(mem, size, type);
	if (r) {
		clSVMFree(p->context, mem);
		return r;
	}
	*out = mem;
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_mem_alloc_shared(ze_context_handle_t c,
						  const ze_device_mem_alloc_desc_t *dd,
						  const ze_host_mem_alloc_desc_t *hd, size_t size,
						  size_t align, ze_device_handle_t dev, void **out)
{
	(void)dev;
	if (!dd || !hd)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	return sw_alloc(c, size, align, ZE_MEMORY_TYPE_SHARED, out);
}

static ze_result_t ZE_APICALL sw_mem_alloc_device(ze_context_handle_t c,
						  const ze_device_mem_alloc_desc_t *dd,
						  size_t size, size_t align, ze_device_handle_t dev,
						  void **out)
{
	if (!dev)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (!dd)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	return sw_alloc(c, size, align, ZE_MEMORY_TYPE_DEVICE, out);
}

static ze_result_t ZE_APICALL sw_mem_alloc_host(ze_context_handle_t c,
						const ze_host_mem_alloc_desc_t *hd,
						size_t size, size_t align, void **out)
{
	if (!hd)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	return sw_alloc(c, size, align, ZE_MEMORY_TYPE_HOST, out);
}

static ze_result_t ZE_APICALL sw_mem_free(ze_context_handle_t c, void *ptr)
{
	const struct sw_platform *p = sw_platform_get();
	struct sw_alloc a;

	if (!c)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (!ptr)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	if (!p || !reg_find(ptr, &a, true))
		return ZE_RESULT_ERROR_INVALID_ARGUMENT;
	clSVMFree(p->context, a.base);
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_mem_props(ze_context_handle_t c, const void *ptr,
					   ze_memory_allocation_properties_t *props,
					   ze_device_handle_t *dev)
{
	struct sw_alloc a;

	if (!c)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (!ptr || !props)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	if (!reg_find(ptr, &a, false)) {
		props->type = ZE_MEMORY_TYPE_UNKNOWN;
		props->id = 0;
		props->pageSize = 0;
		if (dev)
			*dev = NULL;
		return ZE_RESULT_SUCCESS;
	}
	props->type = a.type;
	props->id = a.id;
	props->pageSize = 4096;
	if (dev)
		*dev = a.type == ZE_MEMORY_TYPE_HOST ? NULL : &sw_device;
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_mem_range(ze_context_handle_t c, const void *ptr,
					   void **base, size_t *size)
{
	struct sw_alloc a;

	if (!c)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (!ptr)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	if (!reg_find(ptr, &a, false))
		return ZE_RESULT_ERROR_INVALID_ARGUMENT;
	if (base)
		*base = a.base;
	if (size)
		*size = a.size;
	return ZE_RESULT_SUCCESS;
}

void sw_fill_mem(ze_mem_dditable_t *t)
{
	t->pfnAllocShared = sw_mem_alloc_shared;
	t->pfnAllocDevice = sw_mem_alloc_device;
	t->pfnAllocHost = sw_mem_alloc_host;
	t->pfnFree = sw_mem_free;
	t->pfnGetAllocProperties = sw_mem_props;
	t->pfnGetAddressRange = sw_mem_range;
}
