/* SPDX-License-Identifier: MIT */
/*
 * Thin C interface to libsentencepiece (tokenizer_sp.cc): only what
 * tokenizer.c needs.
 */
#ifndef SPLITMOE_TOKENIZER_SP_H
#define SPLITMOE_TOKENIZER_SP_H

#include <stddef.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sp_proc;

enum sp_piece_kind {
	SP_PIECE_NORMAL = 0,
	SP_PIECE_CONTROL,	/* <s>, </s>: decode to nothing */
	SP_PIECE_UNKNOWN,
	SP_PIECE_BYTE,		/* <0xAB> byte fallback */
	SP_PIECE_UNUSED,
};

/* 0, or -1 with the library's message in err. */
int sp_load(const char *path, struct sp_proc **out, char *err, size_t errlen);
void sp_free(struct sp_proc *sp);
int sp_piece_size(const struct sp_proc *sp);
int sp_bos_id(const struct sp_proc *sp);
/* Piece text of id (UTF-8, with U+2581 for spaces); "" when out of range.
 * The pointer stays valid while sp is loaded. */
const char *sp_piece(const struct sp_proc *sp, int id);
enum sp_piece_kind sp_kind(const struct sp_proc *sp, int id);
/* Byte value of a byte piece, -1 otherwise. */
int sp_byte(const struct sp_proc *sp, int id);
/* Whether decoding drops the space marker of the first piece. */
bool sp_strips_leading_space(const struct sp_proc *sp);
/*
 * Encode len bytes of text, appending to ids (capacity *cap, grown with
 * realloc) at *n. With no_dummy_prefix the segment continues earlier text,
 * so SentencePiece's dummy "▁" prefix is not added. 0 or -1.
 */
int sp_encode(const struct sp_proc *sp, const char *text, size_t len,
	      bool no_dummy_prefix, int **ids, size_t *n, size_t *cap);
/* SentencePiece's DecodeIds; malloc'ed string, NULL on failure. */
char *sp_decode(const struct sp_proc *sp, const int *ids, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* SPLITMOE_TOKENIZER_SP_H */
