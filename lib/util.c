/* Small shared helpers: monotonic time and deadlines, whole-file reads,
 * file replacement, memfd create/seal/map. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "lib/util.h"

uint64_t util_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * UTIL_NS_PER_S + (uint64_t)ts.tv_nsec;
}

uint64_t util_deadline_ns(uint64_t ms)
{
	return util_now_ns() + ms * UTIL_NS_PER_MS;
}

int util_ms_until(uint64_t deadline_ns)
{
	uint64_t now = util_now_ns(), ms;

	if (deadline_ns <= now)
		return 0;
	ms = (deadline_ns - now) / UTIL_NS_PER_MS + 1;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

struct timespec util_abstime_ns(clockid_t clock, uint64_t ns)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	ns += (uint64_t)ts.tv_nsec;
	ts.tv_sec += (time_t)(ns / UTIL_NS_PER_S);
	ts.tv_nsec = (long)(ns % UTIL_NS_PER_S);
	return ts;
}

/* Reads fd to its end into a buffer that starts at the file's size and
 * grows (the size may change under us); more than max bytes fail. */
static int util_read_fd(int fd, size_t size, size_t max, uint8_t **buf,
			size_t *len)
{
	size_t cap = (size < max ? size : max) + 1, n = 0;
	uint8_t *b = malloc(cap + 1), *nb;
	ssize_t got;

	while (b != NULL) {
		if (n == cap) {
			cap = cap > max / 2 ? max + 1 : cap * 2;
			if ((nb = realloc(b, cap + 1)) == NULL)
				break;
			b = nb;
		}
		got = read(fd, b + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			break;
		if (got == 0) {
			b[n] = '\0';
			*buf = b;
			*len = n;
			return UTIL_READ_OK;
		}
		n += (size_t)got;
		if (n > max) {
			free(b);
			return UTIL_READ_TOO_LARGE;
		}
	}
	free(b);
	return UTIL_READ_IO;
}

int util_read_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc, saved;
	struct stat st;

	*buf = NULL;
	*len = 0;
	if (max > SIZE_MAX / 2)
		max = SIZE_MAX / 2; /* max + 2 bytes must not overflow */
	if (fd < 0)
		return UTIL_READ_OPEN;
	if (fstat(fd, &st) != 0)
		rc = UTIL_READ_OPEN;
	else if (!S_ISREG(st.st_mode))
		rc = UTIL_READ_NOT_REGULAR;
	else if ((uint64_t)st.st_size > max)
		rc = UTIL_READ_TOO_LARGE;
	else
		rc = util_read_fd(fd, (size_t)st.st_size, max, buf, len);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

const char *util_read_strerror(int err)
{
	switch (err) {
	case UTIL_READ_OK:
		return "success";
	case UTIL_READ_NOT_REGULAR:
		return "not a regular file";
	case UTIL_READ_TOO_LARGE:
		return "too large";
	default:
		return strerror(errno);
	}
}

int util_replace_file(const char *tmp, const char *path)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE) == 0) {
		/* tmp holds the old file now: it is gone once unlinked, and
		 * a failed unlink leaves it to the next write's O_TRUNC */
		(void)unlink(tmp);
		return 0;
	}
	/* ENOENT: no path yet (or no tmp: rename says so); EINVAL: a file
	 * system without exchange */
	return rename(tmp, path);
}

int util_memfd_create(const char *name, size_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int saved;

	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)size) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int util_memfd_seal(int fd, unsigned int seals)
{
	return fcntl(fd, F_ADD_SEALS, (int)seals) < 0 ? -1 : 0;
}

long long util_fd_size(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	return (long long)st.st_size;
}

void *util_map(int fd, size_t size, int prot)
{
	void *p = mmap(NULL, size, prot, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

void util_unmap(void *addr, size_t size)
{
	if (addr != NULL)
		munmap(addr, size);
}

void util_stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

int util_wait_stop_signal(void)
{
	sigset_t set;
	int sig = 0;

	util_stop_signals(&set);
	while (sigwait(&set, &sig) != 0)
		;
	return sig;
}

/* The kernel's posix_acl_xattr layout: a version, then (tag, perm, id)
 * entries sorted by tag (little endian, as on x86-64). */
int util_acl_grant(const char *path, unsigned owner_perm, uid_t uid,
		   unsigned uid_perm, unsigned group_perm, unsigned other_perm)
{
	struct {
		uint16_t tag, perm;
		uint32_t id;
	} e[] = {
		{ 0x01, (uint16_t)owner_perm, UINT32_MAX },  /* USER_OBJ */
		{ 0x02, (uint16_t)uid_perm, (uint32_t)uid }, /* USER */
		{ 0x04, (uint16_t)group_perm, UINT32_MAX },  /* GROUP_OBJ */
		{ 0x10, (uint16_t)(uid_perm | group_perm),
		  UINT32_MAX },				    /* MASK */
		{ 0x20, (uint16_t)other_perm, UINT32_MAX }, /* OTHER */
	};
	uint8_t blob[4 + sizeof(e)];
	uint32_t version = 2;

	memcpy(blob, &version, 4);
	memcpy(blob + 4, e, sizeof(e));
	return setxattr(path, "system.posix_acl_access", blob, sizeof(blob), 0);
}

bool util_is_seqpacket(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
	       getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	       type == SOCK_SEQPACKET;
}

#define UTIL_ZERO_PAGE 4096u /* the smallest page: a safe stride */

bool util_all_zero(const void *p, size_t n)
{
	const unsigned long *w = p;
	unsigned long any = 0;

	for (size_t i = 0; i < n / sizeof(*w); i++)
		any |= w[i];
	return any == 0;
}

void util_zero(void *p, size_t n)
{
	char *c = p, *end = c + n;

	while (c < end) {
		char *next =
		    (char *)(((uintptr_t)c & ~(uintptr_t)(UTIL_ZERO_PAGE - 1)) +
			     UTIL_ZERO_PAGE);

		if (next > end)
			next = end;
		if (next - c < (ptrdiff_t)UTIL_ZERO_PAGE ||
		    !util_all_zero(c, UTIL_ZERO_PAGE))
			memset(c, 0, (size_t)(next - c));
		c = next;
	}
}
