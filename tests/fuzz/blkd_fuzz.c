/* libFuzzer harness for parapet-blkd's request path: the input is a
 * guest's memory (descriptor table, avail ring, headers, data) that
 * blkd_drain walks through lib/virtq and runs through blkd_request
 * against a 64-sector memfd disk. Checks: one drain takes at most one
 * lap of the queue and returns no more chains than it took, and
 * ASan/UBSan see no access outside the memory. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"
#include "lib/virtq.h"
#include "services/blkd/blkd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM_SIZE (64u << 10)
#define UADDR	 0x7f0000000000ull
#define AVAIL	 0x1000
#define USED	 0x2000
#define SECTORS	 64u

static uint8_t *mem;
static struct blkd_disk disk;
static struct virtq_mem vm;

static void setup(void)
{
	int fd = util_memfd_create("blkd-fuzz", SECTORS * BLKD_SECTOR);

	mem = aligned_alloc(4096, MEM_SIZE);
	if (fd < 0 || mem == NULL || blkd_disk_init(&disk, 0, fd, "fuzz") ||
	    virtq_mem_add(&vm, 0, MEM_SIZE, UADDR, mem))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtq q;
	unsigned num;
	uint16_t before, avail_before;

	if (mem == NULL)
		setup();
	if (size < 2)
		return 0;
	num = 1u << (data[0] % 9); /* 1 ... 256 */
	disk.ro = data[1] & 1;
	memset(mem, 0, MEM_SIZE);
	memcpy(mem, data + 2, size - 2 < MEM_SIZE ? size - 2 : MEM_SIZE);
	/* avail at 0x1000, used at 0x2000: room for 256 entries each */
	if (virtq_setup(&q, &vm, num, UADDR, UADDR + AVAIL, UADDR + USED,
			data[1] >> 1))
		abort();
	before = q.used_idx;
	avail_before = q.last_avail;
	blkd_drain(&disk, &q, &vm);
	/* At most one lap per drain, and never more returned than taken.
	 * (The ring's memory itself proves nothing: a chain's buffers may
	 * point at the used ring, and a read then writes over it.) */
	if ((uint16_t)(q.last_avail - avail_before) > num ||
	    (uint16_t)(q.used_idx - before) >
		(uint16_t)(q.last_avail - avail_before))
		__builtin_trap();
	return 0;
}
