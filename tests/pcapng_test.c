/* Unit tests for lib/pcapng: byte-exact block structure (lengths, padding,
 * repeated totals, options), IPv4/UDP headers and checksums, fd vs stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/pcapng.h"

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Checks one block at p (of at most left bytes): its total length is a
 * multiple of 4, fits, and is repeated at its end. Returns the length. */
static size_t check_block(const uint8_t *p, size_t left, uint32_t type)
{
	uint32_t total;

	assert_true(left >= 12);
	assert_int_equal(le32(p), type);
	total = le32(p + 4);
	assert_int_equal(total % 4, 0);
	assert_true(total >= 12 && total <= left);
	assert_int_equal(le32(p + total - 4), total);
	return total;
}

/* Finds option code in an option list [p, end); NULL if absent. */
static const uint8_t *find_option(const uint8_t *p, const uint8_t *end,
				  uint16_t code, uint16_t *len)
{
	while (p + 4 <= end) {
		uint16_t c = le16(p), l = le16(p + 2);

		if (c == 0)
			return NULL;
		if (c == code) {
			*len = l;
			return p + 4;
		}
		p += 4 + ((l + 3u) & ~3u);
	}
	return NULL;
}

static uint8_t envelope[37];

static void write_sample(struct pcapng_writer *w)
{
	size_t i;

	for (i = 0; i < sizeof(envelope); i++)
		envelope[i] = (uint8_t)(i * 7);
	assert_int_equal(pcapng_write_envelope(w, 0x123456789abcdef0ull,
					       "policy", "vmworker", envelope,
					       sizeof(envelope), "hello"),
			 0);
	assert_int_equal(
	    pcapng_write_envelope(w, 5, "stranger", "init", envelope, 4, NULL),
	    0);
	assert_int_equal(pcapng_count(w), 2);
}

static uint8_t *capture(size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	struct pcapng_writer *w = pcapng_open_stream(f, "test");

	assert_non_null(w);
	write_sample(w);
	assert_int_equal(pcapng_close(w), 0);
	fclose(f);
	return (uint8_t *)buf;
}

static void test_section_and_interface(void **state)
{
	size_t len, n;
	uint8_t *b = capture(&len);
	const uint8_t *opt;
	uint16_t olen;

	(void)state;
	n = check_block(b, len, 0x0a0d0d0a);
	assert_int_equal(le32(b + 8), 0x1a2b3c4d);
	assert_int_equal(le16(b + 12), 1);
	assert_int_equal(le16(b + 14), 0);
	assert_int_equal(le32(b + 16), 0xffffffff);
	assert_int_equal(le32(b + 20), 0xffffffff);
	opt = find_option(b + 24, b + n - 4, 4, &olen);
	assert_non_null(opt);
	assert_int_equal(olen, 4);
	assert_memory_equal(opt, "test", 4);
	assert_int_equal(n, 24 + 8 + 4 + 4);

	b += n;
	len -= n;
	n = check_block(b, len, 1);
	assert_int_equal(le16(b + 8), PCAPNG_LINKTYPE_RAW);
	assert_int_equal(le32(b + 12), 0);
	opt = find_option(b + 16, b + n - 4, 9, &olen);
	assert_non_null(opt);
	assert_int_equal(olen, 1);
	assert_int_equal(opt[0], 9);
	opt = find_option(b + 16, b + n - 4, 2, &olen);
	assert_non_null(opt);
	assert_memory_equal(opt, "parapet", olen);
	free(b - 40);
}

static void check_packet(const uint8_t *pkt, size_t plen, uint16_t sport,
			 uint16_t dport, size_t payload)
{
	assert_int_equal(plen, 28 + payload);
	assert_int_equal(pkt[0], 0x45);
	assert_int_equal(be16(pkt + 2), plen);
	assert_int_equal(pkt[9], 17);
	assert_memory_equal(pkt + 12, "\x7f\0\0\x01\x7f\0\0\x01", 8);
	/* A correct header checksums to zero. */
	assert_int_equal(pcapng_ip_checksum(pkt, 20), 0);
	assert_int_equal(be16(pkt + 20), sport);
	assert_int_equal(be16(pkt + 22), dport);
	assert_int_equal(be16(pkt + 24), 8 + payload);
	assert_int_equal(be16(pkt + 26), 0);
	assert_memory_equal(pkt + 28, envelope, payload);
}

static void test_enhanced_packets(void **state)
{
	size_t len, n, off;
	uint8_t *b = capture(&len);
	const uint8_t *p, *opt;
	uint16_t olen;

	(void)state;
	off = check_block(b, len, 0x0a0d0d0a);
	off += check_block(b + off, len - off, 1);
	p = b + off;
	n = check_block(p, len - off, 6);
	assert_int_equal(le32(p + 8), 0);
	assert_int_equal(le32(p + 12), 0x12345678);
	assert_int_equal(le32(p + 16), 0x9abcdef0);
	assert_int_equal(le32(p + 20), 28 + 37);
	assert_int_equal(le32(p + 24), 28 + 37);
	check_packet(p + 28, 65, 30001, 30003, 37);
	/* 65 bytes of packet padded to 68, then comment + end of options. */
	assert_memory_equal(p + 28 + 65, "\0\0\0", 3);
	opt = find_option(p + 28 + 68, p + n - 4, 1, &olen);
	assert_non_null(opt);
	assert_int_equal(olen, 5);
	assert_memory_equal(opt, "hello\0\0\0", 8);
	assert_int_equal(n, 28 + 68 + 12 + 4 + 4);
	off += n;

	p = b + off;
	n = check_block(p, len - off, 6);
	assert_int_equal(le32(p + 16), 5);
	check_packet(p + 28, 32, PCAPNG_PORT_OTHER, 30000, 4);
	assert_int_equal(n, 28 + 32 + 4); /* no options at all */
	off += n;
	assert_int_equal(off, len);
	free(b);
}

static void test_fd_writer_matches_stream(void **state)
{
	size_t len;
	uint8_t *want = capture(&len), *got = malloc(len + 1);
	struct pcapng_writer *w;
	int fds[2];
	ssize_t n;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	w = pcapng_open_fd(fds[1], "test");
	assert_non_null(w);
	write_sample(w);
	assert_int_equal(pcapng_close(w), 0);
	close(fds[1]);
	n = read(fds[0], got, len + 1);
	assert_int_equal(n, len);
	assert_memory_equal(got, want, len);
	close(fds[0]);
	free(got);
	free(want);
}

static void test_limits_and_ports(void **state)
{
	static uint8_t big[PCAPNG_MAX_ENVELOPE + 1];
	char *buf = NULL, comment[PCAPNG_MAX_COMMENT + 100];
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	struct pcapng_writer *w = pcapng_open_stream(f, NULL);
	const uint8_t *p;

	(void)state;
	assert_int_equal(pcapng_service_port("init"), 30000);
	assert_int_equal(pcapng_service_port("host"), 30005);
	assert_int_equal(pcapng_service_port("diag"), 30006);
	assert_int_equal(pcapng_service_port(NULL), PCAPNG_PORT_OTHER);
	assert_int_equal(
	    pcapng_write_envelope(w, 0, "a", "b", big, sizeof(big), NULL),
	    PCAPNG_ERR_TOO_BIG);
	assert_int_equal(
	    pcapng_write_envelope(w, 0, "a", "b", big, sizeof(big) - 1, NULL),
	    0);
	memset(comment, 'c', sizeof(comment) - 1);
	comment[sizeof(comment) - 1] = 0;
	assert_int_equal(pcapng_write_envelope(w, 0, "a", "b", big, 0, comment),
			 0);
	assert_int_equal(pcapng_count(w), 2);
	assert_int_equal(pcapng_close(w), 0);
	fclose(f);
	/* SHB without options, IDB, the 65535-byte packet, then the
	 * comment cut at PCAPNG_MAX_COMMENT. */
	p = (const uint8_t *)buf;
	p += check_block(p, len, 0x0a0d0d0a);
	p += check_block(p, len - (size_t)(p - (const uint8_t *)buf), 1);
	assert_int_equal(le32(p + 20), 65535);
	p += check_block(p, len - (size_t)(p - (const uint8_t *)buf), 6);
	assert_int_equal(le16(p + 28 + 28 + 2), PCAPNG_MAX_COMMENT);
	free(buf);
	assert_int_equal(pcapng_udp_packet(big, 27, 1, 2, NULL, 0), 0);
	assert_null(pcapng_open_fd(-1, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_section_and_interface),
		cmocka_unit_test(test_enhanced_packets),
		cmocka_unit_test(test_fd_writer_matches_stream),
		cmocka_unit_test(test_limits_and_ports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
