// SPDX-License-Identifier: MIT
/* The output directory of synth and quantize (api_out_dir.h). */
#include "api_out_dir.h"
#include "util/errbuf.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* SPLITMOE_OK: DIR is absent or an empty directory; else refused. */
static splitmoe_status out_usable(const char *cmd, const char *dir, char *err, size_t errlen)
{
	struct stat st;
	struct dirent *e;
	DIR *d;

	if (stat(dir, &st)) {
		if (errno == ENOENT)
			return SPLITMOE_OK;
		sm_errf(err, errlen, "%s: --out %s: %s", cmd, dir, strerror(errno));
		return SPLITMOE_ERR_IO;
	}
	if (!S_ISDIR(st.st_mode)) {
		sm_errf(err, errlen, "%s: --out %s: exists and is not a directory", cmd, dir);
		return SPLITMOE_ERR_IO;
	}
	d = opendir(dir);
	if (!d) {
		sm_errf(err, errlen, "%s: --out %s: %s", cmd, dir, strerror(errno));
		return SPLITMOE_ERR_IO;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			closedir(d);
			sm_errf(err, errlen, "%s: --out %s: exists and is not empty "
				"(refusing to write into it)", cmd, dir);
			return SPLITMOE_ERR_IO;
		}
	closedir(d);
	return SPLITMOE_OK;
}

splitmoe_status out_dir_open(const char *cmd, const char *out, struct out_dir *d, char *err,
			     size_t errlen)
{
	char base[NAME_MAX + 1];
	const char *slash;
	splitmoe_status st;
	size_t len;
	int i;

	memset(d, 0, sizeof(*d));
	d->final = out;
	if (!out || !*out) {
		sm_errf(err, errlen, "%s: --out DIR is required", cmd);
		return SPLITMOE_ERR_INVALID;
	}
	/* parent directory and last component of out */
	len = strlen(out);
	while (len > 1 && out[len - 1] == '/')
		len--;
	if (len >= sizeof(d->parent)) {
		sm_errf(err, errlen, "%s: --out: path too long", cmd);
		return SPLITMOE_ERR_INVALID;
	}
	memcpy(d->parent, out, len);
	d->parent[len] = '\0';
	slash = strrchr(d->parent, '/');
	if (strlen(slash ? slash + 1 : d->parent) >= sizeof(base)) {
		sm_errf(err, errlen, "%s: --out: name too long", cmd);
		return SPLITMOE_ERR_INVALID;
	}
	strcpy(base, slash ? slash + 1 : d->parent);
	if (!strcmp(base, ".") || !strcmp(base, "..") || !strcmp(base, "/")) {
		sm_errf(err, errlen, "%s: --out %s: name a new directory", cmd, out);
		return SPLITMOE_ERR_INVALID;
	}
	if (slash == d->parent)
		d->parent[1] = '\0';
	else if (slash)
		d->parent[slash - d->parent] = '\0';
	else
		snprintf(d->parent, sizeof(d->parent), ".");
	st = out_usable(cmd, out, err, errlen);
	if (st)
		return st;
	i = snprintf(d->tmp, sizeof(d->tmp), "%s/.%s.%s-XXXXXX", d->parent, base, cmd);
	if (i < 0 || (size_t)i >= sizeof(d->tmp) || !mkdtemp(d->tmp)) {
		sm_errf(err, errlen, "%s: %s: %s", cmd, d->tmp, strerror(errno));
		d->tmp[0] = '\0';
		return SPLITMOE_ERR_IO;
	}
	{	/* mkdtemp's 0700 would stay with DIR: the usual mode instead */
		mode_t um = umask(0);

		umask(um);
		chmod(d->tmp, 0777 & ~um);
	}
	return SPLITMOE_OK;
}

int out_dir_commit(struct out_dir *d, char *err, size_t errlen)
{
	if (rename(d->tmp, d->final))
		return sm_errf(err, errlen, "rename to %s: %s", d->final, strerror(errno));
	d->tmp[0] = '\0';
	return 0;
}

splitmoe_status out_dir_end(struct out_dir *d, const char *cmd, splitmoe_status st,
			    const char *msg, char *err, size_t errlen)
{
	if (st == SPLITMOE_ERR_INTERRUPTED)
		sm_errf(err, errlen, "%s: stopped by the progress callback; removed %s", cmd,
			d->tmp);
	else if (st)
		sm_errf(err, errlen, "%s: %s; removed %s", cmd, msg[0] ? msg : "failed", d->tmp);
	out_dir_close(d);
	return st;
}

void out_dir_close(struct out_dir *d)
{
	DIR *dd;
	struct dirent *e;

	if (!d->tmp[0])
		return;
	dd = opendir(d->tmp);
	if (dd) {
		while ((e = readdir(dd)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlinkat(dirfd(dd), e->d_name, 0);
		closedir(dd);
	}
	rmdir(d->tmp);
	d->tmp[0] = '\0';
}
