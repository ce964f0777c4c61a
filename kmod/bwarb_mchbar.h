/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The 'mchbar' measured-traffic source: the client chips' memory
 * controller counters read directly over MMIO (see mchbar_layout.h).
 * UNTESTED ON HARDWARE.
 */
#ifndef BWARB_MCHBAR_H
#define BWARB_MCHBAR_H

#include <linux/types.h>

#include "mchbar_layout.h"

struct bwarb_mchbar {
	void __iomem *io[MCHBAR_NR_IMC];
};

/*
 * Maps the counters (process context). -ENODEV: not an Alder Lake,
 * Raptor Lake or Meteor Lake chip, no Intel host bridge, or MCHBAR
 * disabled; -ENOMEM: the mapping failed.
 */
int bwarb_mchbar_open(struct bwarb_mchbar *m);
void bwarb_mchbar_close(struct bwarb_mchbar *m);

/* Reads every counter (lines); any context. */
void bwarb_mchbar_read(const struct bwarb_mchbar *m,
		       u64 lines[MCHBAR_NR_IMC][MCHBAR_NR_COUNTERS]);

#endif /* BWARB_MCHBAR_H */
