/* Small helpers more than one Parapet process needs: the monotonic clock
 * and memfd regions (create, seal, map) for guest RAM and shared rings. */
#ifndef PARAPET_UTIL_H
#define PARAPET_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t util_now_ns(void);

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

#endif
