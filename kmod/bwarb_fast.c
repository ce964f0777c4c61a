// SPDX-License-Identifier: GPL-2.0
/*
 * The mmap fast path: one page per client holding its current budget
 * (uapi/bwarb.h, struct bwarb_fast_page). Userspace takes from it with an
 * atomic compare-and-swap; at each period boundary the kernel closes the
 * page's period and takes back what is left (bwarb_fast_consumed()), lets
 * the core charge what was consumed (settle), and after the core's tick
 * puts the new budget and period there (issue).
 *
 * The page is writable by the client, so nothing on it is trusted: the
 * kernel keeps what it issued in struct bwarb_client, and a page that is
 * not what it wrote with a smaller or equal @avail is reported to the core
 * as tampered (ARB_FP_INCONSISTENT, or the consumption beyond the issue).
 */
#include <linux/atomic.h>
#include <linux/build_bug.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/spinlock.h>
#include <linux/stddef.h>

#include "bwarb.h"

/*
 * What the client consumed from its page since the last issue. The period
 * is closed before the budget is taken back: a library puts the unused
 * part of a fast grant back with one 16-byte compare-and-swap of
 * {@avail, @period} that expects the grant's period, so every such return
 * either lands before the close and is seen in @avail here, or fails.
 * Both exchanges are locked operations on the same cache line as that
 * compare-and-swap.
 */
static u64 bwarb_fast_consumed(struct bwarb_client *cl)
{
	struct bwarb_fast_page *pg = cl->fast;
	u64 period = xchg(&pg->period, BWARB_FAST_PERIOD_CLOSED);
	s64 left = xchg(&pg->avail, 0);
	bool intact = period == cl->fast_period &&
		      READ_ONCE(pg->issued) == cl->fast_issued;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(pg->reserved); i++)
		intact &= !READ_ONCE(pg->reserved[i]);
	if (!intact)
		return ARB_FP_INCONSISTENT;
	if (left < 0)		/* took more than issued */
		return cl->fast_issued + (0 - (u64)left);
	if ((u64)left > cl->fast_issued)	/* budget was added */
		return ARB_FP_INCONSISTENT;
	return cl->fast_issued - (u64)left;
}

static void bwarb_fast_settle(struct bwarb_dev *bd, struct bwarb_client *cl)
{
	/* -ENOENT (nothing issued, nothing taken) and -EINVAL (tampering,
	 * counted by the core) are both already accounted for.
	 */
	arb_fastpath_settle(&bd->arb, &cl->core, bwarb_fast_consumed(cl));
	cl->fast_issued = 0;
}

void bwarb_fast_settle_all(struct bwarb_dev *bd)
{
	struct bwarb_client *cl;

	lockdep_assert_held(&bd->lock);
	list_for_each_entry(cl, &bd->fast_clients, fast_node)
		bwarb_fast_settle(bd, cl);
}

void bwarb_fast_issue_all(struct bwarb_dev *bd)
{
	struct bwarb_fast_page *pg;
	struct bwarb_client *cl;
	unsigned int i;
	u64 b;

	lockdep_assert_held(&bd->lock);
	list_for_each_entry(cl, &bd->fast_clients, fast_node) {
		pg = cl->fast;
		b = arb_fastpath_issue(&bd->arb, &cl->core);
		cl->fast_issued = b;
		cl->fast_period = bd->period_seq;
		WRITE_ONCE(pg->period, cl->fast_period);
		WRITE_ONCE(pg->issued, b);
		for (i = 0; i < ARRAY_SIZE(pg->reserved); i++)
			WRITE_ONCE(pg->reserved[i], 0);
		/* The budget becomes visible last, after what describes it. */
		smp_store_release(&pg->avail, (s64)b);
	}
}

struct bwarb_fast_page *bwarb_fast_release(struct bwarb_client *cl)
{
	struct bwarb_fast_page *pg = cl->fast;

	lockdep_assert_held(&cl->bd->lock);
	if (!pg)
		return NULL;
	bwarb_fast_settle(cl->bd, cl);
	list_del(&cl->fast_node);
	cl->fast = NULL;
	return pg;
}

/*
 * The page is mapped on fault, so that it comes back after
 * MADV_DONTNEED. It exists while any mapping does: it is set before the
 * first mapping and freed at release, after the last. A forked child
 * does not inherit the mapping (VM_DONTCOPY): it would hold the file, and
 * with it the parent's client, after the parent closed it.
 */
static vm_fault_t bwarb_fast_fault(struct vm_fault *vmf)
{
	struct bwarb_client *cl = vmf->vma->vm_file->private_data;
	struct page *page = virt_to_page(READ_ONCE(cl->fast));

	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct bwarb_fast_vm_ops = {
	.fault = bwarb_fast_fault,
};

int bwarb_fast_mmap(struct file *f, struct vm_area_struct *vma)
{
	struct bwarb_client *cl = f->private_data;
	struct bwarb_dev *bd = cl->bd;
	unsigned long flags, page;
	int ret = 0;

	BUILD_BUG_ON(BWARB_FAST_PAGE_SIZE != PAGE_SIZE);
	/* {avail, period} is one 16-byte unit for userspace's cmpxchg16b. */
	BUILD_BUG_ON(offsetof(struct bwarb_fast_page, avail) != 0 ||
		     offsetof(struct bwarb_fast_page, period) != 8);
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start != PAGE_SIZE ||
	    !(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	page = get_zeroed_page(GFP_KERNEL);
	if (!page)
		return -ENOMEM;

	raw_spin_lock_irqsave(&bd->lock, flags);
	if (!cl->registered) {
		ret = -ENOTCONN;
	} else if (!cl->fast) {
		/* Zeroed: consistent with nothing issued yet. */
		WRITE_ONCE(cl->fast, (struct bwarb_fast_page *)page);
		cl->fast_issued = 0;
		cl->fast_period = 0;
		list_add_tail(&cl->fast_node, &bd->fast_clients);
		page = 0;
	}
	raw_spin_unlock_irqrestore(&bd->lock, flags);
	if (page)
		free_page(page);
	if (ret)
		return ret;

	vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP | VM_DONTCOPY;
	vma->vm_ops = &bwarb_fast_vm_ops;
	return 0;
}
