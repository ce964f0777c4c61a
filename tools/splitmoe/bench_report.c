// SPDX-License-Identifier: MIT
/*
 * splitmoe bench: the report. A markdown table as llama-bench prints it
 * (one row per thread count and test), the --profile tables, or all of it
 * as one JSON document (--json).
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#define NCOL 8

static double gbs(const struct bench_result *r)
{
	return r->bytes_per_token * r->mean / 1e9;
}

static void model_line(FILE *out, const struct bench_report *rep)
{
	struct splitmoe_model_info mi;

	splitmoe_model_info(rep->m, &mi);
	fprintf(out, "model: %s: %d layers, hidden %d, %d experts (top-%d) of %d, vocab %d; "
		"%.2f M parameters, %.2f %s as %s\n", rep->model_dir, mi.layers,
		mi.hidden, mi.experts, mi.experts_per_token,
		mi.intermediate, mi.vocab, mi.params / 1e6,
		mi.bytes / (mi.bytes >= 1000000000ull ? 1e9 : 1e6),
		mi.bytes >= 1000000000ull ? "GB" : "MB", mi.storage_dtype);
}

void bench_print_membw(FILE *out, const struct splitmoe_membw *bw)
{
	fprintf(out, "membw: threads %d, read %.1f GB/s, copy %.1f GB/s (read + written), "
		"best of %d over %.2f GB\n", bw->threads, bw->read_gbs, bw->copy_gbs, bw->runs,
		bw->bytes / 1e9);
}

static void bw_line(FILE *out, const struct bench_report *rep)
{
	if (!rep->bw)
		fprintf(out, "membw: not measured (--no-membw): no %% of bandwidth\n");
	else if (!strcmp(rep->bw_source, "given"))
		fprintf(out, "membw: read %.1f GB/s (given by --membw-gbs)\n", rep->bw->read_gbs);
	else
		bench_print_membw(out, rep->bw);
}

static void print_row(FILE *out, char cells[][64], const int *w, const bool *right)
{
	int i;

	fputc('|', out);
	for (i = 0; i < NCOL; i++)
		fprintf(out, right[i] ? " %*s |" : " %-*s |", w[i], cells[i]);
	fputc('\n', out);
}

static void print_profile(FILE *out, const struct bench_result *r, int layers)
{
	const struct splitmoe_profile *p = &r->prof;
	double tok = p->tokens ? (double)p->tokens : 1.0, sum = 0, lmin = 0, lmax = 0, lsum = 0;
	int i;

	fprintf(out, "\nprofile: t=%d %s: %d runs, %llu tokens, %.3f ms per token\n\n",
		r->threads, r->test.name, r->reps, (unsigned long long)p->tokens,
		p->total_ns / tok / 1e6);
	fprintf(out, "| %-14s | %10s | %9s | %11s |\n", "op", "ms/token", "% of pass",
		"calls/token");
	fprintf(out, "| %-14s | %10s | %9s | %11s |\n", "---", "---:", "---:", "---:");
	for (i = 0; i < splitmoe_op_class_count(); i++) {
		sum += (double)p->ns[i];
		fprintf(out, "| %-14s | %10.4f | %9.1f | %11.2f |\n",
			splitmoe_op_class_name(i), p->ns[i] / tok / 1e6,
			p->total_ns ? 100.0 * p->ns[i] / p->total_ns : 0.0, p->calls[i] / tok);
	}
	fprintf(out, "| %-14s | %10.4f | %9.1f | %11s |\n", "(unattributed)",
		(p->total_ns - sum) / tok / 1e6,
		p->total_ns ? 100.0 * (p->total_ns - sum) / p->total_ns : 0.0, "");
	for (i = 0; i < layers; i++) {
		double v = r->layer_ns[i] / tok / 1e6;

		lmin = i == 0 || v < lmin ? v : lmin;
		lmax = i == 0 || v > lmax ? v : lmax;
		lsum += v;
	}
	fprintf(out, "\nlayers: min %.4f, mean %.4f, max %.4f ms per token (%d layers)\n", lmin,
		layers ? lsum / layers : 0.0, lmax, layers);
}

static double mean_of(const double *v, int n)
{
	double s = 0;

	for (int i = 0; i < n; i++)
		s += v[i];
	return n ? s / n : 0.0;
}

/* The single stream of a --parallel test: same threads and prompt, one
 * sequence; NULL when there is none. */
static const struct bench_result *single_of(const struct bench_report *rep,
					    const struct bench_result *r)
{
	for (int i = 0; i < rep->nr; i++) {
		const struct bench_result *b = &rep->r[i];

		if (b->test.kind == BENCH_PAR && b->test.par == 1 && b->threads == r->threads &&
		    b->test.depth == r->test.depth && b->test.n == r->test.n)
			return b;
	}
	return NULL;
}

static double speedup(const struct bench_report *rep, const struct bench_result *r)
{
	const struct bench_result *b = single_of(rep, r);

	return b && b->mean > 0 ? r->mean / b->mean : 0.0;
}

#define PCOL 11

/* --parallel: one row per thread count and test. */
static void print_parallel(FILE *out, const struct bench_report *rep)
{
	static const char *const head[PCOL] = {
		"model", "dtype", "threads", "test", "seqs", "decode tok/s", "tok/s per seq",
		"x single", "TTFT ms (max)", "join TTFT ms", "prefill tok/s",
	};
	char c[PCOL][64];
	int w[PCOL] = { 0 };

	for (int pass = 0; pass < 2; pass++) {
		for (int i = -1; i < rep->nr; i++) {
			const struct bench_result *r = i >= 0 ? &rep->r[i] : NULL;

			if (r && r->test.kind != BENCH_PAR)
				continue;
			for (int j = 0; j < PCOL; j++)
				snprintf(c[j], 64, "%s", head[j]);
			if (r) {
				double x = speedup(rep, r);

				snprintf(c[0], 64, "%.63s", rep->model_name);
				snprintf(c[1], 64, "%s", r->dtype);
				snprintf(c[2], 64, "%d", r->threads);
				snprintf(c[3], 64, "%s", r->test.name);
				snprintf(c[4], 64, "%d", r->test.par);
				snprintf(c[5], 64, "%.2f +- %.2f", r->mean, r->sd);
				snprintf(c[6], 64, "%.2f", r->mean / r->test.par);
				if (x > 0)
					snprintf(c[7], 64, "%.2f", x);
				else
					snprintf(c[7], 64, "-");
				snprintf(c[8], 64, "%.1f (%.1f)", mean_of(r->ttft_ms, r->reps),
					 mean_of(r->ttft_max_ms, r->reps));
				snprintf(c[9], 64, "%.1f", mean_of(r->ttft_join_ms, r->reps));
				snprintf(c[10], 64, "%.1f", mean_of(r->prefill_tok_s, r->reps));
			}
			for (int j = 0; j < PCOL; j++) {
				int len = (int)strlen(c[j]);

				if (!pass) {
					w[j] = len > w[j] ? len : w[j];
					continue;
				}
				fprintf(out, j < 4 ? "| %-*s " : "| %*s ", w[j], c[j]);
			}
			if (!pass)
				continue;
			fprintf(out, "|\n");
			if (!r) {
				for (int j = 0; j < PCOL; j++) {
					fputs("| ", out);
					for (int k = 0; k < w[j] - (j < 4 ? 0 : 1); k++)
						fputc('-', out);
					fputs(j < 4 ? " " : ": ", out);
				}
				fprintf(out, "|\n");
			}
		}
	}
	fprintf(out, "\ndecode tok/s: tokens of all the sequences per second over -n steps of one "
		"token each (phimoe_batch), after their prompts; x single: over the same test with "
		"one sequence; TTFT: time to first token, every prompt arriving at once and going "
		"in steps of -b %d rows (mean over the sequences, max in parentheses); join TTFT: "
		"a newcomer's, its prompt going in beside the others' decode steps\n", rep->chunk);
}

void bench_print_table(FILE *out, const struct bench_report *rep)
{
	static const char *const head[NCOL] = {
		"model", "dtype", "weights", "threads", "test", "tok/s", "GB/s", "% read bw",
	};
	static const bool right[NCOL] = { false, false, false, true, false, true, true, true };
	char (*cells)[NCOL][64] = calloc((size_t)rep->nr + 1, sizeof(*cells));
	struct splitmoe_cpu_info cpu;
	int w[NCOL], i, j;

	model_line(out, rep);
	bw_line(out, rep);
	/* which of our kernels ran (SPLITMOE_ISA forces lower ones) */
	splitmoe_cpu_info(&cpu);
	fprintf(out, "kernels: %s%s, int8 products %s\n", cpu.kernels,
		cpu.kernels_forced ? " (forced by SPLITMOE_ISA)" : "", cpu.int8_kernel);
	fprintf(out, "tests: -r %d timed runs each after one warm-up, seed %llu, device %s, arbiter %s",
		rep->reps, (unsigned long long)rep->seed, rep->device, rep->arbiter);
	if (rep->arb_capacity_mbps)
		fprintf(out, " (capacity %llu MB/s: %s)", (unsigned long long)rep->arb_capacity_mbps,
			rep->arb_capacity_source);
	fprintf(out, "\n\n");
	if (rep->nr && rep->r[0].test.kind == BENCH_PAR) {
		/* --parallel runs nothing else */
		free(cells);
		print_parallel(out, rep);
		for (i = 0; i < rep->nr; i++)
			if (rep->r[i].have_profile)
				print_profile(out, &rep->r[i], rep->layers);
		fputc('\n', out);
		return;
	}
	if (!cells)
		return;
	for (j = 0; j < NCOL; j++)
		snprintf(cells[0][j], 64, "%s", head[j]);
	for (i = 0; i < rep->nr; i++) {
		const struct bench_result *r = &rep->r[i];
		char (*c)[64] = cells[i + 1];

		snprintf(c[0], 64, "%.63s", rep->model_name);
		snprintf(c[1], 64, "%s", r->dtype);
		snprintf(c[2], 64, "%s", r->weights);
		snprintf(c[3], 64, "%d", r->threads);
		snprintf(c[4], 64, "%s", r->test.name);
		snprintf(c[5], 64, "%.2f ± %.2f", r->mean, r->sd);
		snprintf(c[6], 64, "%.2f", gbs(r));
		if (rep->bw && rep->bw->read_gbs > 0)
			snprintf(c[7], 64, "%.1f", 100.0 * gbs(r) / rep->bw->read_gbs);
		else
			snprintf(c[7], 64, "-");
	}
	for (j = 0; j < NCOL; j++) {
		w[j] = 3;
		for (i = 0; i <= rep->nr; i++) {
			/* "±" is two bytes and one column */
			int len = (int)strlen(cells[i][j]) - (strstr(cells[i][j], "±") ? 1 : 0);

			if (len > w[j])
				w[j] = len;
		}
	}
	print_row(out, cells[0], w, right);
	fputc('|', out);
	for (j = 0; j < NCOL; j++) {
		fputc(' ', out);
		for (i = 0; i < w[j] - (right[j] ? 1 : 0); i++)
			fputc('-', out);
		fprintf(out, "%s |", right[j] ? ":" : "");
	}
	fputc('\n', out);
	for (i = 1; i <= rep->nr; i++) {
		char (*c)[64] = cells[i];
		int wt[NCOL];

		memcpy(wt, w, sizeof(wt));
		wt[5] += strstr(c[5], "±") ? 1 : 0;	/* printf pads bytes */
		print_row(out, c, wt, right);
	}
	free(cells);
	fprintf(out, "\nGB/s: weight bytes a token reads (decode: attention, norms, router, top-%d "
		"experts of every layer, lm_head, one embedding row; prefill: that per %d-token "
		"chunk with the distinct experts its tokens use, over the tokens) x tok/s; "
		"%% read bw: of the membw read figure\n", splitmoe_model_experts_per_token(rep->m),
		rep->chunk);
	for (i = 0; i < rep->nr; i++)
		if (rep->r[i].have_profile)
			print_profile(out, &rep->r[i], rep->layers);
	fputc('\n', out);
}

/* ---- JSON ---- */

static struct json_object *num(double v, const char *fmt)
{
	char b[64];

	snprintf(b, sizeof(b), fmt, v);
	return json_object_new_double_s(v, b);
}

static void put(struct json_object *o, const char *k, struct json_object *v, bool *oom)
{
	if (!v)
		*oom = true;
	json_object_object_add(o, k, v);
}

static struct json_object *membw_json(const struct splitmoe_membw *bw, const char *source, bool *oom)
{
	struct json_object *o = json_object_new_object();

	if (!o) {
		*oom = true;
		return NULL;
	}
	put(o, "source", json_object_new_string(source), oom);
	if (bw) {
		put(o, "read_gbs", num(bw->read_gbs, "%.2f"), oom);
		if (strcmp(source, "given")) {
			put(o, "copy_gbs", num(bw->copy_gbs, "%.2f"), oom);
			put(o, "threads", json_object_new_int(bw->threads), oom);
			put(o, "buffer_bytes", json_object_new_int64((int64_t)bw->bytes), oom);
			put(o, "runs", json_object_new_int(bw->runs), oom);
		}
	}
	return o;
}

int bench_print_membw_json(FILE *out, const struct splitmoe_membw *bw)
{
	bool oom = false;
	struct json_object *o = json_object_new_object();

	if (!o)
		return -1;
	put(o, "membw", membw_json(bw, "measured", &oom), &oom);
	if (!oom)
		fprintf(out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
	json_object_put(o);
	return oom ? -1 : 0;
}

static struct json_object *profile_json(const struct bench_result *r, int layers, bool *oom)
{
	const struct splitmoe_profile *p = &r->prof;
	double tok = p->tokens ? (double)p->tokens : 1.0, sum = 0;
	struct json_object *o = json_object_new_object(), *ops = json_object_new_object(),
			   *lay = json_object_new_array();
	int i;

	if (!o || !ops || !lay) {
		*oom = true;
		json_object_put(o);
		json_object_put(ops);
		json_object_put(lay);
		return NULL;
	}
	put(o, "tokens", json_object_new_int64((int64_t)p->tokens), oom);
	put(o, "ms_per_token", num(p->total_ns / tok / 1e6, "%.6g"), oom);
	for (i = 0; i < splitmoe_op_class_count(); i++) {
		struct json_object *c = json_object_new_object();

		sum += (double)p->ns[i];
		if (c) {
			put(c, "ms_per_token", num(p->ns[i] / tok / 1e6, "%.6g"), oom);
			put(c, "pct", num(p->total_ns ? 100.0 * p->ns[i] / p->total_ns : 0.0, "%.3g"),
			    oom);
			put(c, "calls_per_token", num(p->calls[i] / tok, "%.6g"), oom);
		}
		put(ops, splitmoe_op_class_name(i), c, oom);
	}
	put(o, "ops", ops, oom);
	put(o, "unattributed_ms_per_token", num((p->total_ns - sum) / tok / 1e6, "%.6g"), oom);
	for (i = 0; i < layers; i++) {
		struct json_object *v = num(r->layer_ns[i] / tok / 1e6, "%.6g");

		if (!v)
			*oom = true;
		json_object_array_add(lay, v);
	}
	put(o, "layer_ms_per_token", lay, oom);
	return o;
}

static struct json_object *result_json(const struct bench_report *rep,
				       const struct bench_result *r, bool *oom)
{
	struct json_object *o = json_object_new_object(), *runs = json_object_new_array();
	int i;

	if (!o || !runs) {
		*oom = true;
		json_object_put(o);
		json_object_put(runs);
		return NULL;
	}
	put(o, "test", json_object_new_string(r->test.name), oom);
	put(o, "kind", json_object_new_string(r->test.kind == BENCH_PP ? "pp" :
					      r->test.kind == BENCH_TG ? "tg" : "parallel"), oom);
	put(o, "n_tokens", json_object_new_int(r->test.n), oom);
	put(o, "depth", json_object_new_int(r->test.depth), oom);
	put(o, "threads", json_object_new_int(r->threads), oom);
	put(o, "dtype", json_object_new_string(r->dtype), oom);
	put(o, "weights", json_object_new_string(r->weights), oom);
	put(o, "reps", json_object_new_int(r->reps), oom);
	put(o, "tok_s", num(r->mean, "%.6g"), oom);
	put(o, "tok_s_sd", num(r->sd, "%.6g"), oom);
	for (i = 0; i < r->reps; i++)
		json_object_array_add(runs, num(r->tok_s[i], "%.6g"));
	put(o, "tok_s_runs", runs, oom);
	if (r->test.kind == BENCH_PAR) {
		double x = speedup(rep, r);

		/* tok_s: the aggregate decode rate; depth: the prompt */
		put(o, "sequences", json_object_new_int(r->test.par), oom);
		put(o, "prompt_tokens", json_object_new_int(r->test.depth), oom);
		put(o, "tok_s_per_seq", num(r->mean / r->test.par, "%.6g"), oom);
		if (x > 0)
			put(o, "speedup_vs_single", num(x, "%.4g"), oom);
		else
			json_object_object_add(o, "speedup_vs_single", NULL);
		put(o, "ttft_ms", num(mean_of(r->ttft_ms, r->reps), "%.6g"), oom);
		put(o, "ttft_max_ms", num(mean_of(r->ttft_max_ms, r->reps), "%.6g"), oom);
		put(o, "ttft_join_ms", num(mean_of(r->ttft_join_ms, r->reps), "%.6g"), oom);
		put(o, "prefill_tok_s", num(mean_of(r->prefill_tok_s, r->reps), "%.6g"), oom);
		if (r->have_profile)
			put(o, "profile", profile_json(r, rep->layers, oom), oom);
		return o;
	}
	put(o, "weight_bytes_per_token", num(r->bytes_per_token, "%.0f"), oom);
	put(o, "weight_gbs", num(gbs(r), "%.4g"), oom);
	if (rep->bw && rep->bw->read_gbs > 0)
		put(o, "pct_read_bw", num(100.0 * gbs(r) / rep->bw->read_gbs, "%.4g"), oom);
	else
		json_object_object_add(o, "pct_read_bw", NULL);
	if (r->have_profile)
		put(o, "profile", profile_json(r, rep->layers, oom), oom);
	return o;
}

int bench_print_json(FILE *out, const struct bench_report *rep)
{
	struct json_object *o = json_object_new_object(), *m = json_object_new_object(),
			   *res = json_object_new_array(), *wl = json_object_new_array(),
			   *mem = json_object_new_object();
	struct splitmoe_model_info mi;
	struct splitmoe_memory ms;
	bool oom = !o || !m || !res || !wl || !mem;
	int i;

	if (oom) {
		json_object_put(o);
		json_object_put(m);
		json_object_put(res);
		json_object_put(wl);
		json_object_put(mem);
		return -1;
	}
	splitmoe_model_info(rep->m, &mi);
	put(m, "dir", json_object_new_string(rep->model_dir), &oom);
	put(m, "name", json_object_new_string(rep->model_name), &oom);
	put(m, "layers", json_object_new_int(mi.layers), &oom);
	put(m, "hidden", json_object_new_int(mi.hidden), &oom);
	put(m, "intermediate", json_object_new_int(mi.intermediate), &oom);
	put(m, "experts", json_object_new_int(mi.experts), &oom);
	put(m, "top_k", json_object_new_int(mi.experts_per_token), &oom);
	put(m, "vocab", json_object_new_int(mi.vocab), &oom);
	put(m, "storage_dtype", json_object_new_string(mi.storage_dtype), &oom);
	put(m, "params", json_object_new_int64((int64_t)mi.params), &oom);
	put(m, "bytes", json_object_new_int64((int64_t)mi.bytes), &oom);
	put(o, "model", m, &oom);
	put(o, "membw", membw_json(rep->bw, rep->bw_source, &oom), &oom);
	put(o, "device", json_object_new_string(rep->device), &oom);
	put(o, "arbiter", json_object_new_string(rep->arbiter), &oom);
	if (rep->arb_capacity_mbps) {
		put(o, "arbiter_capacity_mbps", json_object_new_int64((int64_t)rep->arb_capacity_mbps), &oom);
		put(o, "arbiter_capacity_source", json_object_new_string(rep->arb_capacity_source), &oom);
	}
	put(o, "seed", json_object_new_int64((int64_t)rep->seed), &oom);
	put(o, "prefill_chunk", json_object_new_int(rep->chunk), &oom);
	for (i = 0; i < rep->nr; i++)
		json_object_array_add(res, result_json(rep, &rep->r[i], &oom));
	put(o, "results", res, &oom);
	for (i = 0; i < rep->n_sessions; i++)
		json_object_array_add(wl, json_object_new_string(rep->weights_lines[i] ?
								    rep->weights_lines[i] : ""));
	put(o, "weights_held", wl, &oom);
	if (splitmoe_memory_usage(&ms) == SPLITMOE_OK) {
		put(mem, "rss_bytes", json_object_new_int64((int64_t)ms.rss), &oom);
		put(mem, "peak_bytes", json_object_new_int64((int64_t)ms.peak), &oom);
		put(mem, "file_bytes", json_object_new_int64((int64_t)ms.rss_file), &oom);
		put(mem, "anon_bytes", json_object_new_int64((int64_t)ms.rss_anon), &oom);
	}
	put(o, "resident_memory", mem, &oom);
	if (!oom)
		fprintf(out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return oom ? -1 : 0;
}
