// SPDX-License-Identifier: MIT
/* splitmoe quantize --tensors: class names into a mask (quantize.h), by
 * the library's names (splitmoe_quantize_class_name). */
#include "quantize.h"

#include <string.h>

int qz_classes_parse(const char *s, unsigned *mask)
{
	const char *p = s;

	*mask = 0;
	for (;;) {
		const char *comma = strchr(p, ','), *name = NULL;
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		unsigned bit;

		for (bit = 1; (name = splitmoe_quantize_class_name(bit)); bit <<= 1)
			if (strlen(name) == len && !strncmp(p, name, len))
				break;
		if (!name)
			return -1;
		*mask |= bit;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}
