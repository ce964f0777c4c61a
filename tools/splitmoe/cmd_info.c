// SPDX-License-Identifier: MIT
/*
 * splitmoe info: CPU ISA (cpuid), oneDNN version and the ISA it uses,
 * arbiter status; with --model, the model's size and resident memory.
 */
#include "session.h"
#include "arbiter/arbiter.h"
#include "cpu/cpu_features.h"
#include "cpu/cpu_isa.h"
#include "cpu/cpu_qgemm.h"
#include "ze/drm_devices.h"
#include "engine/inference.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <oneapi/dnnl/dnnl.h>

static const char *dnnl_isa_name(dnnl_cpu_isa_t isa)
{
	switch ((int)isa) {
	case dnnl_cpu_isa_sse41: return "sse41";
	case dnnl_cpu_isa_avx: return "avx";
	case dnnl_cpu_isa_avx2: return "avx2";
	case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
	case dnnl_cpu_isa_avx512_core: return "avx512_core";
	case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
	case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
	case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
	case dnnl_cpu_isa_all: return "all";
	}
	return "other";
}

static void print_cpu(void)
{
	struct sm_cpu_features f;
	const dnnl_version_t *v = dnnl_version();

	sm_cpu_features_get(&f);
	printf("cpu: %s (%s)\n", f.brand[0] ? f.brand : "unknown", f.vendor);
	printf("isa: avx2=%s fma=%s avx512f=%s avx512bw=%s avx512vl=%s avx512_vnni=%s avx512_bf16=%s avx_vnni=%s amx_tile=%s amx_bf16=%s amx_int8=%s\n",
	       f.avx2 ? "yes" : "no", f.fma ? "yes" : "no", f.avx512f ? "yes" : "no",
	       f.avx512bw ? "yes" : "no", f.avx512vl ? "yes" : "no",
	       f.avx512_vnni ? "yes" : "no", f.avx512_bf16 ? "yes" : "no",
	       f.avx_vnni ? "yes" : "no", f.amx_tile ? "yes" : "no", f.amx_bf16 ? "yes" : "no",
	       f.amx_int8 ? "yes" : "no");
	printf("onednn: %d.%d.%d (%s), isa in use %s\n", v->major, v->minor, v->patch,
	       v->hash ? v->hash : "?", dnnl_isa_name(dnnl_get_effective_cpu_isa()));
	printf("compute: auto resolves to %s\n", sm_compute_name(sm_compute_default()));
	printf("quant: auto resolves to %s for a bf16/f16/f32 checkpoint on the CPU%s\n",
	       sm_quant_name(sm_quant_default(PHIMOE_DTYPE_BF16)),
	       sm_quant_default(PHIMOE_DTYPE_BF16) == SM_QUANT_NONE ? "" :
	       " (no bf16 instructions: f32 would not fit 8 GB)");
	printf("kernels: %s%s, int8 products %s\n", sm_isa_name(sm_isa_active()),
	       sm_isa_forced() || !sm_isa_vnni() ? " (forced by SPLITMOE_ISA)" : "",
	       sm_qkern_name(sm_qkern_active()));
}

static void print_arbiter(struct cli_opts *o)
{
	struct sm_arbiter_opts ao = { .kind = o->cfg.arbiter, .dev_path = o->cfg.arbiter_dev };
	const char *want = sm_arbiter_kind_name(o->cfg.arbiter);
	struct sm_arbiter *a;
	char err[PHIMOE_ERRLEN];

	if (sm_arbiter_open(&ao, &a, err, sizeof(err))) {
		printf("arbiter: %s unavailable: %s\n", want, err);
		return;
	}
	printf("arbiter: %s requested, %s in use (%s %s)\n", want,
	       sm_arbiter_kind_name(sm_arbiter_get_kind(a)), o->cfg.arbiter_dev,
	       access(o->cfg.arbiter_dev, F_OK) ? "absent" : "present");
	sm_arbiter_close(a);
}

/* What run will do with the weights on the CPU (backend.h's layouts). */
static void print_layout(const struct cli_opts *o, const struct phimoe_config *k)
{
	enum phimoe_dtype storage = k->storage_dtype;
	enum sm_compute cmp = o->cfg.dtype;
	enum sm_weights_layout w = o->cfg.weights;
	enum phimoe_dtype cdt;

	if (cmp == SM_COMPUTE_AUTO)
		cmp = sm_compute_default();
	cdt = cmp == SM_COMPUTE_BF16 ? PHIMOE_DTYPE_BF16 : PHIMOE_DTYPE_F32;
	if (k->quant != PHIMOE_QUANT_NONE)
		printf("  cpu: the %s weights read in place from the mapping, no copy; the others "
		       "as weights %s says\n", phimoe_quant_name(k->quant), sm_weights_layout_name(w));
	printf("  cpu weights %s, compute %s: %s\n", sm_weights_layout_name(w), sm_compute_name(cmp),
	       w == SM_WEIGHTS_PACKED ? "packed, a copy in oneDNN's preferred layout" :
	       cdt == storage ? "read in place from the mapping, no copy" :
	       w == SM_WEIGHTS_MAPPED ? "refused (mapped needs the checkpoint's dtype as compute type)" :
	       "packed (the checkpoint's dtype is not the compute type)");
}

static void print_model(const struct cli_opts *o, struct cli_ctx *c)
{
	const struct phimoe_config *k = &c->m.cfg;
	struct phimoe_model_stats s;
	enum sm_quant q = o->cfg.quant;	/* auto resolved by cli_load */

	phimoe_model_stats(&c->m, &s);
	printf("model: %s\n", c->m.dir);
	printf("  layers %d, hidden %d, heads %d/%d kv x %d, experts %d (top-%d) of %d, vocab %d, max positions %d\n",
	       k->num_hidden_layers, k->hidden_size, k->num_attention_heads,
	       k->num_key_value_heads, k->head_dim, k->num_local_experts,
	       k->num_experts_per_tok, k->intermediate_size, k->vocab_size,
	       k->max_position_embeddings);
	printf("  parameters: %llu (%.2f M; experts %.2f M)\n", (unsigned long long)s.params,
	       s.params / 1e6, s.expert_params / 1e6);
	if (k->quant != PHIMOE_QUANT_NONE)
		printf("  weights: %.2f MB, %s quantized in groups of %d (the rest %s), mapped from "
		       "the file\n", s.bytes / 1e6, phimoe_quant_name(k->quant), k->quant_group,
		       phimoe_dtype_name(k->storage_dtype));
	else
		printf("  weights: %.2f MB as %s, mapped from the checkpoint\n", s.bytes / 1e6,
		       phimoe_dtype_name(k->storage_dtype));
	print_layout(o, k);
	printf("  cpu quant %s%s%s\n", sm_quant_name(q),
	       q != SM_QUANT_NONE ? ", int8 activations, kernel " : "",
	       q != SM_QUANT_NONE ? sm_qkern_name(sm_qkern_active()) : "");
	printf("  active per token: %llu parameters, %.2f MB as stored\n",
	       (unsigned long long)s.active_params_per_token, s.active_bytes_per_token / 1e6);
	printf("  ");
	cli_report_format(stdout, &c->m, o->cfg.dtype, q);
}

int cmd_info(struct cli_opts *o)
{
	struct cli_ctx c;

	print_cpu();
	print_arbiter(o);
	sm_gpu_info_print(stdout);
	if (o->have_model) {
		if (cli_load(o, &c, false))
			return 1;
		print_model(o, &c);
		cli_report_memory(stdout, "model mapped");
		/* packing is run's work: only when a device was asked for */
		if (o->device_given || o->weights_given || o->cfg.device != SM_DEVICE_CPU) {
			if (cli_start_session(o, &c, 16)) {
				cli_close(&c);
				return 1;
			}
			cli_report_weights(stdout, &c);
			cli_report_memory(stdout, "session created");
		}
		cli_close(&c);
	}
	return 0;
}
