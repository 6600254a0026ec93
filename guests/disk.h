/* The disk guest's parts: request pump, sector pattern, clock (disk.c)
 * and the modes verify/check, bench and torture (disk_modes.c). */
#ifndef GUEST_DISK_H
#define GUEST_DISK_H

#include <stdint.h>

#include "virtio_blk.h"

/* Exit values (guests/README.md). */
#define DISK_EXIT_OK	  0
#define DISK_EXIT_DATA	  1 /* data read back is not what was written */
#define DISK_EXIT_NODISK  2 /* no disk, probe failure, bad key */
#define DISK_EXIT_REQUEST 3 /* a request completed with a non-OK status */
#define DISK_EXIT_TIMEOUT 4 /* a request never completed */
#define DISK_EXIT_RO	  5 /* read-only promise broken (or not made) */

#define DISK_CHUNK	(64u << 10) /* bytes per request at most */
#define DISK_CHUNK_SECT (DISK_CHUNK / VBLK_SECTOR)

/* Data buffer of each request slot. */
extern uint8_t disk_bufs[VBLK_SLOTS][DISK_CHUNK];

struct disk_req {
	uint32_t type;
	uint64_t sector;
	uint32_t nsect;
};

enum { DISK_NEXT_REQ, DISK_NEXT_DONE, DISK_NEXT_LATER };

/* A stream of requests: next fills r (and disk_bufs[slot] for writes) and
 * says REQ, DONE (no more) or LATER (nothing until one completes); done
 * sees each successful completion. */
struct disk_pump {
	unsigned int depth;
	int (*next)(struct disk_pump *p, int slot, struct disk_req *r);
	void (*done)(struct disk_pump *p, int slot, const struct vblk_slot *s);
	void *ctx;
};

int disk_pump(struct vblk *d, struct disk_pump *p);
int disk_sync(struct vblk *d, uint32_t type, uint64_t sector, void *buf,
	      uint32_t len);
int disk_flush(struct vblk *d);
void disk_req_failed(struct vblk *d, int slot, uint8_t status);
int disk_wait_failed(struct vblk *d, enum vblk_err err);
uint64_t disk_region(const struct vblk *d, uint64_t def, uint64_t limit);
unsigned int disk_depth(const struct vblk *d);

/* Clock: the timestamp port, else (need) the RTC-calibrated TSC. */
void clk_init(int need);
int clk_present(void);
const char *clk_name(void);
uint64_t clk_us(void);

uint64_t rng_next(uint64_t *state);

/* One 512-byte sector carrying its LBA, a sequence number, the seed and a
 * checksum; sect_check returns 0 when it matches, else 1 (printing the
 * kind of damage when report is set). */
void sect_fill(void *buf, uint64_t lba, uint64_t seq, uint64_t seed);
int sect_check(const void *buf, uint64_t lba, uint64_t seq, uint64_t seed,
	       int report);

int disk_verify(struct vblk *d, uint64_t sectors, uint64_t seed, int write);
int disk_bench(struct vblk *d);
int disk_torture(struct vblk *d, uint64_t sectors, uint64_t seed,
		 uint32_t *seqs);

#endif
