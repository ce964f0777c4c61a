// SPDX-License-Identifier: MIT
/* Helpers shared by the subcommands. */
#include "cli.h"
#include "util/memstat.h"

#include <stdio.h>

void cli_report_memory(FILE *out, const char *when)
{
	struct sm_memstat m;

	if (sm_memstat_read(&m)) {
		fprintf(out, "resident memory (%s): unavailable\n", when);
		return;
	}
	fprintf(out, "resident memory (%s): %.1f MB (file-backed: weights and libraries %.1f MB; anonymous %.1f MB), peak %.1f MB\n",
		when, m.rss_bytes / 1e6, m.rss_file_bytes / 1e6, m.rss_anon_bytes / 1e6,
		m.hwm_bytes / 1e6);
}
