/* evildisk: a hostile driver of disk 0 by mode= (a comma-separated list
 * of steps, or all): descriptor loops, chains longer than the queue or
 * than the backend takes, buffers past the end of RAM or in the VTL2
 * hole, queue sizes that are not powers of two, queue registers changed
 * while it runs, misaligned rings, a reset under requests, notify storms, a
 * used ring over the descriptor table, a bogus available index or head,
 * malformed chains. Each step checks that what it sent failed cleanly (returned
 * unrun, completed with an error, or the device asks for a reset) and
 * that the queue still serves a valid request; then disk 0 is reset and
 * disk 1 is used normally (guests/lib/virtio_blk.c). Output per step
 * "evildisk: STEP: ok", at the end "evildisk: expect refused=R errors=E
 * exact=0|1" (blkd's counters for disk 0 after the run); hold=1 then
 * waits for the host. Exit values: 0 ok, 1 a check failed, 2 no disks
 * or a bad mode, 3 disk 1 failed. */
#include "guest.h"
#include "virtio_blk.h"
#include "virtio_mmio.h"

#define HQ_MAX	     256 /* the transport's QueueNumMax */
#define HQ_SLOTS     32	 /* request headers and status bytes */
#define HQ_BUFS	     5
#define HQ_BUF_BYTES (64u << 10)
#define WAIT_MS	     10000 /* a completion that should come */
#define QUIET_MS     300   /* how long one that should not come is awaited */
#define ST_UNTOUCHED 0xff

struct hq_used {
	uint16_t flags;
	uint16_t idx;
	struct {
		uint32_t id, len;
	} ring[HQ_MAX];
	uint16_t avail_event;
};

struct hq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[HQ_MAX];
	uint16_t used_event;
};

/* Two sets of rings (requeue moves to the second); data buffers. */
static struct vring_desc hq_desc[2][HQ_MAX] __attribute__((aligned(4096)));
static struct hq_avail hq_avail[2] __attribute__((aligned(4096)));
static struct hq_used hq_used[2] __attribute__((aligned(4096)));
static struct blk_hdr {
	uint32_t type, reserved;
	uint64_t sector;
} hq_hdr[HQ_SLOTS] __attribute__((aligned(64)));
static volatile uint8_t hq_status[HQ_SLOTS] __attribute__((aligned(64)));
static uint8_t hq_buf[HQ_BUFS][HQ_BUF_BYTES] __attribute__((aligned(4096)));
static uint8_t d1_buf[2][4096] __attribute__((aligned(4096)));

/* Disk 0's queue as this driver set it up. */
static struct {
	uint64_t base;
	unsigned num;
	struct vring_desc *desc;
	struct hq_avail *avail;
	volatile struct hq_used *used;
	uint16_t avail_idx, used_seen;
} hq;

/* What blkd should have counted for disk 0. */
static unsigned exp_refused, exp_errors;
static int exp_exact = 1;

static uint32_t rd(uint32_t off)
{
	return mmio_read32(hq.base + off);
}

static void wr(uint32_t off, uint32_t v)
{
	mmio_write32(hq.base + off, v);
}

static void wr64(uint32_t off, uint64_t v)
{
	wr(off, (uint32_t)v);
	wr(off + 4, (uint32_t)(v >> 32));
}

static uint32_t now_ms(void)
{
	return ts_now_us() / 1000;
}

static void pause_ms(uint32_t ms)
{
	ts_delay_us(ms * 1000);
}

static int hq_reset(void)
{
	unsigned i;

	wr(VMMIO_STATUS, 0);
	for (i = 0; i < 1000000; i++)
		if (rd(VMMIO_STATUS) == 0)
			return 0;
	gprintf("evildisk: disk0 does not finish its reset\n");
	return -1;
}

static void hq_clear(int set)
{
	memset(hq_desc[set], 0, sizeof(hq_desc[set]));
	memset(&hq_avail[set], 0, sizeof(hq_avail[set]));
	memset(&hq_used[set], 0, sizeof(hq_used[set]));
	hq_avail[set].flags = VRING_AVAIL_F_NO_INTERRUPT;
}

/* Reset, VERSION_1 only, queue 0 of num entries at the given rings,
 * DRIVER_OK: the status register after it. */
static uint32_t hq_start_at(unsigned num, uint64_t desc, uint64_t avail,
			    uint64_t used)
{
	if (hq_reset() < 0)
		return ST_NEEDS_RESET;
	wr(VMMIO_STATUS, ST_ACKNOWLEDGE | ST_DRIVER);
	wr(VMMIO_DRIVER_FEAT_SEL, 0);
	wr(VMMIO_DRIVER_FEATURES, 0);
	wr(VMMIO_DRIVER_FEAT_SEL, 1);
	wr(VMMIO_DRIVER_FEATURES, 1); /* VIRTIO_F_VERSION_1 is bit 32 */
	wr(VMMIO_STATUS, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK);
	wr(VMMIO_QUEUE_SEL, 0);
	wr(VMMIO_QUEUE_NUM, num);
	wr64(VMMIO_QUEUE_DESC_LO, desc);
	wr64(VMMIO_QUEUE_AVAIL_LO, avail);
	wr64(VMMIO_QUEUE_USED_LO, used);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	wr(VMMIO_QUEUE_READY, 1);
	wr(VMMIO_STATUS,
	   ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
	hq.num = num;
	hq.desc = (struct vring_desc *)(uintptr_t)desc;
	hq.avail = (struct hq_avail *)(uintptr_t)avail;
	hq.used = (volatile struct hq_used *)(uintptr_t)used;
	hq.avail_idx = hq.used_seen = 0;
	return rd(VMMIO_STATUS);
}

/* Ring set `set`, fresh, with num entries; 0 when the device runs it. */
static int hq_start(int set, unsigned num)
{
	uint32_t st;

	hq_clear(set);
	st = hq_start_at(num, (uintptr_t)hq_desc[set],
			 (uintptr_t)&hq_avail[set], (uintptr_t)&hq_used[set]);
	if (st & ST_NEEDS_RESET || !(st & ST_DRIVER_OK)) {
		gprintf("evildisk: disk0 refused a valid queue: status 0x%x\n",
			st);
		return -1;
	}
	return 0;
}

static void set_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	hq.desc[i] = (struct vring_desc){ addr, len, flags, next };
}

/* Makes head available (with avail_step as the index's step) and
 * notifies. */
static void publish_step(uint16_t head, uint16_t avail_step)
{
	hq.avail->ring[hq.avail_idx % hq.num] = head;
	hq.avail_idx += avail_step;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&hq.avail->idx, hq.avail_idx, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	wr(VMMIO_QUEUE_NOTIFY, 0);
}

static void publish(uint16_t head)
{
	publish_step(head, 1);
}

/* The next used entry within ms: 1 with *id, *len; 0 none came. */
static int wait_used(uint32_t ms, uint32_t *id, uint32_t *len)
{
	uint32_t t0 = now_ms();

	while (__atomic_load_n(&hq.used->idx, __ATOMIC_ACQUIRE) ==
	       hq.used_seen) {
		if (now_ms() - t0 >= ms)
			return 0;
		cpu_relax();
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*id = hq.used->ring[hq.used_seen % hq.num].id;
	*len = hq.used->ring[hq.used_seen % hq.num].len;
	hq.used_seen++;
	return 1;
}

/* A request in descriptors i, i+1, i+2 (header slot s, status slot s);
 * buf NULL: header straight to the status. */
static void build_req(unsigned i, unsigned s, uint32_t type, uint64_t sector,
		      uint64_t buf, uint32_t len)
{
	uint16_t dflags = VRING_DESC_F_NEXT |
			  (type == VIRTIO_BLK_T_OUT ? 0 : VRING_DESC_F_WRITE);

	hq_hdr[s] = (struct blk_hdr){ type, 0, sector };
	hq_status[s] = ST_UNTOUCHED;
	set_desc(i, (uintptr_t)&hq_hdr[s], sizeof(hq_hdr[s]), VRING_DESC_F_NEXT,
		 (uint16_t)(i + 1));
	if (len)
		set_desc(i + 1, buf, len, dflags, (uint16_t)(i + 2));
	else
		hq.desc[i].next = (uint16_t)(i + 2);
	set_desc(i + 2, (uintptr_t)&hq_status[s], 1, VRING_DESC_F_WRITE, 0);
}

static int fail(const char *what, uint32_t a, uint32_t b)
{
	gprintf("evildisk: FAIL: %s (%u, %u)\n", what, a, b);
	return 1;
}

/* The chain at head came back unrun: length 0, status slot s (or none,
 * s < 0) untouched. */
static int expect_refused(uint16_t head, int s)
{
	uint32_t id, len;

	if (!wait_used(WAIT_MS, &id, &len))
		return fail("a malformed chain never came back", head, 0);
	if (id != head || len != 0)
		return fail("malformed chain: wrong used entry", id, len);
	if (s >= 0 && hq_status[s] != ST_UNTOUCHED)
		return fail("malformed chain: status written", head,
			    hq_status[s]);
	exp_refused++;
	return 0;
}

/* The request at head completed with status want (slot s). */
static int expect_status(uint16_t head, unsigned s, uint8_t want)
{
	uint32_t id, len;

	if (!wait_used(WAIT_MS, &id, &len))
		return fail("a request never completed", head, 0);
	if (id != head || len == 0)
		return fail("wrong used entry", id, len);
	if (hq_status[s] != want)
		return fail("unexpected status", hq_status[s], want);
	if (want != VIRTIO_BLK_S_OK)
		exp_errors++;
	return 0;
}

/* A valid read of sector 0 in descriptors i..i+2: the queue still works. */
static int valid_read(unsigned i)
{
	build_req(i, i / 3, VIRTIO_BLK_T_IN, 0, (uintptr_t)hq_buf[0], 4096);
	publish((uint16_t)i);
	return expect_status((uint16_t)i, i / 3, VIRTIO_BLK_S_OK);
}

/* Nothing more arrives on the used ring for ms. */
static int expect_quiet(uint32_t ms, const char *what)
{
	uint32_t id, len;

	if (wait_used(ms, &id, &len))
		return fail(what, id, len);
	return 0;
}

/* ------------------------------------------------------------ steps */

static int step_loop(void)
{
	int bad;

	if (hq_start(0, 16))
		return 1;
	build_req(0, 0, VIRTIO_BLK_T_IN, 0, 0, 0);
	set_desc(1, (uintptr_t)&hq_hdr[0], 16, VRING_DESC_F_NEXT, 0);
	hq.desc[0].next = 1; /* 0 -> 1 -> 0 ... */
	publish(0);
	bad = expect_refused(0, -1);
	set_desc(3, (uintptr_t)&hq_hdr[1], 16, VRING_DESC_F_NEXT, 3);
	publish(3); /* itself */
	bad |= expect_refused(3, -1);
	return bad | valid_read(6);
}

/* Chains longer than the queue (a cycle through all of it), than
 * blkd's 128 descriptors, and than its 4 MiB. */
static int step_long(void)
{
	unsigned i;
	int bad;

	if (hq_start(0, HQ_MAX))
		return 1;
	hq_hdr[0] = (struct blk_hdr){ VIRTIO_BLK_T_IN, 0, 0 };
	for (i = 0; i < HQ_MAX; i++)
		set_desc(i, (uintptr_t)&hq_hdr[0], 16, VRING_DESC_F_NEXT,
			 (uint16_t)((i + 1) % HQ_MAX));
	publish(0);
	bad = expect_refused(0, -1);
	hq_status[0] = ST_UNTOUCHED;
	set_desc(200, (uintptr_t)&hq_status[0], 1, VRING_DESC_F_WRITE, 0);
	publish(0);
	bad |= expect_refused(0, 0);
	build_req(0, 0, VIRTIO_BLK_T_OUT, 0, 0x200000, 3u << 20);
	set_desc(2, 0x200000, 3u << 20, VRING_DESC_F_NEXT, 3);
	set_desc(3, (uintptr_t)&hq_status[0], 1, VRING_DESC_F_WRITE, 0);
	publish(0);
	bad |= expect_refused(0, 0);
	return bad | valid_read(10);
}

/* Buffers past the end of RAM, wrapping, too long; a header outside
 * RAM; a read past the end of the disk (IOERR, not refused). */
static int step_pastram(void)
{
	static const struct {
		uint64_t addr;
		uint32_t len;
	} bufs[] = { { 0xF0000000ULL, 4096 },
		     { 0xFFFFFFFFFFFFF000ULL, 0x2000 },
		     { 0x100000, 0xFFFFFFFFu } };
	uint32_t cap = mmio_read32(hq.base + VMMIO_CONFIG);
	unsigned i;
	int bad = 0;

	if (hq_start(0, 16))
		return 1;
	for (i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) {
		build_req(0, 0, VIRTIO_BLK_T_IN, 0, bufs[i].addr, bufs[i].len);
		publish(0);
		bad |= expect_refused(0, 0);
	}
	build_req(0, 0, VIRTIO_BLK_T_IN, 0, (uintptr_t)hq_buf[0], 512);
	hq.desc[0].addr = 1ULL << 40;
	publish(0);
	bad |= expect_refused(0, 0);
	build_req(3, 1, VIRTIO_BLK_T_IN, cap, (uintptr_t)hq_buf[0], 512);
	publish(3);
	bad |= expect_status(3, 1, VIRTIO_BLK_S_IOERR);
	return bad | valid_read(6);
}

/* A ring the device must refuse to start: DEVICE_NEEDS_RESET. */
static int expect_needs_reset(const char *what, unsigned num, uint64_t desc,
			      uint64_t avail)
{
	uint32_t st;

	hq_clear(0);
	st = hq_start_at(num, desc, avail, (uintptr_t)&hq_used[0]);
	if (!(st & ST_NEEDS_RESET))
		return fail(what, num, st);
	gprintf("evildisk: %s: status 0x%x\n", what, st);
	return 0;
}

/* Buffers in and across the VTL2 hole; rings in it. */
static int step_hole(void)
{
	static const struct {
		uint64_t addr;
		uint32_t len;
	} bufs[] = { { GUEST_VTL2_GPA, 4096 },
		     { GUEST_VTL2_GPA - 512, 1024 },
		     { GUEST_VTL2_GPA + GUEST_VTL2_SIZE - 512, 1024 } };
	unsigned i;
	int bad = 0;

	if (hq_start(0, 16))
		return 1;
	for (i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) {
		build_req(0, 0, VIRTIO_BLK_T_IN, 0, bufs[i].addr, bufs[i].len);
		publish(0);
		bad |= expect_refused(0, 0);
	}
	bad |= valid_read(3);
	bad |= expect_needs_reset("descriptors in the hole", 16, GUEST_VTL2_GPA,
				  (uintptr_t)&hq_avail[0]);
	bad |= expect_needs_reset("avail ring in the hole", 16,
				  (uintptr_t)hq_desc[0],
				  GUEST_VTL2_GPA + GUEST_VTL2_SIZE - 2);
	return bad;
}

/* Queue sizes that are not powers of two, 0, above QueueNumMax. */
static int step_qsize(void)
{
	static const unsigned sizes[] = { 3, 0, 100, 512, 255 };
	unsigned i;
	int bad = 0;

	if (rd(VMMIO_QUEUE_NUM_MAX) != HQ_MAX)
		return fail("QueueNumMax", rd(VMMIO_QUEUE_NUM_MAX), HQ_MAX);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		bad |= expect_needs_reset("bad queue size", sizes[i],
					  (uintptr_t)hq_desc[0],
					  (uintptr_t)&hq_avail[0]);
	if (hq_start(0, 16))
		return 1;
	return bad | valid_read(0);
}

/* Rings off the alignment the spec requires (descriptors 16, available
 * ring 2, used ring 4 bytes): the device must refuse them, not accept a
 * queue it cannot run. */
static int step_unaligned(void)
{
	uint64_t d = (uintptr_t)hq_desc[0], a = (uintptr_t)&hq_avail[0];
	uint64_t u = (uintptr_t)&hq_used[0];
	int bad;

	bad = expect_needs_reset("unaligned descriptors", 16, d + 8, a);
	bad |= expect_needs_reset("unaligned avail ring", 16, d, a + 1);
	hq_clear(0);
	if (!(hq_start_at(16, d, a, u + 2) & ST_NEEDS_RESET))
		bad |= fail("unaligned used ring accepted", 0, 0);
	if (hq_start(0, 16))
		return 1;
	return bad | valid_read(0);
}

/* Queue registers written while the queue runs are ignored; QueueReady
 * 0 stops it (and 1 after DRIVER_OK does not restart it); a reset and
 * a new queue elsewhere work. */
static int step_requeue(void)
{
	int bad;

	if (hq_start(0, 16))
		return 1;
	bad = valid_read(0);
	hq_clear(1);
	wr64(VMMIO_QUEUE_DESC_LO, (uintptr_t)hq_desc[1]);
	wr64(VMMIO_QUEUE_AVAIL_LO, (uintptr_t)&hq_avail[1]);
	wr64(VMMIO_QUEUE_USED_LO, 0xF0000000ULL);
	wr(VMMIO_QUEUE_NUM, 8);
	wr(VMMIO_QUEUE_SEL, 5);
	wr(VMMIO_QUEUE_READY, 0); /* queue 5: does not exist */
	wr(VMMIO_QUEUE_SEL, 0);
	bad |= valid_read(3);
	wr(VMMIO_QUEUE_READY, 0);
	if (rd(VMMIO_QUEUE_READY) != 0)
		bad |= fail("QueueReady stays 1", 0, 0);
	build_req(6, 2, VIRTIO_BLK_T_IN, 0, (uintptr_t)hq_buf[0], 4096);
	publish(6);
	bad |= expect_quiet(QUIET_MS, "a stopped queue completed a request");
	wr(VMMIO_QUEUE_READY, 1);
	publish(6);
	bad |= expect_quiet(QUIET_MS, "a queue restarted after DRIVER_OK");
	if (hq_start(1, 8))
		return 1;
	return bad | valid_read(0);
}

/* Status 0 under five 64 KiB writes: what completed did so before the
 * reset returned, nothing after, and every status byte written belongs
 * to a returned request. Then a new queue completes each request once. */
static int step_reset(void)
{
	uint16_t u1;
	unsigned i, written = 0;
	int bad = 0;

	if (hq_start(0, 16))
		return 1;
	for (i = 0; i < HQ_BUFS; i++) {
		build_req(3 * i, i, VIRTIO_BLK_T_OUT, 128 * i,
			  (uintptr_t)hq_buf[i], HQ_BUF_BYTES);
		hq.avail->ring[i] = (uint16_t)(3 * i);
	}
	hq.avail_idx = HQ_BUFS;
	__atomic_store_n(&hq.avail->idx, hq.avail_idx, __ATOMIC_RELEASE);
	wr(VMMIO_QUEUE_NOTIFY, 0);
	wr(VMMIO_STATUS, 0);
	u1 = __atomic_load_n(&hq.used->idx, __ATOMIC_ACQUIRE);
	pause_ms(QUIET_MS);
	if (hq.used->idx != u1)
		bad |= fail("completions after the reset", u1, hq.used->idx);
	for (i = 0; i < HQ_BUFS; i++)
		written += hq_status[i] != ST_UNTOUCHED;
	if (written != u1)
		bad |= fail("status bytes written vs requests returned",
			    written, u1);
	gprintf("evildisk: reset: %u of %u requests completed before it\n", u1,
		HQ_BUFS);
	if (hq_start(0, 16))
		return 1;
	bad |= valid_read(0);
	bad |= expect_quiet(QUIET_MS, "a request completed twice");
	return bad;
}

/* n= QueueNotify writes (default a million), a valid request after each
 * tenth of them. */
static int step_storm(void)
{
	uint64_t n = cmdline_u64("n", 1000000), i;
	uint32_t t0;
	int bad = 0;

	if (hq_start(0, 16))
		return 1;
	t0 = now_ms();
	for (i = 1; i <= n; i++) {
		wr(VMMIO_QUEUE_NOTIFY, (uint32_t)i);
		if (i % (n / 10 ? n / 10 : 1) == 0)
			bad |= valid_read(0);
	}
	gprintf("evildisk: storm: %llu notifies in %u ms\n",
		(unsigned long long)n, now_ms() - t0);
	return bad;
}

/* The used ring over the descriptor table: whatever the device makes of
 * it, it must not take anything else down (counts unknown). */
static int step_usedover(void)
{
	uint32_t st, id, len;

	hq_clear(0);
	st = hq_start_at(16, (uintptr_t)hq_desc[0], (uintptr_t)&hq_avail[0],
			 (uintptr_t)hq_desc[0]);
	exp_exact = 0;
	gprintf("evildisk: usedover: status 0x%x\n", st);
	build_req(0, 0, VIRTIO_BLK_T_IN, 0, (uintptr_t)hq_buf[0], 4096);
	build_req(3, 1, VIRTIO_BLK_T_IN, 0, (uintptr_t)hq_buf[1], 4096);
	publish(0);
	publish(3);
	(void)wait_used(QUIET_MS, &id, &len);
	gprintf("evildisk: usedover: used index %u\n", hq.used->idx);
	return 0;
}

/* An available index far ahead: blkd stops the queue (refused); a reset
 * and a new queue work. */
static int step_availidx(void)
{
	int bad;

	if (hq_start(0, 16))
		return 1;
	build_req(0, 0, VIRTIO_BLK_T_IN, 0, (uintptr_t)hq_buf[0], 4096);
	publish_step(0, 1000);
	bad = expect_quiet(QUIET_MS, "a used entry for a broken avail index");
	exp_refused++;
	if (hq_start(0, 16))
		return 1;
	return bad | valid_read(0);
}

/* A head out of range is consumed without a used entry. */
static int step_badhead(void)
{
	int bad;

	if (hq_start(0, 16))
		return 1;
	publish(5000);
	bad = expect_quiet(QUIET_MS, "a used entry for head 5000");
	exp_refused++;
	bad |= valid_read(0);
	if (hq.used->idx != 1)
		bad |= fail("used index after a bad head", hq.used->idx, 1);
	return bad;
}

/* Malformed chains: readable after writable, INDIRECT, next out of
 * range, no status byte (refused); a short header (refused, IOERR); an
 * unknown type (UNSUPP); a write whose data is device-writable (IOERR). */
static int step_chains(void)
{
	int bad;

	if (hq_start(0, 16))
		return 1;
	build_req(0, 0, VIRTIO_BLK_T_OUT, 0, (uintptr_t)hq_buf[0], 512);
	set_desc(1, (uintptr_t)&hq_status[0], 1,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(2, (uintptr_t)hq_buf[0], 512, 0, 0);
	publish(0);
	bad = expect_refused(0, 0);
	build_req(0, 0, VIRTIO_BLK_T_IN, 0, (uintptr_t)hq_buf[0], 512);
	hq.desc[1].flags |= VRING_DESC_F_INDIRECT;
	publish(0);
	bad |= expect_refused(0, 0);
	build_req(0, 0, VIRTIO_BLK_T_IN, 0, (uintptr_t)hq_buf[0], 512);
	hq.desc[1].next = 999;
	publish(0);
	bad |= expect_refused(0, 0);
	build_req(0, 0, VIRTIO_BLK_T_IN, 0, 0, 0);
	hq.desc[0].flags = 0;
	publish(0);
	bad |= expect_refused(0, 0);
	build_req(0, 0, VIRTIO_BLK_T_IN, 0, 0, 0);
	hq.desc[0].len = 8;
	publish(0);
	bad |= expect_status(0, 0, VIRTIO_BLK_S_IOERR);
	exp_refused++;
	build_req(0, 0, 77, 0, 0, 0);
	publish(0);
	bad |= expect_status(0, 0, VIRTIO_BLK_S_UNSUPP);
	build_req(0, 0, VIRTIO_BLK_T_OUT, 0, (uintptr_t)hq_buf[0], 512);
	hq.desc[1].flags |= VRING_DESC_F_WRITE;
	publish(0);
	bad |= expect_status(0, 0, VIRTIO_BLK_S_IOERR);
	return bad | valid_read(3);
}

static const struct step {
	const char *name;
	int (*run)(void);
} steps[] = {
	{ "loop", step_loop },		 { "long", step_long },
	{ "pastram", step_pastram },	 { "hole", step_hole },
	{ "qsize", step_qsize },	 { "requeue", step_requeue },
	{ "reset", step_reset },	 { "storm", step_storm },
	{ "usedover", step_usedover },	 { "availidx", step_availidx },
	{ "badhead", step_badhead },	 { "chains", step_chains },
	{ "unaligned", step_unaligned },
};

/* Disk 1, normally: 8 sectors written at sector 8 * k, read back. */
static int disk1_use(unsigned k)
{
	struct vblk d;
	enum vblk_err err = vblk_find(1, &d);
	unsigned i;
	int r;

	if (!err)
		err = vblk_probe(&d);
	if (!err)
		err = vblk_start(&d);
	if (err) {
		gprintf("evildisk: disk1: %s\n", vblk_strerror(err));
		return 3;
	}
	for (i = 0; i < sizeof(d1_buf[0]); i++)
		d1_buf[0][i] = (uint8_t)(i * 7 + k);
	memset(d1_buf[1], 0, sizeof(d1_buf[1]));
	r = vblk_sync(&d, VIRTIO_BLK_T_OUT, 8 * k, d1_buf[0], 4096);
	if (r == VIRTIO_BLK_S_OK)
		r = vblk_sync(&d, VIRTIO_BLK_T_IN, 8 * k, d1_buf[1], 4096);
	vblk_reset(&d);
	if (r != VIRTIO_BLK_S_OK || memcmp(d1_buf[0], d1_buf[1], 4096)) {
		gprintf("evildisk: disk1: request status %d%s\n", r,
			r == VIRTIO_BLK_S_OK ? ", data differs" : "");
		return 3;
	}
	return 0;
}

static int run_step(const struct step *s, unsigned k)
{
	int r;

	gprintf("evildisk: %s: start\n", s->name);
	r = s->run();
	if (hq_reset() < 0)
		r = 1;
	if (r)
		return 1;
	r = disk1_use(k);
	if (r)
		return r;
	gprintf("evildisk: %s: ok (disk1 ok)\n", s->name);
	return 0;
}

/* Runs step name ("all": every step); k counts the steps run. */
static int run_named(const char *name, unsigned *k)
{
	unsigned i, n = sizeof(steps) / sizeof(steps[0]);
	int all = !strcmp(name, "all"), any = 0, r;

	for (i = 0; i < n; i++) {
		if (!all && strcmp(name, steps[i].name))
			continue;
		any = 1;
		r = run_step(&steps[i], (*k)++);
		if (r)
			return r;
	}
	if (!any) {
		gprintf("evildisk: unknown step '%s'\n", name);
		return 2;
	}
	return 0;
}

/* Runs the steps of a comma-separated list, in order. */
static int run_list(const char *list)
{
	char word[32];
	unsigned k = 0, n, len;
	int r;

	while (*list) {
		for (len = 0; list[len] && list[len] != ','; len++)
			;
		n = len < sizeof(word) ? len : sizeof(word) - 1;
		memcpy(word, list, n);
		word[n] = '\0';
		r = run_named(word, &k);
		if (r)
			return r;
		list += len;
		if (*list == ',')
			list++;
	}
	return 0;
}

int guest_main(void)
{
	char list[256];
	struct vblk d0;
	int r;

	if (!ts_present() || vblk_count() < 2) {
		gprintf("evildisk: needs Parapet's clock and two disks\n");
		return 2;
	}
	if (vblk_find(0, &d0) != VBLK_OK) {
		gprintf("evildisk: disk0: bad virtio_mmio.device word\n");
		return 2;
	}
	hq.base = d0.base;
	if (!cmdline_get("mode", list, sizeof(list)))
		memcpy(list, "all", 4);
	r = run_list(list);
	gprintf("evildisk: expect refused=%u errors=%u exact=%d\n", exp_refused,
		exp_errors, exp_exact);
	gprintf("evildisk: exit %d\n", r);
	if (cmdline_u64("hold", 0)) {
		gprintf("evildisk: held\n");
		for (;;)
			pause_ms(1000);
	}
	return r;
}
