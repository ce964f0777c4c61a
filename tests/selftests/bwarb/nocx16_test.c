// SPDX-License-Identifier: GPL-2.0
/*
 * The client library on a CPU without cmpxchg16b (issue 11): suite
 * selftests runs this in a guest booted with -cpu max,-cx16. Short
 * completes of fast grants must not execute cmpxchg16b there (before:
 * SIGILL); their unused bytes then simply expire.
 */
#include <cpuid.h>
#include <stdio.h>

#include "kselftest_harness.h"
#include "kmod/uapi/bwarb.h"
#include "arbiter/bwarb_client.h"
#include "bwarb_selftest_io.h"

TEST(short_fast_completes_without_cx16)
{
	struct bwarb_register_opts o = { .name = "nocx16", .class = 0, .weight = 1,
					 .burst_bytes = 1000000 };
	unsigned int a, b, c, d;
	struct bwarb_client *cl;
	uint64_t id;
	int i, fast = 0;

	ASSERT_TRUE(__get_cpuid(1, &a, &b, &c, &d));
	if (c & bit_CMPXCHG16B)
		SKIP(return, "this CPU has cmpxchg16b (boot with VM_CPU=max,-cx16)");
	ASSERT_EQ(0, knobs_set(1000, 1000, 500));
	ASSERT_EQ(0, bwarb_open(NULL, &cl));
	ASSERT_EQ(0, bwarb_register(cl, &o));
	ASSERT_TRUE(bwarb_has_fastpath(cl));
	for (i = 0; i < 20000; i++) {
		ASSERT_EQ(0, bwarb_acquire(cl, 1000, 1000000000ULL, 0, &id));
		fast += !!(id & BWARB_FAST_GRANT_FLAG);
		ASSERT_EQ(0, bwarb_complete(cl, id, 500));
	}
	TH_LOG("%d of 20000 grants through the fast path", fast);
	EXPECT_LT(0, fast);
	bwarb_close(cl);
}

TEST_HARNESS_MAIN
