// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/bwarb: one client per open file; the ioctls of uapi/bwarb.h.
 * Every argument is copied in whole and validated before any state
 * changes; structs copied out were either copied in whole or zeroed first.
 */
#include <linux/build_bug.h>
#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched.h>
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
	struct bwarb_fast_page *pg;
	unsigned long flags;

	spin_lock_irqsave(&bd->lock, flags);
	pg = bwarb_fast_release(cl);
	if (cl->registered) {
		arb_client_remove(&bd->arb, &cl->core);
		list_del(&cl->node);
		bd->nr_clients--;
		cl->registered = false;
	}
	spin_unlock_irqrestore(&bd->lock, flags);
	if (pg)
		free_page((unsigned long)pg);
	kfree(cl);
	return 0;
}

static long bwarb_ioc_register(struct bwarb_client *cl,
			       struct bwarb_register __user *arg)
{
	struct bwarb_dev *bd = cl->bd;
	struct arb_client_params cp;
	struct bwarb_register r;
	unsigned long flags;
	int ret;

	/* The UAPI's names for the core's values. */
	BUILD_BUG_ON(BWARB_CLASS_CPU - ARB_CLASS_CPU);
	BUILD_BUG_ON(BWARB_CLASS_GPU - ARB_CLASS_GPU);
	BUILD_BUG_ON(BWARB_CLASS_OTHER + 1 - ARB_CLASS_COUNT);
	BUILD_BUG_ON(BWARB_MAX_WEIGHT - ARB_MAX_WEIGHT);

	if (copy_from_user(&r, arg, sizeof(r)))
		return -EFAULT;
	if (r.size != sizeof(r) || !bwarb_zero(r.reserved, ARRAY_SIZE(r.reserved)))
		return -EINVAL;
	if (strnlen(r.name, sizeof(r.name)) == sizeof(r.name))
		return -EINVAL;
	if (r.class >= ARB_CLASS_COUNT || !r.weight || r.weight > ARB_MAX_WEIGHT)
		return -EINVAL;
	/*
	 * Nothing may change on a bad pointer, and the id goes back through
	 * it: make sure it can be written before registering.
	 */
	if (copy_to_user(arg, &r, sizeof(r)))
		return -EFAULT;
	cp.class = r.class;
	cp.weight = r.weight;
	cp.reserve_mbps = r.reserve_mbps;
	cp.burst_bytes = r.burst_bytes;

	spin_lock_irqsave(&bd->lock, flags);
	if (cl->registered) {
		ret = -EBUSY;
	} else {
		ret = arb_client_add(&bd->arb, &cl->core, &cp);
		if (!ret) {
			cl->id = ++bd->next_client_id;
			cl->pid = task_tgid_nr(current);
			memcpy(cl->name, r.name, sizeof(cl->name));
			list_add_tail(&cl->node, &bd->clients);
			bd->nr_clients++;
			cl->registered = true;
		}
	}
	spin_unlock_irqrestore(&bd->lock, flags);

	trace_bwarb_register(ret ? 0 : cl->id, task_tgid_nr(current), r.class,
			     r.weight, r.reserve_mbps, r.burst_bytes, ret);
	if (ret)
		return ret;

	/* Fails only if the caller unmapped it meanwhile; the client stays. */
	if (put_user(cl->id, &arg->client_id))
		return -EFAULT;
	return 0;
}

/* One acquire in progress: its request and the outcome. */
struct bwarb_acq {
	u64 bytes;
	u64 grant_id;
	u64 seq_start;	/* bwarb_dev.period_seq at our first look */
	u64 seq_end;	/* ... when the acquire was decided */
	bool started;
	int ret;
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
 * The wait condition of an acquire (runs with the task already queued on
 * bd->wq). Returns true once the acquire is decided: granted (ret 0) or
 * failed. Asks the core once; if it must wait, the thread takes the
 * client's waiter slot (one demand per client in the core) and the period
 * timer asks again at each boundary (bwarb_grant_waiters()), so a grant
 * does not depend on when the thread gets to run. Other threads of the
 * file queue for the slot and take it in arrival order.
 */
static bool bwarb_try_acquire(struct bwarb_client *cl, struct bwarb_acq *a)
{
	struct bwarb_dev *bd = cl->bd;
	unsigned long flags;
	bool done = false;
	int ret;

	spin_lock_irqsave(&bd->lock, flags);
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
	spin_unlock_irqrestore(&bd->lock, flags);
	return done;
}

bool bwarb_grant_waiters(struct bwarb_dev *bd)
{
	struct bwarb_client *cl, *tmp;
	bool decided = false;
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
		decided = true;
	}
	return decided;
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
	long wret;

	if (copy_from_user(&q, arg, sizeof(q)))
		return -EFAULT;
	if (q.size != sizeof(q) || !bwarb_zero(q.reserved, ARRAY_SIZE(q.reserved)))
		return -EINVAL;
	if ((q.flags & ~BWARB_ACQUIRE_FLAGS) || !q.bytes)
		return -EINVAL;
	spin_lock_irqsave(&bd->lock, flags);
	registered = cl->registered;
	spin_unlock_irqrestore(&bd->lock, flags);
	if (!registered)
		return -ENOTCONN;

	a.bytes = q.bytes;
	t0 = ktime_get_ns();
	if (q.flags & BWARB_ACQUIRE_NONBLOCK) {
		wret = bwarb_try_acquire(cl, &a) ? 0 : -EAGAIN;
	} else {
		timeout = q.timeout_ns && q.timeout_ns < KTIME_MAX ?
			  ns_to_ktime(q.timeout_ns) : KTIME_MAX;
		wret = wait_event_interruptible_hrtimeout(bd->wq,
							  bwarb_try_acquire(cl, &a),
							  timeout);
		/*
		 * A signal gives -ERESTARTSYS: the kernel restarts the call
		 * after a signal that has no handler (an ignored SIGCHLD) or
		 * one with SA_RESTART, and returns -EINTR otherwise.
		 */
		if (wret == -ETIME)
			wret = -ETIMEDOUT;
	}
	wait_ns = ktime_get_ns() - t0;

	spin_lock_irqsave(&bd->lock, flags);
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
	spin_unlock_irqrestore(&bd->lock, flags);
	/* Other threads of this file may be waiting for the waiter slot. */
	wake_up_all(&bd->wq);

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
		spin_lock_irqsave(&bd->lock, flags);
		arb_complete(&bd->arb, &cl->core, a.grant_id, 0);
		spin_unlock_irqrestore(&bd->lock, flags);
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
	int ret;

	if (copy_from_user(&c, arg, sizeof(c)))
		return -EFAULT;
	if (c.size != sizeof(c) || c.reserved0 ||
	    !bwarb_zero(c.reserved, ARRAY_SIZE(c.reserved)))
		return -EINVAL;

	spin_lock_irqsave(&bd->lock, flags);
	if (!cl->registered) {
		ret = -ENOTCONN;
	} else {
		ret = arb_grant_bytes(&cl->core, c.grant_id, &granted);
		if (!ret)
			ret = arb_complete(&bd->arb, &cl->core, c.grant_id,
					   c.actual_bytes);
	}
	spin_unlock_irqrestore(&bd->lock, flags);
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

	if (copy_from_user(&q, arg, sizeof(q)))
		return -EFAULT;
	if (q.size != sizeof(q) || !bwarb_zero(q.reserved, ARRAY_SIZE(q.reserved)))
		return -EINVAL;

	spin_lock_irqsave(&bd->lock, flags);
	if (!cl->registered) {
		spin_unlock_irqrestore(&bd->lock, flags);
		return -ENOTCONN;
	}
	arb_client_get_stats(&cl->core, &cs);
	max_wait_ns = cl->max_wait_ns;
	spin_unlock_irqrestore(&bd->lock, flags);

	memset(&q, 0, sizeof(q));
	q.size = sizeof(q);
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

static long bwarb_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct bwarb_client *cl = f->private_data;
	void __user *p = (void __user *)arg;

	switch (cmd) {
	case BWARB_IOC_REGISTER:
		return bwarb_ioc_register(cl, p);
	case BWARB_IOC_ACQUIRE:
		return bwarb_ioc_acquire(cl, p);
	case BWARB_IOC_COMPLETE:
		return bwarb_ioc_complete(cl, p);
	case BWARB_IOC_QUERY:
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
