// SPDX-License-Identifier: MIT
/*
 * The Level Zero backend: backend.h's ops as the kernels of kernels/, on
 * USM shared memory, through one immediate (in-order) command list. See
 * ze_backend.h.
 *
 * Every op is gated: it takes a slot of a small ring, acquires its byte
 * estimate, appends its kernels with the last one signalling the slot's
 * event, and completes the grant once the event has signalled (checked at
 * each later op and at sync). A slot still busy when its turn comes round
 * is waited for, so at most ZE_GATE_SLOTS grants are outstanding. The
 * small ops (norms, RoPE, attention, router, gather/scatter, add) are
 * gated too: the issue asks for every submission, and attention reads the
 * whole KV cache.
 */
#include "ze/ze_backend.h"
#include "arbiter/arbiter.h"
#include "ze/ze_device.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZE_GATE_SLOTS 32
#define ZE_SYNC_TIMEOUT_NS (600ull * 1000000000ull)	/* a stuck device, not a slow one */
#define ZE_MV_MAX_ROWS 4	/* up to this many rows: the matrix-vector kernels */
#define ZE_ATT_HD_MAX 256	/* kernels/attention.cl */

enum { OP_LINEAR, OP_EXPERT, OP_OTHER };

/* Kernel handles, one per kernel function; both weight types. */
struct ze_kernels {
	ze_kernel_handle_t matvec[2], matmul[2];	/* [0] bf16, [1] f32 */
	ze_kernel_handle_t gate_up_mv[2], gate_up_tiled[2];
	ze_kernel_handle_t scale_rows, sparsemixer, gather, scatter_add;
	ze_kernel_handle_t layernorm, rope, kv_store, att_prefill, att_decode;
	ze_kernel_handle_t residual_add;
};

struct gate_slot {
	ze_event_handle_t ev;		/* signalled by the op's last kernel */
	ze_event_handle_t ev_first;	/* by its first, when there are several */
	bool first_used;
	bool busy;
	int op;
	uint64_t grant, bytes;
};

struct sm_linear {
	void *w;		/* USM: [out][in], bf16 bits or f32 */
	float *b;		/* USM: [out] or NULL */
	int wt;			/* 0 bf16, 1 f32 */
	int in, out;
	uint64_t wbytes;
};

struct sm_expert {
	void *w13;		/* USM: w1 rows then w3 rows, [2*inter][hidden] */
	void *w2;		/* USM: [hidden][inter] */
	int wt;
	int hidden, inter;
	uint64_t wbytes;
	bool shared;		/* host USM, read by the CPU backend too */
};

struct ze_be {
	struct sm_backend be;
	struct ze_dev dev;
	ze_module_handle_t mods[8];
	struct ze_kernels k;
	ze_event_pool_handle_t pool;
	ze_event_handle_t sync_ev;
	struct gate_slot slots[ZE_GATE_SLOTS];
	int next_slot;
	int max_rows;
	float *h;		/* expert work buffer [max_rows][inter] */
	size_t h_elems;
	float *stage;		/* output staging for non-USM destinations */
	size_t stage_bytes;
	int err;		/* sticky */
	bool busy;		/* work appended since the list was last drained */
	struct gate_slot *cur;	/* the op being appended, between gate_begin and gate_end */
	struct sm_ze_profile prof;
};

static const char *const module_names[8] = {
	"matmul", "expert_ffn", "router", "scatter_gather", "layernorm", "rope",
	"attention", "elementwise",
};

static struct ze_be *zb(struct sm_backend *be)
{
	return be->priv;
}

static int fail(struct ze_be *z, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(z->be.last_error, sizeof(z->be.last_error), fmt, ap);
	va_end(ap);
	if (rc == -EIO || rc == -ETIMEDOUT)
		z->err = rc;	/* the device's state is unknown from here on */
	return rc;
}

static int ze_fail(struct ze_be *z, ze_result_t r, const char *what)
{
	return fail(z, r == ZE_RESULT_ERROR_DEVICE_LOST ? -EIO : -EINVAL,
		    "Level Zero: %s: %s (0x%x)", what, ze_result_name(r), r);
}

static bool is_usm(struct ze_be *z, const void *p)
{
	ze_memory_allocation_properties_t mp = { .stype = ZE_STRUCTURE_TYPE_MEMORY_ALLOCATION_PROPERTIES };

	return p && zeMemGetAllocProperties(z->dev.ctx, p, &mp, NULL) == ZE_RESULT_SUCCESS &&
	       mp.type != ZE_MEMORY_TYPE_UNKNOWN;
}

/* Host USM: weights that the CPU reads as well. On an iGPU it is the
 * same DRAM the device reads; unlike shared USM it never migrates, so
 * both devices may read it at the same time. (Not the checkpoint's own
 * pages: a file-backed mapping is no USM, and importing it takes the
 * zexDriverImportExternalPointer extension, which swgpu lacks; f32
 * compute needs a converted copy anyway.) */
static void *usm_alloc_host(struct ze_be *z, size_t bytes)
{
	ze_host_mem_alloc_desc_t hd = { ZE_STRUCTURE_TYPE_HOST_MEM_ALLOC_DESC, NULL, 0 };
	void *p = NULL;

	if (zeMemAllocHost(z->dev.ctx, &hd, bytes ? bytes : 64, 64, &p) != ZE_RESULT_SUCCESS)
		return NULL;
	return p;
}

static void *usm_alloc(struct ze_be *z, size_t bytes)
{
	ze_device_mem_alloc_desc_t dd = { ZE_STRUCTURE_TYPE_DEVICE_MEM_ALLOC_DESC, NULL, 0, 0 };
	ze_host_mem_alloc_desc_t hd = { ZE_STRUCTURE_TYPE_HOST_MEM_ALLOC_DESC, NULL, 0 };
	void *p = NULL;

	if (zeMemAllocShared(z->dev.ctx, &dd, &hd, bytes ? bytes : 64, 64, z->dev.device, &p) !=
	    ZE_RESULT_SUCCESS)
		return NULL;
	return p;
}

/* Waits for everything appended so far, whatever the sticky error says:
 * memory may be freed, events destroyed, only once nothing uses them. */
static void drain(struct ze_be *z)
{
	if (!z->busy || !z->dev.list)
		return;
	if (zeCommandListAppendBarrier(z->dev.list, z->sync_ev, 0, NULL) == ZE_RESULT_SUCCESS) {
		zeEventHostSynchronize(z->sync_ev, ZE_SYNC_TIMEOUT_NS);
		zeEventHostReset(z->sync_ev);
	}
	z->busy = false;
}

static void usm_free(struct ze_be *z, void *p)
{
	if (!p)
		return;
	drain(z);
	zeMemFree(z->dev.ctx, p);
}

/* ---- launching ---- */

struct karg {
	size_t size;
	const void *val;
};
#define A(v) ((struct karg){ sizeof(v), &(v) })

static int launch(struct ze_be *z, ze_kernel_handle_t k, const char *what,
		  uint32_t gx, uint32_t gy, uint32_t gz, uint32_t cx, uint32_t cy, uint32_t cz,
		  ze_event_handle_t signal, int nargs, const struct karg *args)
{
	ze_group_count_t gc = { cx, cy, cz };
	ze_result_t r;

	for (int i = 0; i < nargs; i++) {
		r = zeKernelSetArgumentValue(k, (uint32_t)i, args[i].size, args[i].val);
		if (r != ZE_RESULT_SUCCESS)
			return ze_fail(z, r, what);
	}
	r = zeKernelSetGroupSize(k, gx, gy, gz);
	z->busy = true;
	if (r == ZE_RESULT_SUCCESS)
		r = zeCommandListAppendLaunchKernel(z->dev.list, k, &gc, signal, 0, NULL);
	if (r != ZE_RESULT_SUCCESS)
		return ze_fail(z, r, what);
	/* counted here, where kernels are appended, so that a test can see
	 * that none escapes the arbiter */
	z->prof.launches++;
	if (z->cur)
		z->prof.gated_launches++;
	return 0;
}

#define LAUNCH(z, k, what, g, c, sig, ...)					\
	launch(z, k, what, (g)[0], (g)[1], (g)[2], (c)[0], (c)[1], (c)[2], sig,	\
	       (int)(sizeof((struct karg[]){ __VA_ARGS__ }) / sizeof(struct karg)), \
	       (struct karg[]){ __VA_ARGS__ })

static uint32_t cdiv(long a, long b)
{
	return (uint32_t)((a + b - 1) / b);
}

/* ---- gating ---- */

static void slot_finish(struct ze_be *z, struct gate_slot *s)
{
	ze_kernel_timestamp_result_t ts, t0;

	if (zeEventQueryKernelTimestamp(s->ev, &ts) == ZE_RESULT_SUCCESS &&
	    (!s->first_used || zeEventQueryKernelTimestamp(s->ev_first, &t0) == ZE_RESULT_SUCCESS)) {
		uint64_t start = s->first_used ? t0.global.kernelStart : ts.global.kernelStart;
		uint64_t ns = ts.global.kernelEnd > start ? ts.global.kernelEnd - start : 0;

		if (s->op == OP_LINEAR) {
			z->prof.linear_ns += ns;
			z->prof.linear_ops++;
		} else if (s->op == OP_EXPERT) {
			z->prof.expert_ns += ns;
			z->prof.expert_ops++;
		} else {
			z->prof.other_ns += ns;
			z->prof.other_ops++;
		}
	}
	if (z->be.gate)
		sm_arb_complete(z->be.gate, s->grant, s->bytes);
	/* an event left signalled would complete the slot's next grant
	 * before its kernels ran: the device is not to be trusted then */
	if (zeEventHostReset(s->ev) != ZE_RESULT_SUCCESS ||
	    (s->first_used && zeEventHostReset(s->ev_first) != ZE_RESULT_SUCCESS))
		fail(z, -EIO, "Level Zero: %s: cannot reset an event", z->dev.name);
	s->first_used = false;
	s->busy = false;
}

/* Completes every slot whose event has signalled; with wait, all of them. */
static int reap(struct ze_be *z, bool wait)
{
	for (int i = 0; i < ZE_GATE_SLOTS; i++) {
		struct gate_slot *s = &z->slots[i];
		ze_result_t r;

		if (!s->busy)
			continue;
		r = wait ? zeEventHostSynchronize(s->ev, ZE_SYNC_TIMEOUT_NS) : zeEventQueryStatus(s->ev);
		if (r == ZE_RESULT_NOT_READY && !wait)
			continue;
		if (r != ZE_RESULT_SUCCESS) {
			if (z->be.gate)
				sm_arb_complete(z->be.gate, s->grant, s->bytes);
			s->busy = false;
			return r == ZE_RESULT_NOT_READY ?
				fail(z, -ETIMEDOUT, "Level Zero: %s: no completion within %llu s",
				     z->dev.name, ZE_SYNC_TIMEOUT_NS / 1000000000ull) :
				ze_fail(z, r, "waiting for a kernel");
		}
		slot_finish(z, s);
	}
	return 0;
}

/* A free slot with its grant acquired: the caller signals slot->ev. */
static int gate_begin(struct ze_be *z, int op, uint64_t bytes, struct gate_slot **out)
{
	struct gate_slot *s = &z->slots[z->next_slot];
	int rc = reap(z, false);

	if (rc)
		return rc;
	if (s->busy) {
		ze_result_t r = zeEventHostSynchronize(s->ev, ZE_SYNC_TIMEOUT_NS);

		if (r != ZE_RESULT_SUCCESS)
			return r == ZE_RESULT_NOT_READY ?
				fail(z, -ETIMEDOUT, "Level Zero: %s: no completion", z->dev.name) :
				ze_fail(z, r, "waiting for a kernel");
		slot_finish(z, s);
	}
	s->grant = 0;
	if (z->be.gate) {
		rc = sm_arb_acquire(z->be.gate, bytes, 0, &s->grant);
		if (rc)
			return fail(z, rc, "arbiter: acquire of %llu bytes failed: %s",
				    (unsigned long long)bytes, strerror(-rc));
	}
	s->op = op;
	s->bytes = bytes;
	s->first_used = false;
	z->next_slot = (z->next_slot + 1) % ZE_GATE_SLOTS;
	z->cur = s;
	*out = s;
	return 0;
}

/* After the op's kernels: the slot is busy if they were appended, else
 * its grant goes back at once. */
static int gate_end(struct ze_be *z, struct gate_slot *s, int rc)
{
	z->cur = NULL;
	if (!rc) {
		s->busy = true;
		return 0;
	}
	if (z->be.gate)
		sm_arb_complete(z->be.gate, s->grant, s->bytes);
	return rc;
}

/* ---- memory ---- */

static void *ze_alloc(struct sm_backend *be, size_t bytes)
{
	return usm_alloc(zb(be), bytes);
}

static void ze_free(struct sm_backend *be, void *p)
{
	usm_free(zb(be), p);
}

/* Rejects an input that the device cannot read (not from alloc()). */
static int need_usm(struct ze_be *z, const void *p, const char *what)
{
	if (z->err)
		return z->err;
	if (!is_usm(z, p))
		return fail(z, -EINVAL, "%s: buffer %p was not allocated by this backend", what, p);
	return 0;
}

/* ---- weights ---- */

/* Packs n elements of t, starting at element start, into dst of type wt. */
static void pack(const struct phimoe_tensor *t, size_t start, size_t n, int wt, void *dst)
{
	if (wt == 0 && t->dtype == PHIMOE_DTYPE_BF16) {
		memcpy(dst, (const uint16_t *)t->data + start, n * 2);
	} else if (wt == 1) {
		phimoe_tensor_to_f32(t, start, n, dst);
	} else {
		uint16_t *o = dst;
		float buf[1024];

		for (size_t i = 0; i < n; i += 1024) {
			size_t c = n - i < 1024 ? n - i : 1024;

			phimoe_tensor_to_f32(t, start + i, c, buf);
			for (size_t j = 0; j < c; j++)
				o[i + j] = phimoe_f32_to_bf16(buf[j]);
		}
	}
	/* the copy is what the device reads: the checkpoint's pages go */
	if (start == 0 && n == t->numel)
		phimoe_tensor_release(t);
}

/* bf16 storage packs losslessly as bf16 for either compute type; f32 and
 * f16 storage become f32 for f32 compute, bf16 for bf16 compute. */
static int weight_type(const struct ze_be *z, const struct phimoe_tensor *t)
{
	if (t->dtype == PHIMOE_DTYPE_BF16)
		return 0;
	return z->be.compute == SM_BACKEND_F32 ? 1 : 0;
}

static int ze_linear_create(struct sm_backend *be, const struct sm_linear_desc *d,
			    struct sm_linear **out)
{
	struct ze_be *z = zb(be);
	struct sm_linear *l;
	size_t esz, rows = 0;
	bool any_bias = false;

	if (d->nparts < 1 || d->nparts > SM_LINEAR_MAX_PARTS)
		return fail(z, -EINVAL, "%s: %d parts", d->name, d->nparts);
	for (int i = 0; i < d->nparts; i++) {
		if (d->w[i].ndim != 2 || d->w[i].shape[1] != d->w[0].shape[1] ||
		    d->w[i].dtype != d->w[0].dtype)
			return fail(z, -EINVAL, "%s: parts disagree in shape or dtype", d->name);
		if (d->b[i].data && (int64_t)d->b[i].numel != d->w[i].shape[0])
			return fail(z, -EINVAL, "%s: bias %d is not [%lld]", d->name, i,
				    (long long)d->w[i].shape[0]);
		rows += (size_t)d->w[i].shape[0];
		any_bias |= d->b[i].data != NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return fail(z, -ENOMEM, "out of memory");
	l->wt = weight_type(z, &d->w[0]);
	l->in = (int)d->w[0].shape[1];
	l->out = (int)rows;
	esz = l->wt ? 4 : 2;
	l->wbytes = esz * rows * (size_t)l->in;
	l->w = usm_alloc(z, l->wbytes);
	l->b = any_bias ? usm_alloc(z, rows * sizeof(float)) : NULL;
	if (!l->w || (any_bias && !l->b)) {
		unsigned long long want = l->wbytes;

		usm_free(z, l->w);
		usm_free(z, l->b);
		free(l);
		return fail(z, -ENOMEM, "%s: out of USM memory (%llu bytes)", d->name, want);
	}
	for (int i = 0, r0 = 0; i < d->nparts; r0 += (int)d->w[i].shape[0], i++) {
		pack(&d->w[i], 0, d->w[i].numel, l->wt, (char *)l->w + esz * (size_t)r0 * l->in);
		if (l->b && d->b[i].data)
			phimoe_tensor_to_f32(&d->b[i], 0, d->b[i].numel, l->b + r0);
		else if (l->b)
			memset(l->b + r0, 0, sizeof(float) * (size_t)d->w[i].shape[0]);
	}
	be->packed_bytes += l->wbytes + (l->b ? rows * sizeof(float) : 0);
	*out = l;
	return 0;
}

static void ze_linear_destroy(struct sm_backend *be, struct sm_linear *l)
{
	if (!l)
		return;
	be->packed_bytes -= l->wbytes + (l->b ? (size_t)l->out * sizeof(float) : 0);
	usm_free(zb(be), l->w);
	usm_free(zb(be), l->b);
	free(l);
}

/* y = x W^T + b, the kernels only (no gating); signal on the last one. */
static int run_linear(struct ze_be *z, const void *w, int wt, const float *b, const float *x,
		      int m, int n, int k, float *y, ze_event_handle_t signal)
{
	int hb = b != NULL;
	const float *bias = b ? b : x;	/* any valid pointer: not read */

	if (m <= ZE_MV_MAX_ROWS)
		return LAUNCH(z, z->k.matvec[wt], "matvec", ((uint32_t[]){ 64, 1, 1 }),
			      ((uint32_t[]){ (uint32_t)n, (uint32_t)m, 1 }), signal,
			      A(x), A(w), A(bias), A(hb), A(y), A(n), A(k));
	return LAUNCH(z, z->k.matmul[wt], "matmul", ((uint32_t[]){ 16, 16, 1 }),
		      ((uint32_t[]){ cdiv(n, 16), cdiv(m, 16), 1 }), signal,
		      A(x), A(w), A(bias), A(hb), A(y), A(m), A(n), A(k));
}

static int ze_linear(struct sm_backend *be, struct sm_linear *l, const float *x, int m, float *y)
{
	struct ze_be *z = zb(be);
	uint64_t bytes = sm_linear_bytes(l->wbytes, m, l->in, l->out);
	size_t ybytes = (size_t)m * l->out * sizeof(float);
	bool staged = false;
	float *dst = y;
	struct gate_slot *s;
	int rc;

	if (m < 1 || m > z->max_rows)
		return fail(z, -EINVAL, "linear: %d rows (max %d)", m, z->max_rows);
	rc = need_usm(z, x, "linear input");
	if (rc)
		return rc;
	if (!is_usm(z, y)) {
		/* e.g. the caller's logits array: compute into USM, copy out */
		if (ybytes > z->stage_bytes) {
			usm_free(z, z->stage);
			z->stage = usm_alloc(z, ybytes);
			z->stage_bytes = z->stage ? ybytes : 0;
			if (!z->stage)
				return fail(z, -ENOMEM, "out of USM memory for %zu bytes", ybytes);
		}
		dst = z->stage;
		staged = true;
	}
	rc = gate_begin(z, OP_LINEAR, bytes, &s);
	if (rc)
		return rc;
	s->first_used = staged;
	rc = run_linear(z, l->w, l->wt, l->b, x, m, l->out, l->in, dst,
			staged ? s->ev_first : s->ev);
	if (!rc && staged) {
		ze_result_t r;

		z->busy = true;
		r = zeCommandListAppendMemoryCopy(z->dev.list, y, dst, ybytes, s->ev, 0, NULL);

		if (r != ZE_RESULT_SUCCESS)
			rc = ze_fail(z, r, "copying out");
	}
	return gate_end(z, s, rc);
}

static int ze_expert_create(struct sm_backend *be, const struct sm_expert_desc *d,
			    struct sm_expert **out)
{
	struct ze_be *z = zb(be);
	struct sm_expert *e;
	size_t esz, n13;

	if (d->w1.ndim != 2 || d->w3.ndim != 2 || d->w2.ndim != 2 ||
	    d->w1.shape[0] != d->w3.shape[0] || d->w1.shape[1] != d->w3.shape[1] ||
	    d->w2.shape[1] != d->w1.shape[0] || d->w2.shape[0] != d->w1.shape[1] ||
	    d->w1.dtype != d->w3.dtype || d->w1.dtype != d->w2.dtype)
		return fail(z, -EINVAL, "expert %s: w1/w2/w3 shapes or dtypes disagree",
			    d->name ? d->name : "?");
	if (d->shared && d->shared_dtype != PHIMOE_DTYPE_F32 &&
	    d->shared_dtype != PHIMOE_DTYPE_BF16)
		return fail(z, -EINVAL, "expert %s: shared weights as %s", d->name ? d->name : "?",
			    phimoe_dtype_name(d->shared_dtype));
	e = calloc(1, sizeof(*e));
	if (!e)
		return fail(z, -ENOMEM, "out of memory");
	/* shared: the CPU's compute type (oneDNN 2.6 multiplies f32 by f32
	 * or bf16 by bf16 only), which the kernels read as well */
	e->wt = d->shared ? d->shared_dtype == PHIMOE_DTYPE_F32 : weight_type(z, &d->w1);
	e->shared = d->shared;
	e->hidden = (int)d->w1.shape[1];
	e->inter = (int)d->w1.shape[0];
	esz = e->wt ? 4 : 2;
	n13 = d->w1.numel;
	e->wbytes = esz * 3 * n13;
	e->w13 = e->shared ? usm_alloc_host(z, esz * 2 * n13) : usm_alloc(z, esz * 2 * n13);
	e->w2 = e->shared ? usm_alloc_host(z, esz * d->w2.numel) : usm_alloc(z, esz * d->w2.numel);
	if ((size_t)z->max_rows * e->inter > z->h_elems) {
		usm_free(z, z->h);
		z->h_elems = (size_t)z->max_rows * e->inter;
		z->h = usm_alloc(z, z->h_elems * sizeof(float));
		if (!z->h)
			z->h_elems = 0;
	}
	if (!e->w13 || !e->w2 || !z->h) {
		usm_free(z, e->w13);
		usm_free(z, e->w2);
		free(e);
		return fail(z, -ENOMEM, "expert %s: out of USM memory", d->name ? d->name : "?");
	}
	pack(&d->w1, 0, n13, e->wt, e->w13);
	pack(&d->w3, 0, n13, e->wt, (char *)e->w13 + esz * n13);
	pack(&d->w2, 0, d->w2.numel, e->wt, e->w2);
	be->packed_bytes += e->wbytes;
	if (e->shared)
		be->shared_bytes += e->wbytes;
	*out = e;
	return 0;
}

static void ze_expert_destroy(struct sm_backend *be, struct sm_expert *e)
{
	if (!e)
		return;
	be->packed_bytes -= e->wbytes;
	if (e->shared)
		be->shared_bytes -= e->wbytes;
	usm_free(zb(be), e->w13);
	usm_free(zb(be), e->w2);
	free(e);
}

static int ze_expert(struct sm_backend *be, struct sm_expert *e, const float *x, int m,
		     const float *scale, float *y)
{
	struct ze_be *z = zb(be);
	uint64_t bytes = sm_expert_bytes(e->wbytes, m, e->hidden, e->inter);
	size_t esz = e->wt ? 4 : 2;
	const void *w1 = e->w13, *w3 = (const char *)e->w13 + esz * e->inter * e->hidden;
	int H = e->hidden, I = e->inter;
	struct gate_slot *s;
	int rc;

	if (m < 1 || m > z->max_rows)
		return fail(z, -EINVAL, "expert: %d rows (max %d)", m, z->max_rows);
	rc = need_usm(z, x, "expert input");
	if (!rc)
		rc = need_usm(z, y, "expert output");
	if (!rc && scale)
		rc = need_usm(z, scale, "expert scale");
	if (rc)
		return rc;
	rc = gate_begin(z, OP_EXPERT, bytes, &s);
	if (rc)
		return rc;
	if (m <= ZE_MV_MAX_ROWS)
		rc = LAUNCH(z, z->k.gate_up_mv[e->wt], "expert gate/up", ((uint32_t[]){ 64, 1, 1 }),
			    ((uint32_t[]){ (uint32_t)I, (uint32_t)m, 1 }), s->ev_first,
			    A(x), A(w1), A(w3), A(z->h), A(I), A(H));
	else
		rc = LAUNCH(z, z->k.gate_up_tiled[e->wt], "expert gate/up",
			    ((uint32_t[]){ 16, 16, 1 }), ((uint32_t[]){ cdiv(I, 16), cdiv(m, 16), 1 }),
			    s->ev_first, A(x), A(w1), A(w3), A(z->h), A(m), A(I), A(H));
	s->first_used = true;
	if (!rc)
		rc = run_linear(z, e->w2, e->wt, NULL, z->h, m, H, I, y, scale ? NULL : s->ev);
	if (!rc && scale)
		rc = LAUNCH(z, z->k.scale_rows, "expert scale", ((uint32_t[]){ 64, 1, 1 }),
			    ((uint32_t[]){ cdiv(H, 64), (uint32_t)m, 1 }), s->ev,
			    A(y), A(scale), A(m), A(H));
	return gate_end(z, s, rc);
}

/* Every expert is packed row-major ([2*inter][hidden] w1|w3, [hidden][inter]
 * w2) in host-visible USM: the view is what the kernels read. */
static int ze_expert_view(struct sm_backend *be, struct sm_expert *e, struct sm_expert_view *out)
{
	enum phimoe_dtype dt = e->wt ? PHIMOE_DTYPE_F32 : PHIMOE_DTYPE_BF16;

	(void)be;
	out->w13 = (struct sm_weight_view){ e->w13, dt, 2 * e->inter, e->hidden };
	out->w2 = (struct sm_weight_view){ e->w2, dt, e->hidden, e->inter };
	return 0;
}

/* ---- the small ops, gated as OP_OTHER ---- */

static uint64_t fbytes(uint64_t n)
{
	return n * sizeof(float);
}

static int ze_layernorm(struct sm_backend *be, const float *x, int m, int n,
			const float *gamma, const float *beta, float eps, float *y)
{
	struct ze_be *z = zb(be);
	int rc = need_usm(z, x, "layernorm");
	struct gate_slot *s;

	if (!rc)
		rc = need_usm(z, gamma, "layernorm weight");
	if (!rc)
		rc = need_usm(z, beta, "layernorm bias");
	if (!rc)
		rc = need_usm(z, y, "layernorm output");
	if (!rc)
		rc = gate_begin(z, OP_OTHER, fbytes(2ull * m * n + 2ull * n), &s);
	if (rc)
		return rc;
	rc = LAUNCH(z, z->k.layernorm, "layernorm", ((uint32_t[]){ 64, 1, 1 }),
		    ((uint32_t[]){ (uint32_t)m, 1, 1 }), s->ev,
		    A(x), A(gamma), A(beta), A(y), A(n), A(eps));
	return gate_end(z, s, rc);
}

static int ze_rope(struct sm_backend *be, float *x, int m, int row_stride, int heads,
		   int head_dim, int pos0, const float *cos_tab, const float *sin_tab)
{
	struct ze_be *z = zb(be);
	int half = head_dim / 2, rc = need_usm(z, x, "rope");
	struct gate_slot *s;
	uint32_t g = 1;

	if (!rc)
		rc = need_usm(z, cos_tab, "rope cos table");
	if (!rc)
		rc = need_usm(z, sin_tab, "rope sin table");
	if (!rc)
		rc = gate_begin(z, OP_OTHER, fbytes(2ull * m * heads * head_dim + 2ull * m * half),
				&s);
	if (rc)
		return rc;
	for (uint32_t d = 64; d > 1; d--)	/* a group that divides hd/2 */
		if (half % d == 0) {
			g = d;
			break;
		}
	rc = LAUNCH(z, z->k.rope, "rope", ((uint32_t[]){ g, 1, 1 }),
		    ((uint32_t[]){ (uint32_t)half / g, (uint32_t)heads, (uint32_t)m }), s->ev,
		    A(x), A(m), A(row_stride), A(heads), A(head_dim), A(pos0), A(cos_tab),
		    A(sin_tab));
	return gate_end(z, s, rc);
}

static int ze_attention(struct sm_backend *be, const struct sm_attn_args *a)
{
	struct ze_be *z = zb(be);
	int kv_dim = a->n_kv_heads * a->head_dim, rc;
	uint64_t qo = 2ull * a->m * a->n_heads * a->head_dim;
	struct gate_slot *s;

	if (a->block_table)
		return fail(z, -EOPNOTSUPP, "attention: KV cache in blocks (batched decode) "
			    "runs on the CPU backend only");
	if (a->pos0 < 0 || a->m < 1 || a->pos0 + a->m > a->max_seq || a->n_kv_heads < 1 ||
	    a->n_heads % a->n_kv_heads || a->head_dim > ZE_ATT_HD_MAX)
		return fail(z, -EINVAL, "attention: bad arguments (pos %d, m %d, max %d, head_dim %d)",
			    a->pos0, a->m, a->max_seq, a->head_dim);
	rc = need_usm(z, a->q, "attention q");
	if (!rc)
		rc = need_usm(z, a->k_cache, "attention k cache");
	if (!rc)
		rc = need_usm(z, a->v_cache, "attention v cache");
	if (!rc)
		rc = need_usm(z, a->out, "attention output");
	/* q and out, the new keys and values stored, the cache read once */
	if (!rc)
		rc = gate_begin(z, OP_OTHER, fbytes(qo + 4ull * a->m * kv_dim +
						    2ull * (a->pos0 + a->m) * kv_dim), &s);
	if (rc)
		return rc;
	s->first_used = true;
	rc = LAUNCH(z, z->k.kv_store, "kv store", ((uint32_t[]){ 32, 1, 1 }),
		    ((uint32_t[]){ cdiv(kv_dim, 32), (uint32_t)a->m, 1 }), s->ev_first,
		    A(a->k), A(a->v), A(a->row_stride), A(a->k_cache), A(a->v_cache), A(a->m),
		    A(kv_dim), A(a->pos0));
	if (!rc && a->m == 1)
		rc = LAUNCH(z, z->k.att_decode, "attention", ((uint32_t[]){ 64, 1, 1 }),
			    ((uint32_t[]){ (uint32_t)a->n_heads, 1, 1 }), s->ev,
			    A(a->q), A(a->k_cache), A(a->v_cache), A(a->out), A(a->n_heads),
			    A(a->n_kv_heads), A(a->head_dim), A(a->pos0), A(a->window),
			    A(a->scale));
	else if (!rc)
		rc = LAUNCH(z, z->k.att_prefill, "attention", ((uint32_t[]){ 64, 1, 1 }),
			    ((uint32_t[]){ (uint32_t)a->n_heads, (uint32_t)a->m, 1 }), s->ev,
			    A(a->q), A(a->row_stride), A(a->k_cache), A(a->v_cache), A(a->out),
			    A(a->m), A(a->n_heads), A(a->n_kv_heads), A(a->head_dim), A(a->pos0),
			    A(a->window), A(a->scale));
	return gate_end(z, s, rc);
}

static int ze_router(struct sm_backend *be, const float *scores, int m, int n_experts,
		     float jitter_eps, int32_t *experts, float *weights)
{
	struct ze_be *z = zb(be);
	int rc = need_usm(z, scores, "router scores");
	struct gate_slot *s;

	if (!rc)
		rc = need_usm(z, experts, "router experts");
	if (!rc)
		rc = need_usm(z, weights, "router weights");
	if (!rc)
		rc = gate_begin(z, OP_OTHER, fbytes((uint64_t)m * n_experts + 4ull * m), &s);
	if (rc)
		return rc;
	rc = LAUNCH(z, z->k.sparsemixer, "router", ((uint32_t[]){ 32, 1, 1 }),
		    ((uint32_t[]){ cdiv(m, 32), 1, 1 }), s->ev,
		    A(scores), A(m), A(n_experts), A(jitter_eps), A(experts), A(weights));
	return gate_end(z, s, rc);
}

static int ze_gather(struct sm_backend *be, const float *src, int cols, const int32_t *rows,
		     int n, float *dst)
{
	struct ze_be *z = zb(be);
	int rc = need_usm(z, src, "gather source");
	struct gate_slot *s;

	if (!rc)
		rc = need_usm(z, rows, "gather rows");
	if (!rc)
		rc = need_usm(z, dst, "gather destination");
	if (!rc)
		rc = gate_begin(z, OP_OTHER, fbytes(2ull * n * cols + (uint64_t)n), &s);
	if (rc)
		return rc;
	rc = LAUNCH(z, z->k.gather, "gather", ((uint32_t[]){ 32, 1, 1 }),
		    ((uint32_t[]){ cdiv(cols, 32), (uint32_t)n, 1 }), s->ev,
		    A(src), A(cols), A(rows), A(n), A(dst));
	return gate_end(z, s, rc);
}

static int ze_scatter_add(struct sm_backend *be, const float *src, int cols,
			  const int32_t *rows, int n, float *dst)
{
	struct ze_be *z = zb(be);
	int rc = need_usm(z, src, "scatter source");
	struct gate_slot *s;

	if (!rc)
		rc = need_usm(z, rows, "scatter rows");
	if (!rc)
		rc = need_usm(z, dst, "scatter destination");
	if (!rc)
		rc = gate_begin(z, OP_OTHER, fbytes(3ull * n * cols + (uint64_t)n), &s);
	if (rc)
		return rc;
	rc = LAUNCH(z, z->k.scatter_add, "scatter_add", ((uint32_t[]){ 32, 1, 1 }),
		    ((uint32_t[]){ cdiv(cols, 32), 1, 1 }), s->ev,
		    A(src), A(cols), A(rows), A(n), A(dst));
	return gate_end(z, s, rc);
}

static int ze_add(struct sm_backend *be, float *y, const float *x, size_t n)
{
	struct ze_be *z = zb(be);
	int rc = need_usm(z, y, "add");
	struct gate_slot *s;
	int ni = (int)n;

	if (!rc)
		rc = need_usm(z, x, "add");
	if (rc)
		return rc;
	if (n > (size_t)INT32_MAX)
		return fail(z, -EINVAL, "add: %zu elements", n);
	rc = gate_begin(z, OP_OTHER, fbytes(3ull * n), &s);
	if (rc)
		return rc;
	rc = LAUNCH(z, z->k.residual_add, "add", ((uint32_t[]){ 64, 1, 1 }),
		    ((uint32_t[]){ cdiv((long)n, 64), 1, 1 }), s->ev, A(y), A(x), A(ni));
	return gate_end(z, s, rc);
}

static int ze_sync(struct sm_backend *be)
{
	struct ze_be *z = zb(be);
	ze_result_t r;
	int rc;

	if (z->err)
		return z->err;
	r = zeCommandListAppendBarrier(z->dev.list, z->sync_ev, 0, NULL);
	if (r != ZE_RESULT_SUCCESS)
		return ze_fail(z, r, "sync");
	r = zeEventHostSynchronize(z->sync_ev, ZE_SYNC_TIMEOUT_NS);
	zeEventHostReset(z->sync_ev);
	if (r == ZE_RESULT_NOT_READY)
		return fail(z, -ETIMEDOUT, "Level Zero: %s: no completion within %llu s",
			    z->dev.name, ZE_SYNC_TIMEOUT_NS / 1000000000ull);
	if (r != ZE_RESULT_SUCCESS) {
		reap(z, false);
		return fail(z, -EIO, "Level Zero: %s: a kernel failed: %s", z->dev.name,
			    ze_result_name(r));
	}
	z->busy = false;
	rc = reap(z, true);
	return rc;
}

static void ze_destroy(struct sm_backend *be)
{
	struct ze_be *z = zb(be);
	ze_kernel_handle_t *ks = (ze_kernel_handle_t *)&z->k;

	if (z->dev.list) {
		z->busy = true;	/* drain even what an error left behind */
		drain(z);
		zeCommandListDestroy(z->dev.list);
		z->dev.list = NULL;
	}
	for (int i = 0; i < ZE_GATE_SLOTS; i++) {
		if (z->slots[i].busy && z->be.gate)
			sm_arb_complete(z->be.gate, z->slots[i].grant, z->slots[i].bytes);
		if (z->slots[i].ev)
			zeEventDestroy(z->slots[i].ev);
		if (z->slots[i].ev_first)
			zeEventDestroy(z->slots[i].ev_first);
	}
	if (z->sync_ev)
		zeEventDestroy(z->sync_ev);
	if (z->pool)
		zeEventPoolDestroy(z->pool);
	for (size_t i = 0; i < sizeof(z->k) / sizeof(*ks); i++)
		if (ks[i])
			zeKernelDestroy(ks[i]);
	for (int i = 0; i < 8; i++)
		if (z->mods[i])
			zeModuleDestroy(z->mods[i]);
	usm_free(z, z->h);
	usm_free(z, z->stage);
	ze_dev_close(&z->dev);
	free(z);
}

static const struct sm_backend_ops ze_ops = {
	.name = "level-zero",
	.destroy = ze_destroy,
	.alloc = ze_alloc,
	.free = ze_free,
	.linear_create = ze_linear_create,
	.linear_destroy = ze_linear_destroy,
	.linear = ze_linear,
	.expert_create = ze_expert_create,
	.expert_destroy = ze_expert_destroy,
	.expert = ze_expert,
	.expert_view = ze_expert_view,
	.layernorm = ze_layernorm,
	.rope = ze_rope,
	.attention = ze_attention,
	.router = ze_router,
	.gather = ze_gather,
	.scatter_add = ze_scatter_add,
	.add = ze_add,
	.sync = ze_sync,
};

/* ---- creation ---- */

struct kernel_ref {
	ze_kernel_handle_t *slot;
	int module;
	const char *name;
};

static int load_kernels(struct ze_be *z, char *err, size_t errlen)
{
	struct ze_kernels *k = &z->k;
	const struct kernel_ref refs[] = {
		{ &k->matvec[0], 0, "matvec_bf16" }, { &k->matvec[1], 0, "matvec_f32" },
		{ &k->matmul[0], 0, "matmul_bf16_tiled" }, { &k->matmul[1], 0, "matmul_f32_tiled" },
		{ &k->scale_rows, 0, "scale_rows" },
		{ &k->gate_up_mv[0], 1, "expert_gate_up_mv_bf16" },
		{ &k->gate_up_mv[1], 1, "expert_gate_up_mv_f32" },
		{ &k->gate_up_tiled[0], 1, "expert_gate_up_tiled_bf16" },
		{ &k->gate_up_tiled[1], 1, "expert_gate_up_tiled_f32" },
		{ &k->sparsemixer, 2, "sparsemixer_top2" },
		{ &k->gather, 3, "gather_rows" }, { &k->scatter_add, 3, "scatter_add_rows" },
		{ &k->layernorm, 4, "layernorm" }, { &k->rope, 5, "rope_rotate_half" },
		{ &k->kv_store, 6, "kv_store" }, { &k->att_prefill, 6, "attention_prefill" },
		{ &k->att_decode, 6, "attention_decode" },
		{ &k->residual_add, 7, "residual_add" },
	};

	for (int i = 0; i < 8; i++) {
		int rc = ze_dev_module(&z->dev, module_names[i], &z->mods[i], err, errlen);

		if (rc)
			return rc;
	}
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		ze_kernel_desc_t kd = { ZE_STRUCTURE_TYPE_KERNEL_DESC, NULL, 0, refs[i].name };
		ze_result_t r = zeKernelCreate(z->mods[refs[i].module], &kd, refs[i].slot);

		if (r != ZE_RESULT_SUCCESS) {
			snprintf(err, errlen, "%s/%s.spv: kernel %s: %s", z->dev.kernel_dir,
				 module_names[refs[i].module], refs[i].name, ze_result_name(r));
			return -EIO;
		}
	}
	return 0;
}

int sm_ze_backend_create(const struct sm_ze_backend_opts *o, struct sm_backend **out,
			 char *err, size_t errlen)
{
	struct ze_be *z;
	ze_event_pool_desc_t pd = { ZE_STRUCTURE_TYPE_EVENT_POOL_DESC, NULL,
				    ZE_EVENT_POOL_FLAG_HOST_VISIBLE |
				    ZE_EVENT_POOL_FLAG_KERNEL_TIMESTAMP, 2 * ZE_GATE_SLOTS + 1 };
	ze_result_t r;
	int rc;

	if (o->compute != SM_BACKEND_F32 && o->compute != SM_BACKEND_BF16) {
		snprintf(err, errlen, "level-zero backend: unknown compute type %d", (int)o->compute);
		return -EINVAL;
	}
	if (o->max_rows < 0) {
		snprintf(err, errlen, "level-zero backend: max_rows %d out of range", o->max_rows);
		return -EINVAL;
	}
	z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->be.ops = &ze_ops;
	z->be.compute = o->compute;
	z->be.gate = o->gate;
	z->be.priv = z;
	z->max_rows = o->max_rows ? o->max_rows : 512;
	rc = ze_dev_open(&z->dev, o->device, err, errlen);
	if (rc) {
		free(z);
		return rc;
	}
	rc = ze_dev_find_kernels(&z->dev, o->kernel_dir, err, errlen);
	if (!rc)
		rc = load_kernels(z, err, errlen);
	if (rc)
		goto fail;
	r = zeEventPoolCreate(z->dev.ctx, &pd, 1, &z->dev.device, &z->pool);
	for (uint32_t i = 0; r == ZE_RESULT_SUCCESS && i <= 2 * ZE_GATE_SLOTS; i++) {
		ze_event_desc_t ed = { ZE_STRUCTURE_TYPE_EVENT_DESC, NULL, i,
				       0, ZE_EVENT_SCOPE_FLAG_HOST };
		ze_event_handle_t *slot = i == 2 * ZE_GATE_SLOTS ? &z->sync_ev :
			i % 2 ? &z->slots[i / 2].ev_first : &z->slots[i / 2].ev;

		r = zeEventCreate(z->pool, &ed, slot);
	}
	if (r != ZE_RESULT_SUCCESS) {
		snprintf(err, errlen, "Level Zero: %s: cannot create events: %s", z->dev.name,
			 ze_result_name(r));
		rc = -ENODEV;
		goto fail;
	}
	*out = &z->be;
	return 0;
fail:
	z->be.gate = NULL;
	ze_destroy(&z->be);
	return rc;
}

void sm_ze_backend_profile(struct sm_backend *be, struct sm_ze_profile *out)
{
	*out = zb(be)->prof;
}
