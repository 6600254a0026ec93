/* Small helpers more than one Parapet process needs: the monotonic clock
 * and deadlines, reading a whole file, memfd regions (create, seal, map)
 * for guest RAM and shared rings, and the stop signals. */
#ifndef PARAPET_UTIL_H
#define PARAPET_UTIL_H

#include <stdbool.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define UTIL_NS_PER_MS 1000000ull
#define UTIL_NS_PER_S  1000000000ull

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t util_now_ns(void);
/* The CLOCK_MONOTONIC time (ns) ms milliseconds from now. */
uint64_t util_deadline_ns(uint64_t ms);
/* Milliseconds left until deadline_ns (CLOCK_MONOTONIC), as a poll or
 * nng timeout: 0 once it has passed, else one more than the whole
 * milliseconds left (a wait that long reaches it), at most INT_MAX. */
int util_ms_until(uint64_t deadline_ns);
/* The time ns nanoseconds from now on clock (the condition variable's:
 * CLOCK_MONOTONIC or CLOCK_REALTIME), for pthread_cond_timedwait. */
struct timespec util_abstime_ns(clockid_t clock, uint64_t ns);

/* Why util_read_file failed. */
enum util_read_err {
	UTIL_READ_OK = 0,
	UTIL_READ_OPEN,	       /* cannot open or stat it (errno set) */
	UTIL_READ_NOT_REGULAR, /* not a regular file */
	UTIL_READ_TOO_LARGE,   /* more than max bytes */
	UTIL_READ_IO,	       /* read error or out of memory (errno set) */
};

/* Reads the whole regular file at path, at most max bytes, into a
 * malloc'd *buf (free it) followed by a NUL byte that *len does not
 * count. Returns UTIL_READ_OK or an error (*buf NULL). */
int util_read_file(const char *path, size_t max, uint8_t **buf, size_t *len);
/* "not a regular file", "too large", or strerror(errno) for the errors
 * that set errno: call it before anything else changes errno. */
const char *util_read_strerror(int err);

/* Puts the file tmp in path's place atomically, as rename(2) does, but
 * when path exists by exchanging the two (renameat2 RENAME_EXCHANGE) and
 * unlinking the old one at tmp. On ext4, a file renamed over another has
 * its blocks allocated and its writeback started at once (auto_da_alloc),
 * and mounted with discard, freeing the replaced file's blocks (and,
 * later, the last one's at its unlink) waits for the device: milliseconds
 * each, where an exchange of files never written back costs microseconds.
 * For files rewritten often in a run directory (status.json,
 * timeline.json) on a /run that is ext4. 0, or -1 with errno set. */
int util_replace_file(const char *tmp, const char *path);

/* Creates a close-on-exec memfd of size bytes that allows sealing.
 * Returns the fd, or -1 with errno set. */
int util_memfd_create(const char *name, size_t size);

/* Adds seals (F_SEAL_*) to a memfd. Returns 0, or -1 with errno set. */
int util_memfd_seal(int fd, unsigned int seals);

/* Size of the file behind fd, or -1 with errno set. */
long long util_fd_size(int fd);

/* Maps size bytes of fd shared, with prot (PROT_*). Returns the mapping,
 * or NULL with errno set. Unmap with util_unmap. */
void *util_map(int fd, size_t size, int prot);
void util_unmap(void *addr, size_t size);

/* The stop signals, SIGTERM and SIGINT: a process blocks them in every
 * thread (set them before starting threads) and one thread waits. */
void util_stop_signals(sigset_t *set);
/* Waits for a stop signal (blocked beforehand); returns it. */
int util_wait_stop_signal(void);

/* Sets path's POSIX access ACL: the owner, one more user (uid) and the
 * group and others with the given rwx bits (4 r, 2 w, 1 x); the mask is
 * uid_perm | group_perm. 0, or -1 with errno (EINVAL where uid is not
 * mapped in this user namespace). */
int util_acl_grant(const char *path, unsigned owner_perm, uid_t uid,
		   unsigned uid_perm, unsigned group_perm, unsigned other_perm);

/* Whether fd is an open SOCK_SEQPACKET socket (an inherited channel,
 * not whatever else a parent left at that number). */
bool util_is_seqpacket(int fd);

/* memset(p, 0, n) that does not write the whole pages already zero: an
 * untouched page of a static object or a fresh mapping reads as the
 * kernel's shared zero page and stays out of the process's memory,
 * where a write would make it resident. */
void util_zero(void *p, size_t n);
/* True when the n bytes at p (word aligned, n a multiple of the word)
 * are all zero. */
bool util_all_zero(const void *p, size_t n);

#endif
