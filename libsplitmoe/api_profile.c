// SPDX-License-Identifier: MIT
/*
 * include/splitmoe.h, api-bench's session part: the traced prefill, the
 * op-class profile, the weights in effect, and the tests' wrapper around
 * a runtime session (api_internal.h).
 */
#include "splitmoe.h"
#include "api_internal.h"

#include "backend/backend.h"
#include "config/options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(SM_OP_COUNT <= SPLITMOE_OP_CLASSES_MAX,
	       "splitmoe_profile's arrays hold every op class");

splitmoe_status splitmoe_prefill_trace(splitmoe_session *s, const int32_t *ids, int n,
				       const struct splitmoe_trace *out)
{
	struct phimoe_prefill_out po = { 0 };
	int rc;

	if (!ids || n <= 0)
		return SPLITMOE_ERR_INVALID;
	if (out)
		po = (struct phimoe_prefill_out){
			.logits = out->logits,
			.router_logits = out->router_logits,
			.experts = out->experts,
			.expert_weights = out->expert_weights,
		};
	rc = phimoe_prefill(s->s, ids, n, &po);
	if (rc)
		snprintf(s->err, sizeof(s->err), "%s", phimoe_session_error(s->s));
	return sm_api_status(rc);
}

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

const char *splitmoe_session_weights(const splitmoe_session *s)
{
	static const enum sm_weights_layout layouts[] = { SM_WEIGHTS_AUTO, SM_WEIGHTS_PACKED,
							  SM_WEIGHTS_MAPPED };
	const struct phimoe_model *m = &s->model->m;
	uint64_t packed = 0, mapped = 0;

	if (s->params.quant == SPLITMOE_QUANT_INT8)
		return "int8";	/* the CPU's own copy */
	if (s->params.quant == SPLITMOE_QUANT_Q4)
		return "q4";
	if (m->cfg.quant != PHIMOE_QUANT_NONE)
		return phimoe_quant_name(m->cfg.quant);	/* a quantized file's, in place */
	if (s->dev_open && s->dev.cpu) {
		packed = s->dev.cpu->packed_bytes;
		mapped = s->dev.cpu->mapped_bytes;
	} else if (!s->dev_open) {
		struct phimoe_session_stats st;

		phimoe_session_get_stats(s->s, &st);
		packed = st.packed_weight_bytes;
		mapped = st.mapped_weight_bytes;
	}
	if (mapped && packed)
		return "mixed";
	if (mapped)
		return "mapped";
	if (packed)
		return "packed";
	return sm_weights_layout_name(layouts[(unsigned)s->params.weights <= SPLITMOE_WEIGHTS_MAPPED ?
					      s->params.weights : 0]);
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
	s->params = splitmoe_session_default_params();
	*out = s;
	return SPLITMOE_OK;
}
