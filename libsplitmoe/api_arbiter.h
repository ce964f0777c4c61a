/* SPDX-License-Identifier: MIT */
/*
 * Inside libsplitmoe: the runtime's arbiter objects behind the public
 * handles of api_arbiter.c, for the session (api.c) that gates on a
 * caller's splitmoe_arb and hands out its own client.
 */
#ifndef SPLITMOE_API_ARBITER_H
#define SPLITMOE_API_ARBITER_H

#include "splitmoe.h"

struct sm_arbiter;
struct sm_arb_client;

/* The runtime's arbiter a splitmoe_arb is. */
struct sm_arbiter *sm_api_arb(splitmoe_arb *a);
/* The public handle of a runtime client (NULL stays NULL). */
const splitmoe_arb_client *sm_api_client(const struct sm_arb_client *c);

#endif
