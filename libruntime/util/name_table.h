/* SPDX-License-Identifier: MIT */
/*
 * Enum <-> name tables (arbiter kinds, compute types, split modes): an
 * array of names indexed by the enum's values.
 */
#ifndef SPLITMOE_NAME_TABLE_H
#define SPLITMOE_NAME_TABLE_H

#include <stddef.h>

#define SM_NAMES_LEN(t) (sizeof(t) / sizeof((t)[0]))

/* names[i], or "?" when i is out of range. */
const char *sm_name_of(const char *const *names, size_t n, unsigned i);
/* The index of s in names, or -EINVAL (s NULL or unknown). */
int sm_name_find(const char *const *names, size_t n, const char *s);

#endif
