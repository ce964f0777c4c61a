/* SPDX-License-Identifier: MIT */
/*
 * One copy of the experts in the split's expert modes, on the software GPU:
 * the CPU backend's oneDNN op reads the very memory the Level Zero backend
 * packed (the views of both devices name the same host-USM pointers), both
 * devices compute the expert from it as a plain-C reference from the
 * checkpoint does, the weight accounting of a whole session in
 * expert-parallel mode stays within 1% of the CPU-only session's (the two
 * copies of before were 1.5 times the experts), and partition mode still
 * packs each expert for its one device. In f32, and in bf16 where the CPU
 * has a bf16 matmul.
 *
 * usage: shared_weights_test MODEL_DIR KERNEL_DIR
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/options.h"
#include "config/split_rules.h"
#include "cpu/dnnl_matmul.h"
#include "engine/inference.h"
#include "model/model.h"
#include "sched/scheduler.h"
#include "ze/ze_backend.h"
#include "tap.h"

#define LAYER 1
#define EXPERT 5
#define ROWS 3		/* most tokens through the expert (matrix-vector kernels) */

struct rig {
	const char *kernels;
	struct phimoe_model m;
	struct sm_backend *cpu, *gpu;
	enum sm_backend_compute compute;
	const char *cname;
};

static int rig_open(struct rig *r, enum sm_backend_compute compute, char *err, size_t errlen)
{
	/* packed: these tests count copies made (a mapped CPU makes none) */
	struct sm_cpu_backend_opts co = { .compute = compute, .threads = 1, .max_rows = 16,
					  .weights = SM_WEIGHTS_PACKED };
	struct sm_ze_backend_opts zo = { .compute = compute, .kernel_dir = r->kernels,
					 .max_rows = 16 };
	int rc;

	r->compute = compute;
	r->cname = compute == SM_BACKEND_BF16 ? "bf16" : "f32";
	rc = sm_cpu_backend_create(&co, &r->cpu, err, errlen);
	if (!rc)
		rc = sm_ze_backend_create(&zo, &r->gpu, err, errlen);
	return rc;
}

static void rig_close(struct rig *r)
{
	if (r->gpu)
		r->gpu->ops->destroy(r->gpu);
	if (r->cpu)
		r->cpu->ops->destroy(r->cpu);
	r->gpu = r->cpu = NULL;
}

static struct sm_backend *split_open(struct rig *r, enum sm_split_mode mode, const char *rules)
{
	struct sm_split_opts so = { .cpu = r->cpu, .gpu = r->gpu };
	struct sm_backend *be = NULL;
	char err[256] = "";

	so.plan.mode = mode;
	if (sm_split_plan_parse(rules, &so.plan, err, sizeof(err)) ||
	    sm_split_backend_create(&so, &be, err, sizeof(err))) {
		tap_result(0, "split %s '%s': %s", sm_split_mode_name(mode), rules, err);
		return NULL;
	}
	return be;
}

/* y[i] = w2 (silu(w1 x[i]) * w3 x[i]) in double, from the checkpoint. */
static void expert_ref(const struct phimoe_expert *ex, const float *x, int m, float *y)
{
	int H = (int)ex->w1.shape[1], I = (int)ex->w1.shape[0];
	float *w1 = malloc(sizeof(float) * I * H), *w3 = malloc(sizeof(float) * I * H);
	float *w2 = malloc(sizeof(float) * I * H);
	double *g = malloc(sizeof(double) * I);

	phimoe_tensor_to_f32(&ex->w1, 0, (size_t)I * H, w1);
	phimoe_tensor_to_f32(&ex->w3, 0, (size_t)I * H, w3);
	phimoe_tensor_to_f32(&ex->w2, 0, (size_t)I * H, w2);
	for (int r = 0; r < m; r++) {
		const float *xr = x + (size_t)r * H;

		for (int i = 0; i < I; i++) {
			double a = 0, b = 0;

			for (int k = 0; k < H; k++) {
				a += (double)w1[(size_t)i * H + k] * xr[k];
				b += (double)w3[(size_t)i * H + k] * xr[k];
			}
			g[i] = a / (1.0 + exp(-a)) * b;
		}
		for (int h = 0; h < H; h++) {
			double acc = 0;

			for (int i = 0; i < I; i++)
				acc += (double)w2[(size_t)h * I + i] * g[i];
			y[(size_t)r * H + h] = (float)acc;
		}
	}
	free(w1);
	free(w3);
	free(w2);
	free(g);
}

static double max_rel_err(const float *a, const float *ref, size_t n)
{
	double amax = 0, emax = 0;

	for (size_t i = 0; i < n; i++) {
		amax = fmax(amax, fabs(ref[i]));
		emax = fmax(emax, fabs((double)a[i] - ref[i]));
	}
	return amax > 0 ? emax / amax : emax;
}

/* One expert through a split in an expert mode: one copy, both devices. */
static void test_expert_once(struct rig *r, enum sm_split_mode mode)
{
	const struct phimoe_expert *ex = &r->m.layers[LAYER].experts[EXPERT];
	struct sm_expert_desc d = { .name = "model.layers.1.block_sparse_moe.experts.5",
				    .w1 = ex->w1, .w3 = ex->w3, .w2 = ex->w2 };
	int H = (int)ex->w1.shape[1], I = (int)ex->w1.shape[0];
	size_t esz = r->compute == SM_BACKEND_BF16 ? 2 : 4;
	uint64_t want = 3ull * I * H * esz;
	enum phimoe_dtype dt = r->compute == SM_BACKEND_BF16 ? PHIMOE_DTYPE_BF16 : PHIMOE_DTYPE_F32;
	struct sm_backend *be = split_open(r, mode, "attention=cpu,router=cpu");
	uint64_t cpu0 = r->cpu->packed_bytes, gpu0 = r->gpu->packed_bytes;
	uint64_t sh0 = r->gpu->shared_bytes, bor0 = r->cpu->borrowed_bytes;
	struct sm_expert_view v[2];
	struct sm_split_stats st;
	struct sm_expert *e = NULL;
	float *x, *y[2], *ref;
	const char *mn = sm_split_mode_name(mode);
	double tol = r->compute == SM_BACKEND_BF16 ? 2e-3 : 1e-5;
	int rc, vrc[2];

	if (!be)
		return;
	rc = be->ops->expert_create(be, &d, &e);
	if (rc) {
		tap_result(0, "%s %s: expert_create: %s", mn, r->cname, be->last_error);
		be->ops->destroy(be);
		return;
	}
	sm_split_expert_views(be, e, v, vrc);
	tap_result(vrc[0] == 0 && vrc[1] == 0 && v[0].w13.data && v[0].w13.data == v[1].w13.data &&
	    v[0].w2.data == v[1].w2.data,
	    "%s %s: the CPU's oneDNN memory is the iGPU's buffer (w13 %p / %p, w2 %p / %p)",
	    mn, r->cname, v[0].w13.data, v[1].w13.data, v[0].w2.data, v[1].w2.data);
	tap_result(v[0].w13.dtype == dt && v[1].w13.dtype == dt && v[0].w13.rows == 2 * I &&
	    v[0].w13.cols == H && v[0].w2.rows == H && v[0].w2.cols == I &&
	    v[1].w13.rows == 2 * I && v[1].w2.rows == H,
	    "%s %s: one layout: w1|w3 fused [%d][%d], w2 [%d][%d], %s", mn, r->cname, 2 * I, H,
	    H, I, phimoe_dtype_name(dt));
	sm_split_backend_stats(be, &st);
	tap_result(r->cpu->packed_bytes == cpu0 && r->gpu->packed_bytes - gpu0 == want &&
	    r->gpu->shared_bytes - sh0 == want && r->cpu->borrowed_bytes - bor0 == want &&
	    st.unshared_experts == 0,
	    "%s %s: %llu bytes held once, by the iGPU (CPU +%llu own, +%llu read in place)",
	    mn, r->cname, (unsigned long long)(r->gpu->packed_bytes - gpu0),
	    (unsigned long long)(r->cpu->packed_bytes - cpu0),
	    (unsigned long long)(r->cpu->borrowed_bytes - bor0));

	/* expert-parallel alternates the devices, iGPU first (dynamic picks
	 * by rate, which a test cannot fix): the same op on each device */
	x = be->ops->alloc(be, sizeof(float) * ROWS * H);
	y[0] = be->ops->alloc(be, sizeof(float) * ROWS * H);
	y[1] = be->ops->alloc(be, sizeof(float) * ROWS * H);
	ref = malloc(sizeof(float) * ROWS * H);
	if (!x || !y[0] || !y[1] || !ref) {
		tap_result(0, "%s %s: out of memory", mn, r->cname);
	} else if (mode == SM_SPLIT_EXPERT_PARALLEL) {
		for (int i = 0; i < ROWS * H; i++)
			x[i] = (float)sin(0.37 * i) * 0.5f;
		/* one row: decode (oneDNN's gemm in f32); three: brgemm */
		for (int m = 1; m <= ROWS; m += ROWS - 1) {
			struct sm_split_stats s0, s1;
			double e0, e1;

			expert_ref(ex, x, m, ref);
			sm_be_stage(be, LAYER, SM_STAGE_EXPERTS);
			sm_split_backend_stats(be, &s0);
			rc = be->ops->expert(be, e, x, m, NULL, y[1]);
			if (!rc)
				rc = be->ops->expert(be, e, x, m, NULL, y[0]);
			if (!rc)
				rc = be->ops->sync(be);
			sm_split_backend_stats(be, &s1);
			tap_result(!rc && s1.experts[0] == s0.experts[0] + 1 &&
			    s1.experts[1] == s0.experts[1] + 1,
			    "%s %s, %d rows: the expert ran once on each device%s%s", mn, r->cname,
			    m, rc ? ": " : "", rc ? be->last_error : "");
			e0 = max_rel_err(y[0], ref, (size_t)m * H);
			e1 = max_rel_err(y[1], ref, (size_t)m * H);
			tap_result(!rc && e0 <= tol && e1 <= tol,
			    "%s %s, %d rows: CPU and iGPU results from the one copy match the "
			    "checkpoint's (max rel. error %.2g / %.2g <= %.0g)", mn, r->cname, m,
			    e0, e1, tol);
		}
	}
	free(ref);
	be->ops->free(be, x);
	be->ops->free(be, y[0]);
	be->ops->free(be, y[1]);
	be->ops->expert_destroy(be, e);
	tap_result(r->cpu->packed_bytes == cpu0 && r->gpu->packed_bytes == gpu0 &&
	    r->gpu->shared_bytes == sh0 && r->cpu->borrowed_bytes == bor0,
	    "%s %s: destroying the expert gives its bytes back on both sides", mn, r->cname);
	be->ops->destroy(be);
}

/* Partition mode: each expert packed for its one device, nothing shared. */
static void test_partition(struct rig *r)
{
	const struct phimoe_expert *ex = &r->m.layers[LAYER].experts[EXPERT];
	struct sm_expert_desc d = { .name = "model.layers.1.block_sparse_moe.experts.5",
				    .w1 = ex->w1, .w3 = ex->w3, .w2 = ex->w2 };
	struct sm_backend *be = split_open(r, SM_SPLIT_PARTITION, "experts[1]=gpu");
	uint64_t sh0 = r->gpu->shared_bytes, bor0 = r->cpu->borrowed_bytes;
	struct sm_expert_view v[2];
	struct sm_expert *e = NULL;
	int vrc[2] = { 0, 0 };

	if (!be)
		return;
	if (be->ops->expert_create(be, &d, &e) == 0) {
		sm_split_expert_views(be, e, v, vrc);
		be->ops->expert_destroy(be, e);
	}
	tap_result(e && vrc[0] == -ENOENT && vrc[1] == 0 && r->gpu->shared_bytes == sh0 &&
	    r->cpu->borrowed_bytes == bor0,
	    "partition %s: an iGPU expert is packed for the iGPU only, not shared", r->cname);
	be->ops->destroy(be);
}

/* Weights a whole session holds: CPU only against expert-parallel. */
static uint64_t session_bytes(struct rig *r, struct sm_backend *be, uint64_t *shared)
{
	struct phimoe_session_opts so = {
		.compute = r->compute == SM_BACKEND_BF16 ? SM_COMPUTE_BF16 : SM_COMPUTE_F32,
		.max_seq = 8, .max_batch = 8, .backend = be,
	};
	struct phimoe_session *s = NULL;
	char err[256] = "";
	uint64_t bytes;

	if (phimoe_session_create(&r->m, &so, &s, err, sizeof(err))) {
		tap_result(0, "%s session: %s", r->cname, err);
		return 0;
	}
	bytes = be->packed_bytes;
	*shared = be->shared_bytes;
	phimoe_session_destroy(s);
	return bytes;
}

static void test_session(struct rig *r)
{
	const struct phimoe_config *k = &r->m.cfg;
	uint64_t esz = r->compute == SM_BACKEND_BF16 ? 2 : 4;
	uint64_t experts = 3ull * k->intermediate_size * k->hidden_size * esz *
			   k->num_local_experts * k->num_hidden_layers;
	uint64_t cpu_sh = 0, split_sh = 0, cpu_only, split;
	struct sm_backend *be = split_open(r, SM_SPLIT_EXPERT_PARALLEL, "");

	if (!be)
		return;
	cpu_only = session_bytes(r, r->cpu, &cpu_sh);
	split = session_bytes(r, be, &split_sh);
	printf("# %s weights: cpu-only session %llu bytes; expert-parallel %llu bytes, of which "
	       "%llu shared (experts %llu)\n", r->cname, (unsigned long long)cpu_only,
	       (unsigned long long)split, (unsigned long long)split_sh,
	       (unsigned long long)experts);
	tap_result(cpu_only && split && split_sh == experts && split <= cpu_only + cpu_only / 100,
	    "%s: an expert-parallel session holds %.3f MB of weights, the CPU-only one %.3f MB "
	    "(<= 1%% more; the iGPU's own bf16 copies were %.3f MB more)", r->cname,
	    split / 1e6, cpu_only / 1e6, experts / esz * 2 / 1e6);
	tap_result(r->cpu->packed_bytes == 0 && r->gpu->packed_bytes == 0 &&
	    r->cpu->borrowed_bytes == 0 && r->gpu->shared_bytes == 0,
	    "%s: after the sessions no weight bytes are held", r->cname);
	be->ops->destroy(be);
}

static void run_compute(struct rig *r, enum sm_backend_compute compute)
{
	char err[512] = "";

	if (rig_open(r, compute, err, sizeof(err))) {
		tap_result(0, "%s set-up: %s", r->cname, err);
		rig_close(r);
		return;
	}
	test_expert_once(r, SM_SPLIT_EXPERT_PARALLEL);
	test_expert_once(r, SM_SPLIT_DYNAMIC);
	test_partition(r);
	test_session(r);
	rig_close(r);
}

int main(int argc, char **argv)
{
	struct rig r = { 0 };
	char err[512] = "";

	if (argc != 3) {
		fprintf(stderr, "usage: %s MODEL_DIR KERNEL_DIR\n", argv[0]);
		return 2;
	}
	r.kernels = argv[2];
	if (phimoe_model_load(argv[1], &r.m, err, sizeof(err))) {
		tap_result(0, "model: %s", err);
		return 1;
	}
	run_compute(&r, SM_BACKEND_F32);
	if (dmm_cpu_has_bf16())
		run_compute(&r, SM_BACKEND_BF16);
	else
		tap_skip("no bf16 matmul on this CPU", "bf16: one copy read by both devices");
	phimoe_model_free(&r.m);
	return tap_failures() ? 1 : 0;
}
