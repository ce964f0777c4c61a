// SPDX-License-Identifier: MIT
/*
 * Safetensors reader: 8-byte little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
 * then the data, offsets relative to the data start.
 */
#include "util/errbuf.h"
#include "model/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

/* A header larger than this is corrupt, not a model (real ones are ~MBs). */
#define ST_MAX_HEADER (100u << 20)

struct st_file {
	char *path;
	const char *base;	/* points into path */
	void *map;
	size_t size;
};

struct phimoe_checkpoint {
	struct st_file *files;
	size_t nfiles;
	struct st_tensor *tensors;	/* sorted by name once all are read */
	size_t ntensors, cap;
};

static int parse_dtype(const char *s, enum phimoe_dtype *dt)
{
	if (!strcmp(s, "BF16"))
		*dt = PHIMOE_DTYPE_BF16;
	else if (!strcmp(s, "F16"))
		*dt = PHIMOE_DTYPE_F16;
	else if (!strcmp(s, "F32"))
		*dt = PHIMOE_DTYPE_F32;
	else if (!strcmp(s, "I8"))
		*dt = PHIMOE_DTYPE_I8;
	else if (!strcmp(s, "U8"))
		*dt = PHIMOE_DTYPE_U8;
	else
		return -1;
	return 0;
}

static int cmp_tensor_name(const void *a, const void *b)
{
	return strcmp(((const struct st_tensor *)a)->name,
		      ((const struct st_tensor *)b)->name);
}

/* Offsets within one file, for the overlap check. */
struct span {
	uint64_t begin, end;
	const char *name;
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static bool get_u64(struct json_object *o, uint64_t *v)
{
	int64_t x;

	if (!o || !json_object_is_type(o, json_type_int))
		return false;
	errno = 0;
	x = json_object_get_int64(o);
	if (x < 0 || errno)
		return false;
	*v = (uint64_t)x;
	return true;
}

static int push_tensor(struct phimoe_checkpoint *c, const struct st_tensor *t)
{
	if (c->ntensors == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 256;
		struct st_tensor *n = realloc(c->tensors, ncap * sizeof(*n));

		if (!n)
			return -1;
		c->tensors = n;
		c->cap = ncap;
	}
	c->tensors[c->ntensors++] = *t;
	return 0;
}

/* Parse and check one file's header entry for tensor `name`. */
static int parse_entry(struct phimoe_checkpoint *c, struct st_file *f,
		       const char *name, struct json_object *e,
		       size_t data_start, struct span *sp,
		       char *err, size_t errlen)
{
	struct json_object *jd, *js, *jo;
	struct st_tensor t = { 0 };
	uint64_t numel = 1, b, en, data_len = f->size - data_start;
	size_t i, n, esz;

	if (!json_object_is_type(e, json_type_object) ||
	    !json_object_object_get_ex(e, "dtype", &jd) ||
	    !json_object_object_get_ex(e, "shape", &js) ||
	    !json_object_object_get_ex(e, "data_offsets", &jo) ||
	    !json_object_is_type(jd, json_type_string) ||
	    !json_object_is_type(js, json_type_array) ||
	    !json_object_is_type(jo, json_type_array) ||
	    json_object_array_length(jo) != 2)
		return sm_errf(err, errlen, "%s: tensor '%s': malformed header entry",
			    f->path, name);
	if (parse_dtype(json_object_get_string(jd), &t.dtype))
		return sm_errf(err, errlen, "%s: tensor '%s': unsupported dtype %s (want BF16, F16, F32, or I8/U8 codes)",
			    f->path, name, json_object_get_string(jd));
	n = json_object_array_length(js);
	if (n > ST_MAX_DIMS)
		return sm_errf(err, errlen, "%s: tensor '%s': %zu dimensions", f->path, name, n);
	for (i = 0; i < n; i++) {
		uint64_t d;

		if (!get_u64(json_object_array_get_idx(js, i), &d) ||
		    d > (uint64_t)INT64_MAX || (d && numel > UINT64_MAX / d / 4))
			return sm_errf(err, errlen, "%s: tensor '%s': bad shape", f->path, name);
		t.shape[i] = (int64_t)d;
		numel *= d;
	}
	t.ndim = (int)n;
	if (!get_u64(json_object_array_get_idx(jo, 0), &b) ||
	    !get_u64(json_object_array_get_idx(jo, 1), &en) || b > en)
		return sm_errf(err, errlen, "%s: tensor '%s': bad data_offsets", f->path, name);
	esz = phimoe_dtype_size(t.dtype);
	if (en > data_len)
		return sm_errf(err, errlen, "%s: tensor '%s': data_offsets [%llu, %llu] run past the end of the file (%llu data bytes)",
			    f->path, name, (unsigned long long)b,
			    (unsigned long long)en, (unsigned long long)data_len);
	if (en - b != numel * esz)
		return sm_errf(err, errlen, "%s: tensor '%s': data_offsets span %llu bytes but shape and dtype need %llu",
			    f->path, name, (unsigned long long)(en - b),
			    (unsigned long long)(numel * esz));
	if ((data_start + b) % esz)
		return sm_errf(err, errlen, "%s: tensor '%s': data not aligned to its %zu-byte elements",
			    f->path, name, esz);
	t.name = strdup(name);
	if (!t.name)
		return sm_errf(err, errlen, "%s: out of memory", f->path);
	t.file = f->path;
	t.numel = numel;
	t.nbytes = en - b;
	t.data = (const char *)f->map + data_start + b;
	sp->begin = b;
	sp->end = en;
	sp->name = t.name;
	if (push_tensor(c, &t)) {
		free((char *)t.name);
		return sm_errf(err, errlen, "%s: out of memory", f->path);
	}
	return 0;
}

static int parse_header(struct phimoe_checkpoint *c, struct st_file *f,
			char *err, size_t errlen)
{
	const unsigned char *p = f->map;
	struct json_tokener *tok;
	struct json_object *root;
	struct span *spans = NULL;
	size_t nspans = 0, i, data_start;
	uint64_t hlen = 0;
	int rc = -1;

	if (f->size < 8)
		return sm_errf(err, errlen, "%s: truncated: %zu bytes, no header", f->path, f->size);
	for (i = 0; i < 8; i++)
		hlen |= (uint64_t)p[i] << (8 * i);
	if (hlen > ST_MAX_HEADER || hlen > f->size - 8)
		return sm_errf(err, errlen, "%s: truncated or corrupt: header of %llu bytes in a %zu-byte file",
			    f->path, (unsigned long long)hlen, f->size);
	data_start = 8 + (size_t)hlen;
	tok = json_tokener_new();
	if (!tok)
		return sm_errf(err, errlen, "%s: out of memory", f->path);
	root = json_tokener_parse_ex(tok, (const char *)p + 8, (int)hlen);
	if (!root || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(root, json_type_object)) {
		sm_errf(err, errlen, "%s: header is not a JSON object", f->path);
		goto out;
	}
	spans = calloc(json_object_object_length(root) + 1, sizeof(*spans));
	if (!spans) {
		sm_errf(err, errlen, "%s: out of memory", f->path);
		goto out;
	}
	{
		json_object_object_foreach(root, key, val) {
			if (!strcmp(key, "__metadata__"))
				continue;
			if (parse_entry(c, f, key, val, data_start,
					&spans[nspans], err, errlen))
				goto out;
			nspans++;
		}
	}
	qsort(spans, nspans, sizeof(*spans), cmp_span);
	for (i = 1; i < nspans; i++) {
		if (spans[i].begin < spans[i - 1].end) {
			sm_errf(err, errlen, "%s: tensor '%s' overlaps tensor '%s' (data_offsets %llu < %llu)",
			     f->path, spans[i].name, spans[i - 1].name,
			     (unsigned long long)spans[i].begin,
			     (unsigned long long)spans[i - 1].end);
			goto out;
		}
	}
	rc = 0;
out:
	free(spans);
	if (root)
		json_object_put(root);
	json_tokener_free(tok);
	return rc;
}

static int map_file(struct phimoe_checkpoint *c, const char *path,
		    char *err, size_t errlen)
{
	struct st_file *f, *nf;
	struct stat st;
	const char *slash;
	int fd;

	nf = realloc(c->files, (c->nfiles + 1) * sizeof(*nf));
	if (!nf)
		return sm_errf(err, errlen, "%s: out of memory", path);
	c->files = nf;
	f = &c->files[c->nfiles];
	memset(f, 0, sizeof(*f));
	f->path = strdup(path);
	if (!f->path)
		return sm_errf(err, errlen, "%s: out of memory", path);
	slash = strrchr(f->path, '/');
	f->base = slash ? slash + 1 : f->path;
	c->nfiles++;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sm_errf(err, errlen, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return sm_errf(err, errlen, "%s: not a regular file", path);
	}
	f->size = (size_t)st.st_size;
	if (f->size) {
		f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (f->map == MAP_FAILED) {
			f->map = NULL;
			close(fd);
			return sm_errf(err, errlen, "%s: mmap: %s", path, strerror(errno));
		}
	}
	close(fd);
	return parse_header(c, f, err, errlen);
}

static int finish(struct phimoe_checkpoint *c, char *err, size_t errlen)
{
	size_t i;

	qsort(c->tensors, c->ntensors, sizeof(*c->tensors), cmp_tensor_name);
	for (i = 1; i < c->ntensors; i++)
		if (!strcmp(c->tensors[i].name, c->tensors[i - 1].name))
			return sm_errf(err, errlen, "%s: tensor '%s' appears twice (also in %s)",
				    c->tensors[i].file, c->tensors[i].name,
				    c->tensors[i - 1].file);
	return 0;
}

int st_open_file(const char *path, struct phimoe_checkpoint **out,
		 char *err, size_t errlen)
{
	struct phimoe_checkpoint *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return sm_errf(err, errlen, "%s: out of memory", path);
	if (map_file(c, path, err, errlen) || finish(c, err, errlen)) {
		st_close(c);
		return -1;
	}
	*out = c;
	return 0;
}

static bool file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Shards named by the index's weight_map, each opened once, and every
 * tensor the index names present in the shard it names. */
static int open_index(struct phimoe_checkpoint *c, const char *dir,
		      const char *index, char *err, size_t errlen)
{
	struct json_object *root, *wm;
	char path[PATH_MAX];
	int rc = -1;

	root = json_object_from_file(index);
	if (!root || !json_object_object_get_ex(root, "weight_map", &wm) ||
	    !json_object_is_type(wm, json_type_object)) {
		sm_errf(err, errlen, "%s: not JSON with a \"weight_map\" object", index);
		goto out;
	}
	{
		json_object_object_foreach(wm, name, shard) {
			const char *s = json_object_get_string(shard);
			bool seen = false;
			size_t i;

			if (!json_object_is_type(shard, json_type_string) ||
			    !*s || strchr(s, '/')) {
				sm_errf(err, errlen, "%s: tensor '%s': bad shard name", index, name);
				goto out;
			}
			for (i = 0; i < c->nfiles; i++)
				if (!strcmp(c->files[i].base, s))
					seen = true;
			if (seen)
				continue;
			if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, s) >= sizeof(path)) {
				sm_errf(err, errlen, "%s: path too long", index);
				goto out;
			}
			if (map_file(c, path, err, errlen))
				goto out;
		}
	}
	if (finish(c, err, errlen))
		goto out;
	{
		json_object_object_foreach(wm, name, shard) {
			const struct st_tensor *t = st_find(c, name);

			const char *base = t ? strrchr(t->file, '/') : NULL;

			base = base ? base + 1 : t ? t->file : NULL;
			if (!t || strcmp(base, json_object_get_string(shard))) {
				sm_errf(err, errlen, "%s: tensor '%s' not found in %s",
				     index, name, json_object_get_string(shard));
				goto out;
			}
		}
	}
	rc = 0;
out:
	if (root)
		json_object_put(root);
	return rc;
}

int st_open_dir(const char *dir, struct phimoe_checkpoint **out,
		char *err, size_t errlen)
{
	struct phimoe_checkpoint *c;
	char path[PATH_MAX];

	*out = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/model.safetensors.index.json", dir) >= sizeof(path))
		return sm_errf(err, errlen, "%s: path too long", dir);
	if (!file_exists(path)) {
		snprintf(path, sizeof(path), "%s/model.safetensors", dir);
		if (!file_exists(path))
			return sm_errf(err, errlen, "%s: no model.safetensors nor model.safetensors.index.json", dir);
		return st_open_file(path, out, err, errlen);
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return sm_errf(err, errlen, "%s: out of memory", path);
	if (open_index(c, dir, path, err, errlen)) {
		st_close(c);
		return -1;
	}
	*out = c;
	return 0;
}

const struct st_tensor *st_find(const struct phimoe_checkpoint *c,
				const char *name)
{
	struct st_tensor key = { .name = name };

	if (!c || !c->ntensors)
		return NULL;
	return bsearch(&key, c->tensors, c->ntensors, sizeof(key), cmp_tensor_name);
}

size_t st_count(const struct phimoe_checkpoint *c)
{
	return c ? c->ntensors : 0;
}

const struct st_tensor *st_at(const struct phimoe_checkpoint *c, size_t i)
{
	return c && i < c->ntensors ? &c->tensors[i] : NULL;
}

void st_close(struct phimoe_checkpoint *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->ntensors; i++)
		free((char *)c->tensors[i].name);
	free(c->tensors);
	for (i = 0; i < c->nfiles; i++) {
		if (c->files[i].map)
			munmap(c->files[i].map, c->files[i].size);
		free(c->files[i].path);
	}
	free(c->files);
	free(c);
}
