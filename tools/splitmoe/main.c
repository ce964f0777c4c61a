// SPDX-License-Identifier: MIT
/*
 * splitmoe: run a PhiMoE model on the CPU, gated by the bwarb arbiter.
 * Subcommands: run, logits, tokenize, eval, info, bench, synth, quantize,
 * serve, chat, contend.
 */
#include "cli.h"
#include "contend.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
	fputs("usage:\n"
	      "  splitmoe run --model DIR (--prompt TEXT | --chat TEXT | --ids 1,2,3) [-n N (32)]\n"
	      "               [--temperature T] [--top-k K] [--top-p P] [--seed S]\n"
	      "               [--dtype f32|bf16] [--print-ids]\n"
	      "  splitmoe logits --model DIR --ids 1,2,3 --out FILE [--dtype f32|bf16]\n"
	      "  splitmoe tokenize --model DIR --text TEXT\n"
	      "  splitmoe eval --model DIR --reference FILE.json [--dtype f32|bf16]\n"
	      "  splitmoe info [--model DIR [--device cpu|gpu|split]]\n"
	      "  splitmoe bench --model DIR [-p 16,512] [-n 32] [-d 0,512] [-t 16,8] [-r 3] [-b 512]\n"
	      "               [--dtype f32|bf16] [--weights auto|mapped|packed] [--profile]\n"
	      "               [--json] [--membw-gbs X | --no-membw] [--seed S]\n"
	      "      speed per test: ppN prefills N tokens, tgN @ dD decodes N tokens after D\n"
	      "      tokens of context; tok/s (mean +- sd of -r runs), GB/s of weights read,\n"
	      "      % of the DRAM read bandwidth measured first (see README.md)\n"
	      "  splitmoe bench --membw   DRAM read and copy GB/s with every core\n"
	      "  splitmoe synth --out DIR [--shape phi-tiny-moe|tiny] [--seed S]\n"
	      "               [--dtype bf16|f32] [--layers N]\n"
	      "      a checkpoint of that shape with seeded random weights (7.51 GB for\n"
	      "      phi-tiny-moe in bf16); DIR must not exist or be empty\n"
	      "  splitmoe serve --model DIR [--host 127.0.0.1] [--port 8080] [--parallel 4] [--queue 64]\n"
	      "               [-b 256]\n"
	      "      OpenAI-compatible HTTP server: POST /v1/chat/completions, /v1/completions,\n"
	      "      GET /v1/models, /health, /metrics (see README.md)\n"
	      "  splitmoe chat --model DIR [-n 256] [--temperature T] [--top-k K] [--top-p P] [--seed S]\n"
	      "      conversation in the terminal: /reset, /exit, Ctrl-C stops a reply, Ctrl-D leaves\n"
	      "  splitmoe quantize --model DIR --out DIR2 --type int8|q4\n"
	      "               [--tensors attention,experts,lm_head,router] [--threads N]\n"
	      "      a model directory of quantized weights (README: Quantized model\n"
	      "      files), loaded mapped by every command; DIR2 must not exist or be empty\n"
	      "  splitmoe contend --model DIR [--seconds 5] [--hog-threads N] [--threads N]\n"
	      "               [--reserve MBPS|auto] [--hog-weight 100] [--hog-reserve MBPS]\n"
	      "               [--hog-mb 1024] [--chunk-kb 4096] [--cal-mb N] [--prefill 32]\n"
	      "               [--trace FILE] [--json] [--arbiter process|kernel]\n"
	      "      decode beside a bandwidth hog on the other cores: hog off, ungated,\n"
	      "      gated; tok/s, GB/s, acquire waits, the arbiter's shares (README.md)\n"
	      "every subcommand also takes --config FILE (YAML; flags override it),\n"
	      "and those that compute --threads N, --arbiter auto|kernel|process|off\n"
	      "and --device cpu|gpu|split (bench: -t 16,8 in place of --threads)\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct cli_opts *);
	} cmds[] = {
		{ "run", cmd_run }, { "logits", cmd_logits }, { "tokenize", cmd_tokenize },
		{ "eval", cmd_eval }, { "info", cmd_info }, { "bench", cmd_bench },
		{ "synth", cmd_synth }, { "quantize", cmd_quantize }, { "serve", cmd_serve },
		{ "chat", cmd_chat },
	};
	struct cli_opts o;
	size_t i;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "contend"))	/* parses its own flags first */
		return cmd_contend_main(argc - 1, argv + 1);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		memset(&o, 0, sizeof(o));
		o.cmd = cmds[i].name;
		if (cli_parse(argc - 1, argv + 1, &o))
			return 2;
		return cmds[i].fn(&o);
	}
	cli_err("unknown subcommand '%s'", argv[1]);
	usage(stderr);
	return 2;
}
