// SPDX-License-Identifier: MIT
/*
 * splitmoe bench: prefill and decode speed of a model, per thread count,
 * in the manner of llama-bench (bench.h). Every test is warmed up once,
 * untimed, then timed -r times from an empty KV cache:
 *   ppN          prefill of N random ids (seeded) as one call (in chunks of -b)
 *   tgN @ dD     D ids prefilled (untimed), then N decode steps timed
 *   plS ppP+tgN  --parallel: S sequences (splitmoe_batch) whose P-token
 *                prompts arrive at once and go in steps of -b rows
 *                (time to first token), then N decode steps of all S
 *                together (aggregate tok/s)
 * One session per thread count; progress on stderr, the report on stdout.
 * On the public API (include/splitmoe.h) only.
 */
#include "bench.h"
#include "cli.h"
#include "session.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MEMBW_RUNS 5

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Random ids in [0, vocab) from the seed (splitmix64). */
static void random_ids(int32_t *ids, int n, int vocab, uint64_t seed)
{
	uint64_t x = seed ^ 0x5eedb3c4ull;
	int i;

	for (i = 0; i < n; i++) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		ids[i] = (int32_t)(z % (uint64_t)vocab);
	}
}

/* Read one byte of every page of the mapped weights, so that every test
 * runs on resident weights as a long run would (a mapped expert's first
 * use would otherwise page-fault it in during a timed run). */
static void touch_weights(const splitmoe_model *m)
{
	struct splitmoe_tensor t;
	volatile unsigned char sink = 0;
	int i, n = splitmoe_model_tensor_count(m);

	fprintf(stderr, "bench: reading the mapped weights once (%.2f GB)\n",
		splitmoe_model_bytes(m) / 1e9);
	for (i = 0; i < n; i++) {
		const unsigned char *p;

		if (splitmoe_model_tensor(m, i, &t) != SPLITMOE_OK)
			continue;
		p = t.data;
		for (size_t off = 0; p && off < t.nbytes; off += 4096)
			sink ^= p[off];
	}
	(void)sink;
}

static int list_max(const struct cli_int_list *l)
{
	int i, m = 0;

	for (i = 0; i < l->n; i++)
		if (l->v[i] > m)
			m = l->v[i];
	return m;
}

/* --parallel: -p is each sequence's prompt (default BENCH_PAR_PROMPT), a
 * single stream (1) is always measured, for the ratio. */
static int settle_parallel(struct cli_opts *o)
{
	struct cli_int_list *l = &o->parallel;
	int chunk = o->max_batch ? o->max_batch : BENCH_CHUNK;
	bool one = false;

	if (o->depth.given) {
		cli_err("bench: --parallel decodes after the prompts (-p): -d does not apply");
		return -1;
	}
	if ((o->pp.given && !o->pp.n) || (o->n_given && !o->n)) {
		cli_err("bench: --parallel needs prompts and decode steps: -p and -n above 0");
		return -1;
	}
	for (int i = 0; i < l->n; i++) {
		if (l->v[i] > chunk) {
			cli_err("bench: --parallel %d: a decode step of every sequence is %d rows, "
				"more than -b %d", l->v[i], l->v[i], chunk);
			return -1;
		}
		one |= l->v[i] == 1;
	}
	if (!one) {
		if (l->n == CLI_LIST_MAX) {
			cli_err("--parallel: more than %d values with the single stream (1)",
				CLI_LIST_MAX - 1);
			return -1;
		}
		memmove(l->v + 1, l->v, sizeof(l->v[0]) * l->n);
		l->v[0] = 1;
		l->n++;
	}
	if (!o->pp.given) {
		o->pp.given = true;
		o->pp.n = 1;
		o->pp.v[0] = BENCH_PAR_PROMPT;
	}
	return 0;
}

/* Flags that cannot go together, and the defaults. 0, or -1 after one error. */
static int settle_flags(struct cli_opts *o)
{
	if (o->no_membw && (o->membw || o->membw_gbs > 0)) {
		cli_err("bench: --no-membw contradicts %s", o->membw ? "--membw" : "--membw-gbs");
		return -1;
	}
	if (o->membw && o->membw_gbs > 0) {
		cli_err("bench: --membw measures; --membw-gbs gives the figure: one of them");
		return -1;
	}
	if (o->parallel.given && settle_parallel(o))
		return -1;
	if (o->pp.given && !o->pp.n && o->n_given && !o->n) {
		cli_err("bench: -p 0 and -n 0: no test to run");
		return -1;
	}
	if (!o->pp.given) {
		o->pp.n = 2;
		o->pp.v[0] = 16;
		o->pp.v[1] = 512;
	}
	if (!o->depth.given) {
		o->depth.n = 1;
		o->depth.v[0] = 0;
	}
	if (!o->tlist.given) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

		o->tlist.n = 1;	/* the YAML's threads, else every core */
		o->tlist.v[0] = o->sp.threads > 0 ? o->sp.threads : ncpu > 0 ? (int)ncpu : 1;
	}
	if (!o->reps)
		o->reps = 3;
	if (!o->max_batch)
		o->max_batch = BENCH_CHUNK;
	if (!o->seed_given)
		o->seed = 1234;
	return 0;
}

/* In a child process (splitmoe_membw_measure): its buffer stays out of
 * the bench's resident memory, and its OpenMP threads out of the
 * sessions'. */
static int measure_membw(struct splitmoe_membw *bw)
{
	uint64_t bytes = splitmoe_membw_default_bytes();
	splitmoe_status st;

	fprintf(stderr, "bench: measuring DRAM bandwidth (%.2f GB buffer, every core, best of %d)\n",
		bytes / 1e9, MEMBW_RUNS);
	st = splitmoe_membw_measure(bytes, MEMBW_RUNS, bw);
	if (st == SPLITMOE_ERR_UNSUPPORTED)
		cli_err("bench: --membw: cannot start the measuring process: %s", strerror(errno));
	else if (st)
		cli_err("bench: --membw: the measurement failed (%.2f GB buffer: out of memory?)",
			bytes / 1e9);
	return st ? -1 : 0;
}

/* The CPU's weights in effect: int8 or q4, mapped, packed or mixed. */
static const char *weights_in_effect(const struct cli_ctx *c, const struct cli_opts *o)
{
	struct splitmoe_session_info si;
	struct splitmoe_model_info mi;

	splitmoe_session_info(c->session, &si);
	splitmoe_model_info(c->model, &mi);
	if (si.quant != SPLITMOE_QUANT_NONE)	/* the CPU's int8 or q4 copy */
		return cli_name(SPLITMOE_OPTION_QUANT, si.quant);
	if (mi.file_quant != SPLITMOE_QUANT_NONE)	/* a quantized file's, in place */
		return cli_name(SPLITMOE_OPTION_QUANT, mi.file_quant);
	if (si.mapped_weight_bytes && si.cpu_weight_bytes)
		return "mixed";
	if (si.mapped_weight_bytes)
		return "mapped";
	if (si.cpu_weight_bytes)
		return "packed";
	return cli_name(SPLITMOE_OPTION_WEIGHTS, o->sp.weights);
}

struct run_ctx {
	struct cli_opts *o;
	struct cli_ctx *c;
	const int32_t *ids;
	const struct splitmoe_token_bytes *bytes;
	int layers;
	int idx, count;		/* progress: test idx of count */
};

static void progress(const struct run_ctx *x, const struct bench_result *r, const char *what,
		     int rep)
{
	fprintf(stderr, "bench: [%d/%d] t=%d %s: %s", x->idx, x->count, r->threads,
		r->test.name, what);
	if (rep)
		fprintf(stderr, " %d/%d", rep, r->reps);
	fputc('\n', stderr);
}

static int fail(const struct run_ctx *x, const struct bench_result *r, const char *call)
{
	cli_err("bench: t=%d %s: %s: %s", r->threads, r->test.name, call,
		splitmoe_session_error(x->c->session));
	return -1;
}

static void add_profile(const struct run_ctx *x, struct bench_result *r, uint64_t *tmp)
{
	struct splitmoe_profile p;
	int i;

	if (!x->o->profile)
		return;
	splitmoe_session_profile(x->c->session, &p, tmp, x->layers);
	r->have_profile = true;
	for (i = 0; i < splitmoe_op_class_count(); i++) {
		r->prof.ns[i] += p.ns[i];
		r->prof.calls[i] += p.calls[i];
	}
	r->prof.tokens += p.tokens;
	r->prof.total_ns += p.total_ns;
	for (i = 0; i < x->layers; i++)
		r->layer_ns[i] += tmp[i];
}

static int run_pp(const struct run_ctx *x, struct bench_result *r, uint64_t *tmp)
{
	splitmoe_session *s = x->c->session;
	const int L = x->layers, n = r->test.n;
	struct splitmoe_prefill_out out = { 0 };
	int rep;

	/* warm-up: the primitives for these row counts, the pages; and the
	 * routing of these ids, for the bytes the prefill reads */
	progress(x, r, "warm-up", 0);
	out.experts = malloc((size_t)L * n * 2 * sizeof(*out.experts));
	if (!out.experts) {
		cli_err("bench: out of memory");
		return -1;
	}
	splitmoe_session_reset(s);
	if (splitmoe_prefill_ex(s, x->ids, n, &out)) {
		free(out.experts);
		return fail(x, r, "prefill");
	}
	r->bytes_per_token = bench_bytes_prefill(x->bytes, out.experts, n, x->o->max_batch) / n;
	free(out.experts);
	for (rep = 0; rep < r->reps; rep++) {
		uint64_t t0, t1;

		progress(x, r, "run", rep + 1);
		splitmoe_session_reset(s);
		splitmoe_session_profile_reset(s);
		t0 = now_ns();
		if (splitmoe_prefill(s, x->ids, n))
			return fail(x, r, "prefill");
		t1 = now_ns();
		r->tok_s[rep] = n / ((t1 > t0 ? t1 - t0 : 1) / 1e9);
		add_profile(x, r, tmp);
	}
	return 0;
}

static int run_tg(const struct run_ctx *x, struct bench_result *r, uint64_t *tmp)
{
	splitmoe_session *s = x->c->session;
	const int n = r->test.n, d = r->test.depth;
	int rep, i;

	progress(x, r, "warm-up", 0);
	splitmoe_session_reset(s);
	if (splitmoe_decode(s, x->ids[0]))
		return fail(x, r, "decode");
	r->bytes_per_token = splitmoe_token_bytes_decode(x->bytes);
	for (rep = 0; rep < r->reps; rep++) {
		uint64_t t0, t1;

		progress(x, r, d ? "filling the context, then run" : "run", rep + 1);
		splitmoe_session_reset(s);
		if (d && splitmoe_prefill(s, x->ids, d))
			return fail(x, r, "prefill of the context");
		splitmoe_session_profile_reset(s);
		t0 = now_ns();
		for (i = 0; i < n; i++)
			if (splitmoe_decode(s, x->ids[d + i]))
				return fail(x, r, "decode");
		t1 = now_ns();
		r->tok_s[rep] = n / ((t1 > t0 ? t1 - t0 : 1) / 1e9);
		add_profile(x, r, tmp);
	}
	return 0;
}

/* The buffers of one --parallel test, allocated outside the timed runs. */
struct par_bufs {
	int *seq, *fed;
	struct splitmoe_batch_item *items;
	float *logits;		/* [S][vocab] */
	double *ttft;		/* [S] ms */
};

static void par_free(struct par_bufs *b)
{
	free(b->seq);
	free(b->fed);
	free(b->items);
	free(b->logits);
	free(b->ttft);
}

/* Sequence 0 and S - 1 opened ones, all empty. */
static int par_open(splitmoe_session *s, struct par_bufs *b, int S)
{
	splitmoe_session_reset(s);
	b->seq[0] = 0;
	for (int i = 1; i < S; i++)
		if (splitmoe_seq_open(s, &b->seq[i]))
			return -1;
	return 0;
}

static void par_close(splitmoe_session *s, const struct par_bufs *b, int S)
{
	for (int i = 1; i < S; i++)
		splitmoe_seq_close(s, b->seq[i]);
	splitmoe_session_reset(s);
}

/* Decode steps the others take while a newcomer's P-token prompt goes in
 * beside them (-b rows a step, theirs first). */
static int join_steps(int S, int P, int chunk)
{
	int room = chunk - (S - 1);

	return (P + room - 1) / room;
}

/* A sequence's ids in a --parallel test (prompt, decode steps, the steps
 * beside a newcomer): the stride of each one's slice. */
static int par_ids(int S, int P, int N, int chunk)
{
	return P + N + join_steps(S, P, chunk);
}

/*
 * A newcomer under load: the last sequence leaves, a new one brings a
 * P-token prompt (ids after every sequence's slice) in chunks beside the
 * others' decode steps; ms to its first logits. One sequence: its prompt
 * alone.
 */
static int par_join(const struct run_ctx *x, struct bench_result *r, struct par_bufs *b,
		    double *ms)
{
	splitmoe_session *s = x->c->session;
	const int S = r->test.par, P = r->test.depth, N = r->test.n;
	const int V = splitmoe_model_vocab(x->c->model);
	const int chunk = x->o->max_batch, nids = par_ids(S, P, N, chunk), last = S - 1;
	const int32_t *prompt = x->ids + (size_t)S * nids;
	uint64_t t0;

	if (last) {
		splitmoe_seq_close(s, b->seq[last]);
		if (splitmoe_seq_open(s, &b->seq[last]))
			return fail(x, r, "opening the newcomer");
	} else {
		splitmoe_session_reset(s);
	}
	t0 = now_ns();
	for (int fed = 0, step = N; fed < P; step++) {
		int k = P - fed < chunk - last ? P - fed : chunk - last;

		for (int i = 0; i < last; i++)
			b->items[i] = (struct splitmoe_batch_item){
				.seq = b->seq[i], .ids = x->ids + (size_t)i * nids + P + step, .n = 1,
				.logits = b->logits + (size_t)i * V,
			};
		b->items[last] = (struct splitmoe_batch_item){
			.seq = b->seq[last], .ids = prompt + fed, .n = k,
			.logits = fed + k == P ? b->logits + (size_t)last * V : NULL,
		};
		if (splitmoe_batch(s, b->items, S))
			return fail(x, r, "batch (newcomer)");
		fed += k;
	}
	*ms = (now_ns() - t0) / 1e6;
	return 0;
}

/*
 * One run: the S prompts (P ids each, every sequence its own slice of the
 * ids) in steps of at most -b rows, each sequence's first logits timed
 * from the start; then N steps of one token for every sequence, logits
 * for all; then a newcomer (par_join). Fills the run's figures when
 * rep >= 0.
 */
static int par_run(const struct run_ctx *x, struct bench_result *r, struct par_bufs *b,
		   int rep, uint64_t *tmp)
{
	splitmoe_session *s = x->c->session;
	const int S = r->test.par, P = r->test.depth, N = r->test.n;
	const int V = splitmoe_model_vocab(x->c->model);
	const int chunk = x->o->max_batch, nids = par_ids(S, P, N, chunk);
	uint64_t t0, t1, t2;
	double sum = 0, mx = 0, join = 0;
	int left = S;

	if (par_open(s, b, S))
		return fail(x, r, "opening the sequences");
	memset(b->fed, 0, sizeof(*b->fed) * S);
	t0 = now_ns();
	while (left > 0) {
		int n = 0, rows = 0;

		for (int i = 0; i < S && rows < chunk; i++) {
			int k = P - b->fed[i];

			if (k <= 0)
				continue;
			k = k < chunk - rows ? k : chunk - rows;
			b->items[n] = (struct splitmoe_batch_item){
				.seq = b->seq[i], .ids = x->ids + (size_t)i * nids + b->fed[i], .n = k,
				.logits = b->fed[i] + k == P ? b->logits + (size_t)i * V : NULL,
			};
			b->fed[i] += k;
			rows += k;
			n++;
		}
		if (splitmoe_batch(s, b->items, n))
			return fail(x, r, "batch (prompts)");
		t1 = now_ns();
		for (int j = 0; j < n; j++)
			if (b->items[j].logits) {
				b->ttft[(b->items[j].logits - b->logits) / V] = (t1 - t0) / 1e6;
				left--;
			}
	}
	t1 = now_ns();
	splitmoe_session_profile_reset(s);
	for (int step = 0; step < N; step++) {
		/* (the profile: these steps only) */
		for (int i = 0; i < S; i++)
			b->items[i] = (struct splitmoe_batch_item){
				.seq = b->seq[i], .ids = x->ids + (size_t)i * nids + P + step, .n = 1,
				.logits = b->logits + (size_t)i * V,
			};
		if (splitmoe_batch(s, b->items, S))
			return fail(x, r, "batch (decode)");
	}
	t2 = now_ns();
	if (rep >= 0)
		add_profile(x, r, tmp);
	if (par_join(x, r, b, &join))
		return -1;
	par_close(s, b, S);
	if (rep < 0)
		return 0;
	for (int i = 0; i < S; i++) {
		sum += b->ttft[i];
		mx = b->ttft[i] > mx ? b->ttft[i] : mx;
	}
	r->tok_s[rep] = (double)S * N / ((t2 > t1 ? t2 - t1 : 1) / 1e9);
	r->prefill_tok_s[rep] = (double)S * P / ((t1 > t0 ? t1 - t0 : 1) / 1e9);
	r->ttft_ms[rep] = sum / S;
	r->ttft_max_ms[rep] = mx;
	r->ttft_join_ms[rep] = join;
	return 0;
}

static int run_par(const struct run_ctx *x, struct bench_result *r, uint64_t *tmp)
{
	const int S = r->test.par, V = splitmoe_model_vocab(x->c->model);
	struct par_bufs b = {
		.seq = calloc((size_t)S, sizeof(int)),
		.fed = calloc((size_t)S, sizeof(int)),
		.items = calloc((size_t)S, sizeof(*b.items)),
		.logits = malloc(sizeof(float) * V * (size_t)S),
		.ttft = calloc((size_t)S, sizeof(double)),
	};
	int rc = 0;

	r->prefill_tok_s = calloc((size_t)r->reps, sizeof(double));
	r->ttft_ms = calloc((size_t)r->reps, sizeof(double));
	r->ttft_max_ms = calloc((size_t)r->reps, sizeof(double));
	r->ttft_join_ms = calloc((size_t)r->reps, sizeof(double));
	if (!b.seq || !b.fed || !b.items || !b.logits || !b.ttft || !r->prefill_tok_s ||
	    !r->ttft_ms || !r->ttft_max_ms || !r->ttft_join_ms) {
		par_free(&b);
		cli_err("bench: out of memory");
		return -1;
	}
	/* decode steps read weights as one sequence's prefill would not */
	r->bytes_per_token = 0;
	progress(x, r, "warm-up", 0);
	rc = par_run(x, r, &b, -1, tmp);
	for (int rep = 0; !rc && rep < r->reps; rep++) {
		progress(x, r, "run", rep + 1);
		rc = par_run(x, r, &b, rep, tmp);
	}
	par_free(&b);
	return rc;
}

static void stats(struct bench_result *r)
{
	double sum = 0, sq = 0;
	int i;

	for (i = 0; i < r->reps; i++)
		sum += r->tok_s[i];
	r->mean = sum / r->reps;
	for (i = 0; i < r->reps; i++)
		sq += (r->tok_s[i] - r->mean) * (r->tok_s[i] - r->mean);
	r->sd = r->reps > 1 ? sqrt(sq / (r->reps - 1)) : 0.0;
}

/* Capture cli_report_weights' line (without its newline). */
static char *weights_line(const struct cli_ctx *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	cli_report_weights(f, c);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	if (len && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	return buf;
}

static int membw_only(struct cli_opts *o)
{
	struct splitmoe_membw bw;

	if (o->membw_gbs > 0 || o->no_membw) {
		cli_err("bench: without --model, --membw measures the bandwidth and nothing else");
		return 2;
	}
	if (measure_membw(&bw))
		return 1;
	if (o->json)
		return bench_print_membw_json(stdout, &bw) ? 1 : 0;
	bench_print_membw(stdout, &bw);
	return 0;
}

int cmd_bench(struct cli_opts *o)
{
	struct bench_result *res = NULL;
	struct bench_test tests[2 * CLI_LIST_MAX];
	struct bench_report rep = { 0 };
	struct splitmoe_token_bytes bytes;
	struct splitmoe_membw bw = { 0 };
	struct run_ctx x = { 0 };
	struct cli_ctx c;
	struct splitmoe_model_info mi;
	int32_t *ids = NULL;
	uint64_t *tmp = NULL;
	char **wlines = NULL;
	int ntests = 0, nres = 0, max_seq, n_ids, rc = 1, ti, i, L;
	const char *slash;
	char name[4096];

	if (settle_flags(o))
		return 2;
	if (!o->have_model) {
		if (o->membw)
			return membw_only(o);
		cli_err("bench: --model DIR is required (or --membw alone: the bandwidth only)");
		return 2;
	}
	for (i = 0; o->parallel.given && i < o->parallel.n; i++)
		for (int j = 0; j < o->pp.n; j++, ntests++) {
			struct bench_test *t = &tests[ntests];

			*t = (struct bench_test){ .kind = BENCH_PAR, .n = o->n, .depth = o->pp.v[j],
						  .par = o->parallel.v[i] };
			snprintf(t->name, sizeof(t->name), "pl%d pp%d+tg%d", t->par, t->depth, t->n);
		}
	for (i = 0; !o->parallel.given && i < o->pp.n; i++, ntests++) {
		tests[ntests] = (struct bench_test){ .kind = BENCH_PP, .n = o->pp.v[i] };
		snprintf(tests[ntests].name, sizeof(tests[ntests].name), "pp%d", o->pp.v[i]);
	}
	for (i = 0; !o->parallel.given && o->n > 0 && i < o->depth.n; i++, ntests++) {
		struct bench_test *t = &tests[ntests];

		*t = (struct bench_test){ .kind = BENCH_TG, .n = o->n, .depth = o->depth.v[i] };
		if (t->depth)
			snprintf(t->name, sizeof(t->name), "tg%d @ d%d", t->n, t->depth);
		else
			snprintf(t->name, sizeof(t->name), "tg%d", t->n);
	}

	if (o->membw_gbs > 0) {
		bw.read_gbs = o->membw_gbs;
		rep.bw = &bw;
		rep.bw_source = "given";
	} else if (!o->no_membw) {
		if (measure_membw(&bw))
			return 1;
		bench_print_membw(stderr, &bw);
		rep.bw = &bw;
		rep.bw_source = "measured";
	} else {
		rep.bw_source = "none";
	}
	/*
	 * The process arbiter's capacity where the YAML gives none: the most
	 * traffic this run measured on the bus (copy counts bytes read and
	 * written). Its default, 120 GB/s, is the target laptop's bus; decode
	 * on a faster machine draws more than that, and the arbiter then
	 * throttles it, as it must any client above the capacity (the 16-core
	 * machine: 122 GB/s of weights, 0.84x of --arbiter off). The read
	 * figure alone is too low a ceiling: decode streams at 89-99% of it.
	 */
	rep.arb_capacity_source = o->sp.arbiter_capacity_mbps ? "config" : "default";
	if (rep.bw && o->sp.arbiter_capacity_mbps == 0 && bw.read_gbs > 0) {
		bool copy = bw.copy_gbs > bw.read_gbs;

		o->sp.arbiter_capacity_mbps = (uint64_t)((copy ? bw.copy_gbs : bw.read_gbs) * 1000.0);
		rep.arb_capacity_source = copy ? "membw copy" : "membw read";
	}
	if (cli_load(o, &c, false))
		return 1;
	splitmoe_model_info(c.model, &mi);
	L = mi.layers;
	/* the KV cache: the longest prefill, the deepest context plus -n */
	max_seq = list_max(&o->pp);
	if (o->n > 0 && list_max(&o->depth) + o->n > max_seq)
		max_seq = list_max(&o->depth) + o->n;
	if (o->parallel.given)	/* the most steps beside a newcomer: the most sequences */
		max_seq = par_ids(list_max(&o->parallel), list_max(&o->pp), o->n, o->max_batch);
	if (max_seq > mi.max_positions) {
		cli_err("bench: the tests need %d positions (largest -p, or largest -d plus -n; "
			"--parallel: -p, -n and the steps beside a newcomer), "
			"more than the model's max_position_embeddings %d", max_seq,
			mi.max_positions);
		goto out;
	}
	n_ids = max_seq;
	if (o->parallel.given) {
		/* each sequence its own ids and blocks: prompt, decode steps,
		 * the steps beside the newcomer (the most with the most
		 * sequences); the newcomer's prompt after them all */
		int S = list_max(&o->parallel), blk = splitmoe_kv_block(), per;

		per = (max_seq + blk - 1) / blk * blk;
		o->max_seqs = S;
		n_ids = (S + 1) * max_seq;
		o->kv_tokens = S * per;
	}
	ids = malloc((size_t)n_ids * sizeof(*ids));
	res = calloc((size_t)o->tlist.n * ntests, sizeof(*res));
	tmp = calloc((size_t)L + 1, sizeof(*tmp));
	wlines = calloc((size_t)o->tlist.n, sizeof(*wlines));
	if (!ids || !res || !tmp || !wlines) {
		cli_err("bench: out of memory");
		goto out;
	}
	random_ids(ids, n_ids, mi.vocab, o->seed);
	touch_weights(c.model);

	x.o = o;
	x.c = &c;
	x.ids = ids;
	x.bytes = &bytes;
	x.layers = L;
	x.count = o->tlist.n * ntests;
	for (ti = 0; ti < o->tlist.n; ti++) {
		const char *dtype, *weights;

		o->sp.threads = o->tlist.v[ti];
		fprintf(stderr, "bench: session with %d threads\n", o->sp.threads);
		if (cli_start_session(o, &c, max_seq))
			goto out;
		splitmoe_compute compute = splitmoe_session_compute(c.session);
		struct splitmoe_session_info si;

		splitmoe_session_info(c.session, &si);
		dtype = cli_name(SPLITMOE_OPTION_COMPUTE, compute);
		rep.arbiter = cli_name(SPLITMOE_OPTION_ARBITER, si.arbiter);
		if (si.arbiter == SPLITMOE_ARBITER_PROCESS)
			rep.arb_capacity_mbps = o->sp.arbiter_capacity_mbps;
		weights = weights_in_effect(&c, o);
		/* o->sp.quant: auto resolved by cli_load */
		splitmoe_model_token_bytes(c.model, compute, o->sp.quant, &bytes);
		cli_report_model_format(stderr, c.model, compute, o->sp.quant);
		wlines[ti] = weights_line(&c);
		rep.n_sessions = ti + 1;
		for (i = 0; i < ntests; i++) {
			struct bench_result *r = &res[nres++];

			r->test = tests[i];
			r->threads = o->tlist.v[ti];
			r->dtype = dtype;
			r->weights = weights;
			r->reps = o->reps;
			r->tok_s = calloc((size_t)o->reps, sizeof(*r->tok_s));
			r->layer_ns = calloc((size_t)L + 1, sizeof(*r->layer_ns));
			if (!r->tok_s || !r->layer_ns) {
				cli_err("bench: out of memory");
				goto out;
			}
			x.idx = nres;
			if ((r->test.kind == BENCH_PP ? run_pp :
			     r->test.kind == BENCH_TG ? run_tg : run_par)(&x, r, tmp))
				goto out;
			stats(r);
		}
		cli_end_session(&c);
	}

	/* the directory's last component, trailing slashes aside */
	snprintf(name, sizeof(name), "%s", mi.dir);
	for (i = (int)strlen(name); i > 1 && name[i - 1] == '/'; i--)
		name[i - 1] = '\0';
	slash = strrchr(name, '/');
	rep.model_dir = mi.dir;
	rep.model_name = slash && slash[1] ? slash + 1 : name;
	rep.m = c.model;
	rep.device = cli_name(SPLITMOE_OPTION_DEVICE, o->sp.device);
	if (!rep.arbiter)
		rep.arbiter = cli_name(SPLITMOE_OPTION_ARBITER, o->sp.arbiter);
	rep.reps = o->reps;
	rep.n = o->n;
	rep.layers = L;
	rep.seed = o->seed;
	rep.chunk = o->max_batch;
	rep.weights_lines = wlines;
	rep.r = res;
	rep.nr = nres;
	if (o->json) {
		if (bench_print_json(stdout, &rep)) {
			cli_err("bench: out of memory");
			goto out;
		}
	} else {
		bench_print_table(stdout, &rep);
		for (i = 0; i < rep.n_sessions; i++)
			if (wlines[i])
				printf("%s\n", wlines[i]);
		cli_report_memory(stdout, "end of bench");
	}
	rc = 0;
out:
	for (i = 0; res && i < nres; i++) {
		free(res[i].tok_s);
		free(res[i].layer_ns);
		free(res[i].prefill_tok_s);
		free(res[i].ttft_ms);
		free(res[i].ttft_max_ms);
		free(res[i].ttft_join_ms);
	}
	for (i = 0; wlines && i < o->tlist.n; i++)
		free(wlines[i]);
	free(wlines);
	free(res);
	free(tmp);
	free(ids);
	cli_close(&c);
	return rc;
}
