// SPDX-License-Identifier: GPL-2.0
/*
 * bwarb measured-traffic sources and the bandwidth statistics in sysfs.
 *
 * 'declared': no counters; the traffic of a period is what the clients
 * completed in it, so the arbiter sees nothing unattributed.
 *
 * 'perf': kernel perf counters (typically the memory controllers'
 * free-running data_read/data_write counters, one pair per controller)
 * that userspace describes by writing 'add ...' lines to sysfs 'counters';
 * the kernel exports no PMU lookup by name, so bwarbctl reads
 * /sys/bus/event_source/devices itself. perf_event_read_value() may sleep,
 * so the period hrtimer never reads a counter: it queues a work item that
 * samples every counter and publishes per-direction rates; the timer turns
 * the latest published rate into the bytes of the period that just ended.
 * The feedback therefore lags the bus by one period.
 *
 * 'mchbar' (optional, UNTESTED ON HARDWARE): the client chips' controller
 * counters read over MMIO (bwarb_mchbar.c); an MMIO load does not sleep,
 * so the timer reads them itself and the figures have no lag.
 *
 * Smoothed values (*_avg) are an exponential moving average over time,
 * each sample weighted by the time it spans: 1/8 (BWARB_AVG_SHIFT) for a
 * sample of one period, so the time constant is about 8 periods. Weighting
 * by time, not per sample, keeps the average unbiased when ticks come
 * late and early: a short interval that spends what a late tick funded
 * reads high and counts little.
 */
#include <linux/capability.h>
#include <linux/cpumask.h>
#include <linux/kernel.h>
#include <linux/kobject.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/mutex.h>
#include <linux/perf_event.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/workqueue.h>

#include "bwarb.h"
#include "bwarb_counters.h"
#include "bwarb_debugfs.h"
#include "bwarb_mchbar.h"

#define BWARB_MAX_COUNTERS	16
#define BWARB_LABEL_LEN		48
#define BWARB_AVG_SHIFT		3	/* EMA weight 1/8 per period */

enum bwarb_source { BWARB_SRC_DECLARED, BWARB_SRC_PERF, BWARB_SRC_MCHBAR,
		    BWARB_SRC_COUNT };

static const char * const bwarb_source_names[BWARB_SRC_COUNT] = {
	[BWARB_SRC_DECLARED] = "declared",
	[BWARB_SRC_PERF] = "perf",
	[BWARB_SRC_MCHBAR] = "mchbar",
};

/* What a counter counts; 'total' counters feed only measured_mbps. */
enum bwarb_dir { BWARB_DIR_READ, BWARB_DIR_WRITE, BWARB_DIR_TOTAL,
		 BWARB_DIR_COUNT };

static const char * const bwarb_dir_names[BWARB_DIR_COUNT] = {
	[BWARB_DIR_READ] = "read",
	[BWARB_DIR_WRITE] = "write",
	[BWARB_DIR_TOTAL] = "total",
};

/* One configured perf counter. All fields: [M] (bwarb_counters.mutex). */
struct bwarb_counter {
	struct perf_event *event;
	enum bwarb_dir dir;
	u32 type;
	int cpu;
	u64 config, config1, config2;
	u64 scale_num, scale_den;	/* bytes per count = num / den */
	char label[BWARB_LABEL_LEN];
	bool primed;			/* last_* hold a previous sample */
	u64 last_count;
	u64 last_enabled;
	u64 last_running;
	u64 last_ns;
	u64 last_span_ns;		/* how long the read at last_ns took */
};

/*
 * Locking: @mutex [M] serialises configuration (sysfs writes) against the
 * sampling work, which holds it while reading counters (that may sleep).
 * @lock [S] protects the published figures; it is taken in hard-irq context
 * by the period timer while bd->lock is held, so the order is bd->lock, then
 * @lock, and nothing sleeps under it. @source is written under both, so
 * either one suffices to read it.
 */
struct bwarb_counters {
	struct bwarb_dev *bd;
	struct work_struct sample_work;

	struct mutex mutex;		/* see Locking above */
	struct bwarb_counter ctr[BWARB_MAX_COUNTERS];	/* [M] */
	unsigned int nr;				/* [M] */

	raw_spinlock_t lock;		/* see Locking above */
	enum bwarb_source source;	/* [M]+[S] */
	bool stopping;			/* [S] no more work is queued */
	int sample_cpu;			/* [S] where the counters live, or -1 */
	bool sample_valid;		/* [S] rate_bps holds a full sample */
	u64 rate_bps[BWARB_DIR_COUNT];	/* [S] last sample, bytes/s */
	u64 avg_bps[BWARB_DIR_COUNT];	/* [S] EMA of rate_bps */
	u64 measured_bps;		/* [S] last period, every direction */
	u64 measured_avg_bps;		/* [S] EMA of measured_bps */
	u64 sample_errors;		/* [S] failed or inconsistent samples */
	u64 sample_ns;			/* [S] when the last sample was published */
	u64 period_ns;			/* [S] the arbiter's period at the last tick */
	u64 stale_events;		/* [S] times the samples went stale */
	u64 samples;			/* [S] samples published */
	/* mapped under [M] before source becomes mchbar, read under [S] */
	struct bwarb_mchbar mchbar;
	bool mchbar_primed;		/* [S] mchbar_lines holds a reading */
	u64 mchbar_lines[MCHBAR_NR_IMC][MCHBAR_NR_COUNTERS];	/* [S] */
	u64 mchbar_ns;			/* [S] time of that reading */
	u64 last_completed;		/* [L] clients' total at the last tick */
	u64 last_tick_ns;		/* [L] time of the last tick */
};

/*
 * A source without a fresh sample for this many periods (the PMU's CPU
 * went offline, the events stopped counting) is stale: the arbiter gets
 * no measurement (ARB_MEASURED_NONE) instead of the last rate forever.
 */
#define BWARB_STALE_PERIODS	8
/*
 * A counter read whose span and the previous read's together took more
 * than 1/BWARB_READ_SLACK of the interval between them is not used as a
 * sample point: each value could lie anywhere between its read's two
 * timestamps, an error of up to half the span at each end, so a rate is
 * off by at most 1/(2 * BWARB_READ_SLACK). The previous read counts too:
 * a 600 us read kept at the end of a 10 ms interval (the work delayed)
 * could be 30% off against the next, 1 ms one; a quick read after it
 * gives no rate but becomes the anchor.
 * Tighter (1/64 for one read) skipped samples on a debug kernel under TCG
 * often enough to delay a rate change by a period.
 */
#define BWARB_READ_SLACK	16

/* Longest span a rate or a clamp is computed over: 1000 s. */
#define BWARB_MAX_SPAN_NS	(1000ULL * NSEC_PER_SEC)

/* a * b / c, or U64_MAX when the quotient does not fit (or c is 0). */
static u64 bwarb_mul_div_sat(u64 a, u64 b, u64 c)
{
	if (!c || mul_u64_u64_shr(a, b, 64) >= c)
		return U64_MAX;
	return mul_u64_u64_div_u64(a, b, c);
}

/*
 * The most bytes any bus carries in ns: ARB_MAX_MBPS (10 TB/s, far above
 * a real one). A counter that moved more than this in the time elapsed
 * jumped or was reset (suspend, a controller reset): its delta is no
 * measurement.
 */
static u64 bwarb_bus_max_bytes(u64 ns)
{
	return mul_u64_u64_div_u64(ARB_MAX_MBPS, min(ns, BWARB_MAX_SPAN_NS),
				   NSEC_PER_USEC);
}

/* Bytes per second of bytes moved in ns (both clamped: never overflows). */
static u64 bwarb_rate_bps(u64 bytes, u64 ns)
{
	ns = clamp_t(u64, ns, 1, BWARB_MAX_SPAN_NS);
	bytes = min(bytes, bwarb_bus_max_bytes(ns));
	return mul_u64_u64_div_u64(bytes, NSEC_PER_SEC, ns);
}

/* The average moved toward v by span_ns over the time constant. */
static u64 bwarb_ema(const struct bwarb_counters *cs, u64 avg, u64 v,
		     u64 span_ns)
{
	u64 tau = max_t(u64, cs->period_ns, 1) << BWARB_AVG_SHIFT;

	if (span_ns >= tau)
		return v;
	if (v >= avg)
		return avg + mul_u64_u64_div_u64(v - avg, span_ns, tau);
	return avg - mul_u64_u64_div_u64(avg - v, span_ns, tau);
}

static u64 bwarb_bps_to_mbps(u64 bps)
{
	return div_u64(bps + 500000, 1000000);
}

/*
 * Publishes one period's total over span_ns (the time it covers); called
 * with @lock held.
 */
static void bwarb_publish_measured(struct bwarb_counters *cs, u64 bps,
				   u64 span_ns)
{
	cs->measured_avg_bps = cs->sample_valid ?
		bwarb_ema(cs, cs->measured_avg_bps, bps, span_ns) : bps;
	cs->measured_bps = bps;
}

/*
 * Publishes one sample's per-direction rates, which cover the time since
 * the previous sample; called with @lock held.
 */
static void bwarb_publish_rates(struct bwarb_counters *cs,
				const u64 rate[BWARB_DIR_COUNT])
{
	u64 now = ktime_get_ns(), span, total = 0;
	unsigned int i;

	span = now > cs->sample_ns ? now - cs->sample_ns : 0;
	for (i = 0; i < BWARB_DIR_COUNT; i++) {
		cs->avg_bps[i] = cs->sample_valid ?
			bwarb_ema(cs, cs->avg_bps[i], rate[i], span) : rate[i];
		cs->rate_bps[i] = rate[i];
		total += rate[i];
	}
	bwarb_publish_measured(cs, total, span);
	cs->sample_valid = true;
	cs->sample_ns = now;
	cs->samples++;
}

/*
 * Reads every counter once. A counter's rate is taken between the
 * midpoints of its consecutive reads, so queueing delays of the work item
 * do not distort it. A sample is published only if every counter gave a
 * consistent value; otherwise the previous figures stay (until they are
 * stale, see BWARB_STALE_PERIODS) and sample_errors grows.
 *
 * Consistent: the counter was enabled and running all along since the
 * previous read (the deltas of its enabled and running times, not their
 * totals: a counter descheduled once is not wrong forever), and it moved
 * forward by no more than a bus can carry in the time elapsed (a counter
 * that went backwards or jumped was reset: it is primed again). Deltas
 * are scaled, never the totals, and saturating: no counter value or
 * scale written by root divides by zero or overflows here.
 */
static void bwarb_sample_work(struct work_struct *work)
{
	struct bwarb_counters *cs = container_of(work, struct bwarb_counters,
						 sample_work);
	u64 rate[BWARB_DIR_COUNT] = { 0 };
	unsigned long flags;
	unsigned int i, errors = 0;
	bool complete = true;

	mutex_lock(&cs->mutex);
	if (cs->source != BWARB_SRC_PERF || !cs->nr)
		goto out;

	for (i = 0; i < cs->nr; i++) {
		struct bwarb_counter *c = &cs->ctr[i];
		u64 count, enabled, running, t0, t1, now, bytes, dt;

		t0 = ktime_get_ns();
		count = perf_event_read_value(c->event, &enabled, &running);
		t1 = ktime_get_ns();
		now = t0 + ((t1 - t0) >> 1);
		if (!c->primed) {
			complete = false;
		} else if (enabled <= c->last_enabled ||
			   running - c->last_running != enabled - c->last_enabled) {
			/* Not counting, or not all along: missed traffic. */
			errors++;
			complete = false;
		} else if (count < c->last_count || now <= c->last_ns) {
			errors++;	/* went backwards: reset */
			complete = false;
		} else if (t1 - t0 > (now - c->last_ns) / BWARB_READ_SLACK) {
			/*
			 * The read took too long to place its value in time
			 * (a vCPU or the work preempted inside it): no rate
			 * from it, and the previous read stays the anchor,
			 * so the next rate spans a longer, precise interval.
			 */
			complete = false;
			continue;
		} else if (t1 - t0 + c->last_span_ns >
			   (now - c->last_ns) / BWARB_READ_SLACK) {
			/*
			 * The previous read was slow for so short an interval:
			 * no rate from the two; this one, quick, is the anchor.
			 */
			complete = false;
		} else {
			dt = now - c->last_ns;
			bytes = bwarb_mul_div_sat(count - c->last_count,
						  c->scale_num, c->scale_den);
			if (bytes > bwarb_bus_max_bytes(dt)) {
				errors++;	/* jumped: reset */
				complete = false;
			} else {
				rate[c->dir] += bwarb_rate_bps(bytes, dt);
			}
		}
		c->primed = true;
		c->last_count = count;
		c->last_enabled = enabled;
		c->last_running = running;
		c->last_ns = now;
		c->last_span_ns = t1 - t0;
	}

	raw_spin_lock_irqsave(&cs->lock, flags);
	cs->sample_errors += errors;
	if (complete && cs->source == BWARB_SRC_PERF)
		bwarb_publish_rates(cs, rate);
	raw_spin_unlock_irqrestore(&cs->lock, flags);
out:
	mutex_unlock(&cs->mutex);
}

/*
 * The mchbar source, from the period timer with @lock held: the bytes the
 * controllers moved since the previous tick (ARB_MEASURED_NONE on the
 * first), and the rates over the time actually elapsed.
 */
static u64 bwarb_mchbar_sample(struct bwarb_counters *cs)
{
	u64 lines[MCHBAR_NR_IMC][MCHBAR_NR_COUNTERS];
	u64 bytes[BWARB_DIR_COUNT] = { 0 }, rate[BWARB_DIR_COUNT] = { 0 };
	u64 now, measured, max, d;
	unsigned int i, c;
	bool ok = true;

	bwarb_mchbar_read(&cs->mchbar, lines);
	now = ktime_get_ns();
	if (!cs->mchbar_primed || now <= cs->mchbar_ns) {
		measured = ARB_MEASURED_NONE;
	} else {
		/* A counter that reset or jumped: no measurement this time. */
		max = bwarb_bus_max_bytes(now - cs->mchbar_ns);
		for (i = 0; i < MCHBAR_NR_IMC; i++) {
			for (c = 0; c < MCHBAR_NR_COUNTERS; c++) {
				if (mchbar_delta_bytes(cs->mchbar_lines[i][c],
						       lines[i][c], max, &d)) {
					ok = false;
					continue;
				}
				bytes[c == MCHBAR_READ ? BWARB_DIR_READ :
				      BWARB_DIR_WRITE] += d;
			}
		}
		if (ok && bytes[BWARB_DIR_READ] + bytes[BWARB_DIR_WRITE] <= max) {
			for (i = 0; i < BWARB_DIR_COUNT; i++)
				rate[i] = bwarb_rate_bps(bytes[i],
							 now - cs->mchbar_ns);
			bwarb_publish_rates(cs, rate);
			measured = bytes[BWARB_DIR_READ] + bytes[BWARB_DIR_WRITE];
		} else {
			cs->sample_errors++;
			measured = ARB_MEASURED_NONE;
		}
	}
	memcpy(cs->mchbar_lines, lines, sizeof(lines));
	cs->mchbar_ns = now;
	cs->mchbar_primed = true;
	return measured;
}

u64 bwarb_counters_period_bytes(struct bwarb_dev *bd)
{
	struct bwarb_counters *cs = bd->counters;
	u64 period_ns = bd->params.period_ns;
	u64 measured = ARB_MEASURED_NONE;
	u64 completed, now, elapsed;
	struct arb_stats st;
	bool sample = false;
	int cpu = -1;

	if (!cs)
		return ARB_MEASURED_NONE;
	/*
	 * The time since the last tick, not the period: period_us may have
	 * changed in between (from 1 s to 10 us), and the timer may be late.
	 */
	now = ktime_get_ns();
	elapsed = cs->last_tick_ns && now > cs->last_tick_ns ?
		  now - cs->last_tick_ns : period_ns;
	cs->last_tick_ns = now;
	arb_get_stats(&bd->arb, &st);
	completed = st.completed_bytes - cs->last_completed;
	cs->last_completed = st.completed_bytes;

	raw_spin_lock(&cs->lock);
	cs->period_ns = period_ns;
	if (cs->source == BWARB_SRC_DECLARED) {
		/*
		 * What clients declared, up to what a bus carries in the time
		 * elapsed: a client may declare anything (2^40 bytes per
		 * grant), and the rate must not overflow in hard irq.
		 */
		measured = min(completed, bwarb_bus_max_bytes(elapsed));
		bwarb_publish_measured(cs, bwarb_rate_bps(measured, elapsed),
				       elapsed);
		cs->sample_valid = true;
		cs->sample_ns = now;
		cs->samples++;
	} else if (cs->source == BWARB_SRC_MCHBAR) {
		measured = bwarb_mchbar_sample(cs);
	} else {
		if (cs->sample_valid &&
		    now - cs->sample_ns > BWARB_STALE_PERIODS *
					  max(period_ns, elapsed)) {
			/* No fresh sample for too long: stale, not reused. */
			cs->sample_valid = false;
			memset(cs->rate_bps, 0, sizeof(cs->rate_bps));
			memset(cs->avg_bps, 0, sizeof(cs->avg_bps));
			cs->measured_bps = 0;
			cs->measured_avg_bps = 0;
			cs->stale_events++;
		}
		if (cs->sample_valid)
			measured = mul_u64_u64_div_u64(min(cs->measured_bps,
							   ARB_MAX_MBPS * 1000000ULL),
						       min(elapsed, BWARB_MAX_SPAN_NS),
						       NSEC_PER_SEC);
		sample = !cs->stopping;
		cpu = cs->sample_cpu;
	}
	raw_spin_unlock(&cs->lock);

	/*
	 * On the counters' CPU, perf_event_read_value() needs no IPI, so the
	 * read sits tightly between its two timestamps.
	 */
	if (sample && cpu >= 0 && cpu_online(cpu))
		queue_work_on(cpu, system_highpri_wq, &cs->sample_work);
	else if (sample)
		queue_work(system_highpri_wq, &cs->sample_work);
	return measured;
}

/* Drops every figure of the previous source; called with @mutex held. */
static void bwarb_reset_figures(struct bwarb_counters *cs)
{
	unsigned long flags;
	unsigned int i;

	for (i = 0; i < cs->nr; i++)
		cs->ctr[i].primed = false;
	raw_spin_lock_irqsave(&cs->lock, flags);
	cs->sample_valid = false;
	memset(cs->rate_bps, 0, sizeof(cs->rate_bps));
	memset(cs->avg_bps, 0, sizeof(cs->avg_bps));
	cs->measured_bps = 0;
	cs->measured_avg_bps = 0;
	cs->mchbar_primed = false;
	raw_spin_unlock_irqrestore(&cs->lock, flags);
}

static int bwarb_set_source(struct bwarb_counters *cs, enum bwarb_source src)
{
	enum bwarb_source old;
	unsigned long flags;
	int ret = 0;

	mutex_lock(&cs->mutex);
	if (src == BWARB_SRC_PERF && !cs->nr) {
		ret = -ENODEV;		/* no counter configured */
		goto out;
	}
	if (src == cs->source)
		goto out;
	if (src == BWARB_SRC_MCHBAR) {
		ret = bwarb_mchbar_open(&cs->mchbar);
		if (ret)
			goto out;
	}
	bwarb_reset_figures(cs);
	raw_spin_lock_irqsave(&cs->lock, flags);
	old = cs->source;
	cs->source = src;
	raw_spin_unlock_irqrestore(&cs->lock, flags);
	/* The timer reads the mapping only under @lock as source mchbar. */
	if (old == BWARB_SRC_MCHBAR)
		bwarb_mchbar_close(&cs->mchbar);
out:
	mutex_unlock(&cs->mutex);
	return ret;
}

/* The CPU of the first counter; called with @mutex held. */
static void bwarb_update_sample_cpu(struct bwarb_counters *cs)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&cs->lock, flags);
	cs->sample_cpu = cs->nr ? cs->ctr[0].cpu : -1;
	raw_spin_unlock_irqrestore(&cs->lock, flags);
}

static void bwarb_counters_clear_locked(struct bwarb_counters *cs)
{
	while (cs->nr) {
		cs->nr--;
		perf_event_release_kernel(cs->ctr[cs->nr].event);
		cs->ctr[cs->nr].event = NULL;
	}
	bwarb_update_sample_cpu(cs);
}

/*
 * Parses "DIR type=T config=C cpu=N scale=NUM/DEN [config1=X] [config2=X]
 * [label=L]" into @c. Numbers take a 0x prefix for hex.
 */
static int bwarb_parse_counter(char *line, struct bwarb_counter *c)
{
	bool have_type = false, have_config = false, have_cpu = false;
	bool have_scale = false;
	char *tok, *val, *slash;
	int i;

	tok = strsep(&line, " ");
	i = tok ? match_string(bwarb_dir_names, BWARB_DIR_COUNT, tok) : -EINVAL;
	if (i < 0)
		return -EINVAL;
	c->dir = i;

	while ((tok = strsep(&line, " ")) != NULL) {
		if (!*tok)
			continue;
		val = strchr(tok, '=');
		if (!val)
			return -EINVAL;
		*val++ = '\0';
		if (!strcmp(tok, "type")) {
			if (kstrtou32(val, 0, &c->type))
				return -EINVAL;
			have_type = true;
		} else if (!strcmp(tok, "config")) {
			if (kstrtou64(val, 0, &c->config))
				return -EINVAL;
			have_config = true;
		} else if (!strcmp(tok, "config1")) {
			if (kstrtou64(val, 0, &c->config1))
				return -EINVAL;
		} else if (!strcmp(tok, "config2")) {
			if (kstrtou64(val, 0, &c->config2))
				return -EINVAL;
		} else if (!strcmp(tok, "cpu")) {
			if (kstrtoint(val, 0, &c->cpu))
				return -EINVAL;
			have_cpu = true;
		} else if (!strcmp(tok, "scale")) {
			slash = strchr(val, '/');
			if (!slash)
				return -EINVAL;
			*slash++ = '\0';
			if (kstrtou64(val, 0, &c->scale_num) ||
			    kstrtou64(slash, 0, &c->scale_den))
				return -EINVAL;
			have_scale = true;
		} else if (!strcmp(tok, "label")) {
			if (strscpy(c->label, val, sizeof(c->label)) < 0)
				return -EINVAL;
		} else {
			return -EINVAL;
		}
	}
	if (!have_type || !have_config || !have_cpu || !have_scale)
		return -EINVAL;
	if (!c->scale_num || !c->scale_den)
		return -EINVAL;
	return 0;
}

/*
 * Creates the perf counter described by @c on its CPU. Errors: -EINVAL for
 * a generic perf type (not a memory-controller PMU), a CPU that does not
 * exist or is offline, or a CPU outside the PMU's cpumask (the PMU moved
 * or rejected the event); -ENOENT for a type no PMU has; other errors as
 * the PMU's event_init returns them.
 */
static int bwarb_counter_open(struct bwarb_counter *c)
{
	struct perf_event_attr attr = {
		.type = c->type,
		.size = sizeof(attr),
		.config = c->config,
		.config1 = c->config1,
		.config2 = c->config2,
		.pinned = 1,
	};
	struct perf_event *ev;

	if (c->type < PERF_TYPE_MAX)
		return -EINVAL;
	if (c->cpu < 0 || c->cpu >= nr_cpu_ids || !cpu_online(c->cpu))
		return -EINVAL;
	ev = perf_event_create_kernel_counter(&attr, c->cpu, NULL, NULL, NULL);
	if (IS_ERR(ev))
		return PTR_ERR(ev);
	if (ev->cpu != c->cpu) {
		perf_event_release_kernel(ev);
		return -EINVAL;
	}
	c->event = ev;
	return 0;
}

static int bwarb_counters_add(struct bwarb_counters *cs, char *line)
{
	struct bwarb_counter c = { };
	int ret;

	ret = bwarb_parse_counter(line, &c);
	if (ret)
		return ret;
	mutex_lock(&cs->mutex);
	if (cs->nr >= BWARB_MAX_COUNTERS) {
		ret = -ENOSPC;
		goto out;
	}
	ret = bwarb_counter_open(&c);
	if (ret)
		goto out;
	cs->ctr[cs->nr++] = c;
	bwarb_update_sample_cpu(cs);
out:
	mutex_unlock(&cs->mutex);
	return ret;
}

static int bwarb_counters_clear(struct bwarb_counters *cs)
{
	int ret = 0;

	mutex_lock(&cs->mutex);
	if (cs->source == BWARB_SRC_PERF)
		ret = -EBUSY;		/* switch to another source first */
	else
		bwarb_counters_clear_locked(cs);
	mutex_unlock(&cs->mutex);
	return ret;
}

static struct bwarb_counters *bwarb_cs(void)
{
	return bwarb_dev.counters;
}

static ssize_t source_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  bwarb_source_names[READ_ONCE(bwarb_cs()->source)]);
}

static ssize_t source_store(struct kobject *kobj, struct kobj_attribute *attr,
			    const char *buf, size_t count)
{
	int i, ret;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	i = sysfs_match_string(bwarb_source_names, buf);
	if (i < 0)
		return -EINVAL;
	ret = bwarb_set_source(bwarb_cs(), i);
	return ret ? ret : count;
}

static ssize_t counters_show(struct kobject *kobj, struct kobj_attribute *attr,
			     char *buf)
{
	struct bwarb_counters *cs = bwarb_cs();
	unsigned int i;
	int len = 0;

	mutex_lock(&cs->mutex);
	for (i = 0; i < cs->nr; i++) {
		const struct bwarb_counter *c = &cs->ctr[i];

		len += sysfs_emit_at(buf, len,
				     "%s type=%u config=0x%llx config1=0x%llx config2=0x%llx cpu=%d scale=%llu/%llu label=%s\n",
				     bwarb_dir_names[c->dir], c->type,
				     c->config, c->config1, c->config2, c->cpu,
				     c->scale_num, c->scale_den,
				     c->label[0] ? c->label : "-");
	}
	mutex_unlock(&cs->mutex);
	return len;
}

static ssize_t counters_store(struct kobject *kobj, struct kobj_attribute *attr,
			      const char *buf, size_t count)
{
	struct bwarb_counters *cs = bwarb_cs();
	char *line, *cmd;
	int ret;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	line = kstrndup(buf, count, GFP_KERNEL);
	if (!line)
		return -ENOMEM;
	cmd = strim(line);
	if (!strcmp(cmd, "clear"))
		ret = bwarb_counters_clear(cs);
	else if (!strncmp(cmd, "add ", 4))
		ret = bwarb_counters_add(cs, cmd + 4);
	else
		ret = -EINVAL;
	kfree(line);
	return ret ? ret : count;
}

enum bwarb_figure {
	FIG_READ, FIG_READ_AVG, FIG_WRITE, FIG_WRITE_AVG,
	FIG_MEASURED, FIG_MEASURED_AVG, FIG_ERRORS, FIG_STALE, FIG_SAMPLES,
};

static u64 bwarb_figure(enum bwarb_figure f)
{
	struct bwarb_counters *cs = bwarb_cs();
	unsigned long flags;
	u64 v;

	raw_spin_lock_irqsave(&cs->lock, flags);
	switch (f) {
	case FIG_READ:
		v = bwarb_bps_to_mbps(cs->rate_bps[BWARB_DIR_READ]);
		break;
	case FIG_READ_AVG:
		v = bwarb_bps_to_mbps(cs->avg_bps[BWARB_DIR_READ]);
		break;
	case FIG_WRITE:
		v = bwarb_bps_to_mbps(cs->rate_bps[BWARB_DIR_WRITE]);
		break;
	case FIG_WRITE_AVG:
		v = bwarb_bps_to_mbps(cs->avg_bps[BWARB_DIR_WRITE]);
		break;
	case FIG_MEASURED:
		v = bwarb_bps_to_mbps(cs->measured_bps);
		break;
	case FIG_MEASURED_AVG:
		v = bwarb_bps_to_mbps(cs->measured_avg_bps);
		break;
	case FIG_STALE:
		v = cs->stale_events;
		break;
	case FIG_SAMPLES:
		v = cs->samples;
		break;
	default:
		v = cs->sample_errors;
		break;
	}
	raw_spin_unlock_irqrestore(&cs->lock, flags);
	return v;
}

#define BWARB_FIGURE_ATTR(name, fig)					\
static ssize_t name##_show(struct kobject *kobj,			\
			   struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%llu\n", bwarb_figure(fig));		\
}									\
static struct kobj_attribute name##_attr = __ATTR_RO(name)

BWARB_FIGURE_ATTR(read_mbps, FIG_READ);
BWARB_FIGURE_ATTR(read_mbps_avg, FIG_READ_AVG);
BWARB_FIGURE_ATTR(write_mbps, FIG_WRITE);
BWARB_FIGURE_ATTR(write_mbps_avg, FIG_WRITE_AVG);
BWARB_FIGURE_ATTR(measured_mbps, FIG_MEASURED);
BWARB_FIGURE_ATTR(measured_mbps_avg, FIG_MEASURED_AVG);
BWARB_FIGURE_ATTR(sample_errors, FIG_ERRORS);
BWARB_FIGURE_ATTR(stale_events, FIG_STALE);
BWARB_FIGURE_ATTR(samples, FIG_SAMPLES);

/* The core's EMA of measured - completed, in bytes per period, as MB/s. */
static ssize_t unattributed_mbps_show(struct kobject *kobj,
				      struct kobj_attribute *attr, char *buf)
{
	struct bwarb_dev *bd = &bwarb_dev;
	struct arb_stats st;
	unsigned long flags;
	u64 period_ns;

	raw_spin_lock_irqsave(&bd->lock, flags);
	arb_get_stats(&bd->arb, &st);
	period_ns = bd->params.period_ns;
	raw_spin_unlock_irqrestore(&bd->lock, flags);
	/* bytes per ns * 1000 = MB/s */
	return sysfs_emit(buf, "%llu\n",
			  mul_u64_u64_div_u64(st.unattributed_bytes_ema,
					      NSEC_PER_USEC, period_ns));
}

static struct kobj_attribute source_attr = __ATTR_RW_MODE(source, 0644);
static struct kobj_attribute counters_attr = __ATTR_RW_MODE(counters, 0644);
static struct kobj_attribute unattributed_mbps_attr =
	__ATTR_RO(unattributed_mbps);

static struct attribute *bwarb_counters_attrs[] = {
	&source_attr.attr,
	&counters_attr.attr,
	&read_mbps_attr.attr,
	&read_mbps_avg_attr.attr,
	&write_mbps_attr.attr,
	&write_mbps_avg_attr.attr,
	&measured_mbps_attr.attr,
	&measured_mbps_avg_attr.attr,
	&unattributed_mbps_attr.attr,
	&sample_errors_attr.attr,
	&stale_events_attr.attr,
	&samples_attr.attr,
	NULL,
};

static const struct attribute_group bwarb_counters_group = {
	.attrs = bwarb_counters_attrs,
};

int bwarb_counters_init(struct bwarb_dev *bd)
{
	struct bwarb_counters *cs;
	unsigned long flags;
	int ret;

	cs = kzalloc(sizeof(*cs), GFP_KERNEL);
	if (!cs)
		return -ENOMEM;
	cs->bd = bd;
	mutex_init(&cs->mutex);
	raw_spin_lock_init(&cs->lock);
	INIT_WORK(&cs->sample_work, bwarb_sample_work);
	cs->source = BWARB_SRC_DECLARED;
	cs->sample_cpu = -1;

	raw_spin_lock_irqsave(&bd->lock, flags);
	bd->counters = cs;
	raw_spin_unlock_irqrestore(&bd->lock, flags);

	ret = sysfs_create_group(bd->kobj, &bwarb_counters_group);
	if (ret)
		goto err_free;
	bwarb_debugfs_init(bd);
	return 0;

err_free:
	raw_spin_lock_irqsave(&bd->lock, flags);
	bd->counters = NULL;
	raw_spin_unlock_irqrestore(&bd->lock, flags);
	kfree(cs);
	return ret;
}

void bwarb_counters_exit(struct bwarb_dev *bd)
{
	struct bwarb_counters *cs = bd->counters;
	unsigned long flags;

	if (!cs)
		return;
	bwarb_debugfs_exit(bd);
	sysfs_remove_group(bd->kobj, &bwarb_counters_group);

	/* No new work after this; then wait for the queued one. */
	raw_spin_lock_irqsave(&bd->lock, flags);
	raw_spin_lock(&cs->lock);
	cs->stopping = true;
	raw_spin_unlock(&cs->lock);
	bd->counters = NULL;
	raw_spin_unlock_irqrestore(&bd->lock, flags);
	cancel_work_sync(&cs->sample_work);

	mutex_lock(&cs->mutex);
	bwarb_counters_clear_locked(cs);
	bwarb_mchbar_close(&cs->mchbar);
	mutex_unlock(&cs->mutex);
	kfree(cs);
}
