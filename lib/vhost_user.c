/* The vhost-user wire protocol: the shape of every request and reply
 * (sizes, descriptor counts) from one table, and sending and receiving
 * whole messages over a stream socket with SCM_RIGHTS. */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/util.h"
#include "lib/vhost_user.h"

#define HDR_SIZE    ((uint32_t)sizeof(struct vhost_user_hdr))
#define STATE_SIZE  ((uint32_t)sizeof(struct vhost_user_vring_state))
#define ADDR_SIZE   ((uint32_t)sizeof(struct vhost_user_vring_addr))
#define REGION_SIZE ((uint32_t)sizeof(struct vhost_user_mem_region))
#define MEM_HDR	    ((uint32_t)offsetof(struct vhost_user_mem_table, regions))
#define CFG_MIN	    VHOST_USER_CONFIG_HDR_SIZE
#define CFG_MAX	    (VHOST_USER_CONFIG_HDR_SIZE + VHOST_USER_CONFIG_MAX)

_Static_assert(sizeof(struct vhost_user_hdr) == 12, "header is 12 bytes");
_Static_assert(sizeof(struct vhost_user_vring_addr) == 40, "vring addr");
_Static_assert(sizeof(struct vhost_user_mem_region) == 32, "region");
_Static_assert(sizeof(struct vhost_user_inflight) == 24, "inflight");
_Static_assert(offsetof(struct vhost_user_config, payload) ==
		   VHOST_USER_CONFIG_HDR_SIZE,
	       "config header");

/* The shape of one request and of its reply. A request absent from the
 * table (zeroed row) may be up to VHOST_USER_PAYLOAD_MAX bytes with up
 * to 8 descriptors, so that a back-end can refuse it cleanly. */
struct shape {
	const char *name;
	uint32_t min, max;   /* request payload bytes */
	uint8_t fds_max;     /* descriptors the request may carry */
	bool reply;	     /* has its own reply (else REPLY_ACK u64) */
	uint32_t rmin, rmax; /* its reply's payload bytes */
};

#define REQ(r, lo, hi, fds) [VHOST_USER_##r] = { #r, lo, hi, fds, false, 8, 8 }
#define GET(r, lo, hi, rlo, rhi)                                               \
	[VHOST_USER_##r] = { #r, lo, hi, 0, true, rlo, rhi }

static const struct shape shapes[VHOST_USER_REQUEST_MAX] = {
	GET(GET_FEATURES, 0, 0, 8, 8),
	REQ(SET_FEATURES, 8, 8, 0),
	REQ(SET_OWNER, 0, 0, 0),
	REQ(RESET_OWNER, 0, 0, 0),
	REQ(SET_MEM_TABLE, MEM_HDR, MEM_HDR + 8 * REGION_SIZE, 8),
	REQ(SET_LOG_BASE, 16, 16, 1),
	REQ(SET_LOG_FD, 0, 0, 1),
	REQ(SET_VRING_NUM, STATE_SIZE, STATE_SIZE, 0),
	REQ(SET_VRING_ADDR, ADDR_SIZE, ADDR_SIZE, 0),
	REQ(SET_VRING_BASE, STATE_SIZE, STATE_SIZE, 0),
	GET(GET_VRING_BASE, STATE_SIZE, STATE_SIZE, STATE_SIZE, STATE_SIZE),
	REQ(SET_VRING_KICK, 8, 8, 1),
	REQ(SET_VRING_CALL, 8, 8, 1),
	REQ(SET_VRING_ERR, 8, 8, 1),
	GET(GET_PROTOCOL_FEATURES, 0, 0, 8, 8),
	REQ(SET_PROTOCOL_FEATURES, 8, 8, 0),
	GET(GET_QUEUE_NUM, 0, 0, 8, 8),
	REQ(SET_VRING_ENABLE, STATE_SIZE, STATE_SIZE, 0),
	REQ(SEND_RARP, 8, 8, 0),
	REQ(NET_SET_MTU, 8, 8, 0),
	REQ(SET_BACKEND_REQ_FD, 0, 0, 1),
	REQ(IOTLB_MSG, 0, VHOST_USER_PAYLOAD_MAX, 0),
	REQ(SET_VRING_ENDIAN, STATE_SIZE, STATE_SIZE, 0),
	GET(GET_CONFIG, CFG_MIN, CFG_MAX, CFG_MIN, CFG_MAX),
	REQ(SET_CONFIG, CFG_MIN, CFG_MAX, 0),
	REQ(CREATE_CRYPTO_SESSION, 0, VHOST_USER_PAYLOAD_MAX, 0),
	REQ(CLOSE_CRYPTO_SESSION, 8, 8, 0),
	REQ(POSTCOPY_ADVISE, 0, 0, 0),
	REQ(POSTCOPY_LISTEN, 0, 0, 0),
	REQ(POSTCOPY_END, 0, 0, 0),
	GET(GET_INFLIGHT_FD, 24, 24, 24, 24),
	REQ(SET_INFLIGHT_FD, 24, 24, 1),
	REQ(GPU_SET_SOCKET, 0, 0, 1),
	REQ(RESET_DEVICE, 0, 0, 0),
	REQ(VRING_KICK, STATE_SIZE, STATE_SIZE, 0),
	GET(GET_MAX_MEM_SLOTS, 0, 0, 8, 8),
	REQ(ADD_MEM_REG, 8 + REGION_SIZE, 8 + REGION_SIZE, 1),
	REQ(REM_MEM_REG, 8 + REGION_SIZE, 8 + REGION_SIZE, 1),
	REQ(SET_STATUS, 8, 8, 0),
	GET(GET_STATUS, 0, 0, 8, 8),
};

static const struct shape unknown_shape = {
	"UNKNOWN", 0, VHOST_USER_PAYLOAD_MAX, VHOST_USER_MAX_FDS, false, 8, 8
};

static const struct shape *shape_of(uint32_t request)
{
	if (request < VHOST_USER_REQUEST_MAX && shapes[request].name)
		return &shapes[request];
	return &unknown_shape;
}

const char *vhost_user_request_name(uint32_t request)
{
	return shape_of(request)->name;
}

const char *vhost_user_strerror(int err)
{
	switch (err) {
	case VHOST_USER_OK:
		return "success";
	case VHOST_USER_ERR_SYS:
		return strerror(errno);
	case VHOST_USER_ERR_CLOSED:
		return "peer closed the connection";
	case VHOST_USER_ERR_TIMEOUT:
		return "timed out";
	case VHOST_USER_ERR_VERSION:
		return "wrong protocol version in flags";
	case VHOST_USER_ERR_SIZE:
		return "payload size wrong for the request";
	case VHOST_USER_ERR_FDS:
		return "wrong number of descriptors";
	case VHOST_USER_ERR_PAYLOAD:
		return "inconsistent payload";
	case VHOST_USER_ERR_REPLY:
		return "unexpected reply";
	case VHOST_USER_ERR_FAILED:
		return "the back-end reported failure";
	}
	return "unknown error";
}

void vhost_user_msg_init(struct vhost_user_msg *m, uint32_t request,
			 uint32_t size)
{
	memset(m, 0, sizeof(*m));
	m->hdr.request = request;
	m->hdr.flags = VHOST_USER_VERSION;
	m->hdr.size =
	    size < VHOST_USER_PAYLOAD_MAX ? size : VHOST_USER_PAYLOAD_MAX;
}

void vhost_user_msg_close_fds(struct vhost_user_msg *m)
{
	for (unsigned i = 0; i < m->nfds && i < VHOST_USER_MAX_FDS; i++)
		close(m->fds[i]);
	m->nfds = 0;
}

int vhost_user_check_size(const struct vhost_user_hdr *hdr)
{
	const struct shape *s = shape_of(hdr->request);
	bool is_reply = hdr->flags & VHOST_USER_FLAG_REPLY;
	uint32_t lo = is_reply ? s->rmin : s->min;
	uint32_t hi = is_reply ? s->rmax : s->max;

	if ((hdr->flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION)
		return VHOST_USER_ERR_VERSION;
	if (hdr->size < lo || hdr->size > hi ||
	    hdr->size > VHOST_USER_PAYLOAD_MAX)
		return VHOST_USER_ERR_SIZE;
	return VHOST_USER_OK;
}

static int check_config(const struct vhost_user_msg *m)
{
	const struct vhost_user_config *c = &m->payload.config;

	if (c->size > VHOST_USER_CONFIG_MAX ||
	    m->hdr.size != VHOST_USER_CONFIG_HDR_SIZE + c->size ||
	    c->offset > VHOST_USER_CONFIG_MAX - c->size)
		return VHOST_USER_ERR_PAYLOAD;
	return VHOST_USER_OK;
}

static int check_vring_fd(const struct vhost_user_msg *m)
{
	uint64_t v = m->payload.u64;
	unsigned want = (v & VHOST_USER_VRING_NOFD_MASK) ? 0 : 1;

	if (v &
	    ~(uint64_t)(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD_MASK))
		return VHOST_USER_ERR_PAYLOAD;
	return m->nfds == want ? VHOST_USER_OK : VHOST_USER_ERR_FDS;
}

static int check_request_payload(const struct vhost_user_msg *m)
{
	const struct vhost_user_mem_table *t = &m->payload.mem;

	switch (m->hdr.request) {
	case VHOST_USER_SET_MEM_TABLE:
		if (t->nregions > VHOST_USER_MAX_REGIONS ||
		    m->hdr.size != MEM_HDR + t->nregions * REGION_SIZE)
			return VHOST_USER_ERR_PAYLOAD;
		return m->nfds == t->nregions ? VHOST_USER_OK
					      : VHOST_USER_ERR_FDS;
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		return check_vring_fd(m);
	case VHOST_USER_ADD_MEM_REG:
	case VHOST_USER_SET_LOG_BASE:
	case VHOST_USER_SET_LOG_FD:
	case VHOST_USER_SET_BACKEND_REQ_FD:
	case VHOST_USER_SET_INFLIGHT_FD:
	case VHOST_USER_GPU_SET_SOCKET:
		return m->nfds == 1 ? VHOST_USER_OK : VHOST_USER_ERR_FDS;
	case VHOST_USER_GET_CONFIG:
	case VHOST_USER_SET_CONFIG:
		return check_config(m);
	}
	return VHOST_USER_OK;
}

int vhost_user_check_payload(const struct vhost_user_msg *m)
{
	const struct shape *s = shape_of(m->hdr.request);
	int err = vhost_user_check_size(&m->hdr);

	if (err)
		return err;
	if (m->hdr.flags & VHOST_USER_FLAG_REPLY) {
		/* GET_INFLIGHT_FD's reply alone carries one: the region */
		if (m->nfds >
		    (m->hdr.request == VHOST_USER_GET_INFLIGHT_FD ? 1u : 0u))
			return VHOST_USER_ERR_FDS;
		if (m->hdr.request == VHOST_USER_GET_CONFIG)
			return check_config(m);
		return VHOST_USER_OK;
	}
	if (m->nfds > s->fds_max)
		return VHOST_USER_ERR_FDS;
	return check_request_payload(m);
}

/* Sends len bytes of buf, the fds with the first byte. */
static int send_all(int sock, const void *buf, size_t len, const int *fds,
		    unsigned nfds)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
	} ctl;
	const uint8_t *p = buf;

	while (len) {
		struct iovec iov = { (void *)(uintptr_t)p, len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (nfds) {
			memset(&ctl, 0, sizeof(ctl));
			mh.msg_control = ctl.b;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
		}
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return VHOST_USER_ERR_SYS;
		p += n;
		len -= (size_t)n;
		nfds = 0;
	}
	return VHOST_USER_OK;
}

int vhost_user_send(int sock, const struct vhost_user_msg *m)
{
	uint8_t buf[sizeof(struct vhost_user_hdr) + VHOST_USER_PAYLOAD_MAX];

	if (m->hdr.size > VHOST_USER_PAYLOAD_MAX)
		return VHOST_USER_ERR_SIZE;
	if (m->nfds > VHOST_USER_MAX_FDS)
		return VHOST_USER_ERR_FDS;
	memcpy(buf, &m->hdr, HDR_SIZE);
	memcpy(buf + HDR_SIZE, &m->payload, m->hdr.size);
	return send_all(sock, buf, HDR_SIZE + m->hdr.size, m->fds, m->nfds);
}

/* Takes the SCM_RIGHTS descriptors of one recvmsg into m; more than
 * VHOST_USER_MAX_FDS in all are closed and make it an error. */
static int take_fds(struct msghdr *mh, struct vhost_user_msg *m)
{
	int err = VHOST_USER_OK;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;
		int fd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int),
			       sizeof(int));
			if (m->nfds < VHOST_USER_MAX_FDS)
				m->fds[m->nfds++] = fd;
			else {
				close(fd);
				err = VHOST_USER_ERR_FDS;
			}
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		err = VHOST_USER_ERR_FDS;
	return err;
}

/* Waits until sock is readable or deadline (0: forever) passes. */
static int wait_readable(int sock, uint64_t deadline, bool forever)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, forever ? -1 : util_ms_until(deadline));
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return VHOST_USER_ERR_SYS;
	return r == 0 ? VHOST_USER_ERR_TIMEOUT : VHOST_USER_OK;
}

/* Reads exactly len bytes into buf, collecting descriptors into m. */
static int recv_all(int sock, void *buf, size_t len, struct vhost_user_msg *m,
		    uint64_t deadline, bool forever)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
	} ctl;
	uint8_t *p = buf;

	while (len) {
		struct iovec iov = { p, len };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = ctl.b,
				     .msg_controllen = sizeof(ctl.b) };
		int err = wait_readable(sock, deadline, forever);
		ssize_t n;

		if (err)
			return err;
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return VHOST_USER_ERR_SYS;
		err = take_fds(&mh, m);
		if (err)
			return err;
		if (n == 0)
			return VHOST_USER_ERR_CLOSED;
		p += n;
		len -= (size_t)n;
	}
	return VHOST_USER_OK;
}

int vhost_user_recv(int sock, struct vhost_user_msg *m, int timeout_ms)
{
	bool forever = timeout_ms < 0;
	uint64_t deadline =
	    forever ? 0 : util_deadline_ns((uint64_t)timeout_ms);
	int err;

	memset(m, 0, sizeof(*m));
	err = recv_all(sock, &m->hdr, HDR_SIZE, m, deadline, forever);
	if (!err)
		err = vhost_user_check_size(&m->hdr);
	if (!err)
		err = recv_all(sock, &m->payload, m->hdr.size, m, deadline,
			       forever);
	if (!err)
		err = vhost_user_check_payload(m);
	if (err) {
		int saved = errno;

		vhost_user_msg_close_fds(m);
		errno = saved;
	}
	return err;
}

int vhost_user_reply_fd(int sock, const struct vhost_user_msg *req,
			const void *payload, uint32_t size, int fd)
{
	struct vhost_user_msg r;

	if (size > VHOST_USER_PAYLOAD_MAX)
		return VHOST_USER_ERR_SIZE;
	vhost_user_msg_init(&r, req->hdr.request, size);
	r.hdr.flags = VHOST_USER_VERSION | VHOST_USER_FLAG_REPLY;
	if (size)
		memcpy(&r.payload, payload, size);
	if (fd >= 0) {
		r.fds[0] = fd;
		r.nfds = 1;
	}
	return vhost_user_send(sock, &r);
}

int vhost_user_reply(int sock, const struct vhost_user_msg *req,
		     const void *payload, uint32_t size)
{
	return vhost_user_reply_fd(sock, req, payload, size, -1);
}

int vhost_user_reply_u64(int sock, const struct vhost_user_msg *req,
			 uint64_t value)
{
	return vhost_user_reply(sock, req, &value, sizeof(value));
}

bool vhost_user_has_reply(uint32_t request)
{
	return shape_of(request)->reply;
}

bool vhost_user_wants_reply(const struct vhost_user_hdr *hdr)
{
	return shape_of(hdr->request)->reply ||
	       (hdr->flags & VHOST_USER_FLAG_NEED_REPLY);
}

int vhost_user_call(int sock, const struct vhost_user_msg *req,
		    struct vhost_user_msg *reply, int timeout_ms)
{
	struct vhost_user_msg local;
	struct vhost_user_msg *r = reply ? reply : &local;
	int err = vhost_user_send(sock, req);

	if (err || !vhost_user_wants_reply(&req->hdr))
		return err;
	err = vhost_user_recv(sock, r, timeout_ms);
	if (err)
		return err;
	if (!(r->hdr.flags & VHOST_USER_FLAG_REPLY) ||
	    r->hdr.request != req->hdr.request) {
		vhost_user_msg_close_fds(r);
		return VHOST_USER_ERR_REPLY;
	}
	if (!shape_of(req->hdr.request)->reply && r->payload.u64 != 0)
		return VHOST_USER_ERR_FAILED;
	return VHOST_USER_OK;
}
