// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/debug/bwarb/clients: one header line, then one line per
 * registered client, columns separated by spaces:
 *   id pid name class weight reserve_mbps granted_bytes completed_bytes
 *   waits max_wait_us
 * The whole table is printed under bwarb_dev.lock, so it is one consistent
 * snapshot.
 */
#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/seq_file.h>

#include "bwarb.h"
#include "bwarb_debugfs.h"

static const char * const bwarb_class_names[ARB_CLASS_COUNT] = {
	[ARB_CLASS_CPU] = "cpu",
	[ARB_CLASS_GPU] = "gpu",
	[ARB_CLASS_OTHER] = "other",
};

static int bwarb_clients_show(struct seq_file *m, void *unused)
{
	struct bwarb_dev *bd = m->private;
	struct bwarb_client *cl;
	struct arb_client_stats st;
	unsigned long flags;

	seq_puts(m, "id pid name class weight reserve_mbps granted_bytes completed_bytes waits max_wait_us\n");
	raw_spin_lock_irqsave(&bd->lock, flags);
	list_for_each_entry(cl, &bd->clients, node) {
		u32 class = cl->core.p.class;

		arb_client_get_stats(&cl->core, &st);
		seq_printf(m, "%u %d %s %s %u %llu %llu %llu %llu %llu\n",
			   cl->id, cl->pid, cl->name[0] ? cl->name : "-",
			   class < ARB_CLASS_COUNT ? bwarb_class_names[class] : "?",
			   cl->core.p.weight, cl->core.p.reserve_mbps,
			   st.granted_bytes, st.completed_bytes, st.waits,
			   div_u64(cl->max_wait_ns, NSEC_PER_USEC));
	}
	raw_spin_unlock_irqrestore(&bd->lock, flags);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(bwarb_clients);

void bwarb_debugfs_init(struct bwarb_dev *bd)
{
	if (IS_ERR_OR_NULL(bd->debugfs))
		return;
	debugfs_create_file("clients", 0444, bd->debugfs, bd,
			    &bwarb_clients_fops);
}

void bwarb_debugfs_exit(struct bwarb_dev *bd)
{
	if (!IS_ERR_OR_NULL(bd->debugfs))
		debugfs_lookup_and_remove("clients", bd->debugfs);
}
