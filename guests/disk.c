/* disk: a polled virtio-blk test guest. Lists every virtio-mmio disk on
 * the command line, opens disk=N and runs mode= verify (default), check,
 * bench or torture against it; exit values in guests/README.md. */
#include "guest.h"
#include "virtio_blk.h"
#include "disk.h"

#define DEFAULT_VERIFY_SECTORS	((16u << 20) / VBLK_SECTOR)
#define DEFAULT_TORTURE_SECTORS ((4u << 20) / VBLK_SECTOR)
#define TORTURE_MAX_SECTORS	65536u /* 32 MiB; torture_seq is 256 KiB */

uint8_t disk_bufs[VBLK_SLOTS][DISK_CHUNK] __attribute__((aligned(4096)));
static uint8_t id_buf[VIRTIO_BLK_ID_BYTES + 1] __attribute__((aligned(64)));
static uint32_t torture_seq[TORTURE_MAX_SECTORS];

/* Parapet's timestamp port, else the TSC calibrated against the CMOS RTC
 * (qemu), only when a mode needs durations. */
static uint64_t tsc_per_ms;
static uint64_t tsc_base;
static uint32_t ts_last;
static uint64_t ts_high;
static enum { CLK_NONE, CLK_TS, CLK_TSC } clk_kind;

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static uint8_t cmos_read(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

/* Waits for the RTC's seconds register to change; the TSC then, or 0. */
static uint64_t rtc_next_second(void)
{
	uint8_t sec = cmos_read(0);
	uint64_t t0 = rdtsc();

	while (cmos_read(0) == sec)
		if (rdtsc() - t0 > 20000000000ULL) /* >= 5 s at up to 4 GHz */
			return 0;
	return rdtsc();
}

static void clk_calibrate_tsc(void)
{
	uint64_t a, b;

	if (cmos_read(0x0a) == 0xff && cmos_read(0) == 0xff)
		return; /* no RTC */
	a = rtc_next_second();
	b = a ? rtc_next_second() : 0;
	if (!b || b <= a)
		return;
	tsc_per_ms = (b - a) / 1000;
	tsc_base = rdtsc();
	clk_kind = CLK_TSC;
	gprintf("disk: clock tsc %llu MHz (calibrated by the RTC)\n",
		(unsigned long long)(tsc_per_ms / 1000));
}

void clk_init(int need)
{
	if (ts_present()) {
		clk_kind = CLK_TS;
		ts_last = ts_now_us();
		return;
	}
	if (need)
		clk_calibrate_tsc();
}

int clk_present(void)
{
	return clk_kind != CLK_NONE;
}

const char *clk_name(void)
{
	return clk_kind == CLK_TS ? "ts" : clk_kind == CLK_TSC ? "tsc" : "none";
}

/* µs since clk_init; the port's 32 bits are extended (read often enough:
 * it wraps every 71 minutes). */
uint64_t clk_us(void)
{
	uint32_t now;

	if (clk_kind == CLK_TSC)
		return (rdtsc() - tsc_base) * 1000 / tsc_per_ms;
	if (clk_kind != CLK_TS)
		return 0;
	now = ts_now_us();
	if (now < ts_last)
		ts_high += 1ULL << 32;
	ts_last = now;
	return ts_high | now;
}

uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* Sector format: magic, LBA, sequence number, seed, 59 words of a stream
 * seeded by all three, a checksum of the 63 words before it. */
#define SECT_MAGIC 0x4b53494454505250ULL /* "PRPTDISK" */
#define SECT_WORDS (VBLK_SECTOR / 8)

static uint64_t sect_checksum(const uint64_t *w)
{
	uint64_t sum = 0;
	unsigned int i;

	for (i = 0; i < SECT_WORDS - 1; i++)
		sum = (sum ^ w[i]) * 0x100000001b3ULL + i;
	return sum;
}

void sect_fill(void *buf, uint64_t lba, uint64_t seq, uint64_t seed)
{
	uint64_t *w = buf;
	uint64_t s =
	    lba * 0x9e3779b97f4a7c15ULL ^ seq * 0xbf58476d1ce4e5b9ULL ^ seed;
	unsigned int i;

	w[0] = SECT_MAGIC;
	w[1] = lba;
	w[2] = seq;
	w[3] = seed;
	for (i = 4; i < SECT_WORDS - 1; i++)
		w[i] = rng_next(&s);
	w[SECT_WORDS - 1] = sect_checksum(w);
}

/* 0 when buf is exactly sect_fill(lba, seq, seed); else prints why. */
int sect_check(const void *buf, uint64_t lba, uint64_t seq, uint64_t seed,
	       int report)
{
	static uint64_t want[SECT_WORDS];
	const uint64_t *w = buf;
	unsigned int i;

	sect_fill(want, lba, seq, seed);
	for (i = 0; i < SECT_WORDS; i++)
		if (w[i] != want[i])
			break;
	if (i == SECT_WORDS)
		return 0;
	if (!report)
		return 1;
	if (w[0] != SECT_MAGIC || w[SECT_WORDS - 1] != sect_checksum(w))
		gprintf("disk: sector %llu corrupt: word %u is %016llx, want "
			"%016llx\n",
			(unsigned long long)lba, i, (unsigned long long)w[i],
			(unsigned long long)want[i]);
	else if (w[1] != lba)
		gprintf("disk: sector %llu holds sector %llu's data\n",
			(unsigned long long)lba, (unsigned long long)w[1]);
	else
		gprintf("disk: sector %llu is stale: seq %llu seed %llu, want "
			"seq %llu seed %llu\n",
			(unsigned long long)lba, (unsigned long long)w[2],
			(unsigned long long)w[3], (unsigned long long)seq,
			(unsigned long long)seed);
	return 1;
}

/* Runs requests from p->next, at most p->depth in flight, until next says
 * DISK_NEXT_DONE and all completed, or a request fails or times out. */
int disk_pump(struct vblk *d, struct disk_pump *p)
{
	struct disk_req r;
	int slot, queued, stop = 0, nx;
	uint8_t status;
	enum vblk_err err;

	for (;;) {
		queued = 0;
		while (!stop && d->inflight < p->depth &&
		       (slot = vblk_free_slot(d)) >= 0) {
			nx = p->next(p, slot, &r);
			if (nx == DISK_NEXT_DONE)
				stop = 1;
			if (nx != DISK_NEXT_REQ)
				break;
			vblk_submit(d, slot, r.type, r.sector, disk_bufs[slot],
				    r.nsect * VBLK_SECTOR);
			queued++;
		}
		if (queued)
			vblk_kick(d);
		if (d->inflight == 0 && stop)
			return DISK_EXIT_OK;
		if (d->inflight == 0) { /* LATER with nothing to wait for */
			gprintf("disk: request stream stalled\n");
			return DISK_EXIT_REQUEST;
		}
		err = vblk_wait(d, &slot, &status);
		if (err)
			return disk_wait_failed(d, err);
		if (status != VIRTIO_BLK_S_OK) {
			disk_req_failed(d, slot, status);
			return DISK_EXIT_REQUEST;
		}
		if (p->done)
			p->done(p, slot, &d->slots[slot]);
	}
}

static const char *type_name(uint32_t type)
{
	switch (type) {
	case VIRTIO_BLK_T_IN:
		return "read";
	case VIRTIO_BLK_T_OUT:
		return "write";
	case VIRTIO_BLK_T_FLUSH:
		return "flush";
	case VIRTIO_BLK_T_GET_ID:
		return "get-id";
	}
	return "?";
}

void disk_req_failed(struct vblk *d, int slot, uint8_t status)
{
	const struct vblk_slot *s = &d->slots[slot];

	gprintf("disk%u: %s of %u bytes at sector %llu failed: status %u\n",
		d->index, type_name(s->type), s->len,
		(unsigned long long)s->sector, status);
}

/* A timeout names every request still in flight. */
int disk_wait_failed(struct vblk *d, enum vblk_err err)
{
	const struct vblk_slot *s;
	unsigned int i;

	if (err != VBLK_ERR_TIMEOUT) {
		gprintf("disk%u: %s\n", d->index, vblk_strerror(err));
		return DISK_EXIT_REQUEST;
	}
	gprintf("disk: timeout waiting for request (%u in flight, timeout_ms "
		"%llu)\n",
		d->inflight, (unsigned long long)vblk_timeout_ms());
	for (i = 0; i < d->nslots; i++) {
		s = &d->slots[i];
		if (s->busy)
			gprintf("disk:   %s of %u bytes at sector %llu\n",
				type_name(s->type), s->len,
				(unsigned long long)s->sector);
	}
	return DISK_EXIT_TIMEOUT;
}

/* One request waited for: 0, or an exit value after printing why. */
int disk_sync(struct vblk *d, uint32_t type, uint64_t sector, void *buf,
	      uint32_t len)
{
	int r = vblk_sync(d, type, sector, buf, len);

	if (r < 0)
		return disk_wait_failed(d, (enum vblk_err) - r);
	if (r != VIRTIO_BLK_S_OK) {
		gprintf("disk%u: %s of %u bytes at sector %llu failed: status "
			"%d\n",
			d->index, type_name(type), len,
			(unsigned long long)sector, r);
		return DISK_EXIT_REQUEST;
	}
	return DISK_EXIT_OK;
}

int disk_flush(struct vblk *d)
{
	if (!vblk_has(d, VIRTIO_BLK_F_FLUSH))
		return DISK_EXIT_OK;
	return disk_sync(d, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
}

/* GET_ID: up to 20 bytes, NUL-padded only when shorter. UNSUPP is fine. */
static int print_id(struct vblk *d)
{
	int r, i;

	memset(id_buf, 0, sizeof(id_buf));
	r = vblk_sync(d, VIRTIO_BLK_T_GET_ID, 0, id_buf, VIRTIO_BLK_ID_BYTES);
	if (r < 0)
		return disk_wait_failed(d, (enum vblk_err) - r);
	if (r == VIRTIO_BLK_S_UNSUPP) {
		gprintf("disk%u: id unsupported\n", d->index);
		return DISK_EXIT_OK;
	}
	if (r != VIRTIO_BLK_S_OK) {
		gprintf("disk%u: id request failed: status %d\n", d->index, r);
		return DISK_EXIT_REQUEST;
	}
	for (i = 0; i < VIRTIO_BLK_ID_BYTES && id_buf[i]; i++)
		if (id_buf[i] < 0x20 || id_buf[i] > 0x7e)
			id_buf[i] = '?';
	gprintf("disk%u: id '%s'\n", d->index, (const char *)id_buf);
	return DISK_EXIT_OK;
}

static void print_disk(const struct vblk *d)
{
	gprintf(
	    "disk%u: 0x%llx capacity %llu sectors, blk_size %u, features "
	    "0x%llx (offered 0x%llx), seg_max %u, irq %u, vendor 0x%x%s%s\n",
	    d->index, (unsigned long long)d->base,
	    (unsigned long long)d->capacity, d->blk_size,
	    (unsigned long long)d->features, (unsigned long long)d->offered,
	    d->seg_max, d->irq, d->vendor,
	    vblk_has(d, VIRTIO_BLK_F_RO) ? ", read-only" : "",
	    vblk_has(d, VIRTIO_BLK_F_FLUSH) ? ", flush" : "");
}

/* Probes every disk, prints a line each; the chosen one stays probed, the
 * others are reset. An exit value, or -1 to go on. */
static int list_disks(unsigned int chosen, struct vblk *use)
{
	unsigned int n = vblk_count(), i;
	enum vblk_err err;
	struct vblk d;

	if (n == 0) {
		gprintf(
		    "disk: no virtio_mmio.device= on the command line (qemu: "
		    "-M microvm,acpi=off and a virtio-blk-device)\n");
		return DISK_EXIT_NODISK;
	}
	if (chosen >= n) {
		gprintf("disk: disk=%u, but only %u disk(s)\n", chosen, n);
		return DISK_EXIT_NODISK;
	}
	for (i = 0; i < n; i++) {
		err = vblk_find(i, &d);
		if (!err)
			err = vblk_probe(&d);
		if (err) {
			gprintf("disk%u: 0x%llx: %s\n", i,
				(unsigned long long)d.base, vblk_strerror(err));
			if (i == chosen)
				return DISK_EXIT_NODISK;
			continue;
		}
		print_disk(&d);
		if (i == chosen)
			*use = d;
		else
			vblk_reset(&d);
	}
	return -1;
}

/* The first `sectors` of the disk (key sectors=, default def), at most
 * the capacity and limit. */
uint64_t disk_region(const struct vblk *d, uint64_t def, uint64_t limit)
{
	uint64_t n = cmdline_u64("sectors", def);

	if (n > d->capacity)
		n = d->capacity;
	if (limit && n > limit)
		n = limit;
	return n;
}

unsigned int disk_depth(const struct vblk *d)
{
	uint64_t depth = cmdline_u64("depth", 8);

	if (depth < 1)
		depth = 1;
	if (depth > d->nslots)
		depth = d->nslots;
	return (unsigned int)depth;
}

/* notify: n= QueueNotify writes with nothing new in the ring, timed by
 * the timestamp port: the cost of a notify's exit (device lookup, the
 * backend's wake-up) against any other MMIO exit (mmio_loop). */
static int disk_notify(struct vblk *d)
{
	uint64_t n = cmdline_u64("n", 100000), i;
	uint32_t t0 = ts_present() ? ts_now_us() : 0, us, sum = 0;

	for (i = 0; i < n; i++)
		mmio_write32(d->base + 0x50, 0);
	us = ts_present() ? ts_now_us() - t0 : 0;
	gprintf("notify: n=%llu us=%u\n", (unsigned long long)n, us);
	/* the same number of exits to the same device without a notify:
	 * status register reads */
	t0 = ts_present() ? ts_now_us() : 0;
	for (i = 0; i < n; i++)
		sum += mmio_read32(d->base + 0x70);
	us = ts_present() ? ts_now_us() - t0 : 0;
	gprintf("status-read: n=%llu us=%u (status %u)\n",
		(unsigned long long)n, us, (unsigned)(sum / (uint32_t)n));
	return DISK_EXIT_OK;
}

static int run_mode(struct vblk *d, const char *mode)
{
	uint64_t seed = cmdline_u64("seed", 1);

	if (!strcmp(mode, "verify"))
		return disk_verify(d, disk_region(d, DEFAULT_VERIFY_SECTORS, 0),
				   seed, 1);
	if (!strcmp(mode, "check"))
		return disk_verify(d, disk_region(d, DEFAULT_VERIFY_SECTORS, 0),
				   seed, 0);
	if (!strcmp(mode, "bench"))
		return disk_bench(d);
	if (!strcmp(mode, "notify"))
		return disk_notify(d);
	if (!strcmp(mode, "torture"))
		return disk_torture(d,
				    disk_region(d, DEFAULT_TORTURE_SECTORS,
						TORTURE_MAX_SECTORS),
				    seed, torture_seq);
	gprintf("disk: unknown mode '%s'\n", mode);
	return DISK_EXIT_NODISK;
}

static int run_disk(void)
{
	unsigned int chosen = (unsigned int)cmdline_u64("disk", 0);
	char mode[16];
	struct vblk d;
	enum vblk_err err;
	int r;

	if (!cmdline_get("mode", mode, sizeof(mode)))
		memcpy(mode, "verify", sizeof("verify"));
	vblk_set_timeout_ms(cmdline_u64("timeout_ms", 10000));
	r = list_disks(chosen, &d);
	if (r >= 0)
		return r;
	if (cmdline_u64("expect_ro", 0) && !vblk_has(&d, VIRTIO_BLK_F_RO)) {
		gprintf(
		    "disk%u: expected a read-only disk, but VIRTIO_BLK_F_RO "
		    "is not offered\n",
		    d.index);
		return DISK_EXIT_RO;
	}
	err = vblk_start(&d);
	if (err) {
		gprintf("disk%u: %s\n", d.index, vblk_strerror(err));
		return DISK_EXIT_NODISK;
	}
	gprintf("disk%u: queue %u entries, %u requests in flight at most\n",
		d.index, d.qsize, d.nslots);
	r = print_id(&d);
	if (r == DISK_EXIT_OK)
		r = run_mode(&d, mode);
	return r;
}

int guest_main(void)
{
	int r = run_disk();

	gprintf("disk: exit %d\n", r);
	return r;
}
