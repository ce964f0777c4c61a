// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/bwarb: one client per open file; the ioctls of uapi/bwarb.h.
 * Every argument is copied in whole and validated before any state
 * changes; structs copied out were either copied in whole or zeroed first.
 */
#include <linux/build_bug.h>
#include <linux/capability.h>
#include <linux/compat.h>
#include <linux/cred.h>
#include <linux/user_namespace.h>
#include <linux/hrtimer.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "bwarb.h"
#include "bwarb_trace.h"

static bool bwarb_zero(const u64 *v, size_t n)
{
	while (n--)
		if (*v++)
			return false;
	return true;
}

/*
 * The privilege model (README, "Privilege model"). Read without a lock:
 * each REGISTER uses one value of each.
 */
static int privileged_gid = -1;
module_param(privileged_gid, int, 0644);
MODULE_PARM_DESC(privileged_gid,
		 "Group (initial user namespace) whose members may reserve and weigh above the default, as with CAP_SYS_NICE (-1: none)");

static unsigned int user_max_clients = 16;
module_param(user_max_clients, uint, 0644);
MODULE_PARM_DESC(user_max_clients,
		 "Clients one uid may register (root: not limited; 0: no limit)");

static unsigned long user_reserve_mbps;
module_param(user_reserve_mbps, ulong, 0644);
MODULE_PARM_DESC(user_reserve_mbps,
		 "MB/s one uid may reserve in all (root: not limited; 0: no limit)");

/* May the caller reserve bandwidth and weigh above the default? */
static bool bwarb_privileged(void)
{
	int gid = READ_ONCE(privileged_gid);
	kgid_t kgid;

	if (capable(CAP_SYS_NICE))
		return true;
	if (gid < 0)
		return false;
	/* A gid of the initial namespace, as root wrote it. */
	kgid = make_kgid(&init_user_ns, gid);
	return gid_valid(kgid) && in_group_p(kgid);
}

/* A name is printable ASCII without blanks: it is a debugfs column. */
static bool bwarb_name_ok(const char *name)
{
	for (; *name; name++)
		if (*name < 0x21 || *name > 0x7e)
			return false;
	return true;
}

static struct bwarb_user *bwarb_user_find(struct bwarb_dev *bd, kuid_t uid)
{
	struct bwarb_user *u;

	lockdep_assert_held(&bd->lock);
	list_for_each_entry(u, &bd->users, node)
		if (uid_eq(u->uid, uid))
			return u;
	return NULL;
}

/*
 * The client leaves its user's account; returns the account to kfree()
 * after unlocking when it was the user's last client.
 */
static struct bwarb_user *bwarb_user_put(struct bwarb_dev *bd,
					 struct bwarb_client *cl)
{
	struct bwarb_user *u = cl->user;

	lockdep_assert_held(&bd->lock);
	cl->user = NULL;
	u->clients--;
	u->reserve_mbps -= cl->core.p.reserve_mbps;
	if (u->clients)
		return NULL;
	list_del(&u->node);
	return u;
}

/*
 * Copies in an ioctl struct by copy_struct_from_user()'s rules (see
 * uapi/bwarb.h): ver0 is the first version's size, ksize what this
 * kernel knows. *usize gets the caller's size.
 */
static int bwarb_copy_in(void *dst, size_t ksize, size_t ver0,
			 const void __user *src, u32 *usize)
{
	int ret;

	if (get_user(*usize, (const u32 __user *)src))
		return -EFAULT;
	if (*usize < ver0)
		return -EINVAL;
	if (*usize > PAGE_SIZE)
		return -E2BIG;
	ret = copy_struct_from_user(dst, ksize, src, *usize);
	return ret;
}

static int bwarb_open(struct inode *inode, struct file *f)
{
	struct bwarb_client *cl = kzalloc(sizeof(*cl), GFP_KERNEL);

	if (!cl)
		return -ENOMEM;
	cl->bd = &bwarb_dev;
	INIT_LIST_HEAD(&cl->node);
	INIT_LIST_HEAD(&cl->wait_node);
	INIT_LIST_HEAD(&cl->slot_queue);
	INIT_LIST_HEAD(&cl->fast_node);
	f->private_data = cl;
	return 0;
}

/* Last reference gone: no ioctl of this file runs any more. */
static int bwarb_release(struct inode *inode, struct file *f)
{
	struct bwarb_client *cl = f->private_data;
	struct bwarb_dev *bd = cl->bd;
	struct bwarb_user *u = NULL;
	struct bwarb_fast_page *pg;
	unsigned long flags;

	raw_spin_lock_irqsave(&bd->lock, flags);
	pg = bwarb_fast_release(cl);
	if (cl->registered) {
		u = bwarb_user_put(bd, cl);
		arb_client_remove(&bd->arb, &cl->core);
		list_del(&cl->node);
		bd->nr_clients--;
		cl->registered = false;
	}
	raw_spin_unlock_irqrestore(&bd->lock, flags);
	if (pg)
		free_page((unsigned long)pg);
	kfree(u);
	kfree(cl);
	return 0;
}

static long bwarb_ioc_register(struct bwarb_client *cl,
			       struct bwarb_register __user *arg)
{
	struct bwarb_dev *bd = cl->bd;
	struct bwarb_user *u, *nu;
	struct arb_client_params cp;
	struct bwarb_register r;
	kuid_t uid = current_uid();
	bool root = capable(CAP_SYS_ADMIN);
	unsigned int max_clients = READ_ONCE(user_max_clients);
	u64 max_reserve = READ_ONCE(user_reserve_mbps);
	unsigned long flags;
	u32 usize, id = 0;
	int ret;

	/* The UAPI's names for the core's values. */
	BUILD_BUG_ON(BWARB_CLASS_CPU - ARB_CLASS_CPU);
	BUILD_BUG_ON(BWARB_CLASS_GPU - ARB_CLASS_GPU);
	BUILD_BUG_ON(BWARB_CLASS_OTHER + 1 - ARB_CLASS_COUNT);
	BUILD_BUG_ON(BWARB_MAX_WEIGHT - ARB_MAX_WEIGHT);
	BUILD_BUG_ON(sizeof(r) != BWARB_REGISTER_SIZE_VER0);

	ret = bwarb_copy_in(&r, sizeof(r), BWARB_REGISTER_SIZE_VER0, arg, &usize);
	if (ret)
		return ret;
	if (!bwarb_zero(r.reserved, ARRAY_SIZE(r.reserved)))
		return -EINVAL;
	if (strnlen(r.name, sizeof(r.name)) == sizeof(r.name) ||
	    !bwarb_name_ok(r.name))
		return -EINVAL;
	if (r.class >= ARB_CLASS_COUNT || !r.weight || r.weight > ARB_MAX_WEIGHT)
		return -EINVAL;
	if ((r.reserve_mbps || r.weight > BWARB_DEFAULT_WEIGHT) &&
	    !bwarb_privileged())
		return -EPERM;
	cp.class = r.class;
	cp.weight = r.weight;
	cp.reserve_mbps = r.reserve_mbps;
	cp.burst_bytes = r.burst_bytes;

	nu = kzalloc(sizeof(*nu), GFP_KERNEL);
	if (!nu)
		return -ENOMEM;
	nu->uid = uid;

	/*
	 * Two steps, so that nothing fails after the client exists: admit
	 * it (in the core and its user's account, but not yet registered: the
	 * file's other ioctls see -ENOTCONN, a second REGISTER -EBUSY), write
	 * the id back, then either commit or, on a bad pointer, undo.
	 */
	raw_spin_lock_irqsave(&bd->lock, flags);
	u = bwarb_user_find(bd, uid);
	if (cl->registered || cl->registering) {
		ret = -EBUSY;
	} else if (!root && max_clients && u && u->clients >= max_clients) {
		ret = -EMFILE;
	} else if (!root && max_reserve && r.reserve_mbps &&
		   r.reserve_mbps > max_reserve - min(max_reserve,
						      u ? u->reserve_mbps : 0)) {
		ret = -EDQUOT;
	} else {
		ret = arb_client_add(&bd->arb, &cl->core, &cp);
	}
	if (!ret) {
		if (!u) {
			u = nu;
			nu = NULL;
			list_add(&u->node, &bd->users);
		}
		u->clients++;
		u->reserve_mbps += r.reserve_mbps;
		cl->user = u;
		cl->registering = true;
		id = ++bd->next_client_id;
	}
	raw_spin_unlock_irqrestore(&bd->lock, flags);
	kfree(nu);
	if (ret)
		goto out;

	r.client_id = id;
	r.size = usize;
	ret = copy_to_user(arg, &r, sizeof(r)) ? -EFAULT : 0;

	raw_spin_lock_irqsave(&bd->lock, flags);
	cl->registering = false;
	if (ret) {
		u = bwarb_user_put(bd, cl);
		arb_client_remove(&bd->arb, &cl->core);
	} else {
		u = NULL;
		cl->id = id;
		cl->pid = task_tgid_nr(current);
		memcpy(cl->name, r.name, sizeof(cl->name));
		list_add_tail(&cl->node, &bd->clients);
		bd->nr_clients++;
		cl->registered = true;
	}
	raw_spin_unlock_irqrestore(&bd->lock, flags);
	kfree(u);
out:
	trace_bwarb_register(ret ? 0 : id, task_tgid_nr(current), r.class,
			     r.weight, r.reserve_mbps, r.burst_bytes, ret);
	return ret;
}

/* One acquire in progress: its request and the outcome. */
struct bwarb_acq {
	u64 bytes;
	u64 grant_id;
	u64 seq_start;	/* bwarb_dev.period_seq at our first look */
	u64 seq_end;	/* ... when the acquire was decided */
	bool started;
	int ret;
	struct task_struct *task;	/* the thread, woken for the slot */
	struct list_head slot_node;	/* in bwarb_client.slot_queue if queued */
	bool queued;
};

/* Queues the acquire for the client's waiter slot (once). */
static void bwarb_slot_queue(struct bwarb_client *cl, struct bwarb_acq *a)
{
	if (a->queued)
		return;
	list_add_tail(&a->slot_node, &cl->slot_queue);
	a->queued = true;
}

/* Leaves the slot queue, if queued. */
static void bwarb_slot_unqueue(struct bwarb_acq *a)
{
	if (!a->queued)
		return;
	list_del(&a->slot_node);
	a->queued = false;
}

/* True if the slot is free and this acquire is next in line for it. */
static bool bwarb_slot_turn(struct bwarb_client *cl, struct bwarb_acq *a)
{
	return !cl->waiter &&
	       (list_empty(&cl->slot_queue) ||
		list_first_entry(&cl->slot_queue, struct bwarb_acq, slot_node) == a);
}

/*
 * If the slot is free, wakes the acquire first in line for it (only that
 * one: the others stay asleep until their turn).
 */
static void bwarb_slot_wake(struct bwarb_client *cl)
{
	lockdep_assert_held(&cl->bd->lock);
	if (!cl->waiter && !list_empty(&cl->slot_queue))
		wake_up_process(list_first_entry(&cl->slot_queue,
						 struct bwarb_acq,
						 slot_node)->task);
}

/* The calling thread gives up the client's waiter slot, if it holds it. */
static void bwarb_drop_waiter(struct bwarb_client *cl)
{
	if (cl->waiter != current)
		return;
	cl->waiter = NULL;
	cl->wait_done = false;
	list_del_init(&cl->wait_node);
	cl->bd->nr_waiters--;
}

/* Takes the outcome the period timer decided for this thread's acquire. */
static void bwarb_take_outcome(struct bwarb_client *cl, struct bwarb_acq *a)
{
	a->ret = cl->wait_ret;
	a->grant_id = cl->wait_grant_id;
	a->seq_end = cl->wait_seq;
	bwarb_drop_waiter(cl);
}

/*
 * The wait condition of a blocking acquire (runs with the task already
 * TASK_INTERRUPTIBLE). Returns true once the acquire is decided: granted
 * (ret 0) or failed. Asks the core once; if it must wait, the thread
 * takes the client's waiter slot (one demand per client in the core) and
 * the period timer asks again at each boundary (bwarb_grant_waiters()),
 * so a grant does not depend on when the thread gets to run. Other
 * threads of the file queue for the slot and take it in arrival order.
 */
static bool bwarb_try_acquire(struct bwarb_client *cl, struct bwarb_acq *a)
{
	struct bwarb_dev *bd = cl->bd;
	unsigned long flags;
	bool done = false;
	int ret;

	raw_spin_lock_irqsave(&bd->lock, flags);
	if (!a->started) {
		a->seq_start = bd->period_seq;
		a->started = true;
	}
	if (cl->waiter == current) {
		if (cl->wait_done) {
			bwarb_take_outcome(cl, a);
			done = true;
		}
		goto out;
	}
	if (!bwarb_slot_turn(cl, a)) {
		bwarb_slot_queue(cl, a);
		goto out;
	}
	bwarb_slot_unqueue(a);
	ret = arb_acquire(&bd->arb, &cl->core, a->bytes, &a->grant_id);
	if (ret == -EAGAIN) {
		cl->waiter = current;
		cl->wait_bytes = a->bytes;
		cl->wait_done = false;
		list_add_tail(&cl->wait_node, &bd->waiting);
		bd->nr_waiters++;
		goto out;
	}
	a->ret = ret;
	a->seq_end = bd->period_seq;
	done = true;
out:
	raw_spin_unlock_irqrestore(&bd->lock, flags);
	return done;
}

/*
 * A non-blocking acquire: granted now, or -EAGAIN with nothing changed
 * (also while another thread of the file holds or waits for the slot).
 */
static void bwarb_try_acquire_nowait(struct bwarb_client *cl,
				     struct bwarb_acq *a)
{
	struct bwarb_dev *bd = cl->bd;
	unsigned long flags;

	raw_spin_lock_irqsave(&bd->lock, flags);
	a->seq_start = bd->period_seq;
	a->seq_end = a->seq_start;
	if (!bwarb_slot_turn(cl, a))
		a->ret = -EAGAIN;
	else
		a->ret = arb_try_acquire(&bd->arb, &cl->core, a->bytes,
					 &a->grant_id);
	raw_spin_unlock_irqrestore(&bd->lock, flags);
}

void bwarb_grant_waiters(struct bwarb_dev *bd)
{
	struct bwarb_client *cl, *tmp;
	int ret;

	lockdep_assert_held(&bd->lock);
	list_for_each_entry_safe(cl, tmp, &bd->waiting, wait_node) {
		ret = arb_acquire(&bd->arb, &cl->core, cl->wait_bytes,
				  &cl->wait_grant_id);
		if (ret == -EAGAIN)
			continue;
		cl->wait_ret = ret;
		cl->wait_seq = bd->period_seq;
		cl->wait_done = true;
		list_del_init(&cl->wait_node);
		/* Hard-irq safe: raw scheduler locks only. */
		wake_up_process(cl->waiter);
	}
}

/*
 * Sleeps until the acquire is decided, a signal comes or timeout (KTIME_MAX:
 * none) passes: 0, -ERESTARTSYS or -ETIMEDOUT. Woken by the period timer
 * (our decision), by the thread leaving the slot (our turn) and by the
 * hrtimer sleeper; no waitqueue, so nobody else's event wakes us.
 */
static long bwarb_wait_acquire(struct bwarb_client *cl, struct bwarb_acq *a,
			       ktime_t timeout)
{
	struct hrtimer_sleeper to;
	bool timed = timeout != KTIME_MAX;
	long ret;

	if (timed) {
		hrtimer_init_sleeper_on_stack(&to, CLOCK_MONOTONIC,
					      HRTIMER_MODE_REL);
		hrtimer_set_expires_range_ns(&to.timer, timeout,
					     current->timer_slack_ns);
		hrtimer_sleeper_start_expires(&to, HRTIMER_MODE_REL);
	}
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (bwarb_try_acquire(cl, a)) {
			ret = 0;
			break;
		}
		if (signal_pending(current)) {
			ret = -ERESTARTSYS;
			break;
		}
		if (timed && !to.task) {
			ret = -ETIMEDOUT;
			break;
		}
		schedule();
	}
	__set_current_state(TASK_RUNNING);
	if (timed) {
		hrtimer_cancel(&to.timer);
		destroy_hrtimer_on_stack(&to.timer);
	}
	return ret;
}

/*
 * Before an interrupted ACQUIRE with a deadline returns -ERESTARTSYS: the
 * time left goes into the caller's timeout_ns (at least 1 ns, as 0 means
 * no limit), so a restarted call keeps the original deadline. Returns
 * non-zero if it cannot be stored.
 */
static int bwarb_acquire_restart_timeout(struct bwarb_acquire __user *arg,
					 u64 timeout_ns, u64 waited_ns)
{
	u64 left = timeout_ns > waited_ns ? timeout_ns - waited_ns : 1;

	return put_user(left, &arg->timeout_ns);
}

static long bwarb_ioc_acquire(struct bwarb_client *cl,
			      struct bwarb_acquire __user *arg)
{
	struct bwarb_dev *bd = cl->bd;
	struct bwarb_acquire q;
	struct bwarb_acq a = { 0 };
	unsigned long flags;
	bool registered;
	u64 t0, wait_ns;
	ktime_t timeout;
	u32 usize;
	long wret;

	BUILD_BUG_ON(sizeof(q) != BWARB_ACQUIRE_SIZE_VER0);
	wret = bwarb_copy_in(&q, sizeof(q), BWARB_ACQUIRE_SIZE_VER0, arg, &usize);
	if (wret)
		return wret;
	if (!bwarb_zero(q.reserved, ARRAY_SIZE(q.reserved)))
		return -EINVAL;
	if ((q.flags & ~BWARB_ACQUIRE_FLAGS) || !q.bytes)
		return -EINVAL;
	raw_spin_lock_irqsave(&bd->lock, flags);
	registered = cl->registered;
	raw_spin_unlock_irqrestore(&bd->lock, flags);
	if (!registered)
		return -ENOTCONN;

	a.bytes = q.bytes;
	a.task = current;
	t0 = ktime_get_ns();
	if (q.flags & BWARB_ACQUIRE_NONBLOCK) {
		bwarb_try_acquire_nowait(cl, &a);
		wret = 0;
	} else {
		timeout = q.timeout_ns && q.timeout_ns < KTIME_MAX ?
			  ns_to_ktime(q.timeout_ns) : KTIME_MAX;
		/*
		 * A signal gives -ERESTARTSYS: the kernel restarts the call
		 * after a signal that has no handler (an ignored SIGCHLD) or
		 * one with SA_RESTART, and returns -EINTR otherwise.
		 */
		wret = bwarb_wait_acquire(cl, &a, timeout);
	}
	wait_ns = ktime_get_ns() - t0;

	raw_spin_lock_irqsave(&bd->lock, flags);
	bwarb_slot_unqueue(&a);
	if (wret && cl->waiter == current) {
		if (cl->wait_done) {
			/* Decided at a boundary before we gave up: keep it. */
			bwarb_take_outcome(cl, &a);
			wret = 0;
		} else {
			/* Gave up without a grant: the core forgets the demand. */
			arb_cancel(&bd->arb, &cl->core);
			bwarb_drop_waiter(cl);
		}
	}
	if (wret)
		a.ret = wret;
	else if (!a.ret && wait_ns > cl->max_wait_ns)
		cl->max_wait_ns = wait_ns;
	/* The next thread of this file in line for the slot, if any. */
	bwarb_slot_wake(cl);
	raw_spin_unlock_irqrestore(&bd->lock, flags);

	if (a.ret == -ERESTARTSYS && q.timeout_ns &&
	    bwarb_acquire_restart_timeout(arg, q.timeout_ns, wait_ns))
		a.ret = -EINTR;		/* the time left cannot be stored */
	if (a.ret) {
		trace_bwarb_acquire_fail(cl->id, q.bytes, wait_ns, a.ret);
		return a.ret;
	}
	trace_bwarb_grant(cl->id, a.grant_id, q.bytes, wait_ns);
	q.grant_id = a.grant_id;
	q.wait_ns = wait_ns;
	q.wait_periods = a.seq_end - a.seq_start;
	if (copy_to_user(arg, &q, sizeof(q))) {
		/* The grant cannot be reported: give it back unused. */
		raw_spin_lock_irqsave(&bd->lock, flags);
		arb_complete(&bd->arb, &cl->core, a.grant_id, 0);
		raw_spin_unlock_irqrestore(&bd->lock, flags);
		return -EFAULT;
	}
	return 0;
}

static long bwarb_ioc_complete(struct bwarb_client *cl,
			       struct bwarb_complete __user *arg)
{
	struct bwarb_dev *bd = cl->bd;
	struct bwarb_complete c;
	unsigned long flags;
	u64 granted = 0;
	u32 usize;
	int ret;

	BUILD_BUG_ON(sizeof(c) != BWARB_COMPLETE_SIZE_VER0);
	ret = bwarb_copy_in(&c, sizeof(c), BWARB_COMPLETE_SIZE_VER0, arg, &usize);
	if (ret)
		return ret;
	if (c.reserved0 || !bwarb_zero(c.reserved, ARRAY_SIZE(c.reserved)))
		return -EINVAL;

	raw_spin_lock_irqsave(&bd->lock, flags);
	if (!cl->registered) {
		ret = -ENOTCONN;
	} else {
		ret = arb_grant_bytes(&cl->core, c.grant_id, &granted);
		if (!ret)
			ret = arb_complete(&bd->arb, &cl->core, c.grant_id,
					   c.actual_bytes);
	}
	raw_spin_unlock_irqrestore(&bd->lock, flags);
	if (!ret)
		trace_bwarb_complete(cl->id, c.grant_id, granted, c.actual_bytes);
	return ret;
}

static long bwarb_ioc_query(struct bwarb_client *cl,
			    struct bwarb_query __user *arg)
{
	struct bwarb_dev *bd = cl->bd;
	struct arb_client_stats cs;
	struct bwarb_query q;
	unsigned long flags;
	u64 max_wait_ns;
	u32 usize;
	int ret;

	BUILD_BUG_ON(sizeof(q) != BWARB_QUERY_SIZE_VER0);
	ret = bwarb_copy_in(&q, sizeof(q), BWARB_QUERY_SIZE_VER0, arg, &usize);
	if (ret)
		return ret;
	if (!bwarb_zero(q.reserved, ARRAY_SIZE(q.reserved)))
		return -EINVAL;

	raw_spin_lock_irqsave(&bd->lock, flags);
	if (!cl->registered) {
		raw_spin_unlock_irqrestore(&bd->lock, flags);
		return -ENOTCONN;
	}
	arb_client_get_stats(&cl->core, &cs);
	max_wait_ns = cl->max_wait_ns;
	raw_spin_unlock_irqrestore(&bd->lock, flags);

	memset(&q, 0, sizeof(q));
	q.size = usize;
	q.client_id = cl->id;
	q.granted_bytes = cs.granted_bytes;
	q.completed_bytes = cs.completed_bytes;
	q.grants = cs.grants;
	q.waits = cs.waits;
	q.max_wait_ns = max_wait_ns;
	q.debt_bytes = cs.debt_bytes;
	q.tamper_events = cs.tamper_events;
	q.fast_bytes = cs.fast_bytes;
	if (copy_to_user(arg, &q, sizeof(q)))
		return -EFAULT;
	return 0;
}

/* The first version's struct size of a command number (0: unknown). */
static size_t bwarb_ioc_ver0(unsigned int nr)
{
	switch (nr) {
	case _IOC_NR(BWARB_IOC_REGISTER):
		return BWARB_REGISTER_SIZE_VER0;
	case _IOC_NR(BWARB_IOC_ACQUIRE):
		return BWARB_ACQUIRE_SIZE_VER0;
	case _IOC_NR(BWARB_IOC_COMPLETE):
		return BWARB_COMPLETE_SIZE_VER0;
	case _IOC_NR(BWARB_IOC_QUERY):
		return BWARB_QUERY_SIZE_VER0;
	default:
		return PAGE_SIZE + 1;
	}
}

static long bwarb_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct bwarb_client *cl = f->private_data;
	void __user *p = (void __user *)arg;

	/*
	 * The struct's size field names its version; the command's size bits
	 * need only be plausible for it (a newer caller encodes its larger
	 * struct there): at least the first version's size, at most a page.
	 */
	if (_IOC_TYPE(cmd) != BWARB_IOC_MAGIC || _IOC_SIZE(cmd) > PAGE_SIZE ||
	    _IOC_SIZE(cmd) < bwarb_ioc_ver0(_IOC_NR(cmd)))
		return -ENOTTY;
	switch (cmd & ~IOCSIZE_MASK) {
	case BWARB_IOC_REGISTER & ~IOCSIZE_MASK:
		return bwarb_ioc_register(cl, p);
	case BWARB_IOC_ACQUIRE & ~IOCSIZE_MASK:
		return bwarb_ioc_acquire(cl, p);
	case BWARB_IOC_COMPLETE & ~IOCSIZE_MASK:
		return bwarb_ioc_complete(cl, p);
	case BWARB_IOC_QUERY & ~IOCSIZE_MASK:
		return bwarb_ioc_query(cl, p);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations bwarb_fops = {
	.owner = THIS_MODULE,
	.open = bwarb_open,
	.release = bwarb_release,
	.unlocked_ioctl = bwarb_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = bwarb_fast_mmap,
	.llseek = noop_llseek,
};

int bwarb_device_init(struct bwarb_dev *bd)
{
	bd->misc.minor = MISC_DYNAMIC_MINOR;
	bd->misc.name = "bwarb";
	bd->misc.fops = &bwarb_fops;
	bd->misc.mode = 0666;	/* any user may be a client; knobs are root's */
	return misc_register(&bd->misc);
}

void bwarb_device_exit(struct bwarb_dev *bd)
{
	misc_deregister(&bd->misc);
}
