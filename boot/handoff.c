/* The shim's "kernel handoff" (DESIGN.md §2 step 5): private mounts, proc
 * and sysfs, and /sys/firmware holding the boot device tree as Linux
 * exposes it (the blob at /sys/firmware/fdt, one directory per node and
 * one file per property under /sys/firmware/devicetree/base). */
#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/shim.h"
#include "lib/log.h"
#include "lib/partition.h"

static int handoff_write_file(int dirfd, const char *name, const void *data,
			      size_t len)
{
	int fd =
	    openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	const uint8_t *p = data;

	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return close(fd);
}

/* Writes node's properties into dirfd, then one directory per subnode. */
static int handoff_tree(const void *fdt, int node, int dirfd, int depth)
{
	int prop, sub;

	if (depth > 32)
		return -1;
	fdt_for_each_property_offset(prop, fdt, node)
	{
		const char *name;
		int len;
		const void *v = fdt_getprop_by_offset(fdt, prop, &name, &len);

		if (v == NULL || strchr(name, '/') ||
		    handoff_write_file(dirfd, name, v, (size_t)len) != 0)
			return -1;
	}
	fdt_for_each_subnode(sub, fdt, node)
	{
		const char *name = fdt_get_name(fdt, sub, NULL);
		int fd, rc;

		if (name == NULL || strchr(name, '/') ||
		    mkdirat(dirfd, name, 0555) != 0)
			return -1;
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		rc = handoff_tree(fdt, sub, fd, depth + 1);
		close(fd);
		if (rc != 0)
			return -1;
	}
	return 0;
}

static int handoff_firmware(const struct shim *s)
{
	int fd, rc;

	if (mount("tmpfs", "/sys/firmware", "tmpfs",
		  MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=4m") != 0) {
		log_err("mount tmpfs on /sys/firmware");
		return -1;
	}
	if (handoff_write_file(AT_FDCWD, PARTITION_FDT_PATH, s->dtb,
			       s->dtb_len) != 0 ||
	    mkdir("/sys/firmware/devicetree", 0755) != 0 ||
	    mkdir(PARTITION_DT_BASE_PATH, 0555) != 0) {
		log_err("writing /sys/firmware");
		return -1;
	}
	fd = open(PARTITION_DT_BASE_PATH, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = fd < 0 ? -1 : handoff_tree(s->dtb, 0, fd, 0);
	if (fd >= 0)
		close(fd);
	if (rc != 0) {
		log_err("writing %s", PARTITION_DT_BASE_PATH);
		return -1;
	}
	/* Read-only from here on, as the kernel's. */
	if (mount(NULL, "/sys/firmware", NULL,
		  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
		      MS_NOEXEC,
		  NULL) != 0) {
		log_err("remount /sys/firmware read-only");
		return -1;
	}
	return 0;
}

int shim_handoff(struct shim *s)
{
	const unsigned long fl = MS_NOSUID | MS_NODEV | MS_NOEXEC;

	/* unshare(CLONE_NEWNS) keeps shared propagation: without this every
	 * mount below would show up in the host's table. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		log_err("make / private");
		return -1;
	}
	if (mount("proc", "/proc", "proc", fl, NULL) != 0) {
		log_err("mount proc");
		return -1;
	}
	/* sysfs first: mounted later it would hide /sys/firmware. */
	if (mount("sysfs", "/sys", "sysfs", fl, NULL) != 0) {
		log_err("mount sysfs");
		return -1;
	}
	return handoff_firmware(s);
}
