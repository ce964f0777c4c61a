// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * bwarbctl trace: the eBPF tracer of the bwarb tracepoints; its lifetime
 * (bpf/trace_ctl.c does the work) and a one-shot view of its pinned maps.
 *
 *   bwarbctl trace start [-v]   load, attach and pin under /sys/fs/bpf/bwarb
 *   bwarbctl trace stop         unpin: detaches and frees everything
 *   bwarbctl trace show         the pinned per-client counts, once
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bwarbctl.h"
#include "bpf/trace_ctl.h"
#include "trace_table.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bwarbctl trace start [-v]  load, attach, pin under %s\n"
		"       bwarbctl trace stop        detach and unpin everything\n"
		"       bwarbctl trace show        per-client counts, once\n",
		BWARB_BPF_PIN_DIR);
}

static int show(void)
{
	struct bwarb_trace_client *c = NULL;
	struct bwarb_trace_totals t;
	char err[256];
	size_t n;

	if (bwarb_trace_read(BWARB_BPF_PIN_DIR, &c, &n, &t, err, sizeof(err))) {
		fprintf(stderr, "bwarbctl: %s\n", err);
		return 1;
	}
	trace_table_print(stdout, c, n, NULL, 0, 0, &t);
	free(c);
	return 0;
}

static int cmd_trace(int argc, char **argv)
{
	bool verbose = false;
	const char *what;
	char err[256];
	int i, ret;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	what = argv[1];
	if (!strcmp(what, "-h") || !strcmp(what, "--help")) {
		usage(stdout);
		return 0;
	}
	for (i = 2; i < argc; i++) {
		if (!strcmp(what, "start") &&
		    (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))) {
			verbose = true;
			continue;
		}
		fprintf(stderr, "bwarbctl: trace %s: unexpected argument '%s'\n",
			what, argv[i]);
		return 2;
	}
	bwarb_bpf_set_verbose(verbose);

	if (!strcmp(what, "start")) {
		ret = bwarb_trace_start(BWARB_BPF_PIN_DIR, err, sizeof(err));
		if (ret) {
			fprintf(stderr, "bwarbctl: trace start: %s\n", err);
			return 1;
		}
		printf("tracer attached to bwarb:*, pinned under %s\n",
		       BWARB_BPF_PIN_DIR);
		return 0;
	}
	if (!strcmp(what, "stop")) {
		ret = bwarb_trace_stop(BWARB_BPF_PIN_DIR, err, sizeof(err));
		if (ret) {
			fprintf(stderr, "bwarbctl: trace stop: %s\n", err);
			return 1;
		}
		printf("tracer detached, %s removed\n", BWARB_BPF_PIN_DIR);
		return 0;
	}
	if (!strcmp(what, "show"))
		return show();
	fprintf(stderr, "bwarbctl: trace: unknown command '%s' (start, stop, show)\n",
		what);
	usage(stderr);
	return 2;
}

BWARBCTL_COMMAND(trace, "eBPF tracer of the bwarb tracepoints: start, stop, show", cmd_trace)
