/* SPDX-License-Identifier: MIT */
/*
 * One-line error messages into a caller's buffer. Names and values from
 * files are echoed in messages, so control characters are replaced: an
 * error is always exactly one line.
 */
#ifndef SPLITMOE_ERRBUF_H
#define SPLITMOE_ERRBUF_H

#include <stddef.h>

/* Format into err (if not NULL); always returns -1. */
int sm_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* SPLITMOE_ERRBUF_H */
