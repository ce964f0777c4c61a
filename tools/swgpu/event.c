/* SPDX-License-Identifier: MIT */
/*
 * Event pools, events and fences.
 *
 * An event's device-side face is an OpenCL user event (its gate), which
 * later commands put in their wait lists; its host-side face is a
 * completion (mutex + condition variable) host threads wait on with a
 * timeout. A command that signals the event gets a CL_COMPLETE callback
 * that records the command's profiling times (the kernel timestamps),
 * completes the gate and wakes the waiters. A failed command completes
 * the gate with an error, so that dependent commands fail too instead of
 * waiting for ever, and the host sees ZE_RESULT_ERROR_DEVICE_LOST.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "swgpu.h"

void sw_completion_init(struct sw_completion *c, bool done)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&c->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	c->done = done;
	c->failed = false;
}

void sw_completion_destroy(struct sw_completion *c)
{
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
}

ze_result_t sw_completion_wait(struct sw_completion *c, uint64_t timeout_ns)
{
	struct timespec dl;
	ze_result_t r = ZE_RESULT_SUCCESS;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	if (timeout_ns != UINT64_MAX) {
		uint64_t ns = (uint64_t)dl.tv_nsec + timeout_ns % 1000000000ull;

		dl.tv_sec += (time_t)(timeout_ns / 1000000000ull + ns / 1000000000ull);
		dl.tv_nsec = (long)(ns % 1000000000ull);
	}
	pthread_mutex_lock(&c->mu);
	while (!c->done) {
		int e;

		if (timeout_ns == 0) {
			r = ZE_RESULT_NOT_READY;
			break;
		}
		if (timeout_ns == UINT64_MAX) {
			pthread_cond_wait(&c->cv, &c->mu);
			continue;
		}
		e = pthread_cond_timedwait(&c->cv, &c->mu, &dl);
		if (e == ETIMEDOUT && !c->done) {
			r = ZE_RESULT_NOT_READY;
			break;
		}
	}
	if (r == ZE_RESULT_SUCCESS && c->failed)
		r = ZE_RESULT_ERROR_DEVICE_LOST;
	pthread_mutex_unlock(&c->mu);
	return r;
}

/* The clock of PoCL's profiling times (a host-signalled event gets one). */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- event pools ---- */

static ze_result_t ZE_APICALL sw_pool_create(ze_context_handle_t c, const ze_event_pool_desc_t *d,
					     uint32_t ndev, ze_device_handle_t *devs,
					     ze_event_pool_handle_t *out)
{
	struct _ze_event_pool_handle_t *p;

	(void)ndev;
	(void)devs;
	if (!c)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (!d || !out)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	if (d->count == 0)
		return ZE_RESULT_ERROR_INVALID_SIZE;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
	p->used = calloc(d->count, 1);
	if (!p->used) {
		free(p);
		return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
	}
	p->magic = SW_MAGIC_POOL;
	p->count = d->count;
	p->flags = d->flags;
	pthread_mutex_init(&p->mu, NULL);
	*out = p;
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_pool_destroy(ze_event_pool_handle_t p)
{
	if (!p)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (p->magic != SW_MAGIC_POOL)
		return ZE_RESULT_ERROR_INVALID_ARGUMENT;
	p->magic = 0;
	pthread_mutex_destroy(&p->mu);
	free(p->used);
	free(p);
	return ZE_RESULT_SUCCESS;
}

void sw_fill_event_pool(ze_event_pool_dditable_t *t)
{
	t->pfnCreate = sw_pool_create;
	t->pfnDestroy = sw_pool_destroy;
}

/* ---- events ---- */

static cl_event new_gate(void)
{
	cl_int err;

	return clCreateUserEvent(sw_platform_get()->context, &err);
}

/* Completes the event; caller holds ev->done.mu. */
static void complete_locked(struct _ze_event_handle_t *ev, bool failed)
{
	if (ev->done.done)
		return;
	ev->done.done = true;
	ev->done.failed = failed;
	clSetUserEventStatus(ev->gate, failed ? -1 : CL_COMPLETE);
	pthread_cond_broadcast(&ev->done.cv);
}

static ze_result_t ZE_APICALL sw_event_create(ze_event_pool_handle_t p, const ze_event_desc_t *d,
					      ze_event_handle_t *out)
{
	struct _ze_event_handle_t *ev;

	if (!p)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (!d || !out)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	if (p->magic != SW_MAGIC_POOL || d->index >= p->count)
		return ZE_RESULT_ERROR_INVALID_ARGUMENT;
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
	ev->gate = new_gate();
	if (!ev->gate) {
		free(ev);
		return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
	}
	pthread_mutex_lock(&p->mu);
	if (p->used[d->index]) {
		pthread_mutex_unlock(&p->mu);
		clReleaseEvent(ev->gate);
		free(ev);
		return ZE_RESULT_ERROR_INVALID_ARGUMENT;	/* index already in use */
	}
	p->used[d->index] = 1;
	pthread_mutex_unlock(&p->mu);
	ev->magic = SW_MAGIC_EVENT;
	ev->pool = p;
	ev->index = d->index;
	sw_completion_init(&ev->done, false);
	*out = ev;
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_event_destroy(ze_event_handle_t ev)
{
	if (!ev)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (ev->magic != SW_MAGIC_EVENT)
		return ZE_RESULT_ERROR_INVALID_ARGUMENT;
	pthread_mutex_lock(&ev->done.mu);
	/* A command still to signal it would call back into freed memory:
	 * wait for it, but not for ever (a stuck command: leak the event). */
	if (ev->pending) {
		struct timespec dl;

		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += 10;
		while (ev->pending &&
		       pthread_cond_timedwait(&ev->done.cv, &ev->done.mu, &dl) != ETIMEDOUT)
			;
	}
	/* Never leave a command waiting on a gate nobody can open. */
	complete_locked(ev, false);
	if (ev->pending) {
		ev->magic = 0;
		pthread_mutex_unlock(&ev->done.mu);
		return ZE_RESULT_SUCCESS;
	}
	pthread_mutex_unlock(&ev->done.mu);
	pthread_mutex_lock(&ev->pool->mu);
	ev->pool->used[ev->index] = 0;
	pthread_mutex_unlock(&ev->pool->mu);
	ev->magic = 0;
	clReleaseEvent(ev->gate);
	sw_completion_destroy(&ev->done);
	free(ev);
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_event_host_signal(ze_event_handle_t ev)
{
	if (!ev)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	pthread_mutex_lock(&ev->done.mu);
	if (!ev->done.done) {
		ev->has_ts = true;
		ev->ts_start = ev->ts_end = now_ns();
	}
	complete_locked(ev, false);
	pthread_mutex_unlock(&ev->done.mu);
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_event_host_sync(ze_event_handle_t ev, uint64_t timeout)
{
	if (!ev)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	return sw_completion_wait(&ev->done, timeout);
}

static ze_result_t ZE_APICALL sw_event_query(ze_event_handle_t ev)
{
	if (!ev)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	return sw_completion_wait(&ev->done, 0);
}

static ze_result_t ZE_APICALL sw_event_host_reset(ze_event_handle_t ev)
{
	cl_event gate;

	if (!ev)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	gate = new_gate();
	if (!gate)
		return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
	pthread_mutex_lock(&ev->done.mu);
	ev->gen++;	/* a signaller still pending belongs to the old life */
	complete_locked(ev, false);	/* the old gate must not stay shut */
	clReleaseEvent(ev->gate);
	ev->gate = gate;
	ev->done.done = false;
	ev->done.failed = false;
	ev->has_ts = false;
	pthread_mutex_unlock(&ev->done.mu);
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_event_timestamp(ze_event_handle_t ev,
						 ze_kernel_timestamp_result_t *out)
{
	ze_result_t r;

	if (!ev)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (!out)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	if (!(ev->pool->flags & ZE_EVENT_POOL_FLAG_KERNEL_TIMESTAMP))
		return ZE_RESULT_ERROR_INVALID_ARGUMENT;
	r = sw_completion_wait(&ev->done, 0);
	if (r)
		return r;
	pthread_mutex_lock(&ev->done.mu);
	out->global.kernelStart = ev->ts_start;
	out->global.kernelEnd = ev->ts_end;
	out->context = out->global;
	pthread_mutex_unlock(&ev->done.mu);
	return ZE_RESULT_SUCCESS;
}

struct attach_ctx {
	struct _ze_event_handle_t *ev;
	uint64_t gen;		/* the event's life it signals */
	bool timestamps;
};

static void CL_CALLBACK event_done_cb(cl_event cmd, cl_int status, void *data)
{
	struct attach_ctx *a = data;
	struct _ze_event_handle_t *ev = a->ev;
	cl_ulong t0 = 0, t1 = 0;

	if (a->timestamps && status == CL_COMPLETE) {
		clGetEventProfilingInfo(cmd, CL_PROFILING_COMMAND_START, sizeof(t0), &t0, NULL);
		clGetEventProfilingInfo(cmd, CL_PROFILING_COMMAND_END, sizeof(t1), &t1, NULL);
	} else {
		t0 = t1 = now_ns();
	}
	pthread_mutex_lock(&ev->done.mu);
	if (a->gen == ev->gen) {
		ev->has_ts = true;
		ev->ts_start = t0;
		ev->ts_end = t1;
		complete_locked(ev, status != CL_COMPLETE);
	}
	ev->pending--;
	pthread_cond_broadcast(&ev->done.cv);
	pthread_mutex_unlock(&ev->done.mu);
	free(a);
	clReleaseEvent(cmd);
}

ze_result_t sw_event_attach(struct _ze_event_handle_t *ev, cl_event cmd, bool timestamps)
{
	struct attach_ctx *a = malloc(sizeof(*a));
	cl_int err;

	if (!a)
		return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
	a->ev = ev;
	a->timestamps = timestamps;
	pthread_mutex_lock(&ev->done.mu);
	ev->pending++;
	a->gen = ev->gen;
	pthread_mutex_unlock(&ev->done.mu);
	clRetainEvent(cmd);
	err = clSetEventCallback(cmd, CL_COMPLETE, event_done_cb, a);
	if (err != CL_SUCCESS) {
		clReleaseEvent(cmd);
		free(a);
		pthread_mutex_lock(&ev->done.mu);
		ev->pending--;
		pthread_mutex_unlock(&ev->done.mu);
		return sw_cl_result(err);
	}
	return ZE_RESULT_SUCCESS;
}

ze_result_t sw_event_gates(uint32_t n, ze_event_handle_t *wait, cl_event **out)
{
	cl_event *g;

	*out = NULL;
	if (n == 0)
		return ZE_RESULT_SUCCESS;
	if (!wait)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	g = calloc(n, sizeof(*g));
	if (!g)
		return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
	for (uint32_t i = 0; i < n; i++) {
		if (!wait[i] || wait[i]->magic != SW_MAGIC_EVENT) {
			free(g);
			return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
		}
		pthread_mutex_lock(&wait[i]->done.mu);
		g[i] = wait[i]->gate;
		pthread_mutex_unlock(&wait[i]->done.mu);
	}
	*out = g;
	return ZE_RESULT_SUCCESS;
}

void sw_fill_event(ze_event_dditable_t *t)
{
	t->pfnCreate = sw_event_create;
	t->pfnDestroy = sw_event_destroy;
	t->pfnHostSignal = sw_event_host_signal;
	t->pfnHostSynchronize = sw_event_host_sync;
	t->pfnQueryStatus = sw_event_query;
	t->pfnHostReset = sw_event_host_reset;
	t->pfnQueryKernelTimestamp = sw_event_timestamp;
}

/* ---- fences ---- */

static ze_result_t ZE_APICALL sw_fence_create(ze_command_queue_handle_t q,
					      const ze_fence_desc_t *d, ze_fence_handle_t *out)
{
	struct _ze_fence_handle_t *f;

	if (!q)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (!d || !out)
		return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
	f = calloc(1, sizeof(*f));
	if (!f)
		return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
	f->magic = SW_MAGIC_FENCE;
	f->queue = q;
	sw_completion_init(&f->done, d->flags & ZE_FENCE_FLAG_SIGNALED);
	*out = f;
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_fence_destroy(ze_fence_handle_t f)
{
	if (!f)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	if (f->magic != SW_MAGIC_FENCE)
		return ZE_RESULT_ERROR_INVALID_ARGUMENT;
	/* An execution still attached would call back into freed memory. */
	pthread_mutex_lock(&f->done.mu);
	while (f->armed)
		pthread_cond_wait(&f->done.cv, &f->done.mu);
	pthread_mutex_unlock(&f->done.mu);
	f->magic = 0;
	sw_completion_destroy(&f->done);
	free(f);
	return ZE_RESULT_SUCCESS;
}

static ze_result_t ZE_APICALL sw_fence_sync(ze_fence_handle_t f, uint64_t timeout)
{
	if (!f)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	return sw_completion_wait(&f->done, timeout);
}

static ze_result_t ZE_APICALL sw_fence_query(ze_fence_handle_t f)
{
	if (!f)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	return sw_completion_wait(&f->done, 0);
}

static ze_result_t ZE_APICALL sw_fence_reset(ze_fence_handle_t f)
{
	if (!f)
		return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
	pthread_mutex_lock(&f->done.mu);
	f->done.done = false;
	f->done.failed = false;
	pthread_mutex_unlock(&f->done.mu);
	return ZE_RESULT_SUCCESS;
}

static void CL_CALLBACK fence_done_cb(cl_event cmd, cl_int status, void *data)
{
	struct _ze_fence_handle_t *f = data;

	pthread_mutex_lock(&f->done.mu);
	f->done.done = true;
	f->done.failed = status != CL_COMPLETE;
	f->armed = false;
	pthread_cond_broadcast(&f->done.cv);
	pthread_mutex_unlock(&f->done.mu);
	clReleaseEvent(cmd);
}

ze_result_t sw_fence_attach(struct _ze_fence_handle_t *f, cl_event cmd)
{
	cl_int err;

	pthread_mutex_lock(&f->done.mu);
	f->done.done = false;
	f->done.failed = false;
	f->armed = true;
	pthread_mutex_unlock(&f->done.mu);
	clRetainEvent(cmd);
	err = clSetEventCallback(cmd, CL_COMPLETE, fence_done_cb, f);
	if (err != CL_SUCCESS) {
		clReleaseEvent(cmd);
		pthread_mutex_lock(&f->done.mu);
		f->armed = false;
		pthread_mutex_unlock(&f->done.mu);
		return sw_cl_result(err);
	}
	return ZE_RESULT_SUCCESS;
}

void sw_fill_fence(ze_fence_dditable_t *t)
{
	t->pfnCreate = sw_fence_create;
	t->pfnDestroy = sw_fence_destroy;
	t->pfnHostSynchronize = sw_fence_sync;
	t->pfnQueryStatus = sw_fence_query;
	t->pfnReset = sw_fence_reset;
}
