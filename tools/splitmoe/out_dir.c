// SPDX-License-Identifier: MIT
/* The output directory of synth and quantize (out_dir.h). */
#include "out_dir.h"
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;
static const int sigs[3] = { SIGINT, SIGTERM, SIGHUP };

static void on_signal(int sig)
{
	stop_flag = sig;
}

int out_dir_stopped(void)
{
	return stop_flag;
}

volatile const sig_atomic_t *out_dir_stop_flag(void)
{
	return &stop_flag;
}

/* 1: DIR is absent or an empty directory; 0: refused (one error). */
static int out_usable(const char *cmd, const char *dir)
{
	struct stat st;
	struct dirent *e;
	DIR *d;

	if (stat(dir, &st)) {
		if (errno == ENOENT)
			return 1;
		cli_err("%s: --out %s: %s", cmd, dir, strerror(errno));
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		cli_err("%s: --out %s: exists and is not a directory", cmd, dir);
		return 0;
	}
	d = opendir(dir);
	if (!d) {
		cli_err("%s: --out %s: %s", cmd, dir, strerror(errno));
		return 0;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			closedir(d);
			cli_err("%s: --out %s: exists and is not empty (refusing to write into it)",
				cmd, dir);
			return 0;
		}
	closedir(d);
	return 1;
}

int out_dir_open(const char *cmd, const char *out, struct out_dir *d)
{
	char base[NAME_MAX + 1];
	struct sigaction sa;
	const char *slash;
	size_t len;
	int i;

	memset(d, 0, sizeof(*d));
	d->cmd = cmd;
	d->final = out;
	if (!out || !*out) {
		cli_err("%s: --out DIR is required", cmd);
		return 2;
	}
	/* parent directory and last component of --out */
	len = strlen(out);
	while (len > 1 && out[len - 1] == '/')
		len--;
	if (len >= sizeof(d->parent)) {
		cli_err("%s: --out: path too long", cmd);
		return 2;
	}
	memcpy(d->parent, out, len);
	d->parent[len] = '\0';
	slash = strrchr(d->parent, '/');
	if (strlen(slash ? slash + 1 : d->parent) >= sizeof(base)) {
		cli_err("%s: --out: name too long", cmd);
		return 2;
	}
	strcpy(base, slash ? slash + 1 : d->parent);
	if (!strcmp(base, ".") || !strcmp(base, "..") || !strcmp(base, "/")) {
		cli_err("%s: --out %s: name a new directory", cmd, out);
		return 2;
	}
	if (slash == d->parent)
		d->parent[1] = '\0';
	else if (slash)
		d->parent[slash - d->parent] = '\0';
	else
		snprintf(d->parent, sizeof(d->parent), ".");
	if (!out_usable(cmd, out))
		return -1;
	i = snprintf(d->tmp, sizeof(d->tmp), "%s/.%s.%s-XXXXXX", d->parent, base, cmd);
	if (i < 0 || (size_t)i >= sizeof(d->tmp) || !mkdtemp(d->tmp)) {
		cli_err("%s: %s: %s", cmd, d->tmp, strerror(errno));
		d->tmp[0] = '\0';
		return -1;
	}
	{	/* mkdtemp's 0700 would stay with DIR: the usual mode instead */
		mode_t um = umask(0);

		umask(um);
		chmod(d->tmp, 0777 & ~um);
	}
	stop_flag = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &d->old[i]);
	d->caught = true;
	return 0;
}

int out_dir_commit(struct out_dir *d, char *err, size_t errlen)
{
	if (stop_flag) {
		snprintf(err, errlen, "interrupted by signal %d", (int)stop_flag);
		return -1;
	}
	if (rename(d->tmp, d->final)) {
		snprintf(err, errlen, "rename to %s: %s", d->final, strerror(errno));
		return -1;
	}
	d->tmp[0] = '\0';
	return 0;
}

void out_dir_close(struct out_dir *d)
{
	if (d->tmp[0]) {
		DIR *dd = opendir(d->tmp);
		struct dirent *e;

		if (dd) {
			while ((e = readdir(dd)))
				if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
					unlinkat(dirfd(dd), e->d_name, 0);
			closedir(dd);
		}
		rmdir(d->tmp);
		d->tmp[0] = '\0';
	}
	for (int i = 0; d->caught && i < 3; i++)
		sigaction(sigs[i], &d->old[i], NULL);
	d->caught = false;
}
