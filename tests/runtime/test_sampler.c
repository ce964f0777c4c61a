// SPDX-License-Identifier: MIT
/*
 * Sampler properties: greedy is argmax; top-k and top-p restrict the
 * support to what they should and no further; a seed reproduces; the
 * frequencies follow the softmax at the temperature.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sampler.h"

#define V 512

static void random_logits(float *l, int n, unsigned *seed)
{
	int i;

	for (i = 0; i < n; i++)
		l[i] = (float)rand_r(seed) / RAND_MAX * 20 - 10;
}

static struct sm_sampler *make(int vocab, float t, int k, float p, uint64_t seed)
{
	struct sm_sampler_opts o = { .temperature = t, .top_k = k, .top_p = p, .seed = seed };
	struct sm_sampler *s;

	assert_int_equal(sm_sampler_create(vocab, &o, &s), 0);
	return s;
}

static void t_greedy_is_argmax(void **state)
{
	struct sm_sampler *s = make(V, 0, 0, 1, 1);
	float l[V];
	unsigned seed = 7;
	int trial, i, best;

	(void)state;
	for (trial = 0; trial < 200; trial++) {
		random_logits(l, V, &seed);
		best = 0;
		for (i = 1; i < V; i++)
			if (l[i] > l[best])
				best = i;
		assert_int_equal(sm_sampler_sample(s, l), best);
		assert_int_equal(sm_argmax(l, V), best);
	}
	/* ties: the lowest id, as torch.argmax */
	for (i = 0; i < V; i++)
		l[i] = 0;
	l[300] = l[100] = 5;
	assert_int_equal(sm_sampler_sample(s, l), 100);
	/* NaN never wins */
	l[0] = NAN;
	assert_int_equal(sm_argmax(l, V), 100);
	sm_sampler_free(s);
	/* top_k 1 is greedy whatever the temperature */
	s = make(V, 5, 1, 1, 1);
	assert_int_equal(sm_sampler_sample(s, l), 100);
	sm_sampler_free(s);
}

static void t_top_k_support(void **state)
{
	struct sm_sampler *s = make(V, 1.0f, 5, 1, 42);
	int count[V] = { 0 }, i, top[5] = { 17, 3, 400, 250, 99 };
	float l[V];

	(void)state;
	for (i = 0; i < V; i++)
		l[i] = -1.0f - (float)i / V;	/* all below the top 5 */
	for (i = 0; i < 5; i++)
		l[top[i]] = 1.0f - 0.1f * i;
	for (i = 0; i < 5000; i++)
		count[sm_sampler_sample(s, l)]++;
	for (i = 0; i < 5; i++) {
		assert_true(count[top[i]] > 0);	/* each of the five occurs */
		count[top[i]] = 0;
	}
	for (i = 0; i < V; i++)
		assert_int_equal(count[i], 0);	/* and nothing else */
	sm_sampler_free(s);
}

static void t_top_p_support(void **state)
{
	/* probabilities 0.4, 0.3, 0.2, 0.1 */
	float l[4] = { logf(0.4f), logf(0.3f), logf(0.2f), logf(0.1f) };
	struct sm_sampler *s;
	int count[4], i;

	(void)state;
	s = make(4, 1.0f, 0, 0.5f, 3);	/* 0.4 < 0.5 <= 0.7: ids 0 and 1 */
	memset(count, 0, sizeof(count));
	for (i = 0; i < 4000; i++)
		count[sm_sampler_sample(s, l)]++;
	assert_true(count[0] > 0 && count[1] > 0);
	assert_int_equal(count[2] + count[3], 0);
	/* renormalised over the nucleus: 0.4/0.7 = 0.571 */
	assert_true(fabs(count[0] / 4000.0 - 0.4 / 0.7) < 0.03);
	sm_sampler_free(s);

	s = make(4, 1.0f, 0, 0.75f, 3);	/* 0.7 < 0.75 <= 0.9: ids 0, 1, 2 */
	memset(count, 0, sizeof(count));
	for (i = 0; i < 4000; i++)
		count[sm_sampler_sample(s, l)]++;
	assert_true(count[0] > 0 && count[1] > 0 && count[2] > 0);
	assert_int_equal(count[3], 0);
	sm_sampler_free(s);

	s = make(4, 1.0f, 2, 0.99f, 3);	/* top-k cuts before top-p */
	memset(count, 0, sizeof(count));
	for (i = 0; i < 4000; i++)
		count[sm_sampler_sample(s, l)]++;
	assert_int_equal(count[2] + count[3], 0);
	sm_sampler_free(s);
}

static void t_seed_reproducible(void **state)
{
	struct sm_sampler *a = make(V, 1.5f, 50, 0.9f, 1234), *b = make(V, 1.5f, 50, 0.9f, 1234);
	struct sm_sampler *c = make(V, 1.5f, 50, 0.9f, 1235);
	float l[V];
	unsigned seed = 11;
	int i, differ = 0;

	(void)state;
	for (i = 0; i < 300; i++) {
		int x, y, z;

		random_logits(l, V, &seed);
		x = sm_sampler_sample(a, l);
		y = sm_sampler_sample(b, l);
		z = sm_sampler_sample(c, l);
		assert_int_equal(x, y);
		differ += x != z;
	}
	assert_true(differ > 0);	/* another seed, another sequence */
	sm_sampler_free(a);
	sm_sampler_free(b);
	sm_sampler_free(c);
}

static void t_temperature_frequencies(void **state)
{
	float l[3] = { 2, 1, 0 };
	const float temps[] = { 1.0f, 0.5f, 3.0f };
	int t;

	(void)state;
	for (t = 0; t < 3; t++) {
		struct sm_sampler *s = make(3, temps[t], 0, 1, 99);
		double z = 0, p0;
		int count[3] = { 0 }, i;

		for (i = 0; i < 3; i++)
			z += exp(l[i] / temps[t]);
		p0 = exp(l[0] / temps[t]) / z;
		for (i = 0; i < 20000; i++)
			count[sm_sampler_sample(s, l)]++;
		if (fabs(count[0] / 20000.0 - p0) > 0.02)
			fail_msg("temperature %g: p0 %g, observed %g", temps[t], p0, count[0] / 20000.0);
		sm_sampler_free(s);
	}
}

static void t_bad_options(void **state)
{
	struct sm_sampler_opts o = { .temperature = 1, .top_p = 1 };
	struct sm_sampler *s;

	(void)state;
	assert_int_equal(sm_sampler_create(0, &o, &s), -EINVAL);
	o.temperature = -1;
	assert_int_equal(sm_sampler_create(V, &o, &s), -EINVAL);
	o.temperature = 1;
	o.top_p = 0;
	assert_int_equal(sm_sampler_create(V, &o, &s), -EINVAL);
	o.top_p = 1.5f;
	assert_int_equal(sm_sampler_create(V, &o, &s), -EINVAL);
	o.top_p = 1;
	o.top_k = -2;
	assert_int_equal(sm_sampler_create(V, &o, &s), -EINVAL);
	assert_null(s);
	o.top_k = 100000;	/* clamped to the vocabulary */
	assert_int_equal(sm_sampler_create(V, &o, &s), 0);
	sm_sampler_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_greedy_is_argmax),
		cmocka_unit_test(t_top_k_support),
		cmocka_unit_test(t_top_p_support),
		cmocka_unit_test(t_seed_reproducible),
		cmocka_unit_test(t_temperature_frequencies),
		cmocka_unit_test(t_bad_options),
	};

	return cmocka_run_group_tests_name("runtime-sampler", tests, NULL, NULL);
}
