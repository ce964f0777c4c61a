// SPDX-License-Identifier: MIT
/* splitmoe contend's own flags (contend.h); the common ones are left for
 * cli_parse. */
#include "contend.h"
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The warm-up prefill's largest size: half the positions contend uses. */
#define PREFILL_MAX (CONTEND_MAX_SEQ / 2)

static int parse_u64(const char *flag, const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(v, &end, 10);
	if (!*v || *v == '-' || *end || errno || x < lo || x > hi) {
		cli_err("contend: %s: bad value '%s' (want an integer in [%llu, %llu])", flag, v,
			(unsigned long long)lo, (unsigned long long)hi);
		return -1;
	}
	*out = x;
	return 0;
}

/*
 * Takes contend's own flags out of argv (into co) and leaves the common
 * ones, in order, in rest. 0, or -1 after one error.
 */
int contend_take_flags(int argc, char **argv, struct contend_opts *co, char **rest, int *nrest)
{
	static const char *const own[] = {
		"--seconds", "--hog-threads", "--reserve", "--hog-weight", "--hog-reserve",
		"--hog-mb", "--chunk-kb", "--cal-mb", "--prefill", "--trace",
	};
	int i, k;

	*nrest = 0;
	rest[(*nrest)++] = argv[0];
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL, *eq = strchr(a, '=');
		size_t len = eq ? (size_t)(eq - a) : strlen(a);
		uint64_t x;

		for (k = 0; k < (int)(sizeof(own) / sizeof(own[0])); k++)
			if (strlen(own[k]) == len && !strncmp(a, own[k], len))
				break;
		if (k == (int)(sizeof(own) / sizeof(own[0]))) {
			rest[(*nrest)++] = argv[i];
			continue;
		}
		if (eq) {
			v = eq + 1;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else {
			cli_err("contend: option '%s' needs a value", a);
			return -1;
		}
		switch (k) {
		case 0: {
			char *end;
			double s;

			errno = 0;
			s = strtod(v, &end);
			if (!*v || *end || errno || !(s >= 0.1 && s <= 3600)) {
				cli_err("contend: --seconds: bad value '%s' (want a number in [0.1, 3600])", v);
				return -1;
			}
			co->seconds = s;
			break;
		}
		case 1:
			if (parse_u64("--hog-threads", v, 1, CONTEND_MAX_CPUS, &x))
				return -1;
			co->hog_threads = (int)x;
			break;
		case 2:
			co->reserve_given = true;
			if (!strcmp(v, "auto")) {
				co->reserve_auto = true;
				co->reserve_mbps = 0;
				break;
			}
			if (parse_u64("--reserve", v, 0, 10000000, &co->reserve_mbps))
				return -1;
			co->reserve_auto = false;
			break;
		case 3:
			if (parse_u64("--hog-weight", v, 1, 10000, &x))
				return -1;
			co->hog_weight = (uint32_t)x;
			break;
		case 4:
			if (parse_u64("--hog-reserve", v, 0, 10000000, &co->hog_reserve_mbps))
				return -1;
			break;
		case 5:
			if (parse_u64("--hog-mb", v, 1, 1u << 20, &x))
				return -1;
			co->hog_bytes = x << 20;
			break;
		case 6:
			if (parse_u64("--chunk-kb", v, 4, 1u << 20, &x))
				return -1;
			co->chunk_bytes = x << 10;
			break;
		case 7:
			if (parse_u64("--cal-mb", v, 16, 1u << 20, &x))
				return -1;
			co->cal_bytes = x << 20;
			break;
		case 8:
			if (parse_u64("--prefill", v, 1, PREFILL_MAX, &x))
				return -1;
			co->prefill = (int)x;
			break;
		case 9:
			if (!*v) {
				cli_err("contend: --trace: empty file name");
				return -1;
			}
			co->trace = v;
			break;
		}
	}
	return 0;
}
