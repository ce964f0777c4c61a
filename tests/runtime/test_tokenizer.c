// SPDX-License-Identifier: MIT
/*
 * Tokenizer tests against the fixture's reference.json (ids and greedy
 * text made by sentencepiece 0.2.2), special tokens, the chat format and
 * streamed decoding. argv[1]: fixture dir, argv[2]: variants dir
 * (make_bad_fixtures.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "model/chat_format.h"
#include "model/tokenizer.h"
#include "model/tokenizer_sp.h"

static const char *fixture, *variants;
static struct json_object *ref;
static struct phimoe_tokenizer *tk;

static int setup(void **state)
{
	char path[4200], err[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/reference.json", fixture);
	ref = json_object_from_file(path);
	if (!ref)
		return -1;
	if (phimoe_tokenizer_load(fixture, &tk, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	phimoe_tokenizer_free(tk);
	json_object_put(ref);
	return 0;
}

static struct json_object *cases(void)
{
	struct json_object *c;

	assert_true(json_object_object_get_ex(ref, "cases", &c));
	assert_true(json_object_array_length(c) >= 4);
	return c;
}

static int *json_ids(struct json_object *a, size_t *n)
{
	int *v;
	size_t i;

	*n = json_object_array_length(a);
	v = malloc((*n + 1) * sizeof(*v));
	for (i = 0; i < *n; i++)
		v[i] = json_object_get_int(json_object_array_get_idx(a, i));
	return v;
}

static void t_reference_ids(void **state)
{
	struct json_object *cs = cases();
	size_t c;

	(void)state;
	for (c = 0; c < json_object_array_length(cs); c++) {
		struct json_object *k = json_object_array_get_idx(cs, c), *p, *ids;
		char err[512];
		int *got, *want;
		size_t n, m;

		assert_true(json_object_object_get_ex(k, "prompt", &p));
		assert_true(json_object_object_get_ex(k, "input_ids", &ids));
		assert_int_equal(phimoe_tokenizer_encode(tk, json_object_get_string(p), &got, &n,
							 err, sizeof(err)), 0);
		want = json_ids(ids, &m);
		assert_int_equal(n, m);
		assert_memory_equal(got, want, n * sizeof(int));
		free(got);
		free(want);
	}
}

/* Decoding the greedy ids (SentencePiece's own) gives greedy_text, both
 * whole and streamed one id at a time. */
static void t_reference_decode_and_stream(void **state)
{
	struct json_object *cs = cases();
	size_t c;

	(void)state;
	for (c = 0; c < json_object_array_length(cs); c++) {
		struct json_object *k = json_object_array_get_idx(cs, c), *g, *t;
		struct phimoe_detok d;
		char stream[4096] = "", buf[128], *whole;
		size_t n, i, len = 0;
		int *ids;

		assert_true(json_object_object_get_ex(k, "greedy_ids", &g));
		assert_true(json_object_object_get_ex(k, "greedy_text", &t));
		ids = json_ids(g, &n);
		/* the reference decoded only ids below the piece count */
		for (i = 0; i < n; i++)
			assert_true(ids[i] >= 0);
		{
			size_t j = 0;

			for (i = 0; i < n; i++)
				if (ids[i] < phimoe_tokenizer_sp_size(tk))
					ids[j++] = ids[i];
			whole = phimoe_tokenizer_decode(tk, ids, j);
			assert_non_null(whole);
			assert_string_equal(whole, json_object_get_string(t));
			phimoe_detok_init(&d, tk, false);
			for (i = 0; i <= j; i++) {
				size_t k2 = i < j ? phimoe_detok_push(&d, ids[i], buf, sizeof(buf))
						  : phimoe_detok_flush(&d, buf, sizeof(buf));

				assert_int_equal(strlen(buf), k2);
				memcpy(stream + len, buf, k2);
				len += k2;
			}
			stream[len] = '\0';
			assert_string_equal(stream, whole);
		}
		free(whole);
		free(ids);
	}
}

/* Round trip of the reference prompts through encode and decode. */
static void t_round_trip(void **state)
{
	struct json_object *cs = cases();
	size_t c;

	(void)state;
	for (c = 0; c < json_object_array_length(cs); c++) {
		struct json_object *p;
		char err[512], *text;
		int *ids;
		size_t n;

		assert_true(json_object_object_get_ex(json_object_array_get_idx(cs, c), "prompt", &p));
		assert_int_equal(phimoe_tokenizer_encode(tk, json_object_get_string(p), &ids, &n,
							 err, sizeof(err)), 0);
		text = phimoe_tokenizer_decode(tk, ids, n);	/* BOS decodes to nothing */
		assert_string_equal(text, json_object_get_string(p));
		free(text);
		free(ids);
	}
}

/* A multi-byte character from byte pieces appears only when complete. */
static void t_stream_partial_utf8(void **state)
{
	struct phimoe_detok d;
	char buf[64];
	char err[512];
	int *ids;
	size_t n;

	(void)state;
	/* "東" is not a piece: byte fallback e6 9d b1 = ids 3 + byte */
	assert_int_equal(phimoe_tokenizer_encode(tk, "\xe6\x9d\xb1", &ids, &n, err, sizeof(err)), 0);
	assert_true(n >= 4);
	assert_int_equal(ids[n - 3], 3 + 0xe6);
	assert_int_equal(ids[n - 2], 3 + 0x9d);
	assert_int_equal(ids[n - 1], 3 + 0xb1);
	free(ids);
	phimoe_detok_init(&d, tk, false);
	assert_int_equal(phimoe_detok_push(&d, 3 + 0xe6, buf, sizeof(buf)), 0);
	assert_int_equal(phimoe_detok_push(&d, 3 + 0x9d, buf, sizeof(buf)), 0);
	assert_int_equal(phimoe_detok_push(&d, 3 + 0xb1, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "\xe6\x9d\xb1");
	/* an unfinished character cut by another piece becomes U+FFFD each */
	assert_int_equal(phimoe_detok_push(&d, 3 + 0xe6, buf, sizeof(buf)), 0);
	assert_int_equal(phimoe_detok_push(&d, 3 + 0x9d, buf, sizeof(buf)), 0);
	phimoe_detok_push(&d, 3 + 'a', buf, sizeof(buf));
	assert_string_equal(buf, "\xef\xbf\xbd\xef\xbf\xbd" "a");
	/* a stray continuation byte is replaced at once */
	phimoe_detok_push(&d, 3 + 0x9d, buf, sizeof(buf));
	assert_string_equal(buf, "\xef\xbf\xbd");
	/* flush resolves what is pending */
	assert_int_equal(phimoe_detok_push(&d, 3 + 0xe6, buf, sizeof(buf)), 0);
	assert_int_equal(phimoe_detok_flush(&d, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "\xef\xbf\xbd");
}

/* Whole, valid UTF-8: each chunk a stream hands out must be. */
static bool utf8_valid(const unsigned char *b, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = b[i], len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 :
					 c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
		uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
		size_t k;

		if (!len || i + len > n)
			return false;
		for (k = 1; k < len; k++) {
			if ((b[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (b[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

/* Crafted byte-fallback runs: valid characters split across pieces come
 * out whole; truncated, overlong, surrogate, out-of-range and broken
 * sequences come out as U+FFFD, one per byte that starts nothing valid.
 * Every chunk handed out is valid UTF-8 on its own. */
static void t_stream_crafted_utf8(void **state)
{
#define R "\xef\xbf\xbd"
	static const struct {
		const char *what, *in, *out;
	} cases[] = {
		{ "2-byte", "\xc3\xa9", "\xc3\xa9" },
		{ "3-byte", "\xe2\x82\xac", "\xe2\x82\xac" },
		{ "4-byte", "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },
		{ "two 4-byte in a row", "\xf0\x9f\x98\x80\xf0\x9f\x98\x81",
		  "\xf0\x9f\x98\x80\xf0\x9f\x98\x81" },
		{ "truncated 4-byte at the end", "\xf0\x9f\x98", R R R },
		{ "truncated 3-byte before ASCII", "\xe2\x82" "A", R R "A" },
		{ "overlong 2-byte", "\xc0\xaf", R R },
		{ "overlong 3-byte", "\xe0\x80\xaf", R R R },
		{ "overlong 4-byte", "\xf0\x80\x80\xaf", R R R R },
		{ "surrogate", "\xed\xa0\x80", R R R },
		{ "above U+10FFFF", "\xf4\x90\x80\x80", R R R R },
		{ "F5 lead", "\xf5\x80", R R },
		{ "FF", "\xff", R },
		{ "stray continuation", "\x80" "a", R "a" },
		{ "invalid continuation", "\xe6\x41\x9d", R "A" R },
		{ "valid after broken", "\xe6\xc3\xa9", R "\xc3\xa9" },
	};
#undef R
	size_t c;

	(void)state;
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct phimoe_detok d;
		char buf[64], acc[128] = "";
		const unsigned char *p;
		size_t k;

		phimoe_detok_init(&d, tk, true);
		for (p = (const unsigned char *)cases[c].in; *p; p++) {
			k = phimoe_detok_push(&d, 3 + *p, buf, sizeof(buf));
			if (!utf8_valid((const unsigned char *)buf, k))
				fail_msg("%s: push handed out invalid UTF-8", cases[c].what);
			strcat(acc, buf);
		}
		k = phimoe_detok_flush(&d, buf, sizeof(buf));
		if (!utf8_valid((const unsigned char *)buf, k))
			fail_msg("%s: flush handed out invalid UTF-8", cases[c].what);
		strcat(acc, buf);
		if (strcmp(acc, cases[c].out))
			fail_msg("%s: got '%s', want '%s'", cases[c].what, acc, cases[c].out);
		/* the validator agrees: valid exactly when nothing was replaced */
		if (phimoe_utf8_valid(cases[c].in, strlen(cases[c].in), NULL) !=
		    !strstr(cases[c].out, "\xef\xbf\xbd"))
			fail_msg("%s: phimoe_utf8_valid disagrees", cases[c].what);
	}
	{
		size_t bad = 0;

		assert_false(phimoe_utf8_valid("ab\xc3\xa9\xed\xa0\x80", 7, &bad));
		assert_int_equal(bad, 4);
		assert_true(phimoe_utf8_valid("", 0, NULL));
	}
	/* a buffer too small for the character: nothing, never a part */
	{
		struct phimoe_detok d;
		char buf[3];

		phimoe_detok_init(&d, tk, true);
		assert_int_equal(phimoe_detok_push(&d, 3 + 0xe6, buf, sizeof(buf)), 0);
		assert_int_equal(phimoe_detok_push(&d, 3 + 0x9d, buf, sizeof(buf)), 0);
		assert_int_equal(phimoe_detok_push(&d, 3 + 0xb1, buf, sizeof(buf)), 0);
		assert_string_equal(buf, "");
	}
}

/* The ▁ marker: dropped on the first piece of a standalone decode, kept
 * for a continuation and everywhere else. */
static void t_space_marker(void **state)
{
	struct phimoe_detok d;
	char buf[64], err[512], *s;
	int *ids;
	size_t n, i;

	(void)state;
	assert_int_equal(phimoe_tokenizer_encode(tk, "the terms", &ids, &n, err, sizeof(err)), 0);
	s = phimoe_tokenizer_decode(tk, ids + 1, n - 1);
	assert_string_equal(s, "the terms");
	free(s);
	phimoe_detok_init(&d, tk, true);
	{
		char acc[64] = "";

		for (i = 1; i < n; i++) {
			phimoe_detok_push(&d, ids[i], buf, sizeof(buf));
			strcat(acc, buf);
		}
		assert_string_equal(acc, " the terms");
	}
	free(ids);
}

static void t_special_tokens(void **state)
{
	char err[512], *s;
	int *ids;
	size_t n, i;
	int user = 490, end = 487;

	(void)state;
	assert_int_equal(phimoe_tokenizer_special_id(tk, "<|user|>"), user);
	assert_int_equal(phimoe_tokenizer_special_id(tk, "<|end|>"), end);
	assert_int_equal(phimoe_tokenizer_special_id(tk, "<|endoftext|>"), 480);
	assert_int_equal(phimoe_tokenizer_special_id(tk, "<|nope|>"), -1);
	assert_int_equal(phimoe_tokenizer_bos_id(tk), 1);
	assert_true(phimoe_tokenizer_add_bos(tk));
	assert_int_equal(phimoe_tokenizer_sp_size(tk), 480);

	assert_int_equal(phimoe_tokenizer_encode(tk, "a<|end|>b<|user|><|end|>", &ids, &n, err,
						 sizeof(err)), 0);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[n - 1], end);
	assert_int_equal(ids[n - 2], user);
	for (i = 1; i < n - 2; i++)
		assert_true(ids[i] < 480 || ids[i] == end);
	/* text after a special token gets no dummy "▁" (non-legacy) */
	{
		int *b;
		size_t nb;

		assert_int_equal(phimoe_tokenizer_encode(tk, "b", &b, &nb, err, sizeof(err)), 0);
		/* "b" alone is "▁b"; after <|end|> it must differ from that */
		for (i = 1; i < n; i++)
			if (ids[i] == end)
				break;
		assert_true(i + 1 < n);
		assert_true(nb != 2 || ids[i + 1] != b[1]);
		free(b);
	}
	s = phimoe_tokenizer_decode(tk, ids, n);
	assert_string_equal(s, "a<|end|>b<|user|><|end|>");
	free(s);
	free(ids);
	/* an unfinished marker is plain text */
	assert_int_equal(phimoe_tokenizer_encode(tk, "<|end", &ids, &n, err, sizeof(err)), 0);
	for (i = 0; i < n; i++)
		assert_true(ids[i] < 480);
	free(ids);
}

/* A whole conversation through the template: every role, in order. */
static void t_chat_render(void **state)
{
	const struct phimoe_chat_msg m[] = {
		{ PHIMOE_ROLE_SYSTEM, "Be brief." }, { PHIMOE_ROLE_USER, "Hi" },
		{ PHIMOE_ROLE_ASSISTANT, "Hello." }, { PHIMOE_ROLE_USER, "Bye" },
	};
	enum phimoe_chat_role r;
	char *p;

	(void)state;
	p = phimoe_chat_render(m, 4, true);
	assert_string_equal(p, "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n"
			       "<|assistant|>\nHello.<|end|>\n<|user|>\nBye<|end|>\n<|assistant|>\n");
	free(p);
	p = phimoe_chat_render(m + 1, 1, false);
	assert_string_equal(p, "<|user|>\nHi<|end|>\n");
	free(p);
	assert_int_equal(phimoe_chat_role_parse("assistant", &r), 0);
	assert_int_equal(r, PHIMOE_ROLE_ASSISTANT);
	assert_int_equal(phimoe_chat_role_parse("robot", &r), -1);
}

static void t_chat_format(void **state)
{
	char *p = phimoe_chat_prompt(NULL, "Hi there"), err[512], *s;
	int *ids;
	size_t n;

	(void)state;
	assert_string_equal(p, "<|user|>\nHi there<|end|>\n<|assistant|>\n");
	assert_int_equal(phimoe_tokenizer_encode(tk, p, &ids, &n, err, sizeof(err)), 0);
	assert_true(n > 7);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 490);		/* <|user|> */
	assert_int_equal(ids[2], 3 + '\n');	/* newline, byte fallback, no ▁ */
	assert_int_equal(ids[n - 4], 487);	/* <|end|> */
	assert_int_equal(ids[n - 3], 3 + '\n');
	assert_int_equal(ids[n - 2], 481);	/* <|assistant|> */
	assert_int_equal(ids[n - 1], 3 + '\n');
	s = phimoe_tokenizer_decode(tk, ids, n);
	assert_string_equal(s, p);
	free(s);
	free(ids);
	free(p);
	p = phimoe_chat_prompt("Be brief.", "Hi");
	assert_string_equal(p, "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\n");
	free(p);
}

/* Padding rows (no piece, no added token) decode to nothing. */
static void t_padding_ids(void **state)
{
	int ids[] = { 482, 20, 511, 20 };
	char *s = phimoe_tokenizer_decode(tk, ids, 4);

	(void)state;
	assert_string_equal(s, "\x11\x11");
	free(s);
}

/* Our decoder (which streams) agrees with libsentencepiece's DecodeIds on
 * random sequences of pieces: normal, byte, control and unknown. */
static void t_decode_matches_sentencepiece(void **state)
{
	char path[4200], err[512];
	struct sp_proc *sp;
	unsigned seed = 12345;
	int t, i, kinds[5] = { 0 };

	(void)state;
	snprintf(path, sizeof(path), "%s/tokenizer.model", fixture);
	assert_int_equal(sp_load(path, &sp, err, sizeof(err)), 0);
	for (t = 0; t < 3000; t++) {
		int n = 1 + rand_r(&seed) % 12, ids[12];
		char *a, *b;

		for (i = 0; i < n; i++) {
			ids[i] = rand_r(&seed) % sp_piece_size(sp);
			kinds[sp_kind(sp, ids[i])]++;
		}
		a = phimoe_tokenizer_decode(tk, ids, (size_t)n);
		b = sp_decode(sp, ids, (size_t)n);
		assert_non_null(b);
		assert_string_equal(a, b);
		free(a);
		free(b);
	}
	/* the draw covered every kind of piece the model has */
	assert_true(kinds[SP_PIECE_NORMAL] && kinds[SP_PIECE_BYTE] && kinds[SP_PIECE_CONTROL] &&
		    kinds[SP_PIECE_UNKNOWN]);
	sp_free(sp);
}

/* lstrip/rstrip of tokenizer_config.json's added_tokens_decoder. */
static void t_special_strip(void **state)
{
	struct phimoe_tokenizer *st;
	char path[4200], err[512];
	int *a, *b;
	size_t na, nb;

	(void)state;
	snprintf(path, sizeof(path), "%s/tokenizer_strip", variants);
	if (phimoe_tokenizer_load(path, &st, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(phimoe_tokenizer_encode(st, "a \n<|end|>\n b", &a, &na, err, sizeof(err)), 0);
	assert_int_equal(phimoe_tokenizer_encode(tk, "a<|end|>b", &b, &nb, err, sizeof(err)), 0);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na * sizeof(int));
	free(a);
	free(b);
	/* without the flags the whitespace stays */
	assert_int_equal(phimoe_tokenizer_encode(tk, "a \n<|end|>\n b", &a, &na, err, sizeof(err)), 0);
	assert_true(na > nb);
	free(a);
	phimoe_tokenizer_free(st);
}

static void t_load_errors(void **state)
{
	struct phimoe_tokenizer *t = (void *)1;
	char err[512];

	(void)state;
	assert_int_equal(phimoe_tokenizer_load("/nonexistent", &t, err, sizeof(err)), -1);
	assert_null(t);
	assert_string_equal(err, "/nonexistent/tokenizer.model: missing");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_reference_ids),
		cmocka_unit_test(t_reference_decode_and_stream),
		cmocka_unit_test(t_round_trip),
		cmocka_unit_test(t_stream_partial_utf8),
		cmocka_unit_test(t_stream_crafted_utf8),
		cmocka_unit_test(t_chat_render),
		cmocka_unit_test(t_space_marker),
		cmocka_unit_test(t_special_tokens),
		cmocka_unit_test(t_chat_format),
		cmocka_unit_test(t_padding_ids),
		cmocka_unit_test(t_decode_matches_sentencepiece),
		cmocka_unit_test(t_special_strip),
		cmocka_unit_test(t_load_errors),
	};

	if (argc != 3) {
		fprintf(stderr, "usage: %s FIXTURE_DIR VARIANTS_DIR\n", argv[0]);
		return 2;
	}
	fixture = argv[1];
	variants = argv[2];
	return cmocka_run_group_tests_name("runtime-tokenizer", tests, setup, teardown);
}
