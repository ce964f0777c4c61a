// SPDX-License-Identifier: MIT
/*
 * YAML configuration through libyaml's event parser: nested mappings of
 * scalars only, each leaf looked up in the schema table below.
 */
#include "config/config_yaml.h"
#include "config/split_rules.h"
#include "util/errbuf.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* F_U64_AUTO: a number, or "auto" stored as SM_CONFIG_AUTO; F_CHOICE: a
 * name of an option (options.h), stored as its enum; F_SPLIT_RULES: the
 * text of split rules, kept, and the rules parsed into the split plan. */
enum field_type { F_STR, F_INT, F_U32, F_U64, F_U64_AUTO, F_CHOICE, F_SPLIT_RULES };

struct field {
	const char *key;		/* dotted path */
	enum field_type type;
	size_t off;
	size_t size;			/* F_STR: buffer size */
	int64_t min, max;		/* numbers */
	const struct sm_option *choices;	/* F_CHOICE */
	const char *dflt;		/* default, as text */
};

#define OFF(f) offsetof(struct sm_config, f), sizeof(((struct sm_config *)0)->f)

/* The schema: add a row (and a struct field) per key. */
static const struct field fields[] = {
	{ "model", F_STR, OFF(model), 0, 0, NULL, "" },
	{ "threads", F_INT, OFF(threads), 0, 1024, NULL, "0" },
	{ "dtype", F_CHOICE, OFF(dtype), 0, 0, &sm_opt_compute, "auto" },
	{ "weights", F_CHOICE, OFF(weights), 0, 0, &sm_opt_weights, "auto" },
	{ "quant", F_CHOICE, OFF(quant), 0, 0, &sm_opt_quant, "auto" },
	{ "device", F_CHOICE, OFF(device), 0, 0, &sm_opt_device, "cpu" },
	{ "arbiter.backend", F_CHOICE, OFF(arbiter), 0, 0, &sm_opt_arbiter, "auto" },
	{ "arbiter.device", F_STR, OFF(arbiter_dev), 0, 0, NULL, "/dev/bwarb" },
	{ "arbiter.capacity_mbps", F_U64_AUTO, OFF(arb_capacity_mbps), 0, 10000000, NULL, "0" },
	{ "arbiter.guaranteed_mbps", F_U64_AUTO, OFF(arb_guaranteed_mbps), 0, 10000000, NULL, "0" },
	{ "arbiter.cpu.reserve_mbps", F_U64, OFF(cpu_reserve_mbps), 0, 1000000, NULL, "0" },
	{ "arbiter.cpu.weight", F_U32, OFF(cpu_weight), 1, 10000, NULL, "100" },
	{ "arbiter.gpu.reserve_mbps", F_U64, OFF(gpu_reserve_mbps), 0, 1000000, NULL, "0" },
	{ "arbiter.gpu.weight", F_U32, OFF(gpu_weight), 1, 10000, NULL, "100" },
	{ "gpu.device", F_STR, OFF(gpu_device), 0, 0, NULL, "" },
	{ "split.mode", F_CHOICE, OFF(split.mode), 0, 0, &sm_opt_split_mode, "partition" },
	{ "split.rules", F_SPLIT_RULES, OFF(split_rules), 0, 0, NULL,
	  "attention=cpu,router=cpu,experts=gpu" },
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static const struct field *find_field(const char *key)
{
	size_t i;

	for (i = 0; i < NFIELDS; i++)
		if (!strcmp(fields[i].key, key))
			return &fields[i];
	return NULL;
}

/* Whether key is a prefix of some field's path ("arbiter", "arbiter.cpu"). */
static bool is_section(const char *key)
{
	size_t i, n = strlen(key);

	for (i = 0; i < NFIELDS; i++)
		if (!strncmp(fields[i].key, key, n) && fields[i].key[n] == '.')
			return true;
	return false;
}

/* Set field f from text; on error, a message without location in err. */
static int set_field(struct sm_config *c, const struct field *f, const char *v,
		     char *err, size_t errlen)
{
	char *p = (char *)c + f->off, *end;
	long long x;
	unsigned long long u;

	switch (f->type) {
	case F_STR:
		if (strlen(v) >= f->size)
			return sm_errf(err, errlen, "key '%s': value longer than %zu bytes", f->key, f->size - 1);
		memcpy(p, v, strlen(v) + 1);
		return 0;
	case F_CHOICE: {
		char list[256];
		int e;

		if (!sm_option_parse(f->choices, v, &e)) {
			/* every enum of the options is an int (static asserts above) */
			memcpy(p, &e, sizeof(e));
			return 0;
		}
		sm_option_list(f->choices, "|", list, sizeof(list));
		return sm_errf(err, errlen, "key '%s': bad value '%s' (want %s)", f->key, v, list);
	}
	case F_SPLIT_RULES: {
		struct sm_split_plan plan = c->split;
		char why[256];

		if (strlen(v) >= f->size)
			return sm_errf(err, errlen, "key '%s': value longer than %zu bytes", f->key, f->size - 1);
		if (sm_split_plan_parse(v, &plan, why, sizeof(why)))
			return sm_errf(err, errlen, "key '%s': %s", f->key, why);
		c->split = plan;
		memcpy(p, v, strlen(v) + 1);
		return 0;
	}
	case F_INT:
		errno = 0;
		x = strtoll(v, &end, 10);
		if (!*v || *end || errno || x < f->min || x > f->max)
			return sm_errf(err, errlen, "key '%s': bad value '%s' (want an integer in [%" PRId64 ", %" PRId64 "])",
				    f->key, v, f->min, f->max);
		*(int *)p = (int)x;
		return 0;
	case F_U64_AUTO:
		if (!strcmp(v, "auto")) {
			*(uint64_t *)p = SM_CONFIG_AUTO;
			return 0;
		}
		/* a number, checked as F_U64 */
		__attribute__((fallthrough));
	case F_U32:
	case F_U64:
		errno = 0;
		u = strtoull(v, &end, 10);
		if (!*v || *v == '-' || *end || errno || u < (unsigned long long)f->min ||
		    u > (unsigned long long)f->max)
			return sm_errf(err, errlen, "key '%s': bad value '%s' (want %san integer in [%" PRId64 ", %" PRId64 "])",
				    f->key, v, f->type == F_U64_AUTO ? "auto or " : "", f->min, f->max);
		if (f->type == F_U32)
			*(uint32_t *)p = (uint32_t)u;
		else
			*(uint64_t *)p = (uint64_t)u;
		return 0;
	}
	return -1;
}

void sm_config_defaults(struct sm_config *c)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < NFIELDS; i++)
		if (set_field(c, &fields[i], fields[i].dflt, NULL, 0))
			abort();	/* a bad default is a programming error */
}

int sm_config_set(struct sm_config *c, const char *key, const char *value,
		  char *err, size_t errlen)
{
	const struct field *f = find_field(key);

	if (!f)
		return sm_errf(err, errlen, "unknown key '%s'", key);
	return set_field(c, f, value, err, errlen);
}

#define MAX_DEPTH 8

int sm_config_load(const char *path, struct sm_config *c, char *err, size_t errlen)
{
	char prefix[MAX_DEPTH][256];	/* dotted path of each open mapping */
	char key[256] = "";		/* pending key within the current mapping */
	char msg[384];
	unsigned long key_line = 0;	/* where the pending key was written */
	bool have_key = false, done = false;
	yaml_parser_t parser;
	yaml_event_t ev;
	struct sm_config tmp = *c;
	int depth = -1, rc = -1;
	FILE *fp;

	fp = fopen(path, "rb");
	if (!fp)
		return sm_errf(err, errlen, "%s: %s", path, strerror(errno));
	if (!yaml_parser_initialize(&parser)) {
		fclose(fp);
		return sm_errf(err, errlen, "%s: out of memory", path);
	}
	yaml_parser_set_input_file(&parser, fp);
	while (!done) {
		unsigned long line;

		if (!yaml_parser_parse(&parser, &ev)) {
			sm_errf(err, errlen, "%s:%lu: YAML syntax error: %s", path,
			     (unsigned long)parser.problem_mark.line + 1,
			     parser.problem ? parser.problem : "?");
			goto out;
		}
		line = (unsigned long)ev.start_mark.line + 1;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_MAPPING_START_EVENT: {
			char full[256];

			if (depth >= 0 && !have_key) {
				sm_errf(err, errlen, "%s:%lu: a mapping cannot be a key", path, line);
				goto bad_event;
			}
			if (depth + 1 >= MAX_DEPTH) {
				sm_errf(err, errlen, "%s:%lu: nested too deep", path, line);
				goto bad_event;
			}
			if (depth < 0) {
				full[0] = '\0';
			} else {
				snprintf(full, sizeof(full), "%s%s%s", prefix[depth],
					 prefix[depth][0] ? "." : "", key);
				if (!is_section(full)) {
					sm_errf(err, errlen, "%s:%lu: unknown key '%s'%s", path, key_line, full,
					     find_field(full) ? " (a scalar, not a mapping)" : "");
					goto bad_event;
				}
			}
			depth++;
			snprintf(prefix[depth], sizeof(prefix[depth]), "%s", full);
			have_key = false;
			break;
		}
		case YAML_MAPPING_END_EVENT:
			depth--;
			have_key = false;
			break;
		case YAML_SEQUENCE_START_EVENT:
			sm_errf(err, errlen, "%s:%lu: %s%s%s: lists are not used in this file", path, line,
			     depth >= 0 ? prefix[depth] : "", depth >= 0 && prefix[depth][0] ? "." : "",
			     have_key ? key : "");
			goto bad_event;
		case YAML_ALIAS_EVENT:
			sm_errf(err, errlen, "%s:%lu: aliases are not supported", path, line);
			goto bad_event;
		case YAML_SCALAR_EVENT: {
			const char *v = (const char *)ev.data.scalar.value;
			char full[256];
			const struct field *f;

			if (depth < 0) {
				/* a document that is a lone scalar: only an empty one is fine */
				if (*v) {
					sm_errf(err, errlen, "%s:%lu: expected a mapping of keys", path, line);
					goto bad_event;
				}
				break;
			}
			if (!have_key) {
				snprintf(key, sizeof(key), "%s", v);
				key_line = line;
				have_key = true;
				break;
			}
			snprintf(full, sizeof(full), "%s%s%s", prefix[depth],
				 prefix[depth][0] ? "." : "", key);
			have_key = false;
			f = find_field(full);
			if (!f) {
				sm_errf(err, errlen, "%s:%lu: unknown key '%s'%s", path, line, full,
				     is_section(full) ? " (a section: expected a mapping)" : "");
				goto bad_event;
			}
			if (set_field(&tmp, f, v, msg, sizeof(msg))) {
				sm_errf(err, errlen, "%s:%lu: %s", path, line, msg);
				goto bad_event;
			}
			break;
		}
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	*c = tmp;
	rc = 0;
	goto out;
bad_event:
	yaml_event_delete(&ev);
out:
	yaml_parser_delete(&parser);
	fclose(fp);
	return rc;
}
