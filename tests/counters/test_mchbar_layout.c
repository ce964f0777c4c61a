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

/* Bytes between readings, with no bound on what the bus carries. */
static uint64_t delta(uint64_t prev, uint64_t now)
{
	uint64_t b = 12345;

	assert_int_equal(mchbar_delta_bytes(prev, now, UINT64_MAX, &b), 0);
	return b;
}

static void test_delta(void **state)
{
	(void)state;
	assert_true(delta(100, 150) == 50 * 64);
	assert_true(delta(7, 7) == 0);
	/* A 64-bit wrap between two readings. */
	assert_true(delta(UINT64_MAX - 1, 2) == 4 * 64);
}

/*
 * Issue 11: a counter that resets (suspend, controller reset) or jumps is
 * no measurement, however large the modular difference.
 */
static void test_delta_reset_or_jump(void **state)
{
	const uint64_t max = 10000000ULL * 1000;	/* 10 TB/s for 1 ms */
	uint64_t b = 7;

	(void)state;
	assert_int_equal(mchbar_delta_bytes(1000000000000ULL, 5, max, &b), -ERANGE);
	assert_int_equal(b, 7);
	assert_int_equal(mchbar_delta_bytes(5, 5 + max / 64 + 1, max, &b), -ERANGE);
	assert_int_equal(mchbar_delta_bytes(5, 5 + max / 64, max, &b), 0);
	assert_true(b == max / 64 * 64);
	/* Near the top of the range the product must not wrap either. */
	assert_int_equal(mchbar_delta_bytes(0, UINT64_MAX / 32, UINT64_MAX, &b),
			 -ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_base),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_delta),
		cmocka_unit_test(test_delta_reset_or_jump),
	};

	return cmocka_run_group_tests_name("mchbar_layout", tests, NULL, NULL);
}
