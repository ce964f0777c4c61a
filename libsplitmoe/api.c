// SPDX-License-Identifier: MIT
/*
 * include/splitmoe.h over libruntime: thin wrappers that turn the public
 * enums into the runtime's, its negative errno values into
 * splitmoe_status, and keep the handles opaque. Nothing here computes.
 */
#include "splitmoe.h"
#include "api_arbiter.h"
#include "api_internal.h"

#include "arbiter/arbiter.h"
#include "config/options.h"
#include "model/chat_format.h"
#include "sched/device_setup.h"
#include "engine/inference.h"
#include "model/model.h"
#include "engine/sampler.h"
#include "model/tokenizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SPLITMOE_VERSION_STRING
#error "SPLITMOE_VERSION_STRING comes from the build (libsplitmoe/build.mk)"
#endif

struct splitmoe_sampler {
	struct sm_sampler *smp;
};

struct splitmoe_detok {
	struct phimoe_detok d;
};

static splitmoe_status from_errno(int rc)
{
	switch (rc) {
	case 0:
		return SPLITMOE_OK;
	case -EINVAL:
	case -ERANGE:
		return SPLITMOE_ERR_INVALID;
	case -ENOMEM:
		return SPLITMOE_ERR_NOMEM;
	case -ENOSPC:
		return SPLITMOE_ERR_KV_FULL;
	case -EBUSY:
		return SPLITMOE_ERR_BUSY;
	case -ETIMEDOUT:
		return SPLITMOE_ERR_TIMEOUT;
	case -EINTR:
		return SPLITMOE_ERR_INTERRUPTED;
	case -ENOSYS:
	case -EOPNOTSUPP:
		return SPLITMOE_ERR_UNSUPPORTED;
	default:
		return SPLITMOE_ERR_BACKEND;
	}
}

const char *splitmoe_status_str(splitmoe_status st)
{
	switch (st) {
	case SPLITMOE_OK:
		return "ok";
	case SPLITMOE_ERR_INVALID:
		return "invalid argument";
	case SPLITMOE_ERR_MODEL:
		return "bad model directory";
	case SPLITMOE_ERR_NOMEM:
		return "out of memory";
	case SPLITMOE_ERR_KV_FULL:
		return "KV cache full";
	case SPLITMOE_ERR_BUSY:
		return "every sequence is open";
	case SPLITMOE_ERR_TOO_SMALL:
		return "buffer too small";
	case SPLITMOE_ERR_ARBITER:
		return "arbiter error";
	case SPLITMOE_ERR_TIMEOUT:
		return "arbiter grant timed out";
	case SPLITMOE_ERR_INTERRUPTED:
		return "interrupted";
	case SPLITMOE_ERR_UNSUPPORTED:
		return "not supported";
	case SPLITMOE_ERR_BACKEND:
		return "device error";
	case SPLITMOE_ERR_IO:
		return "file error";
	}
	return "unknown status";
}

const char *splitmoe_version(void)
{
	return SPLITMOE_VERSION_STRING;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
}

/* ---- model ---- */

struct splitmoe_model_params splitmoe_model_default_params(void)
{
	return (struct splitmoe_model_params){ .tokenizer = true };
}

splitmoe_status splitmoe_model_load(const char *dir, const struct splitmoe_model_params *p,
				    splitmoe_model **out, char *err, size_t errlen)
{
	struct splitmoe_model_params def = splitmoe_model_default_params();
	char e[PHIMOE_ERRLEN];
	splitmoe_model *m;

	if (!out || !dir) {
		set_err(err, errlen, "splitmoe_model_load: no directory or no handle to fill");
		return SPLITMOE_ERR_INVALID;
	}
	*out = NULL;
	if (!p)
		p = &def;
	m = calloc(1, sizeof(*m));
	if (!m) {
		set_err(err, errlen, "out of memory");
		return SPLITMOE_ERR_NOMEM;
	}
	if (!p->vocab_only) {
		if (phimoe_model_load(dir, &m->m, e, sizeof(e))) {
			set_err(err, errlen, e);
			free(m);
			return SPLITMOE_ERR_MODEL;
		}
		m->weights = true;
	}
	if ((p->tokenizer || p->vocab_only) && phimoe_tokenizer_load(dir, &m->tk, e, sizeof(e))) {
		set_err(err, errlen, e);
		phimoe_model_free(&m->m);
		free(m);
		return SPLITMOE_ERR_MODEL;
	}
	*out = m;
	return SPLITMOE_OK;
}

void splitmoe_model_free(splitmoe_model *m)
{
	if (!m)
		return;
	phimoe_tokenizer_free(m->tk);
	phimoe_model_free(&m->m);
	free(m);
}

int splitmoe_model_vocab(const splitmoe_model *m)
{
	return m->m.cfg.vocab_size;
}

int splitmoe_model_layers(const splitmoe_model *m)
{
	return m->m.cfg.num_hidden_layers;
}

int splitmoe_model_hidden(const splitmoe_model *m)
{
	return m->m.cfg.hidden_size;
}

int splitmoe_model_experts(const splitmoe_model *m)
{
	return m->m.cfg.num_local_experts;
}

int splitmoe_model_experts_per_token(const splitmoe_model *m)
{
	return m->m.cfg.num_experts_per_tok;
}

int splitmoe_model_max_positions(const splitmoe_model *m)
{
	return m->m.cfg.max_position_embeddings;
}

uint64_t splitmoe_model_params_count(const splitmoe_model *m)
{
	struct phimoe_model_stats st;

	phimoe_model_stats(&m->m, &st);
	return st.params;
}

uint64_t splitmoe_model_bytes(const splitmoe_model *m)
{
	struct phimoe_model_stats st;

	phimoe_model_stats(&m->m, &st);
	return st.bytes;
}

int32_t splitmoe_token_bos(const splitmoe_model *m)
{
	if (m->tk)
		return phimoe_tokenizer_bos_id(m->tk);
	return m->m.cfg.bos_token_id;
}

bool splitmoe_token_is_eos(const splitmoe_model *m, int32_t id)
{
	for (int i = 0; i < m->m.cfg.n_eos; i++)
		if (m->m.cfg.eos_token_ids[i] == id)
			return true;
	return false;
}

/* ---- tokens ---- */

static splitmoe_status copy_ids(const int *ids, size_t count, int32_t *out, size_t cap,
				size_t *n)
{
	*n = count;
	for (size_t i = 0; i < count && i < cap; i++)
		out[i] = ids[i];
	return count > cap ? SPLITMOE_ERR_TOO_SMALL : SPLITMOE_OK;
}

splitmoe_status splitmoe_tokenize(const splitmoe_model *m, const char *text, int32_t *ids,
				  size_t cap, size_t *n)
{
	char e[PHIMOE_ERRLEN];
	int *tmp = NULL;
	size_t count = 0;
	splitmoe_status st;

	if (!m->tk)
		return SPLITMOE_ERR_UNSUPPORTED;
	if (!text || !n || (cap && !ids))
		return SPLITMOE_ERR_INVALID;
	if (phimoe_tokenizer_encode(m->tk, text, &tmp, &count, e, sizeof(e)))
		return strstr(e, "out of memory") ? SPLITMOE_ERR_NOMEM : SPLITMOE_ERR_INVALID;
	st = copy_ids(tmp, count, ids, cap, n);
	free(tmp);
	return st;
}

splitmoe_status splitmoe_tokenize_chat(const splitmoe_model *m, const char *system,
				       const char *user, int32_t *ids, size_t cap, size_t *n)
{
	splitmoe_status st;
	char *text;

	if (!user)
		return SPLITMOE_ERR_INVALID;
	text = phimoe_chat_prompt(system, user);
	if (!text)
		return SPLITMOE_ERR_NOMEM;
	st = splitmoe_tokenize(m, text, ids, cap, n);
	free(text);
	return st;
}

long splitmoe_detokenize(const splitmoe_model *m, const int32_t *ids, size_t n, char *buf,
			 size_t cap)
{
	int *tmp;
	char *text;

	if (!m->tk)
		return -1;
	tmp = malloc((n ? n : 1) * sizeof(*tmp));
	if (!tmp)
		return -1;
	for (size_t i = 0; i < n; i++)
		tmp[i] = ids[i];
	text = phimoe_tokenizer_decode(m->tk, tmp, n);
	free(tmp);
	if (!text)
		return -1;
	return sm_api_text_out(text, buf, cap);
}

long sm_api_text_out(char *text, char *buf, size_t cap)
{
	size_t len = strlen(text);

	if (cap) {
		size_t k = len < cap - 1 ? len : cap - 1;

		memcpy(buf, text, k);
		buf[k] = '\0';
	}
	free(text);
	return (long)len;
}

splitmoe_detok *splitmoe_detok_create(const splitmoe_model *m, bool continuation)
{
	splitmoe_detok *d;

	if (!m->tk)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (d)
		phimoe_detok_init(&d->d, m->tk, continuation);
	return d;
}

size_t splitmoe_detok_push(splitmoe_detok *d, int32_t id, char *out, size_t cap)
{
	return phimoe_detok_push(&d->d, id, out, cap);
}

size_t splitmoe_detok_flush(splitmoe_detok *d, char *out, size_t cap)
{
	return phimoe_detok_flush(&d->d, out, cap);
}

void splitmoe_detok_free(splitmoe_detok *d)
{
	free(d);
}

/* ---- session ---- */

struct splitmoe_session_params splitmoe_session_default_params(void)
{
	return (struct splitmoe_session_params){ .device = SPLITMOE_DEVICE_CPU };
}

/* The public parameters to the runtime's (quant AUTO resolved for m).
 * -EINVAL for a value outside its enum or range, with why in err. */
static int map_params(const splitmoe_model *m, const struct splitmoe_session_params *p,
		      struct phimoe_session_opts *so, struct sm_arbiter_opts *ao,
		      struct sm_device_opts *dop, char *err, size_t errlen)
{
	static const enum sm_split_mode modes[] = { SM_SPLIT_PARTITION, SM_SPLIT_EXPERT_PARALLEL,
						    SM_SPLIT_DYNAMIC };
	static const enum sm_stage stages[] = { SM_STAGE_ATTENTION, SM_STAGE_ROUTER,
						SM_STAGE_EXPERTS, SM_STAGE_HEAD };
	struct sm_split_plan plan = { 0 };

	if ((unsigned)p->device > SPLITMOE_DEVICE_SPLIT ||
	    (unsigned)p->split_mode > SPLITMOE_SPLIT_DYNAMIC ||
	    (unsigned)p->compute > SPLITMOE_COMPUTE_BF16 ||
	    (unsigned)p->weights > SPLITMOE_WEIGHTS_MAPPED ||
	    (unsigned)p->quant > SPLITMOE_QUANT_AUTO || (unsigned)p->arbiter > SPLITMOE_ARBITER_OFF ||
	    p->threads < 0 || p->max_seq < 0 || p->max_batch < 0 || p->max_seqs < 0 ||
	    p->kv_tokens < 0) {
		set_err(err, errlen, "splitmoe_session_create: a parameter is out of its range");
		return -EINVAL;
	}
	if (!p->arb && (p->arbiter_capacity_mbps == SPLITMOE_MBPS_AUTO ||
			p->arbiter_guaranteed_mbps == SPLITMOE_MBPS_AUTO)) {
		set_err(err, errlen, "splitmoe_session_create: the arbiter's bus figures are auto: "
			"measure them first (splitmoe_bwcal_measure)");
		return -EINVAL;
	}
	if (p->n_split_rules < 0 || p->n_split_rules > SPLITMOE_SPLIT_MAX_RULES) {
		set_err(err, errlen, "splitmoe_session_create: n_split_rules is out of its range");
		return -EINVAL;
	}
	plan.mode = modes[p->split_mode];
	plan.n_rules = p->n_split_rules;
	for (int i = 0; i < p->n_split_rules; i++) {
		const struct splitmoe_split_rule *r = &p->split_rules[i];

		if ((unsigned)r->stage > SPLITMOE_STAGE_HEAD || r->layer_lo < 0 ||
		    r->layer_hi < r->layer_lo ||
		    (r->device != SPLITMOE_DEVICE_CPU && r->device != SPLITMOE_DEVICE_GPU)) {
			set_err(err, errlen, "splitmoe_session_create: a split rule is out of its range");
			return -EINVAL;
		}
		plan.rules[i] = (struct sm_split_rule){
			.stage = stages[r->stage], .layer_lo = r->layer_lo, .layer_hi = r->layer_hi,
			.dev = r->device == SPLITMOE_DEVICE_GPU ? SM_DEV_GPU : SM_DEV_CPU,
		};
	}
	*so = (struct phimoe_session_opts){
		.compute = sm_api_compute(p->compute),
		.threads = p->threads,
		.max_seq = p->max_seq,
		.max_batch = p->max_batch,
		.weights = sm_api_weights(p->weights),
		.quant = sm_api_quant(splitmoe_quant_resolve(m, p->device, p->quant)),
		.arb_weight = p->cpu_weight,
		.arb_reserve_mbps = p->cpu_reserve_mbps,
		.max_seqs = p->max_seqs,
		.kv_tokens = p->kv_tokens,
		.profile = p->profile,
	};
	*ao = (struct sm_arbiter_opts){
		.kind = sm_api_arbiter(p->arbiter), .dev_path = p->arbiter_dev,
		.capacity_mbps = p->arbiter_capacity_mbps,
		.guaranteed_mbps = p->arbiter_guaranteed_mbps,
	};
	*dop = (struct sm_device_opts){
		.device = sm_api_device(p->device),
		.gpu_name = p->gpu_name,
		.plan = plan,
		.weights = sm_api_weights(p->weights),
		.threads = p->threads,
		.max_rows = p->max_batch,
		.cpu_weight = p->cpu_weight,
		.gpu_weight = p->gpu_weight,
		.cpu_reserve_mbps = p->cpu_reserve_mbps,
		.gpu_reserve_mbps = p->gpu_reserve_mbps,
	};
	return 0;
}

splitmoe_quant splitmoe_quant_resolve(const splitmoe_model *m, splitmoe_device device,
				      splitmoe_quant quant)
{
	if (quant != SPLITMOE_QUANT_AUTO)
		return quant;
	/* the Level Zero kernels have no quantized form: the devices get none;
	 * a quantized file runs as it is stored, whatever this CPU lacks */
	if (device != SPLITMOE_DEVICE_CPU || !m || !m->weights || m->m.cfg.quant != PHIMOE_QUANT_NONE)
		return SPLITMOE_QUANT_NONE;
	return sm_api_quant_of(sm_quant_default(m->m.cfg.storage_dtype));
}

splitmoe_status splitmoe_session_create(const splitmoe_model *m,
					const struct splitmoe_session_params *p,
					splitmoe_session **out, char *err, size_t errlen)
{
	struct splitmoe_session_params def = splitmoe_session_default_params();
	struct phimoe_session_opts so;
	struct sm_arbiter_opts ao;
	struct sm_device_opts dop;
	char e[PHIMOE_ERRLEN];
	splitmoe_session *s;
	int rc;

	if (!m || !out) {
		set_err(err, errlen, "splitmoe_session_create: no model or no handle to fill");
		return SPLITMOE_ERR_INVALID;
	}
	*out = NULL;
	if (!p)
		p = &def;
	if (!m->weights) {
		set_err(err, errlen, "splitmoe_session_create: the model was loaded vocab_only");
		return SPLITMOE_ERR_INVALID;
	}
	if (map_params(m, p, &so, &ao, &dop, err, errlen))
		return SPLITMOE_ERR_INVALID;
	if (so.quant != SM_QUANT_NONE && p->device != SPLITMOE_DEVICE_CPU) {
		set_err(err, errlen, "quantized weights run on the CPU only (device cpu)");
		return SPLITMOE_ERR_UNSUPPORTED;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		set_err(err, errlen, "out of memory");
		return SPLITMOE_ERR_NOMEM;
	}
	s->model = m;
	s->weights = p->weights;
	s->quant = sm_api_quant_of(so.quant);
	if (p->arb) {
		s->arb = sm_api_arb(p->arb);
		s->arb_shared = true;
	} else {
		rc = sm_arbiter_open(&ao, &s->arb, e, sizeof(e));
		if (rc) {
			snprintf(s->err, sizeof(s->err), "arbiter %s: %.480s",
				 sm_arbiter_kind_name(ao.kind), e);
			goto fail_open;
		}
	}
	so.arbiter = s->arb;
	if (p->device != SPLITMOE_DEVICE_CPU) {
		enum sm_compute c = so.compute == SM_COMPUTE_AUTO ? sm_compute_default() : so.compute;

		dop.compute = c == SM_COMPUTE_BF16 ? SM_BACKEND_BF16 : SM_BACKEND_F32;
		dop.arbiter = s->arb;
		rc = sm_devices_open(&dop, &s->dev, s->err, sizeof(s->err));
		if (rc)
			goto fail_open;
		if (s->dev.note[0]) {
			/* as the CLI does: the session's own CPU backend */
			snprintf(s->note, sizeof(s->note), "device %s: %s",
				 sm_device_mode_name(dop.device), s->dev.note);
			sm_devices_close(&s->dev);
		} else {
			s->dev_open = true;
			so.backend = s->dev.use;
		}
	}
	rc = phimoe_session_create(&m->m, &so, &s->s, s->err, sizeof(s->err));
	if (rc) {
		set_err(err, errlen, s->err);
		splitmoe_session_free(s);
		return from_errno(rc);
	}
	*out = s;
	return SPLITMOE_OK;

fail_open:
	set_err(err, errlen, s->err);
	splitmoe_session_free(s);
	return rc == -ENOMEM ? SPLITMOE_ERR_NOMEM : rc == -EINVAL ? SPLITMOE_ERR_INVALID :
	       SPLITMOE_ERR_ARBITER;
}

void splitmoe_session_free(splitmoe_session *s)
{
	if (!s)
		return;
	if (s->s && !s->borrowed)
		phimoe_session_destroy(s->s);
	if (s->dev_open)
		sm_devices_close(&s->dev);
	if (s->arb && !s->arb_shared)
		sm_arbiter_close(s->arb);
	free(s);
}

void splitmoe_session_reset(splitmoe_session *s)
{
	phimoe_session_reset(s->s);
	s->err[0] = '\0';
}

const char *splitmoe_session_device(const splitmoe_session *s)
{
	return sm_device_mode_name(s->dev_open ? s->dev.running : SM_DEVICE_CPU);
}

const char *splitmoe_session_note(const splitmoe_session *s)
{
	return s->note;
}

splitmoe_compute splitmoe_session_compute(const splitmoe_session *s)
{
	return phimoe_session_compute(s->s) == SM_COMPUTE_BF16 ? SPLITMOE_COMPUTE_BF16 :
	       SPLITMOE_COMPUTE_F32;
}

const char *splitmoe_session_error(const splitmoe_session *s)
{
	return s->err;
}

/* The session's error text is the runtime's for the call that failed. */
static splitmoe_status session_status(splitmoe_session *s, int rc)
{
	if (rc)
		snprintf(s->err, sizeof(s->err), "%s", phimoe_session_error(s->s));
	return from_errno(rc);
}

splitmoe_status splitmoe_prefill(splitmoe_session *s, const int32_t *ids, int n)
{
	if (!ids || n <= 0)
		return SPLITMOE_ERR_INVALID;
	return session_status(s, phimoe_prefill(s->s, ids, n, NULL));
}

splitmoe_status splitmoe_prefill_ex(splitmoe_session *s, const int32_t *ids, int n,
				    const struct splitmoe_prefill_out *out)
{
	struct phimoe_prefill_out po = { 0 };

	if (!ids || n <= 0)
		return SPLITMOE_ERR_INVALID;
	if (out)
		po = (struct phimoe_prefill_out){
			.logits = out->logits, .router_logits = out->router_logits,
			.experts = out->experts, .expert_weights = out->expert_weights,
		};
	return session_status(s, phimoe_prefill(s->s, ids, n, out ? &po : NULL));
}

splitmoe_status splitmoe_decode(splitmoe_session *s, int32_t id)
{
	return session_status(s, phimoe_decode(s->s, id, NULL));
}

const float *splitmoe_logits(const splitmoe_session *s)
{
	return phimoe_session_logits(s->s);
}

int splitmoe_session_pos(const splitmoe_session *s)
{
	return phimoe_session_pos(s->s);
}

/* ---- sampling ---- */

struct splitmoe_sampler_params splitmoe_sampler_default_params(void)
{
	return (struct splitmoe_sampler_params){ .temperature = 0.0f, .top_p = 1.0f };
}

splitmoe_status splitmoe_sampler_create(const splitmoe_model *m,
					const struct splitmoe_sampler_params *p,
					splitmoe_sampler **out)
{
	struct splitmoe_sampler_params def = splitmoe_sampler_default_params();
	struct sm_sampler_opts o;
	splitmoe_sampler *smp;
	int rc;

	if (!m || !out)
		return SPLITMOE_ERR_INVALID;
	*out = NULL;
	if (!m->weights)
		return SPLITMOE_ERR_INVALID;	/* vocab_only: no vocabulary size */
	if (!p)
		p = &def;
	o = (struct sm_sampler_opts){
		.temperature = p->temperature, .top_k = p->top_k, .top_p = p->top_p, .seed = p->seed,
	};
	smp = calloc(1, sizeof(*smp));
	if (!smp)
		return SPLITMOE_ERR_NOMEM;
	rc = sm_sampler_create(m->m.cfg.vocab_size, &o, &smp->smp);
	if (rc) {
		free(smp);
		return from_errno(rc);
	}
	*out = smp;
	return SPLITMOE_OK;
}

void splitmoe_sampler_free(splitmoe_sampler *smp)
{
	if (!smp)
		return;
	sm_sampler_free(smp->smp);
	free(smp);
}

int32_t splitmoe_sample(splitmoe_sampler *smp, const float *logits)
{
	return sm_sampler_sample(smp->smp, logits);
}

/* ---- batching ---- */

#ifdef SM_HAVE_BATCH
splitmoe_status splitmoe_seq_open(splitmoe_session *s, int *seq)
{
	int rc = phimoe_seq_open(s->s);

	if (rc < 0)
		return from_errno(rc);
	*seq = rc;
	return SPLITMOE_OK;
}

void splitmoe_seq_close(splitmoe_session *s, int seq)
{
	phimoe_seq_close(s->s, seq);
}

int splitmoe_seq_pos(const splitmoe_session *s, int seq)
{
	int rc = phimoe_seq_pos(s->s, seq);

	return rc < 0 ? -1 : rc;
}

splitmoe_status splitmoe_batch(splitmoe_session *s, const struct splitmoe_batch_item *items,
			       int count)
{
	/* The two item structs are one layout (checked below), so the
	 * runtime reads the caller's array as it is: no copy per step. */
	_Static_assert(sizeof(struct splitmoe_batch_item) == sizeof(struct phimoe_batch_item),
		       "batch item layouts differ");
	_Static_assert(offsetof(struct splitmoe_batch_item, seq) ==
		       offsetof(struct phimoe_batch_item, seq), "seq");
	_Static_assert(offsetof(struct splitmoe_batch_item, ids) ==
		       offsetof(struct phimoe_batch_item, ids), "ids");
	_Static_assert(offsetof(struct splitmoe_batch_item, n) ==
		       offsetof(struct phimoe_batch_item, n), "n");
	_Static_assert(offsetof(struct splitmoe_batch_item, logits) ==
		       offsetof(struct phimoe_batch_item, logits), "logits");
	if (!items || count <= 0)
		return SPLITMOE_ERR_INVALID;
	return session_status(s, phimoe_batch(s->s, (const struct phimoe_batch_item *)items,
					      count));
}
#else
/* This libruntime has no batched decode yet: sequence 0 only. */
splitmoe_status splitmoe_seq_open(splitmoe_session *s, int *seq)
{
	(void)seq;
	snprintf(s->err, sizeof(s->err), "batched decode is not in this build");
	return SPLITMOE_ERR_UNSUPPORTED;
}

void splitmoe_seq_close(splitmoe_session *s, int seq)
{
	(void)s;
	(void)seq;
}

int splitmoe_seq_pos(const splitmoe_session *s, int seq)
{
	return seq == 0 ? phimoe_session_pos(s->s) : -1;
}

splitmoe_status splitmoe_batch(splitmoe_session *s, const struct splitmoe_batch_item *items,
			       int count)
{
	(void)items;
	(void)count;
	snprintf(s->err, sizeof(s->err), "batched decode is not in this build");
	return SPLITMOE_ERR_UNSUPPORTED;
}
#endif

/* ---- statistics ---- */

void splitmoe_session_stats(const splitmoe_session *s, struct splitmoe_stats *st)
{
	struct phimoe_session_stats ps;

	phimoe_session_get_stats(s->s, &ps);
	*st = (struct splitmoe_stats){
		.prefill_tokens = ps.prefill_tokens,
		.decode_tokens = ps.decode_tokens,
		.prefill_ns = ps.prefill_ns,
		.decode_ns = ps.decode_ns,
		.arbiter_acquires = ps.gated_submissions,
		.arbiter_granted_bytes = ps.gated_bytes,
		.arbiter_wait_ns = ps.gate_wait_ns,
		.packed_weight_bytes = ps.packed_weight_bytes,
		.mapped_weight_bytes = ps.mapped_weight_bytes,
		.workspace_bytes = ps.workspace_bytes,
	};
	/* A device backend gates itself through its own clients. */
	if (s->dev_open) {
		const struct sm_arb_client *c[2] = { s->dev.cpu_client, s->dev.gpu_client };

		st->arbiter_acquires = st->arbiter_granted_bytes = st->arbiter_wait_ns = 0;
		for (int i = 0; i < 2; i++) {
			struct sm_arb_client_stats cs;

			if (!c[i])
				continue;
			sm_arb_client_get_stats(c[i], &cs);
			st->arbiter_acquires += cs.acquires;
			st->arbiter_granted_bytes += cs.granted_bytes;
			st->arbiter_wait_ns += cs.wait_ns;
		}
	}
}

const splitmoe_arb_client *splitmoe_session_arb_client(const splitmoe_session *s)
{
	/* a device backend gates the CPU's work through its own client */
	if (s->dev_open && (s->dev.cpu_client || s->dev.gpu))
		return sm_api_client(s->dev.cpu_client);
	return sm_api_client(phimoe_session_arb_client(s->s));
}

const splitmoe_arb_client *splitmoe_session_gpu_arb_client(const splitmoe_session *s)
{
	return s->dev_open ? sm_api_client(s->dev.gpu_client) : NULL;
}
