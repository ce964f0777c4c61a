// SPDX-License-Identifier: MIT
/*
 * The public enums and the runtime's, and the options' names through the
 * runtime's one table of them (config/options.c).
 */
#include "api_internal.h"

#include "config/options.h"

#include <stdio.h>

/* Index: the public value; entry: the runtime's. */
static const enum sm_device_mode devices[] = { SM_DEVICE_CPU, SM_DEVICE_GPU, SM_DEVICE_SPLIT };
static const enum sm_split_mode modes[] = { SM_SPLIT_PARTITION, SM_SPLIT_EXPERT_PARALLEL,
					    SM_SPLIT_DYNAMIC };
static const enum sm_compute computes[] = { SM_COMPUTE_AUTO, SM_COMPUTE_F32, SM_COMPUTE_BF16 };
static const enum sm_weights_layout layouts[] = { SM_WEIGHTS_AUTO, SM_WEIGHTS_PACKED,
						  SM_WEIGHTS_MAPPED };
static const enum sm_quant quants[] = { SM_QUANT_NONE, SM_QUANT_INT8, SM_QUANT_Q4,
					SM_QUANT_AUTO };
static const enum sm_arbiter_kind kinds[] = { SM_ARB_AUTO, SM_ARB_KERNEL, SM_ARB_PROCESS,
					      SM_ARB_OFF };

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The public value whose runtime value is v; -1 when none. */
static int public_of(const int *table, int n, int v)
{
	for (int i = 0; i < n; i++)
		if (table[i] == v)
			return i;
	return -1;
}

#define MAP(name, type, rt, table, bad)							\
	rt sm_api_##name(type v)							\
	{										\
		return (unsigned)v < (unsigned)N(table) ? table[v] : (rt)(bad);		\
	}										\
	type sm_api_##name##_of(rt v)							\
	{										\
		return (type)public_of((const int *)table, N(table), (int)v);		\
	}

MAP(device, splitmoe_device, enum sm_device_mode, devices, -1)
MAP(compute, splitmoe_compute, enum sm_compute, computes, -1)
MAP(weights, splitmoe_weights, enum sm_weights_layout, layouts, -1)
MAP(quant, splitmoe_quant, enum sm_quant, quants, -2)
MAP(arbiter, splitmoe_arbiter, enum sm_arbiter_kind, kinds, -1)

_Static_assert(sizeof(enum sm_device_mode) == sizeof(int) && sizeof(enum sm_compute) == sizeof(int)
	       && sizeof(enum sm_weights_layout) == sizeof(int) && sizeof(enum sm_quant) ==
	       sizeof(int) && sizeof(enum sm_arbiter_kind) == sizeof(int) &&
	       sizeof(enum sm_split_mode) == sizeof(int), "the tables are read as int");

/* The runtime's table of opt's names and its values in public order. */
static const struct sm_option *option_of(splitmoe_option opt, const int **table, int *n)
{
	switch (opt) {
	case SPLITMOE_OPTION_DEVICE:
		*table = (const int *)devices, *n = N(devices);
		return &sm_opt_device;
	case SPLITMOE_OPTION_SPLIT_MODE:
		*table = (const int *)modes, *n = N(modes);
		return &sm_opt_split_mode;
	case SPLITMOE_OPTION_COMPUTE:
		*table = (const int *)computes, *n = N(computes);
		return &sm_opt_compute;
	case SPLITMOE_OPTION_WEIGHTS:
		*table = (const int *)layouts, *n = N(layouts);
		return &sm_opt_weights;
	case SPLITMOE_OPTION_QUANT:
		*table = (const int *)quants, *n = N(quants);
		return &sm_opt_quant;
	case SPLITMOE_OPTION_ARBITER:
		*table = (const int *)kinds, *n = N(kinds);
		return &sm_opt_arbiter;
	}
	return NULL;
}

const char *splitmoe_option_name(splitmoe_option opt, int value)
{
	const int *table;
	int n;
	const struct sm_option *o = option_of(opt, &table, &n);

	if (!o || value < 0 || value >= n)
		return "?";
	return sm_option_name(o, table[value]);
}

splitmoe_status splitmoe_option_parse(splitmoe_option opt, const char *name, int *value)
{
	const int *table;
	int n, v, pub;
	const struct sm_option *o = option_of(opt, &table, &n);

	if (!o || !value || sm_option_parse(o, name, &v))
		return SPLITMOE_ERR_INVALID;
	pub = public_of(table, n, v);
	if (pub < 0)
		return SPLITMOE_ERR_INVALID;
	*value = pub;
	return SPLITMOE_OK;
}

void splitmoe_option_list(splitmoe_option opt, const char *sep, char *buf, size_t cap)
{
	const int *table;
	int n;
	const struct sm_option *o = option_of(opt, &table, &n);

	if (!cap)
		return;
	if (!o) {
		buf[0] = '\0';
		return;
	}
	sm_option_list(o, sep, buf, cap);
}
