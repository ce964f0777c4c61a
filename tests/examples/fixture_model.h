/* SPDX-License-Identifier: MIT */
/*
 * The model the public API's tests share: the fixture named by argv[1],
 * loaded once for a cmocka group (load_model / free_model as its setup
 * and teardown). Included by one test file each: its state is static.
 */
#ifndef SPLITMOE_TESTS_FIXTURE_MODEL_H
#define SPLITMOE_TESTS_FIXTURE_MODEL_H

#include "splitmoe.h"

static const char *fixture;
static splitmoe_model *model;

static int load_model(void **state)
{
	char err[512];

	(void)state;
	return splitmoe_model_load(fixture, NULL, &model, err, sizeof(err)) == SPLITMOE_OK ? 0 : -1;
}

static int free_model(void **state)
{
	(void)state;
	splitmoe_model_free(model);
	return 0;
}

#endif
