// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/bwarb: one value per file. period_us, capacity_mbps and
 * guaranteed_mbps are knobs (root only: file mode and CAP_SYS_ADMIN); a bad
 * value is rejected with -EINVAL and the old one kept, a guaranteed_mbps
 * below the sum of reservations with -EBUSY. Other files (the counters
 * source) add their own attribute groups to bd->kobj.
 */
#include <linux/capability.h>
#include <linux/kernel.h>
#include <linux/kobject.h>
#include <linux/sysfs.h>

#include "bwarb.h"

enum bwarb_knob { KNOB_PERIOD_US, KNOB_CAPACITY, KNOB_GUARANTEED };

static u64 bwarb_knob_get(struct bwarb_dev *bd, enum bwarb_knob k)
{
	unsigned long flags;
	u64 v;

	raw_spin_lock_irqsave(&bd->lock, flags);
	switch (k) {
	case KNOB_PERIOD_US:
		v = div_u64(bd->params.period_ns, NSEC_PER_USEC);
		break;
	case KNOB_CAPACITY:
		v = bd->params.capacity_mbps;
		break;
	default:
		v = bd->params.guaranteed_mbps;
		break;
	}
	raw_spin_unlock_irqrestore(&bd->lock, flags);
	return v;
}

static ssize_t bwarb_knob_set(struct bwarb_dev *bd, enum bwarb_knob k,
			      const char *buf, size_t count)
{
	struct arb_params p;
	unsigned long flags;
	u64 v;
	int ret;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (kstrtou64(buf, 10, &v))
		return -EINVAL;

	mutex_lock(&bd->knob_mutex);
	raw_spin_lock_irqsave(&bd->lock, flags);
	p = bd->params;
	switch (k) {
	case KNOB_PERIOD_US:
		if (v > U64_MAX / NSEC_PER_USEC)
			v = U64_MAX / NSEC_PER_USEC;	/* the core rejects it */
		p.period_ns = v * NSEC_PER_USEC;
		break;
	case KNOB_CAPACITY:
		p.capacity_mbps = v;
		break;
	default:
		p.guaranteed_mbps = v;
		break;
	}
	ret = arb_set_params(&bd->arb, &p);
	if (!ret)
		bd->params = p;		/* the timer uses it from its next period */
	raw_spin_unlock_irqrestore(&bd->lock, flags);
	/* A shorter period starts now, not after the old one ends. */
	if (!ret && k == KNOB_PERIOD_US)
		bwarb_timer_rearm(bd, p.period_ns);
	mutex_unlock(&bd->knob_mutex);
	return ret ? ret : count;
}

static struct arb_stats bwarb_stats(struct bwarb_dev *bd)
{
	struct arb_stats st;
	unsigned long flags;

	raw_spin_lock_irqsave(&bd->lock, flags);
	arb_get_stats(&bd->arb, &st);
	raw_spin_unlock_irqrestore(&bd->lock, flags);
	return st;
}

/* A knob's attribute knows which parameter it sets. */
struct bwarb_knob_attr {
	struct kobj_attribute kattr;
	enum bwarb_knob knob;
};

static ssize_t bwarb_knob_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	enum bwarb_knob k = container_of(attr, struct bwarb_knob_attr, kattr)->knob;

	return sysfs_emit(buf, "%llu\n", bwarb_knob_get(&bwarb_dev, k));
}

static ssize_t bwarb_knob_store(struct kobject *kobj,
				struct kobj_attribute *attr,
				const char *buf, size_t count)
{
	enum bwarb_knob k = container_of(attr, struct bwarb_knob_attr, kattr)->knob;

	return bwarb_knob_set(&bwarb_dev, k, buf, count);
}

static struct bwarb_knob_attr period_us_attr = {
	.kattr = __ATTR(period_us, 0644, bwarb_knob_show, bwarb_knob_store),
	.knob = KNOB_PERIOD_US,
};

static struct bwarb_knob_attr capacity_mbps_attr = {
	.kattr = __ATTR(capacity_mbps, 0644, bwarb_knob_show, bwarb_knob_store),
	.knob = KNOB_CAPACITY,
};

static struct bwarb_knob_attr guaranteed_mbps_attr = {
	.kattr = __ATTR(guaranteed_mbps, 0644, bwarb_knob_show, bwarb_knob_store),
	.knob = KNOB_GUARANTEED,
};

static ssize_t nr_clients_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(bwarb_dev.nr_clients));
}

static ssize_t granted_bytes_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", bwarb_stats(&bwarb_dev).granted_bytes);
}

static ssize_t completed_bytes_show(struct kobject *kobj,
				    struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", bwarb_stats(&bwarb_dev).completed_bytes);
}

/* Period boundaries since the module was loaded. */
static ssize_t periods_show(struct kobject *kobj,
			    struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", bwarb_stats(&bwarb_dev).periods);
}

/* Fast-path pages found tampered with, all clients, ever. */
static ssize_t tamper_events_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", bwarb_stats(&bwarb_dev).tamper_events);
}

/* Bytes consumed through the fast path, all clients. */
static ssize_t fast_bytes_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", bwarb_stats(&bwarb_dev).fast_bytes);
}

enum bwarb_tick_fig { TICK_LAST, TICK_MAX, TICK_LATE, TICK_LOST };

static u64 bwarb_tick_figure(struct bwarb_dev *bd, enum bwarb_tick_fig f)
{
	unsigned long flags;
	u64 v;

	raw_spin_lock_irqsave(&bd->lock, flags);
	switch (f) {
	case TICK_LAST:
		v = bd->tick_ns_last;
		break;
	case TICK_MAX:
		v = bd->tick_ns_max;
		break;
	case TICK_LATE:
		v = bd->late_periods;
		break;
	default:
		v = bd->lost_periods;
		break;
	}
	raw_spin_unlock_irqrestore(&bd->lock, flags);
	return v;
}

/* How long the last period boundary took in the timer, ns. */
static ssize_t tick_ns_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%llu\n", bwarb_tick_figure(&bwarb_dev, TICK_LAST));
}

/* The longest boundary since load or the last write of 0 (root). */
static ssize_t tick_ns_max_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", bwarb_tick_figure(&bwarb_dev, TICK_MAX));
}

static ssize_t tick_ns_max_store(struct kobject *kobj,
				 struct kobj_attribute *attr,
				 const char *buf, size_t count)
{
	struct bwarb_dev *bd = &bwarb_dev;
	unsigned long flags;
	u64 v;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (kstrtou64(buf, 10, &v) || v)
		return -EINVAL;
	raw_spin_lock_irqsave(&bd->lock, flags);
	bd->tick_ns_max = 0;
	raw_spin_unlock_irqrestore(&bd->lock, flags);
	return count;
}

/* Boundaries that passed before the timer ran (funded by a later run). */
static ssize_t late_periods_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", bwarb_tick_figure(&bwarb_dev, TICK_LATE));
}

/* Boundaries the timer was too late to fund (more than 16 at once). */
static ssize_t lost_periods_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", bwarb_tick_figure(&bwarb_dev, TICK_LOST));
}

static struct kobj_attribute tick_ns_attr = __ATTR_RO(tick_ns);
static struct kobj_attribute tick_ns_max_attr = __ATTR_RW_MODE(tick_ns_max, 0644);
static struct kobj_attribute late_periods_attr = __ATTR_RO(late_periods);
static struct kobj_attribute lost_periods_attr = __ATTR_RO(lost_periods);
static struct kobj_attribute nr_clients_attr = __ATTR_RO(nr_clients);
static struct kobj_attribute granted_bytes_attr = __ATTR_RO(granted_bytes);
static struct kobj_attribute completed_bytes_attr = __ATTR_RO(completed_bytes);
static struct kobj_attribute periods_attr = __ATTR_RO(periods);
static struct kobj_attribute tamper_events_attr = __ATTR_RO(tamper_events);
static struct kobj_attribute fast_bytes_attr = __ATTR_RO(fast_bytes);

static struct attribute *bwarb_attrs[] = {
	&period_us_attr.kattr.attr,
	&capacity_mbps_attr.kattr.attr,
	&guaranteed_mbps_attr.kattr.attr,
	&nr_clients_attr.attr,
	&granted_bytes_attr.attr,
	&completed_bytes_attr.attr,
	&periods_attr.attr,
	&tamper_events_attr.attr,
	&fast_bytes_attr.attr,
	&tick_ns_attr.attr,
	&tick_ns_max_attr.attr,
	&late_periods_attr.attr,
	&lost_periods_attr.attr,
	NULL,
};

static const struct attribute_group bwarb_attr_group = {
	.attrs = bwarb_attrs,
};

int bwarb_sysfs_init(struct bwarb_dev *bd)
{
	int ret;

	bd->kobj = kobject_create_and_add("bwarb", kernel_kobj);
	if (!bd->kobj)
		return -ENOMEM;
	ret = sysfs_create_group(bd->kobj, &bwarb_attr_group);
	if (ret) {
		kobject_put(bd->kobj);
		bd->kobj = NULL;
	}
	return ret;
}

void bwarb_sysfs_exit(struct bwarb_dev *bd)
{
	sysfs_remove_group(bd->kobj, &bwarb_attr_group);
	kobject_put(bd->kobj);
	bd->kobj = NULL;
}
