// SPDX-License-Identifier: MIT
#include "model/json_file.h"

#include <string.h>

#include "util/errbuf.h"

int sm_json_load_object(const char *path, struct json_object **out, char *err,
			size_t errlen)
{
	struct json_object *o = json_object_from_file(path);
	const char *why;

	*out = NULL;
	if (o && json_object_is_type(o, json_type_object)) {
		*out = o;
		return 0;
	}
	if (o) {
		json_object_put(o);
		return sm_errf(err, errlen, "%s: not a JSON object (its top level is not {...})",
			       path);
	}
	why = json_util_get_last_err();
	return sm_errf(err, errlen, "%s: not a JSON object (%.*s)", path,
		       why ? (int)strcspn(why, "\n") : 0, why ? why : "");
}
