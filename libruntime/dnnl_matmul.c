// SPDX-License-Identifier: MIT
/* oneDNN matmul with packed weights and cached primitives; see dnnl_matmul.h. */
#include "dnnl_matmul.h"
#include "cpu_math.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

/* Primitives of one (k, n, bias) shape, indexed by m. */
struct dmm_shape {
	struct dmm_shape *next;
	int k, n;
	bool bias;
	bool plain;			/* wmd is the checkpoint's row-major [n][k] */
	int ldc;			/* dst row stride (f32; n in bf16, whose
					 * products go through y2) */
	dnnl_memory_desc_t wmd;		/* the packed layout, fixed for every m */
	dnnl_primitive_t *prim;		/* [max_rows + 1], NULL until first use */
	dnnl_memory_t *src, *dst;	/* per m; handles set at each call */
};

struct dmm_ctx {
	dnnl_engine_t eng;
	dnnl_stream_t strm;
	bool bf16;
	int max_rows;
	int prim_rows;			/* rows a primitive may have: 2 * max_rows in bf16 */
	size_t xbf_elems, y2_elems;
	uint16_t *xbf;			/* bf16: hi rows, then lo rows of the input */
	float *y2;			/* bf16: the products of the hi and lo rows */
	struct dmm_shape *shapes;
};

struct dmm_weights {
	struct dmm_ctx *c;
	struct dmm_shape *sh;
	dnnl_memory_t wmem, bmem;
	float *bias;			/* [n] f32, NULL without bias */
	uint64_t bytes, packed_bytes;
	bool plain;			/* wmem is row-major [n][k] (not reordered) */
	int ldy;			/* row stride of dmm_run's y */
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static dnnl_data_type_t ctx_dt(const struct dmm_ctx *c)
{
	return c->bf16 ? dnnl_bf16 : dnnl_f32;
}

const char *dmm_isa_name(void)
{
	switch (dnnl_get_effective_cpu_isa()) {
	case dnnl_cpu_isa_sse41: return "sse41";
	case dnnl_cpu_isa_avx: return "avx";
	case dnnl_cpu_isa_avx2: return "avx2";
	case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
	case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
	case dnnl_cpu_isa_avx512_core: return "avx512_core";
	case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
	case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
	case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
	case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
	default: return "unknown";
	}
}

bool dmm_cpu_has_bf16(void)
{
	dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();

	return isa == dnnl_cpu_isa_avx512_core_bf16 ||
	       isa == dnnl_cpu_isa_avx512_core_amx;
}

int dmm_ctx_create(bool bf16, int max_rows, struct dmm_ctx **out,
		   char *err, size_t errlen)
{
	struct dmm_ctx *c;

	if (max_rows < 1) {
		seterr(err, errlen, "matmul: max_rows %d < 1", max_rows);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->bf16 = bf16;
	c->max_rows = max_rows;
	c->prim_rows = bf16 ? 2 * max_rows : max_rows;
	if (dnnl_engine_create(&c->eng, dnnl_cpu, 0) != dnnl_success ||
	    dnnl_stream_create(&c->strm, c->eng, dnnl_stream_default_flags) != dnnl_success) {
		seterr(err, errlen, "oneDNN: cannot create the CPU engine/stream");
		dmm_ctx_destroy(c);
		return -ENODEV;
	}
	*out = c;
	return 0;
}

static void shape_free(struct dmm_shape *sh, int prim_rows)
{
	for (int m = 0; m <= prim_rows; m++) {
		if (sh->prim[m])
			dnnl_primitive_destroy(sh->prim[m]);
		if (sh->src[m])
			dnnl_memory_destroy(sh->src[m]);
		if (sh->dst[m])
			dnnl_memory_destroy(sh->dst[m]);
	}
	free(sh->prim);
	free(sh->src);
	free(sh->dst);
	free(sh);
}

void dmm_ctx_destroy(struct dmm_ctx *c)
{
	if (!c)
		return;
	while (c->shapes) {
		struct dmm_shape *n = c->shapes->next;

		shape_free(c->shapes, c->prim_rows);
		c->shapes = n;
	}
	free(c->xbf);
	free(c->y2);
	if (c->strm)
		dnnl_stream_destroy(c->strm);
	if (c->eng)
		dnnl_engine_destroy(c->eng);
	free(c);
}

/* The checkpoint's [n][k] row-major is oneDNN's {k, n} in "ba". */
static dnnl_status_t plain_md(const struct dmm_ctx *c, int k, int n, dnnl_memory_desc_t *md)
{
	dnnl_dims_t wd = { k, n };

	return dnnl_memory_desc_init_by_tag(md, 2, wd, ctx_dt(c), dnnl_ba);
}

/*
 * On row-major weights brgemm copies them into its blocked layout at every
 * call. For one f32 row (decode), where that copy is most of the work, the
 * jit gemm that reads them as they are is faster; not with more rows, nor
 * for bf16's two (make bench-plain-layout).
 */
/* The first implementation oneDNN offers whose name starts with prefer,
 * else its first choice. */
static dnnl_status_t pd_prefer(struct dmm_ctx *c, const dnnl_matmul_desc_t *md,
			       const char *prefer, dnnl_primitive_desc_t *pd)
{
	dnnl_primitive_desc_iterator_t it;
	dnnl_status_t st;

	if (!prefer)
		return dnnl_primitive_desc_create(pd, md, NULL, c->eng, NULL);
	st = dnnl_primitive_desc_iterator_create(&it, md, NULL, c->eng, NULL);
	if (st != dnnl_success)
		return st;
	*pd = NULL;
	do {
		dnnl_primitive_desc_t cand = dnnl_primitive_desc_iterator_fetch(it);
		const char *impl = "";

		if (!cand)
			break;
		dnnl_primitive_desc_query(cand, dnnl_query_impl_info_str, 0, &impl);
		if (!*pd || !strncmp(impl, prefer, strlen(prefer))) {
			if (*pd)
				dnnl_primitive_desc_destroy(*pd);
			*pd = cand;
			if (!strncmp(impl, prefer, strlen(prefer)))
				break;
		} else {
			dnnl_primitive_desc_destroy(cand);
		}
	} while (dnnl_primitive_desc_iterator_next(it) == dnnl_success);
	dnnl_primitive_desc_iterator_destroy(it);
	return *pd ? dnnl_success : dnnl_unimplemented;
}

/* The matmul primitive descriptor for m rows; wmd NULL lets oneDNN choose. */
static dnnl_status_t make_pd(struct dmm_ctx *c, int k, int n, int ldc, bool bias, int m,
			     const dnnl_memory_desc_t *wmd, dnnl_primitive_desc_t *pd)
{
	dnnl_dims_t dstr = { ldc, 1 };
	bool plain = false;
	dnnl_memory_desc_t src, wei, bia, dst;
	dnnl_dims_t sd = { m, k }, wd = { k, n }, bd = { 1, n }, dd = { m, n };
	dnnl_matmul_desc_t md;
	dnnl_status_t st;

	st = dnnl_memory_desc_init_by_tag(&src, 2, sd, ctx_dt(c), dnnl_ab);
	if (st == dnnl_success) {
		if (wmd) {
			dnnl_memory_desc_t pmd;

			wei = *wmd;
			plain = plain_md(c, k, n, &pmd) == dnnl_success &&
				dnnl_memory_desc_equal(&pmd, wmd);
		} else
			st = dnnl_memory_desc_init_by_tag(&wei, 2, wd, ctx_dt(c),
							  dnnl_format_tag_any);
	}
	if (st == dnnl_success)
		st = dnnl_memory_desc_init_by_tag(&bia, 2, bd, dnnl_f32, dnnl_ab);
	if (st == dnnl_success)
		st = dnnl_memory_desc_init_by_strides(&dst, 2, dd, dnnl_f32, dstr);
	if (st == dnnl_success)
		st = dnnl_matmul_desc_init(&md, &src, &wei, bias ? &bia : NULL, &dst);
	if (st == dnnl_success)
		st = pd_prefer(c, &md, plain && !c->bf16 && m == 1 ? "gemm:" : NULL, pd);
	return st;
}

/* Creates the primitive and the activation memories of one m. */
static int shape_make_m(struct dmm_ctx *c, struct dmm_shape *sh, int m)
{
	dnnl_primitive_desc_t pd;
	dnnl_status_t st;

	st = make_pd(c, sh->k, sh->n, sh->ldc, sh->bias, m, &sh->wmd, &pd);
	if (st != dnnl_success)
		return -EIO;
	st = dnnl_primitive_create(&sh->prim[m], pd);
	if (st == dnnl_success)
		st = dnnl_memory_create(&sh->src[m],
					dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0),
					c->eng, DNNL_MEMORY_NONE);
	if (st == dnnl_success)
		st = dnnl_memory_create(&sh->dst[m],
					dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0),
					c->eng, DNNL_MEMORY_NONE);
	dnnl_primitive_desc_destroy(pd);
	return st == dnnl_success ? 0 : -EIO;
}

/* The shape's primitives; plain: on the row-major weight as it is, else
 * on the layout oneDNN prefers. ldc: the output's row stride (f32 only). */
static struct dmm_shape *shape_get(struct dmm_ctx *c, int k, int n, int ldc, bool bias,
				   bool plain, char *err, size_t errlen)
{
	struct dmm_shape *sh;
	dnnl_primitive_desc_t pd;
	dnnl_memory_desc_t pmd;

	for (sh = c->shapes; sh; sh = sh->next)
		if (sh->k == k && sh->n == n && sh->bias == bias && sh->plain == plain &&
		    sh->ldc == ldc)
			return sh;
	sh = calloc(1, sizeof(*sh));
	if (!sh)
		goto nomem;
	sh->k = k;
	sh->n = n;
	sh->bias = bias;
	sh->plain = plain;
	sh->ldc = ldc;
	sh->prim = calloc(c->prim_rows + 1, sizeof(*sh->prim));
	sh->src = calloc(c->prim_rows + 1, sizeof(*sh->src));
	sh->dst = calloc(c->prim_rows + 1, sizeof(*sh->dst));
	if (!sh->prim || !sh->src || !sh->dst)
		goto nomem;
	if ((plain && plain_md(c, k, n, &pmd) != dnnl_success) ||
	    make_pd(c, k, n, ldc, bias, 1, plain ? &pmd : NULL, &pd) != dnnl_success) {
		seterr(err, errlen, "oneDNN: no %s matmul for k=%d n=%d%s on this CPU (%s)%s",
		       c->bf16 ? "bf16" : "f32", k, n, plain ? " on row-major weights" : "",
		       dmm_isa_name(), c->bf16 ? "; use compute type f32" : "");
		shape_free(sh, c->prim_rows);
		return NULL;
	}
	sh->wmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
	dnnl_primitive_desc_destroy(pd);
	/* the decode primitive: one row (two in bf16: hi and lo) */
	if (shape_make_m(c, sh, c->bf16 ? 2 : 1)) {
		seterr(err, errlen, "oneDNN: cannot create the matmul k=%d n=%d", k, n);
		shape_free(sh, c->prim_rows);
		return NULL;
	}
	sh->next = c->shapes;
	c->shapes = sh;
	return sh;
nomem:
	if (sh) {
		free(sh->prim);
		free(sh->src);
		free(sh->dst);
		free(sh);
	}
	seterr(err, errlen, "matmul: out of memory");
	return NULL;
}

/* Rows [r0, r0+nrows) of tensor t converted to the compute type at dst. */
static void convert_rows(const struct dmm_ctx *c, const struct phimoe_tensor *t,
			 void *dst, size_t k, float *tmp_row)
{
	size_t rows = (size_t)t->shape[0];

	if (c->bf16 && t->dtype == PHIMOE_DTYPE_BF16) {
		memcpy(dst, t->data, rows * k * 2);
		return;
	}
	if (!c->bf16) {
		phimoe_tensor_to_f32(t, 0, rows * k, dst);
		return;
	}
	for (size_t r = 0; r < rows; r++) {
		phimoe_tensor_to_f32(t, r * k, k, tmp_row);
		cm_f32_to_bf16(tmp_row, (uint16_t *)dst + r * k, k);
	}
}

/* bf16: the input and output rows of every m go through two buffers,
 * sized for the widest shape. */
static int ctx_bufs(struct dmm_ctx *c, int k, int n)
{
	if (c->bf16 && (size_t)c->prim_rows * k > c->xbf_elems) {
		uint16_t *nb = realloc(c->xbf, (size_t)c->prim_rows * k * 2);

		if (!nb)
			return -ENOMEM;
		c->xbf = nb;
		c->xbf_elems = (size_t)c->prim_rows * k;
	}
	if (c->bf16 && (size_t)c->prim_rows * n > c->y2_elems) {
		float *nb = realloc(c->y2, (size_t)c->prim_rows * n * sizeof(float));

		if (!nb)
			return -ENOMEM;
		c->y2 = nb;
		c->y2_elems = (size_t)c->prim_rows * n;
	}
	return 0;
}

int dmm_weights_create(struct dmm_ctx *c, const struct phimoe_tensor *w,
		       const struct phimoe_tensor *b, int nparts,
		       struct dmm_weights **out, char *err, size_t errlen)
{
	struct dmm_weights *dw;
	int k, n = 0;
	bool bias = false;
	size_t esz = c->bf16 ? 2 : 4;
	dnnl_memory_desc_t plain, bmd;
	dnnl_dims_t bd;
	dnnl_memory_t pmem = NULL;
	dnnl_primitive_desc_t rpd = NULL;
	dnnl_primitive_t rprim = NULL;
	void *tmp = NULL;
	float *tmp_row = NULL;
	int rc = -EIO;

	if (nparts < 1 || !w[0].data || w[0].ndim != 2) {
		seterr(err, errlen, "matmul: bad weight %s", w[0].name ? w[0].name : "?");
		return -EINVAL;
	}
	k = (int)w[0].shape[1];
	for (int i = 0; i < nparts; i++) {
		if (!w[i].data || w[i].ndim != 2 || w[i].shape[1] != k) {
			seterr(err, errlen, "matmul: weight %s does not have %d columns",
			       w[i].name ? w[i].name : "?", k);
			return -EINVAL;
		}
		if (b && b[i].data) {
			if ((int64_t)b[i].numel != w[i].shape[0]) {
				seterr(err, errlen, "matmul: bias %s has %zu values, want %lld",
				       b[i].name ? b[i].name : "?", b[i].numel,
				       (long long)w[i].shape[0]);
				return -EINVAL;
			}
			bias = true;
		}
		n += (int)w[i].shape[0];
	}
	if (k < 1 || n < 1) {
		seterr(err, errlen, "matmul: bad shape k=%d n=%d", k, n);
		return -EINVAL;
	}
	dw = calloc(1, sizeof(*dw));
	if (!dw)
		return -ENOMEM;
	dw->c = c;
	/* bf16 adds the bias itself, after summing the hi and lo products */
	dw->ldy = n;
	dw->sh = shape_get(c, k, n, n, bias && !c->bf16, false, err, errlen);
	if (!dw->sh)
		goto fail;

	if (ctx_bufs(c, k, n))
		goto nomem;

	if (bias) {
		size_t off = 0;

		dw->bias = malloc(sizeof(float) * n);
		if (!dw->bias)
			goto nomem;
		for (int i = 0; i < nparts; i++) {
			size_t rows = (size_t)w[i].shape[0];

			if (b[i].data)
				phimoe_tensor_to_f32(&b[i], 0, rows, dw->bias + off);
			else
				memset(dw->bias + off, 0, sizeof(float) * rows);
			off += rows;
		}
		bd[0] = 1;
		bd[1] = n;
		if (dnnl_memory_desc_init_by_tag(&bmd, 2, bd, dnnl_f32, dnnl_ab) ||
		    dnnl_memory_create(&dw->bmem, &bmd, c->eng, dw->bias))
			goto fail_dnnl;
	}

	if (plain_md(c, k, n, &plain))
		goto fail_dnnl;
	dw->bytes = dnnl_memory_desc_get_size(&dw->sh->wmd);
	if (nparts == 1 && dnnl_memory_desc_equal(&plain, &dw->sh->wmd) &&
	    ((c->bf16 && w[0].dtype == PHIMOE_DTYPE_BF16) ||
	     (!c->bf16 && w[0].dtype == PHIMOE_DTYPE_F32))) {
		/* already in the preferred layout: use the mapping in place */
		if (dnnl_memory_create(&dw->wmem, &dw->sh->wmd, c->eng, (void *)w[0].data))
			goto fail_dnnl;
		dw->plain = true;
		*out = dw;
		return 0;
	}

	tmp = malloc((size_t)n * k * esz);
	tmp_row = malloc(sizeof(float) * k);
	if (!tmp || !tmp_row)
		goto nomem;
	for (int i = 0, r0 = 0; i < nparts; r0 += (int)w[i].shape[0], i++)
		convert_rows(c, &w[i], (char *)tmp + (size_t)r0 * k * esz, k, tmp_row);
	if (dnnl_memory_create(&pmem, &plain, c->eng, tmp) ||
	    dnnl_memory_create(&dw->wmem, &dw->sh->wmd, c->eng, DNNL_MEMORY_ALLOCATE) ||
	    dnnl_reorder_primitive_desc_create(&rpd, &plain, c->eng, &dw->sh->wmd, c->eng, NULL) ||
	    dnnl_primitive_create(&rprim, rpd))
		goto fail_dnnl;
	{
		dnnl_exec_arg_t args[2] = {
			{ DNNL_ARG_FROM, pmem }, { DNNL_ARG_TO, dw->wmem },
		};

		if (dnnl_primitive_execute(rprim, c->strm, 2, args) ||
		    dnnl_stream_wait(c->strm))
			goto fail_dnnl;
	}
	dw->packed_bytes = dw->bytes;
	dnnl_primitive_destroy(rprim);
	dnnl_primitive_desc_destroy(rpd);
	dnnl_memory_destroy(pmem);
	free(tmp);
	free(tmp_row);
	*out = dw;
	return 0;

nomem:
	seterr(err, errlen, "matmul: out of memory packing %s", w[0].name ? w[0].name : "?");
	rc = -ENOMEM;
	goto fail;
fail_dnnl:
	seterr(err, errlen, "oneDNN: cannot pack %s (k=%d n=%d)",
	       w[0].name ? w[0].name : "?", k, n);
fail:
	if (rprim)
		dnnl_primitive_destroy(rprim);
	if (rpd)
		dnnl_primitive_desc_destroy(rpd);
	if (pmem)
		dnnl_memory_destroy(pmem);
	free(tmp);
	free(tmp_row);
	dmm_weights_destroy(dw);
	return rc;
}

int dmm_weights_wrap(struct dmm_ctx *c, const void *data, enum phimoe_dtype dtype, int n,
		     int k, struct dmm_weights **out, char *err, size_t errlen)
{
	struct dmm_weights *dw;

	if (!data || n < 1 || k < 1) {
		seterr(err, errlen, "matmul: bad row-major weight (%d x %d)", n, k);
		return -EINVAL;
	}
	if (dtype != (c->bf16 ? PHIMOE_DTYPE_BF16 : PHIMOE_DTYPE_F32)) {
		/* oneDNN 2.6 has no f32 x bf16 matmul, and a conversion would
		 * be the second copy this function exists to avoid */
		seterr(err, errlen, "matmul: %s weights for a %s matmul", phimoe_dtype_name(dtype),
		       c->bf16 ? "bf16" : "f32");
		return -EOPNOTSUPP;
	}
	dw = calloc(1, sizeof(*dw));
	if (!dw)
		return -ENOMEM;
	dw->c = c;
	dw->ldy = n;
	dw->sh = shape_get(c, k, n, n, false, true, err, errlen);
	if (!dw->sh) {
		free(dw);
		return -EOPNOTSUPP;
	}
	if (ctx_bufs(c, k, n)) {
		free(dw);
		seterr(err, errlen, "matmul: out of memory");
		return -ENOMEM;
	}
	dw->bytes = dnnl_memory_desc_get_size(&dw->sh->wmd);
	dw->plain = true;
	if (dnnl_memory_create(&dw->wmem, &dw->sh->wmd, c->eng, (void *)data)) {
		free(dw);
		seterr(err, errlen, "oneDNN: cannot wrap a %d x %d weight", n, k);
		return -EIO;
	}
	*out = dw;
	return 0;
}

int dmm_weights_map(struct dmm_ctx *c, const struct phimoe_tensor *w,
		    const struct phimoe_tensor *b, int ldy, struct dmm_weights **out,
		    char *err, size_t errlen)
{
	const char *name = w->name ? w->name : "?";
	struct dmm_weights *dw;
	bool bias = b && b->data;
	int k, n;

	if (!w->data || w->ndim != 2 || w->shape[0] < 1 || w->shape[1] < 1) {
		seterr(err, errlen, "matmul: bad weight %s", name);
		return -EINVAL;
	}
	n = (int)w->shape[0];
	k = (int)w->shape[1];
	if (ldy < n) {
		seterr(err, errlen, "matmul: %s: output stride %d < %d", name, ldy, n);
		return -EINVAL;
	}
	if (w->dtype != (c->bf16 ? PHIMOE_DTYPE_BF16 : PHIMOE_DTYPE_F32)) {
		seterr(err, errlen, "matmul: %s is %s, the compute type %s: it cannot be mapped",
		       name, phimoe_dtype_name(w->dtype), c->bf16 ? "bf16" : "f32");
		return -EOPNOTSUPP;
	}
	if (bias && (int64_t)b->numel != n) {
		seterr(err, errlen, "matmul: bias %s has %zu values, want %d",
		       b->name ? b->name : "?", b->numel, n);
		return -EINVAL;
	}
	dw = calloc(1, sizeof(*dw));
	if (!dw)
		return -ENOMEM;
	dw->c = c;
	dw->plain = true;
	dw->ldy = ldy;
	/* bf16 adds the bias itself and writes y from its own buffer */
	dw->sh = shape_get(c, k, n, c->bf16 ? n : ldy, bias && !c->bf16, true, err, errlen);
	if (!dw->sh) {
		free(dw);
		return -EOPNOTSUPP;
	}
	if (ctx_bufs(c, k, n))
		goto nomem;
	if (bias) {
		dnnl_memory_desc_t bmd;
		dnnl_dims_t bd = { 1, n };

		dw->bias = malloc(sizeof(float) * n);
		if (!dw->bias)
			goto nomem;
		phimoe_tensor_to_f32(b, 0, (size_t)n, dw->bias);
		if (dnnl_memory_desc_init_by_tag(&bmd, 2, bd, dnnl_f32, dnnl_ab) ||
		    dnnl_memory_create(&dw->bmem, &bmd, c->eng, dw->bias))
			goto fail_dnnl;
	}
	dw->bytes = dnnl_memory_desc_get_size(&dw->sh->wmd);
	if (dnnl_memory_create(&dw->wmem, &dw->sh->wmd, c->eng, (void *)w->data))
		goto fail_dnnl;
	*out = dw;
	return 0;
nomem:
	dmm_weights_destroy(dw);
	seterr(err, errlen, "matmul: out of memory mapping %s", name);
	return -ENOMEM;
fail_dnnl:
	dmm_weights_destroy(dw);
	seterr(err, errlen, "oneDNN: cannot map %s (k=%d n=%d)", name, k, n);
	return -EIO;
}

const void *dmm_weights_plain_data(const struct dmm_weights *w)
{
	void *p = NULL;

	if (!w->plain || dnnl_memory_get_data_handle(w->wmem, &p) != dnnl_success)
		return NULL;
	return p;
}

void dmm_weights_destroy(struct dmm_weights *w)
{
	if (!w)
		return;
	if (w->wmem)
		dnnl_memory_destroy(w->wmem);
	if (w->bmem)
		dnnl_memory_destroy(w->bmem);
	free(w->bias);
	free(w);
}

const float *dmm_weights_bias(const struct dmm_weights *w) { return w->bias; }
int dmm_weights_k(const struct dmm_weights *w) { return w->sh->k; }
int dmm_weights_n(const struct dmm_weights *w) { return w->sh->n; }
uint64_t dmm_weights_bytes(const struct dmm_weights *w) { return w->bytes; }
uint64_t dmm_weights_packed_bytes(const struct dmm_weights *w) { return w->packed_bytes; }

int dmm_run(struct dmm_ctx *c, struct dmm_weights *w, const float *x, int m,
	    float *y)
{
	struct dmm_shape *sh = w->sh;
	const void *src = x;

	int rows = c->bf16 ? 2 * m : m;
	float *dst = c->bf16 ? c->y2 : y;

	if (m < 1 || m > c->max_rows)
		return -EINVAL;
	if (!sh->prim[rows] && shape_make_m(c, sh, rows))
		return -EIO;
	if (c->bf16) {
		cm_f32_to_bf16_split(x, c->xbf, c->xbf + (size_t)m * sh->k,
				     (size_t)m * sh->k);
		src = c->xbf;
	}
	if (dnnl_memory_set_data_handle(sh->src[rows], (void *)src) ||
	    dnnl_memory_set_data_handle(sh->dst[rows], dst))
		return -EIO;

	dnnl_exec_arg_t args[4] = {
		{ DNNL_ARG_SRC, sh->src[rows] },
		{ DNNL_ARG_WEIGHTS, w->wmem },
		{ DNNL_ARG_DST, sh->dst[rows] },
		{ DNNL_ARG_BIAS, w->bmem },
	};

	if (dnnl_primitive_execute(sh->prim[rows], c->strm, sh->bias ? 4 : 3, args) ||
	    dnnl_stream_wait(c->strm))
		return -EIO;
	if (c->bf16) {
		size_t n = (size_t)sh->n;
		const float *hi = c->y2, *lo = c->y2 + (size_t)m * n;

		for (size_t r = 0; r < (size_t)m; r++)
			for (size_t j = 0; j < n; j++)
				y[r * w->ldy + j] = hi[r * n + j] + lo[r * n + j] +
					       (w->bias ? w->bias[j] : 0.0f);
	}
	return 0;
}
