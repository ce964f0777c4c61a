/* SPDX-License-Identifier: MIT */
/*
 * Command lists and command queues. An immediate command list owns an
 * in-order OpenCL queue and enqueues each append at once; a regular list
 * records its appends (kernel arguments copied at append time) and a
 * command queue replays them into its own OpenCL queue on execute. Both
 * are in order, which is a valid (stricter) reading of Level Zero's
 * ordering rules.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "swgpu.h"

static void CL_CALLBACK timestamp_cb(cl_event cmd, cl_int status, void *data)
{
	cl_ulong t = 0;

	if (status == CL_COMPLETE)
		clGetEventProfilingInfo(cmd, CL_PROFILING_COMMAND_END, sizeof(t), &t, NULL);
	memcpy(data, &t, sizeof(t));
}

/*
 * Fault injection for the tests of the device-error paths:
 * SWGPU_FAIL_LAUNCH=N makes the N-th kernel launch of the process and
 * every later one fail as a lost device would.
 */
static bool launch_fails(void)
{
	static long limit = -1;
	static long count;
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	bool fails;

	pthread_mutex_lock(&mu);
	if (limit < 0) {
		const char *e = getenv("SWGPU_FAIL_LAUNCH");

		limit = e && *e ? atol(e) : 0;
	}
	fails = limit > 0 && ++count >= limit;
	pthread_mutex_unlock(&mu);
	return fails;
}

ze_result_t sw_cmd_enqueue(cl_command_queue q, const struct sw_cmd *c)
{
	cl_event *gates = NULL, ev = NULL;
	ze_result_t r;
	cl_int err = CL_SUCCESS;

	if (c->kind == SW_CMD_LAUNCH && launch_fails())
		return ZE_RESULT_ERROR_DEVICE_LOST;
	r = sw_event_gates(c->nwait, c->wait, &gates);
	if (r)
		return r;
	switch (c->kind) {
	case SW_CMD_LAUNCH: {
		struct _ze_kernel_handle_t *k = c->kernel;
		size_t global[3], local[3];

		for (int i = 0; i < 3; i++) {
			local[i] = c->group[i];
			global[i] = (size_t)c->group[i] * c->count[i];
		}
		if (!global[0] || !global[1] || !global[2]) {
			/* An empty launch still orders and signals. */
			err = clEnqueueMarkerWithWaitList(q, c->nwait, gates, &ev);
			break;
		}
		pthread_mutex_lock(&k->mu);
		r = sw_kernel_apply_args(k, c->args);
		if (r == ZE_RESULT_SUCCESS)
			err = clEnqueueNDRangeKernel(q, k->kernel, 3, NULL, global, local,
						     c->nwait, gates, &ev);
		pthread_mutex_unlock(&k->mu);
		break;
	}
	case SW_CMD_COPY:
		err = clEnqueueSVMMemcpy(q, CL_FALSE, c->dst, c->src, c->size, c->nwait, gates, &ev);
		break;
	case SW_CMD_FILL:
		err = clEnqueueSVMMemFill(q, c->dst, c->pattern, c->pattern_size, c->size,
					  c->nwait, gates, &ev);
		break;
	case SW_CMD_BARRIER:
	case SW_CMD_WAIT:
		err = clEnqueueBarrierWithWaitList(q, c->nwait, gates, &ev);
		break;
	case SW_CMD_SIGNAL:
		err = clEnqueueMarkerWithWaitList(q, 0, NULL, &ev);
		break;
	case SW_CMD_TIMESTAMP:
		err = clEnqueueMarkerWithWaitList(q, c->nwait, gates, &ev);
		if (err == CL_SUCCESS)
			err = clSetEventCallback(ev, CL_COMPLETE, timestamp_cb, c->dst);
		break;
	}
	free(gates);
	if (r == ZE_RESULT_SUCCESS)
		r = sw_cl_result(err);
	if (r == ZE_RESULT_SUCCESS && c->signal)
		r = sw_event_attach(c->signal, ev, true);
	if (ev)
		clReleaseEvent(ev);
	clFlush(q);
	/* SWGPU_SYNC=1: run each command to completion before the next one
	 * (tells an ordering bug from a kernel bug when debugging). */
	if (getenv("SWGPU_SYNC"))
		clFinish(q);
	return r;
}

/* ---- command lists ---- */

static ze_result_t ZE_APICALL sw_list_create(ze_context_handle_t ctx, ze_device_handle_t dev,
					     const ze_command_list_desc_t *d,
					     ze_command_list_handle_t *out)
{
	struct _ze_command_list_handle_t *l;

	if (!ctx || !dev)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (!d || !out)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	if (d->commandQueueGroupOrdinal != 0)
		return ZE_RESULT_ERROR_INVALID_ARGUMENT;
	l = calloc(1, sizeof(*l));
	if (!l)
		return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
	l->magic = SW_MAGIC_CMDLIST;
	*out = l;
	return ZE_RESULT_SUCCESS;
}

/* What queue and immediate-list creation check alike: handles, pointers,
 * and the one queue group (ordinal 0, index 0) that the device reports. */
static ze_result_t check_queue_desc(ze_context_handle_t ctx, ze_device_handle_t dev,
				    const ze_command_queue_desc_t *d, const void *out)
{
	if (!ctx || !dev)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (!d || !out)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	if (d->ordinal != 0 || d->index != 0)
		return ZE_RESULT_ERROR_INVALID_ARGUMENT;
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_list_create_immediate(ze_context_handle_t ctx,
						       ze_device_handle_t dev,
						       const ze_command_queue_desc_t *d,
						       ze_command_list_handle_t *out)
{
	struct _ze_command_list_handle_t *l;
	ze_result_t r;

	r = check_queue_desc(ctx, dev, d, out);
	if (r != ZE_RESULT_SUCCESS)
		return r;
	l = calloc(1, sizeof(*l));
	if (!l)
		return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
	l->queue = sw_queue_create(&r);
	if (!l->queue) {
		free(l);
		return r;
	}
	l->magic = SW_MAGIC_CMDLIST;
	l->immediate = true;
	*out = l;
	return ZE_RESULT_SUCCESS;
}

static void cmd_free(struct sw_cmd *c)
{
	free(c->wait);
	free(c->args);
}

static ze_result_t ZE_APICALL sw_list_reset(ze_command_list_handle_t l)
{
	if (!l)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (l->immediate)
		return clFinish(l->queue) == CL_SUCCESS ? ZE_RESULT_SUCCESS
							: ZE_RESULT_ERROR_DEVICE_LOST;
	for (size_t i = 0; i < l->ncmds; i++)
		cmd_free(&l->cmds[i]);
	l->ncmds = 0;
	l->closed = false;
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_list_destroy(ze_command_list_handle_t l)
{
	if (!l)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (l->magic != SW_MAGIC_CMDLIST)
		return ZE_RESULT_ERROR_INVALID_ARGUMENT;
	sw_list_reset(l);
	if (l->queue)
		clReleaseCommandQueue(l->queue);
	l->magic = 0;
	free(l->cmds);
	free(l);
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_list_close(ze_command_list_handle_t l)
{
	if (!l)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	l->closed = true;
	return ZE_RESULT_SUCCESS;
}

/*
 * Runs (immediate list) or records (regular list) c. The wait list and,
 * for a launch, the kernel's current arguments are copied for a
 * recording; an immediate list enqueues them as they are.
 */
static ze_result_t submit(ze_command_list_handle_t l, struct sw_cmd *c,
			  uint32_t nwait, ze_event_handle_t *wait)
{
	struct sw_cmd rec;

	if (!l)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (l->magic != SW_MAGIC_CMDLIST)
		return ZE_RESULT_ERROR_INVALID_ARGUMENT;
	if (nwait && !wait)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	c->nwait = nwait;
	c->wait = wait;
	if (c->kind == SW_CMD_LAUNCH) {
		for (uint32_t i = 0; i < c->kernel->nargs; i++)
			if (!c->kernel->args[i].set)
				return ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_INDEX;
	}
	if (l->immediate) {
		if (c->kind == SW_CMD_LAUNCH)
			c->args = c->kernel->args;	/* sw_cmd_enqueue locks the kernel */
		return sw_cmd_enqueue(l->queue, c);
	}
	if (l->closed)
		return ZE_RESULT_ERROR_INVALID_ARGUMENT;
	rec = *c;
	rec.wait = NULL;
	rec.args = NULL;
	if (nwait) {
		rec.wait = malloc(nwait * sizeof(*rec.wait));
		if (!rec.wait)
			return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
		memcpy(rec.wait, wait, nwait * sizeof(*rec.wait));
	}
	if (c->kind == SW_CMD_LAUNCH) {
		size_t n = c->kernel->nargs ? c->kernel->nargs : 1;

		rec.args = malloc(n * sizeof(*rec.args));
		if (!rec.args) {
			free(rec.wait);
			return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
		}
		pthread_mutex_lock(&c->kernel->mu);
		memcpy(rec.args, c->kernel->args, c->kernel->nargs * sizeof(*rec.args));
		pthread_mutex_unlock(&c->kernel->mu);
	}
	if (l->ncmds == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct sw_cmd *n = realloc(l->cmds, cap * sizeof(*n));

		if (!n) {
			cmd_free(&rec);
			return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
		}
		l->cmds = n;
		l->cap = cap;
	}
	l->cmds[l->ncmds++] = rec;
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_append_launch(ze_command_list_handle_t l, ze_kernel_handle_t k,
					       const ze_group_count_t *count,
					       ze_event_handle_t signal, uint32_t nwait,
					       ze_event_handle_t *wait)
{
	struct sw_cmd c = { .kind = SW_CMD_LAUNCH, .signal = signal, .kernel = k };

	if (!k)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (!count)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	if (k->magic != SW_MAGIC_KERNEL)
		return ZE_RESULT_ERROR_INVALID_ARGUMENT;
	memcpy(c.group, k->group, sizeof(c.group));
	c.count[0] = count->groupCountX;
	c.count[1] = count->groupCountY;
	c.count[2] = count->groupCountZ;
	return submit(l, &c, nwait, wait);
}

static ze_result_t ZE_APICALL sw_append_copy(ze_command_list_handle_t l, void *dst,
					     const void *src, size_t size,
					     ze_event_handle_t signal, uint32_t nwait,
					     ze_event_handle_t *wait)
{
	struct sw_cmd c = { .kind = SW_CMD_COPY, .signal = signal, .dst = dst, .src = src,
			    .size = size };

	if (!dst || !src)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	return submit(l, &c, nwait, wait);
}

static ze_result_t ZE_APICALL sw_append_fill(ze_command_list_handle_t l, void *ptr,
					     const void *pattern, size_t psize, size_t size,
					     ze_event_handle_t signal, uint32_t nwait,
					     ze_event_handle_t *wait)
{
	struct sw_cmd c = { .kind = SW_CMD_FILL, .signal = signal, .dst = ptr, .size = size,
			    .pattern_size = psize };

	if (!ptr || !pattern)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	if (!psize || psize > sizeof(c.pattern) || (psize & (psize - 1)) || size % psize)
		return ZE_RESULT_ERROR_INVALID_SIZE;
	memcpy(c.pattern, pattern, psize);
	return submit(l, &c, nwait, wait);
}

static ze_result_t ZE_APICALL sw_append_barrier(ze_command_list_handle_t l,
						ze_event_handle_t signal, uint32_t nwait,
						ze_event_handle_t *wait)
{
	struct sw_cmd c = { .kind = SW_CMD_BARRIER, .signal = signal };

	return submit(l, &c, nwait, wait);
}

static ze_result_t ZE_APICALL sw_append_ranges_barrier(ze_command_list_handle_t l,
						       uint32_t nranges, const size_t *sizes,
						       const void **ranges,
						       ze_event_handle_t signal, uint32_t nwait,
						       ze_event_handle_t *wait)
{
	(void)nranges;
	(void)sizes;
	(void)ranges;
	return sw_append_barrier(l, signal, nwait, wait);
}

static ze_result_t ZE_APICALL sw_append_signal(ze_command_list_handle_t l, ze_event_handle_t ev)
{
	struct sw_cmd c = { .kind = SW_CMD_SIGNAL, .signal = ev };

	if (!ev)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	return submit(l, &c, 0, NULL);
}

static ze_result_t ZE_APICALL sw_append_wait(ze_command_list_handle_t l, uint32_t n,
					     ze_event_handle_t *evs)
{
	struct sw_cmd c = { .kind = SW_CMD_WAIT };

	return submit(l, &c, n, evs);
}

static ze_result_t ZE_APICALL sw_append_timestamp(ze_command_list_handle_t l, uint64_t *dst,
						  ze_event_handle_t signal, uint32_t nwait,
						  ze_event_handle_t *wait)
{
	struct sw_cmd c = { .kind = SW_CMD_TIMESTAMP, .signal = signal, .dst = dst };

	if (!dst)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	return submit(l, &c, nwait, wait);
}

/* Hints: memory is host memory, nothing to move or advise. */
static ze_result_t ZE_APICALL sw_append_prefetch(ze_command_list_handle_t l, const void *p,
						 size_t size)
{
	(void)size;
	if (!l)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	return p ? ZE_RESULT_SUCCESS : ZE_RESULT_ERROR_INVALID_NULL_POINTER;
}

static ze_result_t ZE_APICALL sw_append_advise(ze_command_list_handle_t l, ze_device_handle_t d,
					       const void *p, size_t size,
					       ze_memory_advice_t advice)
{
	(void)size;
	(void)advice;
	if (!l || !d)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	return p ? ZE_RESULT_SUCCESS : ZE_RESULT_ERROR_INVALID_NULL_POINTER;
}

void sw_fill_command_list(ze_command_list_dditable_t *t)
{
	t->pfnCreate = sw_list_create;
	t->pfnCreateImmediate = sw_list_create_immediate;
	t->pfnDestroy = sw_list_destroy;
	t->pfnClose = sw_list_close;
	t->pfnReset = sw_list_reset;
	t->pfnAppendWriteGlobalTimestamp = sw_append_timestamp;
	t->pfnAppendBarrier = sw_append_barrier;
	t->pfnAppendMemoryRangesBarrier = sw_append_ranges_barrier;
	t->pfnAppendMemoryCopy = sw_append_copy;
	t->pfnAppendMemoryFill = sw_append_fill;
	t->pfnAppendMemoryPrefetch = sw_append_prefetch;
	t->pfnAppendMemAdvise = sw_append_advise;
	t->pfnAppendSignalEvent = sw_append_signal;
	t->pfnAppendWaitOnEvents = sw_append_wait;
	t->pfnAppendLaunchKernel = sw_append_launch;
}

/* ---- command queues ---- */

static ze_result_t ZE_APICALL sw_queue_create_ze(ze_context_handle_t ctx, ze_device_handle_t dev,
						 const ze_command_queue_desc_t *d,
						 ze_command_queue_handle_t *out)
{
	struct _ze_command_queue_handle_t *q;
	ze_result_t r;

	r = check_queue_desc(ctx, dev, d, out);
	if (r != ZE_RESULT_SUCCESS)
		return r;
	q = calloc(1, sizeof(*q));
	if (!q)
		return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
	q->queue = sw_queue_create(&r);
	if (!q->queue) {
		free(q);
		return r;
	}
	q->magic = SW_MAGIC_QUEUE;
	*out = q;
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_queue_destroy(ze_command_queue_handle_t q)
{
	if (!q)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (q->magic != SW_MAGIC_QUEUE)
		return ZE_RESULT_ERROR_INVALID_ARGUMENT;
	clFinish(q->queue);
	clReleaseCommandQueue(q->queue);
	q->magic = 0;
	free(q);
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_queue_execute(ze_command_queue_handle_t q, uint32_t n,
					       ze_command_list_handle_t *lists,
					       ze_fence_handle_t fence)
{
	ze_result_t r = ZE_RESULT_SUCCESS;

	if (!q)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (n && !lists)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	for (uint32_t i = 0; i < n; i++)
		if (!lists[i] || lists[i]->immediate || !lists[i]->closed)
			return ZE_RESULT_ERROR_INVALID_COMMAND_LIST_TYPE;
	for (uint32_t i = 0; i < n && !r; i++)
		for (size_t j = 0; j < lists[i]->ncmds && !r; j++)
			r = sw_cmd_enqueue(q->queue, &lists[i]->cmds[j]);
	if (fence) {
		cl_event ev;
		cl_int err = clEnqueueMarkerWithWaitList(q->queue, 0, NULL, &ev);
		ze_result_t fr = sw_cl_result(err);

		if (!fr) {
			fr = sw_fence_attach(fence, ev);
			clReleaseEvent(ev);
		}
		if (!r)
			r = fr;
		clFlush(q->queue);
	}
	return r;
}

static ze_result_t ZE_APICALL sw_queue_sync(ze_command_queue_handle_t q, uint64_t timeout)
{
	cl_event ev;
	cl_int err, st = CL_QUEUED;
	struct timespec t0, now;

	if (!q)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (timeout == UINT64_MAX)
		return clFinish(q->queue) == CL_SUCCESS ? ZE_RESULT_SUCCESS
							: ZE_RESULT_ERROR_DEVICE_LOST;
	err = clEnqueueMarkerWithWaitList(q->queue, 0, NULL, &ev);
	if (err != CL_SUCCESS)
		return sw_cl_result(err);
	clFlush(q->queue);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		uint64_t el;

		clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof(st), &st, NULL);
		if (st <= CL_COMPLETE)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		el = (uint64_t)(now.tv_sec - t0.tv_sec) * 1000000000ull +
			(uint64_t)(now.tv_nsec - t0.tv_nsec);
		if (el >= timeout)
			break;
		nanosleep(&(struct timespec){ 0, 50000 }, NULL);
	}
	clReleaseEvent(ev);
	if (st < 0)
		return ZE_RESULT_ERROR_DEVICE_LOST;
	return st == CL_COMPLETE ? ZE_RESULT_SUCCESS : ZE_RESULT_NOT_READY;
}

void sw_fill_command_queue(ze_command_queue_dditable_t *t)
{
	t->pfnCreate = sw_queue_create_ze;
	t->pfnDestroy = sw_queue_destroy;
	t->pfnExecuteCommandLists = sw_queue_execute;
	t->pfnSynchronize = sw_queue_sync;
}
