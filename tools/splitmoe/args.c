// SPDX-License-Identifier: MIT
/*
 * Command-line options: a YAML file (--config) first, then the flags over
 * it. Each subcommand accepts only its own flags; any other is an error.
 */
#include "cli.h"
#include "synth.h"
#include "quantize.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_err(const char *fmt, ...)
{
	char msg[1024], *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (p = msg; *p; p++)	/* one line, whatever the arguments held */
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	fprintf(stderr, "splitmoe: %s\n", msg);
}

enum {
	O_MODEL = 256, O_CONFIG, O_PROMPT, O_CHAT, O_IDS, O_TEMP, O_TOPK, O_TOPP,
	O_SEED, O_DTYPE, O_PRINT_IDS, O_OUT, O_TEXT, O_REF, O_THREADS, O_ARB, O_DEVICE,
	O_WEIGHTS, O_QUANT, O_PROFILE, O_JSON, O_MEMBW, O_MEMBW_GBS, O_NO_MEMBW, O_SHAPE, O_LAYERS,
	O_PARALLEL, O_HOST, O_PORT, O_QUEUE,
	O_TYPE, O_TENSORS,
};

static const struct option longopts[] = {
	{ "model", required_argument, NULL, O_MODEL },
	{ "config", required_argument, NULL, O_CONFIG },
	{ "prompt", required_argument, NULL, O_PROMPT },
	{ "chat", required_argument, NULL, O_CHAT },
	{ "ids", required_argument, NULL, O_IDS },
	{ "temperature", required_argument, NULL, O_TEMP },
	{ "top-k", required_argument, NULL, O_TOPK },
	{ "top-p", required_argument, NULL, O_TOPP },
	{ "seed", required_argument, NULL, O_SEED },
	{ "dtype", required_argument, NULL, O_DTYPE },
	{ "print-ids", no_argument, NULL, O_PRINT_IDS },
	{ "out", required_argument, NULL, O_OUT },
	{ "text", required_argument, NULL, O_TEXT },
	{ "reference", required_argument, NULL, O_REF },
	{ "threads", required_argument, NULL, O_THREADS },
	{ "arbiter", required_argument, NULL, O_ARB },
	{ "device", required_argument, NULL, O_DEVICE },
	{ "weights", required_argument, NULL, O_WEIGHTS },
	{ "quant", required_argument, NULL, O_QUANT },
	{ "profile", no_argument, NULL, O_PROFILE },
	{ "json", no_argument, NULL, O_JSON },
	{ "membw", no_argument, NULL, O_MEMBW },
	{ "membw-gbs", required_argument, NULL, O_MEMBW_GBS },
	{ "no-membw", no_argument, NULL, O_NO_MEMBW },
	{ "shape", required_argument, NULL, O_SHAPE },
	{ "layers", required_argument, NULL, O_LAYERS },
	{ "parallel", required_argument, NULL, O_PARALLEL },
	{ "host", required_argument, NULL, O_HOST },
	{ "port", required_argument, NULL, O_PORT },
	{ "queue", required_argument, NULL, O_QUEUE },
	{ "type", required_argument, NULL, O_TYPE },
	{ "tensors", required_argument, NULL, O_TENSORS },
	{ NULL, 0, NULL, 0 },
};

/* Which flags each subcommand takes ('n' stands for -n, and so on). */
#define MAX_FLAGS 24
static const struct {
	const char *cmd;
	int flags[MAX_FLAGS];
} allowed[] = {
	{ "run", { O_MODEL, O_CONFIG, O_PROMPT, O_CHAT, O_IDS, 'n', O_TEMP, O_TOPK, O_TOPP,
		   O_SEED, O_DTYPE, O_PRINT_IDS, O_THREADS, O_ARB, O_DEVICE, O_WEIGHTS, O_QUANT } },
	{ "logits", { O_MODEL, O_CONFIG, O_IDS, O_OUT, O_DTYPE, O_THREADS, O_ARB, O_DEVICE,
		      O_WEIGHTS, O_QUANT } },
	{ "tokenize", { O_MODEL, O_CONFIG, O_TEXT } },
	{ "eval", { O_MODEL, O_CONFIG, O_REF, O_DTYPE, O_THREADS, O_ARB, O_DEVICE, O_WEIGHTS,
		    O_QUANT } },
	{ "info", { O_MODEL, O_CONFIG, O_DTYPE, O_THREADS, O_ARB, O_DEVICE, O_WEIGHTS, O_QUANT } },
	{ "bench", { O_MODEL, O_CONFIG, 'p', 'n', 'd', 't', 'r', 'b', O_DTYPE, O_WEIGHTS, O_QUANT, O_ARB,
		     O_DEVICE, O_SEED, O_PROFILE, O_JSON, O_MEMBW, O_MEMBW_GBS, O_NO_MEMBW,
		     O_PARALLEL } },
	{ "synth", { O_CONFIG, O_SHAPE, O_OUT, O_SEED, O_DTYPE, O_LAYERS } },
	{ "serve", { O_MODEL, O_CONFIG, O_HOST, O_PORT, O_PARALLEL, O_QUEUE, 'b', O_DTYPE,
		     O_THREADS, O_ARB, O_DEVICE, O_WEIGHTS, O_QUANT } },
	{ "chat", { O_MODEL, O_CONFIG, 'n', O_TEMP, O_TOPK, O_TOPP, O_SEED, O_DTYPE, O_THREADS,
		    O_ARB, O_DEVICE, O_WEIGHTS, O_QUANT } },
	{ "quantize", { O_MODEL, O_CONFIG, O_OUT, O_TYPE, O_TENSORS, O_THREADS } },
	/* contend takes its own flags out first (cmd_contend.c) */
	{ "contend", { O_MODEL, O_CONFIG, O_DTYPE, O_WEIGHTS, O_QUANT, O_ARB, O_THREADS, O_SEED,
		       O_JSON } },
};

static const char *flag_name(int c)
{
	size_t i;

	static const char *const shorts[] = { "-n", "-p", "-d", "-t", "-r", "-b" };
	static const char letters[] = "npdtrb";

	for (i = 0; letters[i]; i++)
		if (c == letters[i])
			return shorts[i];
	for (i = 0; longopts[i].name; i++)
		if (longopts[i].val == c)
			return longopts[i].name;
	return "?";
}

static bool flag_allowed(const char *cmd, int c)
{
	size_t i, j;

	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (!strcmp(allowed[i].cmd, cmd))
			for (j = 0; j < MAX_FLAGS && allowed[i].flags[j]; j++)
				if (allowed[i].flags[j] == c)
					return true;
	return false;
}

static int parse_int(const char *flag, const char *v, long long lo, long long hi, long long *out)
{
	char *end;
	long long x;

	errno = 0;
	x = strtoll(v, &end, 10);
	if (!*v || *end || errno || x < lo || x > hi) {
		cli_err("%s: bad value '%s' (want an integer in [%lld, %lld])", flag, v, lo, hi);
		return -1;
	}
	*out = x;
	return 0;
}

static int parse_float(const char *flag, const char *v, double lo, double hi, float *out)
{
	char *end;
	double x;

	errno = 0;
	x = strtod(v, &end);
	if (!*v || *end || errno || !(x >= lo && x <= hi)) {
		cli_err("%s: bad value '%s' (want a number in [%g, %g])", flag, v, lo, hi);
		return -1;
	}
	*out = (float)x;
	return 0;
}

/*
 * "16,512" into l (each value in [lo, hi]); what = "positive integer" or
 * "non-negative integer" for the error line, which names the flag and the
 * offending item.
 */
static int parse_list(const char *flag, const char *v, long long lo, long long hi,
		      const char *what, struct cli_int_list *l)
{
	const char *p = v;

	l->n = 0;
	l->given = true;
	if (!*v) {
		cli_err("%s: empty list (want comma-separated values)", flag);
		return -1;
	}
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char item[32], *end;
		long long x;

		if (len == 0 || len >= sizeof(item)) {
			cli_err("%s: '%.*s' is not a %s", flag, (int)(len > 40 ? 40 : len), p, what);
			return -1;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		errno = 0;
		x = strtoll(item, &end, 10);
		if (*end || errno || item[0] == '+' || item[0] == '-' || x < lo) {
			cli_err("%s: '%s' is not a %s", flag, item, what);
			return -1;
		}
		if (x > hi) {
			cli_err("%s: %s is too large (at most %lld)", flag, item, hi);
			return -1;
		}
		if (l->n == CLI_LIST_MAX) {
			cli_err("%s: more than %d values", flag, CLI_LIST_MAX);
			return -1;
		}
		l->v[l->n++] = (int)x;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/* The configuration of this process: --config's file, then the flags. */
static splitmoe_config *parsed;

static void free_parsed(void)
{
	splitmoe_config_free(parsed);
	parsed = NULL;
}

static int set_cfg(const char *flag, const char *key, const char *v)
{
	char err[512];

	if (splitmoe_config_set(parsed, key, v, err, sizeof(err))) {
		cli_err("--%s: %s", flag, err);
		return -1;
	}
	return 0;
}

int cli_parse(int argc, char **argv, struct cli_opts *o)
{
	const char *config = NULL;
	char err[512];
	int c, i;
	long long x;

	/* --config first so that every other flag overrides the file */
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			config = argv[i + 1];
		else if (!strncmp(argv[i], "--config=", 9))
			config = argv[i] + 9;
	}
	if (!parsed)
		atexit(free_parsed);
	splitmoe_config_free(parsed);	/* a fresh one per parse */
	if (splitmoe_config_create(&parsed)) {
		cli_err("out of memory");
		return -1;
	}
	o->conf = parsed;
	if (config && splitmoe_config_load(parsed, config, err, sizeof(err))) {
		cli_err("%s", err);
		return -1;
	}
	o->have_model = splitmoe_config_model(parsed)[0] != '\0';
	o->n = 32;
	o->top_p = 1.0f;
	o->host = "127.0.0.1";
	o->port = 8080;
	o->queue = 64;
	o->quant_tensors = QZ_DEFAULT;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":n:p:d:t:r:b:", longopts, NULL)) != -1) {
		if (c == '?') {
			cli_err("%s: unknown option '%s'", o->cmd, argv[optind - 1]);
			return -1;
		}
		if (c == ':') {
			cli_err("%s: option '%s' needs a value", o->cmd, argv[optind - 1]);
			return -1;
		}
		if (!flag_allowed(o->cmd, c)) {
			cli_err("%s: option '%s%s' does not apply", o->cmd,
				c < 256 ? "" : "--", flag_name(c));
			return -1;
		}
		switch (c) {
		case O_MODEL:
			if (set_cfg("model", "model", optarg))
				return -1;
			o->have_model = true;
			break;
		case O_CONFIG:
			break;
		case O_PROMPT: o->prompt = optarg; break;
		case O_CHAT: o->chat = optarg; break;
		case O_IDS: o->ids = optarg; break;
		case O_OUT: o->out = optarg; break;
		case O_TEXT: o->text = optarg; break;
		case O_REF: o->reference = optarg; break;
		case O_PRINT_IDS: o->print_ids = true; break;
		case 'n':
			if (parse_int("-n", optarg, 0, INT_MAX, &x))
				return -1;
			o->n = (int)x;
			o->n_given = true;
			break;
		case 'p':
			if (parse_list("-p", optarg, 0, 1 << 20, "positive integer", &o->pp))
				return -1;
			if (o->pp.n == 1 && o->pp.v[0] == 0) {
				o->pp.n = 0;	/* -p 0: no prefill test */
				break;
			}
			for (i = 0; i < o->pp.n; i++)
				if (!o->pp.v[i]) {
					cli_err("-p: '0' is not a positive integer (-p 0 alone: no prefill test)");
					return -1;
				}
			break;
		case 'd':
			if (parse_list("-d", optarg, 0, 1 << 20, "non-negative integer", &o->depth))
				return -1;
			break;
		case 't':
			if (parse_list("-t", optarg, 1, 1024, "positive integer", &o->tlist))
				return -1;
			break;
		case 'r':
		case 'b': {
			struct cli_int_list r;
			const char *f = c == 'r' ? "-r" : "-b";

			if (parse_list(f, optarg, 1, c == 'r' ? 10000 : 1 << 16, "positive integer", &r))
				return -1;
			if (r.n != 1) {
				cli_err("%s: '%s' is not a positive integer", f, optarg);
				return -1;
			}
			if (c == 'r')
				o->reps = r.v[0];
			else
				o->max_batch = r.v[0];
			break;
		}
		case O_PARALLEL:
			if (parse_list("--parallel", optarg, 1, 4095, "positive integer",
				       &o->parallel))
				return -1;
			break;
		case O_PROFILE: o->profile = true; break;
		case O_JSON: o->json = true; break;
		case O_MEMBW: o->membw = true; break;
		case O_NO_MEMBW: o->no_membw = true; break;
		case O_MEMBW_GBS: {
			float g;

			if (parse_float("--membw-gbs", optarg, 1e-3, 1e6, &g))
				return -1;
			o->membw_gbs = g;
			break;
		}
		case O_SHAPE:
			if (synth_shape_parse(optarg, &o->shape)) {
				cli_err("--shape: unknown shape '%s' (want %s)", optarg,
					synth_shape_names());
				return -1;
			}
			break;
		case O_TYPE: {
			int q;

			if (splitmoe_option_parse(SPLITMOE_OPTION_QUANT, optarg, &q) ||
			    (q != SPLITMOE_QUANT_INT8 && q != SPLITMOE_QUANT_Q4)) {
				cli_err("%s: --type %s: want int8 or q4", o->cmd, optarg);
				return -1;
			}
			o->quant_type = q;
			break;
		}
		case O_TENSORS:
			if (qz_classes_parse(optarg, &o->quant_tensors) || !o->quant_tensors) {
				cli_err("%s: --tensors %s: want a comma list of attention, experts, "
					"lm_head, router", o->cmd, optarg);
				return -1;
			}
			break;
		case O_LAYERS:
			if (parse_int("--layers", optarg, 1, 1024, &x))
				return -1;
			o->layers = (int)x;
			break;
		case O_HOST: o->host = optarg; break;
		case O_PORT:
			if (parse_int("--port", optarg, 0, 65535, &x))
				return -1;
			o->port = (int)x;
			break;
		case O_QUEUE:
			if (parse_int("--queue", optarg, 1, 65536, &x))
				return -1;
			o->queue = (int)x;
			break;
		case O_TEMP:
			if (parse_float("--temperature", optarg, 0, 1e6, &o->temperature))
				return -1;
			break;
		case O_TOPK:
			if (parse_int("--top-k", optarg, 0, INT_MAX, &x))
				return -1;
			o->top_k = (int)x;
			break;
		case O_TOPP:
			if (parse_float("--top-p", optarg, 1e-9, 1, &o->top_p))
				return -1;
			break;
		case O_SEED:
			if (parse_int("--seed", optarg, 0, LLONG_MAX, &x))
				return -1;
			o->seed = (uint64_t)x;
			o->seed_given = true;
			break;
		case O_DTYPE:
			if (set_cfg("dtype", "dtype", optarg))
				return -1;
			o->dtype_given = true;
			break;
		case O_THREADS:
			if (set_cfg("threads", "threads", optarg))
				return -1;
			break;
		case O_ARB:
			if (set_cfg("arbiter", "arbiter.backend", optarg))
				return -1;
			break;
		case O_DEVICE:
			if (set_cfg("device", "device", optarg))
				return -1;
			o->device_given = true;
			break;
		case O_WEIGHTS:
			if (set_cfg("weights", "weights", optarg))
				return -1;
			o->weights_given = true;
			break;
		case O_QUANT:
			if (set_cfg("quant", "quant", optarg))
				return -1;
			break;
		}
	}
	if (optind < argc) {
		cli_err("%s: unexpected argument '%s'", o->cmd, argv[optind]);
		return -1;
	}
	o->model = splitmoe_config_model(parsed);
	splitmoe_config_session_params(parsed, &o->sp);
	return 0;
}

int cli_parse_ids(const char *s, int vocab, int **ids, size_t *n)
{
	size_t cap = 16, cnt = 0;
	int *v = malloc(cap * sizeof(*v));
	const char *p = s;

	*ids = NULL;
	*n = 0;
	if (!v)
		return -1;
	while (*p) {
		char *end;
		long x;

		errno = 0;
		x = strtol(p, &end, 10);
		if (end == p || errno || x < 0 || x >= vocab || (*end && *end != ',') ||
		    (*end == ',' && !end[1])) {
			cli_err("--ids: bad list '%s' (want comma-separated ids in [0, %d))", s, vocab);
			free(v);
			return -1;
		}
		if (cnt == cap) {
			int *nv = realloc(v, 2 * cap * sizeof(*v));

			if (!nv) {
				free(v);
				return -1;
			}
			v = nv;
			cap *= 2;
		}
		v[cnt++] = (int)x;
		p = *end ? end + 1 : end;
	}
	if (!cnt) {
		cli_err("--ids: empty list");
		free(v);
		return -1;
	}
	*ids = v;
	*n = cnt;
	return 0;
}
