/* SPDX-License-Identifier: MIT */
/*
 * Safetensors checkpoints, memory-mapped read-only: one model.safetensors
 * or the shards listed by model.safetensors.index.json. Every header entry
 * is validated on open (dtype, shape, offsets inside the file, element
 * alignment, no overlap, no duplicate name) so that callers can trust the
 * pointers they get.
 */
#ifndef SPLITMOE_SAFETENSORS_H
#define SPLITMOE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include "model/dtype.h"

struct phimoe_checkpoint;	/* the mapped files, opaque */

#define ST_MAX_DIMS 8

struct st_tensor {
	const char *name;
	const char *file;		/* path of the file holding it */
	enum phimoe_dtype dtype;
	int ndim;
	int64_t shape[ST_MAX_DIMS];
	size_t numel;
	size_t nbytes;
	const void *data;
};

/* Open <dir>/model.safetensors.index.json if present, else
 * <dir>/model.safetensors. 0, or -1 with one line in err naming the file
 * (and the tensor when one is at fault). */
int st_open_dir(const char *dir, struct phimoe_checkpoint **out,
		char *err, size_t errlen);
/* Open a single safetensors file. */
int st_open_file(const char *path, struct phimoe_checkpoint **out,
		 char *err, size_t errlen);
const struct st_tensor *st_find(const struct phimoe_checkpoint *c,
				const char *name);
size_t st_count(const struct phimoe_checkpoint *c);
const struct st_tensor *st_at(const struct phimoe_checkpoint *c, size_t i);
void st_close(struct phimoe_checkpoint *c);

#endif /* SPLITMOE_SAFETENSORS_H */
