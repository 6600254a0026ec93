/* The measured paravisor configuration: text stored by `parapet igvm
 * build` in the VTL2-protectable pages at GUEST_VTL2_GPA, read by the shim.
 *
 * Format (ASCII, every line ends in '\n', the text ends at the first NUL
 * byte or the end of the buffer):
 *   parapet-config 1
 *   paravisor_cmdline=TEXT      measured paravisor command line
 *   allow_host_cmdline=0|1      may `parapet run --cmdline` append to it
 *   guest_cmdline=TEXT          default guest command line
 *   vp_count=N                  default VP count (1..PVCONFIG_MAX_VPS)
 *   mem_size=BYTES              default guest memory size (decimal)
 *   KEY=VALUE                   any other key: a --config pair
 * Keys are 1-63 of [a-z0-9_.-]; values printable ASCII (0x20-0x7e), at
 * most PVCONFIG_VALUE_MAX - 1 bytes. Each key at most once. The built-in
 * keys are optional (defaults: empty, 0, empty, 1, GUEST_DEFAULT_MEM).
 * The parser treats the bytes as hostile: bounded, never allocates. */
#ifndef PARAPET_PVCONFIG_H
#define PARAPET_PVCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PVCONFIG_MAGIC_LINE "parapet-config 1"
#define PVCONFIG_VALUE_MAX  4096
#define PVCONFIG_KEY_MAX    64
#define PVCONFIG_MAX_PAIRS  64
#define PVCONFIG_MAX_VPS    1024

enum pvconfig_err {
	PVCONFIG_OK = 0,
	PVCONFIG_ERR_MAGIC,	/* first line is not the magic line */
	PVCONFIG_ERR_LINE,	/* line without '=' or without '\n' */
	PVCONFIG_ERR_KEY,	/* empty, too long or bad characters */
	PVCONFIG_ERR_VALUE,	/* too long or non-printable bytes */
	PVCONFIG_ERR_DUPLICATE, /* key given twice */
	PVCONFIG_ERR_NUMBER,	/* bad number or flag, or out of range */
	PVCONFIG_ERR_TOO_MANY,	/* more than PVCONFIG_MAX_PAIRS pairs */
	PVCONFIG_ERR_SPACE,	/* output buffer too small (writer) */
	PVCONFIG_ERR_COUNT
};

/* A --config pair; when parsed, key and value point into the input
 * buffer and are not NUL-terminated. */
struct pvconfig_pair {
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
};

struct pvconfig {
	char paravisor_cmdline[PVCONFIG_VALUE_MAX];
	bool allow_host_cmdline;
	char guest_cmdline[PVCONFIG_VALUE_MAX];
	uint32_t vp_count;
	uint64_t mem_size;
	size_t n_pairs;
	struct pvconfig_pair pairs[PVCONFIG_MAX_PAIRS];
};

const char *pvconfig_strerror(int err);
/* Fills c with the defaults. */
void pvconfig_init(struct pvconfig *c);
/* Parses len bytes; on error *line (if non-NULL) is the 1-based line. */
int pvconfig_parse(const void *buf, size_t len, struct pvconfig *c,
		   unsigned *line);
/* Writes the text of c to out (at most cap bytes, no NUL); *len its
 * length. Checks every key and value as the parser would. */
int pvconfig_write(const struct pvconfig *c, char *out, size_t cap,
		   size_t *len);
/* True when key is one of the built-in keys. */
bool pvconfig_builtin_key(const char *key, size_t len);
/* Checks a key or value as the parser would (PVCONFIG_OK or an error). */
int pvconfig_check_key(const char *key, size_t len);
int pvconfig_check_value(const char *value, size_t len);

#endif
