// SPDX-License-Identifier: MIT
/*
 * The split plan: modes, placement rules and their text form. See
 * scheduler.h.
 */
#include "sched/scheduler.h"
#include "util/name_table.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const mode_names[] = {
	[SM_SPLIT_PARTITION] = "partition",
	[SM_SPLIT_EXPERT_PARALLEL] = "expert-parallel",
	[SM_SPLIT_DYNAMIC] = "dynamic",
};

static const char *const stage_names[SM_STAGE_COUNT] = {
	[SM_STAGE_ATTENTION] = "attention",
	[SM_STAGE_ROUTER] = "router",
	[SM_STAGE_EXPERTS] = "experts",
	[SM_STAGE_HEAD] = "head",
};

const char *sm_split_mode_name(enum sm_split_mode m)
{
	return sm_name_of(mode_names, SM_NAMES_LEN(mode_names), (unsigned)m);
}

int sm_split_mode_parse(const char *s, enum sm_split_mode *out)
{
	int i = sm_name_find(mode_names, SM_NAMES_LEN(mode_names), s);

	if (i < 0)
		return i;
	*out = (enum sm_split_mode)i;
	return 0;
}

/* One item "STAGE[LO-HI]=DEV" of length len. */
static int parse_item(const char *item, size_t len, struct sm_split_rule *r, char *err,
		      size_t errlen)
{
	char buf[96], *eq, *br, *dev;
	int st = -1;

	if (len == 0 || len >= sizeof(buf))
		goto bad;
	memcpy(buf, item, len);
	buf[len] = '\0';
	eq = strchr(buf, '=');
	if (!eq)
		goto bad;
	*eq = '\0';
	dev = eq + 1;
	r->layer_lo = 0;
	r->layer_hi = INT_MAX;
	br = strchr(buf, '[');
	if (br) {
		char *end;
		long lo, hi;

		*br = '\0';
		lo = strtol(br + 1, &end, 10);
		if (end == br + 1 || lo < 0)
			goto bad;
		hi = lo;
		if (*end == '-') {
			char *e2;

			hi = strtol(end + 1, &e2, 10);
			if (e2 == end + 1)
				goto bad;
			end = e2;
		}
		if (strcmp(end, "]") || hi < lo || hi > INT_MAX)
			goto bad;
		r->layer_lo = (int)lo;
		r->layer_hi = (int)hi;
	}
	for (int i = 0; i < SM_STAGE_COUNT; i++)
		if (!strcmp(buf, stage_names[i]))
			st = i;
	if (st < 0)
		goto bad;
	r->stage = (enum sm_stage)st;
	if (!strcmp(dev, "cpu"))
		r->dev = SM_DEV_CPU;
	else if (!strcmp(dev, "gpu"))
		r->dev = SM_DEV_GPU;
	else
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "split rule '%.*s': expected STAGE[=|[LO-HI]=]cpu|gpu with STAGE "
		 "attention, router, experts or head", (int)(len > 80 ? 80 : len), item);
	return -EINVAL;
}

int sm_split_plan_parse(const char *spec, struct sm_split_plan *p, char *err, size_t errlen)
{
	const char *s = spec ? spec : "";

	p->n_rules = 0;
	while (*s) {
		size_t len = strcspn(s, ",");
		int rc;

		if (len) {
			if (p->n_rules == SM_SPLIT_MAX_RULES) {
				snprintf(err, errlen, "split rules: more than %d", SM_SPLIT_MAX_RULES);
				return -EINVAL;
			}
			rc = parse_item(s, len, &p->rules[p->n_rules], err, errlen);
			if (rc)
				return rc;
			p->n_rules++;
		}
		s += len;
		if (*s == ',')
			s++;
	}
	return 0;
}

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
