// SPDX-License-Identifier: MIT
/*
 * splitmoe contend: the report. A table per case, the arbiter's shares,
 * declared against real traffic, the targets' figures; or all of it as one
 * JSON document (--json); and the 100 ms samples for gnuplot (--trace).
 */
#include "contend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

static double capacity_gbs(const struct contend_report *r)
{
	return r->capacity_mbps / 1000.0;
}

static const struct contend_case *find(const struct contend_report *r, const char *key)
{
	int i;

	for (i = 0; i < CONTEND_CASES; i++)
		if (r->cases[i].key && !strcmp(r->cases[i].key, key))
			return &r->cases[i];
	return NULL;
}

/* Decode's tok/s as a share of its solo tok/s, in %. */
static double pct_solo(const struct contend_report *r, const struct contend_case *k)
{
	const struct contend_case *solo = find(r, "off");

	return solo && solo->tok_s > 0 ? 100.0 * k->tok_s / solo->tok_s : 0;
}

/* The hog's GB/s as a share of what decode leaves of the capacity, in %. */
static double pct_spare(const struct contend_report *r, const struct contend_case *k)
{
	double spare = capacity_gbs(r) - k->decode_gbs;

	return spare > 0 ? 100.0 * k->hog_gbs / spare : 0;
}

static const char *counter_source(const struct contend_report *r)
{
	return r->counter ? splitmoe_dram_counter_source(r->counter) : "none";
}

static void cpu_list(FILE *out, const int *cpus, int n)
{
	int i;

	for (i = 0; i < n; i++)
		fprintf(out, "%s%d", i ? "," : "", cpus[i]);
}

static void ratio_line(FILE *out, const char *what, const struct contend_ratio *q,
		       const struct contend_report *r)
{
	if (!q->have) {
		fprintf(out, "  %s: no figure (%s)\n", what,
			!r->counter ? "counters unavailable" : "no declared bytes");
		return;
	}
	fprintf(out, "  %s: declared %.1f MB, real %.1f MB (%s): ratio %.3f\n", what,
		q->declared / 1e6, q->real / 1e6, counter_source(r),
		q->declared ? (double)q->real / q->declared : 0.0);
}

void contend_print_table(FILE *out, const struct contend_report *r)
{
	const struct contend_case *gated = find(r, "gated"), *ungated = find(r, "ungated");
	int i;

	fprintf(out, "contend: model %s, decode %d threads (cpus ", r->model, r->decode_threads);
	cpu_list(out, r->decode_cpus, r->decode_threads);
	fprintf(out, "), hog %d threads (cpus ", r->hog_threads);
	cpu_list(out, r->hog_cpus, r->hog_threads);
	fprintf(out, ")%s, hog buffer %.2f GB in %.1f MB chunks, %.1f s per case\n",
		r->cores_overlap ? " sharing cores" : "", r->co->hog_bytes / 1e9,
		r->co->chunk_bytes / 1e6, r->co->seconds);
	fprintf(out, "bus: read %.1f GB/s, copy %.1f GB/s (read + written) with %d cores; one core "
		"%.1f GB/s alone, %.1f GB/s beside %d copying (r_min)\n", r->cal.read_gbs,
		r->cal.copy_gbs, r->cal.threads, r->cal.solo_gbs, r->cal.rmin_gbs,
		r->cal.others);
	fprintf(out, "arbiter %s: capacity %llu MB/s (%s), guaranteed %llu MB/s; decode's "
		"reservation %s\n", r->arbiter, (unsigned long long)r->capacity_mbps,
		r->capacity_source, (unsigned long long)r->guaranteed_mbps, r->reserve_source);
	fprintf(out, "\n| case        | reserve MB/s | decode tok/s | %% solo | decode GB/s | "
		"hog GB/s | total GB/s | %% capacity | wait p50 ms | p99 ms | max ms |\n");
	fprintf(out, "| ----------- | -----------: | -----------: | -----: | ----------: | "
		"-------: | ---------: | ---------: | ----------: | -----: | -----: |\n");
	for (i = 0; i < CONTEND_CASES; i++) {
		const struct contend_case *k = &r->cases[i];
		double total = k->decode_gbs + k->hog_gbs;

		fprintf(out, "| %-11s | %12llu | %12.2f | %6.1f | %11.2f | %8.2f | %10.2f | %10.1f | "
			"%11.3f | %6.3f | %6.3f |\n", k->name, (unsigned long long)k->reserve_mbps,
			k->tok_s, pct_solo(r, k), k->decode_gbs, k->hog_gbs, total,
			r->capacity_mbps ? 100.0 * total / capacity_gbs(r) : 0.0,
			k->wait_p50_ns / 1e6, k->wait_p99_ns / 1e6, k->wait_max_ns / 1e6);
	}
	fprintf(out, "\nshares (the arbiter's figures over each whole case; hog: its %d clients "
		"summed):\n", r->hog_threads);
	fprintf(out, "| case        | client | acquires | GB granted | waits | wait ms | share %% |\n");
	fprintf(out, "| ----------- | ------ | -------: | ---------: | ----: | ------: | ------: |\n");
	for (i = 0; i < CONTEND_CASES; i++) {
		const struct contend_case *k = &r->cases[i];
		double all = (double)k->decode.granted_bytes + (double)k->hog.granted_bytes;

		fprintf(out, "| %-11s | decode | %8llu | %10.3f | %5llu | %7.1f | %7.1f |\n", k->name,
			(unsigned long long)k->decode.acquires, k->decode.granted_bytes / 1e9,
			(unsigned long long)k->decode.waits, k->decode.wait_ns / 1e6,
			all > 0 ? 100.0 * k->decode.granted_bytes / all : 0.0);
		if (k->hog_gated)
			fprintf(out, "| %-11s | hog    | %8llu | %10.3f | %5llu | %7.1f | %7.1f |\n",
				k->name, (unsigned long long)k->hog.acquires,
				k->hog.granted_bytes / 1e9, (unsigned long long)k->hog.waits,
				k->hog.wait_ns / 1e6,
				all > 0 ? 100.0 * k->hog.granted_bytes / all : 0.0);
		else if (k->hog_running)
			fprintf(out, "| %-11s | hog    | ungated: moved %.3f GB, not asked |\n", k->name,
				k->hog_gbs * k->secs);
	}
	fprintf(out, "\ndeclared vs real DRAM traffic (hog off):\n");
	if (!r->counter) {
		fprintf(out, "  counters unavailable: %s\n", r->counter_why);
	} else {
		ratio_line(out, "decode", &r->decode_ratio, r);
		ratio_line(out, "prefill", &r->prefill_ratio, r);
	}
	if (gated && ungated)
		fprintf(out, "\ntargets: gated, decode keeps %.1f%% of its solo tok/s (target >= 95%%) "
			"and the hog gets %.1f%% of what decode leaves of the capacity (target >= 80%%); "
			"ungated, decode keeps %.1f%% and the hog moves %.2f GB/s\n",
			pct_solo(r, gated), pct_spare(r, gated), pct_solo(r, ungated), ungated->hog_gbs);
}

/* ---- JSON ---- */

static void put(struct json_object *o, const char *k, struct json_object *v, bool *oom)
{
	if (!v || json_object_object_add(o, k, v)) {
		json_object_put(v);
		*oom = true;
	}
}

/* json-c's null is the NULL object. */
static void put_null(struct json_object *o, const char *k, bool *oom)
{
	if (json_object_object_add(o, k, NULL))
		*oom = true;
}

static struct json_object *num(double v)
{
	return json_object_new_double(v);
}

static struct json_object *u64(uint64_t v)
{
	return json_object_new_int64((int64_t)v);
}

static struct json_object *ratio_json(const struct contend_ratio *q, bool *oom)
{
	struct json_object *o = json_object_new_object();

	if (!o) {
		*oom = true;
		return NULL;
	}
	put(o, "declared_bytes", u64(q->declared), oom);
	put(o, "real_bytes", u64(q->real), oom);
	put(o, "ratio", num(q->declared ? (double)q->real / q->declared : 0.0), oom);
	return o;
}

static struct json_object *case_json(const struct contend_report *r, const struct contend_case *k,
				     bool *oom)
{
	struct json_object *o = json_object_new_object(), *d, *h, *tr;
	int i;

	if (!o) {
		*oom = true;
		return NULL;
	}
	put(o, "case", json_object_new_string(k->key), oom);
	put(o, "hog", json_object_new_string(!k->hog_running ? "off" : k->hog_gated ? "gated" :
					     "ungated"), oom);
	put(o, "reserve_mbps", u64(k->reserve_mbps), oom);
	put(o, "seconds", num(k->secs), oom);
	put(o, "decode_tokens", u64(k->tokens), oom);
	put(o, "decode_tok_s", num(k->tok_s), oom);
	put(o, "pct_solo_tok_s", num(pct_solo(r, k)), oom);
	put(o, "decode_gbs", num(k->decode_gbs), oom);
	put(o, "hog_gbs", num(k->hog_gbs), oom);
	put(o, "total_gbs", num(k->decode_gbs + k->hog_gbs), oom);
	put(o, "pct_capacity", num(r->capacity_mbps ?
				   100.0 * (k->decode_gbs + k->hog_gbs) / capacity_gbs(r) : 0.0), oom);
	put(o, "pct_hog_of_spare", num(pct_spare(r, k)), oom);
	put(o, "decode_wait_p50_ms", num(k->wait_p50_ns / 1e6), oom);
	put(o, "decode_wait_p99_ms", num(k->wait_p99_ns / 1e6), oom);
	put(o, "decode_wait_max_ms", num(k->wait_max_ns / 1e6), oom);
	d = json_object_new_object();
	if (d) {
		put(d, "acquires", u64(k->decode.acquires), oom);
		put(d, "granted_bytes", u64(k->decode.granted_bytes), oom);
		put(d, "completed_bytes", u64(k->decode.completed_bytes), oom);
		put(d, "waits", u64(k->decode.waits), oom);
		put(d, "wait_ms", num(k->decode.wait_ns / 1e6), oom);
	}
	put(o, "decode_client", d, oom);
	if (k->hog_gated) {
		h = json_object_new_object();
		if (h) {
			put(h, "clients", json_object_new_int(r->hog_threads), oom);
			put(h, "acquires", u64(k->hog.acquires), oom);
			put(h, "granted_bytes", u64(k->hog.granted_bytes), oom);
			put(h, "waits", u64(k->hog.waits), oom);
			put(h, "wait_ms", num(k->hog.wait_ns / 1e6), oom);
			put(h, "max_wait_ms", num(k->hog.max_wait_ns / 1e6), oom);
			put(h, "timeouts", u64(k->hog.timeouts), oom);
		}
		put(o, "hog_client", h, oom);
	} else {
		put_null(o, "hog_client", oom);
	}
	tr = json_object_new_array();
	for (i = 0; tr && i < k->nsamples; i++) {
		struct json_object *s = json_object_new_array();

		if (s) {
			json_object_array_add(s, num(k->samples[i].t_s));
			json_object_array_add(s, num(k->samples[i].tok_s));
			json_object_array_add(s, num(k->samples[i].hog_gbs));
		}
		if (!s || json_object_array_add(tr, s)) {
			json_object_put(s);
			*oom = true;
		}
	}
	put(o, "samples", tr, oom);	/* [t_s, decode tok/s, hog GB/s] per 100 ms */
	return o;
}

int contend_print_json(FILE *out, const struct contend_report *r)
{
	struct json_object *root = json_object_new_object(), *bus, *arb, *cases, *cnt, *cpus;
	bool oom = !root;
	int i;

	if (oom)
		return -1;
	put(root, "model", json_object_new_string(r->model), &oom);
	put(root, "decode_threads", json_object_new_int(r->decode_threads), &oom);
	put(root, "hog_threads", json_object_new_int(r->hog_threads), &oom);
	cpus = json_object_new_array();
	for (i = 0; cpus && i < r->decode_threads; i++)
		json_object_array_add(cpus, json_object_new_int(r->decode_cpus[i]));
	put(root, "decode_cpus", cpus, &oom);
	cpus = json_object_new_array();
	for (i = 0; cpus && i < r->hog_threads; i++)
		json_object_array_add(cpus, json_object_new_int(r->hog_cpus[i]));
	put(root, "hog_cpus", cpus, &oom);
	put(root, "cores_overlap", json_object_new_boolean(r->cores_overlap), &oom);
	put(root, "seconds_per_case", num(r->co->seconds), &oom);
	put(root, "hog_buffer_bytes", u64(r->co->hog_bytes), &oom);
	put(root, "chunk_bytes", u64(r->co->chunk_bytes), &oom);
	bus = json_object_new_object();
	if (bus) {
		put(bus, "threads", json_object_new_int(r->cal.threads), &oom);
		put(bus, "read_gbs", num(r->cal.read_gbs), &oom);
		put(bus, "copy_gbs", num(r->cal.copy_gbs), &oom);
		put(bus, "one_core_gbs", num(r->cal.solo_gbs), &oom);
		put(bus, "rmin_gbs", num(r->cal.rmin_gbs), &oom);
		put(bus, "contended_total_gbs", num(r->cal.contended_total_gbs), &oom);
		put(bus, "proposed_capacity_mbps", u64(r->cal.capacity_mbps), &oom);
		put(bus, "proposed_guaranteed_mbps", u64(r->cal.guaranteed_mbps), &oom);
	}
	put(root, "bus", bus, &oom);
	arb = json_object_new_object();
	if (arb) {
		put(arb, "backend", json_object_new_string(r->arbiter), &oom);
		put(arb, "capacity_mbps", u64(r->capacity_mbps), &oom);
		put(arb, "capacity_source", json_object_new_string(r->capacity_source), &oom);
		put(arb, "guaranteed_mbps", u64(r->guaranteed_mbps), &oom);
		put(arb, "reserve_source", json_object_new_string(r->reserve_source), &oom);
		put(arb, "hog_weight", json_object_new_int((int)r->co->hog_weight), &oom);
		put(arb, "hog_reserve_mbps", u64(r->co->hog_reserve_mbps), &oom);
	}
	put(root, "arbiter", arb, &oom);
	cases = json_object_new_array();
	for (i = 0; cases && i < CONTEND_CASES; i++) {
		struct json_object *k = case_json(r, &r->cases[i], &oom);

		if (!k || json_object_array_add(cases, k)) {
			json_object_put(k);
			oom = true;
		}
	}
	put(root, "cases", cases, &oom);
	cnt = json_object_new_object();
	if (cnt) {
		put(cnt, "available", json_object_new_boolean(r->counter != NULL), &oom);
		put(cnt, "source", json_object_new_string(counter_source(r)), &oom);
		if (!r->counter)
			put(cnt, "unavailable_reason", json_object_new_string(r->counter_why), &oom);
		else
			put_null(cnt, "unavailable_reason", &oom);
		if (r->decode_ratio.have)
			put(cnt, "decode", ratio_json(&r->decode_ratio, &oom), &oom);
		else
			put_null(cnt, "decode", &oom);
		if (r->prefill_ratio.have)
			put(cnt, "prefill", ratio_json(&r->prefill_ratio, &oom), &oom);
		else
			put_null(cnt, "prefill", &oom);
	}
	put(root, "counters", cnt, &oom);
	if (!oom)
		fprintf(out, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
								     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return oom ? -1 : 0;
}

/* ---- the trace ---- */

/* The trailing mean's length in samples: 1 s. */
#define TRACE_SMOOTH 10

int contend_write_trace(const char *path, const struct contend_report *r, char *err,
			size_t errlen)
{
	size_t n = strlen(path) + 8;
	char *tmp = malloc(n);
	FILE *f;
	int i, j, bad;

	if (!tmp) {
		snprintf(err, errlen, "contend: --trace: out of memory");
		return -1;
	}
	snprintf(tmp, n, "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		snprintf(err, errlen, "contend: --trace %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	fprintf(f, "# splitmoe contend trace: model %s, decode %d threads, hog %d threads, arbiter %s, "
		"%ld cpus online\n", r->model, r->decode_threads, r->hog_threads, r->arbiter,
		sysconf(_SC_NPROCESSORS_ONLN));
	fprintf(f, "# one block per case (gnuplot index 0, 1, 2), a sample every 100 ms\n");
	fprintf(f, "# columns: t_s decode_tok_s hog_gbs, then both over the trailing %d samples"
		" (a token can take longer than 100 ms)\n", TRACE_SMOOTH);
	for (i = 0; i < CONTEND_CASES; i++) {
		const struct contend_case *k = &r->cases[i];

		fprintf(f, "%s# case %d: %s\n", i ? "\n\n" : "", i, k->name);
		for (j = 0; j < k->nsamples; j++) {
			double tok = 0, hog = 0;
			int lo = j + 1 >= TRACE_SMOOTH ? j + 1 - TRACE_SMOOTH : 0, m;

			for (m = lo; m <= j; m++) {
				tok += k->samples[m].tok_s;
				hog += k->samples[m].hog_gbs;
			}
			fprintf(f, "%.3f %.4f %.4f %.4f %.4f\n", k->samples[j].t_s, k->samples[j].tok_s,
				k->samples[j].hog_gbs, tok / (j + 1 - lo), hog / (j + 1 - lo));
		}
	}
	bad = ferror(f);
	if (fclose(f) || bad || rename(tmp, path)) {
		snprintf(err, errlen, "contend: --trace %s: %s", path, strerror(errno ? errno : EIO));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}
