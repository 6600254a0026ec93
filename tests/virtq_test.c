/* lib/virtq: a split ring in a small memory region, good chains and
 * hostile ones (bad indexes, loops, lengths, addresses, INDIRECT, order),
 * the memory table's checks, and copies across descriptors. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/util.h"
#include "lib/virtq.h"

#define MEM_SIZE  (64u << 10)
#define GPA	  0x100000ull	    /* the region's guest-physical start */
#define UADDR	  0x7f0000000000ull /* the front-end's address of it */
#define NUM	  8u
#define DESC_OFF  0x0
#define AVAIL_OFF 0x1000
#define USED_OFF  0x2000
#define DATA_OFF  0x4000

static uint8_t *mem;
static struct virtq_mem vm;
static struct virtq q;

static struct vring_desc *desc(void)
{
	return (struct vring_desc *)(mem + DESC_OFF);
}
static struct vring_avail *avail(void)
{
	return (struct vring_avail *)(mem + AVAIL_OFF);
}
static struct vring_used *used(void)
{
	return (struct vring_used *)(mem + USED_OFF);
}

static int setup(void **state)
{
	(void)state;
	mem = aligned_alloc(4096, MEM_SIZE);
	if (!mem)
		return -1;
	memset(mem, 0, MEM_SIZE);
	memset(&vm, 0, sizeof(vm));
	if (virtq_mem_add(&vm, GPA, MEM_SIZE, UADDR, mem))
		return -1;
	return virtq_setup(&q, &vm, NUM, UADDR + DESC_OFF, UADDR + AVAIL_OFF,
			   UADDR + USED_OFF, 0);
}

static int teardown(void **state)
{
	(void)state;
	virtq_mem_clear(&vm);
	free(mem);
	return 0;
}

static void set_desc(uint16_t i, uint64_t gpa, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	desc()[i] = (struct vring_desc){ gpa, len, flags, next };
}

/* Makes head available (the driver's side). */
static void offer(uint16_t head)
{
	avail()->ring[avail()->idx % NUM] = head;
	avail()->idx++;
}

/* header (readable) → data (writable) → status (writable). */
static void good_chain(uint16_t h)
{
	set_desc(h, GPA + DATA_OFF, 16, VRING_DESC_F_NEXT, h + 1);
	set_desc(h + 1, GPA + DATA_OFF + 16, 512,
		 VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, h + 2);
	set_desc(h + 2, GPA + DATA_OFF + 528, 1, VRING_DESC_F_WRITE, 0);
}

static void test_good_chain(void **state)
{
	struct virtq_chain c;
	uint8_t b[4];

	(void)state;
	assert_int_equal(virtq_pop(&q, &vm, &c), 0);
	good_chain(0);
	offer(0);
	assert_int_equal(virtq_pop(&q, &vm, &c), 1);
	assert_int_equal(c.head, 0);
	assert_int_equal(c.n_out, 1);
	assert_int_equal(c.n_in, 2);
	assert_int_equal(c.out_len, 16);
	assert_int_equal(c.in_len, 513);
	assert_ptr_equal(c.iov[0].iov_base, mem + DATA_OFF);
	assert_ptr_equal(c.iov[2].iov_base, mem + DATA_OFF + 528);
	assert_int_equal(virtq_pop(&q, &vm, &c), 0);

	/* Copies cross descriptor boundaries. */
	assert_int_equal(virtq_chain_write(&c, 510, "abc", 3), 3);
	assert_memory_equal(mem + DATA_OFF + 16 + 510, "ab", 2);
	assert_int_equal(mem[DATA_OFF + 528], 'c');
	assert_int_equal(virtq_chain_write(&c, 512, "xyz", 3), 1);
	memcpy(mem + DATA_OFF + 14, "hi", 2);
	assert_int_equal(virtq_chain_read(&c, 14, b, 4), 2);
	assert_memory_equal(b, "hi", 2);

	virtq_push(&q, c.head, 513);
	assert_int_equal(used()->idx, 1);
	assert_int_equal(used()->ring[0].id, 0);
	assert_int_equal(used()->ring[0].len, 513);
	assert_true(virtq_should_notify(&q));
	avail()->flags = VRING_AVAIL_F_NO_INTERRUPT;
	assert_false(virtq_should_notify(&q));
}

static void test_slice(void **state)
{
	struct virtq_chain c;
	struct iovec v[4];

	(void)state;
	good_chain(3);
	offer(3);
	assert_int_equal(virtq_pop(&q, &vm, &c), 1);
	/* The writable part less its last byte: the data of a read. */
	assert_int_equal(virtq_chain_slice(&c, true, 0, 512, v, 4), 1);
	assert_ptr_equal(v[0].iov_base, mem + DATA_OFF + 16);
	assert_int_equal(v[0].iov_len, 512);
	assert_int_equal(virtq_chain_slice(&c, true, 500, 13, v, 4), 2);
	assert_int_equal(v[0].iov_len, 12);
	assert_int_equal(v[1].iov_len, 1);
	assert_int_equal(virtq_chain_slice(&c, true, 500, 13, v, 1), -1);
	assert_int_equal(virtq_chain_slice(&c, true, 0, 514, v, 4), -1);
	assert_int_equal(virtq_chain_slice(&c, false, 16, 1, v, 4), -1);
	assert_int_equal(virtq_chain_slice(&c, false, 0, 0, v, 4), 0);
}

/* Each hostile chain is an error for that chain; the next is served. */
static void test_hostile_chains(void **state)
{
	struct virtq_chain c;

	(void)state;
	/* Head out of range. */
	offer(NUM);
	assert_int_equal(virtq_pop(&q, &vm, &c), VIRTQ_ERR_HEAD);
	/* next out of range. */
	set_desc(0, GPA, 1, VRING_DESC_F_NEXT, 200);
	offer(0);
	assert_int_equal(virtq_pop(&q, &vm, &c), VIRTQ_ERR_INDEX);
	assert_int_equal(c.head, 0);
	/* A loop 1 → 2 → 1. */
	set_desc(1, GPA, 1, VRING_DESC_F_NEXT, 2);
	set_desc(2, GPA, 1, VRING_DESC_F_NEXT, 1);
	offer(1);
	assert_int_equal(virtq_pop(&q, &vm, &c), VIRTQ_ERR_LOOP);
	/* A self-loop. */
	set_desc(5, GPA, 1, VRING_DESC_F_NEXT, 5);
	offer(5);
	assert_int_equal(virtq_pop(&q, &vm, &c), VIRTQ_ERR_LOOP);
	/* Outside the memory, wrapping, one byte past the end. */
	set_desc(0, 0x1000, 16, 0, 0);
	offer(0);
	assert_int_equal(virtq_pop(&q, &vm, &c), VIRTQ_ERR_ADDR);
	set_desc(0, UINT64_MAX - 8, 64, 0, 0);
	offer(0);
	assert_int_equal(virtq_pop(&q, &vm, &c), VIRTQ_ERR_ADDR);
	set_desc(0, GPA + MEM_SIZE - 16, 17, 0, 0);
	offer(0);
	assert_int_equal(virtq_pop(&q, &vm, &c), VIRTQ_ERR_ADDR);
	set_desc(0, GPA + MEM_SIZE - 16, 16, 0, 0);
	offer(0);
	assert_int_equal(virtq_pop(&q, &vm, &c), 1);
	/* Longer than the byte cap (4 GiB - 1 in one descriptor). */
	set_desc(0, GPA, UINT32_MAX, 0, 0);
	offer(0);
	assert_int_equal(virtq_pop(&q, &vm, &c), VIRTQ_ERR_LONG);
	/* INDIRECT is not offered. */
	set_desc(0, GPA, 16, VRING_DESC_F_INDIRECT, 0);
	offer(0);
	assert_int_equal(virtq_pop(&q, &vm, &c), VIRTQ_ERR_INDIRECT);
	/* Readable after writable. */
	set_desc(0, GPA, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(1, GPA, 16, 0, 0);
	offer(0);
	assert_int_equal(virtq_pop(&q, &vm, &c), VIRTQ_ERR_ORDER);
	/* And a good chain after all of them. */
	good_chain(4);
	offer(4);
	assert_int_equal(virtq_pop(&q, &vm, &c), 1);
	assert_int_equal(c.head, 4);
}

/* A chain longer than VIRTQ_CHAIN_MAX in a big queue, and an avail index
 * that runs more than the queue ahead. */
static void test_long_chain_and_ring(void **state)
{
	struct virtq big;
	struct virtq_chain c;
	struct vring_desc *d = (struct vring_desc *)(mem + DATA_OFF);
	uint16_t *ring = (uint16_t *)(mem + AVAIL_OFF);

	(void)state;
	/* 256 entries: descriptors at DATA_OFF (4 KiB), avail, used. */
	assert_int_equal(virtq_setup(&big, &vm, 256, UADDR + DATA_OFF,
				     UADDR + AVAIL_OFF, UADDR + USED_OFF, 0),
			 0);
	for (unsigned i = 0; i < 256; i++)
		d[i] = (struct vring_desc){ GPA, 1, VRING_DESC_F_NEXT,
					    (uint16_t)(i + 1) };
	d[255].flags = 0;
	ring[2] = 0;
	ring[1] = 1;
	assert_int_equal(virtq_pop(&big, &vm, &c), VIRTQ_ERR_LONG);
	ring[1] = 300; /* avail idx 300 - last_avail 1 > 256 */
	assert_int_equal(virtq_pop(&big, &vm, &c), VIRTQ_ERR_RING);
	assert_int_equal(big.last_avail, 1);
}

static void test_setup_checks(void **state)
{
	struct virtq t;

	(void)state;
	assert_int_equal(virtq_setup(&t, &vm, 6, UADDR, UADDR + AVAIL_OFF,
				     UADDR + USED_OFF, 0),
			 VIRTQ_ERR_RING);
	assert_int_equal(virtq_setup(&t, &vm, 0, UADDR, UADDR + AVAIL_OFF,
				     UADDR + USED_OFF, 0),
			 VIRTQ_ERR_RING);
	assert_int_equal(virtq_setup(&t, &vm, 2048, UADDR, UADDR + AVAIL_OFF,
				     UADDR + USED_OFF, 0),
			 VIRTQ_ERR_RING);
	assert_int_equal(virtq_setup(&t, &vm, 8, UADDR + 8, UADDR + AVAIL_OFF,
				     UADDR + USED_OFF, 0),
			 VIRTQ_ERR_RING); /* misaligned */
	assert_int_equal(virtq_setup(&t, &vm, 8, UADDR, UADDR + AVAIL_OFF,
				     UADDR + MEM_SIZE - 8, 0),
			 VIRTQ_ERR_RING); /* used ring past the end */
	assert_int_equal(virtq_setup(&t, &vm, 8, GPA, UADDR + AVAIL_OFF,
				     UADDR + USED_OFF, 0),
			 VIRTQ_ERR_RING); /* a gpa, not a front-end address */
	assert_false(t.ready);
	assert_int_equal(virtq_setup(&t, &vm, 8, UADDR, UADDR + AVAIL_OFF,
				     UADDR + USED_OFF, 5),
			 0);
	assert_int_equal(t.last_avail, 5);
}

static void test_mem_add(void **state)
{
	struct virtq_mem m = { .n = 0 };
	static uint8_t a[64];

	(void)state;
	assert_int_equal(virtq_mem_add(&m, 0, 0, 0, a), VIRTQ_ERR_REGION);
	assert_int_equal(virtq_mem_add(&m, UINT64_MAX - 10, 64, 0, a),
			 VIRTQ_ERR_REGION);
	assert_int_equal(virtq_mem_add(&m, 0, 64, UINT64_MAX - 10, a),
			 VIRTQ_ERR_REGION);
	assert_int_equal(virtq_mem_add(&m, 0x1000, 64, 0x9000, a), 0);
	assert_int_equal(virtq_mem_add(&m, 0x1020, 64, 0x5000, a),
			 VIRTQ_ERR_REGION); /* gpa overlaps */
	assert_int_equal(virtq_mem_add(&m, 0x5000, 64, 0x9030, a),
			 VIRTQ_ERR_REGION); /* uaddr overlaps */
	assert_int_equal(virtq_mem_add(&m, 0x1040, 64, 0x9040, a), 0);
	assert_ptr_equal(virtq_mem_gpa(&m, 0x1000, 64), a);
	/* A buffer across two regions is refused, even when adjacent. */
	assert_null(virtq_mem_gpa(&m, 0x1030, 32));
	assert_null(virtq_mem_gpa(&m, 0xfff, 1));
	assert_null(virtq_mem_gpa(&m, 0x1000, UINT64_MAX));
	assert_ptr_equal(virtq_mem_uaddr(&m, 0x9010, 8), a + 16);
	for (unsigned i = 2; i < VIRTQ_MAX_REGIONS; i++)
		assert_int_equal(
		    virtq_mem_add(&m, 0x10000 * (i + 1), 8, 0x100000 * i, a),
		    0);
	assert_int_equal(virtq_mem_add(&m, 1ull << 40, 8, 1ull << 41, a),
			 VIRTQ_ERR_REGION); /* full */
	virtq_mem_clear(&m);
	assert_int_equal(m.n, 0);
}

/* Regions from descriptors: sealed memfds only, inside the file. */
static void test_mem_map(void **state)
{
	struct virtq_mem m = { .n = 0 };
	struct vhost_user_mem_table t = { .nregions = 1 };
	int fd = util_memfd_create("virtq-test", 3 * 4096);
	uint8_t *p;

	(void)state;
	assert_true(fd >= 0);
	t.regions[0] =
	    (struct vhost_user_mem_region){ 0x10000, 4096, 0x5000, 4096 };
	assert_int_equal(virtq_mem_map(&m, &t, &fd), VIRTQ_ERR_REGION);
	assert_int_equal(util_memfd_seal(fd, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	assert_int_equal(virtq_mem_map(&m, &t, &fd), 0);
	assert_int_equal(m.n, 1);
	p = virtq_mem_gpa(&m, 0x10000, 4096);
	assert_non_null(p);
	p[0] = 42;
	{
		uint8_t b;
		assert_int_equal(pread(fd, &b, 1, 4096), 1);
		assert_int_equal(b, 42);
	}
	/* Past the end of the file; an offset that is not page-aligned. */
	t.regions[0].mmap_offset = 2 * 4096 + 1;
	assert_int_equal(virtq_mem_map(&m, &t, &fd), VIRTQ_ERR_REGION);
	assert_int_equal(m.n, 0);
	t.regions[0].mmap_offset = 100;
	assert_int_equal(virtq_mem_map(&m, &t, &fd), 0);
	p = virtq_mem_gpa(&m, 0x10000, 1);
	assert_int_equal(*p, 0);
	t.regions[0].mmap_offset = UINT64_MAX;
	assert_int_equal(virtq_mem_map(&m, &t, &fd), VIRTQ_ERR_REGION);
	t.nregions = 2; /* the same descriptor twice: overlapping regions */
	t.regions[0].mmap_offset = 0;
	t.regions[1] = t.regions[0];
	{
		int fds[2] = { fd, fd };
		assert_int_equal(virtq_mem_map(&m, &t, fds), VIRTQ_ERR_REGION);
	}
	virtq_mem_clear(&m);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_chain, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_slice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_chains, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_long_chain_and_ring, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_setup_checks, setup,
						teardown),
		cmocka_unit_test(test_mem_add),
		cmocka_unit_test(test_mem_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
