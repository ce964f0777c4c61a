// SPDX-License-Identifier: MIT
/*
 * The split backend: places each op on the CPU or the iGPU backend and
 * keeps their results ordered. See scheduler.h.
 */
#include "sched/scheduler.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RATE_EMA 0.25		/* weight of a new rate measurement */
#define RATE_INIT 1.0		/* bytes per ns (1 GB/s) until measured */

struct sm_linear {
	struct sm_linear *h;	/* on dev */
	enum sm_device dev;
};

struct sm_expert {
	struct sm_expert *h[2];	/* NULL where not packed */
	int hidden, inter;
	uint64_t wbytes;
};

struct split_be {
	struct sm_backend be;
	struct sm_backend *d[2];
	struct sm_split_plan plan;
	int layer;
	enum sm_stage stage;
	bool gpu_busy;		/* ops queued on the iGPU since it was last drained */
	bool gpu_shared;	/* ... some of which are not experts */
	int rr;			/* expert-parallel: next device of this stage */
	double rate[2];		/* expert bytes per ns */
	uint64_t gpu_q_bytes;	/* expert bytes queued since the last drain */
	uint64_t gpu_q_t0;	/* when the first of them was queued */
	struct sm_split_stats st;
};

static struct split_be *sb(struct sm_backend *be)
{
	return be->priv;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int fail(struct split_be *s, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->be.last_error, sizeof(s->be.last_error), fmt, ap);
	va_end(ap);
	return rc;
}

/* An error of a device backend, with its message. */
static int dev_fail(struct split_be *s, enum sm_device d, int rc)
{
	return fail(s, rc, "%s: %s", s->d[d]->ops->name, s->d[d]->last_error);
}

static void rate_update(struct split_be *s, enum sm_device d, uint64_t bytes, uint64_t ns)
{
	double r;

	if (!bytes || !ns)
		return;
	r = (double)bytes / (double)ns;
	s->rate[d] = s->rate[d] * (1.0 - RATE_EMA) + r * RATE_EMA;
}

static int drain_gpu(struct split_be *s)
{
	int rc;

	if (!s->gpu_busy)
		return 0;
	rc = s->d[SM_DEV_GPU]->ops->sync(s->d[SM_DEV_GPU]);
	if (rc)
		return dev_fail(s, SM_DEV_GPU, rc);
	if (s->gpu_q_bytes)
		rate_update(s, SM_DEV_GPU, s->gpu_q_bytes, now_ns() - s->gpu_q_t0);
	s->gpu_q_bytes = 0;
	s->gpu_busy = false;
	s->gpu_shared = false;
	s->st.gpu_drains++;
	return 0;
}

/* Before an op on d: a CPU op waits for the iGPU unless both are experts. */
static int prepare(struct split_be *s, enum sm_device d, bool expert)
{
	if (d == SM_DEV_CPU && s->gpu_busy && (!expert || s->gpu_shared))
		return drain_gpu(s);
	return 0;
}

static void submitted(struct split_be *s, enum sm_device d, bool expert)
{
	s->st.ops[d]++;
	if (d == SM_DEV_GPU) {
		s->gpu_busy = true;
		if (!expert)
			s->gpu_shared = true;
	}
}

/* The device of a small op (not gated here; see backend.h) of the
 * current stage. */
static enum sm_device here(struct split_be *s)
{
	return sm_split_place(&s->plan, s->stage, s->layer);
}

#define RUN_UNGATED(s, call)						\
	do {								\
		enum sm_device d_ = here(s);				\
		struct sm_backend *b_ = (s)->d[d_];			\
		int rc_ = prepare(s, d_, false);			\
									\
		if (rc_)						\
			return rc_;					\
		rc_ = b_->ops->call;					\
		if (rc_)						\
			return dev_fail(s, d_, rc_);			\
		submitted(s, d_, false);				\
		return 0;						\
	} while (0)

/* ---- memory: the iGPU's USM, which the CPU reads as ordinary memory ---- */

static void *split_alloc(struct sm_backend *be, size_t bytes)
{
	struct sm_backend *g = sb(be)->d[SM_DEV_GPU];

	return g->ops->alloc(g, bytes);
}

static void split_free(struct sm_backend *be, void *p)
{
	struct sm_backend *g = sb(be)->d[SM_DEV_GPU];

	g->ops->free(g, p);
}

/* ---- weights ---- */

static void sum_bytes(struct split_be *s)
{
	s->be.packed_bytes = s->d[0]->packed_bytes + s->d[1]->packed_bytes;
	s->be.shared_bytes = s->d[0]->shared_bytes + s->d[1]->shared_bytes;
	s->be.borrowed_bytes = s->d[0]->borrowed_bytes + s->d[1]->borrowed_bytes;
}

/* Layer and stage from a linear's name (inference.c's names). */
static int linear_place(const char *name, int *layer, enum sm_stage *st)
{
	int l, n = 0;

	if (!name)
		return -EINVAL;
	if (!strcmp(name, "lm_head")) {
		*layer = -1;
		*st = SM_STAGE_HEAD;
		return 0;
	}
	if (sscanf(name, "model.layers.%d.%n", &l, &n) != 1 || n == 0)
		return -EINVAL;
	*layer = l;
	if (!strncmp(name + n, "self_attn.", 10))
		*st = SM_STAGE_ATTENTION;
	else if (!strcmp(name + n, "block_sparse_moe.gate"))
		*st = SM_STAGE_ROUTER;
	else
		return -EINVAL;
	return 0;
}

static int split_linear_create(struct sm_backend *be, const struct sm_linear_desc *d,
			       struct sm_linear **out)
{
	struct split_be *s = sb(be);
	struct sm_linear *l;
	enum sm_stage st;
	int layer, rc;

	if (linear_place(d->name, &layer, &st))
		return fail(s, -EINVAL, "split: cannot place linear '%s'", d->name ? d->name : "?");
	l = calloc(1, sizeof(*l));
	if (!l)
		return fail(s, -ENOMEM, "out of memory");
	l->dev = sm_split_place(&s->plan, st, layer);
	rc = s->d[l->dev]->ops->linear_create(s->d[l->dev], d, &l->h);
	if (rc) {
		enum sm_device dev = l->dev;

		free(l);
		return dev_fail(s, dev, rc);
	}
	sum_bytes(s);
	*out = l;
	return 0;
}

static void split_linear_destroy(struct sm_backend *be, struct sm_linear *l)
{
	struct split_be *s = sb(be);

	if (!l)
		return;
	s->d[l->dev]->ops->linear_destroy(s->d[l->dev], l->h);
	free(l);
	sum_bytes(s);
}

static int split_linear(struct sm_backend *be, struct sm_linear *l, const float *x, int m,
			float *y)
{
	struct split_be *s = sb(be);
	int rc = prepare(s, l->dev, false);

	if (rc)
		return rc;
	rc = s->d[l->dev]->ops->linear(s->d[l->dev], l->h, x, m, y);
	if (rc)
		return dev_fail(s, l->dev, rc);
	submitted(s, l->dev, false);
	return 0;
}

/*
 * An expert either device may run, stored once: the iGPU backend packs it
 * into host USM in the CPU's compute type and the row-major layout both
 * read, and the CPU backend computes on that memory in place. 0; 1 when
 * the CPU cannot compute on it (nothing created: pack for each device);
 * else a negative errno.
 */
static int expert_create_once(struct split_be *s, const struct sm_expert_desc *d,
			      struct sm_expert *e)
{
	struct sm_backend *cpu = s->d[SM_DEV_CPU], *gpu = s->d[SM_DEV_GPU];
	struct sm_expert_desc sd = *d;
	struct sm_expert_view v;
	int rc;

	if (!cpu->ops->expert_create_shared)
		return 1;
	sd.shared = true;
	sd.shared_dtype = s->be.compute == SM_BACKEND_BF16 ? PHIMOE_DTYPE_BF16 : PHIMOE_DTYPE_F32;
	rc = gpu->ops->expert_create(gpu, &sd, &e->h[SM_DEV_GPU]);
	if (rc)
		return dev_fail(s, SM_DEV_GPU, rc);
	rc = sm_be_expert_view(gpu, e->h[SM_DEV_GPU], &v);
	if (!rc)
		rc = cpu->ops->expert_create_shared(cpu, d->name, &v, &e->h[SM_DEV_CPU]);
	if (!rc)
		return 0;
	gpu->ops->expert_destroy(gpu, e->h[SM_DEV_GPU]);
	e->h[SM_DEV_GPU] = NULL;
	if (rc == -EOPNOTSUPP) {
		s->st.unshared_experts++;
		return 1;
	}
	return dev_fail(s, SM_DEV_CPU, rc);
}

static int split_expert_create(struct sm_backend *be, const struct sm_expert_desc *d,
			       struct sm_expert **out)
{
	struct split_be *s = sb(be);
	struct sm_expert *e = calloc(1, sizeof(*e));
	int layer = 0, rc = 0;
	bool need[2] = { true, true };

	if (!e)
		return fail(s, -ENOMEM, "out of memory");
	if (s->plan.mode == SM_SPLIT_PARTITION) {
		enum sm_device dev;

		if (!d->name || sscanf(d->name, "model.layers.%d.", &layer) != 1) {
			free(e);
			return fail(s, -EINVAL, "split: cannot place expert '%s'",
				    d->name ? d->name : "?");
		}
		dev = sm_split_place(&s->plan, SM_STAGE_EXPERTS, layer);
		need[!dev] = false;
	} else {
		rc = expert_create_once(s, d, e);
		if (rc <= 0)
			need[0] = need[1] = false;
		if (rc > 0)
			rc = 0;
	}
	for (int i = 0; i < 2 && !rc; i++)
		if (need[i]) {
			rc = s->d[i]->ops->expert_create(s->d[i], d, &e->h[i]);
			if (rc)
				rc = dev_fail(s, (enum sm_device)i, rc);
		}
	if (rc) {
		for (int i = 0; i < 2; i++)
			if (e->h[i])
				s->d[i]->ops->expert_destroy(s->d[i], e->h[i]);
		free(e);
		return rc;
	}
	e->hidden = (int)d->w1.shape[1];
	e->inter = (int)d->w1.shape[0];
	e->wbytes = d->w1.nbytes + d->w2.nbytes + d->w3.nbytes;
	sum_bytes(s);
	*out = e;
	return 0;
}

static void split_expert_destroy(struct sm_backend *be, struct sm_expert *e)
{
	struct split_be *s = sb(be);

	if (!e)
		return;
	/* the CPU's view first: it reads the iGPU's memory */
	for (int i = 0; i < 2; i++)
		if (e->h[i])
			s->d[i]->ops->expert_destroy(s->d[i], e->h[i]);
	free(e);
	sum_bytes(s);
}

/* Dynamic: the device that would finish this batch first. */
static enum sm_device fastest(struct split_be *s, uint64_t bytes)
{
	double cpu = (double)bytes / s->rate[SM_DEV_CPU];
	double queued = (double)s->gpu_q_bytes;
	double gpu;

	if (s->gpu_q_bytes) {	/* part of the queue is done by now */
		double done = (double)(now_ns() - s->gpu_q_t0) * s->rate[SM_DEV_GPU];

		queued = queued > done ? queued - done : 0;
	}
	gpu = (queued + (double)bytes) / s->rate[SM_DEV_GPU];
	return gpu <= cpu ? SM_DEV_GPU : SM_DEV_CPU;
}

static int split_expert(struct sm_backend *be, struct sm_expert *e, const float *x, int m,
			const float *scale, float *y)
{
	struct split_be *s = sb(be);
	uint64_t bytes = sm_expert_bytes(e->wbytes, m, e->hidden, e->inter);
	enum sm_device d;
	uint64_t t0;
	int rc;

	if (!e->h[SM_DEV_GPU])
		d = SM_DEV_CPU;
	else if (!e->h[SM_DEV_CPU])
		d = SM_DEV_GPU;
	else if (s->plan.mode == SM_SPLIT_EXPERT_PARALLEL)
		d = s->rr++ % 2 ? SM_DEV_CPU : SM_DEV_GPU;	/* the iGPU's first: it runs async */
	else
		d = fastest(s, bytes);
	rc = prepare(s, d, true);
	if (rc)
		return rc;
	if (d == SM_DEV_CPU && s->gpu_busy)
		s->st.overlapped++;
	t0 = now_ns();
	rc = s->d[d]->ops->expert(s->d[d], e->h[d], x, m, scale, y);
	if (rc)
		return dev_fail(s, d, rc);
	if (d == SM_DEV_CPU) {
		rate_update(s, SM_DEV_CPU, bytes, now_ns() - t0);
	} else {
		if (!s->gpu_q_bytes)
			s->gpu_q_t0 = t0;
		s->gpu_q_bytes += bytes;
	}
	s->st.experts[d]++;
	submitted(s, d, true);
	return 0;
}

/* ---- the small ops: where the plan puts the current stage ---- */

static int split_layernorm(struct sm_backend *be, const float *x, int m, int n,
			   const float *gamma, const float *beta, float eps, float *y)
{
	RUN_UNGATED(sb(be), layernorm(b_, x, m, n, gamma, beta, eps, y));
}

static int split_rope(struct sm_backend *be, float *x, int m, int row_stride, int heads,
		      int head_dim, int pos0, const float *cos_tab, const float *sin_tab)
{
	RUN_UNGATED(sb(be), rope(b_, x, m, row_stride, heads, head_dim, pos0, cos_tab, sin_tab));
}

static int split_attention(struct sm_backend *be, const struct sm_attn_args *a)
{
	RUN_UNGATED(sb(be), attention(b_, a));
}

static int split_router(struct sm_backend *be, const float *scores, int m, int n_experts,
			float jitter_eps, int32_t *experts, float *weights)
{
	RUN_UNGATED(sb(be), router(b_, scores, m, n_experts, jitter_eps, experts, weights));
}

static int split_gather(struct sm_backend *be, const float *src, int cols, const int32_t *rows,
			int n, float *dst)
{
	RUN_UNGATED(sb(be), gather(b_, src, cols, rows, n, dst));
}

static int split_scatter_add(struct sm_backend *be, const float *src, int cols,
			     const int32_t *rows, int n, float *dst)
{
	RUN_UNGATED(sb(be), scatter_add(b_, src, cols, rows, n, dst));
}

static int split_add(struct sm_backend *be, float *y, const float *x, size_t n)
{
	RUN_UNGATED(sb(be), add(b_, y, x, n));
}

static int split_sync(struct sm_backend *be)
{
	struct split_be *s = sb(be);
	int rc = drain_gpu(s);

	if (rc)
		return rc;
	rc = s->d[SM_DEV_CPU]->ops->sync(s->d[SM_DEV_CPU]);
	return rc ? dev_fail(s, SM_DEV_CPU, rc) : 0;
}

static void split_stage(struct sm_backend *be, int layer, enum sm_stage stage)
{
	struct split_be *s = sb(be);

	s->layer = layer;
	s->stage = stage;
	s->rr = 0;
	for (int i = 0; i < 2; i++)
		sm_be_stage(s->d[i], layer, stage);
}

static void split_destroy(struct sm_backend *be)
{
	struct split_be *s = sb(be);

	drain_gpu(s);
	free(s);	/* the device backends are borrowed */
}

static const struct sm_backend_ops split_ops = {
	.name = "split",
	.destroy = split_destroy,
	.alloc = split_alloc,
	.free = split_free,
	.linear_create = split_linear_create,
	.linear_destroy = split_linear_destroy,
	.linear = split_linear,
	.expert_create = split_expert_create,
	.expert_destroy = split_expert_destroy,
	.expert = split_expert,
	.layernorm = split_layernorm,
	.rope = split_rope,
	.attention = split_attention,
	.router = split_router,
	.gather = split_gather,
	.scatter_add = split_scatter_add,
	.add = split_add,
	.sync = split_sync,
	.stage = split_stage,
};

int sm_split_backend_create(const struct sm_split_opts *o, struct sm_backend **out,
			    char *err, size_t errlen)
{
	struct split_be *s;

	if (!o->cpu || !o->gpu) {
		snprintf(err, errlen, "split: needs both a CPU and a GPU backend");
		return -EINVAL;
	}
	if (o->cpu->compute != o->gpu->compute) {
		snprintf(err, errlen, "split: the CPU and GPU backends differ in compute type");
		return -EINVAL;
	}
	if ((unsigned)o->plan.mode > SM_SPLIT_DYNAMIC || o->plan.n_rules < 0 ||
	    o->plan.n_rules > SM_SPLIT_MAX_RULES) {
		snprintf(err, errlen, "split: bad plan (mode %d, %d rules)", (int)o->plan.mode,
			 o->plan.n_rules);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->be.ops = &split_ops;
	s->be.compute = o->cpu->compute;
	s->be.priv = s;
	s->d[SM_DEV_CPU] = o->cpu;
	s->d[SM_DEV_GPU] = o->gpu;
	s->plan = o->plan;
	s->rate[0] = s->rate[1] = RATE_INIT;
	*out = &s->be;
	return 0;
}

void sm_split_backend_stats(struct sm_backend *be, struct sm_split_stats *out)
{
	struct split_be *s = sb(be);

	*out = s->st;
	for (int i = 0; i < 2; i++) {
		out->rate_mb_s[i] = s->rate[i] * 1e3;	/* bytes/ns = GB/s = 1000 MB/s */
		out->weight_bytes[i] = s->d[i]->packed_bytes;
	}
	out->shared_weight_bytes = s->d[SM_DEV_GPU]->shared_bytes;
	out->borrowed_weight_bytes = s->d[SM_DEV_CPU]->borrowed_bytes;
}

void sm_split_expert_views(struct sm_backend *be, struct sm_expert *e,
			   struct sm_expert_view v[2], int rc[2])
{
	struct split_be *s = sb(be);

	memset(v, 0, 2 * sizeof(*v));
	for (int i = 0; i < 2; i++)
		rc[i] = e->h[i] ? sm_be_expert_view(s->d[i], e->h[i], &v[i]) : -ENOENT;
}
