/* libFuzzer harness for the shim's host device tree reader
 * (boot/shim_config.c, shim_read_host_dt: `parapet run --host-dtb`). It
 * reads a file, so each input goes through a memfd named by its
 * /proc/self/fd path; what it accepts must hold terminated strings. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot/shim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct shim s;
static char path[64];
static int fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Nearly every input is refused with a warning: keep the log
	 * quiet. libFuzzer and the sanitizers do not print through stderr's
	 * FILE, so their reports still reach fd 2. */
	stderr = fopen("/dev/null", "w");
	fd = memfd_create("host-dtb", MFD_CLOEXEC);
	if (fd < 0 || stderr == NULL)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

static void check_string(const char *v, size_t cap)
{
	if (strnlen(v, cap) == cap)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	memset(&s.host, 0, sizeof(s.host));
	s.a.host_dtb = path;
	if (shim_read_host_dt(&s) != 0)
		return 0;
	check_string(s.host.bootargs, sizeof(s.host.bootargs));
	check_string(s.host.accel, sizeof(s.host.accel));
	check_string(s.host.sidecar_cpus, sizeof(s.host.sidecar_cpus));
	return 0;
}
