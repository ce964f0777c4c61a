/* SPDX-License-Identifier: MIT */
/*
 * The Level Zero devices the loader sees (ze_device.c), apart from the
 * backend so that device discovery and the DRM listing do not depend on
 * the backend's header.
 */
#ifndef SPLITMOE_ZE_LIST_H
#define SPLITMOE_ZE_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One Level Zero device, for `splitmoe info`. */
struct sm_ze_device_info {
	char name[256];
	bool integrated;
	uint32_t vendor_id, device_id;
	bool has_pci;			/* PCI address known (zeDevicePciGetPropertiesExt) */
	uint32_t pci_domain, pci_bus, pci_dev, pci_func;
};

/* Fills up to max devices; returns how many there are (0 when no driver),
 * or a negative errno with one line in err. */
int sm_ze_list_devices(struct sm_ze_device_info *out, int max, char *err, size_t errlen);

#endif /* SPLITMOE_ZE_LIST_H */
