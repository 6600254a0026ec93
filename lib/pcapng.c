/* lib/pcapng: pcapng blocks (section, interface, enhanced packet) around
 * synthetic IPv4/UDP datagrams carrying Parapet envelopes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/pcapng.h"
#include "lib/registry.h"

#define BT_SHB 0x0a0d0d0au
#define BT_IDB 0x00000001u
#define BT_EPB 0x00000006u
#define BOM    0x1a2b3c4du

#define OPT_END	       0
#define OPT_COMMENT    1
#define OPT_SHB_APPL   4
#define OPT_IF_NAME    2
#define OPT_IF_TSRESOL 9

#define IP_HDR	 20
#define UDP_HDR	 8
#define LOOPBACK 0x7f000001u

/* Room for the largest block: EPB header, packet, comment, trailers. */
#define BLOCK_MAX (64 + 65535 + PCAPNG_MAX_COMMENT + 16)

struct pcapng_writer {
	FILE *f;
	int fd;
	uint64_t count;
	size_t len;
	uint8_t buf[BLOCK_MAX];
};

static const char *const pcapng_errors[PCAPNG_ERR_COUNT] = {
	"success",
	"invalid argument",
	"out of memory",
	"write failed",
	"envelope too big for one packet",
};

const char *pcapng_strerror(int err)
{
	if (err < 0)
		err = -err;
	return err < PCAPNG_ERR_COUNT ? pcapng_errors[err] : "unknown error";
}

uint16_t pcapng_service_port(const char *service)
{
	const struct registry_entry *e = registry_find(service);

	return e != NULL ? e->trace_port : PCAPNG_PORT_OTHER;
}

/* -------------------------------------------------------------- packets */

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

uint16_t pcapng_ip_checksum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

size_t pcapng_udp_packet(uint8_t *buf, size_t cap, uint16_t sport,
			 uint16_t dport, const void *payload, size_t len)
{
	size_t total = IP_HDR + UDP_HDR + len;

	if (len > PCAPNG_MAX_ENVELOPE || total > cap)
		return 0;
	memset(buf, 0, IP_HDR + UDP_HDR);
	buf[0] = 0x45; /* IPv4, 5 words of header */
	put_be16(buf + 2, (uint16_t)total);
	buf[6] = 0x40; /* don't fragment */
	buf[8] = 64;   /* TTL */
	buf[9] = 17;   /* UDP */
	put_be32(buf + 12, LOOPBACK);
	put_be32(buf + 16, LOOPBACK);
	put_be16(buf + 10, pcapng_ip_checksum(buf, IP_HDR));
	put_be16(buf + IP_HDR, sport);
	put_be16(buf + IP_HDR + 2, dport);
	put_be16(buf + IP_HDR + 4, (uint16_t)(UDP_HDR + len));
	if (len != 0)
		memcpy(buf + IP_HDR + UDP_HDR, payload, len);
	return total;
}

/* --------------------------------------------------------------- blocks */

/* Blocks are little endian, as the SHB's byte-order magic says. */
static void put16(struct pcapng_writer *w, uint16_t v)
{
	w->buf[w->len++] = (uint8_t)v;
	w->buf[w->len++] = (uint8_t)(v >> 8);
}

static void put32(struct pcapng_writer *w, uint32_t v)
{
	put16(w, (uint16_t)v);
	put16(w, (uint16_t)(v >> 16));
}

static void put_bytes(struct pcapng_writer *w, const void *p, size_t n)
{
	if (n != 0)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
	while (w->len % 4 != 0)
		w->buf[w->len++] = 0;
}

static void put_option(struct pcapng_writer *w, uint16_t code, const void *val,
		       size_t n)
{
	put16(w, code);
	put16(w, (uint16_t)n);
	put_bytes(w, val, n);
}

static void block_begin(struct pcapng_writer *w, uint32_t type)
{
	w->len = 0;
	put32(w, type);
	put32(w, 0); /* total length, set by block_end */
}

static int block_end(struct pcapng_writer *w)
{
	size_t total = w->len + 4, off = 0;
	ssize_t n;

	w->buf[4] = (uint8_t)total;
	w->buf[5] = (uint8_t)(total >> 8);
	w->buf[6] = (uint8_t)(total >> 16);
	w->buf[7] = (uint8_t)(total >> 24);
	put32(w, (uint32_t)total);
	if (w->f != NULL) {
		if (fwrite(w->buf, 1, w->len, w->f) != w->len ||
		    fflush(w->f) != 0)
			return PCAPNG_ERR_IO;
		return 0;
	}
	while (off < w->len) {
		n = write(w->fd, w->buf + off, w->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return PCAPNG_ERR_IO;
		off += (size_t)n;
	}
	return 0;
}

static int write_headers(struct pcapng_writer *w, const char *app)
{
	static const uint8_t tsresol = 9; /* 10^-9 s */
	int rc;

	block_begin(w, BT_SHB);
	put32(w, BOM);
	put16(w, 1); /* version 1.0 */
	put16(w, 0);
	put32(w, 0xffffffffu); /* section length: unknown */
	put32(w, 0xffffffffu);
	if (app != NULL && strlen(app) <= PCAPNG_MAX_COMMENT)
		put_option(w, OPT_SHB_APPL, app, strlen(app));
	put_option(w, OPT_END, NULL, 0);
	rc = block_end(w);
	if (rc != 0)
		return rc;
	block_begin(w, BT_IDB);
	put16(w, PCAPNG_LINKTYPE_RAW);
	put16(w, 0);
	put32(w, 0); /* snaplen: no limit */
	put_option(w, OPT_IF_NAME, "parapet", 7);
	put_option(w, OPT_IF_TSRESOL, &tsresol, 1);
	put_option(w, OPT_END, NULL, 0);
	return block_end(w);
}

static struct pcapng_writer *writer_open(FILE *f, int fd, const char *app)
{
	struct pcapng_writer *w = malloc(sizeof(*w));

	if (w == NULL)
		return NULL;
	w->f = f;
	w->fd = fd;
	w->count = 0;
	if (write_headers(w, app) != 0) {
		free(w);
		errno = errno ? errno : EIO;
		return NULL;
	}
	return w;
}

struct pcapng_writer *pcapng_open_stream(FILE *f, const char *app)
{
	if (f == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return writer_open(f, -1, app);
}

struct pcapng_writer *pcapng_open_fd(int fd, const char *app)
{
	if (fd < 0) {
		errno = EBADF;
		return NULL;
	}
	return writer_open(NULL, fd, app);
}

static void epb_begin(struct pcapng_writer *w, uint64_t ts_ns, size_t len)
{
	block_begin(w, BT_EPB);
	put32(w, 0); /* interface 0 */
	put32(w, (uint32_t)(ts_ns >> 32));
	put32(w, (uint32_t)ts_ns);
	put32(w, (uint32_t)len); /* captured */
	put32(w, (uint32_t)len); /* original */
}

/* The packet is already at w->buf + w->len. */
static int epb_finish(struct pcapng_writer *w, size_t len, const char *comment)
{
	size_t clen = comment ? strlen(comment) : 0;
	int rc;

	if (clen > PCAPNG_MAX_COMMENT)
		clen = PCAPNG_MAX_COMMENT;
	w->len += len;
	put_bytes(w, NULL, 0); /* pads */
	if (clen != 0) {
		put_option(w, OPT_COMMENT, comment, clen);
		put_option(w, OPT_END, NULL, 0);
	}
	rc = block_end(w);
	if (rc == 0)
		w->count++;
	return rc;
}

int pcapng_write_packet(struct pcapng_writer *w, uint64_t ts_ns,
			const void *packet, size_t len, const char *comment)
{
	if (w == NULL || (packet == NULL && len != 0))
		return PCAPNG_ERR_INVAL;
	if (len > 65535)
		return PCAPNG_ERR_TOO_BIG;
	epb_begin(w, ts_ns, len);
	if (len != 0)
		memcpy(w->buf + w->len, packet, len);
	return epb_finish(w, len, comment);
}

int pcapng_write_envelope(struct pcapng_writer *w, uint64_t ts_ns,
			  const char *source, const char *destination,
			  const void *envelope, size_t len, const char *comment)
{
	size_t n = IP_HDR + UDP_HDR + len;

	if (w == NULL || (envelope == NULL && len != 0))
		return PCAPNG_ERR_INVAL;
	if (len > PCAPNG_MAX_ENVELOPE)
		return PCAPNG_ERR_TOO_BIG;
	epb_begin(w, ts_ns, n);
	pcapng_udp_packet(w->buf + w->len, sizeof(w->buf) - w->len,
			  pcapng_service_port(source),
			  pcapng_service_port(destination), envelope, len);
	return epb_finish(w, n, comment);
}

uint64_t pcapng_count(const struct pcapng_writer *w)
{
	return w->count;
}

int pcapng_close(struct pcapng_writer *w)
{
	int rc = 0;

	if (w == NULL)
		return 0;
	if (w->f != NULL && fflush(w->f) != 0)
		rc = PCAPNG_ERR_IO;
	free(w);
	return rc;
}
