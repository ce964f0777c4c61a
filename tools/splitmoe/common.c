// SPDX-License-Identifier: MIT
/* Helpers shared by the subcommands. */
#include "cli.h"

#include <stdio.h>

void cli_report_memory(FILE *out, const char *when)
{
	struct splitmoe_memory m;

	if (splitmoe_memory_usage(&m)) {
		fprintf(out, "resident memory (%s): unavailable\n", when);
		return;
	}
	fprintf(out, "resident memory (%s): %.1f MB (file-backed: weights and libraries %.1f MB; anonymous %.1f MB), peak %.1f MB\n",
		when, m.rss / 1e6, m.rss_file / 1e6, m.rss_anon / 1e6, m.peak / 1e6);
}
