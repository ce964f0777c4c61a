/* SPDX-License-Identifier: MIT */
/*
 * Private to arbiter*.c: the per-backend operations behind arbiter.h.
 * arbiter.c dispatches through them, so that code which only acquires and
 * completes links without the backends (only sm_arbiter_open, in
 * arbiter_open.c, names them all).
 */
#ifndef SPLITMOE_ARBITER_IMPL_H
#define SPLITMOE_ARBITER_IMPL_H

#include "arbiter/arbiter.h"

struct sm_arbiter_ops {
	enum sm_arbiter_kind kind;
	void (*close)(struct sm_arbiter *a);
	/* fills c->priv; c->a, c->opts and c->name are set */
	int (*client_open)(struct sm_arbiter *a, struct sm_arb_client *c,
			   char *err, size_t errlen);
	void (*client_close)(struct sm_arb_client *c);
	/* bytes <= the client's burst, >= 1 */
	int (*acquire)(struct sm_arb_client *c, uint64_t bytes,
		       uint64_t timeout_ns, uint64_t *grant, int *waited);
	int (*complete)(struct sm_arb_client *c, uint64_t grant, uint64_t actual);
};

struct sm_arbiter {
	const struct sm_arbiter_ops *ops;
	void *priv;
};

struct sm_arb_client {
	struct sm_arbiter *a;
	struct sm_arb_client_opts opts;
	char name[64];
	struct sm_arb_client_stats st;	/* written by the client's user only */
	void *priv;
};

int sm_arbiter_open_off(const struct sm_arbiter_opts *o, struct sm_arbiter **out,
			char *err, size_t errlen);
int sm_arbiter_open_process(const struct sm_arbiter_opts *o, struct sm_arbiter **out,
			    char *err, size_t errlen);
int sm_arbiter_open_kernel(const struct sm_arbiter_opts *o, struct sm_arbiter **out,
			   char *err, size_t errlen);

uint64_t sm_arb_now_ns(void);

#endif /* SPLITMOE_ARBITER_IMPL_H */
