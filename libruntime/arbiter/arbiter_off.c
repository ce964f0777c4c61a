// SPDX-License-Identifier: MIT
/* The 'off' arbiter: every acquire is granted at once; only counted. */
#include "arbiter/arbiter_impl.h"

#include <errno.h>
#include <stdlib.h>

struct off_client {
	uint64_t next_grant;
	uint64_t outstanding;	/* one grant at a time is the contract */
};

static void off_close(struct sm_arbiter *a)
{
	free(a);
}

static int off_client_open(struct sm_arbiter *a, struct sm_arb_client *c,
			   char *err, size_t errlen)
{
	(void)a;
	(void)err;
	(void)errlen;
	c->priv = calloc(1, sizeof(struct off_client));
	return c->priv ? 0 : -ENOMEM;
}

static void off_client_close(struct sm_arb_client *c)
{
	free(c->priv);
}

static int off_acquire(struct sm_arb_client *c, uint64_t bytes, uint64_t timeout_ns,
		       uint64_t *grant, int *waited)
{
	struct off_client *oc = c->priv;

	(void)bytes;
	(void)timeout_ns;
	*waited = 0;
	*grant = ++oc->next_grant;
	oc->outstanding++;
	return 0;
}

static int off_complete(struct sm_arb_client *c, uint64_t grant, uint64_t actual)
{
	struct off_client *oc = c->priv;

	(void)actual;
	if (!grant || grant > oc->next_grant || !oc->outstanding)
		return -ENOENT;
	oc->outstanding--;
	return 0;
}

static const struct sm_arbiter_ops off_ops = {
	.kind = SM_ARB_OFF,
	.close = off_close,
	.client_open = off_client_open,
	.client_close = off_client_close,
	.acquire = off_acquire,
	.complete = off_complete,
};

int sm_arbiter_open_off(const struct sm_arbiter_opts *o, struct sm_arbiter **out,
			char *err, size_t errlen)
{
	struct sm_arbiter *a = calloc(1, sizeof(*a));

	(void)o;
	(void)err;
	(void)errlen;
	if (!a)
		return -ENOMEM;
	a->ops = &off_ops;
	*out = a;
	return 0;
}
