// SPDX-License-Identifier: GPL-2.0 OR MIT
/* bwarbctl: reading and writing the module's sysfs attributes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bwarbctl.h"

const char *bwarbctl_sysfs_dir(void)
{
	const char *d = getenv("BWARB_SYSFS_DIR");

	return d && *d ? d : BWARB_SYSFS_DEFAULT;
}

static int attr_path(const char *attr, char *path, size_t len)
{
	int n = snprintf(path, len, "%s/%s", bwarbctl_sysfs_dir(), attr);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int bwarbctl_sysfs_read(const char *attr, char *buf, size_t len)
{
	char path[4096];
	ssize_t n;
	int fd, ret;

	ret = attr_path(attr, path, sizeof(path));
	if (ret)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	ret = n < 0 ? -errno : 0;
	close(fd);
	if (ret)
		return ret;
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

int bwarbctl_sysfs_write(const char *attr, const char *value)
{
	size_t len = strlen(value);
	char path[4096];
	ssize_t n;
	int fd, ret;

	ret = attr_path(attr, path, sizeof(path));
	if (ret)
		return ret;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, value, len);
	ret = n < 0 ? -errno : (size_t)n != len ? -EIO : 0;
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

int bwarbctl_require_module(void)
{
	struct stat sb;

	if (stat(bwarbctl_sysfs_dir(), &sb) == 0 && S_ISDIR(sb.st_mode))
		return 0;
	fprintf(stderr, "bwarbctl: %s does not exist: the bwarb module is not loaded (insmod bwarb.ko)\n",
		bwarbctl_sysfs_dir());
	return 1;
}
