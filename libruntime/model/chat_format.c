// SPDX-License-Identifier: MIT
#include "model/chat_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const role_names[] = { "system", "user", "assistant" };

char *phimoe_chat_prompt(const char *system, const char *user)
{
	struct phimoe_chat_msg m[2] = {
		{ PHIMOE_ROLE_SYSTEM, system }, { PHIMOE_ROLE_USER, user },
	};

	return system ? phimoe_chat_render(m, 2, true) : phimoe_chat_render(m + 1, 1, true);
}

int phimoe_chat_role_parse(const char *name, enum phimoe_chat_role *out)
{
	size_t i;

	for (i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (!strcmp(name, role_names[i])) {
			*out = (enum phimoe_chat_role)i;
			return 0;
		}
	return -1;
}

char *phimoe_chat_render(const struct phimoe_chat_msg *msgs, int n,
			 bool add_generation_prompt)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	int i;

	if (!f)
		return NULL;
	for (i = 0; i < n; i++)
		fprintf(f, "<|%s|>\n%s<|end|>\n", role_names[msgs[i].role], msgs[i].content);
	if (add_generation_prompt)
		fputs("<|assistant|>\n", f);
	if (ferror(f)) {
		fclose(f);
		free(s);
		return NULL;
	}
	if (fclose(f)) {
		free(s);
		return NULL;
	}
	return s;
}
