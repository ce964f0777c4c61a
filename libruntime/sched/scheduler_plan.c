// SPDX-License-Identifier: MIT
/*
 * The split plan: modes, placement rules and their names (the rules' text
 * form is read at the edge: config/split_rules.c). See scheduler.h.
 */
#include "sched/scheduler.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum sm_device sm_split_place(const struct sm_split_plan *p, enum sm_stage st, int layer)
{
	enum sm_device d = SM_DEV_CPU;

	for (int i = 0; i < p->n_rules; i++) {
		const struct sm_split_rule *r = &p->rules[i];

		if (r->stage != st)
			continue;
		/* the head has no layer: its rules' ranges do not apply */
		if (st != SM_STAGE_HEAD && (layer < r->layer_lo || layer > r->layer_hi))
			continue;
		d = r->dev;
	}
	return d;
}
