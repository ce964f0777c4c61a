/* SPDX-License-Identifier: MIT */
/*
 * splitmoe contend: decode beside a bandwidth hog, three cases in one run
 * (hog off, hog ungated, hog gated), through the process arbiter or
 * /dev/bwarb. README "Contention", docs/calibration.md.
 *
 *   cmd_contend.c     cores, the cases, the 100 ms sampler
 *   contend_args.c    contend's own flags
 *   contend_hog.c     the hog: threads copying chunks of a large buffer,
 *                     each chunk acquired from the arbiter when gated
 *   contend_report.c  the table, the JSON document, the trace file
 * The arbiter's clients, the calibration and the DRAM counter are the
 * public API's (splitmoe.h).
 */
#ifndef SPLITMOE_CONTEND_H
#define SPLITMOE_CONTEND_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "splitmoe.h"

#define CONTEND_CASES 3
#define CONTEND_MAX_SEQ 256		/* decode's positions before a reset */
#define CONTEND_MAX_CPUS 1024

/* contend's own flags (the common ones go through cli_parse). */
struct contend_opts {
	double seconds;			/* --seconds: each case's window [5] */
	int hog_threads;		/* --hog-threads [half the cores] */
	bool reserve_given;		/* --reserve on the command line */
	bool reserve_auto;		/* --reserve auto [when YAML has none] */
	uint64_t reserve_mbps;		/* --reserve MBPS */
	uint32_t hog_weight;		/* --hog-weight [100] */
	uint64_t hog_reserve_mbps;	/* --hog-reserve [0] */
	uint64_t hog_bytes;		/* --hog-mb [1024 MiB] */
	uint64_t chunk_bytes;		/* --chunk-kb [4096 KiB] */
	uint64_t cal_bytes;		/* --cal-mb [splitmoe_bwcal_default_bytes] */
	int prefill;			/* --prefill: warm-up prefill tokens [32] */
	const char *trace;		/* --trace FILE */
};

/*
 * Takes contend's own flags out of argv into co and leaves the common
 * ones, in order, in rest (argv[0] first). 0, or -1 after one error.
 */
int contend_take_flags(int argc, char **argv, struct contend_opts *co, char **rest, int *nrest);

/* What the hog's clients got from the arbiter over one case. */
struct hog_share {
	uint64_t acquires, granted_bytes, waits, wait_ns, max_wait_ns, timeouts;
};

struct hog;
/* Allocates the buffer and touches it from threads on the hog's cpus.
 * 0, or -1 with one line in err. */
int hog_create(uint64_t bytes, uint64_t chunk, int nthreads, const int *cpus,
	       struct hog **out, char *err, size_t errlen);
/* Starts the threads; arb NULL: ungated, else one client per thread
 * (class other, weight / threads, reserve / threads). 0, or -1 with err. */
int hog_start(struct hog *h, splitmoe_arb *arb, uint32_t weight, uint64_t reserve_mbps,
	      char *err, size_t errlen);
/* Bytes moved (read + written) since hog_start; any thread may call. */
uint64_t hog_bytes(struct hog *h);
/* Stops and joins the threads, closes the clients; their figures in out.
 * 0, or -1 with err when a thread's acquire failed. */
int hog_stop(struct hog *h, struct hog_share *out, char *err, size_t errlen);
void hog_destroy(struct hog *h);

/* One 100 ms sample of a case. */
struct contend_sample {
	double t_s;			/* end of the interval, from the window's start */
	double tok_s, hog_gbs;
};

struct contend_case {
	const char *name;		/* "hog off", "hog ungated", "hog gated" */
	const char *key;		/* "off", "ungated", "gated" */
	bool hog_running, hog_gated;
	uint64_t reserve_mbps;		/* decode's reservation in this case */
	double secs;			/* the window */
	uint64_t tokens;
	double tok_s;
	double decode_gbs;		/* declared bytes completed / s */
	double hog_gbs;			/* read + written / s */
	struct splitmoe_arb_client_stats decode;	/* the session's client, whole case */
	bool have_decode;
	struct hog_share hog;		/* whole case */
	uint64_t wait_p50_ns, wait_p99_ns, wait_max_ns;
	struct contend_sample *samples;
	int nsamples;
};

/* Declared against real traffic, hog off (splitmoe_dram_counter). */
struct contend_ratio {
	bool have;
	uint64_t declared, real;
};

struct contend_report {
	const char *model, *arbiter;
	int decode_threads, hog_threads;
	const int *decode_cpus, *hog_cpus;
	bool cores_overlap;
	const struct contend_opts *co;
	struct splitmoe_bwcal cal;
	uint64_t capacity_mbps, guaranteed_mbps;	/* in effect */
	const char *capacity_source;	/* "calibrated", "YAML", "module" */
	const char *reserve_source;	/* "auto: 1.1 x solo traffic", "--reserve", "YAML" */
	struct contend_case cases[CONTEND_CASES];
	splitmoe_dram_counter *counter;	/* NULL: unavailable */
	char counter_why[400];		/* unavailable: the reasons */
	struct contend_ratio decode_ratio, prefill_ratio;
};

void contend_print_table(FILE *out, const struct contend_report *r);
/* 0, or -1 when out of memory. */
int contend_print_json(FILE *out, const struct contend_report *r);
/* The samples of every case for gnuplot (blank-line separated blocks),
 * written to path.tmp and renamed. 0, or -1 with one line in err. */
int contend_write_trace(const char *path, const struct contend_report *r, char *err,
			size_t errlen);

int cmd_contend_main(int argc, char **argv);

#endif
