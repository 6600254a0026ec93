/* virtio-blk requests against a disk descriptor: IN, OUT, FLUSH and
 * GET_ID, each checked against the chain's buffers and the disk's size
 * before any I/O; a bad request completes with IOERR (or UNSUPP) and the
 * disk carries on. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include "lib/log.h"
#include "lib/vhost_user.h"
#include "services/blkd/blkd.h"

#define OUTHDR_SIZE ((uint32_t)sizeof(struct virtio_blk_outhdr))

int blkd_disk_init(struct blkd_disk *d, unsigned index, int fd,
		   const char *label)
{
	int fl = fcntl(fd, F_GETFL);
	struct stat st;

	memset(d, 0, sizeof(*d));
	d->index = index;
	d->fd = fd;
	d->listen_fd = -1;
	snprintf(d->label, sizeof(d->label), "%s", label);
	snprintf(d->id, sizeof(d->id), "parapet-blkd-%u", index);
	if (fl < 0 || fstat(fd, &st) != 0) {
		log_warn("%s: descriptor", label);
		return -1;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		log_warnx("%s: not a file or block device", label);
		return -1;
	}
	d->ro = (fl & O_ACCMODE) == O_RDONLY;
	d->sectors = (uint64_t)st.st_size / BLKD_SECTOR;
	if (d->sectors == 0) {
		log_warnx("%s: smaller than one sector", label);
		return -1;
	}
	return 0;
}

uint64_t blkd_features(const struct blkd_disk *d)
{
	uint64_t f = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_BLK_F_SEG_MAX |
		     1ull << VIRTIO_BLK_F_BLK_SIZE |
		     1ull << VIRTIO_BLK_F_FLUSH |
		     1ull << VHOST_USER_F_PROTOCOL_FEATURES;

	return d->ro ? f | 1ull << VIRTIO_BLK_F_RO : f;
}

void blkd_config(const struct blkd_disk *d, struct virtio_blk_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->capacity = htole64(d->sectors);
	cfg->seg_max = htole32(BLKD_SEG_MAX);
	cfg->blk_size = htole32(BLKD_SECTOR);
}

/* preadv/pwritev of exactly len bytes at off over iov (cnt entries),
 * resuming after short transfers. 0, or -1 (errno, or 0 at end of
 * file). */
static int rw_full(int fd, struct iovec *iov, int cnt, off_t off, size_t len,
		   bool write)
{
	while (len > 0) {
		ssize_t n = write ? pwritev(fd, iov, cnt, off)
				  : preadv(fd, iov, cnt, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			return -1;
		}
		len -= (size_t)n;
		off += n;
		while (n > 0 && cnt > 0) {
			if ((size_t)n < iov->iov_len) {
				iov->iov_base = (uint8_t *)iov->iov_base + n;
				iov->iov_len -= (size_t)n;
				n = 0;
			} else {
				n -= (ssize_t)iov->iov_len;
				iov++;
				cnt--;
			}
		}
	}
	return 0;
}

/* Whether len bytes at sector lie on the disk, in whole sectors. */
static bool in_range(const struct blkd_disk *d, uint64_t sector, size_t len)
{
	uint64_t n = len / BLKD_SECTOR;

	return len % BLKD_SECTOR == 0 && sector <= d->sectors &&
	       n <= d->sectors - sector;
}

/* IN: the writable part less its status byte, from the disk. */
static uint8_t blk_read(struct blkd_disk *d, const struct virtq_chain *c,
			uint64_t sector, uint32_t *used)
{
	size_t len = c->in_len - 1;
	struct iovec iov[VIRTQ_CHAIN_MAX];
	int n = virtq_chain_slice(c, true, 0, len, iov, VIRTQ_CHAIN_MAX);

	if (c->out_len != OUTHDR_SIZE || n < 0 || !in_range(d, sector, len))
		return VIRTIO_BLK_S_IOERR;
	if (rw_full(d->fd, iov, n, (off_t)(sector * BLKD_SECTOR), len, false))
		return VIRTIO_BLK_S_IOERR;
	atomic_fetch_add(&d->c.reads, 1);
	atomic_fetch_add(&d->c.bytes_read, len);
	*used = (uint32_t)len;
	return VIRTIO_BLK_S_OK;
}

/* OUT: the readable part after the header, to the disk. */
static uint8_t blk_write(struct blkd_disk *d, const struct virtq_chain *c,
			 uint64_t sector)
{
	size_t len = c->out_len - OUTHDR_SIZE;
	struct iovec iov[VIRTQ_CHAIN_MAX];
	int n =
	    virtq_chain_slice(c, false, OUTHDR_SIZE, len, iov, VIRTQ_CHAIN_MAX);

	if (d->ro || c->in_len != 1 || n < 0 || !in_range(d, sector, len))
		return VIRTIO_BLK_S_IOERR;
	if (rw_full(d->fd, iov, n, (off_t)(sector * BLKD_SECTOR), len, true))
		return VIRTIO_BLK_S_IOERR;
	atomic_fetch_add(&d->c.writes, 1);
	atomic_fetch_add(&d->c.bytes_written, len);
	return VIRTIO_BLK_S_OK;
}

static uint8_t blk_flush(struct blkd_disk *d)
{
	atomic_fetch_add(&d->c.flushes, 1);
	/* Read-only: nothing of ours to make durable. */
	if (!d->ro && fdatasync(d->fd) != 0)
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK;
}

/* GET_ID: up to 20 bytes, NUL-padded when shorter. */
static uint8_t blk_get_id(struct blkd_disk *d, const struct virtq_chain *c,
			  uint32_t *used)
{
	size_t len = c->in_len - 1;
	char id[VIRTIO_BLK_ID_BYTES] = { 0 };

	if (len > VIRTIO_BLK_ID_BYTES)
		len = VIRTIO_BLK_ID_BYTES;
	memcpy(id, d->id, strnlen(d->id, VIRTIO_BLK_ID_BYTES));
	atomic_fetch_add(&d->c.get_ids, 1);
	*used = (uint32_t)virtq_chain_write(c, 0, id, len);
	return VIRTIO_BLK_S_OK;
}

uint32_t blkd_request(struct blkd_disk *d, const struct virtq_chain *c)
{
	struct virtio_blk_outhdr h;
	uint32_t used = 0;
	uint8_t status;

	if (c->in_len < 1) {
		atomic_fetch_add(&d->c.refused, 1);
		return 0; /* nowhere to say so */
	}
	if (virtq_chain_read(c, 0, &h, sizeof(h)) != sizeof(h)) {
		atomic_fetch_add(&d->c.refused, 1);
		status = VIRTIO_BLK_S_IOERR;
	} else {
		switch (le32toh(h.type)) {
		case VIRTIO_BLK_T_IN:
			status = blk_read(d, c, le64toh(h.sector), &used);
			break;
		case VIRTIO_BLK_T_OUT:
			status = blk_write(d, c, le64toh(h.sector));
			break;
		case VIRTIO_BLK_T_FLUSH:
			status = blk_flush(d);
			break;
		case VIRTIO_BLK_T_GET_ID:
			status = blk_get_id(d, c, &used);
			break;
		default:
			status = VIRTIO_BLK_S_UNSUPP;
		}
	}
	if (status != VIRTIO_BLK_S_OK)
		atomic_fetch_add(&d->c.errors, 1);
	virtq_chain_write(c, c->in_len - 1, &status, 1);
	return used + 1;
}

/* Runs a checked chain and returns it to the used ring. */
static void run_chain(struct blkd_disk *d, struct virtq *q,
		      const struct virtq_chain *c)
{
	atomic_fetch_add(&d->c.in_flight, 1);
	virtq_push(q, c->head, blkd_request(d, c));
	atomic_fetch_sub(&d->c.in_flight, 1);
}

/* One chain, or the end of the ring's run: false to stop draining. */
static bool drain_one(struct blkd_disk *d, struct virtq *q,
		      const struct virtq_mem *m, unsigned *done)
{
	struct virtq_chain c;
	int rc = virtq_pop(q, m, &c);

	if (rc == 0)
		return false;
	if (rc == VIRTQ_ERR_RING) {
		log_warnx("%s: %s: queue stopped", d->label,
			  virtq_strerror(rc));
		atomic_fetch_add(&d->c.refused, 1);
		q->ready = false;
		return false;
	}
	atomic_fetch_add(&d->c.requests, 1);
	if (rc < 0) {
		/* Nothing of the chain can be trusted, its status byte
		 * included: the request is dropped, its head returned. */
		log_debug("%s: chain %u: %s", d->label, c.head,
			  virtq_strerror(rc));
		atomic_fetch_add(&d->c.refused, 1);
		if (rc != VIRTQ_ERR_HEAD) {
			virtq_push(q, c.head, 0);
			(*done)++;
		}
		return true;
	}
	run_chain(d, q, &c);
	(*done)++;
	return true;
}

unsigned blkd_drain(struct blkd_disk *d, struct virtq *q,
		    const struct virtq_mem *m)
{
	unsigned done = 0;

	/* At most one lap per call: a driver that keeps adding cannot hold
	 * the thread (the next kick brings it back). */
	for (unsigned i = 0; i < q->num && drain_one(d, q, m, &done); i++)
		;
	return done;
}

void blkd_resubmit(struct blkd_disk *d, struct virtq *q,
		   const struct virtq_mem *m, const uint16_t *heads, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct virtq_chain c;
		int rc = virtq_walk(q, m, heads[i], &c);

		atomic_fetch_add(&d->c.resubmitted, 1);
		if (rc != VIRTQ_OK) {
			log_debug("%s: chain %u: %s", d->label, heads[i],
				  virtq_strerror(rc));
			atomic_fetch_add(&d->c.refused, 1);
			virtq_push(q, heads[i], 0);
			continue;
		}
		run_chain(d, q, &c);
	}
}
