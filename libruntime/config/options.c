// SPDX-License-Identifier: MIT
#include "config/options.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The stores of config_yaml.c write these enums as ints. */
_Static_assert(sizeof(enum sm_compute) == sizeof(int), "enum size");
_Static_assert(sizeof(enum sm_weights_layout) == sizeof(int), "enum size");
_Static_assert(sizeof(enum sm_quant) == sizeof(int), "enum size");
_Static_assert(sizeof(enum sm_device_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum sm_arbiter_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(enum sm_split_mode) == sizeof(int), "enum size");

#define OPTION(var, ...)							\
	static const struct sm_option_name var##_names[] = { __VA_ARGS__ };	\
	const struct sm_option var = {						\
		var##_names, sizeof(var##_names) / sizeof(var##_names[0])	\
	}

OPTION(sm_opt_compute,
       { SM_COMPUTE_AUTO, "auto" }, { SM_COMPUTE_F32, "f32" }, { SM_COMPUTE_BF16, "bf16" });
OPTION(sm_opt_weights,
       { SM_WEIGHTS_AUTO, "auto" }, { SM_WEIGHTS_MAPPED, "mapped" },
       { SM_WEIGHTS_PACKED, "packed" });
OPTION(sm_opt_quant,
       { SM_QUANT_AUTO, "auto" }, { SM_QUANT_NONE, "none" }, { SM_QUANT_INT8, "int8" },
       { SM_QUANT_Q4, "q4" });
OPTION(sm_opt_quant_format,
       { SM_QUANT_NONE, "none" }, { SM_QUANT_INT8, "int8" }, { SM_QUANT_Q4, "q4" });
OPTION(sm_opt_device,
       { SM_DEVICE_CPU, "cpu" }, { SM_DEVICE_GPU, "gpu" }, { SM_DEVICE_SPLIT, "split" });
OPTION(sm_opt_arbiter,
       { SM_ARB_AUTO, "auto" }, { SM_ARB_KERNEL, "kernel" }, { SM_ARB_PROCESS, "process" },
       { SM_ARB_OFF, "off" });
OPTION(sm_opt_split_mode,
       { SM_SPLIT_PARTITION, "partition" }, { SM_SPLIT_EXPERT_PARALLEL, "expert-parallel" },
       { SM_SPLIT_DYNAMIC, "dynamic" });
OPTION(sm_opt_stage,
       { SM_STAGE_ATTENTION, "attention" }, { SM_STAGE_ROUTER, "router" },
       { SM_STAGE_EXPERTS, "experts" }, { SM_STAGE_HEAD, "head" });
OPTION(sm_opt_split_device, { SM_DEV_CPU, "cpu" }, { SM_DEV_GPU, "gpu" });

int sm_option_parse(const struct sm_option *o, const char *s, int *out)
{
	for (size_t i = 0; s && i < o->n; i++) {
		if (!strcmp(s, o->names[i].name)) {
			*out = o->names[i].value;
			return 0;
		}
	}
	return -EINVAL;
}

const char *sm_option_name(const struct sm_option *o, int value)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->names[i].value == value)
			return o->names[i].name;
	return "?";
}

void sm_option_list(const struct sm_option *o, const char *sep, char *buf, size_t len)
{
	size_t used = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < o->n && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? sep : "", o->names[i].name);

		if (w < 0)
			break;
		used += (size_t)w;
	}
}

#define TYPED(name_fn, parse_fn, opt, type)				\
	const char *name_fn(type v)					\
	{								\
		return sm_option_name(&opt, (int)v);			\
	}								\
	int parse_fn(const char *s, type *out)				\
	{								\
		int v, rc = sm_option_parse(&opt, s, &v);		\
									\
		if (!rc)						\
			*out = (type)v;					\
		return rc;						\
	}

TYPED(sm_compute_name, sm_compute_parse, sm_opt_compute, enum sm_compute)
TYPED(sm_weights_layout_name, sm_weights_layout_parse, sm_opt_weights, enum sm_weights_layout)
TYPED(sm_arbiter_kind_name, sm_arbiter_kind_parse, sm_opt_arbiter, enum sm_arbiter_kind)
TYPED(sm_split_mode_name, sm_split_mode_parse, sm_opt_split_mode, enum sm_split_mode)
TYPED(sm_device_mode_name, sm_device_mode_parse, sm_opt_device, enum sm_device_mode)

/* auto has a name, but is no format a file or --format names */
const char *sm_quant_name(enum sm_quant q)
{
	return sm_option_name(&sm_opt_quant, (int)q);
}

int sm_quant_parse(const char *s, enum sm_quant *out)
{
	int v, rc = sm_option_parse(&sm_opt_quant_format, s, &v);

	if (!rc)
		*out = (enum sm_quant)v;
	return rc;
}
