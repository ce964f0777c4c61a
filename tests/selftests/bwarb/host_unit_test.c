// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side checks of the bwarb client library and of bwarbctl that need
 * no module: the absent device, a file that is not the device, the fast
 * grant ids, and bwarbctl over a fake sysfs directory (BWARB_SYSFS_DIR).
 * cmocka, TAP output; built with ASan+UBSan.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "arbiter/bwarb_client.h"
#include "kmod/uapi/bwarb.h"

static void open_absent_device_is_enoent(void **state)
{
	struct bwarb_client *c = (void *)1;

	(void)state;
	assert_int_equal(-ENOENT, bwarb_open("/nonexistent/bwarb", &c));
	assert_null(c);
	assert_non_null(strstr(bwarb_strerror(-ENOENT), "module is not loaded"));
	assert_non_null(strstr(bwarb_strerror(-ENOSPC), "guaranteed_mbps"));
	assert_non_null(strstr(bwarb_strerror(-ETIMEDOUT), "timed out"));
}

static void not_the_device(void **state)
{
	struct bwarb_register_opts o = { .name = "x", .weight = 1 };
	struct bwarb_client_info info;
	struct bwarb_client *c;
	uint64_t id = 0;

	(void)state;
	assert_int_equal(0, bwarb_open("/dev/null", &c));
	assert_int_equal(-ENOTTY, bwarb_register(c, &o));
	assert_int_equal(0, bwarb_has_fastpath(c));
	assert_int_equal(-ENODEV, bwarb_set_fastpath(c, 1));
	assert_int_equal(-ENOTTY, bwarb_acquire(c, 100, 0, 0, &id));
	assert_int_equal(-EINVAL, bwarb_acquire(c, 100, 0, 0x80, &id));
	assert_int_equal(-ENOTTY, bwarb_complete(c, 5, 100));
	assert_int_equal(-ENOTTY, bwarb_query(c, &info));
	assert_int_equal(0, bwarb_client_id(c));
	/* A fast-path grant completed within its size needs no system call. */
	assert_int_equal(0, bwarb_complete(c, BWARB_FAST_GRANT_FLAG | 100, 60));
	/* More than granted must be declared: here the ioctl fails. */
	assert_int_equal(-ENOTTY, bwarb_complete(c, BWARB_FAST_GRANT_FLAG | 100, 160));
	bwarb_close(c);
	bwarb_close(NULL);
}

static char sysdir[] = "/tmp/bwarb-host-test.XXXXXX";

static void put(const char *name, const char *val)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", sysdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(val, f);
	fclose(f);
}

static int run(char *out, size_t len, const char *args)
{
	char cmd[512];
	size_t n = 0;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "BWARB_SYSFS_DIR=%s build/bwarbctl %s 2>&1", sysdir, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (n + 1 < len && fgets(out + n, len - n, p))
		n += strlen(out + n);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void bwarbctl_status_units(void **state)
{
	char out[4096];

	(void)state;
	assert_non_null(mkdtemp(sysdir));
	put("period_us", "1000\n");
	put("capacity_mbps", "120000\n");
	put("guaranteed_mbps", "80000\n");
	put("nr_clients", "2\n");
	put("granted_bytes", "123456789\n");
	put("completed_bytes", "0\n");
	put("read_mbps", "4500\n");
	put("source", "declared\n");
	assert_int_equal(0, run(out, sizeof(out), "status"));
	assert_non_null(strstr(out, "period_us          1000 us\n"));
	assert_non_null(strstr(out, "capacity_mbps      120000 MB/s\n"));
	assert_non_null(strstr(out, "guaranteed_mbps    80000 MB/s\n"));
	assert_non_null(strstr(out, "nr_clients         2\n"));
	assert_non_null(strstr(out, "granted_bytes      123456789 bytes (123.5 MB)\n"));
	/* Attributes other parts add follow, with units from their names. */
	assert_non_null(strstr(out, "read_mbps          4500 MB/s\n"));
	assert_non_null(strstr(out, "source             declared\n"));
	assert_int_equal(2, run(out, sizeof(out), "status extra"));
}

static void bwarbctl_set_and_bad_input(void **state)
{
	char out[4096];

	(void)state;
	put("period_us", "1000\n");
	assert_int_equal(0, run(out, sizeof(out), "set period_us 500"));
	assert_non_null(strstr(out, "period_us: 1000 -> 500 us"));
	assert_int_equal(2, run(out, sizeof(out), "set period_us 5x"));
	assert_non_null(strstr(out, "'5x' is not a whole number of us"));
	assert_int_equal(2, run(out, sizeof(out), "set period_us -1"));
	assert_int_equal(2, run(out, sizeof(out), "set bogus 1"));
	assert_non_null(strstr(out, "unknown knob 'bogus'"));
	assert_int_equal(2, run(out, sizeof(out), "set period_us"));
	assert_int_equal(2, run(out, sizeof(out), "nosuchcommand"));
	assert_non_null(strstr(out, "unknown command 'nosuchcommand'"));
	assert_int_equal(0, run(out, sizeof(out), "help"));
	assert_non_null(strstr(out, "status"));
	assert_non_null(strstr(out, "set"));
}

static void bwarbctl_module_absent(void **state)
{
	char out[4096], cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", sysdir);
	assert_int_equal(0, system(cmd));
	assert_int_equal(1, run(out, sizeof(out), "status"));
	assert_non_null(strstr(out, "the bwarb module is not loaded"));
	assert_int_equal(1, run(out, sizeof(out), "set period_us 500"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(open_absent_device_is_enoent),
		cmocka_unit_test(not_the_device),
		cmocka_unit_test(bwarbctl_status_units),
		cmocka_unit_test(bwarbctl_set_and_bad_input),
		cmocka_unit_test(bwarbctl_module_absent),
	};

	return cmocka_run_group_tests_name("bwarb-host", tests, NULL, NULL);
}
