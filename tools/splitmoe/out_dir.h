/* SPDX-License-Identifier: MIT */
/*
 * The signals that stop synth and quantize, and the pace of their progress
 * lines. While a command writes its output directory (splitmoe_synth,
 * splitmoe_quantize: written beside --out and renamed in at the end),
 * SIGINT, SIGTERM and SIGHUP only set a flag; the command's progress
 * callback reads it and returns false, the library stops at its next call
 * and removes the temporary directory (SIGKILL leaves it, under its dot
 * name).
 */
#ifndef SPLITMOE_OUT_DIR_H
#define SPLITMOE_OUT_DIR_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

struct out_dir_signals {
	struct sigaction old[3];
	bool caught;
};

/* Catch the three signals (the flag cleared). */
void out_dir_catch(struct out_dir_signals *s);
/* The signal that asked to stop, or 0. */
int out_dir_stopped(void);
/* Restore the signals' previous handlers. */
void out_dir_release(struct out_dir_signals *s);

/* The monotonic clock, ns. */
uint64_t out_dir_now_ns(void);
/*
 * Whether a progress line is due (always when forced): 5 a second on a
 * terminal, one every 2 s in a log; when it is, *last_ns becomes now.
 */
bool out_dir_progress_due(uint64_t *last_ns, bool tty, bool force);

#endif
