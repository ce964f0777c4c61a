// SPDX-License-Identifier: MIT
/*
 * include/splitmoe.h, the session part: the op-class profile, the
 * KV block, and the tests' wrapper around a runtime session
 * (api_internal.h).
 */
#include "splitmoe.h"
#include "api_internal.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(SM_OP_COUNT <= SPLITMOE_OP_CLASSES_MAX,
	       "splitmoe_profile's arrays hold every op class");

int splitmoe_op_class_count(void)
{
	return SM_OP_COUNT;
}

const char *splitmoe_op_class_name(int c)
{
	if (c < 0 || c >= SM_OP_COUNT)
		return NULL;
	return sm_op_class_name((enum sm_op_class)c);
}

void splitmoe_session_profile(const splitmoe_session *s, struct splitmoe_profile *p,
			      uint64_t *layer_ns, int nlayers)
{
	struct phimoe_profile rp;

	phimoe_session_profile(s->s, &rp, layer_ns, nlayers);
	memset(p, 0, sizeof(*p));
	memcpy(p->ns, rp.ns, sizeof(rp.ns));
	memcpy(p->calls, rp.calls, sizeof(rp.calls));
	p->tokens = rp.tokens;
	p->total_ns = rp.total_ns;
}

void splitmoe_session_profile_reset(splitmoe_session *s)
{
	phimoe_session_profile_reset(s->s);
}

int splitmoe_kv_block(void)
{
	return PHIMOE_KV_BLOCK;
}

splitmoe_status sm_api_session_wrap(const splitmoe_model *m, struct phimoe_session *rs,
				    splitmoe_session **out)
{
	splitmoe_session *s;

	*out = NULL;
	if (!m || !rs)
		return SPLITMOE_ERR_INVALID;
	s = calloc(1, sizeof(*s));
	if (!s)
		return SPLITMOE_ERR_NOMEM;
	s->model = m;
	s->s = rs;
	s->borrowed = true;
	*out = s;
	return SPLITMOE_OK;
}
