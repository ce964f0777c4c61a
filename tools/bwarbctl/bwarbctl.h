/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * bwarbctl: the command table and the sysfs helpers the commands share.
 *
 * A command lives in its own file and registers itself with one line:
 *
 *     BWARBCTL_COMMAND(source, "show or select the measured-traffic source",
 *                      cmd_source);
 *
 * where cmd_source(argc, argv) gets argv[0] == "source" and returns the
 * process exit status. Registration runs before main() (a constructor), so
 * main.c needs no list of commands.
 *
 * Environment: BWARB_SYSFS_DIR (default /sys/kernel/bwarb), for tests.
 */
#ifndef BWARBCTL_H
#define BWARBCTL_H

#include <stddef.h>
#include <stdint.h>

struct bwarbctl_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
	struct bwarbctl_cmd *next;
};

void bwarbctl_register(struct bwarbctl_cmd *cmd);

#define BWARBCTL_COMMAND(name_, summary_, fn_)				\
	static struct bwarbctl_cmd bwarbctl_cmd_##name_ = {		\
		.name = #name_, .summary = (summary_), .run = (fn_),	\
	};								\
	__attribute__((constructor)) static void bwarbctl_reg_##name_(void) \
	{								\
		bwarbctl_register(&bwarbctl_cmd_##name_);		\
	}

#define BWARB_SYSFS_DEFAULT "/sys/kernel/bwarb"

/* The module's sysfs directory (BWARB_SYSFS_DIR or the default). */
const char *bwarbctl_sysfs_dir(void);

/*
 * Reads one sysfs attribute (trailing newline removed) into buf.
 * Returns 0 or a negative errno.
 */
int bwarbctl_sysfs_read(const char *attr, char *buf, size_t len);

/* Writes value to one attribute. Returns 0 or a negative errno. */
int bwarbctl_sysfs_write(const char *attr, const char *value);

/*
 * 0 if the module's sysfs directory exists; otherwise prints one line
 * saying the module is not loaded and returns 1 (an exit status).
 */
int bwarbctl_require_module(void);

#endif /* BWARBCTL_H */
