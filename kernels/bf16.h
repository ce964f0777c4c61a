/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the iGPU kernels. Weights arrive as bf16 bit patterns
 * (ushort): the upper half of an IEEE f32, so the conversion is a shift.
 * Activations, norm weights and biases are f32.
 */
#ifndef SPLITMOE_KERNELS_BF16_H
#define SPLITMOE_KERNELS_BF16_H

static inline float bf16_to_f32(ushort b)
{
	return as_float((uint)b << 16);
}

/* Weight loads of the two packed weight types (bf16 bits, or f32). */
#define LOAD_W_bf16(p, i) bf16_to_f32((p)[i])
#define LOAD_W_f32(p, i) ((p)[i])
#define WTYPE_bf16 ushort
#define WTYPE_f32 float

static inline float silu(float v)
{
	return v / (1.0f + exp(-v));
}

/*
 * Sum of one float per work item of a 1-D work-group of REDUCE_WG items
 * (a power of two); every item gets the result. scratch holds REDUCE_WG
 * floats. Contains barriers: every item of the group must call it.
 * Give each reduction of a kernel its own scratch array: reusing one
 * across two reductions with work in between gave wrong sums now and then
 * under PoCL 3.1's multi-threaded execution (layernorm), though the
 * barriers make it correct OpenCL.
 */
#define REDUCE_WG 64
static inline float group_sum(float v, __local float *scratch)
{
	int lid = get_local_id(0);

	scratch[lid] = v;
	barrier(CLK_LOCAL_MEM_FENCE);
	for (int s = REDUCE_WG / 2; s > 0; s >>= 1) {
		if (lid < s)
			scratch[lid] += scratch[lid + s];
		barrier(CLK_LOCAL_MEM_FENCE);
	}
	v = scratch[0];
	barrier(CLK_LOCAL_MEM_FENCE);
	return v;
}

#endif /* SPLITMOE_KERNELS_BF16_H */
