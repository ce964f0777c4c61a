// SPDX-License-Identifier: MIT
/*
 * splitmoe synth --shape phi-tiny-moe|tiny --out DIR [--seed S]
 *                [--dtype bf16|f32] [--layers N]
 *
 * Writes into a temporary directory beside DIR and renames it into place
 * at the end: an interrupted run (SIGINT, SIGTERM, SIGHUP: the temporary
 * directory is removed; SIGKILL: it stays, named .DIR.synth-XXXXXX) never
 * leaves a DIR that loads.
 */
#include "cli.h"
#include "synth.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define MARGIN_BYTES (256ull << 20)	/* beyond the checkpoint's size */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	stop_flag = sig;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* 1: DIR is absent or an empty directory; 0: refused (one error). */
static int out_usable(const char *dir)
{
	struct stat st;
	struct dirent *e;
	DIR *d;

	if (stat(dir, &st)) {
		if (errno == ENOENT)
			return 1;
		cli_err("synth: --out %s: %s", dir, strerror(errno));
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		cli_err("synth: --out %s: exists and is not a directory", dir);
		return 0;
	}
	d = opendir(dir);
	if (!d) {
		cli_err("synth: --out %s: %s", dir, strerror(errno));
		return 0;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			closedir(d);
			cli_err("synth: --out %s: exists and is not empty (refusing to write into it)",
				dir);
			return 0;
		}
	closedir(d);
	return 1;
}

/* Remove the files synth wrote into tmp, then tmp. */
static void remove_tmp(const char *tmp)
{
	DIR *d = opendir(tmp);
	struct dirent *e;

	if (d) {
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	rmdir(tmp);
}

int cmd_synth(struct cli_opts *o)
{
	const struct synth_shape *shape = o->shape;
	struct synth_progress pr = { 0 };
	struct synth_plan p;
	struct sigaction sa, old[3];
	static const int sigs[3] = { SIGINT, SIGTERM, SIGHUP };
	enum phimoe_dtype dt;
	char parent[PATH_MAX], base[NAME_MAX + 1], tmp[PATH_MAX + NAME_MAX + 32], err[PHIMOE_ERRLEN];
	const char *slash;
	struct statvfs vfs;
	uint64_t avail, t0;
	size_t len;
	int rc = 1, i, sh;

	if (!o->out || !*o->out) {
		cli_err("synth: --out DIR is required");
		return 2;
	}
	if (!shape && synth_shape_parse("phi-tiny-moe", &shape))
		return 2;
	if (!strcmp(o->cfg.dtype, "f32"))
		dt = PHIMOE_DTYPE_F32;
	else
		dt = PHIMOE_DTYPE_BF16;	/* bf16, or auto: the released model's */
	/* parent directory and last component of --out */
	len = strlen(o->out);
	while (len > 1 && o->out[len - 1] == '/')
		len--;
	if (len >= sizeof(parent)) {
		cli_err("synth: --out: path too long");
		return 2;
	}
	memcpy(parent, o->out, len);
	parent[len] = '\0';
	slash = strrchr(parent, '/');
	if (strlen(slash ? slash + 1 : parent) >= sizeof(base)) {
		cli_err("synth: --out: name too long");
		return 2;
	}
	strcpy(base, slash ? slash + 1 : parent);
	if (!strcmp(base, ".") || !strcmp(base, "..") || !strcmp(base, "/")) {
		cli_err("synth: --out %s: name a new directory", o->out);
		return 2;
	}
	if (slash == parent)
		parent[1] = '\0';
	else if (slash)
		parent[slash - parent] = '\0';
	else
		snprintf(parent, sizeof(parent), ".");
	if (!out_usable(o->out))
		return 1;

	if (synth_plan_build(shape, o->layers, dt, &p)) {
		cli_err("synth: out of memory");
		return 1;
	}
	if (statvfs(parent, &vfs)) {
		cli_err("synth: --out %s: %s: %s", o->out, parent, strerror(errno));
		goto out_plan;
	}
	avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (avail < p.total_bytes + MARGIN_BYTES) {
		cli_err("synth: %s has %.2f GB free; the checkpoint needs %.2f GB (+ %.2f GB margin)",
			parent, avail / 1e9, p.total_bytes / 1e9, MARGIN_BYTES / 1e9);
		goto out_plan;
	}
	i = snprintf(tmp, sizeof(tmp), "%s/.%s.synth-XXXXXX", parent, base);
	if (i < 0 || (size_t)i >= sizeof(tmp) || !mkdtemp(tmp)) {
		cli_err("synth: %s: %s", tmp, strerror(errno));
		goto out_plan;
	}
	{	/* mkdtemp's 0700 would stay with DIR: the usual mode instead */
		mode_t um = umask(0);

		umask(um);
		chmod(tmp, 0777 & ~um);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);

	fprintf(stderr, "synth: %s, %d layers, %s, %.2f %s in %d shards, seed %llu, into %s\n",
		p.shape.name, p.shape.layers, phimoe_dtype_name(dt),
		p.total_bytes / synth_unit(p.total_bytes), synth_unit_name(p.total_bytes), p.shards,
		(unsigned long long)o->seed, tmp);
	t0 = pr.t0_ns = pr.last_ns = now_ns();
	pr.total = p.total_bytes;
	pr.tty = isatty(2);
	err[0] = '\0';
	for (sh = 0; sh < p.shards; sh++)
		if (synth_write_shard(&p, sh, tmp, o->seed, &pr, &stop_flag,
				      err, sizeof(err)))
			break;
	if (sh == p.shards && !stop_flag &&
	    !synth_write_meta(&p, tmp, err, sizeof(err)) &&
	    !synth_write_tokenizer(tmp, err, sizeof(err)) && !stop_flag) {
		if (rename(tmp, o->out)) {
			if (snprintf(err, sizeof(err), "rename to %s: %s", o->out,
				     strerror(errno)) < 0)
				err[0] = '\0';
		} else {
			double s = (now_ns() - t0) / 1e9;

			synth_progress_done(&pr);
			fprintf(stderr, "synth: wrote %s: %.2f %s in %.1f s (%.2f GB/s)\n", o->out,
				p.total_bytes / synth_unit(p.total_bytes),
				synth_unit_name(p.total_bytes), s,
				s > 0 ? p.total_bytes / 1e9 / s : 0.0);
			rc = 0;
		}
	}
	if (rc) {
		if (pr.tty)
			fputc('\n', stderr);
		remove_tmp(tmp);
		if (stop_flag)
			cli_err("synth: interrupted by signal %d; removed %s", (int)stop_flag, tmp);
		else
			cli_err("synth: %s; removed %s", err[0] ? err : "failed", tmp);
	}
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
out_plan:
	synth_plan_free(&p);
	return rc;
}
