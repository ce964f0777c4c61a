// SPDX-License-Identifier: MIT
/* sm_arbiter_open(): picks the backend (auto: kernel if the device exists). */
#include "arbiter/arbiter_impl.h"
#include "arbiter/bwarb_client.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int sm_arbiter_open(const struct sm_arbiter_opts *o, struct sm_arbiter **out,
		    char *err, size_t errlen)
{
	const char *path = o->dev_path ? o->dev_path : BWARB_DEFAULT_PATH;

	switch (o->kind) {
	case SM_ARB_AUTO:
		if (access(path, F_OK) == 0)
			return sm_arbiter_open_kernel(o, out, err, errlen);
		return sm_arbiter_open_process(o, out, err, errlen);
	case SM_ARB_KERNEL:
		return sm_arbiter_open_kernel(o, out, err, errlen);
	case SM_ARB_PROCESS:
		return sm_arbiter_open_process(o, out, err, errlen);
	case SM_ARB_OFF:
		return sm_arbiter_open_off(o, out, err, errlen);
	}
	snprintf(err, errlen, "arbiter: unknown backend %d", (int)o->kind);
	return -EINVAL;
}
