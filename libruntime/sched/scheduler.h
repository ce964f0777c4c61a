/* SPDX-License-Identifier: MIT */
/*
 * The CPU/iGPU split: a backend (backend.h) that runs each op on one of two
 * backends, the CPU's and the Level Zero one, both gated by the arbiter
 * through their own clients (the caller sets each one's gate).
 *
 * Placement:
 *   partition        rules by stage (attention, router, experts, head) and
 *                    layer range, e.g. "attention=cpu,router=cpu,experts=gpu"
 *                    or "experts[0-15]=gpu"; later rules win, the rest runs
 *                    on the CPU.
 *   expert-parallel  the partition, except that the expert batches of a
 *                    layer alternate between the devices: the two experts
 *                    of a decoded token (or the expert groups of a prefill
 *                    batch) run on the CPU and the iGPU at the same time.
 *   dynamic          each expert batch goes to the device that would finish
 *                    it first: bytes over each device's measured rate (the
 *                    rates include the arbiter's throttling, i.e. its
 *                    grants), plus what the iGPU still has queued.
 * In the two expert modes every expert is stored once: the Level Zero
 * backend packs it into host USM, row-major in the CPU's compute type
 * (f32, or bf16 for bf16 compute), and the CPU backend runs oneDNN on that
 * memory in place (backend.h: expert_view, expert_create_shared). Only
 * where the CPU cannot compute on it (-EOPNOTSUPP) is it packed for each
 * device (counted in unshared_experts). In partition mode each weight is
 * packed for its one device, in that device's preferred layout.
 *
 * Memory is the Level Zero backend's (USM shared), which the CPU reads
 * directly. Ordering: CPU ops are synchronous; before a CPU op the iGPU is
 * drained unless the op is an expert and the iGPU holds only experts
 * (experts read shared inputs and write disjoint rows), which is where the
 * two devices overlap.
 */
#ifndef SPLITMOE_SCHEDULER_H
#define SPLITMOE_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

enum sm_device { SM_DEV_CPU = 0, SM_DEV_GPU = 1 };

enum sm_split_mode {
	SM_SPLIT_PARTITION = 0,
	SM_SPLIT_EXPERT_PARALLEL,
	SM_SPLIT_DYNAMIC,
};

#define SM_SPLIT_MAX_RULES 16

struct sm_split_rule {
	enum sm_stage stage;
	int layer_lo, layer_hi;		/* inclusive; any layer: 0..INT_MAX */
	enum sm_device dev;
};

struct sm_split_plan {
	enum sm_split_mode mode;
	int n_rules;
	struct sm_split_rule rules[SM_SPLIT_MAX_RULES];
};



/* The device of a stage of a layer under the plan's rules. */
enum sm_device sm_split_place(const struct sm_split_plan *p, enum sm_stage st, int layer);

struct sm_split_opts {
	struct sm_split_plan plan;
	struct sm_backend *cpu, *gpu;	/* borrowed; same compute type */
};

/* 0, or a negative errno with one line in err. */
int sm_split_backend_create(const struct sm_split_opts *o, struct sm_backend **out,
			    char *err, size_t errlen);

struct sm_split_stats {
	uint64_t ops[2];		/* submissions per device */
	uint64_t experts[2];		/* expert batches per device */
	uint64_t overlapped;		/* CPU experts run while the iGPU had experts queued */
	uint64_t gpu_drains;		/* waits for the iGPU before a CPU op */
	double rate_mb_s[2];		/* measured expert rates (dynamic) */
	uint64_t weight_bytes[2];	/* weights each device's backend holds */
	uint64_t shared_weight_bytes;	/* of the iGPU's, those the CPU reads too */
	uint64_t borrowed_weight_bytes;	/* what the CPU reads of them in place */
	uint64_t unshared_experts;	/* experts packed twice (CPU could not share) */
};
void sm_split_backend_stats(struct sm_backend *be, struct sm_split_stats *out);

/* What each device's op of expert e reads (the one-copy check of tests
 * and reports): rc[d] 0 with v[d] set, -EOPNOTSUPP where that device keeps
 * the expert in a private layout, -ENOENT where it has no copy. */
void sm_split_expert_views(struct sm_backend *be, struct sm_expert *e,
			   struct sm_expert_view v[2], int rc[2]);

#endif /* SPLITMOE_SCHEDULER_H */
