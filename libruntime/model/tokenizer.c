// SPDX-License-Identifier: MIT
/*
 * Tokenizer: special tokens around SentencePiece, BOS policy, and the
 * decoder used for both whole-sequence and streamed text.
 */
#include "util/errbuf.h"
#include "model/json_file.h"
#include "model/tokenizer.h"
#include "model/tokenizer_sp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

#define MAX_SPECIAL 256
#define PHIMOE_TOKERR 512

struct special {
	char *text;
	size_t len;
	int id;
	/* added_tokens_decoder: whitespace before/after the token is eaten */
	bool lstrip, rstrip;
};

struct phimoe_tokenizer {
	struct sp_proc *sp;
	int sp_size;
	int bos_id;
	bool add_bos;
	bool legacy;		/* transformers' legacy: dummy prefix on every segment */
	struct special special[MAX_SPECIAL];
	int nspecial;
	bool first_byte[256];	/* bytes a special token can start with */
	/* id -> special text, for decoding ids beyond the pieces */
	const char **added_text;
	int added_lo, added_n;
};

static int add_special(struct phimoe_tokenizer *tk, const char *path,
		       const char *text, int id, bool lstrip, bool rstrip,
		       char *err, size_t errlen)
{
	int i;

	if (!*text || id < 0)
		return sm_errf(err, errlen, "%s: bad special token \"%s\" = %d", path, text, id);
	for (i = 0; i < tk->nspecial; i++) {
		if (!strcmp(tk->special[i].text, text)) {
			if (tk->special[i].id != id)
				return sm_errf(err, errlen, "%s: special token \"%s\" has two ids (%d, %d)",
					    path, text, tk->special[i].id, id);
			tk->special[i].lstrip |= lstrip;
			tk->special[i].rstrip |= rstrip;
			return 0;
		}
	}
	if (tk->nspecial == MAX_SPECIAL)
		return sm_errf(err, errlen, "%s: more than %d special tokens", path, MAX_SPECIAL);
	tk->special[tk->nspecial].text = strdup(text);
	if (!tk->special[tk->nspecial].text)
		return sm_errf(err, errlen, "%s: out of memory", path);
	tk->special[tk->nspecial].len = strlen(text);
	tk->special[tk->nspecial].id = id;
	tk->special[tk->nspecial].lstrip = lstrip;
	tk->special[tk->nspecial].rstrip = rstrip;
	tk->first_byte[(unsigned char)text[0]] = true;
	tk->nspecial++;
	return 0;
}

/* added_tokens.json: {"<|end|>": 32007, ...} */
static int load_added(struct phimoe_tokenizer *tk, const char *dir,
		      char *err, size_t errlen)
{
	char path[4200];
	struct json_object *o;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/added_tokens.json", dir);
	if (access(path, F_OK))
		return 0;
	if (sm_json_load_object(path, &o, err, errlen))
		return -1;
	{
		json_object_object_foreach(o, k, v) {
			if (!json_object_is_type(v, json_type_int)) {
				rc = sm_errf(err, errlen, "%s: \"%s\" must map to an integer id", path, k);
				break;
			}
			if (json_object_get_int(v) < tk->sp_size) {
				rc = sm_errf(err, errlen, "%s: \"%s\" = %d collides with a SentencePiece id (< %d)",
					  path, k, json_object_get_int(v), tk->sp_size);
				break;
			}
			rc = add_special(tk, path, k, json_object_get_int(v), false, false,
					 err, errlen);
			if (rc)
				break;
		}
	}
	json_object_put(o);
	return rc;
}

/* tokenizer_config.json: add_bos_token, legacy, added_tokens_decoder. */
static int load_tok_config(struct phimoe_tokenizer *tk, const char *dir,
			   char *err, size_t errlen)
{
	char path[4200];
	struct json_object *o, *v;
	int rc = 0;

	tk->add_bos = true;	/* Llama-style default */
	tk->legacy = true;	/* transformers' default when unset */
	snprintf(path, sizeof(path), "%s/tokenizer_config.json", dir);
	if (access(path, F_OK))
		return 0;
	if (sm_json_load_object(path, &o, err, errlen))
		return -1;
	if (json_object_object_get_ex(o, "add_bos_token", &v) && json_object_is_type(v, json_type_boolean))
		tk->add_bos = json_object_get_boolean(v);
	if (json_object_object_get_ex(o, "legacy", &v) && json_object_is_type(v, json_type_boolean))
		tk->legacy = json_object_get_boolean(v);
	if (json_object_object_get_ex(o, "added_tokens_decoder", &v) &&
	    json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, k, e) {
			struct json_object *c, *f;
			bool ls = false, rs = false;
			int id = atoi(k);

			/* ids within SentencePiece (<s>, <unk>) are its own */
			if (id < tk->sp_size)
				continue;
			if (!json_object_object_get_ex(e, "content", &c) ||
			    !json_object_is_type(c, json_type_string)) {
				rc = sm_errf(err, errlen, "%s: added_tokens_decoder[\"%s\"] has no content", path, k);
				break;
			}
			if (json_object_object_get_ex(e, "lstrip", &f))
				ls = json_object_get_boolean(f);
			if (json_object_object_get_ex(e, "rstrip", &f))
				rs = json_object_get_boolean(f);
			rc = add_special(tk, path, json_object_get_string(c), id, ls, rs,
					 err, errlen);
			if (rc)
				break;
		}
	}
	json_object_put(o);
	return rc;
}

static int build_added_table(struct phimoe_tokenizer *tk, char *err, size_t errlen)
{
	int i, hi = -1;

	if (!tk->nspecial)
		return 0;
	tk->added_lo = tk->special[0].id;
	for (i = 0; i < tk->nspecial; i++) {
		if (tk->special[i].id < tk->added_lo)
			tk->added_lo = tk->special[i].id;
		if (tk->special[i].id > hi)
			hi = tk->special[i].id;
	}
	if (hi - tk->added_lo >= 1 << 20)
		return sm_errf(err, errlen, "special token ids span too wide a range");
	tk->added_n = hi - tk->added_lo + 1;
	tk->added_text = calloc((size_t)tk->added_n, sizeof(*tk->added_text));
	if (!tk->added_text)
		return sm_errf(err, errlen, "out of memory");
	for (i = 0; i < tk->nspecial; i++)
		tk->added_text[tk->special[i].id - tk->added_lo] = tk->special[i].text;
	return 0;
}

int phimoe_tokenizer_load(const char *dir, struct phimoe_tokenizer **out,
			  char *err, size_t errlen)
{
	struct phimoe_tokenizer *tk;
	char path[4200];

	*out = NULL;
	snprintf(path, sizeof(path), "%s/tokenizer.model", dir);
	if (access(path, R_OK))
		return sm_errf(err, errlen, "%s: missing", path);
	tk = calloc(1, sizeof(*tk));
	if (!tk)
		return sm_errf(err, errlen, "%s: out of memory", path);
	if (sp_load(path, &tk->sp, err, errlen)) {
		char msg[PHIMOE_TOKERR];

		snprintf(msg, sizeof(msg), "%s", err);
		sm_errf(err, errlen, "%s", msg);	/* the library's text: one line */
		goto bad;
	}
	tk->sp_size = sp_piece_size(tk->sp);
	tk->bos_id = sp_bos_id(tk->sp);
	if (tk->bos_id >= tk->sp_size)
		tk->bos_id = -1;
	if (load_tok_config(tk, dir, err, errlen) || load_added(tk, dir, err, errlen) ||
	    build_added_table(tk, err, errlen))
		goto bad;
	if (tk->add_bos && tk->bos_id < 0) {
		sm_errf(err, errlen, "%s: add_bos_token is set but the model has no BOS piece", path);
		goto bad;
	}
	*out = tk;
	return 0;
bad:
	phimoe_tokenizer_free(tk);
	return -1;
}

void phimoe_tokenizer_free(struct phimoe_tokenizer *tk)
{
	int i;

	if (!tk)
		return;
	for (i = 0; i < tk->nspecial; i++)
		free(tk->special[i].text);
	free(tk->added_text);
	sp_free(tk->sp);
	free(tk);
}

int phimoe_tokenizer_sp_size(const struct phimoe_tokenizer *tk)
{
	return tk->sp_size;
}

int phimoe_tokenizer_bos_id(const struct phimoe_tokenizer *tk)
{
	return tk->bos_id;
}

bool phimoe_tokenizer_add_bos(const struct phimoe_tokenizer *tk)
{
	return tk->add_bos;
}

int phimoe_tokenizer_special_id(const struct phimoe_tokenizer *tk, const char *text)
{
	int i;

	for (i = 0; i < tk->nspecial; i++)
		if (!strcmp(tk->special[i].text, text))
			return tk->special[i].id;
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Longest special token starting at s, or NULL. */
static const struct special *match_special(const struct phimoe_tokenizer *tk,
					   const char *s)
{
	const struct special *best = NULL;
	int i;

	if (!tk->first_byte[(unsigned char)*s])
		return NULL;
	for (i = 0; i < tk->nspecial; i++)
		if (!strncmp(s, tk->special[i].text, tk->special[i].len) &&
		    (!best || tk->special[i].len > best->len))
			best = &tk->special[i];
	return best;
}

int phimoe_tokenizer_encode(const struct phimoe_tokenizer *tk,
			    const char *text, int **ids, size_t *n,
			    char *err, size_t errlen)
{
	size_t cap = 64, cnt = 0;
	const char *seg = text, *p = text;
	bool continues = false;	/* segment follows a special token */
	int *v = malloc(cap * sizeof(*v));

	*ids = NULL;
	*n = 0;
	if (!v)
		return sm_errf(err, errlen, "tokenizer: out of memory");
	if (tk->add_bos)
		v[cnt++] = tk->bos_id;
	for (;;) {
		const struct special *sp = *p ? match_special(tk, p) : NULL;

		if (!*p || sp) {
			const char *end = p;

			if (sp && sp->lstrip)
				while (end > seg && is_space(end[-1]))
					end--;
			if (end > seg && sp_encode(tk->sp, seg, (size_t)(end - seg),
						 continues && !tk->legacy, &v, &cnt, &cap)) {
				free(v);
				return sm_errf(err, errlen, "tokenizer: SentencePiece failed to encode the text");
			}
			if (!*p)
				break;
			if (cnt == cap) {
				int *nv = realloc(v, cap * 2 * sizeof(*v));

				if (!nv) {
					free(v);
					return sm_errf(err, errlen, "tokenizer: out of memory");
				}
				v = nv;
				cap *= 2;
			}
			v[cnt++] = sp->id;
			p += sp->len;
			if (sp->rstrip)
				while (is_space(*p))
					p++;
			seg = p;
			continues = true;
			continue;
		}
		p++;
	}
	*ids = v;
	*n = cnt;
	return 0;
}

/* --- decoding --- */

static const char kReplacement[] = "\xef\xbf\xbd";	/* U+FFFD */
static const char kUnknown[] = " \xe2\x81\x87 ";	/* SentencePiece's " ⁇ " */
static const char kSpaceMarker[] = "\xe2\x96\x81";	/* U+2581 ▁ */

/*
 * Length of the valid UTF-8 character at the start of b (n bytes): >0 when
 * complete and valid, 0 when b is a valid but unfinished prefix, -1 when
 * invalid (the first byte is then to be replaced by U+FFFD).
 */
static int utf8_char(const unsigned char *b, int n)
{
	int len, i;
	uint32_t cp;

	if (b[0] < 0x80)
		return 1;
	if (b[0] >= 0xc2 && b[0] <= 0xdf) {
		len = 2;
		cp = b[0] & 0x1f;
	} else if (b[0] >= 0xe0 && b[0] <= 0xef) {
		len = 3;
		cp = b[0] & 0x0f;
	} else if (b[0] >= 0xf0 && b[0] <= 0xf4) {
		len = 4;
		cp = b[0] & 0x07;
	} else {
		return -1;
	}
	for (i = 1; i < len; i++) {
		if (i >= n) {
			/* reject overlong/surrogate prefixes as soon as visible */
			if (i == 1)
				return 0;
			break;
		}
		if ((b[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (b[i] & 0x3f);
		if (i == 1) {
			if ((b[0] == 0xe0 && b[1] < 0xa0) || (b[0] == 0xed && b[1] > 0x9f) ||
			    (b[0] == 0xf0 && b[1] < 0x90) || (b[0] == 0xf4 && b[1] > 0x8f))
				return -1;
		}
	}
	if (i < len)
		return 0;
	(void)cp;
	return len;
}

struct outbuf {
	char *p;
	size_t len, cap;	/* cap includes the NUL */
};

static void put(struct outbuf *o, const char *s, size_t n)
{
	size_t room = o->cap ? o->cap - 1 - o->len : 0;

	if (n > room) {
		n = room;	/* documented: cap bounds the output... */
		while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;	/* ...at a character's start, never within */
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	if (o->cap)
		o->p[o->len] = '\0';
}

bool phimoe_utf8_valid(const char *s, size_t n, size_t *bad)
{
	size_t i = 0;

	while (i < n) {
		int k = utf8_char((const unsigned char *)s + i, (int)(n - i > 8 ? 8 : n - i));

		if (k <= 0) {
			if (bad)
				*bad = i;
			return false;
		}
		i += (size_t)k;
	}
	return true;
}

/* Text of a piece or an added token: valid UTF-8 as it is, each byte
 * that starts no valid character (a corrupt tokenizer file) as U+FFFD. */
static void put_text(struct outbuf *o, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		int k = utf8_char((const unsigned char *)s + i, (int)(n - i));

		if (k > 0) {
			put(o, s + i, (size_t)k);
			i += (size_t)k;
		} else {
			put(o, kReplacement, 3);
			i++;
		}
	}
}

/* Emit complete characters from pending; with at_end, also resolve an
 * unfinished tail as replacement characters (as SentencePiece does). */
static void drain(struct phimoe_detok *d, struct outbuf *o, bool at_end)
{
	while (d->npending) {
		int k = utf8_char(d->pending, d->npending);

		if (k == 0 && !at_end)
			return;
		if (k > 0) {
			put(o, (const char *)d->pending, (size_t)k);
		} else {
			put(o, kReplacement, 3);
			k = 1;
		}
		d->at_start = false;
		memmove(d->pending, d->pending + k, (size_t)(d->npending - k));
		d->npending -= k;
	}
}

void phimoe_detok_init(struct phimoe_detok *d, const struct phimoe_tokenizer *tk,
		       bool keep_leading_space)
{
	memset(d, 0, sizeof(*d));
	d->tk = tk;
	d->at_start = !keep_leading_space;
	d->keep_leading_space = keep_leading_space;
}

size_t phimoe_detok_push(struct phimoe_detok *d, int id, char *out, size_t cap)
{
	const struct phimoe_tokenizer *tk = d->tk;
	struct outbuf o = { out, 0, cap };
	const char *piece;

	if (cap)
		out[0] = '\0';
	if (id >= 0 && id < tk->sp_size) {
		switch (sp_kind(tk->sp, id)) {
		case SP_PIECE_BYTE:
			if (d->npending == (int)sizeof(d->pending))
				drain(d, &o, true);
			d->pending[d->npending++] = (unsigned char)sp_byte(tk->sp, id);
			drain(d, &o, false);
			return o.len;
		case SP_PIECE_CONTROL:
		case SP_PIECE_UNUSED:
			/* invisible, but ends a run of byte pieces */
			drain(d, &o, true);
			return o.len;
		case SP_PIECE_UNKNOWN:
			drain(d, &o, true);
			put(&o, kUnknown, sizeof(kUnknown) - 1);
			d->at_start = false;
			return o.len;
		case SP_PIECE_NORMAL:
			break;
		}
		drain(d, &o, true);
		piece = sp_piece(tk->sp, id);
		/* SentencePiece drops the dummy-prefix space of the first piece */
		if (d->at_start && sp_strips_leading_space(tk->sp) &&
		    !strncmp(piece, kSpaceMarker, 3))
			piece += 3;
		d->at_start = false;
		while (*piece) {
			const char *marker = strstr(piece, kSpaceMarker);
			size_t len = marker ? (size_t)(marker - piece) : strlen(piece);

			put_text(&o, piece, len);
			piece += len;
			if (marker) {
				put(&o, " ", 1);
				piece += 3;
			}
		}
		return o.len;
	}
	if (id >= tk->added_lo && id < tk->added_lo + tk->added_n &&
	    tk->added_text[id - tk->added_lo]) {
		drain(d, &o, true);
		put_text(&o, tk->added_text[id - tk->added_lo],
			 strlen(tk->added_text[id - tk->added_lo]));
		d->at_start = false;
	}
	/* padding rows beyond every piece and added token: nothing */
	return o.len;
}

size_t phimoe_detok_flush(struct phimoe_detok *d, char *out, size_t cap)
{
	struct outbuf o = { out, 0, cap };

	if (cap)
		out[0] = '\0';
	drain(d, &o, true);
	return o.len;
}

char *phimoe_tokenizer_decode(const struct phimoe_tokenizer *tk,
			      const int *ids, size_t n)
{
	struct phimoe_detok d;
	size_t cap = 256, len = 0, i;
	char *s = malloc(cap), *ns;

	if (!s)
		return NULL;
	phimoe_detok_init(&d, tk, false);
	for (i = 0; i <= n; i++) {
		char buf[256];
		size_t k = i < n ? phimoe_detok_push(&d, ids[i], buf, sizeof(buf))
				 : phimoe_detok_flush(&d, buf, sizeof(buf));

		if (len + k + 1 > cap) {
			cap = (len + k + 1) * 2;
			ns = realloc(s, cap);
			if (!ns) {
				free(s);
				return NULL;
			}
			s = ns;
		}
		memcpy(s + len, buf, k);
		len += k;
	}
	s[len] = '\0';
	return s;
}
