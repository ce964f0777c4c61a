// SPDX-License-Identifier: MIT
/*
 * The public API's model-directory writers (splitmoe_quantize and
 * splitmoe_synth, libsplitmoe/api_quantize.c, api_synth.c; ASan and UBSan)
 * on fixture A: a quantized directory loads and gives the logits of
 * quantizing at load, bit for bit; the progress callback sees START, DATA,
 * FINISH and can stop a write, leaving nothing; a non-empty out_dir, a
 * quantized model and bad parameters are refused with their codes; a
 * synthesized checkpoint loads with its shape, the same bytes for a seed.
 *   test_api_files FIXTURE_DIR
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "splitmoe.h"

static const char *fixture;
static char work[] = "/tmp/splitmoe-api-files-XXXXXX";

static char *path(const char *name)
{
	static char buf[8][512];
	static int i;
	char *p = buf[i++ % 8];

	snprintf(p, sizeof(buf[0]), "%s/%s", work, name);
	return p;
}

static bool exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

/* Entries of work whose names start with prefix (the writers' temporaries). */
static int count_prefixed(const char *prefix)
{
	DIR *d = opendir(work);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, prefix, strlen(prefix));
	closedir(d);
	return n;
}

static void *read_all(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	void *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* The last token's logits of ids on model dir, with quant at load. */
static float *logits_of(const char *dir, splitmoe_quant q, int *vocab)
{
	static const int32_t ids[] = { 1, 17, 42, 99, 3, 250, 7 };
	struct splitmoe_session_params sp = splitmoe_session_default_params();
	splitmoe_model *m = NULL;
	splitmoe_session *s = NULL;
	char err[512] = "";
	float *out;

	assert_int_equal(splitmoe_model_load(dir, NULL, &m, err, sizeof(err)), SPLITMOE_OK);
	sp.quant = q;
	sp.compute = SPLITMOE_COMPUTE_F32;
	sp.arbiter = SPLITMOE_ARBITER_OFF;
	assert_int_equal(splitmoe_session_create(m, &sp, &s, err, sizeof(err)), SPLITMOE_OK);
	assert_int_equal(splitmoe_prefill(s, ids, (int)(sizeof(ids) / sizeof(ids[0]))),
			 SPLITMOE_OK);
	*vocab = splitmoe_model_vocab(m);
	out = malloc((size_t)*vocab * sizeof(*out));
	assert_non_null(out);
	memcpy(out, splitmoe_logits(s), (size_t)*vocab * sizeof(*out));
	splitmoe_session_free(s);
	splitmoe_model_free(m);
	return out;
}

/* What the quantize callback saw. */
struct seen {
	int start, data, finish;
	bool ordered;			/* START first, FINISH last, done_bytes not falling */
	uint64_t last_done;
	int stop_at;			/* return false at this DATA call (0: never) */
	char tmp[512];
};

static bool on_quantize(const struct splitmoe_quantize_report *r, void *user)
{
	struct seen *s = user;

	if (r->stage == SPLITMOE_WRITE_START) {
		s->ordered &= !s->start && !s->data && !s->finish && r->done_bytes == 0;
		s->start++;
		snprintf(s->tmp, sizeof(s->tmp), "%s", r->tmp_dir);
	} else if (r->stage == SPLITMOE_WRITE_DATA) {
		s->ordered &= s->start == 1 && !s->finish && r->done_bytes >= s->last_done;
		s->data++;
	} else {
		s->ordered &= s->data > 0 && r->done_bytes == r->read_bytes;
		s->finish++;
	}
	s->ordered &= exists(r->tmp_dir);
	s->last_done = r->done_bytes;
	return !(s->stop_at && s->data == s->stop_at);
}

static void t_quantize_loads(void **state)
{
	struct splitmoe_quantize_params p = splitmoe_quantize_default_params();
	struct splitmoe_quantize_report r;
	struct seen seen = { .ordered = true };
	char err[512] = "";
	float *file, *load;
	int v1, v2;

	(void)state;
	p.type = SPLITMOE_QUANT_Q4;
	p.threads = 2;
	p.progress = on_quantize;
	p.progress_user = &seen;
	assert_int_equal(splitmoe_quantize(fixture, path("a-q4"), &p, &r, err, sizeof(err)),
			 SPLITMOE_OK);
	assert_true(seen.ordered);
	assert_int_equal(seen.start, 1);
	assert_int_equal(seen.finish, 1);
	assert_true(seen.data > 0);
	assert_false(exists(seen.tmp));	/* renamed in */
	assert_int_equal(r.stage, SPLITMOE_WRITE_FINISH);
	assert_null(r.tmp_dir);
	assert_string_equal(r.format, "q4");
	assert_string_equal(r.classes, "attention,experts,lm_head");
	assert_true(r.tensors_quantized > 0 && r.tensors_copied > 0);
	assert_true(r.write_bytes < r.read_bytes);
	assert_true(r.weight_bytes_after < r.weight_bytes_before);
	assert_true(r.token_bytes_after < r.token_bytes_before);
	assert_true(exists(path("a-q4/tokenizer.model")));
	assert_true(exists(path("a-q4/reference.json")));
	/* the file's codes are --quant at load's */
	file = logits_of(path("a-q4"), SPLITMOE_QUANT_NONE, &v1);
	load = logits_of(fixture, SPLITMOE_QUANT_Q4, &v2);
	assert_int_equal(v1, v2);
	assert_memory_equal(file, load, (size_t)v1 * sizeof(float));
	free(file);
	free(load);
	/* a quantized model is not quantized again */
	assert_int_equal(splitmoe_quantize(path("a-q4"), path("twice"), NULL, NULL, err,
					   sizeof(err)), SPLITMOE_ERR_MODEL);
	assert_non_null(strstr(err, "is already quantized (q4)"));
	assert_false(exists(path("twice")));
}

static void t_quantize_refuses(void **state)
{
	struct splitmoe_quantize_params p = splitmoe_quantize_default_params();
	char err[512] = "";
	FILE *f;

	(void)state;
	assert_int_equal(mkdir(path("full"), 0755), 0);
	f = fopen(path("full/x"), "w");
	assert_non_null(f);
	fputs("keep", f);
	fclose(f);
	assert_int_equal(splitmoe_quantize(fixture, path("full"), NULL, NULL, err, sizeof(err)),
			 SPLITMOE_ERR_IO);
	assert_non_null(strstr(err, "exists and is not empty"));
	assert_null(strchr(err, '\n'));
	assert_int_equal(count_prefixed(".full."), 0);
	assert_string_not_equal(splitmoe_status_str(SPLITMOE_ERR_IO), "unknown status");
	/* parameters */
	p.type = SPLITMOE_QUANT_NONE;
	assert_int_equal(splitmoe_quantize(fixture, path("x"), &p, NULL, err, sizeof(err)),
			 SPLITMOE_ERR_INVALID);
	p = splitmoe_quantize_default_params();
	p.classes = 0;
	assert_int_equal(splitmoe_quantize(fixture, path("x"), &p, NULL, err, sizeof(err)),
			 SPLITMOE_ERR_INVALID);
	p.classes = 16;
	assert_int_equal(splitmoe_quantize(fixture, path("x"), &p, NULL, err, sizeof(err)),
			 SPLITMOE_ERR_INVALID);
	assert_int_equal(splitmoe_quantize(fixture, NULL, NULL, NULL, err, sizeof(err)),
			 SPLITMOE_ERR_INVALID);
	assert_int_equal(splitmoe_quantize("/nonexistent/model", path("x"), NULL, NULL, err,
					   sizeof(err)), SPLITMOE_ERR_MODEL);
	assert_non_null(strstr(err, "/nonexistent/model"));
	assert_false(exists(path("x")));
	assert_string_equal(splitmoe_quantize_class_name(SPLITMOE_QUANTIZE_ATTENTION), "attention");
	assert_string_equal(splitmoe_quantize_class_name(SPLITMOE_QUANTIZE_ROUTER), "router");
	assert_null(splitmoe_quantize_class_name(3));
	assert_null(splitmoe_quantize_class_name(16));
}

/* The callback says stop in the middle: no out_dir, no temporary. */
static void t_quantize_stopped(void **state)
{
	struct splitmoe_quantize_params p = splitmoe_quantize_default_params();
	struct seen seen = { .ordered = true, .stop_at = 3 };
	char err[512] = "";

	(void)state;
	p.progress = on_quantize;
	p.progress_user = &seen;
	assert_int_equal(splitmoe_quantize(fixture, path("stopped"), &p, NULL, err, sizeof(err)),
			 SPLITMOE_ERR_INTERRUPTED);
	assert_int_equal(seen.data, 3);
	assert_int_equal(seen.finish, 0);
	assert_non_null(strstr(err, "stopped"));
	assert_false(exists(path("stopped")));
	assert_int_equal(count_prefixed(".stopped."), 0);
}

static bool on_synth(const struct splitmoe_synth_report *r, void *user)
{
	struct seen *s = user;

	if (r->stage == SPLITMOE_WRITE_START)
		s->start++;
	else if (r->stage == SPLITMOE_WRITE_DATA)
		s->data++;
	else
		s->finish++;
	s->ordered &= r->done_bytes <= r->total_bytes && exists(r->tmp_dir);
	return !(s->stop_at && s->data == s->stop_at);
}

static void t_synth(void **state)
{
	struct splitmoe_synth_params p = splitmoe_synth_default_params();
	struct splitmoe_synth_report r;
	struct seen seen = { .ordered = true };
	splitmoe_model *m = NULL;
	char err[512] = "";
	void *a, *b, *c;
	size_t la, lb, lc;

	(void)state;
	assert_string_equal(splitmoe_synth_shape_name(SPLITMOE_SYNTH_PHI_TINY_MOE), "phi-tiny-moe");
	assert_string_equal(splitmoe_synth_shape_name(SPLITMOE_SYNTH_TINY), "tiny");
	assert_null(splitmoe_synth_shape_name(SPLITMOE_SYNTH_SHAPES));
	p.shape = SPLITMOE_SYNTH_TINY;
	p.seed = 7;
	p.progress = on_synth;
	p.progress_user = &seen;
	assert_int_equal(splitmoe_synth(path("s7"), &p, &r, err, sizeof(err)), SPLITMOE_OK);
	assert_true(seen.ordered);
	assert_int_equal(seen.start, 1);
	assert_int_equal(seen.finish, 1);
	assert_true(seen.data >= r.shards);
	assert_int_equal(r.done_bytes, r.total_bytes);
	assert_string_equal(r.shape, "tiny");
	assert_string_equal(r.dtype, "bf16");
	assert_int_equal(r.layers, 2);
	assert_int_equal(r.shards, 2);
	assert_int_equal(splitmoe_model_load(path("s7"), NULL, &m, err, sizeof(err)), SPLITMOE_OK);
	assert_int_equal(splitmoe_model_layers(m), 2);
	assert_int_equal(splitmoe_model_hidden(m), 128);
	assert_int_equal(splitmoe_model_vocab(m), 512);
	assert_int_equal(splitmoe_model_bytes(m), r.total_bytes);
	splitmoe_model_free(m);
	/* the same seed, the same bytes; another seed, others */
	p.progress = NULL;
	assert_int_equal(splitmoe_synth(path("s7b"), &p, NULL, err, sizeof(err)), SPLITMOE_OK);
	p.seed = 8;
	assert_int_equal(splitmoe_synth(path("s8"), &p, NULL, err, sizeof(err)), SPLITMOE_OK);
	a = read_all(path("s7/model-00001-of-00002.safetensors"), &la);
	b = read_all(path("s7b/model-00001-of-00002.safetensors"), &lb);
	c = read_all(path("s8/model-00001-of-00002.safetensors"), &lc);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	assert_int_equal(la, lc);
	assert_memory_not_equal(a, c, la);
	free(a);
	free(b);
	free(c);
	/* f32, one layer */
	p.f32 = true;
	p.layers = 1;
	assert_int_equal(splitmoe_synth(path("f32"), &p, &r, err, sizeof(err)), SPLITMOE_OK);
	assert_string_equal(r.dtype, "f32");
	assert_int_equal(splitmoe_model_load(path("f32"), NULL, &m, err, sizeof(err)), SPLITMOE_OK);
	assert_int_equal(splitmoe_model_layers(m), 1);
	splitmoe_model_free(m);
}

static void t_synth_refuses(void **state)
{
	struct splitmoe_synth_params p = splitmoe_synth_default_params();
	struct seen seen = { .ordered = true, .stop_at = 1 };
	char err[512] = "";

	(void)state;
	p.shape = SPLITMOE_SYNTH_TINY;
	/* t_quantize_refuses's non-empty directory */
	assert_int_equal(splitmoe_synth(path("full"), &p, NULL, err, sizeof(err)), SPLITMOE_ERR_IO);
	assert_non_null(strstr(err, "exists and is not empty"));
	p.layers = -1;
	assert_int_equal(splitmoe_synth(path("y"), &p, NULL, err, sizeof(err)),
			 SPLITMOE_ERR_INVALID);
	p.layers = 0;
	p.shape = SPLITMOE_SYNTH_SHAPES;
	assert_int_equal(splitmoe_synth(path("y"), &p, NULL, err, sizeof(err)),
			 SPLITMOE_ERR_INVALID);
	p.shape = SPLITMOE_SYNTH_TINY;
	assert_int_equal(splitmoe_synth(path("."), &p, NULL, err, sizeof(err)),
			 SPLITMOE_ERR_INVALID);
	p.progress = on_synth;
	p.progress_user = &seen;
	assert_int_equal(splitmoe_synth(path("y"), &p, NULL, err, sizeof(err)),
			 SPLITMOE_ERR_INTERRUPTED);
	assert_int_equal(seen.finish, 0);
	assert_false(exists(path("y")));
	assert_int_equal(count_prefixed(".y."), 0);
}

static int remove_work(void)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
	return system(cmd);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_quantize_loads),
		cmocka_unit_test(t_quantize_refuses),
		cmocka_unit_test(t_quantize_stopped),
		cmocka_unit_test(t_synth),
		cmocka_unit_test(t_synth_refuses),
	};
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FIXTURE_DIR\n", argv[0]);
		return 2;
	}
	fixture = argv[1];
	if (!mkdtemp(work)) {
		perror("mkdtemp");
		return 1;
	}
	rc = cmocka_run_group_tests_name("api_files", tests, NULL, NULL);
	if (remove_work())
		fprintf(stderr, "could not remove %s\n", work);
	return rc;
}
