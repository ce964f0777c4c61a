// SPDX-License-Identifier: MIT
/*
 * Reads a bwsim scenario from YAML and validates every key and value; the
 * first problem is reported as "FILE:LINE: key 'clients[1].weight': why".
 */
#include "scenario.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmod/arb_core.h"
#include "yaml_tree.h"

struct ctx {
	const char *path;
	char *err;
	size_t errlen;
};

static int fail(struct ctx *c, const struct ynode *n, const char *key,
		const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s:%d: key '%s': %s", c->path,
		 n ? n->line : 1, key, why);
	return -1;
}

/* "where.key" for messages; long names are cut, which only shortens them. */
static void join_key(char *out, size_t n, const char *where, const char *key)
{
	if (snprintf(out, n, "%s.%s", where, key) >= (int)n)
		out[n - 1] = 0;
}

static int want_scalar(struct ctx *c, const struct ynode *v, const char *key)
{
	if (v->kind != YN_SCALAR)
		return fail(c, v, key, "expected a single value");
	return 0;
}

/* Integers, optionally with a binary suffix: 64K, 4M, 1G. */
static int get_u64(struct ctx *c, const struct ynode *v, const char *key,
		   uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long x;
	char *end;

	if (want_scalar(c, v, key))
		return -1;
	errno = 0;
	x = strtoull(v->str, &end, 10);
	if (end == v->str || v->str[0] == '-' || errno)
		goto bad;
	if (*end == 'K' || *end == 'k') {
		x <<= 10;
		end++;
	} else if (*end == 'M') {
		x <<= 20;
		end++;
	} else if (*end == 'G') {
		x <<= 30;
		end++;
	}
	if (*end || x < min || x > max)
		goto bad;
	*out = x;
	return 0;
bad:
	return fail(c, v, key, "expected an integer in %" PRIu64 "..%" PRIu64
		    " (K, M, G suffixes allowed), got '%s'", min, max, v->str);
}

static int get_u32(struct ctx *c, const struct ynode *v, const char *key,
		   uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t x;

	if (get_u64(c, v, key, min, max, &x))
		return -1;
	*out = (uint32_t)x;
	return 0;
}

static int get_double(struct ctx *c, const struct ynode *v, const char *key,
		      double min, double max, double *out)
{
	char *end;
	double x;

	if (want_scalar(c, v, key))
		return -1;
	errno = 0;
	x = strtod(v->str, &end);
	if (end == v->str || *end || errno || !isfinite(x) || x < min || x > max)
		return fail(c, v, key, "expected a number in %g..%g, got '%s'",
			    min, max, v->str);
	*out = x;
	return 0;
}

static int get_bool(struct ctx *c, const struct ynode *v, const char *key,
		    bool *out)
{
	if (want_scalar(c, v, key))
		return -1;
	if (!strcmp(v->str, "true") || !strcmp(v->str, "yes")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v->str, "false") || !strcmp(v->str, "no")) {
		*out = false;
		return 0;
	}
	return fail(c, v, key, "expected true or false, got '%s'", v->str);
}

static int get_choice(struct ctx *c, const struct ynode *v, const char *key,
		      const char *const *names, int *out)
{
	char list[256] = "";
	int i;

	if (want_scalar(c, v, key))
		return -1;
	for (i = 0; names[i]; i++) {
		if (!strcmp(v->str, names[i])) {
			*out = i;
			return 0;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 i ? ", " : "", names[i]);
	}
	return fail(c, v, key, "expected one of %s, got '%s'", list, v->str);
}

static int get_name(struct ctx *c, const struct ynode *v, const char *key,
		    char *out, size_t size)
{
	if (want_scalar(c, v, key))
		return -1;
	if (!v->str[0] || strlen(v->str) >= size)
		return fail(c, v, key, "expected a name of 1..%zu characters",
			    size - 1);
	strcpy(out, v->str);
	return 0;
}

static const char *const arrival_names[] = {
	"greedy", "poisson", "periodic", "onoff", "edge", NULL
};
static const char *const dist_names[] = {
	"fixed", "uniform", "exponential", "bimodal", NULL
};
static const char *const class_names[] = { "cpu", "gpu", "other", NULL };

static int parse_size(struct ctx *c, const struct ynode *m, const char *where,
		      struct bw_size *sz)
{
	const uint64_t maxb = ARB_MAX_REQUEST_BYTES;
	char key[96];
	size_t i;
	int d;

	sz->dist = SZ_FIXED;
	if (m->kind == YN_SCALAR)
		return get_u64(c, m, where, 1, maxb, &sz->bytes);
	if (m->kind != YN_MAP)
		return fail(c, m, where, "expected a byte count or a mapping");
	for (i = 0; i < m->n; i += 2) {
		const struct ynode *k = m->kids[i], *v = m->kids[i + 1];
		int r;

		join_key(key, sizeof(key), where, k->str);
		if (!strcmp(k->str, "dist")) {
			r = get_choice(c, v, key, dist_names, &d);
			sz->dist = d;
		} else if (!strcmp(k->str, "bytes") || !strcmp(k->str, "mean")) {
			r = get_u64(c, v, key, 1, maxb, &sz->bytes);
		} else if (!strcmp(k->str, "min")) {
			r = get_u64(c, v, key, 1, maxb, &sz->min);
		} else if (!strcmp(k->str, "max")) {
			r = get_u64(c, v, key, 1, maxb, &sz->max);
		} else if (!strcmp(k->str, "small")) {
			r = get_u64(c, v, key, 1, maxb, &sz->small);
		} else if (!strcmp(k->str, "large")) {
			r = get_u64(c, v, key, 1, maxb, &sz->large);
		} else if (!strcmp(k->str, "p_large")) {
			r = get_double(c, v, key, 0, 1, &sz->p_large);
		} else {
			r = fail(c, k, key, "unknown key (dist, bytes, mean, min, max, small, large, p_large)");
		}
		if (r)
			return r;
	}
	switch (sz->dist) {
	case SZ_FIXED:
	case SZ_EXP:
		if (!sz->bytes)
			return fail(c, m, where, "needs 'bytes' (or 'mean')");
		if (!sz->max)
			sz->max = maxb;
		if (!sz->min)
			sz->min = 1;
		break;
	case SZ_UNIFORM:
		if (!sz->min || !sz->max || sz->min > sz->max)
			return fail(c, m, where, "uniform needs 1 <= min <= max");
		break;
	case SZ_BIMODAL:
		if (!sz->small || !sz->large)
			return fail(c, m, where, "bimodal needs 'small' and 'large'");
		break;
	}
	return 0;
}

static int parse_group(struct ctx *c, const struct ynode *m, size_t idx,
		       struct bw_group *g)
{
	char where[32], key[96];
	bool have_size = false;
	size_t i;
	int e;

	snprintf(where, sizeof(where), "clients[%zu]", idx);
	if (m->kind != YN_MAP)
		return fail(c, m, where, "expected a mapping");
	*g = (struct bw_group){
		.line = m->line, .count = 1, .weight = 1, .class = ARB_CLASS_CPU,
		.arrival = ARR_GREEDY, .complete_pct = 100, .outstanding = 4,
		.on_periods = 10, .off_periods = 10,
	};
	snprintf(g->name, sizeof(g->name), "c%zu", idx);
	for (i = 0; i < m->n; i += 2) {
		const struct ynode *k = m->kids[i], *v = m->kids[i + 1];
		int r;

		join_key(key, sizeof(key), where, k->str);
		if (!strcmp(k->str, "name")) {
			r = get_name(c, v, key, g->name, sizeof(g->name));
		} else if (!strcmp(k->str, "count")) {
			r = get_u32(c, v, key, 1, ARB_MAX_CLIENTS_LIMIT, &g->count);
		} else if (!strcmp(k->str, "weight")) {
			r = get_u32(c, v, key, 1, ARB_MAX_WEIGHT, &g->weight);
		} else if (!strcmp(k->str, "class")) {
			r = get_choice(c, v, key, class_names, &e);
			g->class = e;
		} else if (!strcmp(k->str, "reserve_mbps")) {
			r = get_u64(c, v, key, 0, ARB_MAX_MBPS, &g->reserve_mbps);
		} else if (!strcmp(k->str, "burst_bytes")) {
			r = get_u64(c, v, key, 0, ARB_MAX_REQUEST_BYTES,
				    &g->burst_bytes);
		} else if (!strcmp(k->str, "arrival")) {
			r = get_choice(c, v, key, arrival_names, &e);
			g->arrival = e;
		} else if (!strcmp(k->str, "rate_mbps")) {
			r = get_double(c, v, key, 1e-6, 1e7, &g->rate_mbps);
		} else if (!strcmp(k->str, "on_periods")) {
			r = get_u64(c, v, key, 1, 1000000000, &g->on_periods);
		} else if (!strcmp(k->str, "off_periods")) {
			r = get_u64(c, v, key, 1, 1000000000, &g->off_periods);
		} else if (!strcmp(k->str, "size")) {
			r = parse_size(c, v, key, &g->size);
			have_size = true;
		} else if (!strcmp(k->str, "complete_pct")) {
			r = get_double(c, v, key, 0, 10000, &g->complete_pct);
		} else if (!strcmp(k->str, "outstanding")) {
			r = get_u32(c, v, key, 1, ARB_MAX_GRANTS, &g->outstanding);
		} else if (!strcmp(k->str, "fastpath")) {
			r = get_bool(c, v, key, &g->fastpath);
		} else if (!strcmp(k->str, "tamper_pct")) {
			r = get_double(c, v, key, 0, 10000, &g->tamper_pct);
		} else if (!strcmp(k->str, "tamper_inconsistent")) {
			r = get_bool(c, v, key, &g->tamper_inconsistent);
		} else if (!strcmp(k->str, "start_period")) {
			r = get_u64(c, v, key, 0, UINT64_MAX / 2, &g->start_period);
		} else if (!strcmp(k->str, "stop_period")) {
			r = get_u64(c, v, key, 0, UINT64_MAX / 2, &g->stop_period);
		} else {
			r = fail(c, k, key, "unknown key");
		}
		if (r)
			return r;
	}
	if (!have_size)
		return fail(c, m, where, "missing key 'size'");
	if ((g->arrival == ARR_POISSON || g->arrival == ARR_PERIODIC) &&
	    g->rate_mbps <= 0)
		return fail(c, m, where, "arrival %s needs 'rate_mbps'",
			    arrival_names[g->arrival]);
	if (g->stop_period && g->stop_period <= g->start_period)
		return fail(c, m, where, "stop_period must be after start_period");
	if ((g->tamper_pct > 0 || g->tamper_inconsistent) && !g->fastpath)
		return fail(c, m, where, "tampering needs 'fastpath: true'");
	return 0;
}

static int parse_map2(struct ctx *c, const struct ynode *m, const char *where,
		      struct bw_scenario *s)
{
	char key[96];
	size_t i;

	if (m->kind != YN_MAP)
		return fail(c, m, where, "expected a mapping");
	for (i = 0; i < m->n; i += 2) {
		const struct ynode *k = m->kids[i], *v = m->kids[i + 1];
		int r;

		join_key(key, sizeof(key), where, k->str);
		if (!strcmp(where, "expect") && !strcmp(k->str, "jain_min")) {
			r = get_double(c, v, key, 0, 1, &s->jain_min);
			s->expect_jain = true;
		} else if (!strcmp(where, "expect") &&
			   !strcmp(k->str, "share_error_max_pct")) {
			r = get_double(c, v, key, 0, 1000, &s->share_error_max_pct);
			s->expect_err = true;
		} else if (!strcmp(where, "inject") &&
			   !strcmp(k->str, "late_wake_periods")) {
			r = get_u64(c, v, key, 0, 1000000, &s->inject_late_wake);
		} else if (!strcmp(where, "inject") &&
			   !strcmp(k->str, "bypass_bytes_per_period")) {
			r = get_u64(c, v, key, 0, ARB_MAX_REQUEST_BYTES,
				    &s->inject_bypass_bytes);
		} else {
			r = fail(c, k, key, "unknown key");
		}
		if (r)
			return r;
	}
	return 0;
}

static int parse_root(struct ctx *c, const struct ynode *root,
		      struct bw_scenario *s)
{
	const struct ynode *clients = NULL;
	uint64_t max_clients = ARB_DEFAULT_CLIENTS;
	size_t i;

	if (root->kind != YN_MAP)
		return fail(c, root, "(top)", "expected a mapping");
	s->period_us = 1000;
	s->periods = 10000;
	s->seed = 1;
	s->counters = true;
	for (i = 0; i < root->n; i += 2) {
		const struct ynode *k = root->kids[i], *v = root->kids[i + 1];
		const char *key = k->str;
		int r;

		if (!strcmp(key, "name")) {
			r = get_name(c, v, key, s->name, sizeof(s->name));
		} else if (!strcmp(key, "period_us")) {
			r = get_u64(c, v, key, ARB_MIN_PERIOD_NS / 1000,
				    ARB_MAX_PERIOD_NS / 1000, &s->period_us);
		} else if (!strcmp(key, "capacity_mbps")) {
			r = get_u64(c, v, key, 1, ARB_MAX_MBPS, &s->capacity_mbps);
		} else if (!strcmp(key, "guaranteed_mbps")) {
			r = get_u64(c, v, key, 0, ARB_MAX_MBPS, &s->guaranteed_mbps);
		} else if (!strcmp(key, "max_clients")) {
			r = get_u64(c, v, key, 1, ARB_MAX_CLIENTS_LIMIT, &max_clients);
		} else if (!strcmp(key, "periods")) {
			r = get_u64(c, v, key, 1, 100000000, &s->periods);
		} else if (!strcmp(key, "seed")) {
			r = get_u64(c, v, key, 0, UINT64_MAX, &s->seed);
		} else if (!strcmp(key, "background_mbps")) {
			r = get_double(c, v, key, 0, 1e7, &s->background_mbps);
		} else if (!strcmp(key, "counters")) {
			r = get_bool(c, v, key, &s->counters);
		} else if (!strcmp(key, "expect") || !strcmp(key, "inject")) {
			r = parse_map2(c, v, key, s);
		} else if (!strcmp(key, "clients")) {
			clients = v;
			r = v->kind == YN_SEQ && v->n ? 0 :
			    fail(c, v, key, "expected a non-empty list of clients");
		} else {
			r = fail(c, k, key, "unknown key");
		}
		if (r)
			return r;
	}
	s->max_clients = (uint32_t)max_clients;
	if (!s->capacity_mbps)
		return fail(c, root, "capacity_mbps", "missing");
	if (s->guaranteed_mbps > s->capacity_mbps)
		return fail(c, root, "guaranteed_mbps", "above capacity_mbps");
	if (!clients)
		return fail(c, root, "clients", "missing");
	s->groups = calloc(clients->n, sizeof(*s->groups));
	if (!s->groups)
		return fail(c, root, "clients", "out of memory");
	s->ngroups = clients->n;
	for (i = 0; i < clients->n; i++) {
		if (parse_group(c, clients->kids[i], i, &s->groups[i]))
			return -1;
		if (s->nclients + (uint64_t)s->groups[i].count > ARB_MAX_CLIENTS_LIMIT)
			return fail(c, clients->kids[i], "count",
				    "more than %u clients in all",
				    ARB_MAX_CLIENTS_LIMIT);
		s->nclients += s->groups[i].count;
	}
	return 0;
}

int scenario_load(const char *path, struct bw_scenario *s, char *err,
		  size_t errlen)
{
	struct ctx c = { .path = path, .err = err, .errlen = errlen };
	struct ynode *root;
	int r;

	*s = (struct bw_scenario){ 0 };
	snprintf(s->path, sizeof(s->path), "%s", path);
	root = ytree_load(path, err, errlen);
	if (!root)
		return -1;
	r = parse_root(&c, root, s);
	ytree_free(root);
	if (r)
		scenario_free(s);
	else if (!s->name[0])
		snprintf(s->name, sizeof(s->name), "%s", path);
	return r;
}

void scenario_free(struct bw_scenario *s)
{
	free(s->groups);
	s->groups = NULL;
	s->ngroups = 0;
}
