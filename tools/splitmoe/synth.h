/* SPDX-License-Identifier: MIT */
/*
 * splitmoe synth --shape phi-tiny-moe|tiny --out DIR [--seed S]
 *                [--dtype bf16|f32] [--layers N]
 *
 * The command's flags as typed values; splitmoe_synth() (splitmoe.h)
 * writes the checkpoint.
 *
 *   synth_shape.c   --shape: a name into splitmoe_synth_shape
 *   cmd_synth.c     the command: flags, signals, progress lines
 */
#ifndef SPLITMOE_SYNTH_H
#define SPLITMOE_SYNTH_H

#include "splitmoe.h"

/* A --shape the library writes. */
struct synth_shape {
	splitmoe_synth_shape id;
};

/* "phi-tiny-moe" or "tiny" (splitmoe_synth_shape_name's): 0, or -1 for
 * any other name. */
int synth_shape_parse(const char *name, const struct synth_shape **out);
/* The accepted names, for error lines. */
const char *synth_shape_names(void);

#endif
