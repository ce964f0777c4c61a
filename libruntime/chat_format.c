// SPDX-License-Identifier: MIT
#include "chat_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *phimoe_chat_prompt(const char *system, const char *user)
{
	char *s = NULL;
	int n;

	if (system)
		n = asprintf(&s, "<|system|>\n%s<|end|>\n<|user|>\n%s<|end|>\n<|assistant|>\n",
			     system, user);
	else
		n = asprintf(&s, "<|user|>\n%s<|end|>\n<|assistant|>\n", user);
	return n < 0 ? NULL : s;
}
