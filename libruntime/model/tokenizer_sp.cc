// SPDX-License-Identifier: MIT
// C shim over libsentencepiece's C++ API (see tokenizer_sp.h). Kept to
// the calls tokenizer.c needs; no logic beyond adapting types.
#include "model/tokenizer_sp.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <new>
#include <string>
#include <vector>

#include <sentencepiece_processor.h>

struct sp_proc {
	sentencepiece::SentencePieceProcessor p;
	// Encode("<unk>"): a prefix that keeps SentencePiece from adding its
	// dummy "▁" to a segment that continues earlier text, its ids dropped
	// again (the way transformers' non-legacy Llama tokenizer does it).
	std::vector<int> guard;
	bool strips_leading_space = true;
};

static const char kGuard[] = "<unk>";

extern "C" int sp_load(const char *path, struct sp_proc **out, char *err, size_t errlen)
{
	*out = nullptr;
	sp_proc *sp = new (std::nothrow) sp_proc;
	if (!sp) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	auto st = sp->p.Load(path);
	if (!st.ok() || sp->p.GetPieceSize() <= 0) {
		snprintf(err, errlen, "%s: not a SentencePiece model (%s)", path,
			 st.ok() ? "no pieces" : st.ToString().c_str());
		delete sp;
		return -1;
	}
	std::vector<int> g;
	if (!sp->p.Encode(kGuard, &g).ok()) {
		snprintf(err, errlen, "%s: cannot encode", path);
		delete sp;
		return -1;
	}
	sp->guard = g;
	// Whether Decode drops the first piece's space marker (add_dummy_prefix
	// or remove_extra_whitespaces in the normalizer): decode "▁x" alone.
	std::vector<int> x;
	std::string s;
	if (sp->p.Encode("x", &x).ok() && !x.empty() && sp->p.Decode(x, &s).ok())
		sp->strips_leading_space = s.empty() || s[0] != ' ';
	*out = sp;
	return 0;
}

extern "C" void sp_free(struct sp_proc *sp)
{
	delete sp;
}

extern "C" int sp_piece_size(const struct sp_proc *sp)
{
	return sp->p.GetPieceSize();
}

extern "C" int sp_bos_id(const struct sp_proc *sp)
{
	return sp->p.bos_id();
}

static bool in_range(const struct sp_proc *sp, int id)
{
	return id >= 0 && id < sp->p.GetPieceSize();
}

extern "C" const char *sp_piece(const struct sp_proc *sp, int id)
{
	return in_range(sp, id) ? sp->p.IdToPiece(id).c_str() : "";
}

extern "C" enum sp_piece_kind sp_kind(const struct sp_proc *sp, int id)
{
	if (!in_range(sp, id))
		return SP_PIECE_UNUSED;
	if (sp->p.IsControl(id))
		return SP_PIECE_CONTROL;
	if (sp->p.IsUnknown(id))
		return SP_PIECE_UNKNOWN;
	if (sp->p.IsByte(id))
		return SP_PIECE_BYTE;
	if (sp->p.IsUnused(id))
		return SP_PIECE_UNUSED;
	return SP_PIECE_NORMAL;
}

extern "C" int sp_byte(const struct sp_proc *sp, int id)
{
	unsigned v;

	if (sp_kind(sp, id) != SP_PIECE_BYTE)
		return -1;
	// byte pieces are spelled <0xAB>
	if (sscanf(sp->p.IdToPiece(id).c_str(), "<0x%2X>", &v) != 1)
		return -1;
	return (int)v;
}

extern "C" bool sp_strips_leading_space(const struct sp_proc *sp)
{
	return sp->strips_leading_space;
}

extern "C" int sp_encode(const struct sp_proc *sp, const char *text, size_t len,
			 bool no_dummy_prefix, int **ids, size_t *n, size_t *cap)
{
	std::vector<int> v;
	size_t skip = 0;

	try {
		if (no_dummy_prefix) {
			std::string s(kGuard);
			s.append(text, len);
			if (!sp->p.Encode(s, &v).ok())
				return -1;
			skip = sp->guard.size();
			// The guard merged with the text: encode the segment alone
			// rather than drop the wrong ids.
			if (v.size() < skip || !std::equal(sp->guard.begin(), sp->guard.end(), v.begin())) {
				skip = 0;
				if (!sp->p.Encode(std::string(text, len), &v).ok())
					return -1;
			}
		} else if (!sp->p.Encode(std::string(text, len), &v).ok()) {
			return -1;
		}
	} catch (const std::bad_alloc &) {
		return -1;
	}
	size_t need = *n + (v.size() - skip);
	if (need > *cap) {
		size_t nc = need * 2 + 16;
		int *p = static_cast<int *>(realloc(*ids, nc * sizeof(int)));
		if (!p)
			return -1;
		*ids = p;
		*cap = nc;
	}
	for (size_t i = skip; i < v.size(); i++)
		(*ids)[(*n)++] = v[i];
	return 0;
}

extern "C" char *sp_decode(const struct sp_proc *sp, const int *ids, size_t n)
{
	std::string s;

	try {
		std::vector<int> v(ids, ids + n);
		if (!sp->p.Decode(v, &s).ok())
			return nullptr;
	} catch (const std::bad_alloc &) {
		return nullptr;
	}
	return strdup(s.c_str());
}
