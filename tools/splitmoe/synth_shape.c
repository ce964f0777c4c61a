// SPDX-License-Identifier: MIT
/* splitmoe synth --shape: the library's shapes by name (synth.h). */
#include "synth.h"

#include <string.h>

static const struct synth_shape shapes[SPLITMOE_SYNTH_SHAPES] = {
	{ SPLITMOE_SYNTH_PHI_TINY_MOE },
	{ SPLITMOE_SYNTH_TINY },
};

int synth_shape_parse(const char *name, const struct synth_shape **out)
{
	for (int i = 0; i < SPLITMOE_SYNTH_SHAPES; i++)
		if (!strcmp(name, splitmoe_synth_shape_name(shapes[i].id))) {
			*out = &shapes[i];
			return 0;
		}
	return -1;
}

const char *synth_shape_names(void)
{
	return "phi-tiny-moe or tiny";
}
