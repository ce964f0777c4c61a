// SPDX-License-Identifier: MIT
/*
 * splitmoe_quantize (include/splitmoe.h): writes the plan's
 * model.safetensors (api_quantize.h), config.json with
 * splitmoe_quantization, and the model directory's other files
 * (tokenizer, generation config, reference) copied, into a temporary
 * directory beside out_dir renamed into place once it loads
 * (api_out_dir.h).
 */
#include "api_out_dir.h"
#include "api_quantize.h"
#include "model/json_file.h"
#include "util/errbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t w = pwrite(fd, p, len, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* Entry i's data (and, for codes, its scales') at their offsets. */
static int write_entry(int fd, const struct qz_plan *p, size_t i, uint64_t data_start,
		       const char *path, char *err, size_t errlen)
{
	const struct qz_entry *e = &p->e[i];
	struct sm_qweight w;
	int rc;

	if (e->copy) {
		struct phimoe_tensor t = { .data = e->copy->data, .nbytes = e->nbytes };

		if (pwrite_all(fd, e->copy->data, e->nbytes, data_start + e->offset))
			return sm_errf(err, errlen, "%s: %s", path, strerror(errno));
		phimoe_tensor_release(&t);	/* read once: out of the resident set */
		return 0;
	}
	if (e->scales)
		return 0;	/* with its codes */
	rc = sm_qweight_make(e->src, p->q, &w);
	if (rc)
		return sm_errf(err, errlen, "quantize: tensor '%s': %s", e->name, strerror(-rc));
	rc = pwrite_all(fd, w.q, e->nbytes, data_start + e->offset) ||
	     pwrite_all(fd, w.scale, p->e[e->pair].nbytes, data_start + p->e[e->pair].offset);
	sm_qweight_free(&w);
	if (rc)
		return sm_errf(err, errlen, "%s: %s", path, strerror(errno));
	phimoe_tensor_release(e->src);
	return 0;
}

/* The caller's progress callback: false stops the call. */
struct qz_run {
	struct splitmoe_quantize_report r;
	splitmoe_quantize_progress_fn fn;
	void *user;
};

static bool go_on(struct qz_run *run, splitmoe_write_stage stage)
{
	run->r.stage = stage;
	return !run->fn || run->fn(&run->r, run->user);
}

/* dir/model.safetensors of plan p. 0, -1 with one line in err, or 1 when
 * the progress callback said stop. */
static int write_file(const struct qz_plan *p, const char *dir, struct qz_run *run, char *err,
		      size_t errlen)
{
	uint64_t data_start = 8 + p->header_len;
	unsigned char le[8];
	char path[2 * PATH_MAX];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return sm_errf(err, errlen, "%s: %s", path, strerror(errno));
	for (int i = 0; i < 8; i++)	/* little-endian u64 */
		le[i] = (unsigned char)((uint64_t)p->header_len >> (8 * i));
	if (pwrite_all(fd, le, 8, 0) || pwrite_all(fd, p->header, p->header_len, 8) ||
	    ftruncate(fd, (off_t)(data_start + p->data_bytes))) {
		rc = sm_errf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < p->n && !rc; i++) {
		rc = write_entry(fd, p, i, data_start, path, err, errlen);
		if (!p->e[i].scales)
			run->r.done_bytes += p->e[i].copy ? p->e[i].nbytes : p->e[i].src->nbytes;
		if (!rc && !go_on(run, SPLITMOE_WRITE_DATA))
			rc = 1;
	}
	if (!rc && fsync(fd))
		rc = sm_errf(err, errlen, "%s: %s", path, strerror(errno));
out:
	if (close(fd) && !rc)
		rc = sm_errf(err, errlen, "%s: %s", path, strerror(errno));
	return rc;
}

static int copy_file(const char *from, const char *to, char *err, size_t errlen)
{
	char buf[1 << 16];
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
	uint64_t off = 0;
	ssize_t r;

	if (in < 0)
		return sm_errf(err, errlen, "%s: %s", from, strerror(errno));
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		sm_errf(err, errlen, "%s: %s", to, strerror(errno));
		goto done;
	}
	while ((r = read(in, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			sm_errf(err, errlen, "%s: %s", from, strerror(errno));
			goto done;
		}
		if (pwrite_all(out, buf, (size_t)r, off)) {
			sm_errf(err, errlen, "%s: %s", to, strerror(errno));
			goto done;
		}
		off += (uint64_t)r;
	}
	rc = 0;
done:
	if (out >= 0 && close(out) && !rc)
		rc = sm_errf(err, errlen, "%s: %s", to, strerror(errno));
	close(in);
	return rc;
}

/* Whether a file of the model directory is the checkpoint (rewritten). */
static bool is_checkpoint(const char *name)
{
	size_t n = strlen(name), s = strlen(".safetensors");

	return !strcmp(name, "config.json") || !strcmp(name, "model.safetensors.index.json") ||
	       (n >= s && !strcmp(name + n - s, ".safetensors"));
}

/* Every other regular file of src (tokenizer, generation config, ...). */
static int copy_others(const char *src, const char *dst, char *err, size_t errlen)
{
	DIR *d = opendir(src);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return sm_errf(err, errlen, "%s: %s", src, strerror(errno));
	while (!rc && (e = readdir(d))) {
		char from[2 * PATH_MAX], to[2 * PATH_MAX];
		struct stat st;

		if (e->d_name[0] == '.' || is_checkpoint(e->d_name))
			continue;
		snprintf(from, sizeof(from), "%s/%s", src, e->d_name);
		if (stat(from, &st) || !S_ISREG(st.st_mode))
			continue;
		snprintf(to, sizeof(to), "%s/%s", dst, e->d_name);
		rc = copy_file(from, to, err, errlen);
	}
	closedir(d);
	return rc;
}

/* config.json of src with splitmoe_quantization added. */
static int write_config(const char *src, const char *dst, const struct qz_plan *p,
			char *err, size_t errlen)
{
	char from[2 * PATH_MAX], to[2 * PATH_MAX], cls[96];
	struct json_object *o, *q;

	snprintf(from, sizeof(from), "%s/config.json", src);
	snprintf(to, sizeof(to), "%s/config.json", dst);
	if (sm_json_load_object(from, &o, err, errlen))
		return -1;
	q = json_object_new_object();
	if (!q) {
		json_object_put(o);
		return sm_errf(err, errlen, "quantize: out of memory");
	}
	qz_classes_text(p->classes, cls, sizeof(cls));
	json_object_object_add(q, "format", json_object_new_string(sm_quant_format_name(p->q)));
	json_object_object_add(q, "group_size", json_object_new_int(SM_Q4_GROUP));
	json_object_object_add(q, "version", json_object_new_int(PHIMOE_QUANT_VERSION));
	json_object_object_add(q, "tensors", json_object_new_string(cls));
	json_object_object_add(o, PHIMOE_QUANT_CONFIG_KEY, q);
	if (json_object_to_file_ext(to, o, JSON_C_TO_STRING_PRETTY |
				    JSON_C_TO_STRING_NOSLASHESCAPE)) {
		json_object_put(o);
		return sm_errf(err, errlen, "%s: %s", to, json_util_get_last_err());
	}
	json_object_put(o);
	return 0;
}

/* The written directory loads: its weights per token, for the report. */
static int check_loads(const char *dir, struct phimoe_model_stats *st, char *err, size_t errlen)
{
	struct phimoe_model m;

	if (phimoe_model_load(dir, &m, err, errlen))
		return -1;
	phimoe_model_stats(&m, st);
	phimoe_model_free(&m);
	return 0;
}

struct splitmoe_quantize_params splitmoe_quantize_default_params(void)
{
	return (struct splitmoe_quantize_params){
		.type = SPLITMOE_QUANT_INT8,
		.classes = SPLITMOE_QUANTIZE_DEFAULT,
	};
}

/* The new directory, from the loaded checkpoint m and its plan. */
static splitmoe_status write_dir(const char *model_dir, const char *out,
				 const struct qz_plan *p, struct qz_run *run, char *err,
				 size_t errlen)
{
	struct phimoe_model_stats after;
	struct out_dir od;
	char msg[PHIMOE_ERRLEN];
	splitmoe_status st;
	int rc;

	st = out_dir_open("quantize", out, &od, err, errlen);
	if (st)
		return st;
	run->r.tmp_dir = od.tmp;
	msg[0] = '\0';
	st = SPLITMOE_ERR_INTERRUPTED;
	if (!go_on(run, SPLITMOE_WRITE_START))
		goto out;
	st = SPLITMOE_ERR_IO;
	rc = write_file(p, od.tmp, run, msg, sizeof(msg));
	if (rc > 0)
		st = SPLITMOE_ERR_INTERRUPTED;
	if (rc || write_config(model_dir, od.tmp, p, msg, sizeof(msg)) ||
	    copy_others(model_dir, od.tmp, msg, sizeof(msg)))
		goto out;
	st = SPLITMOE_ERR_MODEL;	/* what it wrote does not load */
	if (check_loads(od.tmp, &after, msg, sizeof(msg)))
		goto out;
	run->r.weight_bytes_after = after.bytes;
	run->r.token_bytes_after = after.active_bytes_per_token;
	st = SPLITMOE_ERR_INTERRUPTED;
	if (!go_on(run, SPLITMOE_WRITE_FINISH))
		goto out;
	st = SPLITMOE_ERR_IO;
	if (out_dir_commit(&od, msg, sizeof(msg)))
		goto out;
	st = SPLITMOE_OK;
out:
	st = out_dir_end(&od, "quantize", st, msg, err, errlen);
	run->r.tmp_dir = NULL;
	return st;
}

splitmoe_status splitmoe_quantize(const char *model_dir, const char *out_dir,
				  const struct splitmoe_quantize_params *params,
				  struct splitmoe_quantize_report *report, char *err,
				  size_t errlen)
{
	struct splitmoe_quantize_params dp = splitmoe_quantize_default_params();
	const struct splitmoe_quantize_params *pp = params ? params : &dp;
	struct qz_run run = { .fn = pp->progress, .user = pp->progress_user };
	struct phimoe_model_stats before;
	struct phimoe_model m;
	struct qz_plan plan;
	enum sm_quant q;
	splitmoe_status st;
	int rc;

	if (report)
		memset(report, 0, sizeof(*report));
	if (pp->type == SPLITMOE_QUANT_INT8)
		q = SM_QUANT_INT8;
	else if (pp->type == SPLITMOE_QUANT_Q4)
		q = SM_QUANT_Q4;
	else {
		sm_errf(err, errlen, "quantize: type %d: want int8 or q4", (int)pp->type);
		return SPLITMOE_ERR_INVALID;
	}
	if (!pp->classes || pp->classes & ~(unsigned)(SPLITMOE_QUANTIZE_DEFAULT |
						      SPLITMOE_QUANTIZE_ROUTER)) {
		sm_errf(err, errlen, "quantize: classes 0x%x: want a mask of SPLITMOE_QUANTIZE_*",
			pp->classes);
		return SPLITMOE_ERR_INVALID;
	}
	if (!model_dir || !out_dir || pp->threads < 0) {
		sm_errf(err, errlen, "quantize: %s", !model_dir ? "no model directory" :
			!out_dir ? "--out DIR is required" : "threads: want 0 or more");
		return SPLITMOE_ERR_INVALID;
	}
	if (pp->threads > 0)
		omp_set_num_threads(pp->threads);
	if (phimoe_model_load(model_dir, &m, err, errlen))
		return SPLITMOE_ERR_MODEL;
	if (m.cfg.quant != PHIMOE_QUANT_NONE) {
		sm_errf(err, errlen, "quantize: %s is already quantized (%s); quantize its checkpoint",
			model_dir, phimoe_quant_name(m.cfg.quant));
		phimoe_model_free(&m);
		return SPLITMOE_ERR_MODEL;
	}
	rc = qz_plan_build(&m, q, pp->classes, &plan, err, errlen);
	if (rc) {
		phimoe_model_free(&m);
		return rc == -ENOMEM ? SPLITMOE_ERR_NOMEM : SPLITMOE_ERR_MODEL;
	}
	phimoe_model_stats(&m, &before);
	run.r.format = sm_quant_format_name(q);
	qz_classes_text(plan.classes, run.r.classes, sizeof(run.r.classes));
	run.r.tensors_quantized = plan.quantized;
	run.r.tensors_copied = plan.n - 2 * plan.quantized;
	run.r.read_bytes = plan.src_bytes;
	run.r.write_bytes = plan.data_bytes;
	run.r.weight_bytes_before = before.bytes;
	run.r.token_bytes_before = before.active_bytes_per_token;
	st = write_dir(model_dir, out_dir, &plan, &run, err, errlen);
	if (report)
		*report = run.r;
	qz_plan_free(&plan);
	phimoe_model_free(&m);
	return st;
}
