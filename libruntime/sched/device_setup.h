/* SPDX-License-Identifier: MIT */
/*
 * Where the forward pass runs (`splitmoe run --device cpu|gpu|split` and
 * the YAML's device): the backends, each with its own arbiter client (cpu
 * class for the CPU backend, gpu class for the Level Zero one), and the
 * backend the session uses. Asked for gpu or split where there is no Level
 * Zero driver or device, or the kernels do not build: one line saying why
 * (in note) and the CPU path.
 */
#ifndef SPLITMOE_DEVICE_SETUP_H
#define SPLITMOE_DEVICE_SETUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "sched/scheduler.h"

struct sm_arbiter;
struct sm_arb_client;

/* Where a session runs. */
enum sm_device_mode {
	SM_DEVICE_CPU = 0,
	SM_DEVICE_GPU,
	SM_DEVICE_SPLIT,
};

struct sm_device_opts {
	enum sm_device_mode device;
	const char *gpu_name;		/* Level Zero device name substring; NULL/"": the iGPU */
	struct sm_split_plan plan;	/* split: its mode and rules */
	enum sm_backend_compute compute;
	enum sm_weights_layout weights;	/* the CPU backend's; 0: auto */
	int threads;			/* CPU backend threads; 0: default */
	int max_rows;			/* prefill chunk; 0: 256 (inference.h's default) */
	struct sm_arbiter *arbiter;	/* NULL: ungated */
	uint32_t cpu_weight, gpu_weight;	/* 0: 100 */
	uint64_t cpu_reserve_mbps, gpu_reserve_mbps;
	uint64_t burst_bytes;		/* the largest single acquire; 0: 256 MB */
};

struct sm_devices {
	struct sm_backend *cpu, *gpu, *split;
	struct sm_arb_client *cpu_client, *gpu_client;
	struct sm_backend *use;		/* what the session runs on */
	enum sm_device_mode running;	/* where the session runs (d->use) */
	/* why gpu/split fell back to the CPU ("...; running on the CPU");
	 * "" if not */
	char note[512];
};

/* 0 (d->use set, d->note non-empty after a fallback), or a negative errno
 * with one line in err (bad option, arbiter refused a reservation...). */
int sm_devices_open(const struct sm_device_opts *o, struct sm_devices *d, char *err,
		    size_t errlen);
void sm_devices_close(struct sm_devices *d);

#endif /* SPLITMOE_DEVICE_SETUP_H */
