// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Loads every eBPF program of bpf/ on its own (the others' autoload off),
 * from the object embedded in its skeleton, so that the running kernel's
 * verifier judges each one separately; attaches nothing. One TAP line per
 * program; on a rejection libbpf's verifier log goes to stderr.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "sampler.skel.h"
#include "tracer.skel.h"

static int print_warn(enum libbpf_print_level level, const char *fmt,
		      va_list ap)
{
	return level == LIBBPF_DEBUG ? 0 : vfprintf(stderr, fmt, ap);
}

static int count_programs(struct bpf_object *obj)
{
	struct bpf_program *p;
	int n = 0;

	bpf_object__for_each_program(p, obj)
		n++;
	return n;
}

/* Returns the number of programs that failed (or 1 if none could run). */
static int load_each(const char *label, const void *elf, size_t sz)
{
	struct bpf_object *obj = bpf_object__open_mem(elf, sz, NULL);
	struct bpf_program *p;
	struct bpf_map *m;
	int nprog, i, failed = 0;

	if (!obj) {
		printf("not ok - %s: cannot open the object: %s\n", label,
		       strerror(errno));
		return 1;
	}
	nprog = count_programs(obj);
	bpf_object__close(obj);
	for (i = 0; i < nprog; i++) {
		const char *name = "?";
		int k = 0, err;

		obj = bpf_object__open_mem(elf, sz, NULL);
		if (!obj) {
			printf("not ok - %s: cannot open the object: %s\n",
			       label, strerror(errno));
			return failed + 1;
		}
		/* Load only: nothing pinned (the tracer pins by name). */
		bpf_object__for_each_map(m, obj)
			bpf_map__set_pin_path(m, NULL);
		bpf_object__for_each_program(p, obj) {
			bpf_program__set_autoload(p, k == i);
			if (k == i)
				name = bpf_program__name(p);
			k++;
		}
		err = bpf_object__load(obj);
		printf("%s - %s/%s loads under the verifier%s%s\n",
		       err ? "not ok" : "ok", label, name, err ? ": " : "",
		       err ? strerror(-err) : "");
		failed += err != 0;
		bpf_object__close(obj);
	}
	return failed;
}

int main(void)
{
	const void *elf;
	size_t sz;
	int failed = 0;

	libbpf_set_print(print_warn);
	elf = tracer_bpf__elf_bytes(&sz);
	failed += load_each("tracer", elf, sz);
	elf = sampler_bpf__elf_bytes(&sz);
	failed += load_each("sampler", elf, sz);
	return failed ? 1 : 0;
}
