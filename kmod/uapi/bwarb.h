/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note OR MIT */
/*
 * bwarb userspace ABI: ioctls on /dev/bwarb and the fast-path page.
 *
 * Every ioctl struct starts with its own size, which names the version
 * the caller speaks: a struct only ever grows. The rules are those of
 * copy_struct_from_user() (as openat2 and clone3): a size below the first
 * version's (the BWARB_*_SIZE_VER0 below) is -EINVAL; a larger size
 * (a newer caller) is accepted when every byte beyond what this kernel
 * knows is zero, else -E2BIG (so is a size above 4096); a smaller size
 * than this kernel's, from an older caller, would be read as if the rest
 * were zero. The size field decides; the command number's size bits
 * must be at least the first version's size and at most 4096 (a newer
 * caller's command encodes its larger struct), else -ENOTTY. The kernel
 * writes back only what it knows. Reserved fields must be zero on input
 * and read back as zero. Errors common to
 * all ioctls:
 *   -ENOTTY  unknown command
 *   -EFAULT  bad user pointer
 *   -EINVAL  size below the first version, non-zero reserved field,
 *            unknown flag, value out of range
 *   -E2BIG   non-zero bytes beyond the known struct, or size above 4096
 *   -ENOTCONN the file has not registered a client yet (all but REGISTER)
 * A rejected ioctl changes no state.
 *
 * One client per open file; closing the file (or the process dying)
 * returns everything the client held.
 */
#ifndef _UAPI_LINUX_BWARB_H
#define _UAPI_LINUX_BWARB_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define BWARB_DEVICE_PATH	"/dev/bwarb"
#define BWARB_NAME_LEN		32	/* including the terminating NUL */

#define BWARB_CLASS_CPU		0
#define BWARB_CLASS_GPU		1
#define BWARB_CLASS_OTHER	2

#define BWARB_MAX_WEIGHT	10000
/* The most an unprivileged client may weigh (README: privilege model). */
#define BWARB_DEFAULT_WEIGHT	100

/* Sizes of the first version of each struct. */
#define BWARB_REGISTER_SIZE_VER0	96
#define BWARB_ACQUIRE_SIZE_VER0		56
#define BWARB_COMPLETE_SIZE_VER0	40
#define BWARB_QUERY_SIZE_VER0		104

/*
 * REGISTER: makes this file a client. weight 1..BWARB_MAX_WEIGHT;
 * reserve_mbps is admission-controlled against guaranteed_mbps (-ENOSPC);
 * -EMFILE when the module's max_clients are registered, or the caller's
 * uid has its user_max_clients; -EBUSY if this file already registered.
 * name must be NUL-terminated and hold printable ASCII without blanks
 * (0x21..0x7e), else -EINVAL.
 *
 * Privilege: a reservation (reserve_mbps > 0) or a weight above
 * BWARB_DEFAULT_WEIGHT needs CAP_SYS_NICE or membership of the group the
 * module parameter privileged_gid names (-EPERM otherwise); a uid's
 * reservations together stay within the module parameter
 * user_reserve_mbps when it is not 0 (-EDQUOT). Root (CAP_SYS_ADMIN) is
 * not held to the per-user limits. Without privilege a client is best
 * effort: weighted sharing at up to the default weight.
 *
 * burst_bytes: the largest request the reservation's wait bound covers;
 * the reservation accumulates for a waiting request until it holds
 * burst_bytes (0: until the request is covered).
 */
struct bwarb_register {
	__u32 size;		/* in: sizeof(struct bwarb_register) */
	__u32 class;		/* in: BWARB_CLASS_* */
	char name[BWARB_NAME_LEN];	/* in */
	__u32 weight;		/* in */
	__u32 client_id;	/* out: id shown in stats and tracepoints */
	__u64 reserve_mbps;	/* in: MB/s (10^6 bytes/s), may be 0 */
	__u64 burst_bytes;	/* in: largest request the wait bound covers */
	__u64 reserved[4];	/* must be zero */
};

/* flags of struct bwarb_acquire */
#define BWARB_ACQUIRE_NONBLOCK	0x1U	/* -EAGAIN instead of waiting */
#define BWARB_ACQUIRE_FLAGS	BWARB_ACQUIRE_NONBLOCK

/*
 * ACQUIRE: asks for bytes of DRAM traffic. Waits interruptibly until the
 * arbiter grants it: -ETIMEDOUT after timeout_ns (0: no limit), -EAGAIN
 * with BWARB_ACQUIRE_NONBLOCK. A signal caught by a handler without
 * SA_RESTART gives -EINTR; after an ignored signal (SIGCHLD by default) or
 * a handler with SA_RESTART the call restarts by itself. An interrupted
 * wait rewrites timeout_ns with the time left, so a restarted call keeps
 * the deadline. -EBUSY when the
 * client already holds the maximum number of outstanding grants. A failed
 * acquire leaves no grant behind. A non-blocking acquire that is refused
 * changes nothing (no wait is counted, no demand recorded).
 */
struct bwarb_acquire {
	__u32 size;		/* in: sizeof(struct bwarb_acquire) */
	__u32 flags;		/* in: BWARB_ACQUIRE_* */
	__u64 bytes;		/* in: > 0 */
	__u64 timeout_ns;	/* in: 0 waits without limit */
	__u64 grant_id;		/* out: for COMPLETE */
	__u64 wait_ns;		/* out: how long the acquire waited */
	__u64 wait_periods;	/* out: runs of the period timer it waited
				 * for (a late run funds every period that
				 * passed)
				 */
	__u64 reserved[1];	/* must be zero */
};

/*
 * COMPLETE: finishes a grant with the bytes actually moved. Fewer than
 * granted returns the difference if the grant was issued in the current
 * period (after it, its unused bytes have expired); more is charged as
 * debt, at most 8 periods of the whole capacity, repaid from the client's
 * own reservation and weighted share (a client in debt draws no unused
 * capacity). -ENOENT: no such outstanding grant.
 */
struct bwarb_complete {
	__u32 size;		/* in: sizeof(struct bwarb_complete) */
	__u32 reserved0;	/* must be zero */
	__u64 grant_id;		/* in */
	__u64 actual_bytes;	/* in */
	__u64 reserved[2];	/* must be zero */
};

/* QUERY: the calling client's own statistics. */
struct bwarb_query {
	__u32 size;		/* in: sizeof(struct bwarb_query) */
	__u32 client_id;	/* out */
	__u64 granted_bytes;	/* out */
	__u64 completed_bytes;	/* out */
	__u64 grants;		/* out: successful acquires */
	__u64 waits;		/* out: acquires that had to wait */
	__u64 max_wait_ns;	/* out: longest wait of a granted acquire */
	__u64 debt_bytes;	/* out: outstanding over-completion charge */
	__u64 tamper_events;	/* out: fast-path page inconsistencies */
	__u64 fast_bytes;	/* out: bytes consumed through the fast path */
	__u64 reserved[4];	/* in: must be zero; out: zero */
};

/*
 * Fast path: after REGISTER, mmap(NULL, BWARB_FAST_PAGE_SIZE,
 * PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) maps the client's page (mmap
 * before REGISTER: -ENOTCONN; another size, offset or a private mapping:
 * -EINVAL). The mapping is not inherited by fork() (VM_DONTCOPY): a child
 * that wants the fast path opens and registers its own client. At each
 * period boundary the kernel first sets @period to
 * BWARB_FAST_PERIOD_CLOSED, then takes back what is left in @avail, and
 * later writes the new @period, @issued and, last, the client's new budget
 * in @avail. An acquire of n bytes within budget is an atomic
 * compare-and-swap of @avail from v to v - n that keeps it >= 0: no system
 * call; the bytes count as granted and completed. When @avail is short,
 * use ACQUIRE.
 *
 * {@avail, @period} is one 16-byte unit at the start of the page (16-byte
 * aligned). A library that remembers the period a fast grant was taken in
 * may return its unused bytes (a COMPLETE with fewer bytes than taken)
 * with one 16-byte compare-and-swap (x86-64 cmpxchg16b) of {v, p} to
 * {v + unused, p}, where p is the grant's period: it succeeds only before
 * the boundary that ends p, and then counts as not consumed; after it the
 * unused bytes have expired (as unused budget does at every boundary) and
 * nothing is returned. @period read before taking is the taken budget's
 * period or an earlier one (a boundary in between): a put-back expecting
 * it can then only fail.
 *
 * The page is advisory: the kernel keeps its own record of what it issued
 * and sees the page only at boundaries. There, a negative @avail, an @avail
 * above what was issued, or any other field rewritten is a tamper event
 * (QUERY tamper_events, sysfs tamper_events): the whole issue counts as
 * consumed and as much again, or what was taken beyond it, as debt. Bytes
 * put back within the issue count as not consumed (what a client does
 * between boundaries is not seen; it can never be granted more than the
 * issue).
 *
 * No ioctl grant id has BWARB_FAST_GRANT_FLAG set, so a library may use it
 * for ids of fast-path acquires.
 */
#define BWARB_FAST_PAGE_SIZE	4096
#define BWARB_FAST_GRANT_FLAG	_BITULL(63)
/* @period between a boundary's take-back and its new issue: no budget. */
#define BWARB_FAST_PERIOD_CLOSED	(~0ULL)

struct bwarb_fast_page {
	__s64 avail;		/* bytes that may be taken now */
	__u64 period;		/* boundary that issued them (kernel), or
				 * BWARB_FAST_PERIOD_CLOSED
				 */
	__u64 issued;		/* what that boundary put in @avail (kernel) */
	__u64 reserved[5];	/* zero (kernel) */
};

#define BWARB_IOC_MAGIC		0xb8
#define BWARB_IOC_REGISTER	_IOWR(BWARB_IOC_MAGIC, 1, struct bwarb_register)
#define BWARB_IOC_ACQUIRE	_IOWR(BWARB_IOC_MAGIC, 2, struct bwarb_acquire)
#define BWARB_IOC_COMPLETE	_IOW(BWARB_IOC_MAGIC, 3, struct bwarb_complete)
#define BWARB_IOC_QUERY		_IOWR(BWARB_IOC_MAGIC, 4, struct bwarb_query)

#endif /* _UAPI_LINUX_BWARB_H */
