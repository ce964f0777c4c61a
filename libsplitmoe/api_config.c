// SPDX-License-Identifier: MIT
/*
 * splitmoe_config: the runtime's YAML schema (config/config_yaml.c) behind
 * a handle, and the typed session parameters it describes.
 */
#include "api_internal.h"

#include <stdlib.h>
#include <string.h>

splitmoe_status splitmoe_config_create(splitmoe_config **out)
{
	splitmoe_config *c;

	if (!out)
		return SPLITMOE_ERR_INVALID;
	c = calloc(1, sizeof(*c));
	*out = c;
	if (!c)
		return SPLITMOE_ERR_NOMEM;
	sm_config_defaults(&c->c);
	return SPLITMOE_OK;
}

void splitmoe_config_free(splitmoe_config *c)
{
	free(c);
}

splitmoe_status splitmoe_config_load(splitmoe_config *c, const char *path, char *err,
				     size_t errlen)
{
	if (!c || !path)
		return SPLITMOE_ERR_INVALID;
	return sm_config_load(path, &c->c, err, errlen) ? SPLITMOE_ERR_INVALID : SPLITMOE_OK;
}

splitmoe_status splitmoe_config_set(splitmoe_config *c, const char *key, const char *value,
				    char *err, size_t errlen)
{
	if (!c || !key || !value)
		return SPLITMOE_ERR_INVALID;
	return sm_config_set(&c->c, key, value, err, errlen) ? SPLITMOE_ERR_INVALID : SPLITMOE_OK;
}

const char *splitmoe_config_model(const splitmoe_config *c)
{
	return c->c.model;
}

const char *splitmoe_config_split_rules(const splitmoe_config *c)
{
	return c->c.split_rules;
}

static splitmoe_stage stage_of(enum sm_stage st)
{
	switch (st) {
	case SM_STAGE_ROUTER:
		return SPLITMOE_STAGE_ROUTER;
	case SM_STAGE_EXPERTS:
		return SPLITMOE_STAGE_EXPERTS;
	case SM_STAGE_HEAD:
		return SPLITMOE_STAGE_HEAD;
	default:
		return SPLITMOE_STAGE_ATTENTION;
	}
}

static uint64_t mbps_of(uint64_t v)
{
	return v == SM_CONFIG_AUTO ? SPLITMOE_MBPS_AUTO : v;
}

/* The session parameters k describes (strings point into k). */
static void params_of_config(const struct sm_config *k, struct splitmoe_session_params *p)
{
	*p = splitmoe_session_default_params();
	p->device = sm_api_device_of(k->device);
	p->split_mode = k->split.mode == SM_SPLIT_DYNAMIC ? SPLITMOE_SPLIT_DYNAMIC :
			k->split.mode == SM_SPLIT_EXPERT_PARALLEL ? SPLITMOE_SPLIT_EXPERT_PARALLEL :
			SPLITMOE_SPLIT_PARTITION;
	p->gpu_name = k->gpu_device;
	p->compute = sm_api_compute_of(k->dtype);
	p->weights = sm_api_weights_of(k->weights);
	p->quant = sm_api_quant_of(k->quant);
	p->threads = k->threads;
	p->arbiter = sm_api_arbiter_of(k->arbiter);
	p->arbiter_dev = k->arbiter_dev;
	p->cpu_weight = k->cpu_weight;
	p->gpu_weight = k->gpu_weight;
	p->cpu_reserve_mbps = k->cpu_reserve_mbps;
	p->gpu_reserve_mbps = k->gpu_reserve_mbps;
	p->arbiter_capacity_mbps = mbps_of(k->arb_capacity_mbps);
	p->arbiter_guaranteed_mbps = mbps_of(k->arb_guaranteed_mbps);
	p->n_split_rules = k->split.n_rules;
	for (int i = 0; i < k->split.n_rules && i < SPLITMOE_SPLIT_MAX_RULES; i++) {
		const struct sm_split_rule *r = &k->split.rules[i];

		p->split_rules[i] = (struct splitmoe_split_rule){
			.stage = stage_of(r->stage), .layer_lo = r->layer_lo, .layer_hi = r->layer_hi,
			.device = r->dev == SM_DEV_GPU ? SPLITMOE_DEVICE_GPU : SPLITMOE_DEVICE_CPU,
		};
	}
}

void splitmoe_config_session_params(const splitmoe_config *c,
				    struct splitmoe_session_params *p)
{
	params_of_config(&c->c, p);
}
