// SPDX-License-Identifier: GPL-2.0
/* sysfs and raw ioctl helpers of the bwarb selftests (see the header). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bwarb_selftest_io.h"

int sysfs_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int sysfs_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

int knob_write(const char *name, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), SYSFS "%s", name);
	return sysfs_write(path, val);
}

int knob_set(const char *name, unsigned long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", v);
	return knob_write(name, buf);
}

unsigned long long knob_get(const char *name)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), SYSFS "%s", name);
	if (sysfs_read(path, buf, sizeof(buf)) || !buf[0])
		return ~0ULL;
	return strtoull(buf, NULL, 10);
}

int knobs_set(unsigned long long period_us, unsigned long long cap,
	      unsigned long long guar)
{
	int ret;

	if (guar <= knob_get("capacity_mbps")) {
		ret = knob_set("guaranteed_mbps", guar);
		if (!ret)
			ret = knob_set("capacity_mbps", cap);
	} else {
		ret = knob_set("capacity_mbps", cap);
		if (!ret)
			ret = knob_set("guaranteed_mbps", guar);
	}
	if (!ret)
		ret = knob_set("period_us", period_us);
	return ret;
}

void wait_periods(unsigned long long n, unsigned int period_us)
{
	unsigned long long end = knob_get("periods") + n;

	while (knob_get("periods") < end)
		usleep(period_us / 2);
}

int dev_open(void)
{
	return open(BWARB_DEVICE_PATH, O_RDWR | O_CLOEXEC);
}

int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

int do_register_burst(int fd, const char *name, __u32 weight, __u64 reserve,
		      __u64 burst_bytes)
{
	struct bwarb_register r;

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.class = BWARB_CLASS_CPU;
	snprintf(r.name, sizeof(r.name), "%s", name);
	r.weight = weight;
	r.reserve_mbps = reserve;
	r.burst_bytes = burst_bytes;
	return xioctl(fd, BWARB_IOC_REGISTER, &r);
}

int do_register(int fd, const char *name, __u32 weight, __u64 reserve)
{
	return do_register_burst(fd, name, weight, reserve, 1 * MB);
}

int do_acquire(int fd, __u64 bytes, __u64 timeout_ns, __u32 flags,
	       struct bwarb_acquire *out)
{
	struct bwarb_acquire a;
	int ret;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.bytes = bytes;
	a.timeout_ns = timeout_ns;
	a.flags = flags;
	ret = xioctl(fd, BWARB_IOC_ACQUIRE, &a);
	if (out)
		*out = a;
	return ret;
}

int acquire_id(int fd, __u64 bytes, __u64 timeout_ns, __u32 flags,
	       __u64 *grant_id)
{
	struct bwarb_acquire a;
	int ret = do_acquire(fd, bytes, timeout_ns, flags, &a);

	if (!ret)
		*grant_id = a.grant_id;
	return ret;
}

int do_complete(int fd, __u64 grant_id, __u64 actual)
{
	struct bwarb_complete c;

	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.grant_id = grant_id;
	c.actual_bytes = actual;
	return xioctl(fd, BWARB_IOC_COMPLETE, &c);
}

int do_query(int fd, struct bwarb_query *q)
{
	memset(q, 0, sizeof(*q));
	q->size = sizeof(*q);
	return xioctl(fd, BWARB_IOC_QUERY, q);
}
