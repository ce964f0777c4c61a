// SPDX-License-Identifier: MIT
#include "util/name_table.h"

#include <errno.h>
#include <string.h>

const char *sm_name_of(const char *const *names, size_t n, unsigned i)
{
	return i < n && names[i] ? names[i] : "?";
}

int sm_name_find(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (names[i] && !strcmp(s, names[i]))
			return (int)i;
	return -EINVAL;
}
