/* SPDX-License-Identifier: MIT */
/*
 * y[m][n] = x[m][k] W^T + b through oneDNN matmul, with W packed once into
 * the layout oneDNN's brgemm kernels prefer (queried, not assumed), or used
 * in place when row-major (dmm_weights_wrap: memory another device reads),
 * and the primitives cached per (k, n, compute type, bias, layout) and per
 * row bucket: oneDNN 2.6 only picks its fast kernels for a fixed m, and
 * with a runtime m it falls back to gemm:jit, which re-packs the weights on
 * every call. Every bucket a call can reach is made with the shape; a call
 * runs on its bucket's row count with padded buffers: no primitive is
 * made on the hot path.
 *
 * Activations are f32 in and out; in bf16 the input rows are converted
 * into a work buffer first (oneDNN 2.6 has no f32 x bf16 matmul).
 */
#ifndef SPLITMOE_DNNL_MATMUL_H
#define SPLITMOE_DNNL_MATMUL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "model/model.h"

struct dmm_ctx;			/* engine, stream, primitive cache */
struct dmm_weights;		/* one packed matrix and its bias */

/* max_rows: the largest m any call will pass (sizes the bf16 buffer).
 * nlanes: how many threads may run products at once (dmm_run_lane). */
int dmm_ctx_create(bool bf16, int max_rows, int nlanes, struct dmm_ctx **out,
		   char *err, size_t errlen);
void dmm_ctx_destroy(struct dmm_ctx *c);
/* Products of fewer than m rows on plain (row-major, mapped or wrapped)
 * weights never come here (the caller runs them itself): their row
 * buckets are not made. Before the first weight is made. */
void dmm_ctx_set_min_plain_rows(struct dmm_ctx *c, int m);

/*
 * Packs the row-wise concatenation of nparts matrices w[i] ([rows_i][k],
 * any checkpoint dtype) and their biases (b[i].data NULL: zero) into one
 * [n = sum rows_i][k] weight. When oneDNN's preferred layout is the
 * checkpoint's own and no conversion is needed the mapped data is used in
 * place. 0 or a negative errno with a message.
 */
int dmm_weights_create(struct dmm_ctx *c, const struct phimoe_tensor *w,
		       const struct phimoe_tensor *b, int nparts,
		       struct dmm_weights **out, char *err, size_t errlen);
void dmm_weights_destroy(struct dmm_weights *w);

/*
 * A weight that is already row-major [n][k] in the compute type (f32, or
 * bf16 for a bf16 context) at data, used in place: no copy, no reorder,
 * the primitives are made for that plain layout (kept apart from those of
 * the packed one). data must outlive the weight. -EOPNOTSUPP when the
 * dtype is not the compute type or oneDNN has no matmul on that layout.
 */
int dmm_weights_wrap(struct dmm_ctx *c, const void *data, enum phimoe_dtype dtype, int n,
		     int k, struct dmm_weights **out, char *err, size_t errlen);
/*
 * The checkpoint tensor w ([n][k], mapped) used in place, zero copy, with
 * its bias b (NULL or b->data NULL: none; converted to f32, n floats):
 * the primitives run on the row-major layout (brgemm copies blocks of it
 * per call, see make bench-plain-layout). dmm_run then writes row r of
 * the product at y + r * ldy (ldy >= n), so that the parts of a fused
 * product (q|k|v, w1|w3) land side by side. -EOPNOTSUPP when w's dtype is
 * not the compute type.
 */
int dmm_weights_map(struct dmm_ctx *c, const struct phimoe_tensor *w,
		    const struct phimoe_tensor *b, int ldy, struct dmm_weights **out,
		    char *err, size_t errlen);
/* The row-major [n][k] data oneDNN reads for w (its memory object's
 * handle), or NULL when w is in a packed layout. */
const void *dmm_weights_plain_data(const struct dmm_weights *w);
/* The bias as f32 [n], or NULL without one. */
const float *dmm_weights_bias(const struct dmm_weights *w);
int dmm_weights_k(const struct dmm_weights *w);
int dmm_weights_n(const struct dmm_weights *w);
/* Bytes of the weight as oneDNN reads it (packed or mapped). */
uint64_t dmm_weights_bytes(const struct dmm_weights *w);
/* Bytes this packing allocated (0 when mapped in place). */
uint64_t dmm_weights_packed_bytes(const struct dmm_weights *w);

/* y = x W^T + b for m rows (1 <= m <= max_rows), row r at y + r * ldy
 * (ldy = n except for dmm_weights_map). 0 or a negative errno. */
int dmm_run(struct dmm_ctx *c, struct dmm_weights *w, const float *x, int m,
	    float *y);
/* dmm_run of nw products of one input x (the same k), which is converted
 * once for them all (bf16: its hi and lo rows): y[i] = x W[i]. */
int dmm_run_parts(struct dmm_ctx *c, struct dmm_weights *const *w, int nw, const float *x,
		  int m, float *const *y);

/*
 * Lanes: a stream and work buffers each, so that up to nlanes threads of
 * one parallel region may run products at once (oneDNN then runs each on
 * its calling thread alone: small products side by side rather than each
 * split over every core). dmm_run is lane 0. dmm_weights_lanes makes w
 * runnable on every lane (buffers and memory objects, once, at set-up).
 */
int dmm_lanes(const struct dmm_ctx *c);
/* Bytes of the lanes' buffers and scratchpads, now. */
uint64_t dmm_ctx_buffer_bytes(const struct dmm_ctx *c);
int dmm_weights_lanes(struct dmm_ctx *c, struct dmm_weights *w);
int dmm_run_lane(struct dmm_ctx *c, int lane, struct dmm_weights *w, const float *x,
		 int m, float *y);

/* oneDNN's CPU ISA in use ("avx512_core_bf16", ...) and whether it has
 * native bf16 (AVX512-BF16 or AMX). */
const char *dmm_isa_name(void);
bool dmm_cpu_has_bf16(void);

#endif /* SPLITMOE_DNNL_MATMUL_H */
