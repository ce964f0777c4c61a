// SPDX-License-Identifier: GPL-2.0
/*
 * bwarb_test_pmu: a test-only perf PMU shaped like Intel's free-running
 * memory-controller counters (uncore_imc_free_running_N), so that bwarbctl's
 * discovery and the bwarb perf source can be exercised in a VM that has no
 * such hardware.
 *
 * It registers nr_pmus PMUs named bwarb_test_imc_<n>, each with
 * format/event (config:0-7), format/umask (config:8-15), events/data_read,
 * data_write and data_total (with .scale 6.103515625e-5 and .unit MiB, i.e.
 * 64-byte lines counted in MiB), and a cpumask holding one CPU. The counts
 * are synthetic: every controller moves read_mbps (resp. write_mbps) MB/s
 * (10^6 bytes per second) of wall-clock time, set through the module
 * parameters of the same name at any time. Like the real counters they are
 * polled: no sampling, no overflow interrupt.
 */
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/perf_event.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#define TEST_PMU_MAX		4
#define TEST_PMU_LINE_BYTES	64
#define TEST_PMU_MAX_MBPS	10000000U	/* 10 TB/s: far above any bus */

/* Event encodings, the same as the client chips' imc free-running PMU. */
#define TEST_EVENT_FREE_RUNNING	0xff
#define TEST_UMASK_TOTAL	0x10
#define TEST_UMASK_READ		0x20
#define TEST_UMASK_WRITE	0x30

enum test_dir { TEST_DIR_READ, TEST_DIR_WRITE, TEST_DIR_COUNT };

/*
 * The synthetic traffic of one direction: bytes(t) = base_bytes +
 * mbps * (t - base_ns) / 1000. A rate change folds the bytes moved so far
 * into base_bytes, so counts stay monotonic and exact across changes.
 */
struct test_flow {
	u64 base_bytes;
	u64 base_ns;
	u32 mbps;
};

/*
 * test_lock protects test_flows[]; taken from any context, also under
 * perf's raw context locks in hard irq (pmu->add, ->read): a raw spinlock.
 */
static DEFINE_RAW_SPINLOCK(test_lock);
static struct test_flow test_flows[TEST_DIR_COUNT];

static unsigned int nr_pmus = 2;
module_param(nr_pmus, uint, 0444);
MODULE_PARM_DESC(nr_pmus, "Number of controllers (PMUs) to register, 1..4");

static u64 test_flow_bytes_locked(const struct test_flow *f, u64 now)
{
	return f->base_bytes + mul_u64_u64_div_u64(f->mbps, now - f->base_ns,
						   1000);
}

static u64 test_flow_lines(enum test_dir dir)
{
	unsigned long flags;
	u64 bytes;

	raw_spin_lock_irqsave(&test_lock, flags);
	bytes = test_flow_bytes_locked(&test_flows[dir], ktime_get_ns());
	raw_spin_unlock_irqrestore(&test_lock, flags);
	return div_u64(bytes, TEST_PMU_LINE_BYTES);
}

/*
 * offset_lines: added to every read counter's count, to make the counters
 * jump (a large value) or go back (a smaller one after it), as a
 * memory controller's counters do across suspend or a reset.
 */
static unsigned long offset_lines;
module_param(offset_lines, ulong, 0644);
MODULE_PARM_DESC(offset_lines, "Lines added to every read count (jumps, resets)");

/*
 * slow_read_us, slow_read_every: every slow_read_every-th read of an event
 * stalls slow_read_us (at most 2000) before it takes its count, as a read
 * does whose vCPU the host preempted: the value then lies late between the
 * reader's two timestamps.
 */
static unsigned int slow_read_us;
module_param(slow_read_us, uint, 0644);
MODULE_PARM_DESC(slow_read_us, "Stall of a slow read, us (at most 2000)");
static unsigned int slow_read_every;
module_param(slow_read_every, uint, 0644);
MODULE_PARM_DESC(slow_read_every, "Every Nth read is slow (0: none)");
static atomic_t test_reads = ATOMIC_INIT(0);

static void test_maybe_slow_read(void)
{
	unsigned int every = READ_ONCE(slow_read_every);

	if (every && (unsigned int)atomic_inc_return(&test_reads) % every == 0)
		udelay(min(READ_ONCE(slow_read_us), 2000U));
}

static u64 test_total_lines(void)
{
	return test_flow_lines(TEST_DIR_READ) + test_flow_lines(TEST_DIR_WRITE);
}

static int test_rate_set(const char *val, const struct kernel_param *kp)
{
	struct test_flow *f = &test_flows[(enum test_dir)(uintptr_t)kp->arg];
	unsigned long flags;
	unsigned int mbps;
	u64 now;
	int ret;

	ret = kstrtouint(val, 0, &mbps);
	if (ret)
		return ret;
	if (mbps > TEST_PMU_MAX_MBPS)
		return -ERANGE;
	raw_spin_lock_irqsave(&test_lock, flags);
	now = ktime_get_ns();
	f->base_bytes = test_flow_bytes_locked(f, now);
	f->base_ns = now;
	f->mbps = mbps;
	raw_spin_unlock_irqrestore(&test_lock, flags);
	return 0;
}

static int test_rate_get(char *buf, const struct kernel_param *kp)
{
	const struct test_flow *f = &test_flows[(enum test_dir)(uintptr_t)kp->arg];

	return sysfs_emit(buf, "%u\n", READ_ONCE(f->mbps));
}

static const struct kernel_param_ops test_rate_ops = {
	.set = test_rate_set,
	.get = test_rate_get,
};

module_param_cb(read_mbps, &test_rate_ops, (void *)TEST_DIR_READ, 0644);
MODULE_PARM_DESC(read_mbps, "Read traffic of every controller, MB/s");
module_param_cb(write_mbps, &test_rate_ops, (void *)TEST_DIR_WRITE, 0644);
MODULE_PARM_DESC(write_mbps, "Write traffic of every controller, MB/s");

struct test_pmu {
	struct pmu pmu;
	int cpu;		/* the CPU events are placed on (cpumask) */
	char name[32];
};

static struct test_pmu *test_pmus[TEST_PMU_MAX];

static struct test_pmu *to_test_pmu(struct pmu *pmu)
{
	return container_of(pmu, struct test_pmu, pmu);
}

/* hw.config: what an event counts. */
enum test_counter { TEST_CNT_READ, TEST_CNT_WRITE, TEST_CNT_TOTAL };

static u64 test_counter_lines(enum test_counter c)
{
	switch (c) {
	case TEST_CNT_READ:
		return test_flow_lines(TEST_DIR_READ) + READ_ONCE(offset_lines);
	case TEST_CNT_WRITE:
		return test_flow_lines(TEST_DIR_WRITE);
	default:
		return test_total_lines();
	}
}

static void test_pmu_event_update(struct perf_event *event)
{
	struct hw_perf_event *hwc = &event->hw;
	u64 prev, now;

	now = test_counter_lines(hwc->config);
	prev = local64_xchg(&hwc->prev_count, now);
	local64_add(now - prev, &event->count);
}

static int test_pmu_event_init(struct perf_event *event)
{
	struct test_pmu *tp = to_test_pmu(event->pmu);
	u64 config = event->attr.config;
	u64 ev = config & 0xff, umask = (config >> 8) & 0xff;

	if (event->attr.type != event->pmu->type)
		return -ENOENT;
	/* Free-running counters: no sampling, no per-task counting. */
	if (is_sampling_event(event) || event->attach_state & PERF_ATTACH_TASK)
		return -EINVAL;
	if (event->cpu < 0)
		return -EINVAL;
	if (config >> 16 || ev != TEST_EVENT_FREE_RUNNING)
		return -EINVAL;
	switch (umask) {
	case TEST_UMASK_READ:
		event->hw.config = TEST_CNT_READ;
		break;
	case TEST_UMASK_WRITE:
		event->hw.config = TEST_CNT_WRITE;
		break;
	case TEST_UMASK_TOTAL:
		event->hw.config = TEST_CNT_TOTAL;
		break;
	default:
		return -EINVAL;
	}
	/* Like the real uncore driver: every event lives on the mask CPU. */
	event->cpu = tp->cpu;
	return 0;
}

static void test_pmu_start(struct perf_event *event, int flags)
{
	local64_set(&event->hw.prev_count, test_counter_lines(event->hw.config));
	event->hw.state = 0;
}

static void test_pmu_stop(struct perf_event *event, int flags)
{
	if (event->hw.state & PERF_HES_STOPPED)
		return;
	test_pmu_event_update(event);
	event->hw.state |= PERF_HES_STOPPED | PERF_HES_UPTODATE;
}

static int test_pmu_add(struct perf_event *event, int flags)
{
	event->hw.state = PERF_HES_STOPPED | PERF_HES_UPTODATE;
	if (flags & PERF_EF_START)
		test_pmu_start(event, flags);
	return 0;
}

static void test_pmu_del(struct perf_event *event, int flags)
{
	test_pmu_stop(event, PERF_EF_UPDATE);
}

static void test_pmu_read(struct perf_event *event)
{
	if (!(event->hw.state & PERF_HES_STOPPED)) {
		test_maybe_slow_read();
		test_pmu_event_update(event);
	}
}

PMU_FORMAT_ATTR(event, "config:0-7");
PMU_FORMAT_ATTR(umask, "config:8-15");

static struct attribute *test_format_attrs[] = {
	&format_attr_event.attr,
	&format_attr_umask.attr,
	NULL,
};

static const struct attribute_group test_format_group = {
	.name = "format",
	.attrs = test_format_attrs,
};

PMU_EVENT_ATTR_STRING(data_read, test_ev_read, "event=0xff,umask=0x20");
PMU_EVENT_ATTR_STRING(data_read.scale, test_ev_read_scale, "6.103515625e-5");
PMU_EVENT_ATTR_STRING(data_read.unit, test_ev_read_unit, "MiB");
PMU_EVENT_ATTR_STRING(data_write, test_ev_write, "event=0xff,umask=0x30");
PMU_EVENT_ATTR_STRING(data_write.scale, test_ev_write_scale, "6.103515625e-5");
PMU_EVENT_ATTR_STRING(data_write.unit, test_ev_write_unit, "MiB");
PMU_EVENT_ATTR_STRING(data_total, test_ev_total, "event=0xff,umask=0x10");
PMU_EVENT_ATTR_STRING(data_total.scale, test_ev_total_scale, "6.103515625e-5");
PMU_EVENT_ATTR_STRING(data_total.unit, test_ev_total_unit, "MiB");

static struct attribute *test_event_attrs[] = {
	&test_ev_read.attr.attr,
	&test_ev_read_scale.attr.attr,
	&test_ev_read_unit.attr.attr,
	&test_ev_write.attr.attr,
	&test_ev_write_scale.attr.attr,
	&test_ev_write_unit.attr.attr,
	&test_ev_total.attr.attr,
	&test_ev_total_scale.attr.attr,
	&test_ev_total_unit.attr.attr,
	NULL,
};

static const struct attribute_group test_events_group = {
	.name = "events",
	.attrs = test_event_attrs,
};

static ssize_t cpumask_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct pmu *pmu = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%d\n", to_test_pmu(pmu)->cpu);
}
static DEVICE_ATTR_RO(cpumask);

static struct attribute *test_cpumask_attrs[] = {
	&dev_attr_cpumask.attr,
	NULL,
};

static const struct attribute_group test_cpumask_group = {
	.attrs = test_cpumask_attrs,
};

static const struct attribute_group *test_attr_groups[] = {
	&test_format_group,
	&test_events_group,
	&test_cpumask_group,
	NULL,
};

static void test_pmu_unregister_all(void)
{
	int i;

	for (i = TEST_PMU_MAX - 1; i >= 0; i--) {
		if (!test_pmus[i])
			continue;
		perf_pmu_unregister(&test_pmus[i]->pmu);
		kfree(test_pmus[i]);
		test_pmus[i] = NULL;
	}
}

static int __init test_pmu_init(void)
{
	unsigned int i;
	int ret;

	if (nr_pmus < 1 || nr_pmus > TEST_PMU_MAX) {
		pr_err("bwarb_test_pmu: nr_pmus=%u out of range 1..%d\n",
		       nr_pmus, TEST_PMU_MAX);
		return -EINVAL;
	}
	for (i = 0; i < TEST_DIR_COUNT; i++)
		test_flows[i].base_ns = ktime_get_ns();

	for (i = 0; i < nr_pmus; i++) {
		struct test_pmu *tp = kzalloc(sizeof(*tp), GFP_KERNEL);

		if (!tp) {
			ret = -ENOMEM;
			goto fail;
		}
		snprintf(tp->name, sizeof(tp->name), "bwarb_test_imc_%u", i);
		/* The last online CPU: on a multi-CPU guest, CPU 0 is then
		 * a CPU outside the mask, which the bwarb tests need.
		 */
		tp->cpu = cpumask_last(cpu_online_mask);
		tp->pmu = (struct pmu) {
			.module		= THIS_MODULE,
			.task_ctx_nr	= perf_invalid_context,
			.capabilities	= PERF_PMU_CAP_NO_EXCLUDE,
			.attr_groups	= test_attr_groups,
			.event_init	= test_pmu_event_init,
			.add		= test_pmu_add,
			.del		= test_pmu_del,
			.start		= test_pmu_start,
			.stop		= test_pmu_stop,
			.read		= test_pmu_read,
		};
		ret = perf_pmu_register(&tp->pmu, tp->name, -1);
		if (ret) {
			kfree(tp);
			goto fail;
		}
		test_pmus[i] = tp;
	}
	return 0;

fail:
	test_pmu_unregister_all();
	return ret;
}

static void __exit test_pmu_exit(void)
{
	test_pmu_unregister_all();
}

module_init(test_pmu_init);
module_exit(test_pmu_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("bwarb test PMU: synthetic memory-controller counters");
