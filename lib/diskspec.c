/* `--disk` values: see diskspec.h. */
#include "lib/diskspec.h"

#include <string.h>

#include "lib/guest_abi.h"

#define VHOST_USER_PREFIX "vhost-user="

int diskspec_parse(const char *s, struct diskspec *d, const char **why)
{
	size_t len;

	memset(d, 0, sizeof(*d));
	if (strncmp(s, VHOST_USER_PREFIX, strlen(VHOST_USER_PREFIX)) == 0) {
		d->backend = DISKSPEC_VHOST_USER;
		s += strlen(VHOST_USER_PREFIX);
		len = strlen(s);
		if (len > 3 && strcmp(s + len - 3, ",ro") == 0) {
			*why = "a vhost-user backend decides itself whether "
			       "the disk is read-only";
			return -1;
		}
	} else {
		d->backend = DISKSPEC_BLKD;
		len = strlen(s);
		if (len > 3 && strcmp(s + len - 3, ",ro") == 0) {
			d->read_only = true;
			len -= 3;
		}
	}
	if (len == 0) {
		*why = d->backend == DISKSPEC_BLKD ? "want PATH[,ro]"
						   : "want vhost-user=SOCKET";
		return -1;
	}
	if (len >= sizeof(d->path)) {
		*why = "path too long";
		return -1;
	}
	if (memchr(s, ',', len) != NULL) {
		*why = "unknown option after ',' (only ',ro' is known)";
		return -1;
	}
	memcpy(d->path, s, len);
	d->path[len] = '\0';
	return 0;
}

static const char *const backend_names[] = {
	[DISKSPEC_BLKD] = "blkd",
	[DISKSPEC_VHOST_USER] = "vhost-user",
};

const char *diskspec_backend_name(enum diskspec_backend b)
{
	return (unsigned)b < sizeof(backend_names) / sizeof(backend_names[0])
		   ? backend_names[b]
		   : "?";
}

int diskspec_backend_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(backend_names) / sizeof(backend_names[0]);
	     i++)
		if (strcmp(name, backend_names[i]) == 0)
			return (int)i;
	return -1;
}

uint64_t diskspec_gpa(unsigned index)
{
	return GUEST_VIRTIO_MMIO_GPA + index * GUEST_VIRTIO_MMIO_SIZE;
}

unsigned diskspec_irq(unsigned index)
{
	return GUEST_VIRTIO_MMIO_IRQ + index;
}
