// SPDX-License-Identifier: MIT
/*
 * Client library for /dev/bwarb over the ioctls of kmod/uapi/bwarb.h.
 */
#include "arbiter/bwarb_client.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kmod/uapi/bwarb.h"

/*
 * The full page period of a recent fast grant, found by the sequence
 * number in its id (see FAST_ID_*): entry seq % FAST_RECS, valid while it
 * still holds that grant's sequence number.
 */
#define FAST_RECS	64
struct fast_rec {
	uint64_t seq;			/* take sequence + 1; 0: being written */
	uint64_t period;		/* the page period it was taken in */
};

struct bwarb_client {
	int fd;
	uint32_t id;
	struct bwarb_fast_page *fp;	/* mapped budget page, or NULL */
	int fast;			/* use fp for acquires */
	uint64_t take_seq;		/* fast takes so far */
	struct fast_rec rec[FAST_RECS];
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

/*
 * A fast grant's id: BWARB_FAST_GRANT_FLAG, the low 31 bits of the
 * client's fast-take sequence number (bits 32..62) and its bytes (bits
 * 0..31; larger acquires take the ioctl). The sequence number finds the
 * full 64-bit page period the grant was taken in (struct fast_rec), which
 * lets a short COMPLETE return the unused bytes while that very period
 * lasts. (The id once held the period's low 31 bits, so a grant completed
 * 2^31 periods later, hours at 10 us periods, matched a later period.) A
 * grant whose record was reused by a later take (64 takes on) returns
 * nothing: its bytes expire at the boundary, which is always correct.
 */
#define FAST_ID_BYTES_MAX	0xffffffffULL
#define FAST_ID_SEQ_SHIFT	32
#define FAST_ID_SEQ_MASK	0x7fffffffULL

/* {avail, period}, the page's first 16 bytes, as one cmpxchg16b operand. */
__extension__ typedef unsigned __int128 fast_pair
	__attribute__((may_alias, aligned(16)));

static fast_pair pair_make(int64_t avail, uint64_t period)
{
	return (fast_pair)period << 64 | (uint64_t)avail;
}

static int64_t pair_avail(fast_pair p)
{
	return (int64_t)(uint64_t)p;
}

static uint64_t pair_period(fast_pair p)
{
	return (uint64_t)(p >> 64);
}

/* A first guess of the pair for pair_cas(), which checks it as one. */
static fast_pair pair_load(const struct bwarb_fast_page *pg)
{
	uint64_t period = __atomic_load_n(&pg->period, __ATOMIC_ACQUIRE);

	return pair_make(__atomic_load_n(&pg->avail, __ATOMIC_ACQUIRE), period);
}

/* 16-byte compare-and-swap; on failure *old becomes what the page holds. */
__attribute__((target("cx16")))
static int pair_cas(struct bwarb_fast_page *pg, fast_pair *old, fast_pair new)
{
	fast_pair seen = __sync_val_compare_and_swap((fast_pair *)pg, *old, new);

	if (seen == *old)
		return 1;
	*old = seen;
	return 0;
}

/*
 * Takes bytes from the page if it holds them: one compare-and-swap of
 * @avail, with *period read before it. The budget taken is then of that
 * period or of a later one (a boundary in between): a put-back expecting
 * *period can only succeed when it was that period's, and otherwise
 * returns nothing, as after any boundary.
 */
static int fast_take(struct bwarb_client *c, uint64_t bytes, uint64_t *period)
{
	int64_t v;

	if (!c->fast || !bytes || bytes > FAST_ID_BYTES_MAX)
		return 0;
	*period = __atomic_load_n(&c->fp->period, __ATOMIC_ACQUIRE);
	if (*period == BWARB_FAST_PERIOD_CLOSED)
		return 0;
	v = __atomic_load_n(&c->fp->avail, __ATOMIC_ACQUIRE);
	while (v >= (int64_t)bytes)
		if (__atomic_compare_exchange_n(&c->fp->avail, &v, v - (int64_t)bytes,
						0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return 1;
	return 0;
}

/*
 * Does this CPU have cmpxchg16b (CPUID.01H:ECX.CX16[bit 13])? The first
 * x86-64 CPUs did not; there a put-back is skipped (the unused bytes of a
 * fast grant then expire at the boundary, as after it), never an invalid
 * opcode. Checked once.
 */
static int has_cx16(void)
{
	static int cx16 = -1;
	unsigned int a, b, c, d;
	int v = __atomic_load_n(&cx16, __ATOMIC_RELAXED);

	if (v < 0) {
		v = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_CMPXCHG16B);
		__atomic_store_n(&cx16, v, __ATOMIC_RELAXED);
	}
	return v;
}

/*
 * Puts bytes of a fast grant back on the page, only while the page still
 * holds the period the grant was taken in (uapi/bwarb.h): after its
 * boundary the bytes have expired and nothing is returned.
 */
static void fast_return(struct bwarb_client *c, uint64_t grant_id, uint64_t bytes)
{
	uint64_t tag = grant_id >> FAST_ID_SEQ_SHIFT & FAST_ID_SEQ_MASK;
	struct fast_rec *r = &c->rec[tag % FAST_RECS];
	uint64_t seq, period;
	fast_pair p;

	if (!has_cx16())
		return;
	/* The grant's full period, if its record still holds it. */
	seq = __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE);
	period = __atomic_load_n(&r->period, __ATOMIC_ACQUIRE);
	if (!seq || ((seq - 1) & FAST_ID_SEQ_MASK) != tag ||
	    __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE) != seq)
		return;
	p = pair_load(c->fp);

	while (pair_period(p) != BWARB_FAST_PERIOD_CLOSED &&
	       pair_period(p) == period &&
	       pair_avail(p) >= 0 && bytes <= (uint64_t)(INT64_MAX - pair_avail(p)))
		if (pair_cas(c->fp, &p, pair_make(pair_avail(p) + (int64_t)bytes,
						  pair_period(p))))
			return;
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
	uint64_t period;
	int ret;

	/* Before the fast path, which must not accept what the ioctl would not. */
	if (flags & ~BWARB_ACQ_NONBLOCK)
		return -EINVAL;
	if (fast_take(c, bytes, &period)) {
		uint64_t seq = __atomic_fetch_add(&c->take_seq, 1, __ATOMIC_RELAXED);
		struct fast_rec *r = &c->rec[seq % FAST_RECS];

		/* Invalid while written; the sequence number last. */
		__atomic_store_n(&r->seq, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&r->period, period, __ATOMIC_RELEASE);
		__atomic_store_n(&r->seq, seq + 1, __ATOMIC_RELEASE);
		*grant_id = BWARB_FAST_GRANT_FLAG |
			    (seq & FAST_ID_SEQ_MASK) << FAST_ID_SEQ_SHIFT | bytes;
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
	uint64_t granted, excess, id, period;
	int ret;

	if (grant_id & BWARB_FAST_GRANT_FLAG) {
		granted = grant_id & FAST_ID_BYTES_MAX;
		if (actual_bytes <= granted) {
			if (actual_bytes < granted && c->fp)
				fast_return(c, grant_id, granted - actual_bytes);
			return 0;
		}
		excess = actual_bytes - granted;
		if (fast_take(c, excess, &period))
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

int bwarb_client_fd(const struct bwarb_client *c)
{
	return c->fd;
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
