/* The host CLI's libexec directory (see libexec.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "host/libexec.h"

int libexec_find(const char *prog, char *dir, size_t len, char *err,
		 size_t err_len)
{
	char exe[2048], probe[4300];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0) {
		snprintf(err, err_len, "cannot read /proc/self/exe: %s",
			 strerror(errno));
		return -1;
	}
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(probe, sizeof(probe), "%s/%s", exe, prog);
	if (access(probe, X_OK) == 0) {
		snprintf(dir, len, "%s", exe);
		return 0;
	}
	snprintf(dir, len, "%s/../libexec/parapet", exe);
	snprintf(probe, sizeof(probe), "%s/%s", dir, prog);
	if (access(probe, X_OK) == 0)
		return 0;
	snprintf(err, err_len, "%s not found next to %s nor in %s", prog, exe,
		 dir);
	return -1;
}
