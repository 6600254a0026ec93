/* The service manifest: which services parapet-init starts, in order. The
 * shim reads it from a text file (`parapet run --manifest`, test only) or
 * builds the default, and stores it in the boot device tree under
 * /parapet/services, where init reads it.
 *
 * Text format, one service per line ('#' starts a comment line):
 *   NAME BINARY [fds=LIST] [stop-timeout=MS] [-- ARG...]
 * NAME: 1-31 of [a-z0-9_-], unique. BINARY: a bare file name (looked up in
 * the libexec directory) or an absolute path. fds: comma-separated names
 * of the partition's fds the service gets over its supervisor channel
 * (guest-ram, sidecar, boot-dtb, boot-image). stop-timeout: ms between SIGTERM
 * and SIGKILL (default 5000). ARGs: whitespace-separated, no quoting.
 *
 * Device tree: /parapet/services/service@I { service (its name); binary; args
 * (stringlist, absent when none); fds (stringlist); stop-timeout-ms }. */
#ifndef PARAPET_MANIFEST_H
#define PARAPET_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define MANIFEST_MAX_SERVICES	 16
#define MANIFEST_NAME_MAX	 32
#define MANIFEST_PATH_MAX	 256
#define MANIFEST_MAX_ARGS	 16
#define MANIFEST_ARG_MAX	 256
#define MANIFEST_TEXT_MAX	 (64u * 1024)
#define MANIFEST_DEFAULT_STOP_MS 5000u

/* The partition fds a service may receive (bit numbers). */
enum manifest_fd {
	MANIFEST_FD_GUEST_RAM = 0,
	MANIFEST_FD_SIDECAR,
	MANIFEST_FD_BOOT_DTB,
	MANIFEST_FD_BOOT_IMAGE,
	MANIFEST_FD_COUNT
};

enum manifest_err {
	MANIFEST_OK = 0,
	MANIFEST_ERR_TOO_LONG,	/* text over MANIFEST_TEXT_MAX */
	MANIFEST_ERR_CHAR,	/* byte outside printable ASCII/tab/newline */
	MANIFEST_ERR_NAME,	/* bad service name */
	MANIFEST_ERR_DUPLICATE, /* name given twice */
	MANIFEST_ERR_BINARY,	/* missing, too long, or relative with '/' */
	MANIFEST_ERR_OPTION,	/* unknown option or bad value */
	MANIFEST_ERR_ARGS,	/* too many or too long arguments */
	MANIFEST_ERR_TOO_MANY,	/* more than MANIFEST_MAX_SERVICES */
	MANIFEST_ERR_EMPTY,	/* no service at all */
	MANIFEST_ERR_FDT,	/* device tree node malformed */
	MANIFEST_ERR_COUNT
};

struct manifest_service {
	char name[MANIFEST_NAME_MAX];
	char binary[MANIFEST_PATH_MAX];
	unsigned n_args;
	char args[MANIFEST_MAX_ARGS][MANIFEST_ARG_MAX];
	uint32_t fds; /* bits of enum manifest_fd */
	uint32_t stop_timeout_ms;
};

struct manifest {
	unsigned n;
	struct manifest_service svc[MANIFEST_MAX_SERVICES];
};

const char *manifest_strerror(int err);
const char *manifest_fd_name(enum manifest_fd fd);

/* Parses text (len bytes, stops at NUL); *line is the 1-based line of an
 * error. */
int manifest_parse(const char *text, size_t len, struct manifest *m,
		   unsigned *line);
/* Appends one service (checked as the parser would); for the default
 * manifest. */
int manifest_add(struct manifest *m, const char *name, const char *binary,
		 uint32_t fds);

/* Writes m as a "services" subnode of parent in a tree open for writing
 * (fdt_add_subnode and fdt_setprop). 0 or a negative libfdt error. */
int manifest_to_fdt(const struct manifest *m, void *fdt, int parent);
/* Reads the services node (an offset in fdt); checked as the text. */
int manifest_from_fdt(const void *fdt, int node, struct manifest *m);

#endif
