/* The device side of a virtio split virtqueue in memory shared by a
 * vhost-user front-end (the SET_MEM_TABLE regions). Everything in that
 * memory is the guest's and may change at any time: each descriptor is
 * copied once, then checked (index, loops, length, address inside one
 * region, readable before writable, no INDIRECT); a bad chain is an
 * error for that request only. Layouts and flags come from
 * <linux/virtio_ring.h>. */
#ifndef PARAPET_VIRTQ_H
#define PARAPET_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_ring.h>

#include "lib/vhost_user.h"

#define VIRTQ_MAX_REGIONS VHOST_USER_MAX_REGIONS
#define VIRTQ_NUM_MAX	  1024u	     /* largest queue accepted */
#define VIRTQ_CHAIN_MAX	  128u	     /* descriptors in one chain */
#define VIRTQ_BYTES_MAX	  (4u << 20) /* bytes in one chain */

enum virtq_err {
	VIRTQ_OK = 0,
	VIRTQ_ERR_SYS = -1,	 /* system call failed: see errno */
	VIRTQ_ERR_REGION = -2,	 /* a memory region is malformed */
	VIRTQ_ERR_RING = -3,	 /* ring layout or avail index broken */
	VIRTQ_ERR_HEAD = -4,	 /* head index out of range */
	VIRTQ_ERR_INDEX = -5,	 /* next index out of range */
	VIRTQ_ERR_LOOP = -6,	 /* more descriptors than the queue */
	VIRTQ_ERR_LONG = -7,	 /* over VIRTQ_CHAIN_MAX or _BYTES_MAX */
	VIRTQ_ERR_ADDR = -8,	 /* buffer outside the memory table */
	VIRTQ_ERR_INDIRECT = -9, /* INDIRECT descriptors are not offered */
	VIRTQ_ERR_ORDER = -10,	 /* readable after writable */
};

const char *virtq_strerror(int err);

/* One region of the front-end's memory as this process maps it. */
struct virtq_region {
	uint64_t gpa;	/* guest-physical start */
	uint64_t size;	/* bytes */
	uint64_t uaddr; /* the front-end's address of it (ring addresses) */
	uint8_t *host;	/* our address of gpa */
	void *map;	/* the mapping to unmap (NULL: not ours) */
	size_t map_len;
};

struct virtq_mem {
	struct virtq_region r[VIRTQ_MAX_REGIONS];
	unsigned n;
};

/* Adds a region already in memory at host (not unmapped by
 * virtq_mem_clear). Refused: empty, wrapping, overlapping another
 * region's gpa or uaddr range, or a full table. 0 or an error. */
int virtq_mem_add(struct virtq_mem *m, uint64_t gpa, uint64_t size,
		  uint64_t uaddr, void *host);

/* Maps the regions of a SET_MEM_TABLE from their descriptors (one per
 * region, in order), replacing m's contents. Each descriptor must be a
 * memfd sealed against shrinking (a front-end that truncates it would
 * otherwise kill this process with SIGBUS) and hold mmap_offset + size
 * bytes. On error m is left empty. The descriptors stay open. */
int virtq_mem_map(struct virtq_mem *m, const struct vhost_user_mem_table *t,
		  const int *fds);

/* Unmaps what virtq_mem_map mapped and empties m. */
void virtq_mem_clear(struct virtq_mem *m);

/* Our pointer to [gpa, gpa + len) when it lies inside one region, else
 * NULL. Overflow-safe for any gpa and len. */
void *virtq_mem_gpa(const struct virtq_mem *m, uint64_t gpa, uint64_t len);
/* The same for the front-end's addresses (SET_VRING_ADDR). */
void *virtq_mem_uaddr(const struct virtq_mem *m, uint64_t uaddr, uint64_t len);

/* The inflight region of one split queue, as the vhost-user spec lays it
 * out ("Inflight I/O tracking"): shared memory the front-end keeps while
 * back-ends come and go, where each chain taken is marked before it runs
 * and cleared once its completion is on the used ring, so that the next
 * back-end runs again exactly the chains not completed. Its contents come
 * from a previous process: checked before use. */
struct virtq_inflight_desc {
	uint8_t inflight; /* head taken, not yet completed */
	uint8_t padding[5];
	uint16_t next;	  /* the last batch's list (batches of one here) */
	uint64_t counter; /* order in which heads were taken */
};

struct virtq_inflight {
	uint64_t features;
	uint16_t version;	  /* 0: fresh; VIRTQ_INFLIGHT_VERSION */
	uint16_t desc_num;	  /* entries of desc[] */
	uint16_t last_batch_head; /* head being completed */
	uint16_t used_idx;	  /* the used index once it was cleared */
	struct virtq_inflight_desc desc[];
};

#define VIRTQ_INFLIGHT_VERSION 1

/* One queue's inflight region as this process maps it. */
struct virtq_inflight_map {
	struct virtq_inflight *r; /* NULL: none */
	unsigned desc_num;
	void *map;
	size_t map_len;
};

/* Maps the first queue's region of size bytes at offset of fd, for
 * desc_num entries: fd must be a memfd sealed against shrinking, size at
 * least virtq_inflight_size(desc_num). Replaces what im held. 0 or an
 * error (im unchanged). */
int virtq_inflight_map(struct virtq_inflight_map *im, int fd, uint64_t offset,
		       uint64_t size, unsigned desc_num);
void virtq_inflight_unmap(struct virtq_inflight_map *im);

struct virtq {
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t num;	     /* entries, a power of two */
	uint16_t last_avail; /* next avail entry to take */
	uint16_t used_idx;   /* next used entry to fill */
	bool ready;
	struct virtq_inflight *inflight; /* NULL: not tracked */
	uint64_t counter;		 /* the next head's inflight counter */
};

/* Points q at a ring of num entries whose parts are at the front-end's
 * addresses desc/avail/used (aligned 16/2/4, whole inside m), starting
 * at avail entry base. 0 or an error (q not ready). */
int virtq_setup(struct virtq *q, const struct virtq_mem *m, unsigned num,
		uint64_t desc, uint64_t avail, uint64_t used, uint16_t base);

/* Bytes of one queue's inflight region for desc_num entries, a multiple
 * of 64 (each queue's region starts 64-byte aligned); 0 for a desc_num
 * of 0 or over VIRTQ_NUM_MAX. */
size_t virtq_inflight_size(unsigned desc_num);

/* Attaches the inflight region r of desc_num entries (at least q->num)
 * to q, a ring just set up, and recovers from the back-end before: a
 * fresh region (version 0) is initialised; otherwise a completion whose
 * used index was published but whose entry was not cleared is cleared,
 * q's used index is read from the used ring and its next avail entry is
 * that plus the chains still marked, whose heads go to heads (room for
 * q->num) in the order they were taken, to be walked (virtq_walk), run
 * and pushed again. Returns their count, or an error (the
 * region or the ring is inconsistent; q is then left untracked). */
int virtq_inflight_attach(struct virtq *q, struct virtq_inflight *r,
			  unsigned desc_num, uint16_t *heads);

/* One request's buffers: first n_out device-readable, then n_in
 * device-writable, as iovecs into the shared memory. */
struct virtq_chain {
	uint16_t head;
	unsigned n_out, n_in;
	size_t out_len, in_len;
	struct iovec iov[VIRTQ_CHAIN_MAX];
};

/* Takes the next available chain into c (marked in flight when the
 * queue has an inflight region). 1: a chain; 0: none waiting;
 * VIRTQ_ERR_RING: the avail index is more than num ahead (the queue is
 * broken: stop using it); VIRTQ_ERR_HEAD: the entry named no descriptor
 * (consumed, nothing to return); any other error: the chain at c->head
 * is malformed (consumed; return it with virtq_push, length 0). */
int virtq_pop(struct virtq *q, const struct virtq_mem *m,
	      struct virtq_chain *c);

/* Walks the chain starting at head (used by virtq_pop; exposed for
 * tests and fuzzing). 0 or an error. */
int virtq_walk(const struct virtq *q, const struct virtq_mem *m, uint16_t head,
	       struct virtq_chain *c);

/* Returns head to the used ring with len bytes written; publishes the
 * used index with release order. With an inflight region: the head is
 * noted as the batch in progress before, and cleared after. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);

/* Whether the driver wants an interrupt (VRING_AVAIL_F_NO_INTERRUPT
 * clear). */
bool virtq_should_notify(const struct virtq *q);

/* Copies up to len bytes from offset off of the chain's readable part
 * into dst; returns the bytes copied. */
size_t virtq_chain_read(const struct virtq_chain *c, size_t off, void *dst,
			size_t len);
/* Copies len bytes into the chain's writable part at offset off; returns
 * the bytes copied. */
size_t virtq_chain_write(const struct virtq_chain *c, size_t off,
			 const void *src, size_t len);

/* Fills out (at most max entries) with the iovecs covering len bytes from
 * offset off of the readable (in = false) or writable part. Returns the
 * iovec count, or -1 when the part is shorter or max too small. */
int virtq_chain_slice(const struct virtq_chain *c, bool in, size_t off,
		      size_t len, struct iovec *out, unsigned max);

#endif
