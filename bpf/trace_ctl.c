// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Loads the tracer (bpf/tracer.bpf.c) through its libbpf skeleton, pins
 * its maps (by name, through libbpf's pin_root_path) and its links under
 * the pin directory, and undoes all of it. Pinned links keep the programs
 * attached after the loader exits; unpinning them is what detaches.
 */
#include "bpf/trace_ctl.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tracer.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

static bool bpf_verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	/* Our callers print one line per failure; libbpf's own detail
	 * (the verifier log among it) only when asked for.
	 */
	(void)level;
	if (!bpf_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void bwarb_bpf_set_verbose(bool verbose)
{
	bpf_verbose = verbose;
	libbpf_set_print(libbpf_print);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

#define PIN_NAMES_MAX	16
#define PIN_NAME_LEN	64

/* Every name the tracer pins: its maps, then link_<program>. */
struct pin_names {
	char name[PIN_NAMES_MAX][PIN_NAME_LEN];
	size_t n;
};

static int pin_name_add(struct pin_names *pn, const char *prefix,
			const char *name)
{
	if (pn->n == PIN_NAMES_MAX)
		return -E2BIG;
	snprintf(pn->name[pn->n++], PIN_NAME_LEN, "%s%s", prefix, name);
	return 0;
}

static int tracer_pin_names(struct pin_names *pn, char *err, size_t errlen)
{
	struct tracer_bpf *skel = tracer_bpf__open();
	struct bpf_program *prog;
	struct bpf_map *map;
	int ret = 0;

	if (!skel) {
		ret = -errno;
		set_err(err, errlen, "cannot open the tracer's BPF object: %s",
			strerror(-ret));
		return ret;
	}
	pn->n = 0;
	bpf_object__for_each_map(map, skel->obj) {
		/* Internal maps (.bss, .rodata: "tracer_b.bss") are not
		 * pinned; every map the program declares is.
		 */
		if (!ret && !strchr(bpf_map__name(map), '.'))
			ret = pin_name_add(pn, "", bpf_map__name(map));
	}
	bpf_object__for_each_program(prog, skel->obj) {
		if (!ret)
			ret = pin_name_add(pn, BWARB_TRACE_LINK_PREFIX,
					   bpf_program__name(prog));
	}
	tracer_bpf__destroy(skel);
	if (ret)
		set_err(err, errlen, "the tracer pins more than %d objects",
			PIN_NAMES_MAX);
	return ret;
}

static int check_bpffs(const char *pin_dir, char *err, size_t errlen)
{
	char parent[PATH_MAX];
	struct statfs sfs;
	char *slash;

	snprintf(parent, sizeof(parent), "%s", pin_dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	if (statfs(parent, &sfs) || sfs.f_type != BPF_FS_MAGIC) {
		set_err(err, errlen, "%s is not a bpffs mount (mount -t bpf bpf %s)",
			parent, parent);
		return -ENOTDIR;
	}
	return 0;
}

bool bwarb_trace_started(const char *pin_dir)
{
	char path[PATH_MAX], err[128];
	struct pin_names pn;
	size_t i;

	if (tracer_pin_names(&pn, err, sizeof(err)))
		return false;
	for (i = 0; i < pn.n; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, pn.name[i]);
		if (access(path, F_OK) == 0)
			return true;
	}
	return false;
}

/* Removes every pin of ours under pin_dir, then pin_dir if empty. */
static int unpin_all(const char *pin_dir, const struct pin_names *pn,
		     size_t *removed, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int ret = 0;
	size_t i;

	*removed = 0;
	for (i = 0; i < pn->n; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, pn->name[i]);
		if (unlink(path) == 0) {
			(*removed)++;
		} else if (errno != ENOENT && !ret) {
			ret = -errno;
			set_err(err, errlen, "cannot unpin %s: %s", path,
				strerror(errno));
		}
	}
	if (rmdir(pin_dir) && errno != ENOENT && !ret) {
		ret = -errno;
		set_err(err, errlen, "cannot remove %s: %s (not ours left in it?)",
			pin_dir, strerror(errno));
	}
	return ret;
}

int bwarb_trace_start(const char *pin_dir, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir);
	struct tracer_bpf *skel = NULL;
	struct bpf_program *prog;
	struct pin_names pn;
	char path[PATH_MAX];
	size_t removed;
	int ret;

	ret = check_bpffs(pin_dir, err, errlen);
	if (ret)
		return ret;
	ret = tracer_pin_names(&pn, err, errlen);
	if (ret)
		return ret;
	/* Creating the directory is the lock: of two racing starts, one
	 * fails here, and a leftover directory is never reused.
	 */
	if (mkdir(pin_dir, 0700)) {
		ret = -errno;
		if (ret == -EEXIST)
			set_err(err, errlen, "tracer already started (%s exists; bwarbctl trace stop)",
				pin_dir);
		else
			set_err(err, errlen, "cannot create %s: %s", pin_dir,
				strerror(errno));
		return ret;
	}

	skel = tracer_bpf__open_opts(&opts);
	if (!skel) {
		ret = -errno;
		set_err(err, errlen, "cannot open the tracer's BPF object: %s",
			strerror(errno));
		goto fail;
	}
	ret = tracer_bpf__load(skel);
	if (ret) {
		set_err(err, errlen, "the kernel refused the tracer programs: %s (run with -v for the verifier log)",
			strerror(-ret));
		goto fail;
	}
	bpf_object__for_each_program(prog, skel->obj) {
		struct bpf_link *link = bpf_program__attach(prog);

		if (!link) {
			ret = -errno;
			if (ret == -ENOENT)
				set_err(err, errlen, "tracepoint %s not found: is the bwarb module loaded?",
					bpf_program__section_name(prog));
			else
				set_err(err, errlen, "cannot attach %s: %s",
					bpf_program__section_name(prog),
					strerror(-ret));
			goto fail;
		}
		snprintf(path, sizeof(path), "%s/%s%s", pin_dir,
			 BWARB_TRACE_LINK_PREFIX, bpf_program__name(prog));
		ret = bpf_link__pin(link, path);
		/* The pin (if any) holds the link; our fd is not needed. */
		bpf_link__destroy(link);
		if (ret) {
			set_err(err, errlen, "cannot pin %s: %s", path,
				strerror(-ret));
			goto fail;
		}
	}
	tracer_bpf__destroy(skel);
	return 0;

fail:
	tracer_bpf__destroy(skel);
	unpin_all(pin_dir, &pn, &removed, path, sizeof(path));
	return ret;
}

int bwarb_trace_stop(const char *pin_dir, char *err, size_t errlen)
{
	struct pin_names pn;
	size_t removed;
	int ret;

	ret = tracer_pin_names(&pn, err, errlen);
	if (ret)
		return ret;
	ret = unpin_all(pin_dir, &pn, &removed, err, errlen);
	if (ret)
		return ret;
	/* An empty directory (a start that died early) is removed too. */
	if (!removed) {
		set_err(err, errlen, "tracer not started (nothing pinned in %s)",
			pin_dir);
		return -ENOENT;
	}
	return 0;
}

static int cmp_client(const void *a, const void *b)
{
	const struct bwarb_trace_client *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

int bwarb_trace_read(const char *pin_dir, struct bwarb_trace_client **clients,
		     size_t *nr, struct bwarb_trace_totals *totals, char *err,
		     size_t errlen)
{
	struct bwarb_trace_client *v = NULL, *nv;
	char path[PATH_MAX];
	size_t n = 0, cap = 0;
	__u32 key, next, zero = 0;
	int cfd, tfd, ret = 0;
	void *prev = NULL;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, BWARB_TRACE_MAP_CLIENTS);
	cfd = bpf_obj_get(path);
	if (cfd < 0) {
		ret = -errno;
		set_err(err, errlen, "cannot open %s: %s%s", path,
			strerror(errno),
			ret == -ENOENT ? " (bwarbctl trace start)" : "");
		return ret;
	}
	snprintf(path, sizeof(path), "%s/%s", pin_dir, BWARB_TRACE_MAP_TOTALS);
	tfd = bpf_obj_get(path);
	if (tfd < 0) {
		ret = -errno;
		set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
		close(cfd);
		return ret;
	}
	if (bpf_map_lookup_elem(tfd, &zero, totals)) {
		ret = -errno;
		set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	while (bpf_map_get_next_key(cfd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				ret = -ENOMEM;
				set_err(err, errlen, "out of memory");
				goto out;
			}
			v = nv;
		}
		/* An entry deleted meanwhile is skipped. */
		if (bpf_map_lookup_elem(cfd, &key, &v[n].st) == 0)
			v[n++].id = key;
	}
	qsort(v, n, sizeof(*v), cmp_client);
out:
	close(cfd);
	close(tfd);
	if (ret) {
		free(v);
		return ret;
	}
	*clients = v;
	*nr = n;
	return 0;
}

__u64 bwarb_hist_upper(unsigned int slot)
{
	return slot >= 64 ? ~0ULL : 1ULL << slot;
}

__u64 bwarb_hist_quantile(const __u64 *hist, unsigned int slots, double q)
{
	__u64 total = 0, seen = 0;
	unsigned int i;

	for (i = 0; i < slots; i++)
		total += hist[i];
	if (!total)
		return 0;
	for (i = 0; i < slots; i++) {
		seen += hist[i];
		if ((double)seen >= q * (double)total)
			return bwarb_hist_upper(i);
	}
	return bwarb_hist_upper(slots - 1);
}
