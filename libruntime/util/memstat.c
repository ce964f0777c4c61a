// SPDX-License-Identifier: MIT
#include "util/memstat.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

int sm_memstat_read(struct sm_memstat *m)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{ "VmRSS:", offsetof(struct sm_memstat, rss_bytes) },
		{ "VmHWM:", offsetof(struct sm_memstat, hwm_bytes) },
		{ "RssFile:", offsetof(struct sm_memstat, rss_file_bytes) },
		{ "RssAnon:", offsetof(struct sm_memstat, rss_anon_bytes) },
	};
	char line[256];
	FILE *f;
	size_t i;

	memset(m, 0, sizeof(*m));
	f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			unsigned long long kb;
			size_t n = strlen(keys[i].key);

			if (!strncmp(line, keys[i].key, n) &&
			    sscanf(line + n, "%llu", &kb) == 1)
				*(uint64_t *)((char *)m + keys[i].off) = kb * 1024;
		}
	}
	fclose(f);
	return 0;
}
