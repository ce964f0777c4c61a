/* SPDX-License-Identifier: MIT */
/*
 * The output directory of synth and quantize: --out DIR must be absent or
 * empty; the command writes into a temporary directory beside it
 * (.DIR.CMD-XXXXXX) and renames it into place at the end, so that an
 * interrupted run never leaves a DIR that loads. SIGINT, SIGTERM and
 * SIGHUP only set a flag while the directory is open: the command stops
 * at its next check and removes the temporary directory (SIGKILL leaves
 * it, under its dot name).
 */
#ifndef SPLITMOE_OUT_DIR_H
#define SPLITMOE_OUT_DIR_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct out_dir {
	const char *cmd;		/* for messages */
	const char *final;		/* --out as given */
	char parent[PATH_MAX];		/* the directory it is in */
	char tmp[PATH_MAX + NAME_MAX + 32];
	struct sigaction old[3];
	bool caught;
};

/* Check --out, create the temporary directory and catch the signals.
 * 0, or -1 after one error line (2: a usage error, nothing created). */
int out_dir_open(const char *cmd, const char *out, struct out_dir *d);
/* The signal that asked to stop, or 0; the flag itself, for loops. */
int out_dir_stopped(void);
volatile const sig_atomic_t *out_dir_stop_flag(void);
/* Rename the temporary directory to --out. 0, or -1 with one line in err. */
int out_dir_commit(struct out_dir *d, char *err, size_t errlen);
/* Remove the temporary directory and what was written into it (not
 * after a commit), and restore the signals. */
void out_dir_close(struct out_dir *d);

#endif
