// SPDX-License-Identifier: MIT
/*
 * Backends and arbiter clients for --device cpu|gpu|split, with the CPU
 * path when the iGPU cannot be had. See device_setup.h.
 */
#include "sched/device_setup.h"
#include "arbiter/arbiter.h"
#include "engine/inference.h"
#include "sched/scheduler.h"
#include "ze/ze_backend.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_ROWS 256
#define DEFAULT_BURST (256ull << 20)

static int open_client(const struct sm_device_opts *o, bool gpu, struct sm_arb_client **out,
		       char *err, size_t errlen)
{
	struct sm_arb_client_opts co = {
		.name = gpu ? "splitmoe-gpu" : "splitmoe-cpu",
		.class = gpu ? SM_ARB_CLASS_GPU : SM_ARB_CLASS_CPU,
		.weight = (gpu ? o->gpu_weight : o->cpu_weight) ? (gpu ? o->gpu_weight : o->cpu_weight) : 100,
		.reserve_mbps = gpu ? o->gpu_reserve_mbps : o->cpu_reserve_mbps,
		.burst_bytes = o->burst_bytes ? o->burst_bytes : DEFAULT_BURST,
	};

	*out = NULL;
	if (!o->arbiter)
		return 0;
	return sm_arb_client_open(o->arbiter, &co, out, err, errlen);
}

static int open_cpu(const struct sm_device_opts *o, struct sm_devices *d, char *err,
		    size_t errlen)
{
	/* built as a session builds its own (no quant: only a session's own
	 * CPU backend quantizes) */
	struct phimoe_session_opts so = {
		.compute = o->compute == SM_BACKEND_BF16 ? SM_COMPUTE_BF16 : SM_COMPUTE_F32,
		.threads = o->threads,
		.weights = o->weights,
		.quant = SM_QUANT_NONE,
	};
	int rc = open_client(o, false, &d->cpu_client, err, errlen);

	if (!rc)
		rc = phimoe_cpu_backend_create(&so, o->max_rows ? o->max_rows : DEFAULT_ROWS, &d->cpu,
					       err, errlen);
	if (!rc)
		d->cpu->gate = d->cpu_client;
	return rc;
}

/* The Level Zero backend; false (with d->note) when it cannot be had. */
static bool open_gpu(const struct sm_device_opts *o, struct sm_devices *d)
{
	struct sm_ze_backend_opts zo = {
		.compute = o->compute,
		.device = o->gpu_name,
		.max_rows = o->max_rows ? o->max_rows : DEFAULT_ROWS,
	};
	char why[400] = "";
	int rc = open_client(o, true, &d->gpu_client, why, sizeof(why));

	zo.gate = d->gpu_client;
	if (!rc)
		rc = sm_ze_backend_create(&zo, &d->gpu, why, sizeof(why));
	if (rc) {
		snprintf(d->note, sizeof(d->note), "%s; running on the CPU", why);
		sm_arb_client_close(d->gpu_client);
		d->gpu_client = NULL;
		d->gpu = NULL;
		return false;
	}
	return true;
}

int sm_devices_open(const struct sm_device_opts *o, struct sm_devices *d, char *err,
		    size_t errlen)
{
	bool want_gpu = o->device == SM_DEVICE_GPU, want_split = o->device == SM_DEVICE_SPLIT;
	struct sm_split_opts so = { .plan = o->plan };
	int rc;

	memset(d, 0, sizeof(*d));
	if (!want_gpu && !want_split && o->device != SM_DEVICE_CPU) {
		snprintf(err, errlen, "device %d: expected cpu, gpu or split", (int)o->device);
		return -EINVAL;
	}
	if ((want_gpu || want_split) && open_gpu(o, d)) {
		if (want_gpu) {
			d->use = d->gpu;
			d->running = SM_DEVICE_GPU;
			return 0;
		}
		rc = open_cpu(o, d, err, errlen);
		if (!rc) {
			so.cpu = d->cpu;
			so.gpu = d->gpu;
			rc = sm_split_backend_create(&so, &d->split, err, errlen);
		}
		if (rc) {
			sm_devices_close(d);
			return rc;
		}
		d->use = d->split;
		d->running = SM_DEVICE_SPLIT;
		return 0;
	}
	rc = open_cpu(o, d, err, errlen);
	if (rc) {
		sm_devices_close(d);
		return rc;
	}
	d->use = d->cpu;
	d->running = SM_DEVICE_CPU;
	return 0;
}

void sm_devices_close(struct sm_devices *d)
{
	if (d->split)
		d->split->ops->destroy(d->split);
	if (d->gpu)
		d->gpu->ops->destroy(d->gpu);
	if (d->cpu)
		d->cpu->ops->destroy(d->cpu);
	sm_arb_client_close(d->gpu_client);
	sm_arb_client_close(d->cpu_client);
	memset(d, 0, sizeof(*d));
}
