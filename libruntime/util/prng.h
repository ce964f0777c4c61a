/* SPDX-License-Identifier: MIT */
/*
 * The project's pseudo-random numbers: splitmix64 to seed, xoshiro256**
 * to draw (the sampler's stream, synth's per-block weight streams).
 */
#ifndef SPLITMOE_PRNG_H
#define SPLITMOE_PRNG_H

#include <stdint.h>

static inline uint64_t sm_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t sm_rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** on the four words of s */
static inline uint64_t sm_xoshiro256ss(uint64_t s[4])
{
	uint64_t r = sm_rotl64(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = sm_rotl64(s[3], 45);
	return r;
}

#endif
