/* SPDX-License-Identifier: MIT */
/*
 * splitmoe quantize --model DIR --out DIR2 --type int8|q4
 *                   [--tensors attention,experts,lm_head,router] [--threads N]
 *
 * The command's flags as typed values; splitmoe_quantize() (splitmoe.h)
 * writes the directory.
 *
 *   quantize_classes.c   --tensors: names into a class mask
 *   cmd_quantize.c       the command: flags, signals, progress lines
 */
#ifndef SPLITMOE_QUANTIZE_H
#define SPLITMOE_QUANTIZE_H

#include "splitmoe.h"

/* --tensors: the classes of weights quantized (splitmoe.h's mask). */
enum {
	QZ_ATTENTION = SPLITMOE_QUANTIZE_ATTENTION,
	QZ_EXPERTS = SPLITMOE_QUANTIZE_EXPERTS,
	QZ_LM_HEAD = SPLITMOE_QUANTIZE_LM_HEAD,
	QZ_ROUTER = SPLITMOE_QUANTIZE_ROUTER,
	QZ_DEFAULT = SPLITMOE_QUANTIZE_DEFAULT,
};
/* "attention,experts,lm_head,router" (any subset, comma-separated) into
 * a mask. 0, or -1 for an unknown or empty name. */
int qz_classes_parse(const char *s, unsigned *mask);

#endif
