// SPDX-License-Identifier: MIT
/*
 * include/splitmoe.h's arbiter clients and calibration over libruntime's
 * arbiter (arbiter/arbiter.h) and bwcal (arbiter/bwcal.h). The handles are
 * the runtime's own objects under the public names (never defined as
 * structs here): a session's client is then handed out without a copy,
 * and a session created on a splitmoe_arb gates on the very same arbiter.
 */
#include "splitmoe.h"
#include "api_arbiter.h"

#include "arbiter/arbiter.h"
#include "arbiter/bwcal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define BWCAL_DEFAULT_RUNS 3

struct sm_arbiter *sm_api_arb(splitmoe_arb *a)
{
	return (struct sm_arbiter *)a;
}

const splitmoe_arb_client *sm_api_client(const struct sm_arb_client *c)
{
	return (const splitmoe_arb_client *)c;
}

static struct sm_arb_client *client(splitmoe_arb_client *c)
{
	return (struct sm_arb_client *)c;
}

static const struct sm_arb_client *cclient(const splitmoe_arb_client *c)
{
	return (const struct sm_arb_client *)c;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
}

/* The arbiter's negative errno values as statuses. */
static splitmoe_status arb_status(int rc)
{
	switch (rc) {
	case 0:
		return SPLITMOE_OK;
	case -EINVAL:
		return SPLITMOE_ERR_INVALID;
	case -ENOMEM:
		return SPLITMOE_ERR_NOMEM;
	case -ETIMEDOUT:
		return SPLITMOE_ERR_TIMEOUT;
	case -EINTR:
		return SPLITMOE_ERR_INTERRUPTED;
	case -ENOSYS:
		return SPLITMOE_ERR_UNSUPPORTED;
	default:
		return SPLITMOE_ERR_ARBITER;
	}
}

/* ---- the arbiter ---- */

struct splitmoe_arb_params splitmoe_arb_default_params(void)
{
	return (struct splitmoe_arb_params){ .kind = SPLITMOE_ARBITER_AUTO };
}

splitmoe_status splitmoe_arb_open(const struct splitmoe_arb_params *p, splitmoe_arb **out,
				  char *err, size_t errlen)
{
	static const enum sm_arbiter_kind kinds[] = { SM_ARB_AUTO, SM_ARB_KERNEL, SM_ARB_PROCESS,
						      SM_ARB_OFF };
	struct splitmoe_arb_params def = splitmoe_arb_default_params();
	struct sm_arbiter_opts o;
	struct sm_arbiter *a;
	char e[256] = "";
	int rc;

	if (!out) {
		set_err(err, errlen, "splitmoe_arb_open: no handle to fill");
		return SPLITMOE_ERR_INVALID;
	}
	*out = NULL;
	if (!p)
		p = &def;
	if ((unsigned)p->kind > SPLITMOE_ARBITER_OFF ||
	    (p->guaranteed_mbps && p->capacity_mbps && p->guaranteed_mbps > p->capacity_mbps)) {
		set_err(err, errlen,
			"splitmoe_arb_open: kind out of range, or guaranteed_mbps above capacity_mbps");
		return SPLITMOE_ERR_INVALID;
	}
	o = (struct sm_arbiter_opts){
		.kind = kinds[p->kind],
		.dev_path = p->dev,
		.period_ns = p->period_ns,
		.capacity_mbps = p->capacity_mbps,
		.guaranteed_mbps = p->guaranteed_mbps,
		.max_clients = p->max_clients,
	};
	rc = sm_arbiter_open(&o, &a, e, sizeof(e));
	if (rc) {
		set_err(err, errlen, e);
		return arb_status(rc);
	}
	*out = (splitmoe_arb *)a;
	return SPLITMOE_OK;
}

void splitmoe_arb_free(splitmoe_arb *a)
{
	sm_arbiter_close(sm_api_arb(a));
}

splitmoe_arbiter splitmoe_arb_kind(const splitmoe_arb *a)
{
	switch (sm_arbiter_get_kind((const struct sm_arbiter *)a)) {
	case SM_ARB_KERNEL:
		return SPLITMOE_ARBITER_KERNEL;
	case SM_ARB_PROCESS:
		return SPLITMOE_ARBITER_PROCESS;
	case SM_ARB_OFF:
	case SM_ARB_AUTO:
		break;
	}
	return SPLITMOE_ARBITER_OFF;
}

/* ---- clients ---- */

struct splitmoe_arb_client_params splitmoe_arb_client_default_params(void)
{
	return (struct splitmoe_arb_client_params){ .cls = SPLITMOE_ARB_CLASS_OTHER, .weight = 100 };
}

splitmoe_status splitmoe_arb_client_open(splitmoe_arb *a,
					 const struct splitmoe_arb_client_params *p,
					 splitmoe_arb_client **out, char *err, size_t errlen)
{
	static const uint32_t classes[] = { SM_ARB_CLASS_CPU, SM_ARB_CLASS_GPU, SM_ARB_CLASS_OTHER };
	struct splitmoe_arb_client_params def = splitmoe_arb_client_default_params();
	struct sm_arb_client_opts o;
	struct sm_arb_client *c;
	char e[256] = "";
	int rc;

	if (!a || !out) {
		set_err(err, errlen, "splitmoe_arb_client_open: no arbiter or no handle to fill");
		return SPLITMOE_ERR_INVALID;
	}
	*out = NULL;
	if (!p)
		p = &def;
	if ((unsigned)p->cls > SPLITMOE_ARB_CLASS_OTHER) {
		set_err(err, errlen, "splitmoe_arb_client_open: class out of range");
		return SPLITMOE_ERR_INVALID;
	}
	o = (struct sm_arb_client_opts){
		.name = p->name,
		.class = classes[p->cls],
		.weight = p->weight,
		.reserve_mbps = p->reserve_mbps,
		.burst_bytes = p->burst_bytes,
	};
	rc = sm_arb_client_open(sm_api_arb(a), &o, &c, e, sizeof(e));
	if (rc) {
		set_err(err, errlen, e);
		return arb_status(rc);
	}
	*out = (splitmoe_arb_client *)c;
	return SPLITMOE_OK;
}

void splitmoe_arb_client_free(splitmoe_arb_client *c)
{
	sm_arb_client_close(client(c));
}

splitmoe_status splitmoe_arb_acquire(splitmoe_arb_client *c, uint64_t bytes, uint64_t timeout_ns,
				     uint64_t *grant)
{
	if (!c || !grant)
		return SPLITMOE_ERR_INVALID;
	return arb_status(sm_arb_acquire(client(c), bytes, timeout_ns, grant));
}

splitmoe_status splitmoe_arb_complete(splitmoe_arb_client *c, uint64_t grant, uint64_t actual)
{
	if (!c)
		return SPLITMOE_ERR_INVALID;
	return arb_status(sm_arb_complete(client(c), grant, actual));
}

void splitmoe_arb_client_stats(const splitmoe_arb_client *c, struct splitmoe_arb_client_stats *st)
{
	struct sm_arb_client_stats s;

	sm_arb_client_get_stats(cclient(c), &s);
	*st = (struct splitmoe_arb_client_stats){
		.acquires = s.acquires,
		.completes = s.completes,
		.granted_bytes = s.granted_bytes,
		.completed_bytes = s.completed_bytes,
		.waits = s.waits,
		.wait_ns = s.wait_ns,
		.max_wait_ns = s.max_wait_ns,
	};
}

uint64_t splitmoe_arb_client_wait_quantile(const splitmoe_arb_client *c, double q)
{
	struct sm_arb_client_stats s;

	sm_arb_client_get_stats(cclient(c), &s);
	return sm_arb_wait_quantile(&s, q);
}

/* ---- calibration ---- */

struct splitmoe_bwcal_params splitmoe_bwcal_default_params(void)
{
	return (struct splitmoe_bwcal_params){ .in_child = true };
}

uint64_t splitmoe_bwcal_default_bytes(void)
{
	return sm_membw_default_bytes();
}

splitmoe_status splitmoe_bwcal_measure(const struct splitmoe_bwcal_params *p,
				       struct splitmoe_bwcal *out, char *err, size_t errlen)
{
	struct splitmoe_bwcal_params def = splitmoe_bwcal_default_params();
	struct sm_bwcal cal;
	char e[256] = "";
	uint64_t bytes;
	int runs, rc;

	if (!out) {
		set_err(err, errlen, "splitmoe_bwcal_measure: no result to fill");
		return SPLITMOE_ERR_INVALID;
	}
	if (!p)
		p = &def;
	if (p->runs < 0) {
		set_err(err, errlen, "splitmoe_bwcal_measure: runs below 0");
		return SPLITMOE_ERR_INVALID;
	}
	bytes = p->bytes ? p->bytes : sm_membw_default_bytes();
	runs = p->runs ? p->runs : BWCAL_DEFAULT_RUNS;
	if (p->in_child) {
		rc = sm_bwcal_measure_child(bytes, runs, &cal, e, sizeof(e));
	} else {
		rc = sm_bwcal_measure(bytes, runs, &cal);
		if (rc)
			snprintf(e, sizeof(e), "calibration: cannot allocate the %.2f GB buffer",
				 bytes / 1e9);
	}
	if (rc) {
		set_err(err, errlen, e);
		return SPLITMOE_ERR_NOMEM;
	}
	*out = (struct splitmoe_bwcal){
		.threads = cal.all.threads,
		.read_gbs = cal.all.read_gbs,
		.copy_gbs = cal.all.copy_gbs,
		.others = cal.others,
		.rmin_gbs = cal.rmin_gbs,
		.solo_gbs = cal.solo_gbs,
		.contended_total_gbs = cal.contended_total_gbs,
		.capacity_mbps = cal.capacity_mbps,
		.guaranteed_mbps = cal.guaranteed_mbps,
	};
	return SPLITMOE_OK;
}
