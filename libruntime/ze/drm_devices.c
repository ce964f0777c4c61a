// SPDX-License-Identifier: MIT
/*
 * DRM device listing with libdrm, and the GPU section of `splitmoe info`.
 * See drm_devices.h.
 */
#include "ze/drm_devices.h"
#include "ze/ze_list.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <xf86drm.h>

#define SM_DRM_MAX 16

static void node_name(const drmDevicePtr d, int node, char *out, size_t len)
{
	out[0] = '\0';
	if (d->available_nodes & (1 << node))
		snprintf(out, len, "%s", d->nodes[node]);
}

/* The kernel driver's name, asked through whichever node opens. */
static void driver_name(const struct sm_drm_device *d, char *out, size_t len)
{
	const char *nodes[2] = { d->render_node, d->primary_node };

	out[0] = '\0';
	for (int i = 0; i < 2 && !out[0]; i++) {
		int fd;
		drmVersionPtr v;

		if (!nodes[i][0])
			continue;
		fd = open(nodes[i], O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		v = drmGetVersion(fd);
		if (v) {
			snprintf(out, len, "%.*s", v->name_len, v->name);
			drmFreeVersion(v);
		}
		close(fd);
	}
}

int sm_drm_list(struct sm_drm_device *out, int max)
{
	drmDevicePtr devs[SM_DRM_MAX];
	int n = drmGetDevices2(0, devs, SM_DRM_MAX);

	if (n <= 0)
		return 0;
	for (int i = 0; i < n && i < max; i++) {
		struct sm_drm_device *o = &out[i];

		memset(o, 0, sizeof(*o));
		node_name(devs[i], DRM_NODE_RENDER, o->render_node, sizeof(o->render_node));
		node_name(devs[i], DRM_NODE_PRIMARY, o->primary_node, sizeof(o->primary_node));
		if (devs[i]->bustype == DRM_BUS_PCI) {
			o->is_pci = true;
			o->vendor_id = devs[i]->deviceinfo.pci->vendor_id;
			o->device_id = devs[i]->deviceinfo.pci->device_id;
			o->pci_domain = devs[i]->businfo.pci->domain;
			o->pci_bus = devs[i]->businfo.pci->bus;
			o->pci_dev = devs[i]->businfo.pci->dev;
			o->pci_func = devs[i]->businfo.pci->func;
		}
		driver_name(o, o->driver, sizeof(o->driver));
	}
	drmFreeDevices(devs, n);
	return n;
}

int sm_drm_find_pci(const struct sm_drm_device *devs, int n, uint32_t domain, uint32_t bus,
		    uint32_t dev, uint32_t func)
{
	for (int i = 0; i < n; i++)
		if (devs[i].is_pci && devs[i].pci_domain == domain && devs[i].pci_bus == bus &&
		    devs[i].pci_dev == dev && devs[i].pci_func == func)
			return i;
	return -1;
}

void sm_gpu_info_print(FILE *out)
{
	struct sm_drm_device drm[SM_DRM_MAX];
	struct sm_ze_device_info ze[8];
	char err[256] = "";
	int nd = sm_drm_list(drm, SM_DRM_MAX);
	int nz = sm_ze_list_devices(ze, 8, err, sizeof(err));

	if (nd > SM_DRM_MAX)
		nd = SM_DRM_MAX;
	fprintf(out, "DRM devices: %d\n", nd);
	for (int i = 0; i < nd; i++) {
		const struct sm_drm_device *d = &drm[i];

		if (d->is_pci)
			fprintf(out, "  %04x:%02x:%02x.%x  %04x:%04x  driver %s  render %s\n",
				d->pci_domain, d->pci_bus, d->pci_dev, d->pci_func, d->vendor_id,
				d->device_id, d->driver[0] ? d->driver : "?",
				d->render_node[0] ? d->render_node : "none");
		else
			fprintf(out, "  (not PCI)  driver %s  render %s\n",
				d->driver[0] ? d->driver : "?",
				d->render_node[0] ? d->render_node : "none");
	}
	if (nz < 0) {
		fprintf(out, "Level Zero: %s\n", err);
		return;
	}
	fprintf(out, "Level Zero devices: %d%s\n", nz, nz ? "" : " (no driver or no GPU)");
	for (int i = 0; i < nz && i < 8; i++) {
		int k = ze[i].has_pci ? sm_drm_find_pci(drm, nd, ze[i].pci_domain, ze[i].pci_bus,
							 ze[i].pci_dev, ze[i].pci_func) : -1;

		fprintf(out, "  %s%s\n", ze[i].name, ze[i].integrated ? " (integrated)" : "");
		if (!ze[i].has_pci)
			fprintf(out, "    DRM node: none (not a PCI device)\n");
		else if (k < 0)
			fprintf(out, "    DRM node: none at %04x:%02x:%02x.%x\n", ze[i].pci_domain,
				ze[i].pci_bus, ze[i].pci_dev, ze[i].pci_func);
		else
			fprintf(out, "    DRM node: %s (%s, %04x:%02x:%02x.%x)\n",
				drm[k].render_node[0] ? drm[k].render_node : drm[k].primary_node,
				drm[k].driver[0] ? drm[k].driver : "?", ze[i].pci_domain,
				ze[i].pci_bus, ze[i].pci_dev, ze[i].pci_func);
	}
}
