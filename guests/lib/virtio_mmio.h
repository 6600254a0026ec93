/* virtio-mmio version 2 register offsets, status bits and split-ring
 * flags (virtio 1.1 §4.2.2, §2.6), shared by the guests' drivers. */
#ifndef GUEST_VIRTIO_MMIO_H
#define GUEST_VIRTIO_MMIO_H

#include <stdint.h>

#define VMMIO_MAGIC	      0x000
#define VMMIO_VERSION	      0x004
#define VMMIO_DEVICE_ID	      0x008
#define VMMIO_VENDOR_ID	      0x00c
#define VMMIO_DEVICE_FEATURES 0x010
#define VMMIO_DEVICE_FEAT_SEL 0x014
#define VMMIO_DRIVER_FEATURES 0x020
#define VMMIO_DRIVER_FEAT_SEL 0x024
#define VMMIO_QUEUE_SEL	      0x030
#define VMMIO_QUEUE_NUM_MAX   0x034
#define VMMIO_QUEUE_NUM	      0x038
#define VMMIO_QUEUE_READY     0x044
#define VMMIO_QUEUE_NOTIFY    0x050
#define VMMIO_STATUS	      0x070
#define VMMIO_QUEUE_DESC_LO   0x080
#define VMMIO_QUEUE_DESC_HI   0x084
#define VMMIO_QUEUE_AVAIL_LO  0x090
#define VMMIO_QUEUE_AVAIL_HI  0x094
#define VMMIO_QUEUE_USED_LO   0x0a0
#define VMMIO_QUEUE_USED_HI   0x0a4
#define VMMIO_CONFIG_GEN      0x0fc
#define VMMIO_CONFIG	      0x100

#define VMMIO_MAGIC_VALUE 0x74726976u /* "virt" */
#define VIRTIO_ID_BLOCK	  2

/* virtio-blk config space offsets (from VMMIO_CONFIG). */
#define BLK_CFG_CAPACITY 0x00
#define BLK_CFG_SEG_MAX	 0x0c
#define BLK_CFG_BLK_SIZE 0x14

/* Device status bits. */
#define ST_ACKNOWLEDGE 1
#define ST_DRIVER      2
#define ST_DRIVER_OK   4
#define ST_FEATURES_OK 8
#define ST_NEEDS_RESET 64
#define ST_FAILED      128

#define VRING_DESC_F_NEXT	   1
#define VRING_DESC_F_WRITE	   2
#define VRING_DESC_F_INDIRECT	   4
#define VRING_AVAIL_F_NO_INTERRUPT 1

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

#endif
