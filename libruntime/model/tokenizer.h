/* SPDX-License-Identifier: MIT */
/*
 * Tokenizer of a PhiMoE model directory: SentencePiece (tokenizer.model,
 * through the shim in tokenizer_sp.h) plus the special tokens of
 * added_tokens.json, which are split out of the text before SentencePiece
 * sees it. BOS is added per tokenizer_config.json's add_bos_token.
 *
 * tools/, libsplitmoe/ and the tests code against it: extend, do not change.
 */
#ifndef SPLITMOE_TOKENIZER_H
#define SPLITMOE_TOKENIZER_H

#include <stddef.h>
#include <stdbool.h>

struct phimoe_tokenizer;

/*
 * Load <dir>/tokenizer.model, added_tokens.json (optional) and
 * tokenizer_config.json (optional). 0, or -1 with one line in err naming
 * the file.
 */
int phimoe_tokenizer_load(const char *dir, struct phimoe_tokenizer **out,
			  char *err, size_t errlen);
void phimoe_tokenizer_free(struct phimoe_tokenizer *tk);

/* SentencePiece pieces (ids below this are SentencePiece's). */
int phimoe_tokenizer_sp_size(const struct phimoe_tokenizer *tk);
int phimoe_tokenizer_bos_id(const struct phimoe_tokenizer *tk);	/* -1 if none */
bool phimoe_tokenizer_add_bos(const struct phimoe_tokenizer *tk);
/* id of a special (added) token such as "<|end|>", or -1. */
int phimoe_tokenizer_special_id(const struct phimoe_tokenizer *tk,
				const char *text);

/*
 * Encode text: special tokens are matched literally and the pieces
 * between them go through SentencePiece; BOS first when add_bos_token.
 * *ids is malloc'ed (caller frees), *n its length. 0, or -1 with err.
 */
int phimoe_tokenizer_encode(const struct phimoe_tokenizer *tk,
			    const char *text, int **ids, size_t *n,
			    char *err, size_t errlen);

/*
 * Decode ids to text exactly as SentencePiece's DecodeIds does for its
 * own pieces (leading space of the first piece dropped, byte-fallback
 * pieces joined, invalid UTF-8 as U+FFFD); added tokens decode to their
 * text, ids with neither a piece nor an added token to nothing.
 * Returns a malloc'ed NUL-terminated string, or NULL on allocation failure.
 */
char *phimoe_tokenizer_decode(const struct phimoe_tokenizer *tk,
			      const int *ids, size_t n);

/*
 * Incremental decoding for streaming: push ids one at a time and get the
 * bytes that became final. Concatenating every push and the final flush
 * gives phimoe_tokenizer_decode() of the same ids (with keep_leading_space
 * false). Bytes of an unfinished UTF-8 character from byte-fallback pieces
 * are held back until complete. No allocation per token.
 */
struct phimoe_detok {
	const struct phimoe_tokenizer *tk;
	bool at_start;			/* no piece emitted yet */
	bool keep_leading_space;	/* continuation: keep the first ▁ */
	unsigned char pending[8];	/* bytes of an unfinished character */
	int npending;
};
void phimoe_detok_init(struct phimoe_detok *d, const struct phimoe_tokenizer *tk,
		       bool keep_leading_space);
/* Writes at most cap-1 bytes plus NUL into out; returns bytes written
 * (cap of 64 is always enough for one token of our vocabularies). */
size_t phimoe_detok_push(struct phimoe_detok *d, int id, char *out, size_t cap);
size_t phimoe_detok_flush(struct phimoe_detok *d, char *out, size_t cap);

/* Whether s[0..n) is well-formed UTF-8 (no overlong forms, surrogates or
 * code points beyond U+10FFFF); *bad (may be NULL) gets the offset of the
 * first byte that starts no valid character. */
bool phimoe_utf8_valid(const char *s, size_t n, size_t *bad);

#endif /* SPLITMOE_TOKENIZER_H */
