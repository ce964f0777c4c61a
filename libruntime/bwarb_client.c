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
#include <sys/mman.h>
#include <unistd.h>

#include "kmod/uapi/bwarb.h"

struct bwarb_client {
	int fd;
	uint32_t id;
	struct bwarb_fast_page *fp;	/* mapped budget page, or NULL */
	int fast;			/* use fp for acquires */
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
	if (ret)
		return ret;
	c->id = r.client_id;
	/* Without the page every acquire is an ioctl: not an error. */
	c->fp = mmap(NULL, BWARB_FAST_PAGE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_SHARED, c->fd, 0);
	if (c->fp == MAP_FAILED)
		c->fp = NULL;
	c->fast = c->fp != NULL;
	return 0;
}

/* Takes bytes from the page if it holds them: one compare-and-swap. */
static int fast_take(struct bwarb_client *c, uint64_t bytes)
{
	int64_t v;

	if (!c->fast || !bytes || bytes > (uint64_t)INT64_MAX)
		return 0;
	v = __atomic_load_n(&c->fp->avail, __ATOMIC_ACQUIRE);
	while (v >= (int64_t)bytes)
		if (__atomic_compare_exchange_n(&c->fp->avail, &v, v - (int64_t)bytes,
						0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return 1;
	return 0;
}

int bwarb_set_fastpath(struct bwarb_client *c, int enable)
{
	if (!c->fp)
		return -ENODEV;
	c->fast = !!enable;
	return 0;
}

int bwarb_has_fastpath(const struct bwarb_client *c)
{
	return c->fp != NULL;
}

int bwarb_acquire(struct bwarb_client *c, uint64_t bytes, uint64_t timeout_ns,
		  uint32_t flags, uint64_t *grant_id)
{
	struct bwarb_acquire a;
	int ret;

	/* Before the fast path, which must not accept what the ioctl would not. */
	if (flags & ~BWARB_ACQ_NONBLOCK)
		return -EINVAL;
	if (bytes < BWARB_FAST_GRANT_FLAG && fast_take(c, bytes)) {
		*grant_id = BWARB_FAST_GRANT_FLAG | bytes;
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.bytes = bytes;
	a.timeout_ns = timeout_ns;
	a.flags = (flags & BWARB_ACQ_NONBLOCK) ? BWARB_ACQUIRE_NONBLOCK : 0;
	ret = bwarb_ioctl(c, BWARB_IOC_ACQUIRE, &a);
	if (!ret)
		*grant_id = a.grant_id;
	return ret;
}

int bwarb_complete(struct bwarb_client *c, uint64_t grant_id, uint64_t actual_bytes)
{
	struct bwarb_complete r;
	uint64_t granted, excess, id;
	int ret;

	if (grant_id & BWARB_FAST_GRANT_FLAG) {
		granted = grant_id & ~BWARB_FAST_GRANT_FLAG;
		if (actual_bytes <= granted)
			return 0;
		excess = actual_bytes - granted;
		if (fast_take(c, excess))
			return 0;
		ret = bwarb_acquire(c, excess, 0, BWARB_ACQ_NONBLOCK, &id);
		return ret ? ret : bwarb_complete(c, id, excess);
	}
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
	out->fast_bytes = q.fast_bytes;
	out->tamper_events = q.tamper_events;
	return 0;
}

void bwarb_close(struct bwarb_client *c)
{
	if (!c)
		return;
	if (c->fp)
		munmap(c->fp, BWARB_FAST_PAGE_SIZE);
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
