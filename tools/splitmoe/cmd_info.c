// SPDX-License-Identifier: MIT
/*
 * splitmoe info: CPU ISA (cpuid), oneDNN version and the ISA it uses,
 * arbiter status; with --model, the model's size and resident memory.
 */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *yn(bool b)
{
	return b ? "yes" : "no";
}

static void print_cpu(void)
{
	struct splitmoe_cpu_info f;

	splitmoe_cpu_info(&f);
	printf("cpu: %s (%s)\n", f.brand[0] ? f.brand : "unknown", f.vendor);
	printf("isa: avx2=%s fma=%s avx512f=%s avx512bw=%s avx512vl=%s avx512_vnni=%s avx512_bf16=%s avx_vnni=%s amx_tile=%s amx_bf16=%s amx_int8=%s\n",
	       yn(f.avx2), yn(f.fma), yn(f.avx512f), yn(f.avx512bw), yn(f.avx512vl),
	       yn(f.avx512_vnni), yn(f.avx512_bf16), yn(f.avx_vnni), yn(f.amx_tile),
	       yn(f.amx_bf16), yn(f.amx_int8));
	printf("onednn: %d.%d.%d (%s), isa in use %s\n", f.onednn_major, f.onednn_minor,
	       f.onednn_patch, f.onednn_hash, f.onednn_isa);
	printf("compute: auto resolves to %s\n",
	       cli_name(SPLITMOE_OPTION_COMPUTE, splitmoe_compute_default()));
	printf("quant: auto resolves to %s for a bf16/f16/f32 checkpoint on the CPU%s\n",
	       cli_name(SPLITMOE_OPTION_QUANT, f.quant_default),
	       f.quant_default == SPLITMOE_QUANT_NONE ? "" :
	       " (no bf16 instructions: f32 would not fit 8 GB)");
	printf("kernels: %s%s, int8 products %s\n", f.kernels,
	       f.kernels_forced ? " (forced by SPLITMOE_ISA)" : "", f.int8_kernel);
}

static void print_arbiter(const struct cli_opts *o)
{
	const char *want = cli_name(SPLITMOE_OPTION_ARBITER, o->sp.arbiter);
	splitmoe_arbiter in_use;
	char err[1024];

	if (splitmoe_arbiter_probe(o->sp.arbiter, o->sp.arbiter_dev, &in_use, err, sizeof(err))) {
		printf("arbiter: %s unavailable: %s\n", want, err);
		return;
	}
	printf("arbiter: %s requested, %s in use (%s %s)\n", want,
	       cli_name(SPLITMOE_OPTION_ARBITER, in_use), o->sp.arbiter_dev,
	       access(o->sp.arbiter_dev, F_OK) ? "absent" : "present");
}

static void print_gpu(void)
{
	long len = splitmoe_gpu_describe(NULL, 0);
	char *text = len < 0 ? NULL : malloc((size_t)len + 1);

	if (!text) {
		printf("gpu: out of memory\n");
		return;
	}
	splitmoe_gpu_describe(text, (size_t)len + 1);
	fputs(text, stdout);
	free(text);
}

/* What run will do with the weights on the CPU (the layouts). */
static void print_layout(const struct cli_opts *o, const struct splitmoe_model_info *k)
{
	splitmoe_compute cmp = o->sp.compute;
	splitmoe_weights w = o->sp.weights;
	const char *wname = cli_name(SPLITMOE_OPTION_WEIGHTS, w), *cname;

	if (cmp == SPLITMOE_COMPUTE_AUTO)
		cmp = splitmoe_compute_default();
	cname = cli_name(SPLITMOE_OPTION_COMPUTE, cmp);
	if (k->file_quant != SPLITMOE_QUANT_NONE)
		printf("  cpu: the %s weights read in place from the mapping, no copy; the others "
		       "as weights %s says\n", cli_name(SPLITMOE_OPTION_QUANT, k->file_quant), wname);
	printf("  cpu weights %s, compute %s: %s\n", wname, cname,
	       w == SPLITMOE_WEIGHTS_PACKED ? "packed, a copy in oneDNN's preferred layout" :
	       cmp == k->storage_compute ? "read in place from the mapping, no copy" :
	       w == SPLITMOE_WEIGHTS_MAPPED ? "refused (mapped needs the checkpoint's dtype as compute type)" :
	       "packed (the checkpoint's dtype is not the compute type)");
}

static void print_model(const struct cli_opts *o, struct cli_ctx *c)
{
	struct splitmoe_model_info k;
	splitmoe_quant q = o->sp.quant;	/* auto resolved by cli_load */
	struct splitmoe_cpu_info f;

	splitmoe_model_info(c->model, &k);
	printf("model: %s\n", k.dir);
	printf("  layers %d, hidden %d, heads %d/%d kv x %d, experts %d (top-%d) of %d, vocab %d, max positions %d\n",
	       k.layers, k.hidden, k.heads, k.kv_heads, k.head_dim, k.experts,
	       k.experts_per_token, k.intermediate, k.vocab, k.max_positions);
	printf("  parameters: %llu (%.2f M; experts %.2f M)\n", (unsigned long long)k.params,
	       k.params / 1e6, k.expert_params / 1e6);
	if (k.file_quant != SPLITMOE_QUANT_NONE)
		printf("  weights: %.2f MB, %s quantized in groups of %d (the rest %s), mapped from "
		       "the file\n", k.bytes / 1e6, cli_name(SPLITMOE_OPTION_QUANT, k.file_quant),
		       k.file_quant_group, k.storage_dtype);
	else
		printf("  weights: %.2f MB as %s, mapped from the checkpoint\n", k.bytes / 1e6,
		       k.storage_dtype);
	print_layout(o, &k);
	splitmoe_cpu_info(&f);
	printf("  cpu quant %s%s%s\n", cli_name(SPLITMOE_OPTION_QUANT, q),
	       q != SPLITMOE_QUANT_NONE ? ", int8 activations, kernel " : "",
	       q != SPLITMOE_QUANT_NONE ? f.int8_kernel : "");
	printf("  active per token: %llu parameters, %.2f MB as stored\n",
	       (unsigned long long)k.active_params_per_token, k.active_bytes_per_token / 1e6);
	printf("  ");
	cli_report_model_format(stdout, c->model, o->sp.compute, q);
}

int cmd_info(struct cli_opts *o)
{
	struct cli_ctx c;

	print_cpu();
	print_arbiter(o);
	print_gpu();
	if (o->have_model) {
		if (cli_load(o, &c, false))
			return 1;
		print_model(o, &c);
		cli_report_memory(stdout, "model mapped");
		/* packing is run's work: only when a device was asked for */
		if (o->device_given || o->weights_given || o->sp.device != SPLITMOE_DEVICE_CPU) {
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
