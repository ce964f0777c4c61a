// SPDX-License-Identifier: MIT
/*
 * splitmoe quantize --model DIR --out DIR2 --type int8|q4
 *                   [--tensors attention,experts,lm_head,router] [--threads N]
 *
 * Writes DIR2 (quantize.h, README "Quantized model files"): the quantized
 * model.safetensors, config.json with splitmoe_quantization, and DIR's
 * other files (tokenizer, generation config, reference) copied. Written
 * into a temporary directory beside DIR2 and renamed into place once it
 * loads (out_dir.h); DIR2 must be absent or empty.
 */
#include "cli.h"
#include "util/errbuf.h"
#include "model/json_file.h"
#include "out_dir.h"
#include "quantize.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The progress line: checkpoint bytes read so far, MB/s. */
struct progress {
	uint64_t done, total, t0_ns, last_ns;
	bool tty;
};

static void progress(struct progress *pr, bool force)
{
	uint64_t t = now_ns();
	double s = (t - pr->t0_ns) / 1e9;

	if (!force && t - pr->last_ns < (pr->tty ? 200000000ull : 2000000000ull))
		return;
	pr->last_ns = t;
	fprintf(stderr, "%squantize: %.1f of %.1f MB read, %.1f MB/s%s", pr->tty ? "\r" : "",
		pr->done / 1e6, pr->total / 1e6, s > 0 ? pr->done / 1e6 / s : 0.0,
		pr->tty ? "" : "\n");
}

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

/* dir/model.safetensors of plan p. */
static int write_file(const struct qz_plan *p, const char *dir, char *err, size_t errlen)
{
	struct progress pr = { .total = p->src_bytes, .tty = isatty(2) };
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
	pr.t0_ns = pr.last_ns = now_ns();
	for (size_t i = 0; i < p->n && !rc; i++) {
		if (out_dir_stopped())
			rc = sm_errf(err, errlen, "interrupted by signal %d", out_dir_stopped());
		else
			rc = write_entry(fd, p, i, data_start, path, err, errlen);
		if (!p->e[i].scales)
			pr.done += p->e[i].copy ? p->e[i].nbytes : p->e[i].src->nbytes;
		progress(&pr, false);
	}
	if (!rc) {
		progress(&pr, true);
		if (pr.tty)
			fputc('\n', stderr);
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
	json_object_object_add(q, "format", json_object_new_string(sm_quant_name(p->q)));
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

/* The written directory loads: its weights per token, for the summary. */
static int check_loads(const char *dir, struct phimoe_model_stats *st, char *err, size_t errlen)
{
	struct phimoe_model m;

	if (phimoe_model_load(dir, &m, err, errlen))
		return -1;
	phimoe_model_stats(&m, st);
	phimoe_model_free(&m);
	return 0;
}

int cmd_quantize(struct cli_opts *o)
{
	struct phimoe_model m;
	struct phimoe_model_stats before, after;
	struct qz_plan p;
	struct out_dir od;
	char err[PHIMOE_ERRLEN], cls[96];
	uint64_t t0;
	int rc;

	if (!o->have_model || !o->quant_type) {
		cli_err("quantize: --model DIR, --out DIR2 and --type int8|q4 are required");
		return 2;
	}
	if (o->cfg.threads > 0)
		omp_set_num_threads(o->cfg.threads);
	if (phimoe_model_load(o->cfg.model, &m, err, sizeof(err))) {
		cli_err("%s", err);
		return 1;
	}
	if (m.cfg.quant != PHIMOE_QUANT_NONE) {
		cli_err("quantize: %s is already quantized (%s); quantize its checkpoint",
			o->cfg.model, phimoe_quant_name(m.cfg.quant));
		phimoe_model_free(&m);
		return 1;
	}
	if (qz_plan_build(&m, (enum sm_quant)o->quant_type, o->quant_tensors, &p, err,
			  sizeof(err))) {
		cli_err("%s", err);
		phimoe_model_free(&m);
		return 1;
	}
	rc = out_dir_open("quantize", o->out, &od);
	if (rc) {
		qz_plan_free(&p);
		phimoe_model_free(&m);
		return rc > 0 ? rc : 1;
	}
	qz_classes_text(p.classes, cls, sizeof(cls));
	phimoe_model_stats(&m, &before);
	fprintf(stderr, "quantize: %s to %s (%s): %zu tensors quantized, %zu copied, %.1f MB "
		"-> %.1f MB, into %s\n", o->cfg.model, sm_quant_name(p.q), cls, p.quantized,
		p.n - 2 * p.quantized, p.src_bytes / 1e6, p.data_bytes / 1e6, od.tmp);
	t0 = now_ns();
	rc = 1;
	err[0] = '\0';
	if (!write_file(&p, od.tmp, err, sizeof(err)) &&
	    !write_config(o->cfg.model, od.tmp, &p, err, sizeof(err)) &&
	    !copy_others(o->cfg.model, od.tmp, err, sizeof(err)) &&
	    !check_loads(od.tmp, &after, err, sizeof(err)) &&
	    !out_dir_commit(&od, err, sizeof(err))) {
		double s = (now_ns() - t0) / 1e9;

		fprintf(stderr, "quantize: wrote %s in %.1f s (%.1f MB/s read); weights %.1f MB "
			"(were %.1f), read per decoded token %.1f MB (were %.1f)\n", o->out, s,
			s > 0 ? p.src_bytes / 1e6 / s : 0.0, after.bytes / 1e6, before.bytes / 1e6,
			after.active_bytes_per_token / 1e6, before.active_bytes_per_token / 1e6);
		rc = 0;
	} else {
		cli_err("quantize: %s; removed %s", err[0] ? err : "failed", od.tmp);
	}
	out_dir_close(&od);
	qz_plan_free(&p);
	phimoe_model_free(&m);
	return rc;
}
