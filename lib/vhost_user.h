/* The vhost-user wire protocol (docs/disks.md), for both ends of the
 * socket: vmworker's frontend and parapet-blkd's backend. One message is
 * a 12-byte header (request, flags, size) and exactly `size` payload
 * bytes, with up to 8 descriptors attached (SCM_RIGHTS). Every size and
 * descriptor count is checked against the request before the payload is
 * used; the peer is never trusted. Virtio constants come from the
 * kernel's <linux/virtio_*.h>, not from here. */
#ifndef PARAPET_VHOST_USER_H
#define PARAPET_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>

#define VHOST_USER_VERSION	   0x1u
#define VHOST_USER_VERSION_MASK	   0x3u
#define VHOST_USER_FLAG_REPLY	   0x4u
#define VHOST_USER_FLAG_NEED_REPLY 0x8u

#define VHOST_USER_MAX_FDS	   8
#define VHOST_USER_MAX_REGIONS	   8
#define VHOST_USER_CONFIG_HDR_SIZE 12u
#define VHOST_USER_CONFIG_MAX	   256u /* bytes of config space, as qemu */

/* SET_VRING_KICK/CALL/ERR payload: ring index, and "no descriptor". */
#define VHOST_USER_VRING_IDX_MASK  0xffu
#define VHOST_USER_VRING_NOFD_MASK (1u << 8)

/* The virtio feature bit that says GET_PROTOCOL_FEATURES exists. */
#define VHOST_USER_F_PROTOCOL_FEATURES 30

/* Protocol feature bits (GET/SET_PROTOCOL_FEATURES). */
enum vhost_user_protocol_feature {
	VHOST_USER_PROTOCOL_F_MQ = 0,
	VHOST_USER_PROTOCOL_F_LOG_SHMFD = 1,
	VHOST_USER_PROTOCOL_F_RARP = 2,
	VHOST_USER_PROTOCOL_F_REPLY_ACK = 3,
	VHOST_USER_PROTOCOL_F_MTU = 4,
	VHOST_USER_PROTOCOL_F_BACKEND_REQ = 5,
	VHOST_USER_PROTOCOL_F_CROSS_ENDIAN = 6,
	VHOST_USER_PROTOCOL_F_CRYPTO_SESSION = 7,
	VHOST_USER_PROTOCOL_F_PAGEFAULT = 8,
	VHOST_USER_PROTOCOL_F_CONFIG = 9,
	VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD = 10,
	VHOST_USER_PROTOCOL_F_HOST_NOTIFIER = 11,
	VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD = 12,
	VHOST_USER_PROTOCOL_F_RESET_DEVICE = 13,
	VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS = 14,
	VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS = 15,
	VHOST_USER_PROTOCOL_F_STATUS = 16,
};

/* Front-end → back-end requests. */
enum vhost_user_request {
	VHOST_USER_NONE = 0,
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_SEND_RARP = 19,
	VHOST_USER_NET_SET_MTU = 20,
	VHOST_USER_SET_BACKEND_REQ_FD = 21,
	VHOST_USER_IOTLB_MSG = 22,
	VHOST_USER_SET_VRING_ENDIAN = 23,
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
	VHOST_USER_CREATE_CRYPTO_SESSION = 26,
	VHOST_USER_CLOSE_CRYPTO_SESSION = 27,
	VHOST_USER_POSTCOPY_ADVISE = 28,
	VHOST_USER_POSTCOPY_LISTEN = 29,
	VHOST_USER_POSTCOPY_END = 30,
	VHOST_USER_GET_INFLIGHT_FD = 31,
	VHOST_USER_SET_INFLIGHT_FD = 32,
	VHOST_USER_GPU_SET_SOCKET = 33,
	VHOST_USER_RESET_DEVICE = 34,
	VHOST_USER_VRING_KICK = 35,
	VHOST_USER_GET_MAX_MEM_SLOTS = 36,
	VHOST_USER_ADD_MEM_REG = 37,
	VHOST_USER_REM_MEM_REG = 38,
	VHOST_USER_SET_STATUS = 39,
	VHOST_USER_GET_STATUS = 40,
	VHOST_USER_REQUEST_MAX = 41, /* one past the last known request */
};

struct vhost_user_hdr {
	uint32_t request; /* enum vhost_user_request */
	uint32_t flags;	  /* version | REPLY | NEED_REPLY */
	uint32_t size;	  /* payload bytes that follow */
} __attribute__((packed));

/* SET_VRING_NUM/BASE/ENABLE, GET_VRING_BASE. */
struct vhost_user_vring_state {
	uint32_t index;
	uint32_t num;
};

/* SET_VRING_ADDR: addresses in the front-end's address space
 * (userspace_addr of the memory table), not guest-physical. */
struct vhost_user_vring_addr {
	uint32_t index;
	uint32_t flags; /* bit 0: log used-ring writes (refused here) */
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
};

struct vhost_user_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset; /* into the region's descriptor */
};

/* SET_MEM_TABLE: nregions descriptors come with it, one per region. */
struct vhost_user_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vhost_user_mem_region regions[VHOST_USER_MAX_REGIONS];
};

/* ADD_MEM_REG / REM_MEM_REG. */
struct vhost_user_mem_single {
	uint64_t padding;
	struct vhost_user_mem_region region;
};

/* GET_CONFIG / SET_CONFIG: size bytes of config space from offset. */
struct vhost_user_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t payload[VHOST_USER_CONFIG_MAX];
};

/* GET_INFLIGHT_FD (request: num_queues, queue_size; reply: all, with
 * the region's descriptor) and SET_INFLIGHT_FD (all, with it): the
 * shared memory where a back-end records the requests it has taken and
 * not yet completed (its layout: lib/virtq.h). */
struct vhost_user_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
	uint32_t padding;
};

union vhost_user_payload {
	uint64_t u64; /* features, protocol features, queue num, kick index,
		       * REPLY_ACK status (0 success) */
	struct vhost_user_vring_state state;
	struct vhost_user_vring_addr addr;
	struct vhost_user_mem_table mem;
	struct vhost_user_mem_single mem_single;
	struct vhost_user_config config;
	struct vhost_user_inflight inflight;
	uint8_t raw[1];
};

#define VHOST_USER_PAYLOAD_MAX ((uint32_t)sizeof(union vhost_user_payload))

/* One message as sent or received: fds[0..nfds) are owned by whoever
 * holds the message (vhost_user_msg_close_fds closes them). */
struct vhost_user_msg {
	struct vhost_user_hdr hdr;
	union vhost_user_payload payload;
	int fds[VHOST_USER_MAX_FDS];
	unsigned nfds;
};

enum vhost_user_err {
	VHOST_USER_OK = 0,
	VHOST_USER_ERR_SYS = -1,     /* system call failed: see errno */
	VHOST_USER_ERR_CLOSED = -2,  /* peer closed the connection */
	VHOST_USER_ERR_TIMEOUT = -3, /* nothing (or only part) in time */
	VHOST_USER_ERR_VERSION = -4, /* flags carry another version */
	VHOST_USER_ERR_SIZE = -5,    /* size wrong for the request */
	VHOST_USER_ERR_FDS = -6,     /* descriptor count wrong or truncated */
	VHOST_USER_ERR_PAYLOAD = -7, /* payload inconsistent (nregions...) */
	VHOST_USER_ERR_REPLY = -8,   /* not the reply that was waited for */
	VHOST_USER_ERR_FAILED = -9,  /* REPLY_ACK reported failure */
};

const char *vhost_user_strerror(int err);

/* "GET_FEATURES", ... or "UNKNOWN" for logs. */
const char *vhost_user_request_name(uint32_t request);

/* Prepares m as a request (version 1, no fds) with size payload bytes
 * (zeroed); size is capped at VHOST_USER_PAYLOAD_MAX. */
void vhost_user_msg_init(struct vhost_user_msg *m, uint32_t request,
			 uint32_t size);

/* Closes m's descriptors and sets nfds to 0. */
void vhost_user_msg_close_fds(struct vhost_user_msg *m);

/* Whether a message with this header (request, REPLY flag) and size,
 * carrying nfds descriptors, has the right shape; the payload's own
 * fields (nregions, config size, NOFD bit) are checked by
 * vhost_user_check_payload. */
int vhost_user_check_size(const struct vhost_user_hdr *hdr);
int vhost_user_check_payload(const struct vhost_user_msg *m);

/* Sends m: header, m->hdr.size payload bytes and m->fds (at most 8,
 * stay open on the sender). MSG_NOSIGNAL: a closed peer is an error, not
 * SIGPIPE. 0 or an error. */
int vhost_user_send(int sock, const struct vhost_user_msg *m);

/* Receives one whole message into m, waiting at most timeout_ms for
 * each part (-1: forever; 0: only what is already there). The header is
 * checked (version, size for the request) before the payload is read,
 * the payload after; received descriptors are close-on-exec and, on any
 * error, closed. Any error but a TIMEOUT before the first byte leaves the
 * stream out of step: close the connection. 0 or an error. */
int vhost_user_recv(int sock, struct vhost_user_msg *m, int timeout_ms);

/* Back-end side: the reply to req carrying size bytes of payload
 * (version 1, REPLY flag). 0 or an error. */
int vhost_user_reply(int sock, const struct vhost_user_msg *req,
		     const void *payload, uint32_t size);
/* The same with one descriptor attached (GET_INFLIGHT_FD); fd stays
 * open on the sender. */
int vhost_user_reply_fd(int sock, const struct vhost_user_msg *req,
			const void *payload, uint32_t size, int fd);
/* Replies to req with one u64 (features, REPLY_ACK status...). */
int vhost_user_reply_u64(int sock, const struct vhost_user_msg *req,
			 uint64_t value);

/* Whether the request has a reply of its own (the GET_* requests); the
 * others are answered only by a REPLY_ACK status when NEED_REPLY asks. */
bool vhost_user_has_reply(uint32_t request);

/* Whether the back-end answers this request: a GET_* request, or one
 * sent with NEED_REPLY (REPLY_ACK negotiated). */
bool vhost_user_wants_reply(const struct vhost_user_hdr *hdr);

/* Front-end side: sends req and, when it wants a reply, waits at most
 * timeout_ms for a message with the same request and the REPLY flag,
 * into reply (which may be NULL when only a REPLY_ACK is expected). A
 * REPLY_ACK reply (NEED_REPLY on a request without its own reply) with a
 * non-zero status gives VHOST_USER_ERR_FAILED. 0 or an error. */
int vhost_user_call(int sock, const struct vhost_user_msg *req,
		    struct vhost_user_msg *reply, int timeout_ms);

#endif
