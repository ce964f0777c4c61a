// SPDX-License-Identifier: MIT
/*
 * splitmoe contend: decode, a client of the arbiter with a reservation, on
 * one set of cores; the hog on the others; three cases (hog off, ungated,
 * gated), each with a fresh session (the reservation is fixed at a
 * client's open). Each case: a warm-up prefill (which also pages the
 * weights in), the hog started, two decode steps, then the timed window
 * of decode steps while a sampler thread records tok/s and the hog's GB/s
 * every 100 ms.
 */
#include "contend.h"
#include "cli.h"
#include "session.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SAMPLE_NS 100000000ull
#define CAL_RUNS 3
/* --reserve auto: decode's solo traffic with this margin. */
#define RESERVE_MARGIN 1.1

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- cores ---- */

struct cores {
	int n, all[CONTEND_MAX_CPUS];
	int decode[CONTEND_MAX_CPUS], hog[CONTEND_MAX_CPUS];
	int nd, nh;
	bool overlap;
};

static int plan_cores(int want_hog, int want_decode, struct cores *c)
{
	cpu_set_t set;
	int i;

	memset(c, 0, sizeof(*c));
	if (sched_getaffinity(0, sizeof(set), &set)) {
		cli_err("contend: sched_getaffinity: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < CPU_SETSIZE && c->n < CONTEND_MAX_CPUS; i++)
		if (CPU_ISSET(i, &set))
			c->all[c->n++] = i;
	c->nh = want_hog ? want_hog : (c->n / 2 ? c->n / 2 : 1);
	c->nd = want_decode ? want_decode : (c->n - c->nh > 0 ? c->n - c->nh : 1);
	c->overlap = c->nd + c->nh > c->n;
	for (i = 0; i < c->nd; i++)
		c->decode[i] = c->all[i % c->n];
	for (i = 0; i < c->nh; i++)
		c->hog[i] = c->all[(c->nd + i) % c->n];
	return 0;
}

static int pin_self(const int *cpus, int n)
{
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	for (i = 0; i < n; i++)
		CPU_SET(cpus[i], &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		cli_err("contend: sched_setaffinity: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- the 100 ms sampler ---- */

struct sampler {
	pthread_t tid;
	const uint64_t *tokens;		/* written by the decode loop */
	struct hog *hog;		/* NULL: hog off */
	uint64_t t0;
	struct contend_sample *rows;
	int cap, n;
	int stop;
};

static void *sampler_main(void *arg)
{
	struct sampler *s = arg;
	uint64_t prev_tok = 0, prev_hog = s->hog ? hog_bytes(s->hog) : 0;
	uint64_t next = s->t0;

	while (s->n < s->cap) {
		struct timespec ts;
		uint64_t tok, hb;

		next += SAMPLE_NS;
		ts.tv_sec = (time_t)(next / 1000000000ull);
		ts.tv_nsec = (long)(next % 1000000000ull);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		if (__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
			break;
		tok = __atomic_load_n(s->tokens, __ATOMIC_RELAXED);
		hb = s->hog ? hog_bytes(s->hog) : 0;
		s->rows[s->n++] = (struct contend_sample){
			.t_s = (next - s->t0) / 1e9,
			.tok_s = (tok - prev_tok) * 1e9 / SAMPLE_NS,
			.hog_gbs = (hb - prev_hog) / (double)SAMPLE_NS,
		};
		prev_tok = tok;
		prev_hog = hb;
	}
	return NULL;
}

/* ---- one case ---- */

struct run {
	struct cli_opts *o;
	struct contend_opts *co;
	struct cli_ctx *c;		/* the model */
	splitmoe_arb *arb;		/* the case's arbiter, shared by decode and the hog */
	splitmoe_session *s;		/* the case's session */
	int vocab;
	struct hog *hog;
	struct contend_report *rep;
	int32_t *ids;
	int n_ids, max_seq;
	unsigned short id_state[3];	/* nrand48's */
};

static int32_t next_id(struct run *r)
{
	return (int32_t)((uint64_t)nrand48(r->id_state) % (uint64_t)r->vocab);
}

/* The bytes decode declared and completed through its arbiter client. */
static uint64_t completed_bytes(const struct run *r)
{
	struct splitmoe_arb_client_stats st;

	splitmoe_arb_client_stats(splitmoe_session_arb_client(r->s), &st);
	return st.completed_bytes;
}

/* One decode step, the cache reset when full. 0, or -1 after one error. */
static int step(struct run *r)
{
	int rc;

	if (splitmoe_session_pos(r->s) >= r->max_seq)
		splitmoe_session_reset(r->s);
	rc = splitmoe_decode(r->s, next_id(r));
	if (rc) {
		cli_err("contend: decode: %s", splitmoe_session_error(r->s));
		return -1;
	}
	return 0;
}

/* The warm-up prefill; with counters (hog off), declared vs real. */
static int warm_prefill(struct run *r, bool measure)
{
	struct contend_report *rep = r->rep;
	uint64_t d0 = completed_bytes(r), m0 = 0, m1 = 0;
	int i, rc;

	for (i = 0; i < r->co->prefill; i++)
		r->ids[i] = next_id(r);
	if (measure && splitmoe_dram_counter_read(rep->counter, &m0))
		measure = false;
	rc = splitmoe_prefill(r->s, r->ids, r->co->prefill);
	if (rc) {
		cli_err("contend: prefill: %s", splitmoe_session_error(r->s));
		return -1;
	}
	if (measure && !splitmoe_dram_counter_read(rep->counter, &m1)) {
		rep->prefill_ratio.have = true;
		rep->prefill_ratio.declared = completed_bytes(r) - d0;
		rep->prefill_ratio.real = m1 - m0;
	}
	splitmoe_session_reset(r->s);
	return 0;
}

/* The case's arbiter (a fresh one: nothing carries over from the case
 * before) and decode's session on it, with the case's reservation (fixed
 * at its client's open). 0, or -1 after one error. */
static int start_case(struct run *r, uint64_t reserve_mbps)
{
	struct splitmoe_arb_params ap = splitmoe_arb_default_params();
	struct splitmoe_session_params sp = r->o->sp;
	char err[512];

	ap.kind = r->o->sp.arbiter;
	ap.dev = r->o->sp.arbiter_dev;
	if (ap.kind == SPLITMOE_ARBITER_PROCESS) {
		ap.capacity_mbps = r->rep->capacity_mbps;
		ap.guaranteed_mbps = r->rep->guaranteed_mbps;
	}
	if (splitmoe_arb_open(&ap, &r->arb, err, sizeof(err))) {
		cli_err("arbiter %s: %s", cli_name(SPLITMOE_OPTION_ARBITER, ap.kind), err);
		return -1;
	}
	sp.arb = r->arb;
	sp.cpu_reserve_mbps = reserve_mbps;
	sp.max_seq = r->max_seq;
	sp.max_batch = r->o->max_batch;
	if (splitmoe_session_create(r->c->model, &sp, &r->s, err, sizeof(err))) {
		cli_err("%s", err);
		return -1;
	}
	return 0;
}

static void end_case(struct run *r)
{
	splitmoe_session_free(r->s);
	r->s = NULL;
	splitmoe_arb_free(r->arb);
	r->arb = NULL;
}

static int run_case(struct run *r, struct contend_case *k)
{
	struct contend_report *rep = r->rep;
	struct sampler smp = { 0 };
	uint64_t tokens = 0, d0, d1, h0, h1, m0 = 0, m1 = 0, t0, t1;
	const splitmoe_arb_client *gate;
	char err[256];
	bool count = !k->hog_running && rep->counter;
	int rc = -1;

	fprintf(stderr, "contend: %s: decode reserves %llu MB/s, %.1f s\n", k->name,
		(unsigned long long)k->reserve_mbps, r->co->seconds);
	if (start_case(r, k->reserve_mbps))
		goto out;
	if (warm_prefill(r, count))
		goto out;
	if (k->hog_running &&
	    hog_start(r->hog, k->hog_gated ? r->arb : NULL, r->co->hog_weight,
		      r->co->hog_reserve_mbps, err, sizeof(err))) {
		cli_err("%s", err);
		goto out;
	}
	if (step(r) || step(r))
		goto stop;
	smp.cap = (int)(r->co->seconds * 1e9 / SAMPLE_NS) + 2;
	smp.rows = calloc((size_t)smp.cap, sizeof(*smp.rows));
	if (!smp.rows) {
		cli_err("contend: out of memory");
		goto stop;
	}
	smp.tokens = &tokens;
	smp.hog = k->hog_running ? r->hog : NULL;
	d0 = completed_bytes(r);
	h0 = k->hog_running ? hog_bytes(r->hog) : 0;
	if (count && splitmoe_dram_counter_read(rep->counter, &m0))
		count = false;
	t0 = now_ns();
	smp.t0 = t0;
	if (pthread_create(&smp.tid, NULL, sampler_main, &smp)) {
		cli_err("contend: cannot start the sampler thread");
		free(smp.rows);
		goto stop;
	}
	do {
		if (step(r))
			break;
		__atomic_store_n(&tokens, tokens + 1, __ATOMIC_RELAXED);
	} while ((t1 = now_ns()) - t0 < (uint64_t)(r->co->seconds * 1e9));
	t1 = now_ns();
	h1 = k->hog_running ? hog_bytes(r->hog) : 0;
	d1 = completed_bytes(r);
	if (count && !splitmoe_dram_counter_read(rep->counter, &m1)) {
		rep->decode_ratio.have = true;
		rep->decode_ratio.declared = d1 - d0;
		rep->decode_ratio.real = m1 - m0;
	}
	__atomic_store_n(&smp.stop, 1, __ATOMIC_RELEASE);
	pthread_join(smp.tid, NULL);
	k->samples = smp.rows;
	k->nsamples = smp.n;
	k->secs = (t1 - t0) / 1e9;
	k->tokens = tokens;
	k->tok_s = tokens / k->secs;
	k->decode_gbs = (d1 - d0) / k->secs / 1e9;
	k->hog_gbs = (h1 - h0) / k->secs / 1e9;
	gate = splitmoe_session_arb_client(r->s);
	if (gate) {
		splitmoe_arb_client_stats(gate, &k->decode);
		k->have_decode = true;
		/* a bucket's upper edge may pass the largest wait seen */
		k->wait_max_ns = k->decode.max_wait_ns;
		k->wait_p50_ns = splitmoe_arb_client_wait_quantile(gate, 0.50);
		k->wait_p99_ns = splitmoe_arb_client_wait_quantile(gate, 0.99);
		if (k->wait_p50_ns > k->wait_max_ns)
			k->wait_p50_ns = k->wait_max_ns;
		if (k->wait_p99_ns > k->wait_max_ns)
			k->wait_p99_ns = k->wait_max_ns;
	}
	rc = tokens > 0 ? 0 : -1;
stop:
	if (k->hog_running && hog_stop(r->hog, &k->hog, err, sizeof(err))) {
		cli_err("%s", err);
		rc = -1;
	}
out:
	end_case(r);
	return rc;
}

/* ---- the arbiter's bus ---- */

/* The module's knob, 0 when unreadable. */
static uint64_t module_knob(const char *name)
{
	const char *dir = getenv("BWARB_SYSFS_DIR");
	char path[512];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/sys/kernel/bwarb", name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/* The backend: process unless kernel is asked for (auto too: the figures
 * should not depend on whether a module happens to be loaded). 0, or -1
 * after one error. */
static int settle_backend(struct cli_opts *o, struct contend_report *rep)
{
	struct splitmoe_session_params *sp = &o->sp;
	const char *dev = sp->arbiter_dev ? sp->arbiter_dev : "/dev/bwarb";
	splitmoe_arbiter kind = sp->arbiter;

	if (kind == SPLITMOE_ARBITER_AUTO)
		kind = SPLITMOE_ARBITER_PROCESS;
	if (kind == SPLITMOE_ARBITER_OFF) {
		cli_err("contend: --arbiter off gates nothing: use process (default) or kernel");
		return -1;
	}
	if (kind == SPLITMOE_ARBITER_KERNEL && access(dev, F_OK)) {
		cli_err("contend: --arbiter kernel: %s: %s (is the bwarb module loaded?)", dev,
			strerror(errno));
		return -1;
	}
	sp->arbiter = kind;
	rep->arbiter = kind == SPLITMOE_ARBITER_KERNEL ? "kernel" : "process";
	return 0;
}

/* The capacity in effect: the module's, the YAML's or the calibrated. */
static void settle_capacity(struct cli_opts *o, struct contend_report *rep)
{
	struct splitmoe_session_params *sp = &o->sp;

	if (!strcmp(rep->arbiter, "kernel")) {
		rep->capacity_mbps = module_knob("capacity_mbps");
		rep->guaranteed_mbps = module_knob("guaranteed_mbps");
		rep->capacity_source = "module";
		if (!rep->capacity_mbps) {
			rep->capacity_mbps = rep->cal.capacity_mbps;
			rep->capacity_source = "calibrated (the module's is unreadable)";
		}
		return;
	}
	rep->capacity_source = "YAML";
	if (sp->arbiter_capacity_mbps == 0 || sp->arbiter_capacity_mbps == SPLITMOE_MBPS_AUTO) {
		sp->arbiter_capacity_mbps = rep->cal.capacity_mbps;
		rep->capacity_source = "calibrated";
	}
	if (sp->arbiter_guaranteed_mbps == 0 || sp->arbiter_guaranteed_mbps == SPLITMOE_MBPS_AUTO)
		sp->arbiter_guaranteed_mbps = rep->cal.guaranteed_mbps < sp->arbiter_capacity_mbps ?
			rep->cal.guaranteed_mbps : sp->arbiter_capacity_mbps;
	rep->capacity_mbps = sp->arbiter_capacity_mbps;
	rep->guaranteed_mbps = sp->arbiter_guaranteed_mbps;
}

/* --reserve auto: decode's solo traffic plus the margin, within the
 * guarantee (admission control would refuse more). */
static uint64_t auto_reserve(const struct contend_report *rep, const struct contend_case *solo)
{
	uint64_t r = (uint64_t)ceil(solo->decode_gbs * 1000.0 * RESERVE_MARGIN);

	if (rep->guaranteed_mbps && r > rep->guaranteed_mbps) {
		fprintf(stderr, "contend: --reserve auto: %llu MB/s capped at guaranteed_mbps %llu\n",
			(unsigned long long)r, (unsigned long long)rep->guaranteed_mbps);
		r = rep->guaranteed_mbps;
	}
	return r ? r : 1;
}

static const struct {
	const char *name, *key;
	bool running, gated;
} case_kinds[CONTEND_CASES] = {
	{ "hog off", "off", false, false },
	{ "hog ungated", "ungated", true, false },
	{ "hog gated", "gated", true, true },
};

static int contend(struct cli_opts *o, struct contend_opts *co)
{
	static struct contend_report rep;	/* large (cores): not on the stack */
	static struct cores cores;
	struct cli_ctx c;
	struct run r = { .o = o, .co = co, .c = &c, .rep = &rep };
	struct splitmoe_bwcal_params cal = splitmoe_bwcal_default_params();
	struct splitmoe_model_info mi;
	char err[256];
	uint64_t seed = o->seed_given ? o->seed : 1234;
	int i, rc = 1;

	memset(&rep, 0, sizeof(rep));
	rep.co = co;
	if (settle_backend(o, &rep))
		return 2;
	if (plan_cores(co->hog_threads, o->sp.threads, &cores))
		return 1;
	if (cores.overlap)
		fprintf(stderr, "contend: %d decode + %d hog threads on %d cores: they share cores\n",
			cores.nd, cores.nh, cores.n);
	/* before any OpenMP region of this process (bwcal.h) */
	fprintf(stderr, "contend: calibrating the bus (%.2f GB buffer, every core)\n",
		co->cal_bytes / 1e9);
	cal.bytes = co->cal_bytes;
	cal.runs = CAL_RUNS;
	cal.in_child = true;
	if (splitmoe_bwcal_measure(&cal, &rep.cal, err, sizeof(err))) {
		cli_err("contend: %s", err);
		return 1;
	}
	settle_capacity(o, &rep);
	rep.decode_threads = cores.nd;
	rep.hog_threads = cores.nh;
	rep.decode_cpus = cores.decode;
	rep.hog_cpus = cores.hog;
	rep.cores_overlap = cores.overlap;
	/* before the threads it should count: the OpenMP pool, the hog */
	if (splitmoe_dram_counter_open(&rep.counter, rep.counter_why, sizeof(rep.counter_why)))
		rep.counter = NULL;
	if (pin_self(cores.decode, cores.nd))
		return 1;
	o->sp.threads = cores.nd;
	if (cli_load(o, &c, false))
		return 1;
	splitmoe_model_info(c.model, &mi);
	rep.model = strrchr(mi.dir, '/') ? strrchr(mi.dir, '/') + 1 : mi.dir;
	r.vocab = mi.vocab;
	r.max_seq = mi.max_positions < CONTEND_MAX_SEQ ? mi.max_positions : CONTEND_MAX_SEQ;
	if (co->prefill >= r.max_seq) {
		cli_err("contend: --prefill %d: the model holds %d positions", co->prefill, r.max_seq);
		goto out;
	}
	r.ids = malloc((size_t)co->prefill * sizeof(*r.ids));
	if (!r.ids) {
		cli_err("contend: out of memory");
		goto out;
	}
	for (i = 0; i < 3; i++)
		r.id_state[i] = (unsigned short)(seed >> (16 * i));
	if (hog_create(co->hog_bytes, co->chunk_bytes, cores.nh, cores.hog, &r.hog, err,
		       sizeof(err))) {
		cli_err("%s", err);
		goto out;
	}
	if (co->reserve_auto)
		rep.reserve_source = "auto: hog off, guaranteed_mbps; then 1.1 x decode's solo traffic";
	else
		rep.reserve_source = co->reserve_given ? "--reserve" : "YAML arbiter.cpu.reserve_mbps";
	for (i = 0; i < CONTEND_CASES; i++) {
		struct contend_case *k = &rep.cases[i];

		k->name = case_kinds[i].name;
		k->key = case_kinds[i].key;
		k->hog_running = case_kinds[i].running;
		k->hog_gated = case_kinds[i].gated;
		if (!co->reserve_auto)
			k->reserve_mbps = co->reserve_mbps;
		else if (i == 0)	/* alone: the most admission allows */
			k->reserve_mbps = rep.guaranteed_mbps;
		else
			k->reserve_mbps = auto_reserve(&rep, &rep.cases[0]);
		if (run_case(&r, k))
			goto out;
	}
	if (o->json) {
		if (contend_print_json(stdout, &rep)) {
			cli_err("contend: out of memory");
			goto out;
		}
	} else {
		contend_print_table(stdout, &rep);
	}
	if (co->trace && contend_write_trace(co->trace, &rep, err, sizeof(err))) {
		cli_err("%s", err);
		goto out;
	}
	rc = 0;
out:
	for (i = 0; i < CONTEND_CASES; i++)
		free(rep.cases[i].samples);
	hog_destroy(r.hog);
	free(r.ids);
	cli_close(&c);
	splitmoe_dram_counter_free(rep.counter);
	return rc;
}

int cmd_contend_main(int argc, char **argv)
{
	struct contend_opts co = {
		.seconds = 5, .hog_weight = 100, .hog_bytes = 1ull << 30,
		.chunk_bytes = 4ull << 20, .prefill = 32,
	};
	struct cli_opts o;
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	int nrest;

	if (!rest) {
		cli_err("contend: out of memory");
		return 1;
	}
	co.reserve_auto = true;
	co.cal_bytes = splitmoe_bwcal_default_bytes();
	memset(&o, 0, sizeof(o));
	o.cmd = "contend";
	if (contend_take_flags(argc, argv, &co, rest, &nrest) || cli_parse(nrest, rest, &o)) {
		free(rest);
		return 2;
	}
	free(rest);
	/* the reservation: --reserve, else YAML's arbiter.cpu.reserve_mbps, else auto */
	if (!co.reserve_given && o.sp.cpu_reserve_mbps) {
		co.reserve_auto = false;
		co.reserve_mbps = o.sp.cpu_reserve_mbps;
	}
	if (co.chunk_bytes * 2 > co.hog_bytes) {
		cli_err("contend: --chunk-kb %llu is more than half the hog's buffer (--hog-mb %llu)",
			(unsigned long long)(co.chunk_bytes >> 10),
			(unsigned long long)(co.hog_bytes >> 20));
		return 2;
	}
	if (!o.have_model) {
		cli_err("contend: --model DIR is required");
		return 2;
	}
	if (o.sp.device != SPLITMOE_DEVICE_CPU) {
		cli_err("contend: device %s: contend runs decode on the CPU (the hog stands in for the iGPU)",
			cli_name(SPLITMOE_OPTION_DEVICE, o.sp.device));
		return 2;
	}
	return contend(&o, &co);
}
