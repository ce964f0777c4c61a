/* SPDX-License-Identifier: MIT */
/*
 * DRM devices through libdrm (drmGetDevices2): kernel driver, PCI ids and
 * address, render node; and the DRM node of a Level Zero device, matched
 * by PCI address.
 */
#ifndef SPLITMOE_DRM_DEVICES_H
#define SPLITMOE_DRM_DEVICES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct sm_drm_device {
	char driver[64];		/* e.g. "i915", "xe"; "" when unreadable */
	char render_node[64];		/* e.g. "/dev/dri/renderD128"; "" if none */
	char primary_node[64];		/* e.g. "/dev/dri/card0"; "" if none */
	bool is_pci;
	uint16_t vendor_id, device_id;
	uint16_t pci_domain;
	uint8_t pci_bus, pci_dev, pci_func;
};

/* Fills up to max devices; returns how many there are (0: none, also when
 * /dev/dri does not exist). */
int sm_drm_list(struct sm_drm_device *out, int max);

/* Index in devs of the device at that PCI address, or -1. */
int sm_drm_find_pci(const struct sm_drm_device *devs, int n, uint32_t domain, uint32_t bus,
		    uint32_t dev, uint32_t func);

/* `splitmoe info`'s GPU section: the Level Zero devices, the DRM devices,
 * and which DRM node each Level Zero device is. */
void sm_gpu_info_print(FILE *out);

#endif /* SPLITMOE_DRM_DEVICES_H */
