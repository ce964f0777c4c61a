/* SPDX-License-Identifier: MIT */
/*
 * The Phi-3 chat format (tokenizer_config.json's chat_template):
 *   [<|system|>\nSYSTEM<|end|>\n]<|user|>\nMESSAGE<|end|>\n<|assistant|>\n
 * The markers are special tokens; encode the result with
 * phimoe_tokenizer_encode().
 */
#ifndef SPLITMOE_CHAT_FORMAT_H
#define SPLITMOE_CHAT_FORMAT_H

/* malloc'ed prompt text for one user turn; system may be NULL. NULL on
 * allocation failure. */
char *phimoe_chat_prompt(const char *system, const char *user);

#endif /* SPLITMOE_CHAT_FORMAT_H */
