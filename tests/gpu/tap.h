/* SPDX-License-Identifier: MIT */
/*
 * TAP result lines for the GPU suites (gpu, gpu-backend, gpu-split,
 * gpu-shared): "ok N - what", "not ok N - what", "ok N - what # SKIP why".
 */
#ifndef SPLITMOE_TESTS_TAP_H
#define SPLITMOE_TESTS_TAP_H

#include <stdbool.h>

void tap_result(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tap_skip(const char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* How many results were "not ok" so far. */
int tap_failures(void);

#endif
