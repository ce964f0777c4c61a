/* SPDX-License-Identifier: MIT */
/*
 * Reading a model directory's small JSON files (config.json,
 * generation_config.json, added_tokens.json, tokenizer_config.json): one
 * place that turns json-c's failure into the project's one-line error.
 */
#ifndef SPLITMOE_JSON_FILE_H
#define SPLITMOE_JSON_FILE_H

#include <stddef.h>
#include <json-c/json.h>

/* *out = the file's top-level object (json_object_put() it). A missing,
 * unreadable or malformed file, or one whose top level is not an object:
 * -1 and "PATH: not a JSON object (json-c's reason)" in err. */
int sm_json_load_object(const char *path, struct json_object **out, char *err,
			size_t errlen);

#endif /* SPLITMOE_JSON_FILE_H */
