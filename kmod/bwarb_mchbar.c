// SPDX-License-Identifier: GPL-2.0
/*
 * MMIO access to the client chips' free-running memory-controller
 * counters behind MCHBAR; the layout is in mchbar_layout.c. Only chips
 * known to have this layout are accepted. UNTESTED ON HARDWARE.
 */
#include <linux/io.h>
#include <linux/pci.h>
#include <asm/cpu_device_id.h>
#include <asm/intel-family.h>

#include "bwarb_mchbar.h"

static const struct x86_cpu_id bwarb_mchbar_cpus[] = {
	X86_MATCH_INTEL_FAM6_MODEL(ALDERLAKE, NULL),
	X86_MATCH_INTEL_FAM6_MODEL(ALDERLAKE_L, NULL),
	X86_MATCH_INTEL_FAM6_MODEL(RAPTORLAKE, NULL),
	X86_MATCH_INTEL_FAM6_MODEL(RAPTORLAKE_P, NULL),
	X86_MATCH_INTEL_FAM6_MODEL(RAPTORLAKE_S, NULL),
	X86_MATCH_INTEL_FAM6_MODEL(METEORLAKE, NULL),
	X86_MATCH_INTEL_FAM6_MODEL(METEORLAKE_L, NULL),
	{}
};

int bwarb_mchbar_open(struct bwarb_mchbar *m)
{
	struct pci_dev *host;
	u32 lo = 0, hi = 0;
	unsigned int i;
	u64 base;
	int ret;

	if (!x86_match_cpu(bwarb_mchbar_cpus))
		return -ENODEV;
	host = pci_get_domain_bus_and_slot(0, 0, PCI_DEVFN(0, 0));
	if (!host)
		return -ENODEV;
	if (host->vendor != PCI_VENDOR_ID_INTEL) {
		pci_dev_put(host);
		return -ENODEV;
	}
	pci_read_config_dword(host, MCHBAR_PCI_REG, &lo);
	pci_read_config_dword(host, MCHBAR_PCI_REG + 4, &hi);
	pci_dev_put(host);
	ret = mchbar_decode_base(lo, hi, &base);
	if (ret)
		return ret;

	for (i = 0; i < MCHBAR_NR_IMC; i++) {
		m->io[i] = ioremap(mchbar_imc_phys(base, i), MCHBAR_MAP_SIZE);
		if (!m->io[i]) {
			bwarb_mchbar_close(m);
			return -ENOMEM;
		}
	}
	return 0;
}

void bwarb_mchbar_close(struct bwarb_mchbar *m)
{
	unsigned int i;

	for (i = 0; i < MCHBAR_NR_IMC; i++) {
		if (m->io[i])
			iounmap(m->io[i]);
		m->io[i] = NULL;
	}
}

void bwarb_mchbar_read(const struct bwarb_mchbar *m,
		       u64 lines[MCHBAR_NR_IMC][MCHBAR_NR_COUNTERS])
{
	unsigned int i, c;

	for (i = 0; i < MCHBAR_NR_IMC; i++)
		for (c = 0; c < MCHBAR_NR_COUNTERS; c++)
			lines[i][c] = readq(m->io[i] + mchbar_counter_offset(c));
}
