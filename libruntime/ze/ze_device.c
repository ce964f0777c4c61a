// SPDX-License-Identifier: MIT
/*
 * Level Zero driver/device discovery, context and command list, SPIR-V
 * modules. See ze_device.h.
 */
#include "ze/ze_device.h"
#include "ze/ze_list.h"

#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *ze_result_name(ze_result_t r)
{
	switch (r) {
	case ZE_RESULT_SUCCESS: return "success";
	case ZE_RESULT_NOT_READY: return "not ready";
	case ZE_RESULT_ERROR_DEVICE_LOST: return "device lost";
	case ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY: return "out of host memory";
	case ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY: return "out of device memory";
	case ZE_RESULT_ERROR_MODULE_BUILD_FAILURE: return "module build failure";
	case ZE_RESULT_ERROR_UNINITIALIZED: return "uninitialized (no driver)";
	case ZE_RESULT_ERROR_UNSUPPORTED_FEATURE: return "unsupported feature";
	case ZE_RESULT_ERROR_INVALID_ARGUMENT: return "invalid argument";
	case ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_SIZE: return "invalid kernel argument size";
	case ZE_RESULT_ERROR_INVALID_KERNEL_ARGUMENT_INDEX: return "invalid kernel argument index";
	case ZE_RESULT_ERROR_INVALID_GROUP_SIZE_DIMENSION: return "invalid group size";
	default: return "error";
	}
}

/* Every device of every driver, in order; calls fn until it returns true. */
static int for_each_device(bool (*fn)(ze_driver_handle_t, ze_device_handle_t,
				      const ze_device_properties_t *, void *),
			   void *arg, char *err, size_t errlen)
{
	uint32_t nd = 0;
	ze_driver_handle_t drivers[8];
	ze_result_t r = zeInit(ZE_INIT_FLAG_GPU_ONLY);

	if (r != ZE_RESULT_SUCCESS) {
		snprintf(err, errlen, "Level Zero: no driver (zeInit: %s)", ze_result_name(r));
		return -ENODEV;
	}
	r = zeDriverGet(&nd, NULL);
	if (r != ZE_RESULT_SUCCESS || nd == 0) {
		snprintf(err, errlen, "Level Zero: no driver");
		return -ENODEV;
	}
	if (nd > 8)
		nd = 8;
	r = zeDriverGet(&nd, drivers);
	if (r != ZE_RESULT_SUCCESS) {
		snprintf(err, errlen, "Level Zero: zeDriverGet: %s", ze_result_name(r));
		return -ENODEV;
	}
	for (uint32_t i = 0; i < nd; i++) {
		uint32_t n = 0;
		ze_device_handle_t devs[16];

		if (zeDeviceGet(drivers[i], &n, NULL) != ZE_RESULT_SUCCESS)
			continue;
		if (n > 16)
			n = 16;
		if (zeDeviceGet(drivers[i], &n, devs) != ZE_RESULT_SUCCESS)
			continue;
		for (uint32_t j = 0; j < n; j++) {
			ze_device_properties_t p = { .stype = ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES };

			if (zeDeviceGetProperties(devs[j], &p) != ZE_RESULT_SUCCESS)
				continue;
			if (fn(drivers[i], devs[j], &p, arg))
				return 0;
		}
	}
	return 0;
}

struct pick {
	const char *want;
	bool integrated_only;
	ze_driver_handle_t driver;
	ze_device_handle_t device;
	char name[256];
};

static bool pick_fn(ze_driver_handle_t drv, ze_device_handle_t dev,
		    const ze_device_properties_t *p, void *arg)
{
	struct pick *k = arg;

	if (p->type != ZE_DEVICE_TYPE_GPU)
		return false;
	if (k->want && *k->want && !strstr(p->name, k->want))
		return false;
	if (k->integrated_only && !(p->flags & ZE_DEVICE_PROPERTY_FLAG_INTEGRATED))
		return false;
	k->driver = drv;
	k->device = dev;
	snprintf(k->name, sizeof(k->name), "%s", p->name);
	return true;
}

int ze_dev_open(struct ze_dev *d, const char *want, char *err, size_t errlen)
{
	struct pick k = { .want = want, .integrated_only = !(want && *want) };
	ze_context_desc_t cd = { ZE_STRUCTURE_TYPE_CONTEXT_DESC, NULL, 0 };
	ze_command_queue_desc_t qd = {
		ZE_STRUCTURE_TYPE_COMMAND_QUEUE_DESC, NULL, 0, 0, 0,
		ZE_COMMAND_QUEUE_MODE_ASYNCHRONOUS, ZE_COMMAND_QUEUE_PRIORITY_NORMAL,
	};
	ze_result_t r;
	int rc;

	memset(d, 0, sizeof(*d));
	rc = for_each_device(pick_fn, &k, err, errlen);
	if (rc)
		return rc;
	if (!k.device && k.integrated_only) {
		k.integrated_only = false;	/* no iGPU: any GPU will do */
		rc = for_each_device(pick_fn, &k, err, errlen);
		if (rc)
			return rc;
	}
	if (!k.device) {
		if (want && *want)
			snprintf(err, errlen, "Level Zero: no GPU named like '%s'", want);
		else
			snprintf(err, errlen, "Level Zero: no GPU device");
		return -ENODEV;
	}
	d->driver = k.driver;
	d->device = k.device;
	snprintf(d->name, sizeof(d->name), "%s", k.name);
	r = zeContextCreate(d->driver, &cd, &d->ctx);
	if (r == ZE_RESULT_SUCCESS)
		r = zeCommandListCreateImmediate(d->ctx, d->device, &qd, &d->list);
	if (r != ZE_RESULT_SUCCESS) {
		snprintf(err, errlen, "Level Zero: %s: cannot create a context and command list: %s",
			 d->name, ze_result_name(r));
		ze_dev_close(d);
		return -ENODEV;
	}
	return 0;
}

void ze_dev_close(struct ze_dev *d)
{
	if (d->list)
		zeCommandListDestroy(d->list);
	if (d->ctx)
		zeContextDestroy(d->ctx);
	d->list = NULL;
	d->ctx = NULL;
}

static bool has_modules(const char *dir)
{
	char path[4200];
	struct stat st;

	snprintf(path, sizeof(path), "%.4000s/matmul.spv", dir);
	return stat(path, &st) == 0;
}

int ze_dev_find_kernels(struct ze_dev *d, const char *explicit_dir, char *err, size_t errlen)
{
	const char *env = getenv("SPLITMOE_KERNEL_DIR");
	char exe[4096], cand[4200];
	ssize_t n;

	if (explicit_dir && *explicit_dir) {
		if (!has_modules(explicit_dir)) {
			snprintf(err, errlen, "%s: no kernel modules (matmul.spv) there", explicit_dir);
			return -ENOENT;
		}
		snprintf(d->kernel_dir, sizeof(d->kernel_dir), "%s", explicit_dir);
		return 0;
	}
	if (env && *env) {
		if (!has_modules(env)) {
			snprintf(err, errlen, "SPLITMOE_KERNEL_DIR=%s: no kernel modules (matmul.spv) there",
				 env);
			return -ENOENT;
		}
		snprintf(d->kernel_dir, sizeof(d->kernel_dir), "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		static const char *const rel[] = { "kernels", "../kernels", "../build/kernels" };
		char *dir;

		exe[n] = '\0';
		dir = dirname(exe);
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			snprintf(cand, sizeof(cand), "%.4000s/%s", dir, rel[i]);
			if (has_modules(cand)) {
				snprintf(d->kernel_dir, sizeof(d->kernel_dir), "%.4000s", cand);
				return 0;
			}
		}
	}
#ifdef SM_INSTALLED_KERNEL_DIR
	/* Where the packages install them (libruntime/build.mk). */
	if (has_modules(SM_INSTALLED_KERNEL_DIR)) {
		snprintf(d->kernel_dir, sizeof(d->kernel_dir), "%s", SM_INSTALLED_KERNEL_DIR);
		return 0;
	}
#endif
	snprintf(err, errlen, "kernel modules (build/kernels/*.spv) not found: set SPLITMOE_KERNEL_DIR");
	return -ENOENT;
}

int ze_dev_module(struct ze_dev *d, const char *name, ze_module_handle_t *out,
		  char *err, size_t errlen)
{
	char path[4300];
	FILE *f;
	long n;
	unsigned char *buf = NULL;
	ze_module_desc_t md = { ZE_STRUCTURE_TYPE_MODULE_DESC, NULL, ZE_MODULE_FORMAT_IL_SPIRV,
				0, NULL, "", NULL };
	ze_module_build_log_handle_t log = NULL;
	ze_result_t r;
	int rc = 0;

	*out = NULL;
	snprintf(path, sizeof(path), "%s/%s.spv", d->kernel_dir, name);
	f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -ENOENT;
	}
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) ||
	    !(buf = malloc((size_t)n)) || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		snprintf(err, errlen, "%s: cannot read", path);
		fclose(f);
		free(buf);
		return -EIO;
	}
	fclose(f);
	md.inputSize = (size_t)n;
	md.pInputModule = buf;
	r = zeModuleCreate(d->ctx, d->device, &md, out, &log);
	if (r != ZE_RESULT_SUCCESS) {
		size_t ls = 0;
		char *text = NULL;

		if (log && zeModuleBuildLogGetString(log, &ls, NULL) == ZE_RESULT_SUCCESS &&
		    (text = calloc(1, ls + 1)) &&
		    zeModuleBuildLogGetString(log, &ls, text) == ZE_RESULT_SUCCESS) {
			/* one line: the log's lines joined */
			for (char *p = text; *p; p++)
				if (*p == '\n')
					*p = ' ';
		}
		snprintf(err, errlen, "%s: kernel build failed (%s): %.300s", path,
			 ze_result_name(r), text ? text : "(no build log)");
		free(text);
		*out = NULL;
		rc = -EIO;
	}
	if (log)
		zeModuleBuildLogDestroy(log);
	free(buf);
	return rc;
}

struct list_ctx {
	struct sm_ze_device_info *out;
	int max, n;
};

static bool list_fn(ze_driver_handle_t drv, ze_device_handle_t dev,
		    const ze_device_properties_t *p, void *arg)
{
	struct list_ctx *l = arg;
	ze_pci_ext_properties_t pci = { .stype = ZE_STRUCTURE_TYPE_PCI_EXT_PROPERTIES };

	(void)drv;
	if (l->n < l->max) {
		struct sm_ze_device_info *i = &l->out[l->n];

		memset(i, 0, sizeof(*i));
		snprintf(i->name, sizeof(i->name), "%s", p->name);
		i->integrated = p->flags & ZE_DEVICE_PROPERTY_FLAG_INTEGRATED;
		i->vendor_id = p->vendorId;
		i->device_id = p->deviceId;
		if (zeDevicePciGetPropertiesExt(dev, &pci) == ZE_RESULT_SUCCESS) {
			i->has_pci = true;
			i->pci_domain = pci.address.domain;
			i->pci_bus = pci.address.bus;
			i->pci_dev = pci.address.device;
			i->pci_func = pci.address.function;
		}
	}
	l->n++;
	return false;
}

int sm_ze_list_devices(struct sm_ze_device_info *out, int max, char *err, size_t errlen)
{
	struct list_ctx l = { out, max, 0 };
	int rc = for_each_device(list_fn, &l, err, errlen);

	if (rc == -ENODEV)
		return 0;	/* no driver: no devices */
	return rc ? rc : l.n;
}
