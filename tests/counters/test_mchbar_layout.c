// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Unit tests of the MCHBAR counter layout (kmod/mchbar_layout.c), the part
 * of the 'mchbar' source that runs without hardware. The MMIO side
 * (kmod/bwarb_mchbar.c) is untested on hardware.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kmod/mchbar_layout.h"

static void test_decode_base(void **state)
{
	u64 base = 0;

	(void)state;
	assert_int_equal(mchbar_decode_base(0xfedc0001, 0, &base), 0);
	assert_true(base == 0xfedc0000ULL);
	assert_int_equal(mchbar_decode_base(0x40000001, 0x1, &base), 0);
	assert_true(base == 0x140000000ULL);
	/* Bit 0 clear: MCHBAR disabled; an enabled zero base is bogus. */
	base = 7;
	assert_int_equal(mchbar_decode_base(0xfedc0000, 0, &base), -ENODEV);
	assert_int_equal(mchbar_decode_base(0x1, 0, &base), -ENODEV);
	assert_true(base == 7);
}

static void test_addresses(void **state)
{
	(void)state;
	assert_int_equal(mchbar_counter_offset(MCHBAR_READ), 0x58);
	assert_int_equal(mchbar_counter_offset(MCHBAR_WRITE), 0xa0);
	assert_true(mchbar_imc_phys(0xfedc0000ULL, 0) == 0xfedcd800ULL);
	assert_true(mchbar_imc_phys(0xfedc0000ULL, 1) == 0xfeddd800ULL);
	/* Every counter lies inside its controller's mapping. */
	assert_true(mchbar_counter_offset(MCHBAR_WRITE) + 8 <= MCHBAR_MAP_SIZE);
}

static void test_delta(void **state)
{
	(void)state;
	assert_true(mchbar_delta_bytes(100, 150) == 50 * 64);
	assert_true(mchbar_delta_bytes(7, 7) == 0);
	/* A 64-bit wrap between two readings. */
	assert_true(mchbar_delta_bytes(UINT64_MAX - 1, 2) == 4 * 64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_base),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_delta),
	};

	return cmocka_run_group_tests_name("mchbar_layout", tests, NULL, NULL);
}
