/* lib/virtq: a split ring in a small memory region, good chains and
 * hostile ones (bad indexes, loops, lengths, addresses, INDIRECT, order),
 * the memory table's checks, copies across descriptors, and the inflight
 * region across a back-end killed at each step of a request. */
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

/* ------------------------------------------------------ inflight region */

static struct virtq_inflight *region(void)
{
	size_t n = virtq_inflight_size(NUM);
	struct virtq_inflight *r = aligned_alloc(64, n);

	assert_non_null(r);
	memset(r, 0, n);
	return r;
}

/* A new back-end: the queue set up again at the guest's used index (as
 * vmworker sends it), the region attached. */
static int restart(struct virtq_inflight *r, uint16_t *heads)
{
	assert_int_equal(virtq_setup(&q, &vm, NUM, UADDR + DESC_OFF,
				     UADDR + AVAIL_OFF, UADDR + USED_OFF,
				     used()->idx),
			 0);
	return virtq_inflight_attach(&q, r, NUM, heads);
}

static void test_inflight_size(void **state)
{
	(void)state;
	assert_int_equal(virtq_inflight_size(0), 0);
	assert_int_equal(virtq_inflight_size(VIRTQ_NUM_MAX + 1), 0);
	assert_int_equal(virtq_inflight_size(1), 64);
	assert_int_equal(virtq_inflight_size(3), 64);
	assert_int_equal(virtq_inflight_size(4), 128); /* 16 + 4 * 16 */
	assert_int_equal(virtq_inflight_size(256), 16 + 4096 + 48);
}

/* Taken marks, completed clears: nothing is left for the next one. */
static void test_inflight_marks(void **state)
{
	struct virtq_inflight *r = region();
	struct virtq_chain c;
	uint16_t heads[NUM];

	(void)state;
	assert_int_equal(restart(r, heads), 0); /* fresh */
	assert_int_equal(r->version, VIRTQ_INFLIGHT_VERSION);
	assert_int_equal(r->desc_num, NUM);
	good_chain(0);
	good_chain(3);
	offer(3);
	offer(0);
	assert_int_equal(virtq_pop(&q, &vm, &c), 1);
	assert_int_equal(r->desc[3].inflight, 1);
	assert_int_equal(r->desc[3].counter, 0);
	assert_int_equal(virtq_pop(&q, &vm, &c), 1);
	assert_int_equal(r->desc[0].counter, 1);
	virtq_push(&q, 3, 1);
	assert_int_equal(r->desc[3].inflight, 0);
	assert_int_equal(r->last_batch_head, 3);
	assert_int_equal(r->used_idx, 1);
	virtq_push(&q, 0, 1);
	assert_int_equal(restart(r, heads), 0);
	assert_int_equal(q.last_avail, 2);
	assert_int_equal(q.used_idx, 2);
	assert_int_equal(virtq_pop(&q, &vm, &c), 0);
	free(r);
}

/* Killed after taking chains, before completing them: they run again in
 * the order they were taken, and complete once. */
static void test_inflight_resubmit(void **state)
{
	struct virtq_inflight *r = region();
	struct virtq_chain c;
	uint16_t heads[NUM];

	(void)state;
	assert_int_equal(restart(r, heads), 0);
	good_chain(5);
	good_chain(2);
	good_chain(0);
	offer(5);
	offer(2);
	offer(0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(virtq_pop(&q, &vm, &c), 1);
	virtq_push(&q, 5, 1); /* the first completes; 2 and 0 are taken */
	assert_int_equal(restart(r, heads), 2);
	assert_int_equal(heads[0], 2);
	assert_int_equal(heads[1], 0);
	assert_int_equal(q.last_avail, 3); /* used 1 + 2 marked */
	assert_int_equal(q.used_idx, 1);
	assert_true(q.counter >= 3);
	assert_int_equal(virtq_pop(&q, &vm, &c), 0); /* none taken twice */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(virtq_walk(&q, &vm, heads[i], &c), 0);
		virtq_push(&q, heads[i], 1);
	}
	assert_int_equal(used()->idx, 3);
	assert_int_equal(used()->ring[1].id, 2);
	assert_int_equal(used()->ring[2].id, 0);
	/* and once more: nothing left */
	assert_int_equal(restart(r, heads), 0);
	assert_int_equal(q.last_avail, 3);
	free(r);
}

/* Killed between publishing a completion and clearing its entry: the
 * next back-end sees the used index ahead of the region's and does not
 * run it again. Killed before publishing: it runs again. */
static void test_inflight_torn_push(void **state)
{
	struct virtq_inflight *r = region();
	struct virtq_chain c;
	uint16_t heads[NUM];

	(void)state;
	assert_int_equal(restart(r, heads), 0);
	good_chain(4);
	offer(4);
	assert_int_equal(virtq_pop(&q, &vm, &c), 1);
	/* the push up to the used index, without its last two steps */
	r->last_batch_head = 4;
	used()->ring[0] = (struct vring_used_elem){ 4, 1 };
	used()->idx = 1;
	assert_int_equal(restart(r, heads), 0);
	assert_int_equal(r->desc[4].inflight, 0);
	assert_int_equal(r->used_idx, 1);
	assert_int_equal(q.last_avail, 1);
	/* element written, index not: the request is not complete */
	good_chain(1);
	offer(1);
	assert_int_equal(virtq_pop(&q, &vm, &c), 1);
	r->last_batch_head = 1;
	used()->ring[1] = (struct vring_used_elem){ 1, 1 };
	assert_int_equal(restart(r, heads), 1);
	assert_int_equal(heads[0], 1);
	assert_int_equal(q.last_avail, 2);
	free(r);
}

/* A region that is not what a back-end wrote, or does not fit the ring,
 * is refused and the queue left untracked. */
static void test_inflight_hostile(void **state)
{
	struct virtq_inflight *r = region();
	struct virtq_chain c;
	uint16_t heads[NUM];

	(void)state;
	assert_int_equal(restart(r, heads), 0);
	r->version = 7;
	assert_int_equal(restart(r, heads), VIRTQ_ERR_REGION);
	assert_null(q.inflight);
	r->version = VIRTQ_INFLIGHT_VERSION;
	r->desc_num = NUM * 2;
	assert_int_equal(restart(r, heads), VIRTQ_ERR_REGION);
	r->desc_num = NUM;
	assert_int_equal(virtq_inflight_attach(&q, r, NUM / 2, heads),
			 VIRTQ_ERR_REGION); /* smaller than the ring */
	/* marked, but the driver never made anything available */
	r->desc[6].inflight = 1;
	assert_int_equal(restart(r, heads), VIRTQ_ERR_RING);
	/* a batch head past the entries is ignored */
	r->desc[6].inflight = 0;
	r->last_batch_head = 0xffff;
	r->used_idx = 9;
	assert_int_equal(restart(r, heads), 0);
	assert_int_equal(r->used_idx, 0);
	/* a head the ring does not have (virtq_pop: consumed, not marked) */
	offer(NUM);
	assert_int_equal(virtq_pop(&q, &vm, &c), VIRTQ_ERR_HEAD);
	for (unsigned i = 0; i < NUM; i++)
		assert_int_equal(r->desc[i].inflight, 0);
	free(r);
}

/* Regions from descriptors: sealed memfds of the right size only. */
static void test_inflight_map(void **state)
{
	struct virtq_inflight_map im = { 0 };
	int fd = util_memfd_create("virtq-inflight", 4096);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(virtq_inflight_map(&im, fd, 0, 4096, NUM),
			 VIRTQ_ERR_REGION); /* not sealed */
	assert_int_equal(util_memfd_seal(fd, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	assert_int_equal(virtq_inflight_map(&im, fd, 0, 64, NUM),
			 VIRTQ_ERR_REGION); /* smaller than NUM entries */
	assert_int_equal(virtq_inflight_map(&im, fd, 4, 4000, NUM),
			 VIRTQ_ERR_REGION); /* misaligned */
	assert_int_equal(virtq_inflight_map(&im, fd, 4064, 64, 1),
			 VIRTQ_ERR_REGION); /* past the end of the file */
	assert_int_equal(virtq_inflight_map(&im, fd, 0, 4096, 0),
			 VIRTQ_ERR_REGION);
	assert_int_equal(virtq_inflight_map(&im, fd, 64, 4032, NUM), 0);
	assert_non_null(im.r);
	assert_int_equal(im.desc_num, NUM);
	im.r->version = 1;
	{
		uint16_t v;
		assert_int_equal(pread(fd, &v, 2, 64 + 8), 2);
		assert_int_equal(v, 1);
	}
	virtq_inflight_unmap(&im);
	assert_null(im.r);
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
		cmocka_unit_test(test_inflight_size),
		cmocka_unit_test_setup_teardown(test_inflight_marks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_inflight_resubmit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_inflight_torn_push, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_inflight_hostile, setup,
						teardown),
		cmocka_unit_test(test_inflight_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
