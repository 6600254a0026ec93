/* Polled virtio-blk over virtio-mmio version 2: discovery from the command
 * line, the status handshake, one split-ring request queue whose rings sit
 * in .bss (gpa == va), request submission and completion by polling. */
#include "guest.h"
#include "virtio_blk.h"
#include "virtio_mmio.h"

#define QUEUE_SIZE_MAX 64	  /* entries we set up at most */
#define DESC_PER_REQ   3	  /* header, data, status */
#define TSC_PER_MS_MAX 4000000ULL /* no clock: assume a TSC of <= 4 GHz */
#define TIMEOUT_MS_MAX 3600000ULL /* µs of it fit the 32-bit port clock */

/* Features the driver accepts when offered. */
#define ACCEPTED_FEATURES                                                      \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_BLK_F_RO) |            \
	 (1ULL << VIRTIO_BLK_F_BLK_SIZE) | (1ULL << VIRTIO_BLK_F_SEG_MAX) |    \
	 (1ULL << VIRTIO_BLK_F_FLUSH))

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[QUEUE_SIZE_MAX];
	uint16_t used_event;
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[QUEUE_SIZE_MAX];
	uint16_t avail_event;
};

struct blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* One queue for the one started device; each ring in its own page (the
 * spec needs 16-, 2- and 4-byte alignment; a page also suits legacy). */
static struct vring_desc ring_desc[QUEUE_SIZE_MAX]
    __attribute__((aligned(4096)));
static struct vring_avail ring_avail __attribute__((aligned(4096)));
static struct vring_used ring_used __attribute__((aligned(4096)));
static struct blk_req_hdr req_hdr[VBLK_SLOTS] __attribute__((aligned(64)));
static volatile uint8_t req_status[VBLK_SLOTS] __attribute__((aligned(64)));

static uint64_t timeout_ms = 10000;

static uint32_t rd(const struct vblk *d, uint32_t off)
{
	return mmio_read32(d->base + off);
}

static void wr(const struct vblk *d, uint32_t off, uint32_t v)
{
	mmio_write32(d->base + off, v);
}

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* "SIZE@BASE:IRQ" as Linux's virtio_mmio.device= (SIZE may end in K/M). */
static enum vblk_err parse_device_word(const char *w, struct vblk *d)
{
	uint64_t v;

	w = parse_u64(w, &d->size);
	if (!w)
		return VBLK_ERR_BADWORD;
	if (*w == 'K' || *w == 'k')
		d->size <<= 10, w++;
	else if (*w == 'M' || *w == 'm')
		d->size <<= 20, w++;
	if (*w++ != '@' || !(w = parse_u64(w, &d->base)) || *w++ != ':' ||
	    !(w = parse_u64(w, &v)) || (*w && *w != ':'))
		return VBLK_ERR_BADWORD;
	d->irq = (unsigned int)v;
	/* Our registers end at 0x100 + config; all must be mapped below 4 GiB.
	 */
	if (d->size < 0x200 || (d->base & 3) || d->base >= 0x100000000ULL ||
	    d->size > 0x100000000ULL - d->base)
		return VBLK_ERR_BADWORD;
	return VBLK_OK;
}

enum vblk_err vblk_find(unsigned int n, struct vblk *d)
{
	const char *pos = NULL;
	char word[64];
	unsigned int i = 0;

	memset(d, 0, sizeof(*d));
	d->index = n;
	while (cmdline_next("virtio_mmio.device", &pos, word, sizeof(word)))
		if (i++ == n)
			return parse_device_word(word, d);
	return VBLK_ERR_NODEV;
}

unsigned int vblk_count(void)
{
	const char *pos = NULL;
	char word[64];
	unsigned int n = 0;

	while (cmdline_next("virtio_mmio.device", &pos, word, sizeof(word)))
		n++;
	return n;
}

static void set_status(const struct vblk *d, uint32_t bits)
{
	wr(d, VMMIO_STATUS, rd(d, VMMIO_STATUS) | bits);
}

/* FAILED: the device gives up on this driver. */
static void vblk_fail(struct vblk *d)
{
	set_status(d, ST_FAILED);
}

static enum vblk_err check_ids(struct vblk *d)
{
	uint32_t version;

	if (rd(d, VMMIO_MAGIC) != VMMIO_MAGIC_VALUE)
		return VBLK_ERR_MAGIC;
	version = rd(d, VMMIO_VERSION);
	if (version == 1)
		return VBLK_ERR_LEGACY;
	if (version != 2)
		return VBLK_ERR_VERSION;
	if (rd(d, VMMIO_DEVICE_ID) != VIRTIO_ID_BLOCK)
		return VBLK_ERR_NOTBLK;
	d->vendor = rd(d, VMMIO_VENDOR_ID);
	return VBLK_OK;
}

static enum vblk_err negotiate(struct vblk *d)
{
	wr(d, VMMIO_DEVICE_FEAT_SEL, 0);
	d->offered = rd(d, VMMIO_DEVICE_FEATURES);
	wr(d, VMMIO_DEVICE_FEAT_SEL, 1);
	d->offered |= (uint64_t)rd(d, VMMIO_DEVICE_FEATURES) << 32;
	if (!((d->offered >> VIRTIO_F_VERSION_1) & 1))
		return VBLK_ERR_NOVERSION1;
	d->features = d->offered & ACCEPTED_FEATURES;
	wr(d, VMMIO_DRIVER_FEAT_SEL, 0);
	wr(d, VMMIO_DRIVER_FEATURES, (uint32_t)d->features);
	wr(d, VMMIO_DRIVER_FEAT_SEL, 1);
	wr(d, VMMIO_DRIVER_FEATURES, (uint32_t)(d->features >> 32));
	set_status(d, ST_FEATURES_OK);
	if (!(rd(d, VMMIO_STATUS) & ST_FEATURES_OK))
		return VBLK_ERR_FEATURES;
	return VBLK_OK;
}

/* 64-bit config fields are two 32-bit reads; retry across a change. */
static void read_config(struct vblk *d)
{
	uint32_t gen, lo, hi;

	do {
		gen = rd(d, VMMIO_CONFIG_GEN);
		lo = rd(d, VMMIO_CONFIG + BLK_CFG_CAPACITY);
		hi = rd(d, VMMIO_CONFIG + BLK_CFG_CAPACITY + 4);
		d->seg_max = vblk_has(d, VIRTIO_BLK_F_SEG_MAX)
				 ? rd(d, VMMIO_CONFIG + BLK_CFG_SEG_MAX)
				 : 0;
		d->blk_size = vblk_has(d, VIRTIO_BLK_F_BLK_SIZE)
				  ? rd(d, VMMIO_CONFIG + BLK_CFG_BLK_SIZE)
				  : VBLK_SECTOR;
	} while (rd(d, VMMIO_CONFIG_GEN) != gen);
	d->capacity = ((uint64_t)hi << 32) | lo;
}

static void wr64(const struct vblk *d, uint32_t lo_off, uint64_t v)
{
	wr(d, lo_off, (uint32_t)v);
	wr(d, lo_off + 4, (uint32_t)(v >> 32));
}

/* The largest power of two <= min(max, QUEUE_SIZE_MAX). */
static unsigned int queue_size(uint32_t max)
{
	unsigned int n = QUEUE_SIZE_MAX;

	while (n > max)
		n >>= 1;
	return n;
}

static enum vblk_err setup_queue(struct vblk *d)
{
	wr(d, VMMIO_QUEUE_SEL, 0);
	if (rd(d, VMMIO_QUEUE_READY) != 0)
		return VBLK_ERR_QUEUE;
	d->qsize = queue_size(rd(d, VMMIO_QUEUE_NUM_MAX));
	if (d->qsize < DESC_PER_REQ)
		return VBLK_ERR_QUEUE;
	d->nslots = d->qsize / DESC_PER_REQ;
	if (d->nslots > VBLK_SLOTS)
		d->nslots = VBLK_SLOTS;
	memset(ring_desc, 0, sizeof(ring_desc));
	memset(&ring_avail, 0, sizeof(ring_avail));
	memset(&ring_used, 0, sizeof(ring_used));
	ring_avail.flags = VRING_AVAIL_F_NO_INTERRUPT; /* we poll */
	d->avail_idx = 0;
	d->used_seen = 0;
	wr(d, VMMIO_QUEUE_NUM, d->qsize);
	wr64(d, VMMIO_QUEUE_DESC_LO, (uintptr_t)ring_desc);
	wr64(d, VMMIO_QUEUE_AVAIL_LO, (uintptr_t)&ring_avail);
	wr64(d, VMMIO_QUEUE_USED_LO, (uintptr_t)&ring_used);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	wr(d, VMMIO_QUEUE_READY, 1);
	return VBLK_OK;
}

/* Bounded: a device that never finishes its reset is reported, not
 * waited for. */
static int reset(const struct vblk *d)
{
	unsigned int i;

	wr(d, VMMIO_STATUS, 0);
	for (i = 0; i < 1000000; i++) {
		if (rd(d, VMMIO_STATUS) == 0)
			return 0;
		cpu_relax();
	}
	return -1;
}

enum vblk_err vblk_probe(struct vblk *d)
{
	enum vblk_err err = check_ids(d);

	if (err)
		return err;
	if (reset(d) < 0)
		return VBLK_ERR_RESET;
	set_status(d, ST_ACKNOWLEDGE);
	set_status(d, ST_DRIVER);
	err = negotiate(d);
	if (err) {
		vblk_fail(d);
		return err;
	}
	read_config(d);
	return VBLK_OK;
}

enum vblk_err vblk_start(struct vblk *d)
{
	enum vblk_err err = setup_queue(d);

	if (err) {
		vblk_fail(d);
		return err;
	}
	set_status(d, ST_DRIVER_OK);
	return VBLK_OK;
}

void vblk_reset(struct vblk *d)
{
	reset(d);
}

const char *vblk_strerror(enum vblk_err err)
{
	static const char *const msgs[] = {
		[VBLK_OK] = "ok",
		[VBLK_ERR_NODEV] = "no such virtio_mmio.device on the command "
				   "line",
		[VBLK_ERR_BADWORD] = "malformed virtio_mmio.device word",
		[VBLK_ERR_MAGIC] = "no virtio-mmio device there (bad magic)",
		[VBLK_ERR_LEGACY] = "legacy virtio-mmio; run qemu with "
				    "-global virtio-mmio.force-legacy=false",
		[VBLK_ERR_VERSION] = "unknown virtio-mmio version",
		[VBLK_ERR_NOTBLK] = "not a block device",
		[VBLK_ERR_NOVERSION1] = "VIRTIO_F_VERSION_1 not offered",
		[VBLK_ERR_FEATURES] = "device refused FEATURES_OK",
		[VBLK_ERR_QUEUE] = "queue 0 unusable",
		[VBLK_ERR_RESET] = "device does not finish its reset",
		[VBLK_ERR_TIMEOUT] = "timeout",
		[VBLK_ERR_BADUSED] = "device returned a bogus used entry",
	};

	if ((unsigned int)err >= sizeof(msgs) / sizeof(msgs[0]))
		return "?";
	return msgs[err];
}

int vblk_free_slot(const struct vblk *d)
{
	unsigned int i;

	for (i = 0; i < d->nslots; i++)
		if (!d->slots[i].busy)
			return (int)i;
	return -1;
}

static void set_desc(unsigned int i, const volatile void *addr, uint32_t len,
		     uint16_t flags)
{
	ring_desc[i].addr = (uintptr_t)addr;
	ring_desc[i].len = len;
	ring_desc[i].flags = flags;
	ring_desc[i].next = (uint16_t)(i + 1);
}

/* Slot s owns descriptors 3s (header), 3s+1 (data) and 3s+2 (status); a
 * request without data chains the header straight to the status. */
void vblk_submit(struct vblk *d, int slot, uint32_t type, uint64_t sector,
		 void *buf, uint32_t len)
{
	unsigned int head = (unsigned int)slot * DESC_PER_REQ;
	struct vblk_slot *s = &d->slots[slot];
	uint16_t data_flags = VRING_DESC_F_NEXT;

	s->busy = 1;
	s->type = type;
	s->sector = sector;
	s->len = len;
	req_hdr[slot].type = type;
	req_hdr[slot].reserved = 0;
	req_hdr[slot].sector = sector;
	req_status[slot] = 0xff; /* a device that never writes it is caught */
	if (type != VIRTIO_BLK_T_OUT)
		data_flags |= VRING_DESC_F_WRITE;
	set_desc(head, &req_hdr[slot], sizeof(req_hdr[slot]),
		 VRING_DESC_F_NEXT);
	if (len > 0) {
		set_desc(head + 1, buf, len, data_flags);
	} else {
		ring_desc[head].next = (uint16_t)(head + 2);
	}
	set_desc(head + 2, &req_status[slot], 1, VRING_DESC_F_WRITE);
	ring_avail.ring[d->avail_idx % d->qsize] = (uint16_t)head;
	d->avail_idx++;
	d->inflight++;
}

/* Descriptors and ring entries are visible before the index that publishes
 * them, and the index before the notify (the device may be another host
 * thread reading guest memory while we write). */
void vblk_kick(struct vblk *d)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&ring_avail.idx, d->avail_idx, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	wr(d, VMMIO_QUEUE_NOTIFY, 0);
}

int vblk_reap(struct vblk *d, int *slot, uint8_t *status)
{
	uint16_t used = __atomic_load_n(&ring_used.idx, __ATOMIC_ACQUIRE);
	const volatile struct vring_used_elem *e;
	uint32_t id;

	if (used == d->used_seen)
		return 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	e = &ring_used.ring[d->used_seen % d->qsize];
	id = e->id;
	if (id % DESC_PER_REQ || id / DESC_PER_REQ >= d->nslots ||
	    !d->slots[id / DESC_PER_REQ].busy)
		return -VBLK_ERR_BADUSED;
	d->used_seen++;
	*slot = (int)(id / DESC_PER_REQ);
	*status = req_status[*slot];
	d->slots[*slot].busy = 0;
	d->inflight--;
	return 1;
}

void vblk_set_timeout_ms(uint64_t ms)
{
	timeout_ms = ms > TIMEOUT_MS_MAX ? TIMEOUT_MS_MAX : ms;
}

uint64_t vblk_timeout_ms(void)
{
	return timeout_ms;
}

static int timed_out(int clock, uint32_t t0, uint64_t tsc0)
{
	if (clock > 0)
		return ts_now_us() - t0 >= timeout_ms * 1000;
	return rdtsc() - tsc0 >= timeout_ms * TSC_PER_MS_MAX;
}

/* The clock is read every 256 polls only: under Parapet each read of the
 * timestamp port is an exit. */
enum vblk_err vblk_wait(struct vblk *d, int *slot, uint8_t *status)
{
	static int clock = -1;
	uint32_t t0, polls = 0;
	uint64_t tsc0;
	int r;

	if (clock < 0)
		clock = ts_present();
	t0 = clock ? ts_now_us() : 0;
	tsc0 = rdtsc();
	for (;;) {
		r = vblk_reap(d, slot, status);
		if (r > 0)
			return VBLK_OK;
		if (r < 0)
			return (enum vblk_err) - r;
		if ((++polls & 255) == 0 && timed_out(clock, t0, tsc0))
			return VBLK_ERR_TIMEOUT;
		cpu_relax();
	}
}

int vblk_sync(struct vblk *d, uint32_t type, uint64_t sector, void *buf,
	      uint32_t len)
{
	int slot = vblk_free_slot(d), done;
	uint8_t status;
	enum vblk_err err;

	if (slot < 0)
		return -VBLK_ERR_QUEUE;
	vblk_submit(d, slot, type, sector, buf, len);
	vblk_kick(d);
	err = vblk_wait(d, &done, &status);
	if (err)
		return -(int)err;
	return status;
}
