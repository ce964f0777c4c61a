/* SPDX-License-Identifier: MIT */
/*
 * The options' names and their enums, in one place at the edge: the YAML
 * (config_yaml.c) and the CLI's flags turn text into these enums once, and
 * print them back by these names; nothing below reads a name. Each table
 * lists an option's values in the order users see them ("want
 * auto|f32|bf16").
 */
#ifndef SPLITMOE_OPTIONS_H
#define SPLITMOE_OPTIONS_H

#include <stddef.h>

#include "arbiter/arbiter.h"
#include "backend/backend.h"
#include "cpu/quant.h"
#include "engine/inference.h"
#include "sched/device_setup.h"
#include "sched/scheduler.h"

struct sm_option_name {
	int value;
	const char *name;
};

/* The names of one option's values. */
struct sm_option {
	const struct sm_option_name *names;
	size_t n;
};

extern const struct sm_option sm_opt_compute;		/* auto | f32 | bf16 */
extern const struct sm_option sm_opt_weights;		/* auto | mapped | packed */
extern const struct sm_option sm_opt_quant;		/* auto | none | int8 | q4 */
extern const struct sm_option sm_opt_quant_format;	/* none | int8 | q4 */
extern const struct sm_option sm_opt_device;		/* cpu | gpu | split */
extern const struct sm_option sm_opt_arbiter;		/* auto | kernel | process | off */
extern const struct sm_option sm_opt_split_mode;	/* partition | expert-parallel | dynamic */
extern const struct sm_option sm_opt_stage;		/* attention | router | experts | head */
extern const struct sm_option sm_opt_split_device;	/* cpu | gpu (a split rule's) */

/* 0 with *out the value named s, or -EINVAL (s NULL or no name of o). */
int sm_option_parse(const struct sm_option *o, const char *s, int *out);
/* The name of value, or "?" for none of o's. */
const char *sm_option_name(const struct sm_option *o, int value);
/* The names joined by sep ("auto|f32|bf16"), truncated to len. */
void sm_option_list(const struct sm_option *o, const char *sep, char *buf, size_t len);

/* Typed forms. The parsers return 0, or -EINVAL for any other text. */
const char *sm_compute_name(enum sm_compute c);
int sm_compute_parse(const char *s, enum sm_compute *out);
const char *sm_weights_layout_name(enum sm_weights_layout w);
int sm_weights_layout_parse(const char *s, enum sm_weights_layout *out);
const char *sm_quant_name(enum sm_quant q);		/* auto too */
int sm_quant_parse(const char *s, enum sm_quant *out);	/* none | int8 | q4 */
const char *sm_arbiter_kind_name(enum sm_arbiter_kind k);
int sm_arbiter_kind_parse(const char *s, enum sm_arbiter_kind *out);
const char *sm_split_mode_name(enum sm_split_mode m);
int sm_split_mode_parse(const char *s, enum sm_split_mode *out);
const char *sm_device_mode_name(enum sm_device_mode m);
int sm_device_mode_parse(const char *s, enum sm_device_mode *out);

#endif /* SPLITMOE_OPTIONS_H */
