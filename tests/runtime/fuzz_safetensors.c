// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the untrusted-input parsers: the input is written
 * to a memfd and opened as a safetensors file; the same bytes are also
 * parsed as a YAML configuration. Neither may crash, leak or read out of
 * bounds; every error must come back as one line.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config_yaml.h"
#include "model/safetensors.h"

static void check_one_line(const char *err)
{
	if (strchr(err, '\n'))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct phimoe_checkpoint *c = NULL;
	struct sm_config cfg;
	char path[64], err[512] = "";
	int fd = memfd_create("fuzz", 0);
	size_t i;

	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (st_open_file(path, &c, err, sizeof(err)) == 0) {
		/* every view must be readable in full */
		volatile uint8_t sink = 0;

		for (i = 0; i < st_count(c); i++) {
			const struct st_tensor *t = st_at(c, i);

			if (t->nbytes)
				sink ^= ((const uint8_t *)t->data)[t->nbytes - 1];
		}
		(void)sink;
		st_close(c);
	} else {
		check_one_line(err);
	}
	sm_config_defaults(&cfg);
	if (sm_config_load(path, &cfg, err, sizeof(err)))
		check_one_line(err);
	close(fd);
	return 0;
}
