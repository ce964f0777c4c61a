/* SPDX-License-Identifier: MIT */
/*
 * Client library for /dev/bwarb: one struct bwarb_client per open file.
 * Every function returns 0 or a negative errno; bwarb_open() returns
 * -ENOENT when the device does not exist (module not loaded).
 *
 * Signatures are a contract with the runtime's arbiter
 * (libruntime/arbiter*.c): extend, do not change.
 */
#ifndef SPLITMOE_BWARB_CLIENT_H
#define SPLITMOE_BWARB_CLIENT_H

#include <stdint.h>

#define BWARB_DEFAULT_PATH "/dev/bwarb"

struct bwarb_client;

struct bwarb_register_opts {
	const char *name;	/* shown in stats; truncated to the UAPI size */
	uint32_t class;		/* enum arb_class: 0 cpu, 1 gpu, 2 other */
	uint32_t weight;
	uint64_t reserve_mbps;
	uint64_t burst_bytes;
};

struct bwarb_client_info {
	uint64_t granted_bytes;
	uint64_t completed_bytes;
	uint64_t grants;
	uint64_t waits;
	uint64_t max_wait_ns;
	uint64_t fast_bytes;	/* consumed through the fast path (settled) */
	uint64_t tamper_events;	/* fast-path page inconsistencies */
};

/* flags for bwarb_acquire() */
#define BWARB_ACQ_NONBLOCK 0x1u

int bwarb_open(const char *path, struct bwarb_client **out);
int bwarb_register(struct bwarb_client *c, const struct bwarb_register_opts *o);
/* timeout_ns 0 waits without limit (interruptibly). -EAGAIN with
 * BWARB_ACQ_NONBLOCK, -ETIMEDOUT, -EINTR. */
int bwarb_acquire(struct bwarb_client *c, uint64_t bytes, uint64_t timeout_ns,
		  uint32_t flags, uint64_t *grant_id);
int bwarb_complete(struct bwarb_client *c, uint64_t grant_id, uint64_t actual_bytes);
int bwarb_query(struct bwarb_client *c, struct bwarb_client_info *out);
void bwarb_close(struct bwarb_client *c);

/* One line explaining a negative errno of these functions ("/dev/bwarb
 * does not exist: the bwarb module is not loaded" for -ENOENT, ...). */
const char *bwarb_strerror(int err);

/*
 * Fast path: bwarb_register() maps the client's budget page when the module
 * offers it; bwarb_acquire() then takes from it with an atomic operation
 * and only makes a system call when it is short. Such grants have
 * BWARB_FAST_GRANT_FLAG set in their id; completing one with fewer bytes
 * puts the difference back on the page while the period it was taken in
 * lasts (after its boundary the bytes have expired: nothing is returned),
 * with more takes the
 * excess from the page or, failing that, acquires it without waiting
 * (-EAGAIN if even that fails). A fast grant, like any grant, is completed
 * once (the library keeps no record of it). bwarb_set_fastpath(c, 0) forces the ioctl
 * path (benchmarks, tests); -ENODEV when no page is mapped.
 */
int bwarb_set_fastpath(struct bwarb_client *c, int enable);
int bwarb_has_fastpath(const struct bwarb_client *c);
/* The client id the module gave at registration (0 before). */
uint32_t bwarb_client_id(const struct bwarb_client *c);
/* The open /dev/bwarb file (tests map the page a second time with it). */
int bwarb_client_fd(const struct bwarb_client *c);

#endif /* SPLITMOE_BWARB_CLIENT_H */
