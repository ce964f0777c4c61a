// SPDX-License-Identifier: MIT
/*
 * splitmoe_synth: the fixture's tokenizer files, built into the binary (.incbin of
 * SYNTH_FIXTURE, set by tools/splitmoe/build.mk), so that synth runs
 * anywhere the binary does. A synthesized model's ids are random: any
 * tokenizer of the right kind serves, and the fixture's is 7 KB.
 */
#include "api_synth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifndef SYNTH_FIXTURE
#error "SYNTH_FIXTURE (the fixture directory) must be defined by the build"
#endif

#define EMBED(sym, file) \
	__asm__(".section .rodata\n" \
		".balign 16\n" \
		".globl " #sym "_start\n" #sym "_start:\n" \
		".incbin \"" SYNTH_FIXTURE "/" file "\"\n" \
		".globl " #sym "_end\n" #sym "_end:\n" \
		".byte 0\n" \
		".previous\n"); \
	extern const char sym##_start[], sym##_end[]

EMBED(synth_tok_model, "tokenizer.model");
EMBED(synth_tok_added, "added_tokens.json");
EMBED(synth_tok_gen, "generation_config.json");
EMBED(synth_tok_config, "tokenizer_config.json");

int synth_write_tokenizer(const char *dir, char *err, size_t errlen)
{
	const struct {
		const char *name, *start, *end;
	} files[] = {
		{ "tokenizer.model", synth_tok_model_start, synth_tok_model_end },
		{ "added_tokens.json", synth_tok_added_start, synth_tok_added_end },
		{ "generation_config.json", synth_tok_gen_start, synth_tok_gen_end },
		{ "tokenizer_config.json", synth_tok_config_start, synth_tok_config_end },
	};
	char path[4200];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
		if (synth_write_file(path, files[i].start, (size_t)(files[i].end - files[i].start))) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}
