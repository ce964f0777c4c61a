// SPDX-License-Identifier: MIT
/* Integer knobs from the environment; see env_knob.h. */
#include "util/env_knob.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

long sm_env_knob(const char *name, long lo, long hi, long dflt)
{
	const char *env = getenv(name);
	char *end;
	long v;

	if (!env || !*env)
		return dflt;
	errno = 0;
	v = strtol(env, &end, 10);
	if (errno || *end || v < lo || v > hi) {
		fprintf(stderr, "splitmoe: %s='%s' is not an integer from %ld to %ld; using %ld\n",
			name, env, lo, hi, dflt);
		return dflt;
	}
	return v;
}
