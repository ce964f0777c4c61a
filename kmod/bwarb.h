/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bwarb module internals shared by its files: the device (one instance),
 * the per-open-file client, and the entry points each file provides.
 */
#ifndef BWARB_H
#define BWARB_H

#include <linux/hrtimer.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/uidgid.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "arb_core.h"
#include "uapi/bwarb.h"

/*
 * Per-user accounting for the privilege model (bwarb_dev.c): how many
 * clients a uid has registered and the MB/s they reserve. [L]
 */
struct bwarb_user {
	struct list_head node;		/* [L] in bwarb_dev.users */
	kuid_t uid;
	u32 clients;			/* [L] */
	u64 reserve_mbps;		/* [L] */
};

/*
 * The arbiter device. @lock is a raw spinlock taken with interrupts
 * disabled: the period hrtimer runs in hard-irq context (also on
 * PREEMPT_RT, HRTIMER_MODE_ABS_HARD), where only raw spinlocks may be
 * taken. It protects every field marked [L], the core state and every
 * registered client's core state. Nothing under it sleeps or takes a
 * sleeping lock (spinlock_t is one on PREEMPT_RT): waiters are woken with
 * wake_up_process(), which takes only raw scheduler locks, never through
 * a waitqueue. Lock order: @lock, then bwarb_counters.lock (raw too),
 * then the scheduler's locks inside wake_up_process().
 *
 * @knob_mutex serialises the knob writes that re-arm @timer (process
 * context; taken before @lock).
 */
struct bwarb_dev {
	raw_spinlock_t lock;		/* see above; irqsave everywhere */
	struct arb_state arb;		/* [L] the policy core */
	struct arb_params params;	/* [L] copy of the core's parameters */
	struct list_head clients;	/* [L] registered bwarb_client.node */
	struct list_head fast_clients;	/* [L] clients with a fast page */
	struct list_head waiting;	/* [L] undecided waiting acquires */
	struct list_head users;		/* [L] struct bwarb_user */
	u32 nr_clients;			/* [L] registered clients */
	u32 nr_waiters;			/* [L] acquires blocked in the core */
	u32 next_client_id;		/* [L] ids handed out so far */
	u64 period_seq;			/* [L] boundaries so far */
	u64 last_granted_bytes;		/* [L] core total at the last tick */
	u64 next_boundary_ns;		/* [L] ktime of the next boundary */
	u64 late_periods;		/* [L] boundaries funded late */
	u64 lost_periods;		/* [L] boundaries too late to fund */
	u64 tick_ns_last;		/* [L] time the last tick took */
	u64 tick_ns_max;		/* [L] the longest since load/reset */

	struct mutex knob_mutex;	/* see above */
	struct hrtimer timer;		/* the period timer */
	struct miscdevice misc;
	struct kobject *kobj;		/* /sys/kernel/bwarb */
	struct dentry *debugfs;		/* /sys/kernel/debug/bwarb */
	void *counters;			/* private to bwarb_counters.c */
};

/*
 * One client per open file of /dev/bwarb. Fields marked [L] are protected
 * by bwarb_dev.lock; the others are set once at REGISTER (under the lock,
 * before @registered becomes true) and read-only afterwards.
 */
struct bwarb_client {
	struct bwarb_dev *bd;
	struct list_head node;		/* [L] in bwarb_dev.clients */
	struct arb_client core;		/* [L] the core's view */
	bool registered;		/* [L] */
	bool registering;		/* [L] admitted, id not yet returned */
	u32 id;
	pid_t pid;			/* tgid of the registering process */
	char name[BWARB_NAME_LEN];
	struct bwarb_user *user;	/* [L] the registering uid's account */
	u64 max_wait_ns;		/* [L] longest wait of a granted acquire */
	/*
	 * The core keeps one pending demand per client, so only one thread of
	 * the file waits in the core at a time (@waiter); the others queue on
	 * @slot_queue and take the slot in arrival order, so that no thread
	 * of the file starves its siblings; the first of them is woken
	 * (wake_up_process()) when the slot frees. The period timer retries
	 * the waiting demand (@wait_bytes) at each boundary, leaves the
	 * outcome in @wait_ret, @wait_grant_id and @wait_seq, sets
	 * @wait_done and wakes @waiter alone.
	 */
	struct task_struct *waiter;	/* [L] */
	struct list_head wait_node;	/* [L] in bwarb_dev.waiting until decided */
	struct list_head slot_queue;	/* [L] acquires waiting for @waiter */
	u64 wait_bytes;			/* [L] */
	u64 wait_grant_id;		/* [L] */
	u64 wait_seq;			/* [L] */
	int wait_ret;			/* [L] */
	bool wait_done;			/* [L] */
	/*
	 * The fast-path page (bwarb_fast.c), mapped into userspace, so its
	 * contents are never trusted; what the kernel issued is kept here.
	 * Set once under the lock, freed at release.
	 */
	struct bwarb_fast_page *fast;	/* [L] */
	struct list_head fast_node;	/* [L] in bwarb_dev.fast_clients */
	u64 fast_issued;		/* [L] bytes put on the page */
	u64 fast_period;		/* [L] boundary that put them there */
};

extern struct bwarb_dev bwarb_dev;

/* bwarb_dev.c: the misc device and its ioctls. */
int bwarb_device_init(struct bwarb_dev *bd);
void bwarb_device_exit(struct bwarb_dev *bd);
/*
 * At a boundary, after arb_tick() (bd->lock held): asks the core again for
 * every waiting acquire and wakes the waiters it decided.
 */
void bwarb_grant_waiters(struct bwarb_dev *bd);

/* bwarb_main.c: re-arms the period timer after period_us changed. */
void bwarb_timer_rearm(struct bwarb_dev *bd, u64 period_ns);

/*
 * bwarb_fast.c: the mmap fast path. The settle/issue calls run in the
 * period timer with bd->lock held; release with it held, before the core
 * forgets the client; it returns the page to free after unlocking.
 */
int bwarb_fast_mmap(struct file *f, struct vm_area_struct *vma);
void bwarb_fast_settle_all(struct bwarb_dev *bd);
void bwarb_fast_issue_all(struct bwarb_dev *bd);
struct bwarb_fast_page *bwarb_fast_release(struct bwarb_client *cl);

/* bwarb_sysfs.c: /sys/kernel/bwarb (creates bd->kobj). */
int bwarb_sysfs_init(struct bwarb_dev *bd);
void bwarb_sysfs_exit(struct bwarb_dev *bd);

#endif /* BWARB_H */
