// SPDX-License-Identifier: MIT
/* splitmoe bench: the weight bytes a prefill reads (bench.h). */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

double bench_bytes_prefill(const struct splitmoe_token_bytes *b, const int32_t *experts, int n,
			   int chunk)
{
	bool *used = calloc((size_t)(b->experts > 0 ? b->experts : 1), sizeof(*used));
	double total = 0;
	int c0, l, r, j, e;

	for (c0 = 0; c0 < n; c0 += chunk) {
		int c1 = c0 + chunk < n ? c0 + chunk : n;

		/* the final norm and lm_head: the last chunk's last row only */
		total += b->dense - (c1 < n ? b->head : 0) + (double)(c1 - c0) * b->embed_row;
		for (l = 0; l < b->layers; l++) {
			int distinct = 0;

			if (!used || !experts) {	/* no routing at hand: every expert */
				total += (double)b->experts * b->expert;
				continue;
			}
			memset(used, 0, sizeof(*used) * (size_t)b->experts);
			for (r = c0; r < c1; r++)
				for (j = 0; j < b->top_k; j++) {
					e = experts[((size_t)l * n + r) * b->top_k + j];
					if (e >= 0 && e < b->experts && !used[e]) {
						used[e] = true;
						distinct++;
					}
				}
			total += distinct * b->expert;
		}
	}
	free(used);
	return total;
}
