// SPDX-License-Identifier: MIT
/* Set-up shared by run, logits, eval and info. */
#include "session.h"
#include "bench.h"
#include "arbiter/arbiter.h"
#include "engine/inference.h"
#include "ze/ze_backend.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void cli_quant_resolve(struct cli_opts *o, enum phimoe_dtype storage, bool quantized_file)
{
	if (o->cfg.quant != SM_QUANT_AUTO)
		return;
	/* the Level Zero kernels have no quantized form: the devices get none;
	 * a quantized file runs as it is stored, whatever this CPU lacks */
	o->cfg.quant = o->cfg.device != SM_DEVICE_CPU || quantized_file ? SM_QUANT_NONE :
		       sm_quant_default(storage);
}

int cli_load(struct cli_opts *o, struct cli_ctx *c, bool tokenizer)
{
	char err[PHIMOE_ERRLEN];

	memset(c, 0, sizeof(*c));
	if (!o->have_model) {
		cli_err("%s: --model DIR is required", o->cmd);
		return -1;
	}
	if (phimoe_model_load(o->cfg.model, &c->m, err, sizeof(err))) {
		cli_err("%s", err);
		return -1;
	}
	c->model_loaded = true;
	cli_quant_resolve(o, c->m.cfg.storage_dtype, c->m.cfg.quant != PHIMOE_QUANT_NONE);
	if (tokenizer && phimoe_tokenizer_load(o->cfg.model, &c->tk, err, sizeof(err))) {
		cli_err("%s", err);
		cli_close(c);
		return -1;
	}
	return 0;
}

int cli_start_session(struct cli_opts *o, struct cli_ctx *c, int max_seq)
{
	struct sm_arbiter_opts ao = { 0 };
	struct phimoe_session_opts so = { 0 };
	char err[PHIMOE_ERRLEN];
	int rc;

	ao.kind = o->cfg.arbiter;
	so.compute = o->cfg.dtype;
	so.weights = o->cfg.weights;
	so.quant = o->cfg.quant;	/* auto resolved by cli_load */
	if (so.quant != SM_QUANT_NONE && o->cfg.device != SM_DEVICE_CPU) {
		cli_err("--quant %s runs on the CPU only: the Level Zero kernels have no int8 or "
			"q4 form yet (use --device cpu)", sm_quant_name(o->cfg.quant));
		return -1;
	}
	if (c->m.cfg.quant != PHIMOE_QUANT_NONE && o->cfg.device != SM_DEVICE_CPU) {
		cli_err("%s: a model quantized as %s runs on the CPU only: the Level Zero kernels "
			"have no int8 or q4 form yet (use --device cpu)", o->cfg.model,
			phimoe_quant_name(c->m.cfg.quant));
		return -1;
	}
	if (cli_resolve_arbiter_bus(o, ao.kind))
		return -1;
	ao.dev_path = o->cfg.arbiter_dev;
	ao.capacity_mbps = o->cfg.arb_capacity_mbps;
	ao.guaranteed_mbps = o->cfg.arb_guaranteed_mbps;
	rc = sm_arbiter_open(&ao, &c->arb, err, sizeof(err));
	if (rc) {
		cli_err("arbiter %s: %s", sm_arbiter_kind_name(o->cfg.arbiter), err);
		return -1;
	}
	so.threads = o->cfg.threads;
	so.max_seq = max_seq;
	so.max_batch = o->max_batch;
	so.max_seqs = o->max_seqs;
	so.kv_tokens = o->kv_tokens;
	so.profile = o->profile;
	so.arbiter = c->arb;
	so.arb_weight = o->cfg.cpu_weight;
	so.arb_reserve_mbps = o->cfg.cpu_reserve_mbps;
	if (cli_open_devices(o, c->arb, so.compute, &c->dev, &so.backend))
		return -1;
	c->weights = o->cfg.weights;
	c->quant = o->cfg.quant;
	rc = phimoe_session_create(&c->m, &so, &c->s, err, sizeof(err));
	if (rc) {
		cli_err("%s", err);
		return -1;
	}
	return 0;
}

int cli_open_devices(struct cli_opts *o, struct sm_arbiter *arb, enum sm_compute compute,
		     struct sm_devices *d, struct sm_backend **backend)
{
	struct sm_device_opts dop = {
		.device = o->cfg.device,
		.gpu_name = o->cfg.gpu_device,
		.plan = o->cfg.split,
		.weights = o->cfg.weights,
		.threads = o->cfg.threads,
		.arbiter = arb,
		.cpu_weight = o->cfg.cpu_weight,
		.gpu_weight = o->cfg.gpu_weight,
		.cpu_reserve_mbps = o->cfg.cpu_reserve_mbps,
		.gpu_reserve_mbps = o->cfg.gpu_reserve_mbps,
	};
	char err[PHIMOE_ERRLEN];

	*backend = NULL;
	memset(d, 0, sizeof(*d));
	if (o->cfg.device == SM_DEVICE_CPU)
		return 0;	/* the session's own CPU backend, as always */
	if (compute == SM_COMPUTE_AUTO)
		compute = sm_compute_default();
	dop.compute = compute == SM_COMPUTE_BF16 ? SM_BACKEND_BF16 : SM_BACKEND_F32;
	if (sm_devices_open(&dop, d, err, sizeof(err))) {
		cli_err("%s", err);
		return -1;
	}
	if (d->note[0]) {
		cli_err("device %s: %s", sm_device_mode_name(dop.device), d->note);
		sm_devices_close(d);	/* the session's own CPU backend */
		return 0;
	}
	*backend = d->use;
	return 0;
}

void cli_report_weights(FILE *out, const struct cli_ctx *c)
{
	uint64_t cpu = 0, gpu = 0, shared = 0, borrowed = 0, mapped = 0;
	struct phimoe_model_stats ms;

	phimoe_model_stats(&c->m, &ms);
	if (c->dev.gpu) {
		gpu = c->dev.gpu->packed_bytes;
		shared = c->dev.gpu->shared_bytes;
	}
	if (c->dev.cpu) {
		cpu = c->dev.cpu->packed_bytes;
		borrowed = c->dev.cpu->borrowed_bytes;
		mapped = c->dev.cpu->mapped_bytes;
	} else if (!c->dev.gpu && c->s) {
		struct phimoe_session_stats st;

		phimoe_session_get_stats(c->s, &st);	/* the session's own CPU backend */
		cpu = st.packed_weight_bytes;
		mapped = st.mapped_weight_bytes;
	}
	fprintf(out, "weights held (%s): cpu %.2f MB, gpu %.2f MB; shared %.2f MB (the gpu's, "
		"which the cpu reads in place: %.2f MB); checkpoint %.2f MB mapped, of which the cpu "
		"reads %.2f MB in place besides its %.2f MB packed (weights %s%s%s)\n",
		sm_device_mode_name(c->dev.running), cpu / 1e6, gpu / 1e6, shared / 1e6,
		borrowed / 1e6, ms.bytes / 1e6, mapped / 1e6, cpu / 1e6,
		sm_weights_layout_name(c->weights),
		c->quant != SM_QUANT_NONE ? ", quant " : "",
		c->quant != SM_QUANT_NONE ? sm_quant_name(c->quant) : "");
}

void cli_report_format(FILE *out, const struct phimoe_model *m, enum sm_compute compute,
		       enum sm_quant quant)
{
	const struct phimoe_config *k = &m->cfg;
	struct bench_bytes b;
	char what[160];

	if (compute == SM_COMPUTE_AUTO)
		compute = sm_compute_default();
	if (k->quant != PHIMOE_QUANT_NONE)
		snprintf(what, sizeof(what), "%s file (groups of %d, f16 scales), read in place; "
			 "other weights %s, compute %s", phimoe_quant_name(k->quant), k->quant_group,
			 phimoe_dtype_name(k->storage_dtype), sm_compute_name(compute));
	else if (quant != SM_QUANT_NONE)
		snprintf(what, sizeof(what), "%s, quantized at load from %s (groups of %d, f16 "
			 "scales); compute %s", sm_quant_name(quant),
			 phimoe_dtype_name(k->storage_dtype), SM_Q4_GROUP, sm_compute_name(compute));
	else
		snprintf(what, sizeof(what), "%s checkpoint, compute %s",
			 phimoe_dtype_name(k->storage_dtype), sm_compute_name(compute));
	bench_bytes_init(m, compute, quant, &b);
	fprintf(out, "format: %s; weights read per decoded token %.2f MB (%d of %d experts per "
		"layer)\n", what, bench_bytes_decode(&b) / 1e6, k->num_experts_per_tok,
		k->num_local_experts);
}

static void report_client(FILE *out, const char *kind, const char *client,
			  const struct sm_arb_client_stats *cs)
{
	fprintf(out, "arbiter %s: %s client %llu acquires, %llu completed, %.2f MB granted, "
		"%.2f ms waiting\n", kind, client, (unsigned long long)cs->acquires,
		(unsigned long long)cs->completes, cs->granted_bytes / 1e6, cs->wait_ns / 1e6);
}

void cli_report_arbiter(FILE *out, const struct cli_ctx *c)
{
	const char *kind;
	struct sm_arb_client_stats cs;

	if (!c->arb)
		return;
	kind = sm_arbiter_kind_name(sm_arbiter_get_kind(c->arb));
	if (c->dev.cpu_client) {
		sm_arb_client_get_stats(c->dev.cpu_client, &cs);
		report_client(out, kind, "cpu", &cs);
	} else if (!c->dev.gpu && c->s) {
		struct phimoe_session_stats st;

		phimoe_session_get_stats(c->s, &st);	/* the session's own CPU client */
		cs = (struct sm_arb_client_stats){
			.acquires = st.gated_submissions, .completes = st.gated_completions,
			.granted_bytes = st.gated_bytes, .wait_ns = st.gate_wait_ns,
		};
		report_client(out, kind, "cpu", &cs);
	}
	if (c->dev.gpu_client) {
		sm_arb_client_get_stats(c->dev.gpu_client, &cs);
		report_client(out, kind, "gpu", &cs);
	}
}

void cli_report_gpu(FILE *out, const struct cli_ctx *c)
{
	struct sm_ze_profile p;

	if (!c->dev.gpu)
		return;
	sm_ze_backend_profile(c->dev.gpu, &p);
	fprintf(out, "gpu kernels (Level Zero timestamps): linear %.2f ms in %llu ops, experts "
		"%.2f ms in %llu, other %.2f ms in %llu; %llu of %llu kernels under grants of "
		"the gpu client\n",
		p.linear_ns / 1e6, (unsigned long long)p.linear_ops, p.expert_ns / 1e6,
		(unsigned long long)p.expert_ops, p.other_ns / 1e6,
		(unsigned long long)p.other_ops, (unsigned long long)p.gated_launches,
		(unsigned long long)p.launches);
}

void cli_end_session(struct cli_ctx *c)
{
	if (c->s)
		phimoe_session_destroy(c->s);
	c->s = NULL;
	sm_devices_close(&c->dev);
	memset(&c->dev, 0, sizeof(c->dev));
	if (c->arb)
		sm_arbiter_close(c->arb);
	c->arb = NULL;
}

void cli_close(struct cli_ctx *c)
{
	cli_end_session(c);
	phimoe_tokenizer_free(c->tk);
	if (c->model_loaded)
		phimoe_model_free(&c->m);
	memset(c, 0, sizeof(*c));
}
