/* SPDX-License-Identifier: MIT */
/* The fixture's acceptance criteria (issue 6), shared by the numerics tests. */
#ifndef SPLITMOE_TESTS_REFERENCE_CRITERIA_H
#define SPLITMOE_TESTS_REFERENCE_CRITERIA_H

#include "engine/inference.h"

#define FIXTURE "tests/fixtures/phimoe-tiny-a"
#define REFERENCE FIXTURE "/reference.json"

/*
 * Runs splitmoe_eval() on model dir against the fixture's reference.json
 * and asserts (cmocka): f32: every logit within 1e-3, router top-2 equal at
 * every layer and position, all 24 greedy ids equal; bf16: cosine >= 0.999
 * per position, top-1 equal on >= 95% of positions; tokenizer ids equal.
 * Prints one "# ..." line per case.
 */
void check_reference_criteria(const char *dir, enum sm_compute c, enum sm_weights_layout w);

#endif
