// SPDX-License-Identifier: MIT
/*
 * Quantized model files in the library (cmocka, TAP): the directories
 * tests/runtime/quant_files.sh wrote from fixture A (WORK/a-int8,
 * WORK/a-q4) hold exactly the codes and scales --quant makes at load;
 * the CPU backend reads them in place (its weight pointers are the
 * mapping's, nothing packed); a session on the file gives the logits of a
 * session quantizing at load, bit for bit, in prefill and decode.
 *   test_qfiles FIXTURE_A WORK_DIR
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/options.h"
#include "backend/backend.h"
#include "engine/inference.h"
#include "model/model.h"
#include "cpu/quant.h"
#include "model/safetensors.h"

static const char *fixture, *work;

struct pair {
	struct phimoe_model src, file;
	enum sm_quant q;
};

static void load(struct pair *p, enum sm_quant q)
{
	char dir[4096], err[PHIMOE_ERRLEN];

	p->q = q;
	snprintf(dir, sizeof(dir), "%s/a-%s", work, sm_quant_name(q));
	if (phimoe_model_load(fixture, &p->src, err, sizeof(err)) ||
	    phimoe_model_load(dir, &p->file, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(p->file.cfg.quant, (int)q);
	assert_int_equal(p->file.cfg.quant_group, SM_Q4_GROUP);
}

static void unload(struct pair *p)
{
	phimoe_model_free(&p->src);
	phimoe_model_free(&p->file);
}

/* Whether [p, p + n) lies inside one tensor of the file's mapping. */
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

/* The file's codes and scales are sm_qweight_make's of the checkpoint. */
static void check_codes(const struct phimoe_tensor *src, const struct phimoe_tensor *file,
			enum sm_quant q)
{
	struct sm_qweight w;
	size_t codes = q == SM_QUANT_INT8 ? src->numel : src->numel / 2;

	assert_int_equal(file->quant, (int)q);
	assert_int_equal(file->shape[0], src->shape[0]);
	assert_int_equal(file->shape[1], src->shape[1]);
	assert_int_equal(sm_qweight_make(src, q, &w), 0);
	assert_int_equal(file->nbytes, codes);
	assert_int_equal(file->nbytes + file->scale_nbytes, w.bytes);
	assert_memory_equal(file->data, w.q, codes);
	assert_memory_equal(file->scale, w.scale, file->scale_nbytes);
	/* the slow path dequantizes: code times scale */
	for (size_t i = 0; i < src->numel; i += 37) {
		float v = phimoe_tensor_get(file, i), s = phimoe_tensor_get(src, i);
		float step = phimoe_f16_to_f32(((const uint16_t *)file->scale)[i / SM_Q4_GROUP]);

		assert_true(v - s <= 0.5001f * step + 1e-12f && s - v <= 0.5001f * step + 1e-12f);
	}
	sm_qweight_free(&w);
}

static void test_codes(void **st)
{
	(void)st;
	for (int q = SM_QUANT_INT8; q <= SM_QUANT_Q4; q++) {
		struct pair p;

		load(&p, (enum sm_quant)q);
		for (int l = 0; l < p.src.cfg.num_hidden_layers; l++) {
			const struct phimoe_layer *a = &p.src.layers[l], *b = &p.file.layers[l];

			check_codes(&a->q_w, &b->q_w, (enum sm_quant)q);
			check_codes(&a->k_w, &b->k_w, (enum sm_quant)q);
			check_codes(&a->v_w, &b->v_w, (enum sm_quant)q);
			check_codes(&a->o_w, &b->o_w, (enum sm_quant)q);
			for (int e = 0; e < p.src.cfg.num_local_experts; e++) {
				check_codes(&a->experts[e].w1, &b->experts[e].w1, (enum sm_quant)q);
				check_codes(&a->experts[e].w3, &b->experts[e].w3, (enum sm_quant)q);
				check_codes(&a->experts[e].w2, &b->experts[e].w2, (enum sm_quant)q);
			}
			/* kept at the checkpoint's precision */
			assert_int_equal(b->router_w.quant, PHIMOE_QUANT_NONE);
			assert_int_equal(b->router_w.dtype, a->router_w.dtype);
			assert_memory_equal(b->router_w.data, a->router_w.data, a->router_w.nbytes);
		}
		check_codes(&p.src.lm_head_w, &p.file.lm_head_w, (enum sm_quant)q);
		assert_int_equal(p.file.embed_tokens.quant, PHIMOE_QUANT_NONE);
		unload(&p);
	}
}

/* The backend's weight pointers are the file's mapping; nothing packed. */
static void test_backend_reads_in_place(void **st)
{
	(void)st;
	for (int q = SM_QUANT_INT8; q <= SM_QUANT_Q4; q++) {
		struct sm_cpu_backend_opts o = { .compute = SM_BACKEND_F32, .threads = 2, .max_rows = 8 };
		struct pair p;
		struct sm_backend *be = NULL;
		struct sm_linear *l = NULL;
		struct sm_expert *e = NULL;
		char err[256];

		load(&p, (enum sm_quant)q);
		const struct phimoe_layer *ml = &p.file.layers[1];
		const struct phimoe_expert *ex = &ml->experts[5];
		struct sm_expert_desc ed = { .name = "experts.5", .w1 = ex->w1, .w3 = ex->w3,
					     .w2 = ex->w2 };
		struct sm_linear_desc qd = {
			.name = "qkv", .nparts = 3,
			.w = { ml->q_w, ml->k_w, ml->v_w }, .b = { ml->q_b, ml->k_b, ml->v_b },
		};
		const struct phimoe_tensor *want[3] = { &ex->w1, &ex->w3, &ex->w2 };
		uint64_t bytes = 0;

		if (sm_cpu_backend_create(&o, &be, err, sizeof(err)))
			fail_msg("cpu backend: %s", err);
		assert_int_equal(be->ops->expert_create(be, &ed, &e), 0);
		assert_int_equal(be->ops->linear_create(be, &qd, &l), 0);
		for (int i = 0; i < 3; i++) {
			assert_ptr_equal(sm_cpu_expert_weight_data(e, i), want[i]->data);
			assert_ptr_equal(sm_cpu_linear_weight_data(l, i), qd.w[i].data);
			assert_true(in_mapping(&p.file, want[i]->data, want[i]->nbytes));
			assert_true(in_mapping(&p.file, qd.w[i].data, qd.w[i].nbytes));
			bytes += want[i]->nbytes + want[i]->scale_nbytes + qd.w[i].nbytes +
				 qd.w[i].scale_nbytes;
		}
		printf("# %s: the backend reads %llu bytes of the file in place, packs %llu\n",
		       sm_quant_name((enum sm_quant)q), (unsigned long long)be->mapped_bytes,
		       (unsigned long long)be->packed_bytes);
		assert_int_equal(be->packed_bytes, 0);
		assert_int_equal(be->mapped_bytes, bytes);
		be->ops->expert_destroy(be, e);
		be->ops->linear_destroy(be, l);
		/* --quant of the other format is refused, naming the tensor */
		struct sm_cpu_backend_opts o2 = o;

		o2.quant = q == SM_QUANT_INT8 ? SM_QUANT_Q4 : SM_QUANT_INT8;
		be->ops->destroy(be);
		if (sm_cpu_backend_create(&o2, &be, err, sizeof(err)))
			fail_msg("cpu backend: %s", err);
		assert_int_equal(be->ops->linear_create(be, &qd, &l), -EINVAL);
		assert_non_null(strstr(be->last_error, ml->q_w.name));
		be->ops->destroy(be);
		unload(&p);
	}
}

/* Prefill and decode logits of the file equal --quant at load's. */
static void test_logits_bitwise(void **st)
{
	static const int32_t ids[] = { 1, 17, 42, 99, 3, 250, 7, 300, 12, 480, 5, 64 };
	const int n = (int)(sizeof(ids) / sizeof(ids[0]));

	(void)st;
	for (int q = SM_QUANT_INT8; q <= SM_QUANT_Q4; q++) {
		struct phimoe_session_opts so = { .compute = SM_COMPUTE_F32, .threads = 2,
						  .max_seq = 64 };
		struct phimoe_session *sa = NULL, *sb = NULL;
		struct pair p;
		char err[PHIMOE_ERRLEN];
		int V;

		load(&p, (enum sm_quant)q);
		V = p.src.cfg.vocab_size;
		float *la = malloc(sizeof(float) * (size_t)n * V), *lb = malloc(sizeof(float) * (size_t)n * V);

		assert_non_null(la);
		assert_non_null(lb);
		if (phimoe_session_create(&p.file, &so, &sb, err, sizeof(err)))
			fail_msg("%s", err);
		so.quant = (enum sm_quant)q;
		if (phimoe_session_create(&p.src, &so, &sa, err, sizeof(err)))
			fail_msg("%s", err);
		assert_int_equal(phimoe_prefill(sa, ids, n, &(struct phimoe_prefill_out){ .logits = la }), 0);
		assert_int_equal(phimoe_prefill(sb, ids, n, &(struct phimoe_prefill_out){ .logits = lb }), 0);
		assert_memory_equal(la, lb, sizeof(float) * (size_t)n * V);
		for (int t = 0; t < 4; t++) {
			const float *da, *db;

			assert_int_equal(phimoe_decode(sa, ids[t], &da), 0);
			assert_int_equal(phimoe_decode(sb, ids[t], &db), 0);
			assert_memory_equal(da, db, sizeof(float) * (size_t)V);
		}
		printf("# %s: %d prefill positions and 4 decode steps bit for bit equal\n",
		       sm_quant_name((enum sm_quant)q), n);
		phimoe_session_destroy(sa);
		phimoe_session_destroy(sb);
		free(la);
		free(lb);
		unload(&p);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codes),
		cmocka_unit_test(test_backend_reads_in_place),
		cmocka_unit_test(test_logits_bitwise),
	};

	if (argc != 3) {
		fprintf(stderr, "usage: %s FIXTURE_A WORK_DIR\n", argv[0]);
		return 2;
	}
	fixture = argv[1];
	work = argv[2];
	return cmocka_run_group_tests_name("quantized model files", tests, NULL, NULL);
}
