// SPDX-License-Identifier: MIT
/*
 * The machine as the engine sees it: CPU features and the kernels chosen,
 * GPU devices, the arbiter, memory use; and the chat format's text.
 */
#include "api_internal.h"

#include "cpu/cpu_features.h"
#include "cpu/cpu_isa.h"
#include "cpu/cpu_qgemm.h"
#include "model/chat_format.h"
#include "util/memstat.h"
#include "ze/drm_devices.h"

#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *dnnl_isa_name(dnnl_cpu_isa_t isa)
{
	switch ((int)isa) {
	case dnnl_cpu_isa_sse41: return "sse41";
	case dnnl_cpu_isa_avx: return "avx";
	case dnnl_cpu_isa_avx2: return "avx2";
	case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
	case dnnl_cpu_isa_avx512_core: return "avx512_core";
	case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
	case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
	case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
	case dnnl_cpu_isa_all: return "all";
	}
	return "other";
}

void splitmoe_cpu_info(struct splitmoe_cpu_info *out)
{
	const dnnl_version_t *v = dnnl_version();
	struct sm_cpu_features f;

	sm_cpu_features_get(&f);
	memset(out, 0, sizeof(*out));
	snprintf(out->vendor, sizeof(out->vendor), "%s", f.vendor);
	snprintf(out->brand, sizeof(out->brand), "%s", f.brand);
	out->avx2 = f.avx2, out->fma = f.fma, out->avx512f = f.avx512f;
	out->avx512bw = f.avx512bw, out->avx512vl = f.avx512vl, out->avx512_vnni = f.avx512_vnni;
	out->avx512_bf16 = f.avx512_bf16, out->avx_vnni = f.avx_vnni, out->amx_tile = f.amx_tile;
	out->amx_bf16 = f.amx_bf16, out->amx_int8 = f.amx_int8;
	out->onednn_major = v->major;
	out->onednn_minor = v->minor;
	out->onednn_patch = v->patch;
	out->onednn_hash = v->hash ? v->hash : "?";
	out->onednn_isa = dnnl_isa_name(dnnl_get_effective_cpu_isa());
	out->kernels = sm_isa_name(sm_isa_active());
	out->kernels_forced = sm_isa_forced() || !sm_isa_vnni();
	out->int8_kernel = sm_qgemm_kernels_name();
	out->quant_default = sm_api_quant_of(sm_quant_default(PHIMOE_DTYPE_BF16));
}

long splitmoe_gpu_describe(char *buf, size_t cap)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return -1;
	sm_gpu_info_print(f);
	if (fclose(f)) {
		free(text);
		return -1;
	}
	return sm_api_text_out(text, buf, cap);
}

splitmoe_status splitmoe_arbiter_probe(splitmoe_arbiter kind, const char *dev,
				       splitmoe_arbiter *in_use, char *err, size_t errlen)
{
	struct sm_arbiter_opts ao = { .kind = sm_api_arbiter(kind), .dev_path = dev };
	struct sm_arbiter *a;

	if ((unsigned)kind > SPLITMOE_ARBITER_OFF || !in_use) {
		if (err && errlen)
			snprintf(err, errlen, "splitmoe_arbiter_probe: no such arbiter kind");
		return SPLITMOE_ERR_INVALID;
	}
	if (sm_arbiter_open(&ao, &a, err, errlen))
		return SPLITMOE_ERR_ARBITER;
	*in_use = sm_api_arbiter_of(sm_arbiter_get_kind(a));
	sm_arbiter_close(a);
	return SPLITMOE_OK;
}

splitmoe_status splitmoe_memory_usage(struct splitmoe_memory *out)
{
	struct sm_memstat m;

	if (!out || sm_memstat_read(&m))
		return SPLITMOE_ERR_UNSUPPORTED;
	*out = (struct splitmoe_memory){
		.rss = m.rss_bytes, .rss_file = m.rss_file_bytes, .rss_anon = m.rss_anon_bytes,
		.peak = m.hwm_bytes,
	};
	return SPLITMOE_OK;
}

splitmoe_status splitmoe_chat_role_parse(const char *name, splitmoe_chat_role *role)
{
	enum phimoe_chat_role r;

	if (!name || !role || phimoe_chat_role_parse(name, &r))
		return SPLITMOE_ERR_INVALID;
	*role = r == PHIMOE_ROLE_SYSTEM ? SPLITMOE_ROLE_SYSTEM :
		r == PHIMOE_ROLE_USER ? SPLITMOE_ROLE_USER : SPLITMOE_ROLE_ASSISTANT;
	return SPLITMOE_OK;
}

long splitmoe_chat_render(const struct splitmoe_chat_msg *msgs, int n,
			  bool add_generation_prompt, char *buf, size_t cap)
{
	static const enum phimoe_chat_role roles[] = { PHIMOE_ROLE_SYSTEM, PHIMOE_ROLE_USER,
						       PHIMOE_ROLE_ASSISTANT };
	struct phimoe_chat_msg *m;
	char *text;

	if (n < 0 || (n && !msgs))
		return -1;
	m = calloc(n ? (size_t)n : 1, sizeof(*m));
	if (!m)
		return -1;
	for (int i = 0; i < n; i++) {
		if ((unsigned)msgs[i].role > SPLITMOE_ROLE_ASSISTANT || !msgs[i].content) {
			free(m);
			return -1;
		}
		m[i] = (struct phimoe_chat_msg){ roles[msgs[i].role], msgs[i].content };
	}
	text = phimoe_chat_render(m, n, add_generation_prompt);
	free(m);
	if (!text)
		return -1;
	return sm_api_text_out(text, buf, cap);
}

bool splitmoe_utf8_valid(const char *s, size_t len, size_t *used)
{
	size_t bad = 0;
	bool ok = phimoe_utf8_valid(s, len, &bad);

	if (used)
		*used = ok ? len : bad;
	return ok;
}
