/* parapet-vhost-evil SOCKET SECTORS: a hostile vhost-user front-end for
 * tests/e2e/disk_blkd_qemu.sh. Each case connects anew to a back-end
 * (parapet-blkd) serving a disk of SECTORS sectors: garbage and
 * oversized headers, a stalled message, refused requests with REPLY_ACK,
 * inflight regions it must not map, then a real queue carrying hostile
 * chains beside good ones. Exits 0
 * when the back-end answered every case as it should, 1 otherwise. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "lib/util.h"
#include "lib/vhost_user.h"

#define MEM_SIZE (1u << 20)
#define UADDR	 0x10000000ull /* "our" address of guest memory */
#define NUM	 32u
#define DESC	 0x0
#define AVAIL	 0x1000
#define USED	 0x2000
#define HDRS	 0x4000	 /* chain i: header at +64 i, status at +64 i + 32 */
#define DATA	 0x10000 /* chain i: data at +0x1000 i */

static const char *sock_path;
static uint64_t sectors;
static int failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "FAIL: " __VA_ARGS__);                 \
			fprintf(stderr, "\n");                                 \
			failures++;                                            \
		}                                                              \
	} while (0)

static int dial(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
		perror(sock_path);
		exit(1);
	}
	return s;
}

/* Whether the back-end closes s within tenths of a second. */
static int closed_within(int s, int tenths)
{
	struct pollfd p = { .fd = s, .events = POLLIN };
	char b[64];

	while (poll(&p, 1, tenths * 100) == 1)
		if (read(s, b, sizeof(b)) <= 0)
			return 1;
	return 0;
}

static void case_garbage(void)
{
	uint32_t hdr[3] = { VHOST_USER_GET_FEATURES, 0 /* version 0 */, 0 };
	int s = dial();

	CHECK(write(s, hdr, sizeof(hdr)) == sizeof(hdr), "garbage: write");
	CHECK(closed_within(s, 100), "garbage header: session not ended");
	close(s);
	s = dial();
	hdr[1] = VHOST_USER_VERSION;
	hdr[2] = 0xffff; /* oversized */
	CHECK(write(s, hdr, sizeof(hdr)) == sizeof(hdr), "oversize: write");
	CHECK(closed_within(s, 100), "oversized header: session not ended");
	close(s);
}

/* Half a header, then nothing: the back-end gives up on it. */
static void case_stall(void)
{
	uint32_t hdr[3] = { VHOST_USER_GET_FEATURES, VHOST_USER_VERSION, 0 };
	int s = dial();

	CHECK(write(s, hdr, 6) == 6, "stall: write");
	CHECK(closed_within(s, 300), "stalled message: session not ended");
	close(s);
}

static uint64_t call_u64(int s, uint32_t req)
{
	struct vhost_user_msg m, r;
	int rc;

	vhost_user_msg_init(&m, req, 0);
	rc = vhost_user_call(s, &m, &r, 10000);
	CHECK(rc == 0, "%s: %s", vhost_user_request_name(req),
	      vhost_user_strerror(rc));
	return rc == 0 ? r.payload.u64 : 0;
}

/* m with NEED_REPLY: the REPLY_ACK's verdict (0 accepted). */
static int acked(int s, struct vhost_user_msg *m)
{
	m->hdr.flags |= VHOST_USER_FLAG_NEED_REPLY;
	return vhost_user_call(s, m, NULL, 10000);
}

static int set_u64(int s, uint32_t req, uint64_t v, int fd)
{
	struct vhost_user_msg m;

	vhost_user_msg_init(&m, req, 8);
	m.payload.u64 = v;
	if (fd >= 0) {
		m.fds[0] = fd;
		m.nfds = 1;
	}
	return acked(s, &m);
}

static int set_state(int s, uint32_t req, uint32_t num)
{
	struct vhost_user_msg m;

	vhost_user_msg_init(&m, req, 8);
	m.payload.state.num = num;
	return acked(s, &m);
}

static int set_mem(int s, int fd)
{
	struct vhost_user_msg m;

	vhost_user_msg_init(&m, VHOST_USER_SET_MEM_TABLE, 8 + 32);
	m.payload.mem.nregions = 1;
	m.payload.mem.regions[0] =
	    (struct vhost_user_mem_region){ 0, MEM_SIZE, UADDR, 0 };
	m.fds[0] = fd;
	m.nfds = 1;
	return acked(s, &m);
}

/* The handshake every front-end starts with; the features it took. */
static void handshake(int s)
{
	uint64_t f = call_u64(s, VHOST_USER_GET_FEATURES);

	CHECK(f & 1ull << VIRTIO_F_VERSION_1, "VERSION_1 not offered");
	CHECK(call_u64(s, VHOST_USER_GET_PROTOCOL_FEATURES) &
		  1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK,
	      "REPLY_ACK not offered");
	CHECK(set_u64(s, VHOST_USER_SET_PROTOCOL_FEATURES,
		      1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK |
			  1ull << VHOST_USER_PROTOCOL_F_CONFIG,
		      -1) == 0,
	      "SET_PROTOCOL_FEATURES refused");
	CHECK(set_u64(s, VHOST_USER_SET_FEATURES, f, -1) == 0,
	      "SET_FEATURES of the offer refused");
}

/* SET_INFLIGHT_FD with what a back-end must not map: unsealed, too
 * small for the queue, misaligned; the region GET_INFLIGHT_FD made is
 * sealed and accepted back. */
static int set_inflight(int s, int fd, uint64_t size, uint64_t off,
			uint16_t qsize)
{
	struct vhost_user_msg m;

	vhost_user_msg_init(&m, VHOST_USER_SET_INFLIGHT_FD,
			    sizeof(m.payload.inflight));
	m.payload.inflight =
	    (struct vhost_user_inflight){ size, off, 1, qsize, 0 };
	m.fds[0] = fd;
	m.nfds = 1;
	return acked(s, &m);
}

static void case_inflight(void)
{
	int s = dial(), fd = util_memfd_create("evil", 4096);
	struct vhost_user_msg m, r;

	call_u64(s, VHOST_USER_GET_FEATURES);
	CHECK(call_u64(s, VHOST_USER_GET_PROTOCOL_FEATURES) &
		  1ull << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD,
	      "INFLIGHT_SHMFD not offered");
	CHECK(set_u64(s, VHOST_USER_SET_PROTOCOL_FEATURES,
		      1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK |
			  1ull << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD,
		      -1) == 0,
	      "SET_PROTOCOL_FEATURES refused");
	CHECK(set_inflight(s, fd, 4096, 0, NUM) == VHOST_USER_ERR_FAILED,
	      "an unsealed inflight region accepted");
	util_memfd_seal(fd, F_SEAL_SHRINK | F_SEAL_GROW);
	CHECK(set_inflight(s, fd, 64, 0, NUM) == VHOST_USER_ERR_FAILED,
	      "an inflight region too small for its queue accepted");
	CHECK(set_inflight(s, fd, 4000, 2, NUM) == VHOST_USER_ERR_FAILED,
	      "a misaligned inflight region accepted");
	CHECK(set_inflight(s, fd, 4096, 0, 2048) == VHOST_USER_ERR_FAILED,
	      "an inflight region of 2048 entries accepted");
	close(fd);
	vhost_user_msg_init(&m, VHOST_USER_GET_INFLIGHT_FD,
			    sizeof(m.payload.inflight));
	m.payload.inflight.num_queues = 1;
	m.payload.inflight.queue_size = NUM;
	memset(&r, 0, sizeof(r));
	CHECK(vhost_user_call(s, &m, &r, 10000) == 0 && r.nfds == 1 &&
		  r.payload.inflight.mmap_size >= 16 + 16 * NUM,
	      "GET_INFLIGHT_FD gave no region");
	if (r.nfds == 1) {
		CHECK(fcntl(r.fds[0], F_GET_SEALS) & F_SEAL_SHRINK,
		      "the inflight region is not sealed");
		CHECK(set_inflight(s, r.fds[0], r.payload.inflight.mmap_size, 0,
				   NUM) == 0,
		      "its own inflight region refused");
		close(r.fds[0]);
	}
	close(s);
}

/* Refusals answered by REPLY_ACK, the session carrying on. */
static void case_refusals(void)
{
	int s = dial(), fd = util_memfd_create("evil", MEM_SIZE);
	struct vhost_user_msg m, r;
	uint64_t cap;

	handshake(s);
	CHECK(set_u64(s, VHOST_USER_SET_FEATURES, 1ull << 63, -1) ==
		  VHOST_USER_ERR_FAILED,
	      "features never offered accepted");
	CHECK(set_mem(s, fd) == VHOST_USER_ERR_FAILED,
	      "memory not sealed against shrinking accepted");
	CHECK(set_state(s, VHOST_USER_SET_VRING_NUM, 3) ==
		  VHOST_USER_ERR_FAILED,
	      "queue of 3 entries accepted");
	vhost_user_msg_init(&m, VHOST_USER_SET_CONFIG, 12 + 4);
	m.payload.config.size = 4;
	CHECK(acked(s, &m) == VHOST_USER_ERR_FAILED, "SET_CONFIG accepted");
	vhost_user_msg_init(&m, VHOST_USER_GET_CONFIG, 12 + 8);
	m.payload.config.size = 8;
	memset(&r, 0, sizeof(r));
	CHECK(vhost_user_call(s, &m, &r, 10000) == 0 &&
		  memcpy(&cap, r.payload.config.payload, 8) &&
		  le64toh(cap) == sectors,
	      "GET_CONFIG capacity is not %llu sectors",
	      (unsigned long long)sectors);
	close(fd);
	close(s);
}

struct ring {
	uint8_t *mem;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
};

static void desc(struct ring *g, unsigned i, uint64_t gpa, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	g->desc[i] = (struct vring_desc){ htole64(gpa), htole32(len),
					  htole16(flags), htole16(next) };
}

/* Chain i, descriptors 3i..3i+2: a header of hlen bytes, data of dlen
 * bytes (none when 0; device-writable unless OUT), one status byte. */
static void blk_chain(struct ring *g, unsigned i, uint32_t type,
		      uint64_t sector, uint32_t hlen, uint32_t dlen)
{
	struct virtio_blk_outhdr *h =
	    (struct virtio_blk_outhdr *)(g->mem + HDRS + 64 * i);
	uint16_t dflag = type == VIRTIO_BLK_T_OUT ? 0 : VRING_DESC_F_WRITE;
	unsigned d = 3 * i;

	h->type = htole32(type);
	h->ioprio = 0;
	h->sector = htole64(sector);
	g->mem[HDRS + 64 * i + 32] = 0xee; /* the status, until written */
	desc(g, d, HDRS + 64 * i, hlen, VRING_DESC_F_NEXT,
	     dlen ? d + 1 : d + 2);
	desc(g, d + 1, DATA + 0x1000ull * i, dlen, dflag | VRING_DESC_F_NEXT,
	     d + 2);
	desc(g, d + 2, HDRS + 64 * i + 32, 1, VRING_DESC_F_WRITE, 0);
}

static void offer(struct ring *g, uint16_t head)
{
	uint16_t idx = le16toh(g->avail->idx);

	g->avail->ring[idx % NUM] = htole16(head);
	__atomic_store_n(&g->avail->idx, htole16(idx + 1), __ATOMIC_RELEASE);
}

static int set_vring(int s)
{
	struct vhost_user_msg m;

	vhost_user_msg_init(&m, VHOST_USER_SET_VRING_ADDR, 40);
	m.payload.addr.desc_user_addr = UADDR + DESC;
	m.payload.addr.avail_user_addr = UADDR + AVAIL;
	m.payload.addr.used_user_addr = UADDR + USED;
	return acked(s, &m);
}

/* Queue 0 over a sealed memfd, mapped here too. */
static void start_queue(int s, struct ring *g, int *kick)
{
	int fd = util_memfd_create("evil", MEM_SIZE);
	int call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	*kick = eventfd(0, EFD_CLOEXEC);
	if (fd < 0 || call < 0 || *kick < 0 ||
	    util_memfd_seal(fd, F_SEAL_SHRINK | F_SEAL_GROW) != 0 ||
	    (g->mem = util_map(fd, MEM_SIZE, PROT_READ | PROT_WRITE)) == NULL) {
		perror("memfd");
		exit(1);
	}
	g->desc = (struct vring_desc *)(g->mem + DESC);
	g->avail = (struct vring_avail *)(g->mem + AVAIL);
	g->used = (struct vring_used *)(g->mem + USED);
	CHECK(set_mem(s, fd) == 0, "SET_MEM_TABLE refused");
	CHECK(set_state(s, VHOST_USER_SET_VRING_NUM, NUM) == 0,
	      "SET_VRING_NUM refused");
	CHECK(set_state(s, VHOST_USER_SET_VRING_BASE, 0) == 0,
	      "SET_VRING_BASE refused");
	CHECK(set_vring(s) == 0, "SET_VRING_ADDR refused");
	CHECK(set_u64(s, VHOST_USER_SET_VRING_CALL, 0, call) == 0,
	      "SET_VRING_CALL refused");
	CHECK(set_u64(s, VHOST_USER_SET_VRING_KICK, 0, *kick) == 0,
	      "SET_VRING_KICK refused");
	CHECK(set_state(s, VHOST_USER_SET_VRING_ENABLE, 1) == 0,
	      "SET_VRING_ENABLE refused");
	close(fd);
	close(call);
}

/* What each returned chain must look like: head, used length, status
 * (0xee: none written). Chain 1 (a head out of range) returns nothing. */
static const struct {
	uint16_t head;
	uint32_t len;
	uint8_t status;
} want[] = {
	{ 0, 0, 0xee },			/* a loop */
	{ 6, 1, VIRTIO_BLK_S_IOERR },	/* a read past the end */
	{ 9, 0, 0xee },			/* readable after writable */
	{ 12, 513, VIRTIO_BLK_S_OK },	/* a good read */
	{ 15, 1, VIRTIO_BLK_S_IOERR },	/* a header too short */
	{ 18, 0, 0xee },		/* outside guest memory */
	{ 21, 21, VIRTIO_BLK_S_OK },	/* GET_ID */
	{ 24, 1, VIRTIO_BLK_S_IOERR },	/* a write of part of a sector */
	{ 27, 1, VIRTIO_BLK_S_UNSUPP }, /* an unknown type */
};
#define N_WANT (sizeof(want) / sizeof(want[0]))

static void hostile_chains(struct ring *g)
{
	blk_chain(g, 0, VIRTIO_BLK_T_IN, 0, 16, 512);
	desc(g, 0, HDRS, 16, VRING_DESC_F_NEXT, 0); /* to itself */
	offer(g, 0);
	offer(g, 40); /* no such descriptor */
	blk_chain(g, 2, VIRTIO_BLK_T_IN, sectors, 16, 512);
	offer(g, 6);
	blk_chain(g, 3, VIRTIO_BLK_T_IN, 0, 16, 512);
	desc(g, 11, HDRS + 64 * 3 + 32, 1, 0, 0); /* status readable */
	offer(g, 9);
	blk_chain(g, 4, VIRTIO_BLK_T_IN, 0, 16, 512);
	offer(g, 12);
	blk_chain(g, 5, VIRTIO_BLK_T_IN, 0, 8, 0);
	offer(g, 15);
	blk_chain(g, 6, VIRTIO_BLK_T_IN, 0, 16, 512);
	desc(g, 19, 0x40000000, 512, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
	     20);
	offer(g, 18);
	blk_chain(g, 7, VIRTIO_BLK_T_GET_ID, 0, 16, VIRTIO_BLK_ID_BYTES);
	offer(g, 21);
	blk_chain(g, 8, VIRTIO_BLK_T_OUT, 0, 16, 100);
	offer(g, 24);
	blk_chain(g, 9, 99, 0, 16, 512);
	offer(g, 27);
}

static int used_reached(struct ring *g, uint16_t n)
{
	for (int i = 0; i < 200; i++) {
		if (le16toh(__atomic_load_n(&g->used->idx, __ATOMIC_ACQUIRE)) ==
		    n)
			return 1;
		usleep(50000);
	}
	return 0;
}

static void check_used(struct ring *g)
{
	for (unsigned i = 0; i < N_WANT; i++) {
		struct vring_used_elem *e = &g->used->ring[i];
		unsigned chain = le32toh(e->id) / 3;

		CHECK(le32toh(e->id) == want[i].head &&
			  le32toh(e->len) == want[i].len &&
			  g->mem[HDRS + 64 * chain + 32] == want[i].status,
		      "used %u: head %u len %u status %u, want head %u len "
		      "%u status %u",
		      i, le32toh(e->id), le32toh(e->len),
		      g->mem[HDRS + 64 * chain + 32], want[i].head, want[i].len,
		      want[i].status);
	}
	CHECK(!memcmp(g->mem + DATA + 0x1000 * 7, "parapet-blkd-", 13),
	      "GET_ID: no parapet-blkd- id");
}

static void case_queue(void)
{
	struct vhost_user_msg m, r;
	struct ring g;
	int s = dial(), kick;
	uint64_t one = 1;

	handshake(s);
	start_queue(s, &g, &kick);
	hostile_chains(&g);
	CHECK(write(kick, &one, sizeof(one)) == sizeof(one), "kick");
	CHECK(used_reached(&g, N_WANT), "used index %u, want %zu",
	      le16toh(g.used->idx), N_WANT);
	check_used(&g);
	/* Stopping the ring tells where it stopped: every entry taken. */
	vhost_user_msg_init(&m, VHOST_USER_GET_VRING_BASE, 8);
	CHECK(vhost_user_call(s, &m, &r, 10000) == 0 &&
		  r.payload.state.num == N_WANT + 1,
	      "GET_VRING_BASE: %u, want %zu", r.payload.state.num, N_WANT + 1);
	close(s);
	close(kick);
	util_unmap(g.mem, MEM_SIZE);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: parapet-vhost-evil SOCKET SECTORS\n");
		return 2;
	}
	sock_path = argv[1];
	sectors = strtoull(argv[2], NULL, 10);
	case_garbage();
	case_stall();
	case_refusals();
	case_inflight();
	case_queue();
	if (failures == 0)
		printf("vhost-evil: every case answered as it should\n");
	return failures ? 1 : 0;
}
