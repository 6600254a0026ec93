/* The device side of a virtio split virtqueue: the memory table, the
 * ring's three parts, taking a chain without trusting it, and returning
 * it on the used ring. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/virtq.h"

const char *virtq_strerror(int err)
{
	switch (err) {
	case VIRTQ_OK:
		return "success";
	case VIRTQ_ERR_SYS:
		return strerror(errno);
	case VIRTQ_ERR_REGION:
		return "malformed memory region";
	case VIRTQ_ERR_RING:
		return "ring layout or available index broken";
	case VIRTQ_ERR_HEAD:
		return "head descriptor index out of range";
	case VIRTQ_ERR_INDEX:
		return "next descriptor index out of range";
	case VIRTQ_ERR_LOOP:
		return "descriptor chain loops";
	case VIRTQ_ERR_LONG:
		return "descriptor chain too long";
	case VIRTQ_ERR_ADDR:
		return "buffer outside guest memory";
	case VIRTQ_ERR_INDIRECT:
		return "indirect descriptors not negotiated";
	case VIRTQ_ERR_ORDER:
		return "device-readable buffer after a device-writable one";
	}
	return "unknown error";
}

/* Whether [a, a + alen) and [b, b + blen) meet (neither wraps). */
static bool ranges_meet(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int mem_add(struct virtq_mem *m, uint64_t gpa, uint64_t size,
		   uint64_t uaddr, void *host, void *map, size_t map_len)
{
	if (m->n >= VIRTQ_MAX_REGIONS || size == 0 || gpa > UINT64_MAX - size ||
	    uaddr > UINT64_MAX - size)
		return VIRTQ_ERR_REGION;
	for (unsigned i = 0; i < m->n; i++)
		if (ranges_meet(gpa, size, m->r[i].gpa, m->r[i].size) ||
		    ranges_meet(uaddr, size, m->r[i].uaddr, m->r[i].size))
			return VIRTQ_ERR_REGION;
	m->r[m->n++] =
	    (struct virtq_region){ gpa, size, uaddr, host, map, map_len };
	return VIRTQ_OK;
}

int virtq_mem_add(struct virtq_mem *m, uint64_t gpa, uint64_t size,
		  uint64_t uaddr, void *host)
{
	return mem_add(m, gpa, size, uaddr, host, NULL, 0);
}

/* Maps size bytes at offset of a memfd sealed against shrinking (so that
 * the peer cannot turn our accesses into SIGBUS): *host is the first
 * byte, *map and *map_len what to unmap. 0 or an error. */
static int map_sealed(int fd, uint64_t offset, uint64_t size, uint8_t **host,
		      void **map, size_t *map_len)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t off = offset & ~(uint64_t)(page - 1);
	uint64_t delta = offset - off;
	int seals = fcntl(fd, F_GET_SEALS);
	struct stat st;
	uint8_t *p;

	if (seals < 0 || !(seals & F_SEAL_SHRINK) || fstat(fd, &st) != 0 ||
	    !S_ISREG(st.st_mode))
		return VIRTQ_ERR_REGION;
	if (size == 0 || size > (uint64_t)st.st_size ||
	    offset > (uint64_t)st.st_size - size || size > SIZE_MAX - delta)
		return VIRTQ_ERR_REGION;
	p = mmap(NULL, size + delta, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)off);
	if (p == MAP_FAILED)
		return VIRTQ_ERR_SYS;
	*host = p + delta;
	*map = p;
	*map_len = size + delta;
	return VIRTQ_OK;
}

/* Maps one region from its descriptor. */
static int map_region(struct virtq_mem *m,
		      const struct vhost_user_mem_region *r, int fd)
{
	uint8_t *host;
	void *map;
	size_t len;
	int err =
	    map_sealed(fd, r->mmap_offset, r->memory_size, &host, &map, &len);

	if (err)
		return err;
	err = mem_add(m, r->guest_phys_addr, r->memory_size, r->userspace_addr,
		      host, map, len);
	if (err)
		munmap(map, len);
	return err;
}

int virtq_inflight_map(struct virtq_inflight_map *im, int fd, uint64_t offset,
		       uint64_t size, unsigned desc_num)
{
	size_t need = virtq_inflight_size(desc_num);
	uint8_t *host;
	void *map;
	size_t len;
	int err;

	/* aligned: the entries hold 64-bit counters */
	if (need == 0 || size < need || (offset & 7) != 0)
		return VIRTQ_ERR_REGION;
	err = map_sealed(fd, offset, need, &host, &map, &len);
	if (err)
		return err;
	virtq_inflight_unmap(im);
	im->r = (struct virtq_inflight *)(void *)host;
	im->desc_num = desc_num;
	im->map = map;
	im->map_len = len;
	return VIRTQ_OK;
}

void virtq_inflight_unmap(struct virtq_inflight_map *im)
{
	if (im->map != NULL)
		munmap(im->map, im->map_len);
	memset(im, 0, sizeof(*im));
}

int virtq_mem_map(struct virtq_mem *m, const struct vhost_user_mem_table *t,
		  const int *fds)
{
	virtq_mem_clear(m);
	if (t->nregions > VIRTQ_MAX_REGIONS)
		return VIRTQ_ERR_REGION;
	for (unsigned i = 0; i < t->nregions; i++) {
		int err = map_region(m, &t->regions[i], fds[i]);

		if (err) {
			int saved = errno;

			virtq_mem_clear(m);
			errno = saved;
			return err;
		}
	}
	return VIRTQ_OK;
}

void virtq_mem_clear(struct virtq_mem *m)
{
	for (unsigned i = 0; i < m->n; i++)
		if (m->r[i].map)
			munmap(m->r[i].map, m->r[i].map_len);
	memset(m, 0, sizeof(*m));
}

void *virtq_mem_gpa(const struct virtq_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct virtq_region *r = &m->r[i];

		if (gpa >= r->gpa && len <= r->size &&
		    gpa - r->gpa <= r->size - len)
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

void *virtq_mem_uaddr(const struct virtq_mem *m, uint64_t uaddr, uint64_t len)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct virtq_region *r = &m->r[i];

		if (uaddr >= r->uaddr && len <= r->size &&
		    uaddr - r->uaddr <= r->size - len)
			return r->host + (uaddr - r->uaddr);
	}
	return NULL;
}

int virtq_setup(struct virtq *q, const struct virtq_mem *m, unsigned num,
		uint64_t desc, uint64_t avail, uint64_t used, uint16_t base)
{
	memset(q, 0, sizeof(*q));
	if (num == 0 || num > VIRTQ_NUM_MAX || (num & (num - 1)))
		return VIRTQ_ERR_RING;
	q->desc = virtq_mem_uaddr(m, desc, 16ull * num);
	q->avail = virtq_mem_uaddr(m, avail, 4 + 2ull * num);
	q->used = virtq_mem_uaddr(m, used, 4 + 8ull * num);
	if (!q->desc || !q->avail || !q->used || ((uintptr_t)q->desc & 15) ||
	    ((uintptr_t)q->avail & 1) || ((uintptr_t)q->used & 3))
		return VIRTQ_ERR_RING;
	q->num = (uint16_t)num;
	q->last_avail = base;
	q->used_idx = base;
	q->ready = true;
	return VIRTQ_OK;
}

_Static_assert(sizeof(struct virtq_inflight_desc) == 16, "inflight entry");
_Static_assert(sizeof(struct virtq_inflight) == 16, "inflight header");

size_t virtq_inflight_size(unsigned desc_num)
{
	size_t n = sizeof(struct virtq_inflight) +
		   desc_num * sizeof(struct virtq_inflight_desc);

	if (desc_num == 0 || desc_num > VIRTQ_NUM_MAX)
		return 0;
	return (n + 63) & ~(size_t)63;
}

struct resubmit {
	uint16_t head;
	uint64_t counter;
};

static int by_counter(const void *a, const void *b)
{
	uint64_t x = ((const struct resubmit *)a)->counter;
	uint64_t y = ((const struct resubmit *)b)->counter;

	return x < y ? -1 : x > y;
}

/* The heads still marked, in the order they were taken; -1 when one lies
 * outside the ring. */
static int inflight_collect(const struct virtq *q, struct virtq_inflight *r,
			    unsigned desc_num, uint16_t *heads)
{
	struct resubmit list[VIRTQ_NUM_MAX];
	unsigned n = 0;

	for (unsigned i = 0; i < desc_num; i++) {
		if (!__atomic_load_n(&r->desc[i].inflight, __ATOMIC_RELAXED))
			continue;
		if (i >= q->num)
			return -1;
		list[n++] =
		    (struct resubmit){ (uint16_t)i, r->desc[i].counter };
	}
	qsort(list, n, sizeof(list[0]), by_counter);
	for (unsigned i = 0; i < n; i++)
		heads[i] = list[i].head;
	return (int)n;
}

int virtq_inflight_attach(struct virtq *q, struct virtq_inflight *r,
			  unsigned desc_num, uint16_t *heads)
{
	uint16_t used, avail;
	int n;

	q->inflight = NULL;
	if (desc_num < q->num || desc_num > VIRTQ_NUM_MAX)
		return VIRTQ_ERR_REGION;
	used = le16toh(__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE));
	if (r->version == 0) {
		/* fresh: nothing was taken yet */
		memset(r->desc, 0, desc_num * sizeof(r->desc[0]));
		r->desc_num = (uint16_t)desc_num;
		r->used_idx = used;
		r->last_batch_head = 0;
		__atomic_store_n(&r->version, VIRTQ_INFLIGHT_VERSION,
				 __ATOMIC_RELEASE);
		q->used_idx = used;
		q->counter = 0;
		q->inflight = r;
		return 0;
	}
	if (r->version != VIRTQ_INFLIGHT_VERSION || r->desc_num != desc_num)
		return VIRTQ_ERR_REGION;
	/* Killed after publishing a completion, before clearing its entry:
	 * that one is done. */
	if (r->used_idx != used) {
		/* read once: the region is shared with the front-end */
		uint16_t last =
		    __atomic_load_n(&r->last_batch_head, __ATOMIC_RELAXED);

		if (last < desc_num)
			__atomic_store_n(&r->desc[last].inflight, 0,
					 __ATOMIC_RELEASE);
		__atomic_store_n(&r->used_idx, used, __ATOMIC_RELEASE);
	}
	n = inflight_collect(q, r, desc_num, heads);
	avail = le16toh(__atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE));
	/* every marked chain came from an avail entry the driver published */
	if (n < 0 || (unsigned)n > (uint16_t)(avail - used))
		return VIRTQ_ERR_RING;
	q->used_idx = used;
	q->last_avail = (uint16_t)(used + n);
	q->counter = 0;
	for (unsigned i = 0; i < desc_num; i++)
		if (r->desc[i].counter >= q->counter)
			q->counter = r->desc[i].counter + 1;
	q->inflight = r;
	return n;
}

/* One descriptor, read once from shared memory. */
static struct vring_desc read_desc(const struct virtq *q, uint16_t i)
{
	const volatile struct vring_desc *d = &q->desc[i];
	struct vring_desc c;

	c.addr = le64toh(d->addr);
	c.len = le32toh(d->len);
	c.flags = le16toh(d->flags);
	c.next = le16toh(d->next);
	return c;
}

/* Appends one checked descriptor to the chain. */
static int chain_add(struct virtq_chain *c, const struct virtq_mem *m,
		     const struct vring_desc *d)
{
	bool write = d->flags & VRING_DESC_F_WRITE;
	unsigned n = c->n_out + c->n_in;
	void *p;

	if (d->flags & VRING_DESC_F_INDIRECT)
		return VIRTQ_ERR_INDIRECT;
	if (n >= VIRTQ_CHAIN_MAX ||
	    d->len > VIRTQ_BYTES_MAX - c->out_len - c->in_len)
		return VIRTQ_ERR_LONG;
	p = virtq_mem_gpa(m, d->addr, d->len);
	if (!p)
		return VIRTQ_ERR_ADDR;
	if (!write && c->n_in)
		return VIRTQ_ERR_ORDER;
	c->iov[n] = (struct iovec){ p, d->len };
	if (write) {
		c->n_in++;
		c->in_len += d->len;
	} else {
		c->n_out++;
		c->out_len += d->len;
	}
	return VIRTQ_OK;
}

int virtq_walk(const struct virtq *q, const struct virtq_mem *m, uint16_t head,
	       struct virtq_chain *c)
{
	uint16_t i = head;
	unsigned count = 0;

	c->head = head;
	c->n_out = c->n_in = 0;
	c->out_len = c->in_len = 0;
	for (;;) {
		struct vring_desc d;
		int err;

		if (i >= q->num)
			return count ? VIRTQ_ERR_INDEX : VIRTQ_ERR_HEAD;
		if (++count > q->num)
			return VIRTQ_ERR_LOOP;
		d = read_desc(q, i);
		err = chain_add(c, m, &d);
		if (err)
			return err;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return VIRTQ_OK;
		i = d.next;
	}
}

int virtq_pop(struct virtq *q, const struct virtq_mem *m, struct virtq_chain *c)
{
	uint16_t idx, head;
	int err;

	if (!q->ready)
		return 0;
	/* Acquire: the ring entries and descriptors the driver wrote before
	 * publishing idx are visible after this load. */
	idx = le16toh(__atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE));
	if (idx == q->last_avail)
		return 0;
	if ((uint16_t)(idx - q->last_avail) > q->num)
		return VIRTQ_ERR_RING;
	head = le16toh(__atomic_load_n(
	    &q->avail->ring[q->last_avail & (q->num - 1)], __ATOMIC_RELAXED));
	q->last_avail++;
	/* In flight before anything of it runs; a kill before this store
	 * leaves the entry to be taken again (last_avail is recomputed). */
	if (q->inflight != NULL && head < q->num) {
		q->inflight->desc[head].counter = q->counter++;
		__atomic_store_n(&q->inflight->desc[head].inflight, 1,
				 __ATOMIC_RELEASE);
	}
	err = virtq_walk(q, m, head, c);
	return err ? err : 1;
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	struct vring_used_elem *e = &q->used->ring[q->used_idx & (q->num - 1)];
	struct virtq_inflight *r = head < q->num ? q->inflight : NULL;

	/* The spec's order: the batch noted, the index published, the entry
	 * cleared, the index recorded. A kill anywhere between is resolved
	 * by virtq_inflight_attach: run again, or known complete. */
	if (r != NULL) {
		r->desc[head].next = r->last_batch_head;
		__atomic_store_n(&r->last_batch_head, head, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&e->id, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, htole32(len), __ATOMIC_RELAXED);
	q->used_idx++;
	/* Release: the element and the data written into the buffers are
	 * visible before the driver sees the new index. */
	__atomic_store_n(&q->used->idx, htole16(q->used_idx), __ATOMIC_RELEASE);
	if (r != NULL) {
		__atomic_store_n(&r->desc[head].inflight, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&r->used_idx, q->used_idx, __ATOMIC_RELEASE);
	}
}

bool virtq_should_notify(const struct virtq *q)
{
	/* The used index store must be ordered before the flags load, or a
	 * driver that just cleared NO_INTERRUPT could miss its interrupt. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !(le16toh(__atomic_load_n(&q->avail->flags, __ATOMIC_RELAXED)) &
		 VRING_AVAIL_F_NO_INTERRUPT);
}

/* Copies between the chain part [first, first + n) at offset off and buf;
 * to_chain picks the direction. */
static size_t chain_copy(const struct virtq_chain *c, unsigned first,
			 unsigned n, size_t off, uint8_t *buf, size_t len,
			 bool to_chain)
{
	size_t done = 0;

	for (unsigned i = first; i < first + n && done < len; i++) {
		const struct iovec *v = &c->iov[i];
		size_t k;

		if (off >= v->iov_len) {
			off -= v->iov_len;
			continue;
		}
		k = v->iov_len - off;
		if (k > len - done)
			k = len - done;
		if (to_chain)
			memcpy((uint8_t *)v->iov_base + off, buf + done, k);
		else
			memcpy(buf + done, (uint8_t *)v->iov_base + off, k);
		done += k;
		off = 0;
	}
	return done;
}

size_t virtq_chain_read(const struct virtq_chain *c, size_t off, void *dst,
			size_t len)
{
	return chain_copy(c, 0, c->n_out, off, dst, len, false);
}

size_t virtq_chain_write(const struct virtq_chain *c, size_t off,
			 const void *src, size_t len)
{
	return chain_copy(c, c->n_out, c->n_in, off, (uint8_t *)(uintptr_t)src,
			  len, true);
}

int virtq_chain_slice(const struct virtq_chain *c, bool in, size_t off,
		      size_t len, struct iovec *out, unsigned max)
{
	unsigned first = in ? c->n_out : 0, n = in ? c->n_in : c->n_out;
	unsigned k = 0;

	for (unsigned i = first; i < first + n && len; i++) {
		const struct iovec *v = &c->iov[i];
		size_t take;

		if (off >= v->iov_len) {
			off -= v->iov_len;
			continue;
		}
		if (k >= max)
			return -1;
		take = v->iov_len - off;
		if (take > len)
			take = len;
		out[k++] = (struct iovec){ (uint8_t *)v->iov_base + off, take };
		len -= take;
		off = 0;
	}
	return len ? -1 : (int)k;
}
