/* SPDX-License-Identifier: MIT */
/*
 * The Phi-3 chat format (tokenizer_config.json's chat_template):
 *   [<|system|>\nSYSTEM<|end|>\n]<|user|>\nMESSAGE<|end|>\n<|assistant|>\n
 * The markers are special tokens; encode the result with
 * phimoe_tokenizer_encode().
 */
#ifndef SPLITMOE_CHAT_FORMAT_H
#define SPLITMOE_CHAT_FORMAT_H

#include <stdbool.h>

/* malloc'ed prompt text for one user turn; system may be NULL. NULL on
 * allocation failure. */
char *phimoe_chat_prompt(const char *system, const char *user);

/* Roles of a conversation, as the template names them. */
enum phimoe_chat_role {
	PHIMOE_ROLE_SYSTEM = 0,
	PHIMOE_ROLE_USER,
	PHIMOE_ROLE_ASSISTANT,
};

/* "system", "user", "assistant"; 0, or -1 for any other name. */
int phimoe_chat_role_parse(const char *name, enum phimoe_chat_role *out);

struct phimoe_chat_msg {
	enum phimoe_chat_role role;
	const char *content;
};

/* malloc'ed text of a whole conversation, each message as
 * <|ROLE|>\nCONTENT<|end|>\n, then <|assistant|>\n when
 * add_generation_prompt. NULL on allocation failure. */
char *phimoe_chat_render(const struct phimoe_chat_msg *msgs, int n,
			 bool add_generation_prompt);

#endif /* SPLITMOE_CHAT_FORMAT_H */
