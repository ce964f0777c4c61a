/* SPDX-License-Identifier: MIT */
/*
 * splitmoe's YAML configuration (configs/splitmoe.yaml). The schema is the
 * table fields[] in config_yaml.c: one row per key (nested mappings become
 * dotted names, e.g. "arbiter.backend"), its type, range or choices, and
 * where it lands in struct sm_config. To add a key, add a field here and a
 * row there. CLI flags go through sm_config_set() so that they are
 * validated the same way. Names become their enums here (options.h), once:
 * nothing below reads them again.
 */
#ifndef SPLITMOE_CONFIG_YAML_H
#define SPLITMOE_CONFIG_YAML_H

#include <stddef.h>
#include <stdint.h>

#include "config/options.h"

#define SM_CONFIG_STR 256
/* "auto" of a number key that takes it (arbiter.capacity_mbps). */
#define SM_CONFIG_AUTO UINT64_MAX

struct sm_config {
	char model[4096];		/* model directory */
	int threads;			/* 0: library default */
	enum sm_compute dtype;		/* auto | f32 | bf16 */
	enum sm_weights_layout weights;	/* auto | mapped | packed (backend.h) */
	enum sm_quant quant;		/* auto | none | int8 | q4 (quant.h) */
	enum sm_device_mode device;	/* cpu | gpu | split (device_setup.h) */
	enum sm_arbiter_kind arbiter;	/* auto | kernel | process | off */
	char arbiter_dev[SM_CONFIG_STR];	/* device node, default /dev/bwarb */
	/* The process arbiter's bus (arbiter.h): MB/s, 0 for its default,
	 * SM_CONFIG_AUTO to measure it at start (bwcal.h). */
	uint64_t arb_capacity_mbps;
	uint64_t arb_guaranteed_mbps;
	uint64_t cpu_reserve_mbps;	/* the CPU client's reservation */
	uint32_t cpu_weight;		/* its weight for the spare bandwidth */
	/* The iGPU path (device_setup.h, scheduler.h). */
	char gpu_device[SM_CONFIG_STR];	/* Level Zero device name part; "": the iGPU */
	/* split.mode and split.rules (e.g. attention=cpu,router=cpu,experts=gpu),
	 * as the split backend takes them; the rules' text too, for messages */
	struct sm_split_plan split;
	char split_rules[SM_CONFIG_STR];
	uint64_t gpu_reserve_mbps;	/* the GPU client's reservation */
	uint32_t gpu_weight;		/* its weight for the spare bandwidth */
};

/* Defaults (what an empty file gives). */
void sm_config_defaults(struct sm_config *c);
/*
 * Read a YAML file over c (keys absent from the file keep their value).
 * 0, or -1 with one line "FILE:LINE: ..." naming the key in err.
 */
int sm_config_load(const char *path, struct sm_config *c, char *err, size_t errlen);
/* Set one key from text, validated like the file. 0, or -1 with err. */
int sm_config_set(struct sm_config *c, const char *key, const char *value,
		  char *err, size_t errlen);

#endif /* SPLITMOE_CONFIG_YAML_H */
