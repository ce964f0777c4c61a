// SPDX-License-Identifier: MIT
/*
 * The 'kernel' arbiter: /dev/bwarb through bwarb_client.h, one open file
 * (one registered client) per sm_arb_client. The client library is
 * libruntime/arbiter/bwarb_client.c; libruntime/build.mk defines
 * SM_HAVE_BWARB_CLIENT when it is in the tree, and without it this backend
 * says so instead of breaking the link of every program.
 */
#include "arbiter/arbiter_impl.h"
#include "arbiter/bwarb_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef SM_HAVE_BWARB_CLIENT

struct kernel_arbiter {
	char path[256];
};

static void kernel_close(struct sm_arbiter *a)
{
	free(a->priv);
	free(a);
}

static int kernel_client_open(struct sm_arbiter *a, struct sm_arb_client *c,
			      char *err, size_t errlen)
{
	struct kernel_arbiter *ka = a->priv;
	struct bwarb_client *kc;
	struct bwarb_register_opts ro = {
		.name = c->name,
		.class = c->opts.class,
		.weight = c->opts.weight,
		.reserve_mbps = c->opts.reserve_mbps,
		.burst_bytes = c->opts.burst_bytes,
	};
	int rc = bwarb_open(ka->path, &kc);

	if (rc) {
		snprintf(err, errlen, "%s: cannot open: %s", ka->path, strerror(-rc));
		return rc;
	}
	rc = bwarb_register(kc, &ro);
	if (rc) {
		snprintf(err, errlen, "%s: registering client '%s' (reserve %llu MB/s, weight %u) refused: %s",
			 ka->path, c->name, (unsigned long long)ro.reserve_mbps, ro.weight,
			 strerror(-rc));
		bwarb_close(kc);
		return rc;
	}
	c->priv = kc;
	return 0;
}

static void kernel_client_close(struct sm_arb_client *c)
{
	bwarb_close(c->priv);
}

static int kernel_acquire(struct sm_arb_client *c, uint64_t bytes, uint64_t timeout_ns,
			  uint64_t *grant, int *waited)
{
	int rc = bwarb_acquire(c->priv, bytes, 0, BWARB_ACQ_NONBLOCK, grant);

	*waited = 0;
	if (rc != -EAGAIN)
		return rc;
	*waited = 1;
	return bwarb_acquire(c->priv, bytes, timeout_ns, 0, grant);
}

static int kernel_complete(struct sm_arb_client *c, uint64_t grant, uint64_t actual)
{
	return bwarb_complete(c->priv, grant, actual);
}

static const struct sm_arbiter_ops kernel_ops = {
	.kind = SM_ARB_KERNEL,
	.close = kernel_close,
	.client_open = kernel_client_open,
	.client_close = kernel_client_close,
	.acquire = kernel_acquire,
	.complete = kernel_complete,
};

int sm_arbiter_open_kernel(const struct sm_arbiter_opts *o, struct sm_arbiter **out,
			   char *err, size_t errlen)
{
	const char *path = o->dev_path ? o->dev_path : BWARB_DEFAULT_PATH;
	struct sm_arbiter *a;
	struct kernel_arbiter *ka;

	if (access(path, F_OK) != 0) {
		snprintf(err, errlen, "%s: no such device (is the bwarb module loaded?)", path);
		return -ENOENT;
	}
	if (strlen(path) >= sizeof(ka->path)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	a = calloc(1, sizeof(*a));
	ka = calloc(1, sizeof(*ka));
	if (!a || !ka) {
		free(a);
		free(ka);
		return -ENOMEM;
	}
	strcpy(ka->path, path);
	a->ops = &kernel_ops;
	a->priv = ka;
	*out = a;
	return 0;
}
#else
int sm_arbiter_open_kernel(const struct sm_arbiter_opts *o, struct sm_arbiter **out,
			   char *err, size_t errlen)
{
	(void)o;
	(void)out;
	snprintf(err, errlen,
		 "kernel arbiter: this build has no /dev/bwarb client library (libruntime/arbiter/bwarb_client.c); use --arbiter process");
	return -ENOSYS;
}
#endif
