/* services/blkd/blk.c: virtio-blk requests against a memfd disk through
 * a real chain: reads and writes land where they should, and a read-only
 * disk, a request past the end, partial sectors, short headers and
 * unknown types complete with the right status and are counted; a write
 * taken by an instance that was killed runs in the next one, once. */
#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/util.h"
#include "services/blkd/blkd.h"

#define SECTORS 16u

static struct blkd_disk disk;
static int fd;
static uint8_t hdr[16], data[2048], status;

static int setup(void **state)
{
	(void)state;
	fd = util_memfd_create("blkd-test", SECTORS * BLKD_SECTOR);
	return fd < 0 || blkd_disk_init(&disk, 3, fd, "test");
}

static int teardown(void **state)
{
	(void)state;
	close(fd);
	return 0;
}

/* A chain: header (hlen bytes), data (dlen, writable unless out), status. */
static struct virtq_chain chain(uint32_t type, uint64_t sector, size_t hlen,
				size_t dlen, bool out)
{
	struct virtio_blk_outhdr h = { htole32(type), 0, htole64(sector) };
	struct virtq_chain c = { .head = 0 };
	unsigned n = 0;

	memcpy(hdr, &h, sizeof(h));
	status = 0xee;
	c.iov[n++] = (struct iovec){ hdr, hlen };
	c.out_len = hlen;
	if (dlen && out) {
		c.iov[n++] = (struct iovec){ data, dlen };
		c.out_len += dlen;
	}
	c.n_out = n;
	if (dlen && !out) {
		c.iov[n++] = (struct iovec){ data, dlen };
		c.in_len += dlen;
	}
	c.iov[n++] = (struct iovec){ &status, 1 };
	c.in_len += 1;
	c.n_in = n - c.n_out;
	return c;
}

static void test_init(void **state)
{
	struct virtio_blk_config cfg;

	(void)state;
	assert_int_equal(disk.sectors, SECTORS);
	assert_false(disk.ro);
	assert_string_equal(disk.id, "parapet-blkd-3");
	assert_false(blkd_features(&disk) & 1ull << VIRTIO_BLK_F_RO);
	assert_true(blkd_features(&disk) & 1ull << VIRTIO_BLK_F_FLUSH);
	blkd_config(&disk, &cfg);
	assert_int_equal(le64toh(cfg.capacity), SECTORS);
	assert_int_equal(le32toh(cfg.blk_size), 512);
	assert_int_equal(le32toh(cfg.seg_max), BLKD_SEG_MAX);
}

static void test_write_read(void **state)
{
	struct virtq_chain c;
	uint8_t back[1024];

	(void)state;
	memset(data, 0x5a, 1024);
	c = chain(VIRTIO_BLK_T_OUT, 14, 16, 1024, true);
	assert_int_equal(blkd_request(&disk, &c), 1);
	assert_int_equal(status, VIRTIO_BLK_S_OK);
	assert_int_equal(pread(fd, back, 1024, 14 * 512), 1024);
	assert_memory_equal(back, data, 1024);

	memset(data, 0, sizeof(data));
	c = chain(VIRTIO_BLK_T_IN, 14, 16, 1024, false);
	assert_int_equal(blkd_request(&disk, &c), 1025);
	assert_int_equal(status, VIRTIO_BLK_S_OK);
	assert_memory_equal(back, data, 1024);

	c = chain(VIRTIO_BLK_T_FLUSH, 0, 16, 0, false);
	assert_int_equal(blkd_request(&disk, &c), 1);
	assert_int_equal(status, VIRTIO_BLK_S_OK);
	assert_int_equal(disk.c.reads, 1);
	assert_int_equal(disk.c.writes, 1);
	assert_int_equal(disk.c.flushes, 1);
	assert_int_equal(disk.c.bytes_read, 1024);
	assert_int_equal(disk.c.errors, 0);
}

static void test_get_id(void **state)
{
	struct virtq_chain c = chain(VIRTIO_BLK_T_GET_ID, 0, 16, 20, false);

	(void)state;
	memset(data, 0xff, 20);
	assert_int_equal(blkd_request(&disk, &c), 21);
	assert_string_equal((char *)data, "parapet-blkd-3");
	assert_int_equal(data[19], 0);
	c = chain(VIRTIO_BLK_T_GET_ID, 0, 16, 4, false); /* a short buffer */
	assert_int_equal(blkd_request(&disk, &c), 5);
	assert_memory_equal(data, "para", 4);
}

/* Each bad request: its status, one error counted, the disk untouched. */
static void test_refusals(void **state)
{
	struct virtq_chain c;
	uint8_t zero[512] = { 0 }, back[512];

	(void)state;
	c = chain(VIRTIO_BLK_T_IN, SECTORS, 16, 512, false); /* past end */
	assert_int_equal(blkd_request(&disk, &c), 1);
	assert_int_equal(status, VIRTIO_BLK_S_IOERR);
	c = chain(VIRTIO_BLK_T_IN, SECTORS - 1, 16, 1024, false); /* across */
	blkd_request(&disk, &c);
	assert_int_equal(status, VIRTIO_BLK_S_IOERR);
	c = chain(VIRTIO_BLK_T_IN, UINT64_MAX, 16, 512, false); /* wraps */
	blkd_request(&disk, &c);
	assert_int_equal(status, VIRTIO_BLK_S_IOERR);
	c = chain(VIRTIO_BLK_T_OUT, 0, 16, 100, true); /* part of a sector */
	blkd_request(&disk, &c);
	assert_int_equal(status, VIRTIO_BLK_S_IOERR);
	c = chain(VIRTIO_BLK_T_IN, 0, 8, 512, false); /* short header */
	assert_int_equal(blkd_request(&disk, &c), 1);
	assert_int_equal(status, VIRTIO_BLK_S_IOERR);
	c = chain(77, 0, 16, 512, false);
	blkd_request(&disk, &c);
	assert_int_equal(status, VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(disk.c.errors, 6);
	assert_int_equal(disk.c.refused, 1);

	/* Read-only: writes fail, reads and flushes work. */
	disk.ro = true;
	assert_true(blkd_features(&disk) & 1ull << VIRTIO_BLK_F_RO);
	memset(data, 0x77, 512);
	c = chain(VIRTIO_BLK_T_OUT, 0, 16, 512, true);
	blkd_request(&disk, &c);
	assert_int_equal(status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(pread(fd, back, 512, 0), 512);
	assert_memory_equal(back, zero, 512);
	c = chain(VIRTIO_BLK_T_FLUSH, 0, 16, 0, false);
	blkd_request(&disk, &c);
	assert_int_equal(status, VIRTIO_BLK_S_OK);

	/* No writable byte: no status to give, refused. */
	c = chain(VIRTIO_BLK_T_IN, 0, 16, 0, false);
	c.n_in = 0;
	c.in_len = 0;
	assert_int_equal(blkd_request(&disk, &c), 0);
	assert_int_equal(disk.c.refused, 2);
}

/* A ring in memory: a write a killed instance had taken (marked in the
 * inflight region) is run by the next (blkd_resubmit) and completed
 * once; a chain that no longer walks is returned unrun. */
static void test_resubmit(void **state)
{
	static uint8_t mem[16384] __attribute__((aligned(4096)));
	static uint64_t region[64];
	struct virtq_inflight *r = (struct virtq_inflight *)region;
	struct vring_desc *d = (struct vring_desc *)mem;
	struct vring_avail *a = (struct vring_avail *)(mem + 4096);
	struct vring_used *u = (struct vring_used *)(mem + 8192);
	struct virtio_blk_outhdr h = { htole32(VIRTIO_BLK_T_OUT), 0,
				       htole64(3) };
	struct virtq_mem m = { .n = 0 };
	struct virtq q;
	struct virtq_chain c;
	uint16_t heads[8];
	uint8_t back[512];

	(void)state;
	assert_true(virtq_inflight_size(8) <= sizeof(region));
	assert_int_equal(virtq_mem_add(&m, 0, sizeof(mem), 0, mem), 0);
	memcpy(mem + 12288, &h, sizeof(h));
	memset(mem + 12288 + 16, 0x77, 512);
	d[2] = (struct vring_desc){ 12288, 16, VRING_DESC_F_NEXT, 3 };
	d[3] = (struct vring_desc){ 12288 + 16, 512, VRING_DESC_F_NEXT, 4 };
	d[4] = (struct vring_desc){ 12288 + 528, 1, VRING_DESC_F_WRITE, 0 };
	d[6] = (struct vring_desc){ 1u << 20, 1, 0, 0 }; /* outside */
	a->ring[0] = 2;
	a->ring[1] = 6;
	a->idx = 2;
	assert_int_equal(virtq_setup(&q, &m, 8, 0, 4096, 8192, 0), 0);
	assert_int_equal(virtq_inflight_attach(&q, r, 8, heads), 0);
	assert_int_equal(virtq_pop(&q, &m, &c), 1);
	assert_int_equal(virtq_pop(&q, &m, &c), VIRTQ_ERR_ADDR);
	/* killed here: the next instance */
	assert_int_equal(virtq_setup(&q, &m, 8, 0, 4096, 8192, u->idx), 0);
	assert_int_equal(virtq_inflight_attach(&q, r, 8, heads), 2);
	blkd_resubmit(&disk, &q, &m, heads, 2);
	assert_int_equal(u->idx, 2);
	assert_int_equal(u->ring[0].id, 2);
	assert_int_equal(u->ring[0].len, 1);
	assert_int_equal(u->ring[1].id, 6);
	assert_int_equal(u->ring[1].len, 0);
	assert_int_equal(mem[12288 + 528], VIRTIO_BLK_S_OK);
	assert_int_equal(pread(fd, back, 512, 3 * 512), 512);
	assert_int_equal(back[0], 0x77);
	assert_int_equal(disk.c.resubmitted, 2);
	assert_int_equal(disk.c.writes, 1);
	assert_int_equal(disk.c.refused, 1);
	/* nothing left to run */
	assert_int_equal(virtq_inflight_attach(&q, r, 8, heads), 0);
	assert_int_equal(q.last_avail, 2);
	assert_int_equal(blkd_drain(&disk, &q, &m), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_read, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_get_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resubmit, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
