// SPDX-License-Identifier: MIT
/*
 * Mapped weights (backend.h: weights mapped|packed|auto): oneDNN reads the
 * checkpoint tensors in place, no copy. Checks that the weight handles
 * point inside the safetensors mapping and nothing is packed; that the
 * reference criteria hold in both layouts (bf16 on the bf16 fixture, f32
 * on its f32 variant, build/runtime/variants/as_f32 from
 * tests/runtime/make_bad_fixtures.py); that mapped is refused with a
 * clear error where the dtype is not the compute type; and that a mapped
 * session's resident memory is below a packed one's by about the packed
 * bytes (/proc/self/statm, anonymous pages).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "cpu/dnnl_matmul.h"
#include "tests/eval/eval_reference.h"
#include "engine/inference.h"
#include "model/model.h"
#include "reference_criteria.h"
#include "model/safetensors.h"

#define FIXTURE_F32 "build/runtime/variants/as_f32"
/* 100 MB of bf16 experts (tests/gpu/make_wide_model.py): a packed copy
 * that dwarfs oneDNN's own per-primitive memory */
#define WIDE_MODEL "build/wide-model"

/* The bf16 fixture and its f32 copy, each with the compute type that
 * can read it in place. */
struct variant {
	const char *dir;
	enum sm_backend_compute compute;
	struct phimoe_model m;
};

static struct variant variants[2] = {
	{ .dir = FIXTURE, .compute = SM_BACKEND_BF16 },
	{ .dir = FIXTURE_F32, .compute = SM_BACKEND_F32 },
};

static int setup(void **st)
{
	char err[PHIMOE_ERRLEN];

	(void)st;
	for (int i = 0; i < 2; i++)
		if (phimoe_model_load(variants[i].dir, &variants[i].m, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			return -1;
		}
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	for (int i = 0; i < 2; i++)
		phimoe_model_free(&variants[i].m);
	return 0;
}

/* bf16 needs AVX512-BF16 or AMX in oneDNN 2.6 (test_fixture checks the
 * refusal elsewhere). */
static bool runnable(const struct variant *v)
{
	return v->compute == SM_BACKEND_F32 || dmm_cpu_has_bf16();
}

static const char *cname(enum sm_backend_compute c)
{
	return c == SM_BACKEND_BF16 ? "bf16" : "f32";
}

/* Whether [p, p + n) lies inside one tensor of the checkpoint mapping. */
static bool in_mapping(const struct phimoe_model *m, const void *p, size_t n)
{
	const char *q = p;

	for (size_t i = 0; q && i < st_count(m->ckpt); i++) {
		const struct st_tensor *t = st_at(m->ckpt, i);
		const char *b = t->data;

		if (q >= b && q + n <= b + t->nbytes)
			return true;
	}
	return false;
}

static struct sm_backend *backend(enum sm_backend_compute c, enum sm_weights_layout w)
{
	struct sm_cpu_backend_opts o = { .compute = c, .threads = 2, .max_rows = 8, .weights = w };
	struct sm_backend *be = NULL;
	char err[256];
	int rc = sm_cpu_backend_create(&o, &be, err, sizeof(err));

	if (rc)
		fprintf(stderr, "cpu backend: %s\n", err);
	assert_int_equal(rc, 0);
	return be;
}

/* mapped: every weight handle is the checkpoint tensor itself; packed:
 * none is, and the copy is counted. */
static void check_handles(struct variant *v, enum sm_weights_layout w)
{
	const struct phimoe_layer *ml = &v->m.layers[1];
	const struct phimoe_expert *ex = &ml->experts[5];
	struct sm_expert_desc ed = { .name = "experts.5", .w1 = ex->w1, .w3 = ex->w3, .w2 = ex->w2 };
	struct sm_linear_desc qd = {
		.name = "qkv", .nparts = 3,
		.w = { ml->q_w, ml->k_w, ml->v_w }, .b = { ml->q_b, ml->k_b, ml->v_b },
	};
	const struct phimoe_tensor *want[3] = { &ex->w1, &ex->w3, &ex->w2 };
	struct sm_backend *be = backend(v->compute, w);
	struct sm_expert *e = NULL;
	struct sm_linear *l = NULL;
	struct sm_expert_view view;
	uint64_t ebytes = ex->w1.nbytes + ex->w3.nbytes + ex->w2.nbytes;
	uint64_t qbytes = ml->q_w.nbytes + ml->k_w.nbytes + ml->v_w.nbytes;

	assert_int_equal(be->ops->expert_create(be, &ed, &e), 0);
	assert_int_equal(be->ops->linear_create(be, &qd, &l), 0);
	if (w == SM_WEIGHTS_MAPPED) {
		for (int i = 0; i < 3; i++) {
			const void *p = sm_cpu_expert_weight_data(e, i);

			printf("# %s expert part %d: oneDNN reads %p, the checkpoint's %s is at %p\n",
			       cname(v->compute), i, p, want[i]->name, want[i]->data);
			assert_ptr_equal(p, want[i]->data);
			assert_true(in_mapping(&v->m, p, want[i]->nbytes));
			assert_ptr_equal(sm_cpu_linear_weight_data(l, i), qd.w[i].data);
			assert_true(in_mapping(&v->m, qd.w[i].data, qd.w[i].nbytes));
		}
		assert_int_equal(be->packed_bytes, 0);
		assert_int_equal(be->mapped_bytes, ebytes + qbytes);
		/* w1 and w3 are apart: no fused view to lend another device */
		assert_int_equal(sm_be_expert_view(be, e, &view), -EOPNOTSUPP);
	} else {
		for (int i = 0; i < 3; i++) {
			const void *p = sm_cpu_expert_weight_data(e, i);

			assert_false(p && in_mapping(&v->m, p, 1));
			p = sm_cpu_linear_weight_data(l, i);
			assert_false(p && in_mapping(&v->m, p, 1));
		}
		printf("# %s packed: %llu bytes held for %llu bytes of checkpoint\n",
		       cname(v->compute), (unsigned long long)be->packed_bytes,
		       (unsigned long long)(ebytes + qbytes));
		assert_true(be->packed_bytes >= ebytes + qbytes);
	}
	be->ops->expert_destroy(be, e);
	be->ops->linear_destroy(be, l);
	assert_int_equal(be->packed_bytes, 0);
	assert_int_equal(be->mapped_bytes, 0);
	be->ops->destroy(be);
}

static void test_handles_in_mapping(void **st)
{
	(void)st;
	for (int i = 0; i < 2; i++) {
		if (!runnable(&variants[i]))
			continue;
		check_handles(&variants[i], SM_WEIGHTS_MAPPED);
		check_handles(&variants[i], SM_WEIGHTS_PACKED);
	}
}

static void test_eval_f32_mapped_and_packed(void **st)
{
	(void)st;
	check_reference_criteria(FIXTURE_F32, SM_COMPUTE_F32, SM_WEIGHTS_MAPPED);
	check_reference_criteria(FIXTURE_F32, SM_COMPUTE_F32, SM_WEIGHTS_PACKED);
}

static void test_eval_bf16_mapped_and_packed(void **st)
{
	(void)st;
	if (!dmm_cpu_has_bf16())
		skip();
	check_reference_criteria(FIXTURE, SM_COMPUTE_BF16, SM_WEIGHTS_MAPPED);
	check_reference_criteria(FIXTURE, SM_COMPUTE_BF16, SM_WEIGHTS_PACKED);
}

/* mapped with a dtype that is not the compute type: refused, naming the
 * tensor; auto packs it instead. */
static void test_mapped_needs_compute_dtype(void **st)
{
	struct phimoe_session_opts o = {
		.compute = SM_COMPUTE_F32, .max_seq = 8, .weights = SM_WEIGHTS_MAPPED,
	};
	struct phimoe_session *s = NULL;
	struct phimoe_session_stats ss;
	char err[256] = "";

	(void)st;
	assert_int_not_equal(phimoe_session_create(&variants[0].m, &o, &s, err, sizeof(err)), 0);
	printf("# %s\n", err);
	assert_non_null(strstr(err, "weights mapped: model.layers.0."));
	assert_non_null(strstr(err, "is bf16, the compute type f32"));
	o.weights = SM_WEIGHTS_AUTO;
	assert_int_equal(phimoe_session_create(&variants[0].m, &o, &s, err, sizeof(err)), 0);
	phimoe_session_get_stats(s, &ss);
	assert_true(ss.packed_weight_bytes > 0);
	phimoe_session_destroy(s);
}

/* ASan's quarantine keeps every freed block resident (the packing's
 * conversion buffers among them), which would count as packed memory: this
 * binary frees at once, like glibc (the other suites keep the quarantine). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=0";
}

/* Resident anonymous bytes (resident - shared pages of /proc/self/statm). */
static uint64_t anon_resident(void)
{
	unsigned long size, resident, shared;
	FILE *f = fopen("/proc/self/statm", "r");
	int n;

	assert_non_null(f);
	n = fscanf(f, "%lu %lu %lu", &size, &resident, &shared);
	fclose(f);
	assert_int_equal(n, 3);
	return (uint64_t)(resident - shared) * (uint64_t)sysconf(_SC_PAGESIZE);
}

static const int32_t prompt[] = { 1, 398, 428, 407, 399, 305, 306, 398, 373, 293, 400 };

/* A session with a prefill done; its anonymous resident growth in *grew. */
static struct phimoe_session *measured_session(struct variant *v, enum sm_weights_layout w,
					       uint64_t *grew)
{
	struct phimoe_session_opts o = {
		.compute = v->compute == SM_BACKEND_BF16 ? SM_COMPUTE_BF16 : SM_COMPUTE_F32,
		/* one row at a time: the primitives of one row bucket */
		.threads = 1, .max_seq = 32, .max_batch = 1, .weights = w,
	};
	struct phimoe_session *s = NULL;
	char err[256];
	uint64_t r0 = anon_resident();

	assert_int_equal(phimoe_session_create(&v->m, &o, &s, err, sizeof(err)), 0);
	assert_int_equal(phimoe_prefill(s, prompt, (int)(sizeof(prompt) / sizeof(prompt[0])),
					NULL), 0);
	*grew = anon_resident() - r0;
	return s;
}

/*
 * Both sessions stay alive so that the second cannot reuse the first's
 * freed pages; the checkpoint is read in full first so that its file
 * pages are resident (and not counted: they are shared) before either.
 */
static void test_resident_memory(void **st)
{
	struct variant wide = { .dir = WIDE_MODEL, .compute = SM_BACKEND_BF16 };
	struct variant *v = dmm_cpu_has_bf16() ? &wide : &variants[1];
	char err[PHIMOE_ERRLEN];
	struct phimoe_session *sm, *sp;
	struct phimoe_session_stats stm, stp;
	uint64_t dm, dp, diff;
	volatile unsigned sum = 0;

	(void)st;
	/* both sessions on oneDNN alone (not our few-row kernels, which need
	 * no primitives), so that both make the primitives of one row bucket
	 * per shape and differ by the packed copy */
	setenv("SPLITMOE_GEMV_ROWS", "0", 1);
	if (v == &wide && phimoe_model_load(wide.dir, &wide.m, err, sizeof(err))) {
		print_message("%s\n", err);
		fail();
	}
	for (size_t i = 0; i < st_count(v->m.ckpt); i++) {
		const struct st_tensor *t = st_at(v->m.ckpt, i);

		for (size_t b = 0; b < t->nbytes; b += 64)
			sum += ((const unsigned char *)t->data)[b];
	}
	sm = measured_session(v, SM_WEIGHTS_MAPPED, &dm);
	sp = measured_session(v, SM_WEIGHTS_PACKED, &dp);
	phimoe_session_get_stats(sm, &stm);
	phimoe_session_get_stats(sp, &stp);
	diff = dp > dm ? dp - dm : 0;
	printf("# %s: anonymous resident growth mapped %.1f kB, packed %.1f kB, difference %.1f kB; "
	       "packed bytes %.1f kB (mapped session: packed %.1f kB, mapped %.1f kB)\n",
	       cname(v->compute), dm / 1e3, dp / 1e3, diff / 1e3, stp.packed_weight_bytes / 1e3,
	       stm.packed_weight_bytes / 1e3, stm.mapped_weight_bytes / 1e3);
	assert_int_equal(stm.packed_weight_bytes, 0);
	assert_true(stm.mapped_weight_bytes > 0);
	assert_true(stp.packed_weight_bytes > 0);
	/* the difference is the packed copy and the difference of the work
	 * memory (oneDNN's scratchpads for B blocks differ between the
	 * layouts), give or take allocator slack (ASan's shadow adds an
	 * eighth) */
	int64_t want = (int64_t)stp.packed_weight_bytes + (int64_t)stp.workspace_bytes -
		       (int64_t)stm.workspace_bytes;

	printf("# %s: expected difference %.1f kB (workspace mapped %.1f kB, packed %.1f kB)\n",
	       v->dir, want / 1e3, stm.workspace_bytes / 1e3, stp.workspace_bytes / 1e3);
	assert_true(want > 0);
	assert_true((int64_t)diff >= want * 3 / 4);
	assert_true((int64_t)diff <= want * 3 / 2);
	phimoe_session_destroy(sp);
	phimoe_session_destroy(sm);
	unsetenv("SPLITMOE_GEMV_ROWS");
	if (v == &wide)
		phimoe_model_free(&wide.m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* first: the others leave freed, resident pages behind */
		cmocka_unit_test(test_resident_memory),
		cmocka_unit_test(test_handles_in_mapping),
		cmocka_unit_test(test_eval_f32_mapped_and_packed),
		cmocka_unit_test(test_eval_bf16_mapped_and_packed),
		cmocka_unit_test(test_mapped_needs_compute_dtype),
	};

	return cmocka_run_group_tests_name("numerics-mapped-weights", tests, setup, teardown);
}
