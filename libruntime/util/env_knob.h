/* SPDX-License-Identifier: MIT */
/*
 * Integer tuning knobs from the environment (SPLITMOE_GEMV_ROWS,
 * SPLITMOE_QGEMM_BLOCK_KB, ...): for measurements, read once where the
 * setting is made.
 */
#ifndef SPLITMOE_ENV_KNOB_H
#define SPLITMOE_ENV_KNOB_H

/* Environment variable name as a decimal integer in [lo, hi]; dflt when it
 * is unset or empty, and, with one line on stderr naming it and the
 * range, when it is anything else. */
long sm_env_knob(const char *name, long lo, long hi, long dflt);

#endif /* SPLITMOE_ENV_KNOB_H */
