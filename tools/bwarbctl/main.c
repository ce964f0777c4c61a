// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * bwarbctl: control and inspect the bwarb bandwidth arbiter. Dispatches to
 * the commands that registered themselves (see bwarbctl.h).
 */
#include <stdio.h>
#include <string.h>

#include "bwarbctl.h"

static struct bwarbctl_cmd *commands;

void bwarbctl_register(struct bwarbctl_cmd *cmd)
{
	struct bwarbctl_cmd **p = &commands;

	/* Keep the table sorted by name for the help text. */
	while (*p && strcmp((*p)->name, cmd->name) < 0)
		p = &(*p)->next;
	cmd->next = *p;
	*p = cmd;
}

static void usage(FILE *f)
{
	const struct bwarbctl_cmd *c;

	fprintf(f, "usage: bwarbctl COMMAND [ARGS...]\n\ncommands:\n");
	for (c = commands; c; c = c->next)
		fprintf(f, "  %-10s %s\n", c->name, c->summary);
}

int main(int argc, char **argv)
{
	const struct bwarbctl_cmd *c;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	for (c = commands; c; c = c->next)
		if (!strcmp(c->name, argv[1]))
			return c->run(argc - 1, argv + 1);
	fprintf(stderr, "bwarbctl: unknown command '%s' (bwarbctl help lists them)\n",
		argv[1]);
	return 2;
}
