// SPDX-License-Identifier: GPL-2.0
/*
 * bwarb: DRAM bandwidth arbiter. Module set-up and the period timer; the
 * grant policy lives in the plain-C core (arb_core.c), the device in
 * bwarb_dev.c, the sysfs knobs in bwarb_sysfs.c.
 */
#include <linux/debugfs.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "bwarb.h"
#include "bwarb_counters.h"
#include "bwarb_trace.h"

static unsigned int period_us = 1000;
module_param(period_us, uint, 0444);
MODULE_PARM_DESC(period_us, "Initial period in us (sysfs period_us changes it)");

static unsigned long capacity_mbps = 120000;
module_param(capacity_mbps, ulong, 0444);
MODULE_PARM_DESC(capacity_mbps, "Initial bus capacity in MB/s");

static unsigned long guaranteed_mbps = 80000;
module_param(guaranteed_mbps, ulong, 0444);
MODULE_PARM_DESC(guaranteed_mbps, "Initial guaranteed bandwidth in MB/s (<= capacity)");

static unsigned int max_clients = ARB_DEFAULT_CLIENTS;
module_param(max_clients, uint, 0444);
MODULE_PARM_DESC(max_clients, "Hard cap on registered clients (REGISTER beyond it: -EMFILE)");

struct bwarb_dev bwarb_dev;

/*
 * Boundaries funded by one run of the timer at most: a timer that comes
 * later than this (a stopped machine, a debugger) funds no more, and the
 * boundaries beyond count in sysfs lost_periods.
 */
#define BWARB_MAX_CATCHUP	ARB_MAX_SPAN

/*
 * The boundaries that passed by @now (at least one: the timer runs at or
 * after a boundary), moving bd->next_boundary_ns past @now. Counted from
 * the clock, not from hrtimer_forward()'s overruns: with highres=off
 * hrtimer_forward() stretches any interval below the tick to the tick
 * (4 ms), so it would report one overrun where four periods passed.
 */
static u64 bwarb_boundaries(struct bwarb_dev *bd, u64 now)
{
	u64 period = bd->params.period_ns, n = 1;

	lockdep_assert_held(&bd->lock);
	if (now >= bd->next_boundary_ns)
		n = div64_u64(now - bd->next_boundary_ns, period) + 1;
	bd->next_boundary_ns += n * period;
	if (bd->next_boundary_ns <= now)	/* not reached: belt and braces */
		bd->next_boundary_ns = now + period;
	return n;
}

/*
 * When the timer runs next: at the next boundary, but not before a
 * period from @now, so that clients get a whole period to use what a
 * late run issued (as when the timer is on time). A boundary passed so is
 * funded by that run, which counts it among those that passed.
 */
static u64 bwarb_next_run(struct bwarb_dev *bd, u64 now)
{
	return max(bd->next_boundary_ns, now + bd->params.period_ns);
}

/*
 * A period boundary, in hard-irq context: measure, settle the fast-path
 * pages, let the core refill budgets, grant the waiting acquires that now
 * fit and wake them, issue the pages' new budgets.
 *
 * The bound is in time, not in runs of the timer: when the timer comes
 * late (highres=off fires a 1 ms timer on the 4 ms tick, a busy machine
 * delays it), the core's tick funds every period that passed
 * (arb_tick_span()), so reservations are funded for the time that
 * elapsed and a waiter gets all of it at once.
 */
static enum hrtimer_restart bwarb_period_fn(struct hrtimer *t)
{
	struct bwarb_dev *bd = container_of(t, struct bwarb_dev, timer);
	u64 measured, granted, seq, n, t0, dt;
	struct arb_stats st;
	unsigned long flags;
	u32 waiters;

	t0 = ktime_get_ns();
	raw_spin_lock_irqsave(&bd->lock, flags);
	n = bwarb_boundaries(bd, t0);
	hrtimer_set_expires(t, ns_to_ktime(bwarb_next_run(bd, t0)));
	bd->late_periods += n - 1;
	if (n > BWARB_MAX_CATCHUP) {
		bd->lost_periods += n - BWARB_MAX_CATCHUP;
		n = BWARB_MAX_CATCHUP;
	}
	measured = bwarb_counters_period_bytes(bd);
	/* The core wants fast-path use charged before the tick. */
	bwarb_fast_settle_all(bd);
	arb_get_stats(&bd->arb, &st);
	granted = st.granted_bytes - bd->last_granted_bytes;
	bd->last_granted_bytes = st.granted_bytes;
	arb_tick_span(&bd->arb, measured, n);
	/* Waits are counted in runs of the timer (ACQUIRE wait_periods). */
	bd->period_seq++;
	/* Waiters first: the pages get what is left after them. */
	bwarb_grant_waiters(bd);
	bwarb_fast_issue_all(bd);
	seq = bd->period_seq;
	waiters = bd->nr_waiters;
	dt = ktime_get_ns() - t0;
	bd->tick_ns_last = dt;
	if (dt > bd->tick_ns_max)
		bd->tick_ns_max = dt;
	raw_spin_unlock_irqrestore(&bd->lock, flags);

	trace_bwarb_period(seq, granted, measured, waiters);
	return HRTIMER_RESTART;
}

/*
 * period_us changed (process context, bd->knob_mutex held): the next
 * boundary comes one new period from now if that is sooner than the one
 * armed, so that nobody waits out an old, longer period.
 */
void bwarb_timer_rearm(struct bwarb_dev *bd, u64 period_ns)
{
	unsigned long flags;
	u64 next;

	lockdep_assert_held(&bd->knob_mutex);
	if (ktime_to_ns(hrtimer_get_remaining(&bd->timer)) <= (s64)period_ns)
		return;
	hrtimer_cancel(&bd->timer);
	raw_spin_lock_irqsave(&bd->lock, flags);
	next = ktime_get_ns() + period_ns;
	bd->next_boundary_ns = next;
	raw_spin_unlock_irqrestore(&bd->lock, flags);
	hrtimer_start(&bd->timer, ns_to_ktime(next), HRTIMER_MODE_ABS_HARD);
}

static int __init bwarb_init(void)
{
	struct bwarb_dev *bd = &bwarb_dev;
	struct arb_params p = {
		.period_ns = (u64)period_us * NSEC_PER_USEC,
		.capacity_mbps = capacity_mbps,
		.guaranteed_mbps = guaranteed_mbps,
		.max_clients = max_clients,
	};
	int ret;

	raw_spin_lock_init(&bd->lock);
	INIT_LIST_HEAD(&bd->clients);
	INIT_LIST_HEAD(&bd->fast_clients);
	INIT_LIST_HEAD(&bd->waiting);
	INIT_LIST_HEAD(&bd->users);
	mutex_init(&bd->knob_mutex);
	ret = arb_init(&bd->arb, &p);
	if (ret) {
		pr_err("bwarb: bad module parameters (%d)\n", ret);
		return ret;
	}
	bd->params = p;
	/* Before the knobs exist: a period_us write looks at the timer. */
	hrtimer_init(&bd->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_HARD);
	bd->timer.function = bwarb_period_fn;

	ret = bwarb_sysfs_init(bd);
	if (ret)
		return ret;
	bd->debugfs = debugfs_create_dir("bwarb", NULL);
	ret = bwarb_counters_init(bd);
	if (ret)
		goto err_sysfs;

	bd->next_boundary_ns = ktime_get_ns() + p.period_ns;
	hrtimer_start(&bd->timer, ns_to_ktime(bd->next_boundary_ns),
		      HRTIMER_MODE_ABS_HARD);

	ret = bwarb_device_init(bd);
	if (ret)
		goto err_timer;
	return 0;

err_timer:
	bwarb_counters_exit(bd);
	debugfs_remove_recursive(bd->debugfs);
	bwarb_sysfs_exit(bd);
	hrtimer_cancel(&bd->timer);
	return ret;
err_sysfs:
	debugfs_remove_recursive(bd->debugfs);
	bwarb_sysfs_exit(bd);
	return ret;
}

static void __exit bwarb_exit(void)
{
	struct bwarb_dev *bd = &bwarb_dev;

	/* No file is open: the misc device's fops hold the module. */
	bwarb_device_exit(bd);
	bwarb_counters_exit(bd);
	debugfs_remove_recursive(bd->debugfs);
	/* The knobs first: a period_us write in flight could re-arm the timer. */
	bwarb_sysfs_exit(bd);
	hrtimer_cancel(&bd->timer);
}

module_init(bwarb_init);
module_exit(bwarb_exit);

MODULE_DESCRIPTION("DRAM bandwidth arbiter: reservations, admission control, weighted sharing");
MODULE_LICENSE("GPL");
