// SPDX-License-Identifier: MIT
/*
 * generate: greedy continuation of a prompt through the public API alone
 * (include/splitmoe.h, libsplitmoe.so.0).
 *
 *   generate MODEL_DIR PROMPT [N]
 *
 * Prints the continuation (at most N tokens, default 16, stopping at an
 * end-of-sequence token) and a newline on stdout, as `splitmoe run
 * --prompt PROMPT -n N` does, and the speeds on stderr.
 */
#include <splitmoe.h>

#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what, splitmoe_status st, const char *text)
{
	fprintf(stderr, "generate: %s: %s%s%s\n", what, splitmoe_status_str(st),
		text && *text ? ": " : "", text ? text : "");
	return 1;
}

int main(int argc, char **argv)
{
	struct splitmoe_session_params sp;
	struct splitmoe_stats stats;
	splitmoe_model *m = NULL;
	splitmoe_session *s = NULL;
	splitmoe_sampler *smp = NULL;
	splitmoe_detok *dt = NULL;
	splitmoe_status st;
	int32_t *ids = NULL;
	size_t n = 0;
	char err[512], piece[64];
	int rc = 1, n_gen = 16;
	char *end;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: generate MODEL_DIR PROMPT [N]\n");
		return 2;
	}
	if (argc == 4) {
		long v = strtol(argv[3], &end, 10);

		if (*end || v < 1 || v > 100000) {
			fprintf(stderr, "generate: N: '%s' is not a count from 1 to 100000\n", argv[3]);
			return 2;
		}
		n_gen = (int)v;
	}
	st = splitmoe_model_load(argv[1], NULL, &m, err, sizeof(err));
	if (st)
		return fail("load", st, err);

	/* The first call counts the prompt's tokens, the second fills them. */
	st = splitmoe_tokenize(m, argv[2], NULL, 0, &n);
	if (st && st != SPLITMOE_ERR_TOO_SMALL) {
		rc = fail("tokenize", st, NULL);
		goto out;
	}
	ids = malloc((n ? n : 1) * sizeof(*ids));
	if (!ids || (st = splitmoe_tokenize(m, argv[2], ids, n, &n)) != SPLITMOE_OK) {
		rc = fail("tokenize", ids ? st : SPLITMOE_ERR_NOMEM, NULL);
		goto out;
	}
	if (n == 0 || n + (size_t)n_gen > (size_t)splitmoe_model_max_positions(m)) {
		fprintf(stderr, "generate: the prompt is %zu tokens: give 1 to %d with N\n", n,
			splitmoe_model_max_positions(m) - n_gen);
		goto out;
	}

	sp = splitmoe_session_default_params();
	sp.max_seq = (int)n + n_gen;
	st = splitmoe_session_create(m, &sp, &s, err, sizeof(err));
	if (st) {
		rc = fail("session", st, err);
		goto out;
	}
	st = splitmoe_sampler_create(m, NULL, &smp);	/* greedy */
	dt = splitmoe_detok_create(m, true);		/* the prompt is continued */
	if (st || !dt) {
		rc = fail("sampler", st ? st : SPLITMOE_ERR_NOMEM, NULL);
		goto out;
	}
	st = splitmoe_prefill(s, ids, (int)n);
	for (int i = 0; !st && i < n_gen; i++) {
		int32_t id = splitmoe_sample(smp, splitmoe_logits(s));

		if (splitmoe_token_is_eos(m, id))
			break;
		fwrite(piece, 1, splitmoe_detok_push(dt, id, piece, sizeof(piece)), stdout);
		if (i + 1 < n_gen)
			st = splitmoe_decode(s, id);
	}
	if (st) {
		rc = fail("forward pass", st, splitmoe_session_error(s));
		goto out;
	}
	splitmoe_detok_flush(dt, piece, sizeof(piece));
	printf("%s\n", piece);
	splitmoe_session_stats(s, &stats);
	fprintf(stderr, "generate: %s, prefill %llu tokens at %.1f tok/s, decode %llu at %.1f tok/s\n",
		splitmoe_session_device(s), (unsigned long long)stats.prefill_tokens,
		stats.prefill_ns ? stats.prefill_tokens / (stats.prefill_ns / 1e9) : 0.0,
		(unsigned long long)stats.decode_tokens,
		stats.decode_ns ? stats.decode_tokens / (stats.decode_ns / 1e9) : 0.0);
	rc = 0;
out:
	splitmoe_detok_free(dt);
	splitmoe_sampler_free(smp);
	splitmoe_session_free(s);
	splitmoe_model_free(m);
	free(ids);
	return rc;
}
