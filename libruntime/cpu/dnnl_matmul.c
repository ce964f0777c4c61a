// SPDX-License-Identifier: MIT
/* oneDNN matmul with packed weights and cached primitives; see dnnl_matmul.h. */
#include "cpu/dnnl_matmul.h"
#include "cpu/cpu_math.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

/* Row counts a primitive is made for: a product of r rows runs the
 * smallest bucket >= r on padded buffers (at most a third more rows
 * beyond 8; oneDNN 2.6 picks its fast kernels only for a fixed m). */
static const int bucket_rows[] = {
	1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512,
	768, 1024, 1536, 2048, 3072, 4096, 6144, 8192,
};
#define DMM_BUCKETS ((int)(sizeof(bucket_rows) / sizeof(bucket_rows[0])))

/* Index of the smallest bucket of at least rows, or -1. */
static int bucket_of(int rows)
{
	for (int b = 0; b < DMM_BUCKETS; b++)
		if (bucket_rows[b] >= rows)
			return b;
	return -1;
}

/* Primitives of one (k, n, bias) shape, per row bucket. */
struct dmm_shape {
	struct dmm_shape *next;
	int k, n;
	bool bias;
	bool plain;			/* wmd is the checkpoint's row-major [n][k] */
	int ldc;			/* dst row stride (f32; n in bf16, whose
					 * products go through y2) */
	dnnl_memory_desc_t wmd;		/* the packed layout, fixed for every m */
	/* per row bucket (bucket_rows[]), made with the shape: a call's
	 * rows are padded up to their bucket, so that no primitive is made
	 * on the hot path; NULL for buckets no call can reach */
	dnnl_primitive_t prim[DMM_BUCKETS];
	dnnl_memory_t src[DMM_BUCKETS], dst[DMM_BUCKETS];	/* handles set per call */
	dnnl_memory_t scr[DMM_BUCKETS];	/* scratchpad, on the lane's buffer */
	size_t scr_bytes[DMM_BUCKETS];
	/* lanes 1.. (dmm_weights_lanes): their own memory objects, made
	 * like lane 0's, [lane - 1][bucket]; NULL until asked for */
	dnnl_memory_t (*lsrc)[DMM_BUCKETS], (*ldst)[DMM_BUCKETS], (*lscr)[DMM_BUCKETS];
};

/* What one thread running products needs for itself. */
struct dmm_lane {
	dnnl_stream_t strm;
	size_t xbf_elems, y2_elems, xf_elems;
	uint16_t *xbf;			/* bf16: hi rows, then lo rows of the input */
	float *y2;			/* bf16: the products of the hi and lo rows;
					 * f32: a padded call's output */
	float *xf;			/* f32: a padded call's input */
	void *scratch;			/* oneDNN's scratchpad */
	size_t scratch_bytes;
};

struct dmm_ctx {
	dnnl_engine_t eng;
	/* scratchpad mode user: each lane passes its own (oneDNN's library
	 * scratchpad is one buffer for all: products side by side would
	 * share it) */
	dnnl_primitive_attr_t attr;
	bool bf16;
	int max_rows;
	int prim_rows;			/* rows a call may have: 2 * max_rows in bf16 */
	int cap_rows;			/* rows of the largest bucket used */
	int min_plain_rows;		/* fewer rows never reach a plain weight */
	int nlanes;
	struct dmm_lane *lanes;		/* [nlanes]; lane 0 is dmm_run's */
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

int dmm_ctx_create(bool bf16, int max_rows, int nlanes, struct dmm_ctx **out,
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
	if (bucket_of(c->prim_rows) < 0) {
		seterr(err, errlen, "matmul: max_rows %d above %d", max_rows,
		       bucket_rows[DMM_BUCKETS - 1] / (bf16 ? 2 : 1));
		free(c);
		return -EINVAL;
	}
	c->cap_rows = bucket_rows[bucket_of(c->prim_rows)];
	c->min_plain_rows = 1;
	c->nlanes = nlanes < 1 ? 1 : nlanes;
	c->lanes = calloc(c->nlanes, sizeof(*c->lanes));
	if (!c->lanes) {
		free(c);
		return -ENOMEM;
	}
	if (dnnl_engine_create(&c->eng, dnnl_cpu, 0) != dnnl_success ||
	    dnnl_primitive_attr_create(&c->attr) != dnnl_success ||
	    dnnl_primitive_attr_set_scratchpad_mode(c->attr, dnnl_scratchpad_mode_user) !=
	    dnnl_success) {
		seterr(err, errlen, "oneDNN: cannot create the CPU engine");
		dmm_ctx_destroy(c);
		return -ENODEV;
	}
	for (int i = 0; i < c->nlanes; i++) {
		if (dnnl_stream_create(&c->lanes[i].strm, c->eng, dnnl_stream_default_flags) !=
		    dnnl_success) {
			seterr(err, errlen, "oneDNN: cannot create a CPU stream");
			dmm_ctx_destroy(c);
			return -ENODEV;
		}
	}
	*out = c;
	return 0;
}

static void mem_free(dnnl_memory_t *m)
{
	if (*m)
		dnnl_memory_destroy(*m);
	*m = NULL;
}

static void shape_free(struct dmm_shape *sh, int nlanes)
{
	for (int b = 0; b < DMM_BUCKETS; b++) {
		if (sh->prim[b])
			dnnl_primitive_destroy(sh->prim[b]);
		mem_free(&sh->src[b]);
		mem_free(&sh->dst[b]);
		mem_free(&sh->scr[b]);
		for (int l = 0; sh->lsrc && l < nlanes - 1; l++) {
			mem_free(&sh->lsrc[l][b]);
			mem_free(&sh->ldst[l][b]);
			mem_free(&sh->lscr[l][b]);
		}
	}
	free(sh->lsrc);
	free(sh->ldst);
	free(sh->lscr);
	free(sh);
}

void dmm_ctx_set_min_plain_rows(struct dmm_ctx *c, int m)
{
	c->min_plain_rows = m < 1 ? 1 : m;
}

void dmm_ctx_destroy(struct dmm_ctx *c)
{
	if (!c)
		return;
	while (c->shapes) {
		struct dmm_shape *n = c->shapes->next;

		shape_free(c->shapes, c->nlanes);
		c->shapes = n;
	}
	for (int i = 0; c->lanes && i < c->nlanes; i++) {
		free(c->lanes[i].xbf);
		free(c->lanes[i].y2);
		free(c->lanes[i].xf);
		free(c->lanes[i].scratch);
		if (c->lanes[i].strm)
			dnnl_stream_destroy(c->lanes[i].strm);
	}
	free(c->lanes);
	if (c->attr)
		dnnl_primitive_attr_destroy(c->attr);
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
		return dnnl_primitive_desc_create(pd, md, c->attr, c->eng, NULL);
	st = dnnl_primitive_desc_iterator_create(&it, md, c->attr, c->eng, NULL);
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

/* The input and output rows of a call go through these buffers (bf16:
 * always; f32: when padded to a bucket), sized for the widest shape and
 * the largest bucket. Calloc'ed: pad rows hold finite values. */
static int grow(void **buf, size_t *have, size_t want, size_t esz)
{
	void *nb;

	if (want <= *have)
		return 0;
	nb = calloc(want, esz);
	if (!nb)
		return -ENOMEM;
	free(*buf);
	*buf = nb;
	*have = want;
	return 0;
}

/* Creates the primitive and the activation memories of bucket b. */
static int shape_make_bucket(struct dmm_ctx *c, struct dmm_shape *sh, int b)
{
	dnnl_primitive_desc_t pd;
	dnnl_status_t st;

	st = make_pd(c, sh->k, sh->n, sh->ldc, sh->bias, bucket_rows[b], &sh->wmd, &pd);
	if (st != dnnl_success)
		return -EIO;
	st = dnnl_primitive_create(&sh->prim[b], pd);
	if (st == dnnl_success)
		st = dnnl_memory_create(&sh->src[b],
					dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0),
					c->eng, DNNL_MEMORY_NONE);
	if (st == dnnl_success)
		st = dnnl_memory_create(&sh->dst[b],
					dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0),
					c->eng, DNNL_MEMORY_NONE);
	if (st == dnnl_success) {
		const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd,
							dnnl_query_scratchpad_md, 0);

		sh->scr_bytes[b] = smd ? dnnl_memory_desc_get_size(smd) : 0;
		if (sh->scr_bytes[b])
			st = dnnl_memory_create(&sh->scr[b], smd, c->eng, DNNL_MEMORY_NONE);
	}
	dnnl_primitive_desc_destroy(pd);
	if (st != dnnl_success)
		return -EIO;
	return grow(&c->lanes[0].scratch, &c->lanes[0].scratch_bytes, sh->scr_bytes[b], 1);
}

/* Every bucket a call can reach: rows from the least a call has (on a
 * plain weight, what the caller's own kernels leave to oneDNN) up to
 * prim_rows. */
static int shape_make_buckets(struct dmm_ctx *c, struct dmm_shape *sh)
{
	int lo = sh->plain ? c->min_plain_rows : 1;
	int lo_rows = c->bf16 ? 2 * lo : lo;

	for (int b = 0; b < DMM_BUCKETS; b++) {
		int prev = b ? bucket_rows[b - 1] : 0;

		if (bucket_rows[b] < lo_rows || prev >= c->prim_rows)
			continue;
		/* bf16 calls have an even row count (hi and lo rows) */
		if (c->bf16 && bucket_rows[b] - prev < 2 && bucket_rows[b] % 2)
			continue;
		if (shape_make_bucket(c, sh, b))
			return -EIO;
	}
	return 0;
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
	if ((plain && plain_md(c, k, n, &pmd) != dnnl_success) ||
	    make_pd(c, k, n, ldc, bias, 1, plain ? &pmd : NULL, &pd) != dnnl_success) {
		seterr(err, errlen, "oneDNN: no %s matmul for k=%d n=%d%s on this CPU (%s)%s",
		       c->bf16 ? "bf16" : "f32", k, n, plain ? " on row-major weights" : "",
		       dmm_isa_name(), c->bf16 ? "; use compute type f32" : "");
		shape_free(sh, c->nlanes);
		return NULL;
	}
	sh->wmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
	dnnl_primitive_desc_destroy(pd);
	if (shape_make_buckets(c, sh)) {
		seterr(err, errlen, "oneDNN: cannot create the matmul k=%d n=%d", k, n);
		shape_free(sh, c->nlanes);
		return NULL;
	}
	sh->next = c->shapes;
	c->shapes = sh;
	return sh;
nomem:
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

static int lane_bufs(const struct dmm_ctx *c, struct dmm_lane *ln, int k, int n, int ldc)
{
	size_t rows = (size_t)c->cap_rows, wide = (size_t)(ldc > n ? ldc : n);

	if (c->bf16 && grow((void **)&ln->xbf, &ln->xbf_elems, rows * k, 2))
		return -ENOMEM;
	if (!c->bf16 && grow((void **)&ln->xf, &ln->xf_elems, rows * k, sizeof(float)))
		return -ENOMEM;
	return grow((void **)&ln->y2, &ln->y2_elems, rows * wide, sizeof(float));
}

static int ctx_bufs(struct dmm_ctx *c, int k, int n, int ldc)
{
	return lane_bufs(c, &c->lanes[0], k, n, ldc);
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

	if (ctx_bufs(c, k, n, n))
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

		if (dnnl_primitive_execute(rprim, c->lanes[0].strm, 2, args) ||
		    dnnl_stream_wait(c->lanes[0].strm))
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
	if (ctx_bufs(c, k, n, n)) {
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
	if (ctx_bufs(c, k, n, ldy))
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

/* Large enough to fork threads for the conversions around a product. */
#define PAR_ELEMS 65536

int dmm_weights_lanes(struct dmm_ctx *c, struct dmm_weights *w)
{
	struct dmm_shape *sh = w->sh;
	int nl = c->nlanes - 1;

	if (nl < 1)
		return 0;
	for (int l = 1; l < c->nlanes; l++) {
		if (lane_bufs(c, &c->lanes[l], sh->k, sh->n, sh->ldc))
			return -ENOMEM;
		for (int b = 0; b < DMM_BUCKETS; b++)
			if (grow(&c->lanes[l].scratch, &c->lanes[l].scratch_bytes,
				 sh->scr_bytes[b], 1))
				return -ENOMEM;
	}
	if (sh->lsrc)
		return 0;
	sh->lsrc = calloc(nl, sizeof(*sh->lsrc));
	sh->ldst = calloc(nl, sizeof(*sh->ldst));
	sh->lscr = calloc(nl, sizeof(*sh->lscr));
	if (!sh->lsrc || !sh->ldst || !sh->lscr)
		return -ENOMEM;
	for (int b = 0; b < DMM_BUCKETS; b++) {
		const dnnl_memory_desc_t *smd, *dmd;
		dnnl_primitive_desc_t pd;

		if (!sh->prim[b])
			continue;
		if (dnnl_primitive_get_primitive_desc(sh->prim[b], (const_dnnl_primitive_desc_t *)&pd))
			return -EIO;
		smd = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
		dmd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
		for (int l = 0; l < nl; l++) {
			if (dnnl_memory_create(&sh->lsrc[l][b], smd, c->eng, DNNL_MEMORY_NONE) ||
			    dnnl_memory_create(&sh->ldst[l][b], dmd, c->eng, DNNL_MEMORY_NONE))
				return -EIO;
			if (sh->scr_bytes[b] &&
			    dnnl_memory_create(&sh->lscr[l][b],
					       dnnl_primitive_desc_query_md(pd,
							dnnl_query_scratchpad_md, 0),
					       c->eng, DNNL_MEMORY_NONE))
				return -EIO;
		}
	}
	return 0;
}

int dmm_lanes(const struct dmm_ctx *c)
{
	return c->nlanes;
}

uint64_t dmm_ctx_buffer_bytes(const struct dmm_ctx *c)
{
	uint64_t b = 0;

	for (int i = 0; i < c->nlanes; i++) {
		const struct dmm_lane *ln = &c->lanes[i];

		b += ln->xbf_elems * 2 + (ln->y2_elems + ln->xf_elems) * sizeof(float) +
		     ln->scratch_bytes;
	}
	return b;
}

/* Large enough to fork threads for the conversions around a product. */
#define PAR_ELEMS 65536

/* The lane's copy of a call's input where the primitive needs one: bf16
 * hi rows, then lo rows; f32 padded to its bucket. NULL: x as it is. */
static const void *lane_input(struct dmm_ctx *c, struct dmm_lane *ln, const float *x, int m,
			      size_t k, bool padded)
{
	if (c->bf16) {
		size_t half = (size_t)m * k;

#pragma omp parallel for if (half > PAR_ELEMS) schedule(static)
		for (int r = 0; r < m; r++)
			cm_f32_to_bf16_split(x + (size_t)r * k, ln->xbf + (size_t)r * k,
					     ln->xbf + half + (size_t)r * k, k);
		return ln->xbf;
	}
	if (padded) {
		memcpy(ln->xf, x, sizeof(float) * (size_t)m * k);
		return ln->xf;
	}
	return NULL;
}

static bool lane_ok(const struct dmm_ctx *c, const struct dmm_weights *w, int lane, int m)
{
	int b = bucket_of(c->bf16 ? 2 * m : m);

	return m >= 1 && m <= c->max_rows && b >= 0 && w->sh->prim[b] && lane >= 0 &&
	       lane < c->nlanes && (!lane || w->sh->lsrc);
}

/* One product on lane's input as lane_input left it (src: NULL for x). */
static int lane_exec(struct dmm_ctx *c, int lane, struct dmm_weights *w, const float *x,
		     const void *src, int m, float *y)
{
	struct dmm_shape *sh = w->sh;
	struct dmm_lane *ln = &c->lanes[lane];
	int rows = c->bf16 ? 2 * m : m;
	int b = bucket_of(rows);
	size_t n = (size_t)sh->n;
	dnnl_memory_t msrc, mdst, mscr;
	bool padded = bucket_rows[b] != rows;
	float *dst = c->bf16 || padded ? ln->y2 : y;

	msrc = lane ? sh->lsrc[lane - 1][b] : sh->src[b];
	mdst = lane ? sh->ldst[lane - 1][b] : sh->dst[b];
	mscr = lane ? sh->lscr[lane - 1][b] : sh->scr[b];
	if (dnnl_memory_set_data_handle(msrc, (void *)(src ? src : (const void *)x)) ||
	    dnnl_memory_set_data_handle(mdst, dst) ||
	    (mscr && dnnl_memory_set_data_handle(mscr, ln->scratch)))
		return -EIO;

	dnnl_exec_arg_t args[5] = {
		{ DNNL_ARG_SRC, msrc },
		{ DNNL_ARG_WEIGHTS, w->wmem },
		{ DNNL_ARG_DST, mdst },
		{ DNNL_ARG_SCRATCHPAD, mscr },
		{ DNNL_ARG_BIAS, w->bmem },
	};
	int nargs = mscr ? 4 : 3;

	if (sh->bias)
		args[nargs++] = args[4];
	if (dnnl_primitive_execute(sh->prim[b], ln->strm, nargs, args) ||
	    dnnl_stream_wait(ln->strm))
		return -EIO;
	if (c->bf16) {
		/* bf16 products have a dense output of n columns */
		const float *hi = ln->y2, *lo = ln->y2 + (size_t)m * n;
		const float *bias = w->bias;
		size_t ldy = (size_t)w->ldy;

#pragma omp parallel for if ((size_t)m * n > PAR_ELEMS) schedule(static)
		for (int r = 0; r < m; r++)
			for (size_t j = 0; j < n; j++)
				y[r * ldy + j] = hi[r * n + j] + lo[r * n + j] +
						 (bias ? bias[j] : 0.0f);
	} else if (padded) {
		for (int r = 0; r < m; r++)
			memcpy(y + (size_t)r * w->ldy, ln->y2 + (size_t)r * sh->ldc,
			       sizeof(float) * n);
	}
	return 0;
}

int dmm_run_lane(struct dmm_ctx *c, int lane, struct dmm_weights *w, const float *x,
		 int m, float *y)
{
	int rows = c->bf16 ? 2 * m : m;
	const void *src;

	if (!lane_ok(c, w, lane, m))
		return -EINVAL;
	src = lane_input(c, &c->lanes[lane], x, m, (size_t)w->sh->k,
			 bucket_rows[bucket_of(rows)] != rows);
	return lane_exec(c, lane, w, x, src, m, y);
}

int dmm_run_parts(struct dmm_ctx *c, struct dmm_weights *const *w, int nw, const float *x,
		  int m, float *const *y)
{
	int rows = c->bf16 ? 2 * m : m;
	const void *src;
	int rc = 0;

	for (int i = 0; i < nw; i++)
		if (!lane_ok(c, w[i], 0, m) || w[i]->sh->k != w[0]->sh->k)
			return -EINVAL;
	/* the input converted once for all the parts */
	src = lane_input(c, &c->lanes[0], x, m, (size_t)w[0]->sh->k,
			 bucket_rows[bucket_of(rows)] != rows);
	for (int i = 0; !rc && i < nw; i++)
		rc = lane_exec(c, 0, w[i], x, src, m, y[i]);
	return rc;
}

int dmm_run(struct dmm_ctx *c, struct dmm_weights *w, const float *x, int m,
	    float *y)
{
	return dmm_run_lane(c, 0, w, x, m, y);
}
