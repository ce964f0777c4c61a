/* SPDX-License-Identifier: MIT */
/*
 * The CPU/iGPU split scheduler on the software GPU: the plan's text form
 * and placement rules, then the fixture's reference (f32) through every
 * split mode, each device gated by its own arbiter client. A mode passes
 * when the fixture's criteria hold, greedy ids included: the same tokens as
 * the CPU-only run, which is checked first against the same reference.
 *
 * usage: split_test MODEL_DIR KERNEL_DIR
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/options.h"
#include "config/split_rules.h"
#include "arbiter/arbiter.h"
#include "tests/eval/eval_reference.h"
#include "sched/scheduler.h"
#include "ze/ze_backend.h"
#include "tap.h"

static void test_plan(void)
{
	struct sm_split_plan p = { 0 };
	char err[256] = "";
	static const char *const bad[] = {
		"attention", "attention=tpu", "mlp=gpu", "experts[3-1]=gpu", "experts[x]=gpu",
		"experts[2=gpu",
	};
	int rc = sm_split_plan_parse("attention=cpu,experts=gpu,experts[2-3]=cpu,head=gpu", &p, err,
				     sizeof(err));

	tap_result(rc == 0 && p.n_rules == 4 &&
	    sm_split_place(&p, SM_STAGE_EXPERTS, 0) == SM_DEV_GPU &&
	    sm_split_place(&p, SM_STAGE_EXPERTS, 2) == SM_DEV_CPU &&
	    sm_split_place(&p, SM_STAGE_EXPERTS, 3) == SM_DEV_CPU &&
	    sm_split_place(&p, SM_STAGE_EXPERTS, 4) == SM_DEV_GPU &&
	    sm_split_place(&p, SM_STAGE_ROUTER, 0) == SM_DEV_CPU &&
	    sm_split_place(&p, SM_STAGE_HEAD, -1) == SM_DEV_GPU,
	    "split rules: stages, layer ranges, later rules win, CPU by default");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		rc = sm_split_plan_parse(bad[i], &p, err, sizeof(err));
		tap_result(rc == -22 && strstr(err, bad[i]), "bad split rule '%s' refused: %s", bad[i], err);
	}
	{
		enum sm_split_mode m;

		tap_result(!sm_split_mode_parse("expert-parallel", &m) && m == SM_SPLIT_EXPERT_PARALLEL &&
		    !sm_split_mode_parse("dynamic", &m) && m == SM_SPLIT_DYNAMIC &&
		    sm_split_mode_parse("fast", &m) == -22, "split modes by name");
	}
}

struct rig {
	const char *model, *ref;
	struct sm_arbiter *arb;
	struct sm_arb_client *cpu_cl, *gpu_cl;
	struct sm_backend *cpu, *gpu;
};

static void run_mode(struct rig *r, enum sm_split_mode mode, const char *rules, int want_both,
		     int want_overlap)
{
	struct sm_split_opts so = { .cpu = r->cpu, .gpu = r->gpu };
	struct sm_backend *be = NULL;
	struct eval_opts eo = { .compute = SM_COMPUTE_F32 };
	struct eval_result *res = calloc(1, sizeof(*res));
	struct sm_split_stats st;
	struct sm_arb_client_stats c0, c1, c0b, c1b;
	char err[256] = "";
	int rc;

	so.plan.mode = mode;
	rc = sm_split_plan_parse(rules, &so.plan, err, sizeof(err));
	if (!rc)
		rc = sm_split_backend_create(&so, &be, err, sizeof(err));
	if (rc || !res) {
		tap_result(0, "%s '%s': %s", sm_split_mode_name(mode), rules, err);
		free(res);
		return;
	}
	sm_arb_client_get_stats(r->cpu_cl, &c0);
	sm_arb_client_get_stats(r->gpu_cl, &c1);
	eo.backend = be;
	rc = splitmoe_eval(r->model, r->ref, &eo, NULL, res);
	sm_split_backend_stats(be, &st);
	sm_arb_client_get_stats(r->cpu_cl, &c0b);
	sm_arb_client_get_stats(r->gpu_cl, &c1b);
	printf("# %s '%s': ops cpu %llu gpu %llu, experts cpu %llu gpu %llu, overlapped %llu, "
	       "drains %llu, rates %.0f/%.0f MB/s, acquires cpu %llu gpu %llu, %.0f/%.0f tok/s\n",
	       sm_split_mode_name(mode), rules, (unsigned long long)st.ops[0],
	       (unsigned long long)st.ops[1], (unsigned long long)st.experts[0],
	       (unsigned long long)st.experts[1], (unsigned long long)st.overlapped,
	       (unsigned long long)st.gpu_drains, st.rate_mb_s[0], st.rate_mb_s[1],
	       (unsigned long long)(c0b.acquires - c0.acquires),
	       (unsigned long long)(c1b.acquires - c1.acquires), res->prefill_tok_s,
	       res->decode_tok_s);
	tap_result(rc == 0 && res->pass, "%s '%s': fixture f32 criteria, greedy ids as the CPU run",
	    sm_split_mode_name(mode), rules);
	if (want_both)
		tap_result(st.ops[0] > 0 && st.ops[1] > 0 && c0b.acquires > c0.acquires &&
		    c1b.acquires > c1.acquires && c0b.completed_bytes == c0b.granted_bytes &&
		    c1b.completed_bytes == c1b.granted_bytes,
		    "%s '%s': both devices ran, each through its own arbiter client",
		    sm_split_mode_name(mode), rules);
	if (want_overlap)
		tap_result(st.experts[0] > 0 && st.experts[1] > 0 && st.overlapped > 0,
		    "%s: CPU experts ran while the iGPU had experts queued (%llu times)",
		    sm_split_mode_name(mode), (unsigned long long)st.overlapped);
	be->ops->destroy(be);
	free(res);
}

int main(int argc, char **argv)
{
	struct rig r = { 0 };
	struct sm_arbiter_opts ao = { .kind = SM_ARB_PROCESS };
	struct sm_arb_client_opts cc = { .name = "splitmoe-cpu", .class = SM_ARB_CLASS_CPU,
					 .weight = 100, .reserve_mbps = 1000,
					 .burst_bytes = 64ull << 20 };
	struct sm_arb_client_opts gc = { .name = "splitmoe-gpu", .class = SM_ARB_CLASS_GPU,
					 .weight = 100, .reserve_mbps = 1000,
					 .burst_bytes = 64ull << 20 };
	struct sm_cpu_backend_opts co = { .compute = SM_BACKEND_F32, .threads = 1 };
	struct sm_ze_backend_opts zo = { .compute = SM_BACKEND_F32 };
	struct eval_opts eo = { .compute = SM_COMPUTE_F32 };
	struct eval_result *res = calloc(1, sizeof(*res));
	char err[512] = "", ref[4200];
	int rc;

	if (argc != 3 || !res) {
		fprintf(stderr, "usage: %s MODEL_DIR KERNEL_DIR\n", argv[0]);
		return 2;
	}
	test_plan();
	snprintf(ref, sizeof(ref), "%s/reference.json", argv[1]);
	r.model = argv[1];
	r.ref = ref;
	zo.kernel_dir = argv[2];
	rc = sm_arbiter_open(&ao, &r.arb, err, sizeof(err));
	if (!rc)
		rc = sm_arb_client_open(r.arb, &cc, &r.cpu_cl, err, sizeof(err));
	if (!rc)
		rc = sm_arb_client_open(r.arb, &gc, &r.gpu_cl, err, sizeof(err));
	co.gate = r.cpu_cl;
	zo.gate = r.gpu_cl;
	if (!rc)
		rc = sm_cpu_backend_create(&co, &r.cpu, err, sizeof(err));
	if (!rc)
		rc = sm_ze_backend_create(&zo, &r.gpu, err, sizeof(err));
	if (rc) {
		tap_result(0, "set-up: %s", err);
		return 1;
	}
	eo.backend = r.cpu;
	rc = splitmoe_eval(r.model, ref, &eo, NULL, res);
	tap_result(rc == 0 && res->pass, "CPU-only run meets the fixture (the tokens the splits must match)");

	run_mode(&r, SM_SPLIT_PARTITION, "attention=cpu,router=cpu,experts=gpu", 1, 0);
	run_mode(&r, SM_SPLIT_PARTITION, "attention=gpu,router=gpu,experts=cpu,head=gpu", 1, 0);
	run_mode(&r, SM_SPLIT_PARTITION, "attention[0]=gpu,experts[1-1]=gpu", 1, 0);
	run_mode(&r, SM_SPLIT_EXPERT_PARALLEL, "attention=cpu,router=cpu,experts=cpu", 1, 1);
	run_mode(&r, SM_SPLIT_DYNAMIC, "attention=gpu,router=gpu,experts=gpu", 1, 0);

	r.gpu->ops->destroy(r.gpu);
	r.cpu->ops->destroy(r.cpu);
	sm_arb_client_close(r.cpu_cl);
	sm_arb_client_close(r.gpu_cl);
	sm_arbiter_close(r.arb);
	free(res);
	return tap_failures() ? 1 : 0;
}
