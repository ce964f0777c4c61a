/* SPDX-License-Identifier: MIT */
/* The split plan's placement rules (scheduler.h) read from text. */
#ifndef SPLITMOE_SPLIT_RULES_H
#define SPLITMOE_SPLIT_RULES_H

#include <stddef.h>

#include "sched/scheduler.h"

/*
 * Rules from "STAGE[=|[LO-HI]=]DEV,..." with STAGE one of attention,
 * router, experts, head and DEV cpu or gpu, e.g.
 * "attention=cpu,experts[4-31]=gpu". 0, or -EINVAL with one line naming
 * the bad item. The mode is left as it is.
 */
int sm_split_plan_parse(const char *spec, struct sm_split_plan *p, char *err, size_t errlen);

#endif /* SPLITMOE_SPLIT_RULES_H */
