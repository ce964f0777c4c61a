// SPDX-License-Identifier: MIT
/*
 * Client library for /dev/bwarb over the ioctls of kmod/uapi/bwarb.h.
 */
#include "bwarb_client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kmod/uapi/bwarb.h"

struct bwarb_client {
	int fd;
	uint32_t id;
};

int bwarb_open(const char *path, struct bwarb_client **out)
{
	struct bwarb_client *c;
	int fd, err;

	*out = NULL;
	fd = open(path ? path : BWARB_DEFAULT_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	c = calloc(1, sizeof(*c));
	if (!c) {
		err = -errno;
		close(fd);
		return err;
	}
	c->fd = fd;
	*out = c;
	return 0;
}

static int bwarb_ioctl(struct bwarb_client *c, unsigned long cmd, void *arg)
{
	return ioctl(c->fd, cmd, arg) < 0 ? -errno : 0;
}

int bwarb_register(struct bwarb_client *c, const struct bwarb_register_opts *o)
{
	struct bwarb_register r;
	int ret;

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.class = o->class;
	r.weight = o->weight;
	r.reserve_mbps = o->reserve_mbps;
	r.burst_bytes = o->burst_bytes;
	if (o->name)
		strncpy(r.name, o->name, sizeof(r.name) - 1);
	ret = bwarb_ioctl(c, BWARB_IOC_REGISTER, &r);
	if (!ret)
		c->id = r.client_id;
	return ret;
}

int bwarb_acquire(struct bwarb_client *c, uint64_t bytes, uint64_t timeout_ns,
		  uint32_t flags, uint64_t *grant_id)
{
	struct bwarb_acquire a;
	int ret;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.bytes = bytes;
	a.timeout_ns = timeout_ns;
	a.flags = (flags & BWARB_ACQ_NONBLOCK) ? BWARB_ACQUIRE_NONBLOCK : 0;
	if (flags & ~BWARB_ACQ_NONBLOCK)
		return -EINVAL;
	ret = bwarb_ioctl(c, BWARB_IOC_ACQUIRE, &a);
	if (!ret)
		*grant_id = a.grant_id;
	return ret;
}

int bwarb_complete(struct bwarb_client *c, uint64_t grant_id, uint64_t actual_bytes)
{
	struct bwarb_complete r;

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.grant_id = grant_id;
	r.actual_bytes = actual_bytes;
	return bwarb_ioctl(c, BWARB_IOC_COMPLETE, &r);
}

int bwarb_query(struct bwarb_client *c, struct bwarb_client_info *out)
{
	struct bwarb_query q;
	int ret;

	memset(&q, 0, sizeof(q));
	q.size = sizeof(q);
	ret = bwarb_ioctl(c, BWARB_IOC_QUERY, &q);
	if (ret)
		return ret;
	memset(out, 0, sizeof(*out));
	out->granted_bytes = q.granted_bytes;
	out->completed_bytes = q.completed_bytes;
	out->grants = q.grants;
	out->waits = q.waits;
	out->max_wait_ns = q.max_wait_ns;
	return 0;
}

void bwarb_close(struct bwarb_client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c);
}

uint32_t bwarb_client_id(const struct bwarb_client *c)
{
	return c->id;
}

const char *bwarb_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -ENOENT:
		return BWARB_DEFAULT_PATH " does not exist: the bwarb module is not loaded (insmod bwarb.ko)";
	case -EACCES:
	case -EPERM:
		return "permission denied on the bwarb device";
	case -ENOTCONN:
		return "the client has not registered yet";
	case -ENOSPC:
		return "reservation refused: it does not fit in guaranteed_mbps (admission control)";
	case -EMFILE:
		return "too many bwarb clients (module parameter max_clients)";
	case -EBUSY:
		return "busy: already registered, or too many outstanding grants";
	case -ETIMEDOUT:
		return "acquire timed out";
	case -EINTR:
		return "acquire interrupted by a signal";
	case -EAGAIN:
		return "no budget now (non-blocking acquire)";
	default:
		return strerror(-err);
	}
}
