/* A polled virtio-blk driver over virtio-mmio version 2 (split ring, one
 * request queue, no interrupts): disks announced on the command line as
 * "virtio_mmio.device=SIZE@0xBASE:IRQ", up to VBLK_SLOTS requests in
 * flight. Used by the disk guest; see docs/disks.md. */
#ifndef GUEST_VIRTIO_BLK_H
#define GUEST_VIRTIO_BLK_H

#include <stdint.h>

#define VBLK_SECTOR 512u
#define VBLK_SLOTS  16 /* requests in flight at most */

/* Request types and status bytes (virtio 1.1 §5.2.6). */
#define VIRTIO_BLK_T_IN	    0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_ID_BYTES 20

/* Feature bits. */
#define VIRTIO_BLK_F_SEG_MAX  2
#define VIRTIO_BLK_F_RO	      5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH    9
#define VIRTIO_F_VERSION_1    32

enum vblk_err {
	VBLK_OK = 0,
	VBLK_ERR_NODEV,	     /* no such virtio_mmio.device word */
	VBLK_ERR_BADWORD,    /* the word does not parse */
	VBLK_ERR_MAGIC,	     /* MagicValue is not "virt" */
	VBLK_ERR_LEGACY,     /* Version 1 */
	VBLK_ERR_VERSION,    /* another unknown version */
	VBLK_ERR_NOTBLK,     /* DeviceID is not 2 */
	VBLK_ERR_NOVERSION1, /* VIRTIO_F_VERSION_1 not offered */
	VBLK_ERR_FEATURES,   /* FEATURES_OK did not stick */
	VBLK_ERR_QUEUE,	     /* queue 0 absent, too small or already live */
	VBLK_ERR_RESET,	     /* Status never read 0 after the reset */
	VBLK_ERR_TIMEOUT,    /* no completion within the timeout */
	VBLK_ERR_BADUSED,    /* the device returned an id it was not given */
};

struct vblk_slot {
	int busy;
	uint32_t type;
	uint64_t sector;
	uint32_t len;
};

struct vblk {
	unsigned int index; /* N: the N-th virtio_mmio.device word */
	uint64_t base;	    /* MMIO base */
	uint64_t size;	    /* MMIO window size */
	unsigned int irq;
	uint32_t vendor;
	uint64_t offered;    /* device features */
	uint64_t features;   /* accepted */
	uint64_t capacity;   /* 512-byte sectors */
	uint32_t seg_max;    /* 0 unless negotiated */
	uint32_t blk_size;   /* 512 unless negotiated */
	unsigned int qsize;  /* queue entries in use */
	unsigned int nslots; /* request slots (3 descriptors each) */
	unsigned int inflight;
	uint16_t avail_idx; /* next avail ring index to fill */
	uint16_t used_seen; /* used ring entries already consumed */
	struct vblk_slot slots[VBLK_SLOTS];
};

/* Fills d->base, size and irq from the n-th virtio_mmio.device word. */
enum vblk_err vblk_find(unsigned int n, struct vblk *d);
/* Number of virtio_mmio.device words on the command line. */
unsigned int vblk_count(void);
/* Checks the ids, resets, ACKNOWLEDGE, DRIVER, negotiates features
 * (FEATURES_OK, checked) and reads the config space. */
enum vblk_err vblk_probe(struct vblk *d);
/* After vblk_probe: sets up queue 0 (rings in .bss; one started device at
 * a time) and sets DRIVER_OK. */
enum vblk_err vblk_start(struct vblk *d);
/* Writes 0 to Status: the device forgets the driver. */
void vblk_reset(struct vblk *d);
const char *vblk_strerror(enum vblk_err err);

static inline int vblk_has(const struct vblk *d, unsigned int bit)
{
	return (d->features >> bit) & 1;
}

/* A free request slot, or -1 when all are in flight. */
int vblk_free_slot(const struct vblk *d);
/* Queues a request in slot (from vblk_free_slot) without notifying: buf
 * of len bytes is read by the device (OUT), written by it (IN, GET_ID) or
 * absent (FLUSH, len 0). buf must stay untouched until completion. */
void vblk_submit(struct vblk *d, int slot, uint32_t type, uint64_t sector,
		 void *buf, uint32_t len);
/* Publishes the queued requests and notifies the device. */
void vblk_kick(struct vblk *d);
/* Takes one completion if there is one: returns 1 with *slot and *status
 * set, 0 when none is ready, -VBLK_ERR_BADUSED for a bogus used entry. */
int vblk_reap(struct vblk *d, int *slot, uint8_t *status);

/* Timeout for vblk_wait: µs by the timestamp port when present, else a
 * count of polls (see vblk_set_timeout_ms). */
void vblk_set_timeout_ms(uint64_t ms);
uint64_t vblk_timeout_ms(void);
/* Waits for one completion: VBLK_OK with *slot and *status, or
 * VBLK_ERR_TIMEOUT / VBLK_ERR_BADUSED. */
enum vblk_err vblk_wait(struct vblk *d, int *slot, uint8_t *status);
/* One request, waited for: its status byte, or -enum vblk_err. */
int vblk_sync(struct vblk *d, uint32_t type, uint64_t sector, void *buf,
	      uint32_t len);

#endif
