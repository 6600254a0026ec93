/* The disk guest's modes: verify/check (a pattern over the disk, the
 * read-only refusal), bench (sequential and random throughput) and
 * torture (random mixed requests, every sector tracked). */
#include "guest.h"
#include "disk.h"

#define MAX_REPORTS	    5
#define DEFAULT_BENCH_MB    512
#define DEFAULT_BENCH_IOS   20000
#define DEFAULT_TORTURE_S   10
#define NOCLOCK_TORTURE_OPS 20000
#define TORTURE_MAX_NSECT   16

/* Sequential passes over [next, end) in chunks. */
struct pass {
	struct vblk *d;
	uint32_t type;
	uint64_t next, end;
	uint64_t seed;
	int check;
	uint64_t checked, bad;
};

/* The next chunk of [*next, end) as a request of type. */
static int chunk_next(uint64_t *next, uint64_t end, uint32_t type,
		      struct disk_req *r)
{
	uint64_t n = end - *next;

	if (*next >= end)
		return DISK_NEXT_DONE;
	if (n > DISK_CHUNK_SECT)
		n = DISK_CHUNK_SECT;
	r->type = type;
	r->sector = *next;
	r->nsect = (uint32_t)n;
	*next += n;
	return DISK_NEXT_REQ;
}

static int pass_next(struct disk_pump *p, int slot, struct disk_req *r)
{
	struct pass *s = p->ctx;
	uint32_t i;

	if (chunk_next(&s->next, s->end, s->type, r) == DISK_NEXT_DONE)
		return DISK_NEXT_DONE;
	if (s->type == VIRTIO_BLK_T_OUT)
		for (i = 0; i < r->nsect; i++)
			sect_fill(disk_bufs[slot] + i * VBLK_SECTOR,
				  r->sector + i, 0, s->seed);
	return DISK_NEXT_REQ;
}

static void pass_done(struct disk_pump *p, int slot, const struct vblk_slot *v)
{
	struct pass *s = p->ctx;
	uint32_t i;

	if (!s->check)
		return;
	for (i = 0; i < v->len / VBLK_SECTOR; i++) {
		s->bad +=
		    sect_check(disk_bufs[slot] + i * VBLK_SECTOR, v->sector + i,
			       0, s->seed, s->bad < MAX_REPORTS);
		s->checked++;
	}
}

static int run_pass(struct pass *s)
{
	struct disk_pump p = {
		.depth = disk_depth(s->d),
		.next = pass_next,
		.done = pass_done,
		.ctx = s,
	};

	return disk_pump(s->d, &p);
}

/* On a read-only disk: sector 0 written back as read. Refused is right. */
static int try_ro_write(struct vblk *d)
{
	uint8_t *buf = disk_bufs[0];
	int r = disk_sync(d, VIRTIO_BLK_T_IN, 0, buf, VBLK_SECTOR);

	if (r)
		return r;
	r = vblk_sync(d, VIRTIO_BLK_T_OUT, 0, buf, VBLK_SECTOR);
	if (r < 0)
		return disk_wait_failed(d, (enum vblk_err) - r);
	if (r == VIRTIO_BLK_S_OK) {
		gprintf("disk%u: read-only: a write to sector 0 succeeded\n",
			d->index);
		return DISK_EXIT_RO;
	}
	gprintf("disk%u: read-only: write refused with status %d\n", d->index,
		r);
	return DISK_EXIT_OK;
}

/* write: the pattern goes out first (then a flush); else only checked,
 * e.g. after an earlier verify run with the same seed. */
int disk_verify(struct vblk *d, uint64_t sectors, uint64_t seed, int write)
{
	struct pass s = { .d = d, .end = sectors, .seed = seed };
	int ro = vblk_has(d, VIRTIO_BLK_F_RO), r;

	if (sectors == 0) {
		gprintf("verify: empty region\n");
		return DISK_EXIT_NODISK;
	}
	if (write && !ro) {
		s.type = VIRTIO_BLK_T_OUT;
		r = run_pass(&s);
		if (!r)
			r = disk_flush(d);
		if (r)
			return r;
	}
	s.type = VIRTIO_BLK_T_IN;
	s.next = 0;
	s.check = !(write && ro);
	r = run_pass(&s);
	if (r)
		return r;
	if (!s.check) {
		gprintf("verify: read-only disk: %llu sectors read\n",
			(unsigned long long)sectors);
		return try_ro_write(d);
	}
	if (s.bad) {
		gprintf("verify: %llu of %llu sectors bad\n",
			(unsigned long long)s.bad,
			(unsigned long long)s.checked);
		return DISK_EXIT_DATA;
	}
	gprintf("verify: %llu sectors ok\n", (unsigned long long)s.checked);
	return DISK_EXIT_OK;
}

/* Bench: count requests of nsect each, sequential (wrapping over the
 * region) or at random aligned places. */
struct bench {
	uint32_t type;
	uint64_t count, issued;
	uint32_t nsect;
	uint64_t region; /* in requests */
	int random;
	uint64_t rng;
};

static int bench_next(struct disk_pump *p, int slot, struct disk_req *r)
{
	struct bench *b = p->ctx;
	uint64_t i;

	(void)slot;
	if (b->issued >= b->count)
		return DISK_NEXT_DONE;
	i = b->random ? rng_next(&b->rng) % b->region : b->issued % b->region;
	r->type = b->type;
	r->sector = i * b->nsect;
	r->nsect = b->nsect;
	b->issued++;
	return DISK_NEXT_REQ;
}

static void print_rate(const char *name, uint64_t bytes, uint64_t ios,
		       uint64_t us, int iops)
{
	if (!clk_present())
		gprintf("bench: %s %llu bytes in %llu requests (no clock)\n",
			name, (unsigned long long)bytes,
			(unsigned long long)ios);
	else if (iops)
		gprintf("bench: %s %llu IOPS\n", name,
			(unsigned long long)(ios * 1000000 / (us ? us : 1)));
	else
		gprintf("bench: %s %llu.%llu MB/s\n", name,
			(unsigned long long)(bytes / (us ? us : 1)),
			(unsigned long long)(bytes * 10 / (us ? us : 1) % 10));
	gprintf("bench-raw: %s bytes=%llu ios=%llu us=%llu clock=%s\n", name,
		(unsigned long long)bytes, (unsigned long long)ios,
		(unsigned long long)us, clk_name());
}

static int bench_phase(struct vblk *d, const char *name, struct bench *b,
		       int iops)
{
	struct disk_pump p = { .depth = disk_depth(d),
			       .next = bench_next,
			       .ctx = b };
	uint64_t t0 = clk_us(), us;
	int r = disk_pump(d, &p);

	if (r)
		return r;
	us = clk_us() - t0;
	print_rate(name, b->count * b->nsect * VBLK_SECTOR, b->count, us, iops);
	return DISK_EXIT_OK;
}

int disk_bench(struct vblk *d)
{
	uint64_t region = disk_region(d, d->capacity, 0);
	uint64_t mb = cmdline_u64("mb", DEFAULT_BENCH_MB);
	uint32_t chunk =
	    region < DISK_CHUNK_SECT ? (uint32_t)region : DISK_CHUNK_SECT;
	struct bench b = { .nsect = chunk };
	int r;

	if (region < 8) {
		gprintf("bench: disk too small\n");
		return DISK_EXIT_NODISK;
	}
	clk_init(1);
	gprintf("bench: region %llu sectors, depth %u, %llu MiB sequential, "
		"clock %s\n",
		(unsigned long long)region, disk_depth(d),
		(unsigned long long)mb, clk_name());
	b.count = (mb << 20) / (chunk * VBLK_SECTOR);
	b.region = region / chunk;
	if (vblk_has(d, VIRTIO_BLK_F_RO)) {
		gprintf("bench: read-only disk: seq_write skipped\n");
	} else {
		b.type = VIRTIO_BLK_T_OUT;
		r = bench_phase(d, "seq_write", &b, 0);
		if (!r)
			r = disk_flush(d);
		if (r)
			return r;
	}
	b.type = VIRTIO_BLK_T_IN;
	b.issued = 0;
	r = bench_phase(d, "seq_read", &b, 0);
	if (r)
		return r;
	b = (struct bench){ .type = VIRTIO_BLK_T_IN,
			    .nsect = 8,
			    .random = 1,
			    .rng = cmdline_u64("seed", 1),
			    .count = cmdline_u64("ios", DEFAULT_BENCH_IOS),
			    .region = region / 8 };
	return bench_phase(d, "rand4k_read", &b, 1);
}

/* Torture: random reads and writes of 1..16 sectors, none overlapping
 * another in flight; seqs[lba] is the sequence number last written there
 * (0: not written in this run, not checked). */
struct torture {
	struct vblk *d;
	uint64_t sectors, seed, rng;
	uint32_t *seqs;
	uint32_t seq;
	uint64_t ops, deadline_us, issued;
	uint64_t final_next;
	uint64_t reads, writes, checked, bad;
	/* tick_ms=, stall_ms= (0: off): progress lines and long gaps */
	uint64_t tick_us, stall_us, next_tick_us, last_done_us, ticks;
	int stopped; /* a 'q' on the console ended the run early */
};

static int overlaps_inflight(const struct vblk *d, uint64_t lba, uint32_t n)
{
	unsigned int i;
	const struct vblk_slot *s;

	for (i = 0; i < d->nslots; i++) {
		s = &d->slots[i];
		if (s->busy && lba < s->sector + s->len / VBLK_SECTOR &&
		    s->sector < lba + n)
			return 1;
	}
	return 0;
}

static int torture_over(struct torture *t)
{
	if (t->stopped)
		return 1;
	if (t->ops)
		return t->issued >= t->ops;
	return clk_us() >= t->deadline_us;
}

static int torture_next(struct disk_pump *p, int slot, struct disk_req *r)
{
	struct torture *t = p->ctx;
	uint64_t x = rng_next(&t->rng), lba;
	uint32_t n, i;

	if (torture_over(t))
		return DISK_NEXT_DONE;
	lba = (x >> 16) % t->sectors;
	n = 1 + (uint32_t)((x >> 8) % TORTURE_MAX_NSECT);
	if (n > t->sectors - lba)
		n = (uint32_t)(t->sectors - lba);
	if (overlaps_inflight(t->d, lba, n))
		return DISK_NEXT_LATER;
	r->sector = lba;
	r->nsect = n;
	r->type = (x & 1) ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	if (r->type == VIRTIO_BLK_T_OUT) {
		t->seq++;
		for (i = 0; i < n; i++) {
			sect_fill(disk_bufs[slot] + i * VBLK_SECTOR, lba + i,
				  t->seq, t->seed);
			t->seqs[lba + i] = t->seq;
		}
		t->writes++;
	} else {
		t->reads++;
	}
	t->issued++;
	return DISK_NEXT_REQ;
}

/* At each completion, by the clock: "torture: tick N" every tick_ms (a
 * numbered line for a test to find once each on the console; at each
 * tick a 'q' read from the console ends the run, as its time would), and
 * "torture: stall of T us" when T, the time since the previous
 * completion, is stall_ms or more: how long the guest saw its disk stand
 * still (a backend restart, a servicing). */
static void torture_clock(struct torture *t)
{
	uint64_t now;

	if (!t->tick_us && !t->stall_us)
		return;
	now = clk_us();
	if (t->stall_us && t->last_done_us &&
	    now - t->last_done_us >= t->stall_us)
		gprintf("torture: stall of %llu us ending at %llu ms\n",
			(unsigned long long)(now - t->last_done_us),
			(unsigned long long)(now / 1000));
	t->last_done_us = now;
	if (t->tick_us && now >= t->next_tick_us) {
		gprintf("torture: tick %llu, %llu requests\n",
			(unsigned long long)++t->ticks,
			(unsigned long long)t->issued);
		t->next_tick_us = now + t->tick_us;
		if (con_trygetc() == 'q' && !t->stopped) {
			gprintf("torture: stopped from the console\n");
			t->stopped = 1;
		}
	}
}

/* Checks a read against seqs[]: sectors written in this run only. */
static void torture_done(struct disk_pump *p, int slot,
			 const struct vblk_slot *v)
{
	struct torture *t = p->ctx;
	uint64_t lba;
	uint32_t i;

	if (p->next == torture_next)
		torture_clock(t);
	if (v->type != VIRTIO_BLK_T_IN)
		return;
	for (i = 0; i < v->len / VBLK_SECTOR; i++) {
		lba = v->sector + i;
		if (!t->seqs[lba])
			continue;
		t->bad +=
		    sect_check(disk_bufs[slot] + i * VBLK_SECTOR, lba,
			       t->seqs[lba], t->seed, t->bad < MAX_REPORTS);
		t->checked++;
	}
}

static int final_next(struct disk_pump *p, int slot, struct disk_req *r)
{
	struct torture *t = p->ctx;

	(void)slot;
	return chunk_next(&t->final_next, t->sectors, VIRTIO_BLK_T_IN, r);
}

/* Reads the whole region back; torture_done checks every sector written. */
static int torture_final(struct vblk *d, struct torture *t)
{
	struct disk_pump p = {
		.depth = disk_depth(d),
		.next = final_next,
		.done = torture_done,
		.ctx = t,
	};

	t->checked = 0;
	t->bad = 0;
	return disk_pump(d, &p);
}

/* Duration: ops=N requests, else seconds=N (default 10) by a clock, else
 * NOCLOCK_TORTURE_OPS requests. */
static void torture_limit(struct torture *t)
{
	uint64_t seconds = cmdline_u64("seconds", DEFAULT_TORTURE_S);

	t->ops = cmdline_u64("ops", 0);
	if (t->ops)
		return;
	clk_init(1);
	if (!clk_present()) {
		t->ops = NOCLOCK_TORTURE_OPS;
		gprintf("torture: no clock; ops=%llu\n",
			(unsigned long long)t->ops);
		return;
	}
	t->deadline_us = clk_us() + seconds * 1000000;
	t->tick_us = cmdline_u64("tick_ms", 0) * 1000;
	t->stall_us = cmdline_u64("stall_ms", 0) * 1000;
}

static int torture_report(struct torture *t, uint64_t run_bad, int r)
{
	gprintf("torture: verified %llu sectors, %llu bad\n",
		(unsigned long long)t->checked, (unsigned long long)t->bad);
	if (r)
		return r;
	return run_bad || t->bad ? DISK_EXIT_DATA : DISK_EXIT_OK;
}

int disk_torture(struct vblk *d, uint64_t sectors, uint64_t seed,
		 uint32_t *seqs)
{
	struct torture t = { .d = d,
			     .sectors = sectors,
			     .seed = seed,
			     .rng = seed,
			     .seqs = seqs };
	struct disk_pump p = {
		.depth = disk_depth(d),
		.next = torture_next,
		.done = torture_done,
		.ctx = &t,
	};
	uint64_t t0, run_bad;
	int r;

	if (vblk_has(d, VIRTIO_BLK_F_RO)) {
		gprintf("torture: read-only disk\n");
		return DISK_EXIT_NODISK;
	}
	if (sectors == 0) {
		gprintf("torture: empty region\n");
		return DISK_EXIT_NODISK;
	}
	torture_limit(&t);
	gprintf("torture: %llu sectors, depth %u, seed %llu\n",
		(unsigned long long)sectors, p.depth, (unsigned long long)seed);
	t0 = clk_us();
	r = disk_pump(d, &p);
	gprintf("torture: %llu requests (%llu reads, %llu writes), %llu "
		"sector reads checked, %llu bad\n",
		(unsigned long long)t.issued, (unsigned long long)t.reads,
		(unsigned long long)t.writes, (unsigned long long)t.checked,
		(unsigned long long)t.bad);
	if (clk_present())
		gprintf("torture: %llu ms\n",
			(unsigned long long)((clk_us() - t0) / 1000));
	run_bad = t.bad;
	if (!r)
		r = disk_flush(d);
	if (!r)
		r = torture_final(d, &t);
	return torture_report(&t, run_bad, r);
}
