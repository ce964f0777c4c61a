// SPDX-License-Identifier: MIT
/*
 * The CPU backend: oneDNN matmuls (dnnl_matmul.c) for the linear layers and
 * experts, cpu_math.c for everything else. Synchronous: every op has
 * finished when it returns, so sync() has nothing to wait for.
 */
#include "backend/backend.h"
#include "arbiter/arbiter.h"
#include "cpu/cpu_attention.h"
#include "cpu/cpu_gemv.h"
#include "cpu/cpu_math.h"
#include "cpu/dnnl_matmul.h"
#include "cpu/cpu_qgemm.h"
#include "cpu/cpu_qgemm_amx.h"
#include "cpu/quant.h"
#include "util/env_knob.h"
#include "util/omp_team.h"
#include "util/pass_timer.h"

#include <errno.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Packed: one fused product (w[0], nw 1). Mapped: one product per
 * checkpoint tensor, each writing its columns of the same output. */
struct sm_linear {
	struct dmm_weights *w[SM_LINEAR_MAX_PARTS];
	int nw;
	int col[SM_LINEAR_MAX_PARTS];	/* first output column of each part */
	int in, out;
	uint64_t wbytes, packed, mapped;
	/* Every part row-major (mapped, or packed in place): few-row
	 * products read it directly (cpu_gemv.h) */
	bool rowmajor;
	struct sm_gemv g[SM_LINEAR_MAX_PARTS];
	/* quantized (opts.quant): our copy, every m through cpu_gemv */
	bool quantized;
	struct sm_qweight qw[SM_LINEAR_MAX_PARTS];
	float *qbias[SM_LINEAR_MAX_PARTS];
};

struct sm_expert {
	/* w13 [2*inter][hidden] (w1 rows, then w3) packed or shared; or,
	 * mapped, w1 and w3 apart, writing the two halves of h */
	struct dmm_weights *w13, *w1, *w3;
	struct dmm_weights *w2;		/* [hidden][inter] */
	uint64_t packed, mapped;
	int hidden, inter;
	uint64_t borrowed;		/* bytes read from another backend's memory */
	/* Row-major weights: few-row products read them directly. up: w13,
	 * or w1 and w3 into the two halves of h; down: w2. */
	bool rowmajor;
	int nup;
	struct sm_gemv up[2], down;
	bool quantized;			/* qw: w1, w3, w2; every m through cpu_gemv */
	struct sm_qweight qw[3];
};

struct cpu_be {
	struct sm_backend be;
	struct dmm_ctx *mm;
	enum sm_weights_layout weights;
	enum sm_quant quant;
	int threads;
	int max_rows;
	/* products of up to this many rows run in cpu_gemv: linear layers,
	 * experts (bench: beyond these oneDNN's AMX/brgemm is faster) */
	int gemv_rows, gemv_expert_rows;
	/* expert work rows per lane (dnnl_matmul.h): lane 0 for the calls
	 * of the team, the others for experts run side by side */
	int nlanes;
	float **h;			/* [nlanes][max_rows][2*inter] */
	float **g;			/* [nlanes][max_rows][inter] */
	size_t h_elems, g_elems;
	/* quantized products' activations as int8 (cpu_qgemm.h): 2 x
	 * max_rows rows (hi and lo where xq_fine) of the widest input; an
	 * expert's down products reuse the bytes of its up products (a
	 * barrier apart) */
	void *xq;
	size_t xq_bytes;
	/* per thread of the team (c->threads), FUSED_ROWS_MAX rows of the
	 * experts' down products' input quantized as int8 (experts_gemv's
	 * few-row pass: each thread quantizes the whole input itself);
	 * xq_local_stride bytes apart */
	void *xq_local;
	size_t xq_local_stride;
	/* experts_gemv's fused pass: columns a unit of its first phase,
	 * bytes of the down products' share each thread asks into L2 before
	 * the barrier */
	int fused_cols;
	size_t down_prefetch;
	/* SPLITMOE_PROFILE_PASSES: the phases of the few-row products and
	 * of the fused pass, printed when the backend goes (else NULL) */
	struct sm_pass_timer *t_gemv, *t_fused;
};

static int fail(struct sm_backend *be, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static struct cpu_be *cpu(struct sm_backend *be)
{
	return be->priv;
}

/* Whether the tensors t[0..n) are to be read in place: every one in the
 * compute type (mapped, auto) or never (packed); mapped with another
 * dtype is an error naming the tensor (-EOPNOTSUPP). */
static int use_mapping(struct sm_backend *be, const struct phimoe_tensor *t, int n,
		       bool *map)
{
	enum phimoe_dtype dt = be->compute == SM_BACKEND_BF16 ? PHIMOE_DTYPE_BF16 :
				PHIMOE_DTYPE_F32;

	*map = cpu(be)->weights != SM_WEIGHTS_PACKED;
	for (int i = 0; *map && i < n; i++) {
		if (t[i].dtype == dt && t[i].ndim == 2)
			continue;
		*map = false;
		if (cpu(be)->weights == SM_WEIGHTS_MAPPED)
			return fail(be, -EOPNOTSUPP, "weights mapped: %s is %s, the compute type %s "
				    "(use weights packed or auto, or dtype %s)",
				    t[i].name ? t[i].name : "?", phimoe_dtype_name(t[i].dtype),
				    phimoe_dtype_name(dt), phimoe_dtype_name(t[i].dtype));
	}
	return 0;
}

static int fail(struct sm_backend *be, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(be->last_error, sizeof(be->last_error), fmt, ap);
	va_end(ap);
	return rc;
}

uint64_t sm_linear_bytes(uint64_t weight_bytes, int m, int in, int out)
{
	return weight_bytes + (uint64_t)m * ((uint64_t)in + out) * sizeof(float);
}

uint64_t sm_expert_bytes(uint64_t weight_bytes, int m, int hidden, int inter)
{
	/* x in, h (2*inter) out and back in, g, y out */
	return weight_bytes + (uint64_t)m * sizeof(float) *
	       (2ull * hidden + 5ull * inter);
}

static int gate_acquire(struct sm_backend *be, uint64_t bytes, uint64_t *grant)
{
	int rc;

	if (!be->gate)
		return 0;
	rc = sm_arb_acquire(be->gate, bytes, 0, grant);
	if (rc)
		return fail(be, rc, "arbiter: acquire of %llu bytes failed: %s",
			    (unsigned long long)bytes, strerror(-rc));
	return 0;
}

static int gate_complete(struct sm_backend *be, uint64_t grant, uint64_t bytes)
{
	int rc;

	if (!be->gate)
		return 0;
	rc = sm_arb_complete(be->gate, grant, bytes);
	if (rc)
		return fail(be, rc, "arbiter: complete failed: %s", strerror(-rc));
	return 0;
}

/* Below this many bytes per product a fork/join of the OpenMP team costs
 * more than the product (small models; every product of the full shape
 * but the router is far above). 1 MB, about 50 us of one core's reading:
 * a team whose workers slept since the last region takes longer than
 * that to wake, and on a loaded machine milliseconds (256 KB: prefill of
 * 6 tokens on the tiny shape at 120 tok/s, 2 threads, load 8; 1 MB:
 * 70,000). */
#define SMALL_PRODUCT_BYTES (1u << 20)

static void set_threads(struct cpu_be *c, uint64_t bytes)
{
	/* OpenMP's thread count is per calling thread: set it where we run */
	if (bytes && bytes < SMALL_PRODUCT_BYTES)
		omp_set_num_threads(1);
	else
		omp_set_num_threads(c->threads);
}

/*
 * A product between MID_PRODUCT_BYTES and SMALL_PRODUCT_BYTES on a team
 * of MID_TEAM_MIN or more runs on the whole team (omp_team.h: never a
 * part of it): the full shape's router (128 KB in bf16) took 14 us a
 * layer on one core of the 16-core machine, about a core's
 * latency-bound reading speed, while a big team in decode is still
 * spinning from the product before it. Small teams (2-core machines,
 * loaded) keep it on one thread.
 */
#define MID_PRODUCT_BYTES (64u << 10)
#define MID_TEAM_MIN 8

/* Threads for a product of this many bytes (our own kernels). */
static int threads_for(const struct cpu_be *c, uint64_t bytes)
{
	if (bytes >= SMALL_PRODUCT_BYTES)
		return c->threads;
	return bytes >= MID_PRODUCT_BYTES && c->threads >= MID_TEAM_MIN ? c->threads : 1;
}

static enum phimoe_dtype compute_dtype(const struct sm_backend *be)
{
	return be->compute == SM_BACKEND_BF16 ? PHIMOE_DTYPE_BF16 : PHIMOE_DTYPE_F32;
}

/* A row-major weight as a product of cpu_gemv (inputs filled per call);
 * false when oneDNN holds it in a packed layout. */
static bool gemv_of(const struct sm_backend *be, const struct dmm_weights *w,
		    struct sm_gemv *g)
{
	const void *data = dmm_weights_plain_data(w);

	memset(g, 0, sizeof(*g));
	if (!data || !sm_gemv_dtype_ok(compute_dtype(be)))
		return false;
	g->w = data;
	g->dtype = compute_dtype(be);
	g->n = dmm_weights_n(w);
	g->k = dmm_weights_k(w);
	g->bias = dmm_weights_bias(w);
	return true;
}

/* Work memory now: oneDNN's buffers and the experts' work rows. */
static void update_work_bytes(struct sm_backend *be)
{
	struct cpu_be *c = cpu(be);

	be->work_bytes = dmm_ctx_buffer_bytes(c->mm) +
			 (uint64_t)c->nlanes * (c->h_elems + c->g_elems) * sizeof(float) +
			 c->xq_bytes + (size_t)c->threads * c->xq_local_stride;
}

static void cpu_destroy(struct sm_backend *be)
{
	struct cpu_be *c = cpu(be);

	dmm_ctx_destroy(c->mm);
	for (int l = 0; l < c->nlanes; l++) {
		free(c->h ? c->h[l] : NULL);
		free(c->g ? c->g[l] : NULL);
	}
	free(c->h);
	free(c->g);
	free(c->xq);
	free(c->xq_local);
	for (int i = 0; i < 2; i++) {
		struct sm_pass_timer *t = i ? c->t_fused : c->t_gemv;
		char line[512];

		if (t && t->calls) {
			sm_pass_timer_format(t, line, sizeof(line));
			fprintf(stderr, "%s\n", line);
		}
		sm_pass_timer_free(t);
	}
	free(c);
}

static void *cpu_alloc(struct sm_backend *be, size_t bytes)
{
	void *p = NULL;

	(void)be;
	/* 64-byte lines for the vector kernels */
	if (posix_memalign(&p, 64, bytes ? (bytes + 63) / 64 * 64 : 64))
		return NULL;
	return p;
}

static void cpu_free(struct sm_backend *be, void *p)
{
	(void)be;
	free(p);
}

/* An int8 activation buffer *buf of *have bytes grown to want (contents
 * not kept). */
static int grow_xq(struct sm_backend *be, void **buf, size_t *have, size_t want)
{
	if (want <= *have)
		return 0;
	free(*buf);
	*have = 0;
	*buf = cpu_alloc(be, want);
	if (!*buf)
		return fail(be, -ENOMEM, "out of memory (%zu bytes of int8 activations)", want);
	*have = want;
	return 0;
}

/* The int8 activation buffer grown to max_rows rows of k inputs. */
static int xq_buffer(struct sm_backend *be, int k)
{
	struct cpu_be *c = cpu(be);

	/* every form a product's activations take (cpu_qgemm.h) */
	return grow_xq(be, &c->xq, &c->xq_bytes, (size_t)c->max_rows * sm_qact_slot_bytes(k));
}

/* Rows of the experts of one experts_gemv call up to which it fuses the
 * up products with silu: each thread runs w1 and w3 rows of the same
 * columns and gates them itself, then quantizes the down products' whole
 * input for itself (decode: 2 rows of 448), which saves a barrier and a
 * phase of 16 threads over 896 values. */
#define FUSED_ROWS_MAX 8

/* The per-thread int8 buffers of experts_gemv's fused pass grown to
 * FUSED_ROWS_MAX rows of k inputs. */
static int xq_local_buffer(struct sm_backend *be, int k)
{
	struct cpu_be *c = cpu(be);
	size_t stride = FUSED_ROWS_MAX * sm_qact_slot_bytes(k);
	size_t have = (size_t)c->threads * c->xq_local_stride;

	if (stride <= c->xq_local_stride)
		return 0;
	if (grow_xq(be, &c->xq_local, &have, (size_t)c->threads * stride)) {
		c->xq_local_stride = 0;
		return -ENOMEM;
	}
	c->xq_local_stride = stride;
	return 0;
}

static void linear_free(struct sm_linear *l)
{
	for (int i = 0; i < SM_LINEAR_MAX_PARTS; i++) {
		dmm_weights_destroy(l->w[i]);
		sm_qweight_free(&l->qw[i]);
		free(l->qbias[i]);
	}
	free(l);
}

/*
 * Whether the tensors t[0..n) are a quantized file's (model.h: quant set),
 * to be read in place: then every one is, in one format, and --quant, when
 * given, names that format (else an error naming the tensor).
 */
static int file_quantized(struct sm_backend *be, const char *what,
			  const struct phimoe_tensor *t, int n, bool *yes)
{
	enum sm_quant q = cpu(be)->quant;

	*yes = false;
	for (int i = 0; i < n; i++)
		*yes |= t[i].quant != PHIMOE_QUANT_NONE;
	for (int i = 0; *yes && i < n; i++) {
		const char *name = t[i].name ? t[i].name : "?";

		if (t[i].quant != t[0].quant)
			return fail(be, -EINVAL, "%s: %s is stored as %s, %s as %s: one format per product",
				    what, name, phimoe_quant_name(t[i].quant),
				    t[0].name ? t[0].name : "?", phimoe_quant_name(t[0].quant));
		if (q != SM_QUANT_NONE && (int)q != (int)t[i].quant)
			return fail(be, -EINVAL, "%s: %s is stored quantized as %s, quant %s asks for "
				    "another format", what, name, phimoe_quant_name(t[i].quant),
				    sm_quant_format_name(q));
	}
	return 0;
}

/* Every part quantized, each into its columns of y: our copy (the caller
 * checked that the input width fits the group), or, view, a quantized
 * file's tensors in place. */
static int linear_quantize(struct sm_backend *be, const struct sm_linear_desc *d,
			   bool view, struct sm_linear *l)
{
	enum sm_quant q = cpu(be)->quant;
	int out = 0;

	for (int i = 0; i < d->nparts; i++)
		out += (int)d->w[i].shape[0];
	l->quantized = l->rowmajor = true;
	l->nw = d->nparts;
	for (int i = 0; i < d->nparts; i++) {
		const struct phimoe_tensor *t = &d->w[i];
		enum sm_quant qi = q;

		if (t->ndim != 2 || t->shape[1] != d->w[0].shape[1])
			return fail(be, -EINVAL, "%s: parts do not have %lld columns",
				    d->name ? d->name : "?", (long long)d->w[0].shape[1]);
		if (view ? sm_qweight_view(t, &l->qw[i]) : sm_qweight_make(t, qi, &l->qw[i]))
			return fail(be, view ? -EINVAL : -ENOMEM, "%s: cannot quantize %s (%s)",
				    d->name ? d->name : "?", t->name ? t->name : "?",
				    view ? phimoe_quant_name(t->quant) : sm_quant_format_name(qi));
		if (d->b[i].data) {
			l->qbias[i] = malloc(sizeof(float) * (size_t)t->shape[0]);
			if (!l->qbias[i])
				return fail(be, -ENOMEM, "out of memory");
			phimoe_tensor_to_f32(&d->b[i], 0, (size_t)t->shape[0], l->qbias[i]);
		}
		sm_qweight_gemv(&l->qw[i], l->qbias[i], &l->g[i]);
		/* int8 only: q4's own error dwarfs the activations' (README) */
		l->g[i].xq_fine = d->fine_input && l->qw[i].kind == SM_GEMV_Q8;
		l->col[i] = i ? l->col[i - 1] + (int)d->w[i - 1].shape[0] : 0;
		if (view) {
			l->mapped += l->qw[i].bytes;
		} else {
			l->packed += l->qw[i].bytes;
			phimoe_tensor_release(t);
		}
	}
	l->in = (int)d->w[0].shape[1];
	l->out = out;
	l->wbytes = l->packed + l->mapped;
	return xq_buffer(be, l->in);
}

/* One product per checkpoint tensor, each into its columns of y. */
static int linear_map(struct sm_backend *be, const struct sm_linear_desc *d,
		      struct sm_linear *l)
{
	int out = 0, rc;

	for (int i = 0; i < d->nparts; i++)
		out += (int)d->w[i].shape[0];
	for (int i = 0; i < d->nparts; i++) {
		if (d->w[i].shape[1] != d->w[0].shape[1])
			return fail(be, -EINVAL, "%s: parts do not have %lld columns",
				    d->name ? d->name : "?", (long long)d->w[0].shape[1]);
		l->col[i] = i ? l->col[i - 1] + (int)d->w[i - 1].shape[0] : 0;
		rc = dmm_weights_map(cpu(be)->mm, &d->w[i], &d->b[i], out, &l->w[i],
				     be->last_error, sizeof(be->last_error));
		if (rc)
			return rc;
		l->nw = i + 1;
		l->mapped += dmm_weights_bytes(l->w[i]);
	}
	l->out = out;
	return 0;
}

static int cpu_linear_create(struct sm_backend *be, const struct sm_linear_desc *d,
			     struct sm_linear **out)
{
	struct cpu_be *c = cpu(be);
	struct sm_linear *l;
	bool map;
	int rc;

	if (d->nparts < 1 || d->nparts > SM_LINEAR_MAX_PARTS)
		return fail(be, -EINVAL, "%s: %d parts", d->name ? d->name : "?", d->nparts);
	rc = file_quantized(be, d->name ? d->name : "?", d->w, d->nparts, &map);
	if (rc)
		return rc;
	/* a quantized file's weights as stored (the router too, when the file
	 * holds it quantized); else --quant's copy, never of the router */
	if (map || (c->quant != SM_QUANT_NONE && !d->keep_precision && d->w[0].ndim == 2 &&
		    sm_quant_fits(c->quant, (int)d->w[0].shape[1]))) {
		l = calloc(1, sizeof(*l));
		if (!l)
			return fail(be, -ENOMEM, "out of memory");
		rc = linear_quantize(be, d, map, l);
		if (rc) {
			linear_free(l);
			return rc;
		}
		be->packed_bytes += l->packed;
		be->mapped_bytes += l->mapped;
		update_work_bytes(be);
		*out = l;
		return 0;
	}
	rc = use_mapping(be, d->w, d->nparts, &map);
	if (rc)
		return rc;
	l = calloc(1, sizeof(*l));
	if (!l)
		return fail(be, -ENOMEM, "out of memory");
	if (map) {
		rc = linear_map(be, d, l);
	} else {
		rc = dmm_weights_create(c->mm, d->w, d->b, d->nparts, &l->w[0],
					be->last_error, sizeof(be->last_error));
		if (!rc) {
			l->nw = 1;
			l->out = dmm_weights_n(l->w[0]);
			l->packed = dmm_weights_packed_bytes(l->w[0]);
			/* the copy is what oneDNN reads: the checkpoint's pages go */
			for (int i = 0; l->packed && i < d->nparts; i++)
				phimoe_tensor_release(&d->w[i]);
			/* a single tensor already in oneDNN's layout is used in place */
			l->mapped = l->packed ? 0 : dmm_weights_bytes(l->w[0]);
		}
	}
	if (rc) {
		linear_free(l);
		return rc;
	}
	l->in = dmm_weights_k(l->w[0]);
	l->rowmajor = true;
	for (int i = 0; i < l->nw; i++) {
		l->wbytes += dmm_weights_bytes(l->w[i]);
		l->rowmajor &= gemv_of(be, l->w[i], &l->g[i]);
	}
	be->packed_bytes += l->packed;
	be->mapped_bytes += l->mapped;
	update_work_bytes(be);
	*out = l;
	return 0;
}

static void cpu_linear_destroy(struct sm_backend *be, struct sm_linear *l)
{
	if (!l)
		return;
	be->packed_bytes -= l->packed;
	be->mapped_bytes -= l->mapped;
	linear_free(l);
}

const void *sm_cpu_linear_weight_data(const struct sm_linear *l, int i)
{
	if (i < 0 || i >= l->nw)
		return NULL;
	if (l->quantized)
		return l->qw[i].mapped ? l->qw[i].q : NULL;
	return dmm_weights_plain_data(l->w[i]);
}

static int cpu_linear(struct sm_backend *be, struct sm_linear *l, const float *x,
		      int m, float *y)
{
	struct cpu_be *c = cpu(be);
	uint64_t bytes = sm_linear_bytes(l->wbytes, m, l->in, l->out);
	uint64_t grant = 0;
	int rc = 0;

	if (m < 1 || m > c->max_rows)
		return fail(be, -EINVAL, "linear: %d rows (max %d)", m, c->max_rows);
	rc = gate_acquire(be, bytes, &grant);
	if (rc)
		return rc;
	if (l->rowmajor && (m <= c->gemv_rows || l->quantized)) {
		for (int i = 0; i < l->nw; i++) {
			l->g[i].m = m;
			l->g[i].x = x;
			l->g[i].ldx = l->in;
			l->g[i].y = y + l->col[i];
			l->g[i].ldy = l->out;
			l->g[i].xq = c->xq;	/* one x: quantized once */
		}
		sm_gemv_run_timed(l->g, l->nw, threads_for(c, bytes), c->t_gemv);
		return gate_complete(be, grant, bytes);
	}
	set_threads(c, bytes);
	float *ys[SM_LINEAR_MAX_PARTS];

	for (int i = 0; i < l->nw; i++)
		ys[i] = y + l->col[i];
	rc = dmm_run_parts(c->mm, l->w, l->nw, x, m, ys);
	if (rc) {
		gate_complete(be, grant, bytes);
		return fail(be, rc, "oneDNN: matmul %dx%dx%d failed", m, l->in, l->out);
	}
	return gate_complete(be, grant, bytes);
}

/* Work buffers sized by the widest expert, once. */
static int work_buffers(struct sm_backend *be, int inter)
{
	struct cpu_be *c = cpu(be);
	size_t he = (size_t)c->max_rows * 2 * inter, ge = (size_t)c->max_rows * inter;

	if (he <= c->h_elems)
		return 0;
	for (int l = 0; l < c->nlanes; l++) {
		free(c->h[l]);
		free(c->g[l]);
		c->h[l] = cpu_alloc(be, sizeof(float) * he);
		c->g[l] = cpu_alloc(be, sizeof(float) * ge);
		if (!c->h[l] || !c->g[l]) {
			c->h_elems = c->g_elems = 0;
			return -ENOMEM;
		}
	}
	c->h_elems = he;
	c->g_elems = ge;
	return 0;
}

static void expert_free(struct sm_expert *e)
{
	dmm_weights_destroy(e->w13);
	dmm_weights_destroy(e->w1);
	dmm_weights_destroy(e->w3);
	dmm_weights_destroy(e->w2);
	for (int i = 0; i < 3; i++)
		sm_qweight_free(&e->qw[i]);
	free(e);
}

/* w1, w3 (the two halves of h) and w2 quantized: our copy (the caller
 * checked that both input widths fit the group), or, view, a quantized
 * file's tensors in place. */
static int expert_quantize(struct sm_backend *be, const struct sm_expert_desc *d,
			   bool view, struct sm_expert *e)
{
	const struct phimoe_tensor *t[3] = { &d->w1, &d->w3, &d->w2 };
	enum sm_quant q = cpu(be)->quant;

	for (int i = 0; i < 3; i++) {
		enum sm_quant qi = q;

		if (view ? sm_qweight_view(t[i], &e->qw[i]) : sm_qweight_make(t[i], qi, &e->qw[i]))
			return fail(be, view ? -EINVAL : -ENOMEM, "expert %s: cannot quantize %s (%s)",
				    d->name ? d->name : "?", t[i]->name ? t[i]->name : "?",
				    view ? phimoe_quant_name(t[i]->quant) : sm_quant_format_name(qi));
		if (view) {
			e->mapped += e->qw[i].bytes;
		} else {
			e->packed += e->qw[i].bytes;
			phimoe_tensor_release(t[i]);
		}
	}
	if (xq_buffer(be, (int)d->w1.shape[1]) || xq_buffer(be, (int)d->w2.shape[1]) ||
	    xq_local_buffer(be, (int)d->w2.shape[1]))
		return -ENOMEM;
	e->quantized = e->rowmajor = true;
	e->nup = 2;
	sm_qweight_gemv(&e->qw[0], NULL, &e->up[0]);
	sm_qweight_gemv(&e->qw[1], NULL, &e->up[1]);
	sm_qweight_gemv(&e->qw[2], NULL, &e->down);
	return 0;
}

/* The expert's products for cpu_gemv, where its weights are row-major. */
static void expert_gemv(const struct sm_backend *be, struct sm_expert *e)
{
	if (e->w13) {
		e->nup = 1;
		e->rowmajor = gemv_of(be, e->w13, &e->up[0]);
	} else {
		e->nup = 2;
		e->rowmajor = gemv_of(be, e->w1, &e->up[0]) && gemv_of(be, e->w3, &e->up[1]);
	}
	e->rowmajor = e->rowmajor && gemv_of(be, e->w2, &e->down);
}

/* Every lane may run the expert (experts side by side in prefill). */
static int expert_lanes(struct cpu_be *c, struct sm_expert *e)
{
	struct dmm_weights *w[4] = { e->w13, e->w1, e->w3, e->w2 };

	for (int i = 0; i < 4; i++)
		if (w[i] && dmm_weights_lanes(c->mm, w[i]))
			return -ENOMEM;
	return 0;
}

static int cpu_expert_create(struct sm_backend *be, const struct sm_expert_desc *d,
			     struct sm_expert **out)
{
	struct cpu_be *c = cpu(be);
	struct sm_expert *e = calloc(1, sizeof(*e));
	struct phimoe_tensor w13[2] = { d->w1, d->w3 };
	int rc;

	if (!e)
		return fail(be, -ENOMEM, "out of memory");
	if (d->w1.shape[0] != d->w3.shape[0] || d->w2.shape[1] != d->w1.shape[0] ||
	    d->w2.shape[0] != d->w1.shape[1]) {
		free(e);
		return fail(be, -EINVAL, "expert %s: w1/w2/w3 shapes disagree",
			    d->name ? d->name : "?");
	}
	struct phimoe_tensor all[3] = { d->w1, d->w3, d->w2 };
	bool map = false;
	int inter = (int)d->w1.shape[0];

	rc = file_quantized(be, d->name ? d->name : "?", all, 3, &map);
	if (rc) {
		free(e);
		return rc;
	}
	if (map || (c->quant != SM_QUANT_NONE && sm_quant_fits(c->quant, (int)d->w1.shape[1]) &&
		    sm_quant_fits(c->quant, (int)d->w2.shape[1])))
		rc = expert_quantize(be, d, map, e);
	else
		rc = use_mapping(be, all, 3, &map);
	if (!rc && e->quantized) {
		/* cpu_gemv reads our copy: nothing for oneDNN */
	} else if (!rc && map) {
		/* w1 and w3 write the two halves of h, as the fused product does */
		rc = dmm_weights_map(c->mm, &d->w1, NULL, 2 * inter, &e->w1, be->last_error,
				     sizeof(be->last_error));
		if (!rc)
			rc = dmm_weights_map(c->mm, &d->w3, NULL, 2 * inter, &e->w3,
					     be->last_error, sizeof(be->last_error));
		if (!rc)
			rc = dmm_weights_map(c->mm, &d->w2, NULL, (int)d->w2.shape[0], &e->w2,
					     be->last_error, sizeof(be->last_error));
		if (!rc)
			e->mapped = dmm_weights_bytes(e->w1) + dmm_weights_bytes(e->w3) +
				    dmm_weights_bytes(e->w2);
	} else if (!rc) {
		rc = dmm_weights_create(c->mm, w13, NULL, 2, &e->w13, be->last_error,
					sizeof(be->last_error));
		if (!rc)
			rc = dmm_weights_create(c->mm, &d->w2, NULL, 1, &e->w2, be->last_error,
						sizeof(be->last_error));
		if (!rc) {
			e->packed = dmm_weights_packed_bytes(e->w13) +
				    dmm_weights_packed_bytes(e->w2);
			phimoe_tensor_release(&d->w1);
			phimoe_tensor_release(&d->w3);
			if (dmm_weights_packed_bytes(e->w2))
				phimoe_tensor_release(&d->w2);
			e->mapped = dmm_weights_packed_bytes(e->w2) ? 0 :
				    dmm_weights_bytes(e->w2);
		}
	}
	e->hidden = (int)d->w1.shape[1];
	e->inter = inter;
	if (!rc && !e->quantized)
		expert_gemv(be, e);
	if (!rc && (work_buffers(be, e->inter) || expert_lanes(c, e)))
		rc = fail(be, -ENOMEM, "out of memory");
	if (rc) {
		expert_free(e);
		return rc;
	}
	be->packed_bytes += e->packed;
	be->mapped_bytes += e->mapped;
	update_work_bytes(be);
	*out = e;
	return 0;
}

/* The weights stay where the view says (another backend's memory, e.g.
 * the iGPU's host USM): oneDNN runs on the row-major layout as it is. */
static int cpu_expert_create_shared(struct sm_backend *be, const char *name,
				    const struct sm_expert_view *v, struct sm_expert **out)
{
	struct cpu_be *c = cpu(be);
	struct sm_expert *e;
	int rc;

	if (v->w13.rows % 2 || v->w2.rows != v->w13.cols || v->w2.cols != v->w13.rows / 2 ||
	    v->w13.dtype != v->w2.dtype)
		return fail(be, -EINVAL, "expert %s: shared w13/w2 views disagree",
			    name ? name : "?");
	e = calloc(1, sizeof(*e));
	if (!e)
		return fail(be, -ENOMEM, "out of memory");
	rc = dmm_weights_wrap(c->mm, v->w13.data, v->w13.dtype, v->w13.rows, v->w13.cols,
			      &e->w13, be->last_error, sizeof(be->last_error));
	if (!rc)
		rc = dmm_weights_wrap(c->mm, v->w2.data, v->w2.dtype, v->w2.rows, v->w2.cols,
				      &e->w2, be->last_error, sizeof(be->last_error));
	e->hidden = v->w13.cols;
	e->inter = v->w13.rows / 2;
	if (!rc)
		expert_gemv(be, e);
	if (!rc && (work_buffers(be, e->inter) || expert_lanes(c, e)))
		rc = fail(be, -ENOMEM, "out of memory");
	if (rc) {
		dmm_weights_destroy(e->w13);
		dmm_weights_destroy(e->w2);
		free(e);
		return rc;
	}
	e->borrowed = dmm_weights_bytes(e->w13) + dmm_weights_bytes(e->w2);
	be->borrowed_bytes += e->borrowed;
	update_work_bytes(be);
	*out = e;
	return 0;
}

/* Only the row-major weights (shared or mapped in place) have a view:
 * what oneDNN reads, from its memory objects. */
static int cpu_expert_view(struct sm_backend *be, struct sm_expert *e,
			   struct sm_expert_view *out)
{
	enum phimoe_dtype dt = be->compute == SM_BACKEND_BF16 ? PHIMOE_DTYPE_BF16 :
				PHIMOE_DTYPE_F32;

	if (!e->w13)
		return -EOPNOTSUPP;	/* mapped: w1 and w3 are apart */
	out->w13 = (struct sm_weight_view){ dmm_weights_plain_data(e->w13), dt,
					    2 * e->inter, e->hidden };
	out->w2 = (struct sm_weight_view){ dmm_weights_plain_data(e->w2), dt,
					   e->hidden, e->inter };
	return out->w13.data && out->w2.data ? 0 : -EOPNOTSUPP;
}

static void cpu_expert_destroy(struct sm_backend *be, struct sm_expert *e)
{
	if (!e)
		return;
	be->borrowed_bytes -= e->borrowed;
	be->packed_bytes -= e->packed;
	be->mapped_bytes -= e->mapped;
	expert_free(e);
}

const void *sm_cpu_expert_weight_data(const struct sm_expert *e, int i)
{
	if (e->quantized)	/* qw: w1, w3, w2 */
		return i >= 0 && i < 3 && e->qw[i].mapped ? e->qw[i].q : NULL;
	switch (i) {
	case 0: return dmm_weights_plain_data(e->w13 ? e->w13 : e->w1);
	case 1: return e->w3 ? dmm_weights_plain_data(e->w3) : NULL;
	case 2: return dmm_weights_plain_data(e->w2);
	default: return NULL;
	}
}

/* Columns of silu (and of the down product's quantized input) one unit of
 * experts_gemv's team covers: whole quantization groups. */
#define SILU_CHUNK (2 * SM_Q4_GROUP)
/* Phase jobs of experts_gemv: at most 2 up products per expert. */
#define GEMV_EXPERTS_MAX (SM_GEMV_MAX_JOBS / 2)
/* Units of its own share a thread of the fused pass's first phase claims
 * at a time (as sm_gemv_run's STEAL_OWN_ROWS; fewer near its share's end). */
#define UP_OWN_UNITS 4

/* Columns of an expert's h a unit of the fused pass covers, by default
 * (SPLITMOE_EXPERTS_UNIT_COLS): the kernels' row tile (4), so that
 * decode's 2 x 448 columns split evenly. */
#define FUSED_COLS 4
/* KB of its down products' weights a thread of the fused pass asks into
 * L2 before the barrier that precedes them (SPLITMOE_EXPERTS_DOWN_PREFETCH_KB):
 * none by default. On the 16-core machine, int8 decode, 16 threads
 * (SPLITMOE_PROFILE_PASSES): 512 KB (int8's share is 240 KB) kept each
 * thread 19 us in the prefetches and 17 at the barrier, and the down
 * products took no less (42 us), against 0.1 and 5 without: 69-75
 * against 81.5 tok/s. */
#define DOWN_PREFETCH_KB 0

/* The up products of expert i's columns [c0, c1), both halves (w1 and
 * w3 rows of those columns), and silu(h1) * h3 of them for each row. */
static void expert_up_silu_cols(const struct sm_expert *e, const struct sm_gemv *up,
				float *hrow, float *grow, int m, int c0, int c1)
{
	if (e->nup == 1) {	/* w13: w1 rows, then w3 rows */
		sm_gemv_rows(&up[0], c0, c1);
		sm_gemv_rows(&up[0], e->inter + c0, e->inter + c1);
	} else {
		sm_gemv_rows(&up[0], c0, c1);
		sm_gemv_rows(&up[1], c0, c1);
	}
	for (int j = 0; j < m; j++)
		cm_silu_gate_cols(hrow + (size_t)j * 2 * e->inter, e->inter, c0, c1,
				  grow + (size_t)j * e->inter);
}

/* The fused pass's first phase in units of cols columns of each expert,
 * each weighed by the rows it reads and the products it makes (unlike
 * row counts in a batch). */
static void experts_units(struct sm_expert *const *e, const int *m, int count, int cols,
			  uint32_t *units, uint64_t *work)
{
	for (int i = 0; i < count; i++) {
		units[i] = (uint32_t)((e[i]->inter + cols - 1) / cols);
		work[i] = (uint64_t)e[i]->hidden * (uint64_t)(4 + m[i]);
	}
}

/*
 * Thread tid's share of the fused pass's first phase (experts_units, cut
 * by sm_share_of: the first shares of the stealing below), a contiguous
 * run; upi[i]: expert i's first product in up.
 */
static void experts_up_silu_part(struct sm_expert *const *e, const struct sm_gemv *up,
				 const int *upi, float *const *hrow, float *const *grow,
				 const int *m, int count, int cols, int tid, int nth)
{
	uint32_t units[GEMV_EXPERTS_MAX], u0, u1, at = 0;
	uint64_t work[GEMV_EXPERTS_MAX];

	experts_units(e, m, count, cols, units, work);
	sm_share_of(nth, count, units, work, tid, &u0, &u1);
	for (int i = 0; i < count; at += units[i], i++) {
		uint32_t a = sm_unit_in_part(u0, at, units[i]);
		uint32_t b = sm_unit_in_part(u1, at, units[i]);

		if (a < b)
			expert_up_silu_cols(e[i], up + upi[i], hrow[i], grow[i], m[i],
					    (int)a * cols,
					    (int)b * cols < e[i]->inter ? (int)b * cols : e[i]->inter);
	}
}

/*
 * The fused pass by shares with stealing instead (util/work_steal.h, as
 * sm_gemv_steal_rows turns on for products): in the first phase the
 * same units of FUSED_COLS columns and the same first shares as
 * experts_up_silu_part's, then units from the back of others' shares;
 * the down products as sm_gemv_run's, each thread's first share asked
 * into L2 before the barrier.
 */
static bool experts_steal_prepare(struct sm_expert *const *e, const int *m, int count, int cols,
				  int nth, struct sm_steal *s)
{
	uint32_t units[GEMV_EXPERTS_MAX];
	uint64_t work[GEMV_EXPERTS_MAX];

	experts_units(e, m, count, cols, units, work);
	return sm_steal_init(s, nth, count, units, work);
}

static void experts_up_silu_steal(struct sm_expert *const *e, const struct sm_gemv *up,
				  const int *upi, float *const *hrow, float *const *grow,
				  const int *m, int cols, int tid, struct sm_steal *s)
{
	struct sm_steal_cursor c = { 0, 0 };
	uint32_t a, b;
	int i;

	while (sm_steal_piece(s, tid, &c, UP_OWN_UNITS, 1, &i, &a, &b))
		expert_up_silu_cols(e[i], up + upi[i], hrow[i], grow[i], m[i], (int)a * cols,
				    (int)b * cols < e[i]->inter ? (int)b * cols : e[i]->inter);
}

/* experts_gemv's pass by phases (more rows than FUSED_ROWS_MAX, or AMX):
 * thread tid of nth's share, after the up products' quantization. */
static void experts_gemv_phases(struct sm_expert *const *e, const struct sm_gemv *up, int nup,
				const struct sm_gemv *down, float *const *hrow,
				float *const *grow, const int *m, int count, bool amx_down,
				int tid, int nth)
{
	sm_gemv_part(up, nup, tid, nth);
#pragma omp barrier
	/*
	 * silu over (expert, row, SILU_CHUNK columns) units, a share each,
	 * the columns quantized for the down product by the thread that
	 * made them: by rows alone, decode's 2 rows kept the other threads
	 * of 16 waiting 76 us a layer (q4, the 16-core machine) against 30
	 * for the up products.
	 */
	for (int i = 0, u = 0; i < count; i++) {
		int inter = e[i]->inter, chunks = (inter + SILU_CHUNK - 1) / SILU_CHUNK;

		for (int j = 0; j < m[i]; j++) {
			for (int ch = 0; ch < chunks; ch++, u++) {
				int c0 = ch * SILU_CHUNK;
				int c1 = c0 + SILU_CHUNK < inter ? c0 + SILU_CHUNK : inter;

				if (u % nth != tid)
					continue;
				cm_silu_gate_cols(hrow[i] + (size_t)j * 2 * inter, inter, c0, c1,
						  grow[i] + (size_t)j * inter);
				/* quantized rows have whole groups (checked at load) */
				if (down[i].quant != SM_GEMV_PLAIN && !amx_down)
					sm_gemv_quantize_row(&down[i], j, c0 / SM_Q4_GROUP,
							     c1 / SM_Q4_GROUP);
			}
		}
	}
#pragma omp barrier
	if (amx_down) {
		sm_gemv_quantize_part(down, count, tid, nth);
#pragma omp barrier
	}
	sm_gemv_part(down, count, tid, nth);
}

/*
 * Experts of few rows on row-major weights in one parallel region: the
 * up products of all of them, silu(h1) * h3, the down products with the
 * routing weights folded in. Rows of expert i sit at h/g row off_i.
 * The caller checked count <= GEMV_EXPERTS_MAX and sum m <= max_rows.
 * Up to FUSED_ROWS_MAX rows in all (decode), the fused pass: up and
 * silu by columns, the down products' weights asked into L2 while the
 * team gathers, every thread quantizing their input for itself.
 */
static void experts_gemv(struct cpu_be *c, struct sm_expert *const *e,
			 const float *const *x, const int *m, const float *const *scale,
			 float *const *y, int count, int nthreads)
{
	struct sm_gemv up[SM_GEMV_MAX_JOBS] = { { 0 } }, down[GEMV_EXPERTS_MAX] = { { 0 } };
	float *hrow[GEMV_EXPERTS_MAX], *grow[GEMV_EXPERTS_MAX];
	int nup = 0, rows = 0, upi[GEMV_EXPERTS_MAX];
	bool qup, qdown, amx_down = false, fused, steal;
	size_t local = 0;
	struct sm_steal up_steal, down_steal;
	struct sm_pass_timer *tm;
	int team = 1;

	for (int i = 0; i < count; i++) {
		int inter = e[i]->inter;

		hrow[i] = c->h[0] + (size_t)rows * 2 * inter;
		grow[i] = c->g[0] + (size_t)rows * inter;
		upi[i] = nup;
		for (int u = 0; u < e[i]->nup; u++) {
			up[nup] = e[i]->up[u];
			up[nup].m = m[i];
			up[nup].x = x[i];
			up[nup].ldx = e[i]->hidden;
			up[nup].y = hrow[i] + (size_t)u * inter;
			up[nup].ldy = 2 * inter;
			up[nup].xq = (char *)c->xq + (size_t)rows * sm_qact_slot_bytes(up[nup].k);
			nup++;
		}
		down[i] = e[i]->down;
		down[i].m = m[i];
		down[i].x = grow[i];
		down[i].ldx = inter;
		down[i].row_scale = scale[i];
		down[i].y = y[i];
		down[i].ldy = e[i]->hidden;
		/* the up products' activations are spent by then */
		down[i].xq = (char *)c->xq + (size_t)rows * sm_qact_slot_bytes(down[i].k);
		rows += m[i];
	}
	qup = sm_gemv_any_quantized(up, nup);
	qdown = sm_gemv_any_quantized(down, count);
	/* AMX's activations go by blocks of rows: after silu, a pass apart */
	for (int i = 0; i < count; i++)
		amx_down |= sm_qamx_product(&down[i]);
	if (nthreads <= 1) {
		if (qup)
			sm_gemv_quantize_part(up, nup, 0, 1);
		sm_gemv_part(up, nup, 0, 1);
		for (int i = 0; i < count; i++)
			cm_silu_gate(hrow[i], m[i], e[i]->inter, grow[i]);
		if (qdown)
			sm_gemv_quantize_part(down, count, 0, 1);
		sm_gemv_part(down, count, 0, 1);
		return;
	}
	/* the local buffers: c->threads of them, sized at load */
	for (int i = 0; i < count; i++)
		local += down[i].quant == SM_GEMV_PLAIN ? 0 :
			 (size_t)m[i] * sm_qact_slot_bytes(down[i].k);
	fused = rows <= FUSED_ROWS_MAX && !amx_down && nthreads <= c->threads &&
		local <= c->xq_local_stride;
	steal = fused && sm_gemv_stealing(down, count, nthreads) &&
		experts_steal_prepare(e, m, count, c->fused_cols, nthreads, &up_steal) &&
		sm_gemv_steal_prepare(down, count, nthreads, &down_steal);
	tm = fused ? c->t_fused : NULL;
	sm_pass_begin(tm);
#pragma omp parallel num_threads(nthreads)
	{
		int tid = omp_get_thread_num(), nth = omp_get_num_threads();

		sm_pass_mark(tm, tid, 0);
		if (qup) {
			sm_gemv_quantize_part(up, nup, tid, nth);
#pragma omp barrier
		}
		sm_pass_mark(tm, tid, 1);
		if (fused) {
			struct sm_gemv mine[GEMV_EXPERTS_MAX];
			char *xq = (char *)c->xq_local + (size_t)tid * c->xq_local_stride;

			if (steal)
				experts_up_silu_steal(e, up, upi, hrow, grow, m, c->fused_cols, tid,
						      &up_steal);
			else
				experts_up_silu_part(e, up, upi, hrow, grow, m, count,
						     c->fused_cols, tid, nth);
			sm_pass_mark(tm, tid, 2);
			if (steal)
				sm_gemv_steal_prefetch(down, tid, &down_steal, c->down_prefetch);
			else
				sm_gemv_prefetch_part(down, count, tid, nth, c->down_prefetch);
			sm_pass_mark(tm, tid, 3);
#pragma omp barrier
			sm_pass_mark(tm, tid, 4);
			for (int i = 0, r = 0; i < count; r += m[i], i++) {
				mine[i] = down[i];
				if (down[i].quant == SM_GEMV_PLAIN)
					continue;
				mine[i].xq = xq + (size_t)r * sm_qact_slot_bytes(down[i].k);
				for (int j = 0; j < m[i]; j++)
					sm_gemv_quantize_row(&mine[i], j, 0, down[i].k / SM_Q4_GROUP);
			}
			sm_pass_mark(tm, tid, 5);
			/* the same rows of every thread's copy: its own input */
			if (steal)
				sm_gemv_steal_part(mine, tid, &down_steal);
			else
				sm_gemv_part(mine, count, tid, nth);
			sm_pass_mark(tm, tid, 6);
			if (!tid)
				team = nth;
		} else {
			experts_gemv_phases(e, up, nup, down, hrow, grow, m, count, amx_down, tid,
					    nth);
		}
	}
	sm_pass_end(tm, team);
}

/* One expert through oneDNN on a lane's buffers (ungated). */
static int expert_dnnl(struct cpu_be *c, int lane, struct sm_expert *e, const float *x,
		       int m, const float *scale, float *y)
{
	float *h = c->h[lane], *g = c->g[lane];
	int rc;

	if (e->w13) {
		rc = dmm_run_lane(c->mm, lane, e->w13, x, m, h);
	} else {
		rc = dmm_run_lane(c->mm, lane, e->w1, x, m, h);
		if (!rc)
			rc = dmm_run_lane(c->mm, lane, e->w3, x, m, h + e->inter);
	}
	if (!rc) {
		cm_silu_gate(h, m, e->inter, g);
		rc = dmm_run_lane(c->mm, lane, e->w2, g, m, y);
	}
	if (!rc && scale)
		cm_scale_rows(y, m, e->hidden, scale);
	return rc;
}

static uint64_t expert_op_bytes(const struct sm_expert *e, int m)
{
	uint64_t wbytes = e->quantized ? e->packed + e->mapped :
			  e->w13 ? dmm_weights_bytes(e->w13) + dmm_weights_bytes(e->w2) :
			  e->mapped;

	return sm_expert_bytes(wbytes, m, e->hidden, e->inter);
}

static int cpu_expert(struct sm_backend *be, struct sm_expert *e, const float *x,
		      int m, const float *scale, float *y)
{
	struct cpu_be *c = cpu(be);
	uint64_t bytes = expert_op_bytes(e, m);
	uint64_t grant = 0;
	int rc;

	if (m < 1 || m > c->max_rows)
		return fail(be, -EINVAL, "expert: %d rows (max %d)", m, c->max_rows);
	rc = gate_acquire(be, bytes, &grant);
	if (rc)
		return rc;
	if (e->rowmajor && (m <= c->gemv_expert_rows || e->quantized)) {
		experts_gemv(c, &e, &x, &m, &scale, &y, 1, threads_for(c, bytes));
		return gate_complete(be, grant, bytes);
	}
	set_threads(c, bytes);
	rc = expert_dnnl(c, 0, e, x, m, scale, y);
	if (rc) {
		gate_complete(be, grant, bytes);
		return fail(be, rc, "oneDNN: expert (%d rows) failed", m);
	}
	return gate_complete(be, grant, bytes);
}

/*
 * Experts of many rows through oneDNN. Side by side, a piece per thread
 * on its own lane, when there are enough pieces to keep the team busy (a
 * product of ~64 rows split over every core spends more on splitting
 * than on work); else one after the other, each over the whole team, or
 * on the calling thread alone where the call's bytes are few (a fork
 * would cost more: small models' batched decode).
 * idx: the experts to run.
 */
/* Pieces the experts of a pass are cut into, at most (the stack). */
#define EXPERT_PIECES_MAX 256

struct expert_piece {
	int i;		/* which expert of the call */
	int r0, rows;	/* its rows [r0, r0 + rows) */
};

static int experts_dnnl(struct cpu_be *c, struct sm_expert *const *e,
			const float *const *x, const int *m, const float *const *scale,
			float *const *y, const int *idx, int nbig, uint64_t bytes)
{
	struct expert_piece pc[EXPERT_PIECES_MAX];
	int rc = 0, np = 0, total = 0, chunk, least = c->gemv_expert_rows + 1;

	/*
	 * Routing is skewed: one expert may take half the tokens, and run
	 * alone it would hold the whole team up. So each expert's rows are
	 * cut into pieces of about 1/(2 threads) of the total, every piece
	 * a whole expert pass (up, silu, down) on its rows, never fewer rows
	 * than oneDNN takes (least) on row-major weights.
	 */
	for (int j = 0; j < nbig; j++)
		total += m[idx[j]];
	chunk = (total + 2 * c->threads - 1) / (2 * c->threads);
	if (chunk < 2 * least)
		chunk = 2 * least;
	for (int j = 0; j < nbig; j++) {
		int i = idx[j], p = (m[i] + chunk - 1) / chunk;

		if (p > m[i] / least)
			p = m[i] / least > 0 ? m[i] / least : 1;
		if (np + p > EXPERT_PIECES_MAX)
			p = 1;
		for (int k = 0, r0 = 0; k < p && np < EXPERT_PIECES_MAX; k++) {
			int rows = m[i] / p + (k < m[i] % p);

			pc[np++] = (struct expert_piece){ i, r0, rows };
			r0 += rows;
		}
	}
	/* the largest first: dynamic scheduling then evens the team out */
	for (int a = 1; a < np; a++)
		for (int b = a; b > 0 && pc[b].rows > pc[b - 1].rows; b--) {
			struct expert_piece t = pc[b];

			pc[b] = pc[b - 1];
			pc[b - 1] = t;
		}
	if (bytes < SMALL_PRODUCT_BYTES || np * 2 < c->threads || c->nlanes < 2 || np < 2) {
		set_threads(c, bytes);	/* a small pass: one thread, no team */
		for (int j = 0; !rc && j < nbig; j++) {
			int i = idx[j];

			rc = expert_dnnl(c, 0, e[i], x[i], m[i], scale[i], y[i]);
		}
		return rc;
	}
#pragma omp parallel for num_threads(c->nlanes) schedule(dynamic, 1) reduction(|:rc)
	for (int j = 0; j < np; j++) {
		const struct expert_piece *q = &pc[j];
		size_t off = (size_t)q->r0 * e[q->i]->hidden;

		rc |= expert_dnnl(c, omp_get_thread_num(), e[q->i], x[q->i] + off, q->rows,
				  scale[q->i] ? scale[q->i] + q->r0 : NULL, y[q->i] + off);
	}
	return rc ? -EIO : 0;
}

static int cpu_experts(struct sm_backend *be, struct sm_expert *const *e,
		       const float *const *x, const int *m, const float *const *scale,
		       float *const *y, int count)
{
	struct cpu_be *c = cpu(be);
	uint64_t bytes = 0, grant = 0;
	int small[GEMV_EXPERTS_MAX], big[GEMV_EXPERTS_MAX];
	struct sm_expert *se[GEMV_EXPERTS_MAX];
	const float *sx[GEMV_EXPERTS_MAX], *ss[GEMV_EXPERTS_MAX];
	float *sy[GEMV_EXPERTS_MAX];
	int sm[GEMV_EXPERTS_MAX];
	int nsmall = 0, nbig = 0, rows = 0, rc;

	if (count > GEMV_EXPERTS_MAX) {
		for (int i = 0; i < count; i++) {
			rc = cpu_expert(be, e[i], x[i], m[i], scale[i], y[i]);
			if (rc)
				return rc;
		}
		return 0;
	}
	for (int i = 0; i < count; i++) {
		if (m[i] < 1 || m[i] > c->max_rows)
			return fail(be, -EINVAL, "expert: %d rows (max %d)", m[i], c->max_rows);
		bytes += expert_op_bytes(e[i], m[i]);
		if (e[i]->rowmajor && (m[i] <= c->gemv_expert_rows || e[i]->quantized))
			small[nsmall++] = i;
		else
			big[nbig++] = i;
	}
	for (int a = 1; a < nbig; a++)		/* largest first */
		for (int b = a; b > 0 && m[big[b]] > m[big[b - 1]]; b--) {
			int t = big[b];

			big[b] = big[b - 1];
			big[b - 1] = t;
		}
	rc = gate_acquire(be, bytes, &grant);
	if (rc)
		return rc;
	/* the few-row ones in passes of at most max_rows work rows */
	for (int j = 0, n = 0; j <= nsmall; j++) {
		int i = j < nsmall ? small[j] : -1;

		if (n && (i < 0 || rows + m[i] > c->max_rows)) {
			experts_gemv(c, se, sx, sm, ss, sy, n, threads_for(c, bytes));
			n = 0;
			rows = 0;
		}
		if (i < 0)
			break;
		se[n] = e[i];
		sx[n] = x[i];
		sm[n] = m[i];
		ss[n] = scale[i];
		sy[n] = y[i];
		rows += m[i];
		n++;
	}
	rc = experts_dnnl(c, e, x, m, scale, y, big, nbig, bytes);
	if (rc) {
		gate_complete(be, grant, bytes);
		return fail(be, rc, "oneDNN: experts failed");
	}
	return gate_complete(be, grant, bytes);
}

/* Elements of the element-wise ops each thread takes at least (about
 * 10 us of work: a fork and join costs microseconds, and on a loaded
 * machine a region waits for its slowest, maybe descheduled, thread).
 * A batch of 8 decode rows (8 x 4096) is one thread's. */
#define PAR_MIN_ELEMS 32768

static int par_threads(const struct sm_backend *be, size_t elems)
{
	size_t t = elems / PAR_MIN_ELEMS;

	/* enough for two: the whole team (omp_team.h) */
	return sm_team_threads(t, cpu((struct sm_backend *)be)->threads);
}

static int cpu_layernorm(struct sm_backend *be, const float *x, int m, int n,
			 const float *gamma, const float *beta, float eps, float *y)
{
#pragma omp parallel for num_threads(par_threads(be, (size_t)m * n)) schedule(static)
	for (int r = 0; r < m; r++)
		cm_layernorm(x + (size_t)r * n, 1, n, gamma, beta, eps, y + (size_t)r * n);
	return 0;
}

static int cpu_rope(struct sm_backend *be, float *x, int m, int row_stride,
		    int heads, int head_dim, int pos0, const float *cos_tab,
		    const float *sin_tab)
{
#pragma omp parallel for num_threads(par_threads(be, (size_t)m * heads * head_dim)) \
	schedule(static)
	for (int r = 0; r < m; r++)
		cm_rope(x + (size_t)r * row_stride, 1, row_stride, heads, head_dim, pos0 + r,
			cos_tab, sin_tab);
	return 0;
}

/* Checks one call's arguments and appends its keys and values. */
static int attention_append(struct sm_backend *be, const struct sm_attn_args *a)
{
	int kv_dim = a->n_kv_heads * a->head_dim;

	if (a->pos0 < 0 || a->m < 1 || a->pos0 + a->m > a->max_seq ||
	    a->n_kv_heads < 1 || a->n_heads % a->n_kv_heads)
		return fail(be, -EINVAL, "attention: bad arguments (pos %d, m %d, max %d)",
			    a->pos0, a->m, a->max_seq);
	if (a->block_table && (a->block_size < 1 || (a->block_size & (a->block_size - 1))))
		return fail(be, -EINVAL, "attention: KV block size %d is not a power of two",
			    a->block_size);
	if (!a->block_table) {
		cm_kv_append(a->k, a->v, a->row_stride, a->m, a->pos0, kv_dim,
			     a->k_cache, a->v_cache);
	} else {
		for (int r = 0; r < a->m; r++) {
			int j = a->pos0 + r;
			size_t row = (size_t)a->block_table[j / a->block_size] * a->block_size +
				     j % a->block_size;

			memcpy(a->k_cache + row * kv_dim, a->k + (size_t)r * a->row_stride,
			       sizeof(float) * kv_dim);
			memcpy(a->v_cache + row * kv_dim, a->v + (size_t)r * a->row_stride,
			       sizeof(float) * kv_dim);
		}
	}
	return 0;
}

static int cpu_attention(struct sm_backend *be, const struct sm_attn_args *a)
{
	int rc = attention_append(be, a);

	if (rc)
		return rc;
	ca_attention_blocks(a->q, a->row_stride, a->m, a->pos0, a->n_heads, a->n_kv_heads,
			    a->head_dim, a->window, a->scale, a->k_cache, a->v_cache,
			    a->block_table, a->block_size, a->out, cpu(be)->threads);
	return 0;
}

/* Whether two calls differ only in their sequence (what ca_attention_batch
 * takes per item). */
static bool same_shape(const struct sm_attn_args *a, const struct sm_attn_args *b)
{
	return a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads &&
	       a->head_dim == b->head_dim && a->window == b->window && a->scale == b->scale &&
	       a->row_stride == b->row_stride && a->k_cache == b->k_cache &&
	       a->v_cache == b->v_cache && a->block_size == b->block_size;
}

static int cpu_attention_batch(struct sm_backend *be, const struct sm_attn_args *a, int count)
{
	struct ca_item items[64];

	for (int i = 0; i < count; i++) {
		int rc;

		if (!same_shape(&a[0], &a[i]))
			return fail(be, -EINVAL, "attention batch: call %d has another shape or "
				    "cache than call 0", i);
		rc = attention_append(be, &a[i]);
		if (rc)
			return rc;
	}
	for (int b0 = 0; b0 < count; b0 += 64) {
		int n = count - b0 < 64 ? count - b0 : 64;

		for (int i = 0; i < n; i++) {
			const struct sm_attn_args *x = &a[b0 + i];

			items[i] = (struct ca_item){ .q = x->q, .m = x->m, .pos0 = x->pos0,
						     .block_table = x->block_table, .out = x->out };
		}
		ca_attention_batch(items, n, a->row_stride, a->n_heads, a->n_kv_heads,
				   a->head_dim, a->window, a->scale, a->k_cache, a->v_cache,
				   a->block_size, cpu(be)->threads);
	}
	return 0;
}

static int cpu_router(struct sm_backend *be, const float *scores, int m,
		      int n_experts, float jitter_eps, int32_t *experts,
		      float *weights)
{
#pragma omp parallel for num_threads(par_threads(be, (size_t)m * n_experts * 64)) \
	schedule(static)
	for (int r = 0; r < m; r++)
		cm_sparsemixer_top2(scores + (size_t)r * n_experts, n_experts,
				    jitter_eps, experts + 2 * r, weights + 2 * r);
	return 0;
}

static int cpu_gather(struct sm_backend *be, const float *src, int cols,
		      const int32_t *rows, int n, float *dst)
{
#pragma omp parallel for num_threads(par_threads(be, (size_t)n * cols)) schedule(static)
	for (int i = 0; i < n; i++)
		cm_gather(src, cols, rows + i, 1, dst + (size_t)i * cols);
	return 0;
}

/* Columns per thread share of scatter_add: each destination row still
 * takes its sources in increasing i. */
#define SCATTER_COL_BLOCK 256

static int cpu_scatter_add(struct sm_backend *be, const float *src, int cols,
			   const int32_t *rows, int n, float *dst)
{
	int nblk = (cols + SCATTER_COL_BLOCK - 1) / SCATTER_COL_BLOCK;

#pragma omp parallel for num_threads(par_threads(be, (size_t)n * cols)) schedule(static)
	for (int b = 0; b < nblk; b++) {
		int c0 = b * SCATTER_COL_BLOCK;
		int w = cols - c0 < SCATTER_COL_BLOCK ? cols - c0 : SCATTER_COL_BLOCK;

		for (int i = 0; i < n; i++) {
			float *d = dst + (size_t)rows[i] * cols + c0;
			const float *sr = src + (size_t)i * cols + c0;

#pragma omp simd
			for (int c = 0; c < w; c++)
				d[c] += sr[c];
		}
	}
	return 0;
}

static int cpu_add(struct sm_backend *be, float *y, const float *x, size_t n)
{
	size_t blk = PAR_MIN_ELEMS, nblk = (n + blk - 1) / blk;

#pragma omp parallel for num_threads(par_threads(be, n)) schedule(static)
	for (size_t b = 0; b < nblk; b++)
		cm_add(y + b * blk, x + b * blk, n - b * blk < blk ? n - b * blk : blk);
	return 0;
}

static int cpu_sync(struct sm_backend *be)
{
	(void)be;
	return 0;
}

static const struct sm_backend_ops cpu_ops = {
	.name = "cpu-onednn",
	.destroy = cpu_destroy,
	.alloc = cpu_alloc,
	.free = cpu_free,
	.linear_create = cpu_linear_create,
	.linear_destroy = cpu_linear_destroy,
	.linear = cpu_linear,
	.expert_create = cpu_expert_create,
	.expert_destroy = cpu_expert_destroy,
	.expert = cpu_expert,
	.experts = cpu_experts,
	.expert_view = cpu_expert_view,
	.expert_create_shared = cpu_expert_create_shared,
	.layernorm = cpu_layernorm,
	.rope = cpu_rope,
	.attention = cpu_attention,
	.attention_batch = cpu_attention_batch,
	.router = cpu_router,
	.gather = cpu_gather,
	.scatter_add = cpu_scatter_add,
	.add = cpu_add,
	.sync = cpu_sync,
};

/*
 * Up to these many rows our kernel on row-major weights beats oneDNN
 * (16 cores, AMX, bf16: splitmoe bench -p 16,64,512 with 8, 32 and 64:
 * linear layers gain up to 32 rows, pp16 67 -> 127 tok/s; experts lose
 * beyond 8, pp512 303 -> 261). SPLITMOE_GEMV_ROWS and
 * SPLITMOE_GEMV_EXPERT_ROWS override them for such measurements.
 */
#define GEMV_ROWS_DEFAULT 32
#define GEMV_EXPERT_ROWS_DEFAULT 8

int sm_cpu_backend_create(const struct sm_cpu_backend_opts *o,
			  struct sm_backend **out, char *err, size_t errlen)
{
	struct cpu_be *c;
	int rc;

	if (o->compute != SM_BACKEND_F32 && o->compute != SM_BACKEND_BF16) {
		snprintf(err, errlen, "cpu backend: unknown compute type %d", (int)o->compute);
		return -EINVAL;
	}
	if (o->threads < 0 || o->max_rows < 0) {
		snprintf(err, errlen, "cpu backend: threads %d / max_rows %d out of range",
			 o->threads, o->max_rows);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->be.ops = &cpu_ops;
	c->be.compute = o->compute;
	if (o->weights != SM_WEIGHTS_AUTO && o->weights != SM_WEIGHTS_PACKED &&
	    o->weights != SM_WEIGHTS_MAPPED) {
		free(c);
		snprintf(err, errlen, "cpu backend: unknown weights layout %d", (int)o->weights);
		return -EINVAL;
	}
	c->weights = o->weights;
	if (o->quant < SM_QUANT_NONE || o->quant > SM_QUANT_Q4) {
		free(c);
		snprintf(err, errlen, "cpu backend: unknown quantization %d", o->quant);
		return -EINVAL;
	}
	c->quant = (enum sm_quant)o->quant;
	c->be.gate = o->gate;
	c->be.priv = c;
	/* 0: whatever OpenMP would use here (OMP_NUM_THREADS or the cores) */
	c->threads = o->threads > 0 ? o->threads : omp_get_max_threads();
	c->max_rows = o->max_rows ? o->max_rows : 512;
	c->gemv_rows = (int)sm_env_knob("SPLITMOE_GEMV_ROWS", 0, 4096, GEMV_ROWS_DEFAULT);
	c->gemv_expert_rows = (int)sm_env_knob("SPLITMOE_GEMV_EXPERT_ROWS", 0, 4096,
						 GEMV_EXPERT_ROWS_DEFAULT);
	c->fused_cols = (int)sm_env_knob("SPLITMOE_EXPERTS_UNIT_COLS", 1, 1024, FUSED_COLS);
	c->down_prefetch = (size_t)sm_env_knob("SPLITMOE_EXPERTS_DOWN_PREFETCH_KB", 0, 65536,
					       DOWN_PREFETCH_KB) << 10;
	set_threads(c, 0);
	c->nlanes = c->threads;
	c->h = calloc(c->nlanes, sizeof(*c->h));
	c->g = calloc(c->nlanes, sizeof(*c->g));
	if (!c->h || !c->g) {
		free(c->h);
		free(c->g);
		free(c);
		return -ENOMEM;
	}
	rc = dmm_ctx_create(o->compute == SM_BACKEND_BF16, c->max_rows, c->nlanes, &c->mm,
			    err, errlen);
	if (rc) {
		free(c->h);
		free(c->g);
		free(c);
		return rc;
	}
	/* fewer rows on row-major weights run in cpu_gemv */
	dmm_ctx_set_min_plain_rows(c->mm, (c->gemv_rows < c->gemv_expert_rows ?
					   c->gemv_rows : c->gemv_expert_rows) + 1);
	if (sm_env_knob("SPLITMOE_PROFILE_PASSES", 0, 1, 0)) {
		static const char *const gemv_phases[] = { "quant-x", "rows" };
		static const char *const fused_phases[] = { "quant-x", "up", "prefetch",
							    "barrier", "quant-g", "down" };

		c->t_gemv = sm_pass_timer_new("few-row products", gemv_phases, 2);
		c->t_fused = sm_pass_timer_new("experts' fused pass", fused_phases, 6);
		if (!c->t_gemv || !c->t_fused) {
			cpu_destroy(&c->be);
			return -ENOMEM;
		}
	}
	*out = &c->be;
	return 0;
}
