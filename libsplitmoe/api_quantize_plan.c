// SPDX-License-Identifier: MIT
/* splitmoe_quantize: which tensors, where each goes, the header (api_quantize.h). */
#include "api_quantize.h"
#include "util/errbuf.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const class_names[] = { "attention", "experts", "lm_head", "router" };
#define NCLASSES (sizeof(class_names) / sizeof(class_names[0]))

const char *splitmoe_quantize_class_name(unsigned class_bit)
{
	for (size_t i = 0; i < NCLASSES; i++)
		if (class_bit == 1u << i)
			return class_names[i];
	return NULL;
}

void qz_classes_text(unsigned mask, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < NCLASSES; i++)
		if (mask & (1u << i) && o < len)
			o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "," : "", class_names[i]);
}

/* A weight to quantize, under the name it gets in the file. */
struct pick {
	const struct phimoe_tensor *t;
	const char *name;
};

static int cmp_pick(const void *a, const void *b)
{
	return strcmp(((const struct pick *)a)->name, ((const struct pick *)b)->name);
}

static void pick(struct pick *p, size_t *n, const struct phimoe_tensor *t, const char *name)
{
	p[*n].t = t;
	p[(*n)++].name = name ? name : t->name;
}

/*
 * The weights --quant at load quantizes (cpu_backend.c), by class: q|k|v
 * and o when their rows are whole groups, an expert's three when both
 * input widths are, the lm_head (of a tied model: from the embeddings,
 * written as lm_head.weight); the router only when asked.
 */
static size_t select_weights(const struct phimoe_model *m, enum sm_quant q, unsigned cls,
			     struct pick *p)
{
	const struct phimoe_config *c = &m->cfg;
	size_t n = 0;

	for (int l = 0; l < c->num_hidden_layers; l++) {
		const struct phimoe_layer *L = &m->layers[l];

		if (cls & SPLITMOE_QUANTIZE_ATTENTION && sm_quant_fits(q, (int)L->q_w.shape[1])) {
			pick(p, &n, &L->q_w, NULL);
			pick(p, &n, &L->k_w, NULL);
			pick(p, &n, &L->v_w, NULL);
		}
		if (cls & SPLITMOE_QUANTIZE_ATTENTION && sm_quant_fits(q, (int)L->o_w.shape[1]))
			pick(p, &n, &L->o_w, NULL);
		if (cls & SPLITMOE_QUANTIZE_ROUTER && sm_quant_fits(q, (int)L->router_w.shape[1]))
			pick(p, &n, &L->router_w, NULL);
		for (int e = 0; cls & SPLITMOE_QUANTIZE_EXPERTS && e < c->num_local_experts; e++) {
			const struct phimoe_expert *x = &L->experts[e];

			if (!sm_quant_fits(q, (int)x->w1.shape[1]) ||
			    !sm_quant_fits(q, (int)x->w2.shape[1]))
				continue;
			pick(p, &n, &x->w1, NULL);
			pick(p, &n, &x->w3, NULL);
			pick(p, &n, &x->w2, NULL);
		}
	}
	if (cls & SPLITMOE_QUANTIZE_LM_HEAD && sm_quant_fits(q, (int)m->lm_head_w.shape[1]))
		pick(p, &n, &m->lm_head_w, "lm_head.weight");
	return n;
}

static const char *st_dtype_name(enum phimoe_dtype dt)
{
	switch (dt) {
	case PHIMOE_DTYPE_F32: return "F32";
	case PHIMOE_DTYPE_F16: return "F16";
	case PHIMOE_DTYPE_BF16: return "BF16";
	case PHIMOE_DTYPE_I8: return "I8";
	case PHIMOE_DTYPE_U8: return "U8";
	}
	return "?";
}

/* File order: 4-byte elements, then the codes (whole groups: multiples of
 * 16 bytes), then 2-byte elements: each starts aligned to its element with
 * no gap between tensors (as safetensors wants). */
static int rank(const struct qz_entry *e)
{
	size_t es = phimoe_dtype_size(e->dtype);

	return es == 4 ? 0 : es == 1 ? 1 : 2;
}

struct order {
	int rank;
	size_t i;
};

static int cmp_order(const void *a, const void *b)
{
	const struct order *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank - y->rank;
	return x->i < y->i ? -1 : x->i > y->i;
}

static int add_quantized(struct qz_plan *p, const struct phimoe_checkpoint *ck,
			 const struct pick *k, char *err, size_t errlen)
{
	struct qz_entry *c = &p->e[p->n], *s = &p->e[p->n + 1];
	int64_t n = k->t->shape[0], cols = k->t->shape[1];
	size_t len = strlen(k->name) + sizeof("_scale");

	memset(c, 0, 2 * sizeof(*c));
	c->pair = p->n + 1;
	p->n += 2;	/* now freed with the plan, whatever fails next */
	c->name = strdup(k->name);
	s->name = malloc(len);
	if (!c->name || !s->name)
		return sm_errf(err, errlen, "quantize: out of memory");
	snprintf(s->name, len, "%s_scale", k->name);
	if (st_find(ck, s->name))
		return sm_errf(err, errlen, "quantize: the checkpoint already has a tensor '%s'",
			       s->name), -EEXIST;
	c->src = s->src = k->t;
	s->scales = true;
	c->dtype = p->q == SM_QUANT_INT8 ? PHIMOE_DTYPE_I8 : PHIMOE_DTYPE_U8;
	c->ndim = s->ndim = 2;
	c->shape[0] = s->shape[0] = n;
	c->shape[1] = p->q == SM_QUANT_INT8 ? cols : cols / 2;
	c->nbytes = (uint64_t)c->shape[0] * (uint64_t)c->shape[1];
	s->dtype = PHIMOE_DTYPE_F16;
	s->shape[1] = cols / SM_Q4_GROUP;
	s->nbytes = 2 * (uint64_t)n * (uint64_t)s->shape[1];
	p->quantized++;
	p->src_bytes += k->t->nbytes;
	p->src_quant_bytes += k->t->nbytes;
	p->quant_bytes += c->nbytes + s->nbytes;
	return 0;
}

static int add_copy(struct qz_plan *p, const struct st_tensor *t, char *err, size_t errlen)
{
	struct qz_entry *c = &p->e[p->n];

	memset(c, 0, sizeof(*c));
	p->n++;
	c->name = strdup(t->name);
	if (!c->name)
		return sm_errf(err, errlen, "quantize: out of memory");
	c->copy = t;
	c->dtype = t->dtype;
	c->ndim = t->ndim;
	memcpy(c->shape, t->shape, sizeof(c->shape));
	c->nbytes = t->nbytes;
	p->src_bytes += t->nbytes;
	return 0;
}

/* Sort into file order, set offsets, and keep each codes' pair. */
static int lay_out(struct qz_plan *p, char *err, size_t errlen)
{
	struct order *o = calloc(p->n, sizeof(*o));
	struct qz_entry *e = calloc(p->n, sizeof(*e));
	size_t *at = calloc(p->n, sizeof(*at));
	uint64_t off = 0;

	if (!o || !e || !at) {
		free(o);
		free(e);
		free(at);
		return sm_errf(err, errlen, "quantize: out of memory");
	}
	for (size_t i = 0; i < p->n; i++)
		o[i] = (struct order){ rank(&p->e[i]), i };
	qsort(o, p->n, sizeof(*o), cmp_order);
	for (size_t i = 0; i < p->n; i++) {
		e[i] = p->e[o[i].i];
		at[o[i].i] = i;
		e[i].offset = off;
		off += e[i].nbytes;
	}
	for (size_t i = 0; i < p->n; i++)
		if (!e[i].copy && !e[i].scales)
			e[i].pair = at[e[i].pair];
	free(p->e);
	p->e = e;
	p->data_bytes = off;
	free(o);
	free(at);
	return 0;
}

static int make_header(struct qz_plan *p, char *err, size_t errlen)
{
	struct json_object *h = json_object_new_object(), *meta = json_object_new_object();
	const char *s;
	size_t len;

	if (!h || !meta)
		goto nomem;
	json_object_object_add(meta, "format", json_object_new_string("pt"));
	json_object_object_add(meta, PHIMOE_QUANT_CONFIG_KEY,
			       json_object_new_string(sm_quant_format_name(p->q)));
	json_object_object_add(h, "__metadata__", meta);
	meta = NULL;
	for (size_t i = 0; i < p->n; i++) {
		const struct qz_entry *e = &p->e[i];
		struct json_object *t = json_object_new_object(), *sh = json_object_new_array(),
				   *of = json_object_new_array();

		if (!t || !sh || !of) {
			json_object_put(t);
			json_object_put(sh);
			json_object_put(of);
			goto nomem;
		}
		for (int d = 0; d < e->ndim; d++)
			json_object_array_add(sh, json_object_new_int64(e->shape[d]));
		json_object_array_add(of, json_object_new_int64((int64_t)e->offset));
		json_object_array_add(of, json_object_new_int64((int64_t)(e->offset + e->nbytes)));
		json_object_object_add(t, "dtype", json_object_new_string(st_dtype_name(e->dtype)));
		json_object_object_add(t, "shape", sh);
		json_object_object_add(t, "data_offsets", of);
		json_object_object_add(h, e->name, t);
	}
	s = json_object_to_json_string_ext(h, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s)
		goto nomem;
	len = strlen(s);
	/* spaces up to a 64-byte data start: every tensor aligned to its element */
	p->header_len = len + (64 - (8 + len) % 64) % 64;
	p->header = malloc(p->header_len);
	if (!p->header)
		goto nomem;
	memcpy(p->header, s, len);
	memset(p->header + len, ' ', p->header_len - len);
	json_object_put(h);
	return 0;
nomem:
	json_object_put(h);
	json_object_put(meta);
	return sm_errf(err, errlen, "quantize: out of memory");
}

int qz_plan_build(const struct phimoe_model *m, enum sm_quant q, unsigned classes,
		  struct qz_plan *p, char *err, size_t errlen)
{
	const struct phimoe_config *c = &m->cfg;
	size_t cap = (size_t)c->num_hidden_layers * (5 + 3 * (size_t)c->num_local_experts) + 1;
	size_t nst = st_count(m->ckpt), np, used = 0;
	struct pick *picks = calloc(cap, sizeof(*picks));
	int rc;

	memset(p, 0, sizeof(*p));
	p->q = q;
	p->classes = classes;
	p->e = calloc(nst + 2 * cap, sizeof(*p->e));
	if (!picks || !p->e) {
		free(picks);
		return sm_errf(err, errlen, "quantize: out of memory"), -ENOMEM;
	}
	np = select_weights(m, q, classes, picks);
	qsort(picks, np, sizeof(*picks), cmp_pick);
	for (size_t i = 0; i < nst; i++) {
		const struct st_tensor *t = st_at(m->ckpt, i);
		struct pick key = { .name = t->name };
		const struct pick *k = bsearch(&key, picks, np, sizeof(*picks), cmp_pick);

		rc = k ? add_quantized(p, m->ckpt, k, err, errlen) : add_copy(p, t, err, errlen);

		used += k != NULL;
		if (rc)
			goto fail;
	}
	/* a tied lm_head: its quantized copy is a new tensor */
	for (size_t i = 0; used < np && i < np; i++)
		if (!st_find(m->ckpt, picks[i].name)) {
			rc = add_quantized(p, m->ckpt, &picks[i], err, errlen);
			if (rc)
				goto fail;
			used++;
		}
	free(picks);
	picks = NULL;
	rc = lay_out(p, err, errlen);
	if (!rc)
		rc = make_header(p, err, errlen);
	if (rc)
		goto fail;
	return 0;
fail:
	free(picks);
	qz_plan_free(p);
	return rc == -EEXIST ? -EEXIST : -ENOMEM;	/* the others are allocations */
}

void qz_plan_free(struct qz_plan *p)
{
	for (size_t i = 0; p->e && i < p->n; i++)
		free(p->e[i].name);
	free(p->e);
	free(p->header);
	memset(p, 0, sizeof(*p));
}
