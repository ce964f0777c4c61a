// SPDX-License-Identifier: MIT
/*
 * splitmoe_synth: one safetensors shard. The 8-byte header length, the JSON header
 * (dtype, shape, data_offsets of each tensor, "__metadata__"), padded with
 * spaces so the data starts 64-byte aligned, then the tensors back to back,
 * generated a chunk at a time on every thread and written with one pwrite
 * per chunk.
 */
#include "api_synth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK_BYTES (64u << 20)

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		if (b->oom)
			return;
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap ? b->cap * 2 : 65536) + (size_t)n;
		char *np = realloc(b->p, cap);

		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
}

/* The header text, padded; NULL when out of memory. */
static char *shard_header(const struct synth_plan *p, int shard, size_t *len)
{
	const char *dt = p->dtype == PHIMOE_DTYPE_BF16 ? "BF16" : "F32";
	size_t esz = phimoe_dtype_size(p->dtype), i;
	struct sbuf b = { 0 };

	sb_printf(&b, "{\"__metadata__\":{\"format\":\"pt\"}");
	for (i = 0; i < p->n; i++) {
		const struct synth_tensor *t = &p->t[i];

		if (t->shard != shard)
			continue;
		sb_printf(&b, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld", t->name, dt,
			  (long long)t->shape[0]);
		if (t->ndim == 2)
			sb_printf(&b, ",%lld", (long long)t->shape[1]);
		sb_printf(&b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)t->offset,
			  (unsigned long long)(t->offset + t->numel * esz));
	}
	sb_printf(&b, "}");
	while (!b.oom && (8 + b.len) % 64)
		sb_printf(&b, " ");
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t w = pwrite(fd, p, len, (off_t)off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

bool synth_go_on(struct synth_run *run, splitmoe_write_stage stage)
{
	run->r.stage = stage;
	return !run->fn || run->fn(&run->r, run->user);
}

int synth_write_shard(const struct synth_plan *p, int shard, const char *dir, uint64_t seed,
		      struct synth_run *run, char *err, size_t errlen)
{
	size_t esz = phimoe_dtype_size(p->dtype), hlen = 0, first = 0, nr, i;
	uint64_t len8, c0, total = p->shard_bytes[shard];
	struct synth_range *r = NULL;
	char name[64], path[4200], *hdr, *buf = NULL;
	int fd = -1, rc = -1;

	synth_shard_name(p, shard, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	hdr = shard_header(p, shard, &hlen);
	buf = malloc(CHUNK_BYTES);
	r = calloc(p->n, sizeof(*r));
	if (!hdr || !buf || !r) {
		snprintf(err, errlen, "%s: out of memory", name);
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	len8 = hlen;	/* little-endian u64 */
	{
		unsigned char le[8];
		int k;

		for (k = 0; k < 8; k++)
			le[k] = (unsigned char)(len8 >> (8 * k));
		if (pwrite_all(fd, le, 8, 0) || pwrite_all(fd, hdr, hlen, 8)) {
			snprintf(err, errlen, "%s: write: %s", path, strerror(errno));
			goto out;
		}
	}
	while (first < p->n && p->t[first].shard != shard)
		first++;
	for (c0 = 0; c0 < total; c0 += CHUNK_BYTES) {
		uint64_t c1 = c0 + CHUNK_BYTES < total ? c0 + CHUNK_BYTES : total;

		/* the tensors of this shard overlapping [c0, c1) */
		nr = 0;
		for (i = first; i < p->n && p->t[i].shard == shard; i++) {
			const struct synth_tensor *t = &p->t[i];
			uint64_t b0 = t->offset, b1 = t->offset + t->numel * esz;

			if (b1 <= c0)
				continue;
			if (b0 >= c1)
				break;
			r[nr].t = t;
			r[nr].e0 = (b0 < c0 ? c0 - b0 : 0) / esz;
			r[nr].e1 = ((b1 > c1 ? c1 : b1) - b0) / esz;
			r[nr].dst = buf + (b0 > c0 ? b0 - c0 : 0);
			nr++;
		}
		synth_fill(r, nr, p->dtype, seed);
		if (pwrite_all(fd, buf, c1 - c0, 8 + hlen + c0)) {
			snprintf(err, errlen, "%s: write: %s", path, strerror(errno));
			goto out;
		}
		run->r.done_bytes += c1 - c0;
		if (!synth_go_on(run, SPLITMOE_WRITE_DATA)) {
			rc = 1;
			goto out;
		}
	}
	if (close(fd)) {
		fd = -1;
		snprintf(err, errlen, "%s: close: %s", path, strerror(errno));
		goto out;
	}
	fd = -1;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(r);
	free(buf);
	free(hdr);
	return rc;
}
