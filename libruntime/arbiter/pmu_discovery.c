// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Memory-controller PMU discovery from sysfs; see pmu_discovery.h. */
#include "arbiter/pmu_discovery.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PMU_FILE_MAX 4096
#define PMU_PATH_MAX 4096

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

const char *pmu_dir_name(enum pmu_dir dir)
{
	switch (dir) {
	case PMU_DIR_READ:
		return "read";
	case PMU_DIR_WRITE:
		return "write";
	default:
		return "total";
	}
}

/* Parses an unsigned number (0x hex or decimal) spanning [s, end). */
static int parse_u64(const char *s, const char *end, uint64_t *out)
{
	char buf[32], *tail;
	size_t n = (size_t)(end - s);

	if (n == 0 || n >= sizeof(buf) || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	*out = strtoull(buf, &tail, 0);
	if (errno || *tail)
		return -EINVAL;
	return 0;
}

/* "lo" or "lo-hi" in [s, end), lo <= hi; "lo" alone is lo-lo. */
static int parse_range(const char *s, const char *end, uint64_t *lo, uint64_t *hi)
{
	const char *dash = memchr(s, '-', (size_t)(end - s));

	if (parse_u64(s, dash ? dash : end, lo))
		return -EINVAL;
	*hi = *lo;
	if (dash && parse_u64(dash + 1, end, hi))
		return -EINVAL;
	return *hi < *lo ? -EINVAL : 0;
}

int pmu_parse_format(const char *name, const char *text, struct pmu_format *out)
{
	const char *p = text, *colon, *end;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (strlen(name) >= sizeof(out->name) || !name[0])
		return -EINVAL;
	strcpy(out->name, name);

	colon = strchr(p, ':');
	if (!colon)
		return -EINVAL;
	len = (size_t)(colon - p);
	if (len == 6 && !strncmp(p, "config", 6))
		out->word = 0;
	else if (len == 7 && !strncmp(p, "config1", 7))
		out->word = 1;
	else if (len == 7 && !strncmp(p, "config2", 7))
		out->word = 2;
	else
		return -EINVAL;

	p = colon + 1;
	for (;;) {
		uint64_t lo, hi;

		end = p + strcspn(p, ",\n");
		if (parse_range(p, end, &lo, &hi) || hi > 63 || out->nr_ranges == PMU_MAX_RANGES)
			return -EINVAL;
		out->range[out->nr_ranges].lo = (unsigned int)lo;
		out->range[out->nr_ranges].hi = (unsigned int)hi;
		out->nr_ranges++;
		if (*end != ',')
			break;
		p = end + 1;
	}
	/* Only a trailing newline may follow. */
	if (*end == '\n')
		end++;
	return *end ? -EINVAL : 0;
}

int pmu_format_encode(const struct pmu_format *f, uint64_t value,
		      uint64_t config[3])
{
	unsigned int i, shift = 0;
	uint64_t bits = 0;

	for (i = 0; i < f->nr_ranges; i++) {
		unsigned int w = f->range[i].hi - f->range[i].lo + 1;
		uint64_t mask = w == 64 ? UINT64_MAX : (UINT64_C(1) << w) - 1;
		uint64_t part = shift < 64 ? (value >> shift) & mask : 0;

		bits |= part << f->range[i].lo;
		shift += w;
	}
	if (shift < 64 && value >> shift)
		return -ERANGE;
	config[f->word] |= bits;
	return 0;
}

static const struct pmu_format *find_format(const struct pmu_desc *pmu,
					    const char *name, size_t len)
{
	unsigned int i;

	for (i = 0; i < pmu->nr_formats; i++)
		if (strlen(pmu->format[i].name) == len &&
		    !strncmp(pmu->format[i].name, name, len))
			return &pmu->format[i];
	return NULL;
}

int pmu_parse_event(const struct pmu_desc *pmu, const char *text,
		    uint64_t config[3], char *err, size_t errlen)
{
	static const struct pmu_format raw[3] = {
		{ "config", 0, 1, { { 0, 63 } } },
		{ "config1", 1, 1, { { 0, 63 } } },
		{ "config2", 2, 1, { { 0, 63 } } },
	};
	const char *p = text;
	size_t tlen = strlen(text);

	if (tlen && text[tlen - 1] == '\n')
		tlen--;
	config[0] = config[1] = config[2] = 0;
	if (!tlen)
		return fail(err, errlen, -EINVAL, "empty event description");

	while (p < text + tlen) {
		const char *end = memchr(p, ',', (size_t)(text + tlen - p));
		const char *eq, *name_end;
		const struct pmu_format *f;
		uint64_t value = 1;
		unsigned int i;

		if (!end)
			end = text + tlen;
		eq = memchr(p, '=', (size_t)(end - p));
		name_end = eq ? eq : end;
		if (name_end == p)
			return fail(err, errlen, -EINVAL,
				    "empty term in event '%.*s'", (int)tlen, text);
		f = find_format(pmu, p, (size_t)(name_end - p));
		for (i = 0; !f && i < 3; i++)
			if (strlen(raw[i].name) == (size_t)(name_end - p) &&
			    !strncmp(raw[i].name, p, (size_t)(name_end - p)))
				f = &raw[i];
		if (!f)
			return fail(err, errlen, -EINVAL,
				    "term '%.*s' of event '%.*s' has no format/ file",
				    (int)(name_end - p), p, (int)tlen, text);
		if (eq && parse_u64(eq + 1, end, &value))
			return fail(err, errlen, -EINVAL,
				    "bad value of term '%.*s' in event '%.*s'",
				    (int)(name_end - p), p, (int)tlen, text);
		if (pmu_format_encode(f, value, config))
			return fail(err, errlen, -ERANGE,
				    "value 0x%llx of term '%s' does not fit its format",
				    (unsigned long long)value, f->name);
		p = end < text + tlen ? end + 1 : end;
	}
	return 0;
}

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static int unit_bytes(const char *unit, uint64_t *bytes)
{
	static const struct { const char *name; uint64_t bytes; } units[] = {
		{ "", 1 }, { "B", 1 }, { "Bytes", 1 }, { "bytes", 1 },
		{ "KiB", UINT64_C(1) << 10 }, { "MiB", UINT64_C(1) << 20 },
		{ "GiB", UINT64_C(1) << 30 }, { "kB", 1000 }, { "KB", 1000 },
		{ "MB", 1000000 }, { "GB", 1000000000 },
	};
	char u[16];
	size_t i, n = unit ? strcspn(unit, "\n") : 0;

	if (n >= sizeof(u))
		return -EINVAL;
	if (n)
		memcpy(u, unit, n);
	u[n] = '\0';
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(u, units[i].name)) {
			*bytes = units[i].bytes;
			return 0;
		}
	}
	return -EINVAL;
}

int pmu_parse_scale(const char *scale, const char *unit, uint64_t *num,
		    uint64_t *den)
{
	uint64_t mant = 0, n, d = 1, ubytes, g;
	const char *p = scale;
	int exp10 = 0, digits = 0;
	bool point = false;

	if (unit_bytes(unit, &ubytes))
		return -EINVAL;
	for (; *p; p++) {
		if (isdigit((unsigned char)*p)) {
			if (mant > (UINT64_MAX - 9) / 10)
				return -ERANGE;
			mant = mant * 10 + (uint64_t)(*p - '0');
			if (point)
				exp10--;
			digits++;
		} else if (*p == '.' && !point) {
			point = true;
		} else {
			break;
		}
	}
	if (!digits)
		return -EINVAL;
	if (*p == 'e' || *p == 'E') {
		char *tail;
		long e;

		errno = 0;
		e = strtol(p + 1, &tail, 10);
		if (errno || tail == p + 1 || e < -30 || e > 30)
			return -EINVAL;
		exp10 += (int)e;
		p = tail;
	}
	if (*p == '\n')
		p++;
	if (*p || !mant)
		return -EINVAL;

	n = mant;
	for (; exp10 > 0; exp10--) {
		if (n > UINT64_MAX / 10)
			return -ERANGE;
		n *= 10;
	}
	for (; exp10 < 0; exp10++) {
		if (d > UINT64_MAX / 10)
			return -ERANGE;
		d *= 10;
		g = gcd_u64(n, d);
		n /= g;
		d /= g;
	}
	g = gcd_u64(ubytes, d);
	ubytes /= g;
	d /= g;
	if (n > UINT64_MAX / ubytes)
		return -ERANGE;
	*num = n * ubytes;
	*den = d;
	return 0;
}

int pmu_parse_cpumask(const char *text, struct pmu_desc *pmu)
{
	const char *p = text;

	memset(pmu->cpumask, 0, sizeof(pmu->cpumask));
	pmu->first_cpu = -1;
	for (;;) {
		const char *end = p + strcspn(p, ",\n");
		uint64_t lo, hi, c;

		if (parse_range(p, end, &lo, &hi) || hi >= PMU_MAX_CPUS)
			return -EINVAL;
		for (c = lo; c <= hi; c++)
			pmu->cpumask[c / 64] |= UINT64_C(1) << (c % 64);
		if (pmu->first_cpu < 0 || (int)lo < pmu->first_cpu)
			pmu->first_cpu = (int)lo;
		if (*end != ',')
			break;
		p = end + 1;
	}
	p += strcspn(p, ",\n");
	if (*p == '\n')
		p++;
	return *p ? -EINVAL : 0;
}

bool pmu_cpu_in_mask(const struct pmu_desc *pmu, int cpu)
{
	if (cpu < 0 || cpu >= PMU_MAX_CPUS)
		return false;
	return pmu->cpumask[cpu / 64] >> (cpu % 64) & 1;
}

/*
 * Reads a small sysfs file into buf. -ENOENT if absent (the caller decides
 * whether that is an error), other errors with a message.
 */
static int read_text(const char *path, char *buf, size_t len, char *err,
		     size_t errlen)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		int e = errno;

		return fail(err, errlen, -e, "%s: %s", path, strerror(e));
	}
	n = fread(buf, 1, len - 1, f);
	if (ferror(f)) {
		fclose(f);
		return fail(err, errlen, -EIO, "%s: read error", path);
	}
	fclose(f);
	buf[n] = '\0';
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int pmu_load(const char *root, const char *name, struct pmu_desc *out,
	     char *err, size_t errlen)
{
	char path[PMU_PATH_MAX], text[PMU_FILE_MAX];
	struct dirent *de;
	uint64_t type;
	DIR *dir;
	int ret;

	memset(out, 0, sizeof(*out));
	if (strlen(name) >= sizeof(out->name))
		return fail(err, errlen, -ENAMETOOLONG, "PMU name too long: %s", name);
	strcpy(out->name, name);

	snprintf(path, sizeof(path), "%s/%s/type", root, name);
	ret = read_text(path, text, sizeof(text), err, errlen);
	if (ret)
		return ret;
	if (parse_u64(text, text + strcspn(text, "\n"), &type) || type > UINT32_MAX)
		return fail(err, errlen, -EINVAL, "%s: not a PMU type number", path);
	out->type = (uint32_t)type;

	snprintf(path, sizeof(path), "%s/%s/cpumask", root, name);
	ret = read_text(path, text, sizeof(text), err, errlen);
	if (ret)
		return ret;
	if (pmu_parse_cpumask(text, out))
		return fail(err, errlen, -EINVAL, "%s: bad CPU list '%.*s'", path,
			    (int)strcspn(text, "\n"), text);

	snprintf(path, sizeof(path), "%s/%s/format", root, name);
	dir = opendir(path);
	if (!dir) {
		ret = -errno;
		return fail(err, errlen, ret, "%s: %s", path, strerror(-ret));
	}
	while ((de = readdir(dir)) != NULL) {
		char fpath[PMU_PATH_MAX + 256];

		if (de->d_name[0] == '.')
			continue;
		if (out->nr_formats == PMU_MAX_FORMATS) {
			closedir(dir);
			return fail(err, errlen, -E2BIG, "%s: more than %d formats",
				    path, PMU_MAX_FORMATS);
		}
		snprintf(fpath, sizeof(fpath), "%s/%s", path, de->d_name);
		ret = read_text(fpath, text, sizeof(text), err, errlen);
		if (ret) {
			closedir(dir);
			return ret;
		}
		if (pmu_parse_format(de->d_name, text,
				     &out->format[out->nr_formats])) {
			closedir(dir);
			return fail(err, errlen, -EINVAL, "%s: bad format '%.*s'",
				    fpath, (int)strcspn(text, "\n"), text);
		}
		out->nr_formats++;
	}
	closedir(dir);
	return 0;
}

int pmu_load_event(const char *root, const struct pmu_desc *pmu,
		   const char *event, enum pmu_dir dir,
		   struct pmu_counter *out, char *err, size_t errlen)
{
	char path[PMU_PATH_MAX], text[PMU_FILE_MAX], unit[64];
	char scale[64];
	int ret;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/%s/events/%s", root, pmu->name, event);
	ret = read_text(path, text, sizeof(text), err, errlen);
	if (ret)
		return ret;
	ret = pmu_parse_event(pmu, text, out->config, err, errlen);
	if (ret) {
		char why[PMU_ERR_MAX];

		snprintf(why, sizeof(why), "%s", err ? err : "");
		return fail(err, errlen, ret, "%s: %s", path, why);
	}

	/* No .scale: one count is one byte; no .unit: the scale is in bytes. */
	snprintf(path, sizeof(path), "%s/%s/events/%s.scale", root, pmu->name,
		 event);
	ret = read_text(path, scale, sizeof(scale), err, errlen);
	if (ret == -ENOENT)
		strcpy(scale, "1");
	else if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/%s/events/%s.unit", root, pmu->name,
		 event);
	ret = read_text(path, unit, sizeof(unit), err, errlen);
	if (ret == -ENOENT)
		unit[0] = '\0';
	else if (ret)
		return ret;
	if (pmu_parse_scale(scale, unit, &out->scale_num, &out->scale_den))
		return fail(err, errlen, -EINVAL,
			    "%s/%s/events/%s.scale: cannot turn '%.*s' %.*s into bytes",
			    root, pmu->name, event, (int)strcspn(scale, "\n"),
			    scale, (int)strcspn(unit, "\n"), unit);
	if (pmu->first_cpu < 0)
		return fail(err, errlen, -EINVAL, "%s/%s/cpumask: empty", root,
			    pmu->name);
	snprintf(out->label, sizeof(out->label), "%s/%s", pmu->name, event);
	out->dir = dir;
	out->type = pmu->type;
	out->cpu = pmu->first_cpu;
	return 0;
}

static int event_exists(const char *root, const char *pmu, const char *event)
{
	char path[PMU_PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/events/%s", root, pmu, event);
	f = fopen(path, "r");
	if (!f)
		return 0;
	fclose(f);
	return 1;
}

/* The events of one PMU, in order of preference. */
static int pmu_pick_events(const char *root, const struct pmu_desc *pmu,
			   struct pmu_counter *out, size_t room, size_t *nr,
			   char *err, size_t errlen)
{
	static const struct { const char *ev[2]; } pairs[] = {
		{ { "data_read", "data_write" } },
		{ { "cas_count_read", "cas_count_write" } },
	};
	size_t i;
	int ret;

	*nr = 0;
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		if (!event_exists(root, pmu->name, pairs[i].ev[0]) ||
		    !event_exists(root, pmu->name, pairs[i].ev[1]))
			continue;
		if (room < 2)
			return fail(err, errlen, -E2BIG, "too many counters");
		ret = pmu_load_event(root, pmu, pairs[i].ev[0], PMU_DIR_READ,
				     &out[0], err, errlen);
		if (!ret)
			ret = pmu_load_event(root, pmu, pairs[i].ev[1],
					     PMU_DIR_WRITE, &out[1], err, errlen);
		if (!ret)
			*nr = 2;
		return ret;
	}
	if (event_exists(root, pmu->name, "data_total")) {
		if (room < 1)
			return fail(err, errlen, -E2BIG, "too many counters");
		ret = pmu_load_event(root, pmu, "data_total", PMU_DIR_TOTAL,
				     &out[0], err, errlen);
		if (!ret)
			*nr = 1;
		return ret;
	}
	return 0;
}

static int list_matching(const char *root, const char *pattern,
			 char ***names, size_t *count, char *err, size_t errlen)
{
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;
	DIR *dir;

	dir = opendir(root);
	if (!dir) {
		int e = errno;

		return fail(err, errlen, -e, "%s: %s", root, strerror(e));
	}
	while ((de = readdir(dir)) != NULL) {
		char **nv;

		if (de->d_name[0] == '.' || fnmatch(pattern, de->d_name, 0))
			continue;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv || !(nv[n] = strdup(de->d_name))) {
			free(nv ? nv : v);
			closedir(dir);
			return fail(err, errlen, -ENOMEM, "out of memory");
		}
		v = nv;
		n++;
	}
	closedir(dir);
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	*names = v;
	*count = n;
	return 0;
}

static void free_names(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int pmu_discover(const char *root, const char *pattern,
		 struct pmu_counter *out, size_t max, size_t *nr,
		 char *err, size_t errlen)
{
	static const char *const defaults[] = {
		"uncore_imc_free_running_*", "uncore_imc_[0-9]*",
	};
	const char *const *pats = pattern ? &pattern : defaults;
	size_t npats = pattern ? 1 : 2, p, i, got;
	bool matched = false;
	int ret = 0;

	*nr = 0;
	for (p = 0; p < npats && !*nr; p++) {
		char **names = NULL;
		size_t count = 0;

		ret = list_matching(root, pats[p], &names, &count, err, errlen);
		if (ret)
			return ret;
		for (i = 0; i < count && !ret; i++) {
			struct pmu_desc pmu;

			matched = true;
			ret = pmu_load(root, names[i], &pmu, err, errlen);
			if (!ret)
				ret = pmu_pick_events(root, &pmu, out + *nr,
						      max - *nr, &got, err,
						      errlen);
			if (!ret)
				*nr += got;
		}
		free_names(names, count);
		if (ret) {
			*nr = 0;
			return ret;
		}
	}
	if (!*nr)
		return fail(err, errlen, -ENOENT,
			    matched ? "%s: PMUs matching '%s' have no data_read/data_write, cas_count_read/cas_count_write or data_total event"
				    : "%s: no PMU matches '%s'",
			    root, pattern ? pattern : "uncore_imc_free_running_* or uncore_imc_[0-9]*");
	return 0;
}
