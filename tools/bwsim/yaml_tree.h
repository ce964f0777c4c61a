/* SPDX-License-Identifier: MIT */
/*
 * A YAML document as a small tree (mappings, sequences, scalars, each with
 * its line), read with libyaml, so that the scenario reader can check keys
 * and values and name the line of anything wrong.
 */
#ifndef BWSIM_YAML_TREE_H
#define BWSIM_YAML_TREE_H

#include <stddef.h>

enum ynode_kind { YN_SCALAR, YN_MAP, YN_SEQ };

struct ynode {
	enum ynode_kind kind;
	int line;		/* 1-based */
	char *str;		/* scalars */
	struct ynode **kids;	/* maps: key, value, key, value...; seqs: items */
	size_t n;		/* entries in kids */
};

/* Reads path. NULL on error, with "FILE:LINE: why" in err. */
struct ynode *ytree_load(const char *path, char *err, size_t errlen);
void ytree_free(struct ynode *n);

#endif /* BWSIM_YAML_TREE_H */
