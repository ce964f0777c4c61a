// SPDX-License-Identifier: MIT
/* The split plan's rules from their text form. See split_rules.h. */
#include "config/split_rules.h"
#include "config/options.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One item "STAGE[LO-HI]=DEV" of length len. */
static int parse_item(const char *item, size_t len, struct sm_split_rule *r, char *err,
		      size_t errlen)
{
	char buf[96], *eq, *br, *dev;
	int st, d;

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
	if (sm_option_parse(&sm_opt_stage, buf, &st) || sm_option_parse(&sm_opt_split_device, dev, &d))
		goto bad;
	r->stage = (enum sm_stage)st;
	r->dev = (enum sm_device)d;
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
