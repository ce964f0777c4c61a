/* SPDX-License-Identifier: MIT */
/*
 * The output directory of splitmoe_synth and splitmoe_quantize: out_dir
 * must be absent or empty; the writer fills a temporary directory beside
 * it (.NAME.CMD-XXXXXX) and renames it into place at the end, so that a
 * failed or interrupted write never leaves an out_dir that loads (a
 * killed process leaves the temporary, under its dot name).
 */
#ifndef SPLITMOE_API_OUT_DIR_H
#define SPLITMOE_API_OUT_DIR_H

#include <limits.h>
#include <stddef.h>

#include "splitmoe.h"

struct out_dir {
	const char *final;		/* out_dir as given */
	char parent[PATH_MAX];		/* the directory it is in */
	char tmp[PATH_MAX + NAME_MAX + 32];	/* "" when there is none */
};

/* Check out_dir and create the temporary directory. SPLITMOE_OK, or
 * _INVALID (a name that is no new directory), _IO (not empty, not a
 * directory, mkdtemp failed) with one line "CMD: --out DIR: ..." in err. */
splitmoe_status out_dir_open(const char *cmd, const char *out, struct out_dir *d, char *err,
			     size_t errlen);
/* Rename the temporary directory to out_dir. 0, or -1 with one line in err. */
int out_dir_commit(struct out_dir *d, char *err, size_t errlen);
/* Remove the temporary directory and what was written into it (nothing
 * after a commit). */
void out_dir_close(struct out_dir *d);
/* The end of a writer: for st other than SPLITMOE_OK one line in err,
 * "CMD: stopped by the progress callback; removed TMP" for
 * SPLITMOE_ERR_INTERRUPTED, else "CMD: MSG; removed TMP"; then
 * out_dir_close. Returns st. */
splitmoe_status out_dir_end(struct out_dir *d, const char *cmd, splitmoe_status st,
			    const char *msg, char *err, size_t errlen);

#endif
