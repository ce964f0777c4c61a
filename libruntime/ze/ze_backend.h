/* SPDX-License-Identifier: MIT */
/*
 * The Level Zero backend (backend.h) for the iGPU: the forward pass's ops
 * as the SPIR-V kernels of kernels/ (build/kernels/NAME.spv) on one Level
 * Zero device, through an immediate command list. Every buffer it hands
 * out is USM shared memory, so the CPU and the iGPU read one copy; packed
 * weights are USM too, and an expert packed for both devices (desc.shared)
 * is host USM, row-major in the CPU's compute type, which the CPU backend
 * reads in place (expert_view). Ops are asynchronous and in order; sync()
 * waits.
 *
 * Gating: every op (linear, expert and the small ones) acquires its byte
 * estimate from the gate (a gpu-class arbiter client, borrowed) before its
 * kernels are appended, and is completed when the event of its last
 * kernel has signalled.
 *
 * Profiling: the kernel timestamps of the ops add up per op class.
 *
 * With no Level Zero driver or no suitable device, create() fails with
 * -ENODEV and one line saying so; the caller falls back to the CPU.
 */
#ifndef SPLITMOE_ZE_BACKEND_H
#define SPLITMOE_ZE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

struct sm_ze_backend_opts {
	enum sm_backend_compute compute;
	/* Device to use: a substring of its Level Zero name (the YAML's
	 * device), or NULL/"" for the first integrated GPU (else the first
	 * GPU). */
	const char *device;
	/* Directory of the .spv modules; NULL: $SPLITMOE_KERNEL_DIR, else
	 * "kernels" or "../kernels" next to the executable. */
	const char *kernel_dir;
	int max_rows;			/* largest m of linear/expert; 0: 512 */
	struct sm_arb_client *gate;	/* NULL: ungated; borrowed */
};

/* 0, or a negative errno with one line in err (-ENODEV: no driver or
 * device, -ENOENT: a kernel module missing, -EIO: a kernel build failed,
 * with the build log's first line). */
int sm_ze_backend_create(const struct sm_ze_backend_opts *o, struct sm_backend **out,
			 char *err, size_t errlen);

/* Device time of the ops so far (kernel timestamps), and the kernels
 * appended: all of them, and those appended under an acquired grant. */
struct sm_ze_profile {
	uint64_t linear_ns, linear_ops;
	uint64_t expert_ns, expert_ops;
	uint64_t other_ns, other_ops;	/* norms, RoPE, attention, router, ... */
	uint64_t launches, gated_launches;
};
void sm_ze_backend_profile(struct sm_backend *be, struct sm_ze_profile *out);

#endif /* SPLITMOE_ZE_BACKEND_H */
