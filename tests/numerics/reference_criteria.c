// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "config/options.h"
#include "tests/eval/eval_reference.h"
#include "reference_criteria.h"

void check_reference_criteria(const char *dir, enum sm_compute c, enum sm_weights_layout w)
{
	struct eval_opts o = { .compute = c, .threads = 2, .weights = w };
	struct eval_result r;
	/* the table goes to stderr (the check log), TAP stays on stdout */
	int rc = splitmoe_eval(dir, REFERENCE, &o, stderr, &r);

	for (int i = 0; i < r.n_cases; i++)
		printf("# %s %s %s case %d: max|dlogit| %.3e, min cos %.6f, top-1 %d/%d, router %d/%d, greedy %d/%d\n",
		       dir, sm_compute_name(c), sm_weights_layout_name(w), i, r.cases[i].max_abs_err,
		       r.cases[i].min_cos, r.cases[i].top1_agree, r.cases[i].n_pos,
		       r.cases[i].router_agree, r.cases[i].router_total, r.cases[i].greedy_agree,
		       r.cases[i].greedy_n);
	assert_int_equal(rc, 0);
	assert_true(r.pass);
	assert_int_equal(r.n_cases, 4);
	for (int i = 0; i < r.n_cases; i++) {
		const struct eval_case_result *k = &r.cases[i];

		assert_int_equal(k->tokenizer_ok, 1);
		if (c == SM_COMPUTE_F32) {
			assert_true(k->max_abs_err <= 1e-3);
			assert_int_equal(k->router_agree, k->router_total);
			assert_int_equal(k->greedy_n, 24);
			assert_int_equal(k->greedy_agree, k->greedy_n);
		} else {
			assert_true(k->min_cos >= 0.999);
		}
	}
	if (c == SM_COMPUTE_BF16)
		assert_true(r.top1_agree >= 0.95 * r.positions);
}
