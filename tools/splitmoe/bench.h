/* SPDX-License-Identifier: MIT */
/*
 * splitmoe bench: speed at a model's size, in the manner of llama-bench.
 *
 *   cmd_bench.c     flags, sessions (one per thread count), the timed runs
 *   bench_bytes.c   the weight bytes a prefill reads (the GB/s column)
 *   bench_report.c  the table, the profile tables, the JSON document
 * on the public API (include/splitmoe.h): splitmoe_model_token_bytes for
 * the bytes a token reads, splitmoe_membw_measure for the DRAM bandwidth
 * the GB/s are a percentage of.
 */
#ifndef SPLITMOE_BENCH_H
#define SPLITMOE_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "splitmoe.h"

/* Rows of one prefill chunk (the session's max_batch) unless -b says:
 * llama-bench's micro-batch (-ub 512), the peer's figures are of. */
#define BENCH_CHUNK 512

/* Prompt tokens of each sequence of a --parallel test unless -p says. */
#define BENCH_PAR_PROMPT 128

enum bench_kind { BENCH_PP, BENCH_TG, BENCH_PAR };

struct bench_test {
	enum bench_kind kind;
	int n;			/* tokens timed (par: decode steps of each sequence) */
	int depth;		/* tg: tokens in the KV cache before the timed steps;
				 * par: prompt tokens of each sequence */
	int par;		/* par: concurrent sequences */
	char name[48];		/* "pp512", "tg32", "tg32 @ d512", "pl8 pp128+tg32" */
};

struct bench_result {
	struct bench_test test;
	int threads;
	const char *dtype;		/* compute type in effect */
	const char *weights;		/* mapped, packed, mixed, int8, q4 */
	int reps;
	double *tok_s;			/* [reps] */
	double mean, sd;		/* of tok_s (sd: n - 1; 0 for one run) */
	double bytes_per_token;		/* weights read per token (bench_bytes.c) */
	/* --profile: sums over the repetitions */
	bool have_profile;
	struct splitmoe_profile prof;
	uint64_t *layer_ns;		/* [layers] */
	/* par: tok_s is the aggregate decode rate of all the sequences; per
	 * run, the prefill's aggregate rate, the time to first token (all
	 * prompts arriving at once, -b rows a step) mean and max, and a
	 * newcomer's beside the others decoding */
	double *prefill_tok_s, *ttft_ms, *ttft_max_ms, *ttft_join_ms;	/* [reps] */
};

/* A prefill of n tokens in chunks of `chunk`, b the bytes a token reads
 * (splitmoe_model_token_bytes): per chunk, dense (but the head: the last
 * chunk's only) + the distinct experts its tokens were routed to in each
 * layer (experts: [layers][n][top_k], from a run of the same ids) + its
 * embedding rows. */
double bench_bytes_prefill(const struct splitmoe_token_bytes *b, const int32_t *experts, int n,
			   int chunk);

/* What the report prints besides the results. */
struct bench_report {
	const char *model_dir, *model_name;
	const splitmoe_model *m;
	const struct splitmoe_membw *bw;	/* NULL: none */
	const char *bw_source;		/* "measured", "given" (--membw-gbs), "none" */
	const char *device, *arbiter;
	/* the process arbiter's capacity (0: its default, or another
	 * arbiter ran) and where it came from: "membw read", "membw copy", "config",
	 * "default" */
	uint64_t arb_capacity_mbps;
	const char *arb_capacity_source;
	int reps, n, layers;
	uint64_t seed;
	int chunk;			/* prefill chunk (-b) */
	char **weights_lines;		/* [n_sessions] cli_report_weights' line */
	int n_sessions;
	const struct bench_result *r;
	int nr;
};

/* llama-bench's markdown table, then the profile tables when present. */
void bench_print_table(FILE *out, const struct bench_report *rep);
/* One JSON document (json-c) with everything. 0, or -1 when out of memory. */
int bench_print_json(FILE *out, const struct bench_report *rep);
/* The bandwidth line "membw: threads 16, read 88.6 GB/s, copy ..." */
void bench_print_membw(FILE *out, const struct splitmoe_membw *bw);
/* --membw alone as JSON. */
int bench_print_membw_json(FILE *out, const struct splitmoe_membw *bw);

#endif
