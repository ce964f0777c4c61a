/* SPDX-License-Identifier: MIT */
/*
 * Fast grouped-query attention on the CPU: the semantics of cm_attention
 * (cpu_math.h, kept as the scalar reference), blocked like flash attention
 * with an online softmax, threaded with OpenMP and vectorised for AVX-512,
 * AVX2+FMA or the baseline ISA, chosen once at run time.
 */
#ifndef SPLITMOE_CPU_ATTENTION_H
#define SPLITMOE_CPU_ATTENTION_H

#include <stdint.h>

/*
 * m queries at positions pos0..pos0+m-1 against keys 0..pos0+m-1 held in
 * the caches (already appended): query i attends key j iff j <= i and
 * (window == 0 or j > i - window). q rows are q_stride floats apart, head h
 * at q + h*head_dim; caches are [pos][n_kv_heads*head_dim]; out is
 * [m][n_heads*head_dim] (must not overlap q or the caches). n_heads must be
 * a multiple of n_kv_heads. Softmax in f32; the result matches
 * cm_attention to about 1e-6 relative (another summation order, and the
 * exponential of ca_expf below).
 *
 * Threads: nthreads > 1 runs one OpenMP parallel region of at most
 * nthreads threads (num_threads clause: omp_set_num_threads does not
 * matter; fewer when there are fewer tasks, or less work than about 256k
 * multiply-adds a thread: short contexts of small models); nthreads <= 1,
 * or a single task (short contexts), runs on the calling thread, no
 * region. Called
 * from inside a parallel region, the nested region gets one thread unless
 * nesting is enabled. Decode splits the keys into ranges across threads
 * (a multiple of nthreads where the context allows: 64 keys a range at
 * least) and combines their partial softmax sums; prefill spreads tiles of
 * (8 positions x the 4 heads of a kv head) over the threads, longest first.
 * Allocates nothing: tiles live on the threads' stacks (about 45 KB each),
 * the partial sums of split keys on the caller's (up to 256 KB).
 * head_dim above CA_MAX_HEAD_DIM runs a scalar path (serial, slow).
 */
void ca_attention(const float *q, int q_stride, int m, int pos0,
		  int n_heads, int n_kv_heads, int head_dim, int window,
		  float scale, const float *k_cache, const float *v_cache,
		  float *out, int nthreads);

/*
 * The same over a cache in blocks of block_size rows (a power of two):
 * position j lives in cache row block_table[j / block_size] * block_size
 * + j % block_size. block_table NULL: contiguous, as ca_attention.
 */
void ca_attention_blocks(const float *q, int q_stride, int m, int pos0,
			 int n_heads, int n_kv_heads, int head_dim, int window,
			 float scale, const float *k_cache, const float *v_cache,
			 const int32_t *block_table, int block_size,
			 float *out, int nthreads);

/*
 * Many sequences' attention in one parallel region (batched decode): item
 * i is ca_attention_blocks on its m queries at pos0.. with its own block
 * table, out of the shared pool k_cache/v_cache; the other arguments are
 * the same for all. The tiles of all the items are spread over the
 * threads together; keys are split only where they are too few for the
 * threads. Up to 64 items a region.
 */
struct ca_item {
	const float *q;			/* [m] rows of q_stride floats */
	int m, pos0;
	const int32_t *block_table;	/* NULL: contiguous */
	float *out;			/* [m][n_heads*head_dim] */
};

void ca_attention_batch(const struct ca_item *items, int count, int q_stride,
			int n_heads, int n_kv_heads, int head_dim, int window, float scale,
			const float *k_cache, const float *v_cache, int block_size,
			int nthreads);

#define CA_MAX_HEAD_DIM 256

/*
 * The multiply-adds each thread of a call takes at least (default 256k,
 * about 10 us); 0: the thread count alone decides, as the tests of the
 * parallel paths on small shapes want. Returns the previous value.
 */
uint64_t ca_set_min_thread_work(uint64_t work);

/*
 * The kernels exist for these ISAs; the one of our kernels' ISA choice is
 * used (cpu_isa.h: the best the CPU has, or a lower one forced with
 * SPLITMOE_ISA), capped at what this file's kernels need.
 */
enum ca_isa {
	CA_ISA_GENERIC = 0,	/* baseline x86-64 (SSE2) or whatever CFLAGS target */
	CA_ISA_AVX2,		/* AVX2 + FMA */
	CA_ISA_AVX512,		/* AVX-512 F/BW/VL/DQ + FMA, 512-bit vectors */
};

/* The path ca_attention uses now. */
enum ca_isa ca_isa_current(void);
const char *ca_isa_name(enum ca_isa isa);
/* Whether this CPU can run the path. */
int ca_isa_supported(enum ca_isa isa);
/*
 * For tests and benchmarks: use the path named "avx512", "avx2" or
 * "generic" (any case) from now on (NULL: back to the default above).
 * 0, -EINVAL for an unknown name, -ENOTSUP for a path the CPU lacks
 * (nothing changes). Not meant to race with ca_attention calls.
 */
int ca_force_isa(const char *name);

/*
 * The vectorisable exponential of the softmax, for tests: y[i] = e^x[i]
 * on the current path. Range reduction x = n ln2 + r (|r| <= ln2/2, ln2
 * split in two, Cody-Waite) and a degree-6 polynomial (Cephes expf):
 * within 1.01 ulp of the exact e^x on every float of [-87, 88] (measured
 * exhaustively on all three paths; test_pieces checks 2 ulp on a sample),
 * 0 for x < -87 (e^-87 = 1.6e-38: below that a softmax term vanishes
 * against the row maximum's 1), e^88 for x > 88, NaN for NaN.
 */
void ca_expf_array(const float *x, float *y, int n);

#endif /* SPLITMOE_CPU_ATTENTION_H */
