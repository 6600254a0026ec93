/* lib/pcapng: a pcapng writer for `parapet-diag trace -w` (DESIGN.md §9):
 * each Parapet envelope becomes one packet that tshark decodes with the
 * project's .proto files.
 *
 * File layout: one Section Header Block (little endian, shb_userappl),
 * one Interface Description Block (LINKTYPE_RAW = 101, snaplen 0,
 * if_name "parapet", if_tsresol 9: nanosecond timestamps), then one
 * Enhanced Packet Block per envelope, with an opt_comment when given.
 * Each packet is a synthetic IPv4 (127.0.0.1 -> 127.0.0.1, TTL 64,
 * header checksum set) + UDP (checksum 0: none, allowed over IPv4)
 * datagram whose payload is the packed parapet.Envelope.
 *
 * UDP ports name the services (pcapng_service_port): source port = the
 * sending service, destination port = the receiving one:
 *   init 30000, policy 30001, hostcomm 30002, vmworker 30003,
 *   diagd 30004, host 30005, diag (the CLI) 30006, anything else 30009.
 * So a Wireshark filter `udp.dstport == 30003` shows what vmworker got.
 *
 * Decoding with tshark 4.0 (protobuf search path = the repository's
 * proto/ directory; one UAT entry with the whole port range is enough,
 * the protobuf dissector registers every port of the range):
 *
 *   tshark -r FILE.pcapng -V \
 *     -o 'uat:protobuf_search_paths:"PROTO_DIR","TRUE"' \
 *     -o 'uat:protobuf_udp_message_types:"30000-30009","parapet.Envelope"'
 *
 * (PCAPNG_TSHARK_FMT below prints exactly that for given paths.) The
 * envelope's fields are decoded by name; its body is a `bytes` field, so
 * tshark shows the body as hex.
 *
 * Typed bodies: pcapng_write_lua writes a small Lua dissector holding the
 * method -> message type table of a pbjson registry; with it tshark shows
 * the envelope and then its body decoded as the method's input or output
 * type (or parapet.Error, or the event's type):
 *
 *   tshark -r FILE.pcapng -V -X lua_script:parapet.lua \
 *     -o 'uat:protobuf_search_paths:"PROTO_DIR","TRUE"' \
 *     -o protobuf.pbf_as_hf:TRUE
 *
 * (the Lua script claims the UDP ports itself, so no message-type UAT;
 * pbf_as_hf is optional: it prints `method: Ping` instead of
 * `Field(5): method = Ping (string)`. tshark 4.0 registers the pbf.*
 * fields only once it has parsed the .proto files, too late for -Y or
 * -e on the command line.) */
#ifndef PARAPET_PCAPNG_H
#define PARAPET_PCAPNG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum pcapng_err {
	PCAPNG_OK = 0,
	PCAPNG_ERR_INVAL = -1,	 /* bad argument */
	PCAPNG_ERR_NOMEM = -2,	 /* out of memory */
	PCAPNG_ERR_IO = -3,	 /* write failed (errno kept) */
	PCAPNG_ERR_TOO_BIG = -4, /* envelope over PCAPNG_MAX_ENVELOPE */
	PCAPNG_ERR_COUNT = 5,
};
const char *pcapng_strerror(int err);

#define PCAPNG_LINKTYPE_RAW 101
#define PCAPNG_PORT_BASE    30000
#define PCAPNG_PORT_OTHER   30009
#define PCAPNG_PORT_RANGE   "30000-30009"
/* An IPv4 datagram holds at most 65535 bytes: 20 IP + 8 UDP + payload. */
#define PCAPNG_MAX_ENVELOPE (65535 - 28)
#define PCAPNG_MAX_COMMENT  1024

/* printf format of the tshark command line that decodes a capture:
 * arguments are the capture path and the proto/ directory. */
#define PCAPNG_TSHARK_FMT                                                      \
	"tshark -r '%s' -V -o 'uat:protobuf_search_paths:\"%s\",\"TRUE\"' "    \
	"-o 'uat:protobuf_udp_message_types:\"" PCAPNG_PORT_RANGE              \
	"\",\"parapet.Envelope\"'"

/* The UDP port of a service name (table above). */
uint16_t pcapng_service_port(const char *service);

/* Builds the IPv4/UDP packet around payload into buf (cap bytes).
 * Returns the packet length, or 0 if it does not fit or is too big. */
size_t pcapng_udp_packet(uint8_t *buf, size_t cap, uint16_t sport,
			 uint16_t dport, const void *payload, size_t len);

/* The Internet checksum (RFC 1071) of len bytes. */
uint16_t pcapng_ip_checksum(const void *data, size_t len);

struct pcapng_writer;

/* Starts a capture on a stdio stream or on a file descriptor (written
 * with write(2), for pipes and live `trace -w -`): writes the section and
 * interface blocks at once. app names the writer (shb_userappl), may be
 * NULL. Neither the stream nor the fd is closed by pcapng_close. NULL on
 * failure, errno set. */
struct pcapng_writer *pcapng_open_stream(FILE *f, const char *app);
struct pcapng_writer *pcapng_open_fd(int fd, const char *app);

/* Appends one envelope sent by source to destination at ts_ns
 * (nanoseconds; CLOCK_REALTIME makes tshark show wall-clock times) with
 * an optional comment (NULL: none; longer than PCAPNG_MAX_COMMENT is cut).
 * The block is written and flushed whole. 0 or a pcapng_err. */
int pcapng_write_envelope(struct pcapng_writer *w, uint64_t ts_ns,
			  const char *source, const char *destination,
			  const void *envelope, size_t len,
			  const char *comment);

/* Appends a raw IPv4 packet (what pcapng_udp_packet builds). */
int pcapng_write_packet(struct pcapng_writer *w, uint64_t ts_ns,
			const void *packet, size_t len, const char *comment);

/* Writes the tshark Lua dissector for typed bodies (above) for the
 * services and events of reg. 0 or PCAPNG_ERR_IO. */
struct pbjson_registry;
int pcapng_write_lua(FILE *out, const struct pbjson_registry *reg);

#define PCAPNG_TSHARK_LUA_FMT                                                  \
	"tshark -r '%s' -V -X 'lua_script:%s' "                                \
	"-o 'uat:protobuf_search_paths:\"%s\",\"TRUE\"' "                      \
	"-o protobuf.pbf_as_hf:TRUE"

/* Packets written so far. */
uint64_t pcapng_count(const struct pcapng_writer *w);

/* Frees the writer (flushes a stream). 0, or PCAPNG_ERR_IO if a flush
 * failed. */
int pcapng_close(struct pcapng_writer *w);

#endif
