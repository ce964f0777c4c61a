/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Discovery of the memory-controller perf PMUs from sysfs
 * (/sys/bus/event_source/devices/<pmu>/{type,cpumask,format/ *,events/ *})
 * and translation of their event descriptions into the perf attributes the
 * bwarb module takes (type, config, cpu, bytes per count).
 *
 * The kernel offers no lookup by name, so this parses the files itself:
 *   format/<term>      "config:0-7", "config1:0-3,8-11", "config:63"
 *   events/<ev>        "event=0xff,umask=0x20" (a bare term means =1)
 *   events/<ev>.scale  a decimal such as "6.103515625e-5"
 *   events/<ev>.unit   "MiB", "MB", "KiB", "B"...
 *   cpumask            a CPU list such as "0" or "0-3,8"
 *
 * Errors: negative errno, with one line naming the file in err.
 */
#ifndef BWARBCTL_PMU_DISCOVERY_H
#define BWARBCTL_PMU_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PMU_SYSFS_ROOT		"/sys/bus/event_source/devices"
#define PMU_NAME_MAX		64
#define PMU_TERM_MAX		32
#define PMU_MAX_FORMATS		16
#define PMU_MAX_RANGES		8
#define PMU_MAX_CPUS		1024
#define PMU_ERR_MAX		512

struct pmu_bit_range {
	unsigned int lo, hi;		/* inclusive, hi < 64 */
};

/* One format/<term> file: where the term's bits go. */
struct pmu_format {
	char name[PMU_TERM_MAX];
	unsigned int word;		/* 0: config, 1: config1, 2: config2 */
	unsigned int nr_ranges;
	struct pmu_bit_range range[PMU_MAX_RANGES];
};

struct pmu_desc {
	char name[PMU_NAME_MAX];
	uint32_t type;
	int first_cpu;			/* lowest CPU of cpumask */
	uint64_t cpumask[PMU_MAX_CPUS / 64];
	unsigned int nr_formats;
	struct pmu_format format[PMU_MAX_FORMATS];
};

enum pmu_dir { PMU_DIR_READ, PMU_DIR_WRITE, PMU_DIR_TOTAL };

/* One counter to hand to the module. */
struct pmu_counter {
	char label[PMU_NAME_MAX + PMU_TERM_MAX + 2];	/* "<pmu>/<event>" */
	enum pmu_dir dir;
	uint32_t type;
	uint64_t config[3];		/* config, config1, config2 */
	int cpu;
	uint64_t scale_num, scale_den;	/* bytes per count, reduced */
};

const char *pmu_dir_name(enum pmu_dir dir);

/* Parses the text of format/<name>. */
int pmu_parse_format(const char *name, const char *text, struct pmu_format *out);

/* Puts value into the bits f describes; -ERANGE if it does not fit. */
int pmu_format_encode(const struct pmu_format *f, uint64_t value,
		      uint64_t config[3]);

/* Encodes an events/<ev> string with the PMU's formats. */
int pmu_parse_event(const struct pmu_desc *pmu, const char *text,
		    uint64_t config[3], char *err, size_t errlen);

/* Exact bytes per count of a .scale decimal and a .unit (NULL: bytes). */
int pmu_parse_scale(const char *scale, const char *unit, uint64_t *num,
		    uint64_t *den);

/* Parses a CPU list into pmu->cpumask and pmu->first_cpu. */
int pmu_parse_cpumask(const char *text, struct pmu_desc *pmu);
bool pmu_cpu_in_mask(const struct pmu_desc *pmu, int cpu);

/* Reads <root>/<name>/{type,cpumask,format/ *}. */
int pmu_load(const char *root, const char *name, struct pmu_desc *out,
	     char *err, size_t errlen);

/* Reads events/<event>{,.scale,.unit} of a loaded PMU into a counter on
 * the PMU's first CPU. -ENOENT if the PMU has no such event. */
int pmu_load_event(const char *root, const struct pmu_desc *pmu,
		   const char *event, enum pmu_dir dir,
		   struct pmu_counter *out, char *err, size_t errlen);

/*
 * Finds the memory-controller counters under root: every PMU whose name
 * matches pattern (fnmatch; NULL tries "uncore_imc_free_running_*", then
 * the server "uncore_imc_[0-9]*"), taking data_read + data_write, or
 * cas_count_read + cas_count_write, or else data_total. Sorted by PMU name.
 * -ENOENT: no PMU matched, or none has such events.
 */
int pmu_discover(const char *root, const char *pattern,
		 struct pmu_counter *out, size_t max, size_t *nr,
		 char *err, size_t errlen);

#endif /* BWARBCTL_PMU_DISCOVERY_H */
