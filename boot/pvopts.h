/* The paravisor command line (DESIGN.md §3): Parapet's own options,
 * whitespace-separated KEY=VALUE words:
 *   sidecar=off|on|log        sidecar CPUs (default on)
 *   on-crash=poweroff|reboot  what a guest crash does (default poweroff)
 *   log=debug|info|warn       log level of every Parapet process
 * A later word overrides an earlier one (the host's appended part comes
 * after the measured part). Hostile input: bounded, never allocates. */
#ifndef PARAPET_PVOPTS_H
#define PARAPET_PVOPTS_H

#include <stdbool.h>
#include <stddef.h>

#define PVOPTS_MAX_LEN	4096 /* longest command line accepted */
#define PVOPTS_WORD_MAX 64   /* longest word reported in an error */

enum pvopts_sidecar {
	PVOPTS_SIDECAR_ON = 0,
	PVOPTS_SIDECAR_OFF,
	PVOPTS_SIDECAR_LOG
};
enum pvopts_crash { PVOPTS_CRASH_POWEROFF = 0, PVOPTS_CRASH_REBOOT };
enum pvopts_log { PVOPTS_LOG_WARN = 0, PVOPTS_LOG_INFO, PVOPTS_LOG_DEBUG };

enum pvopts_err {
	PVOPTS_OK = 0,
	PVOPTS_ERR_TOO_LONG, /* over PVOPTS_MAX_LEN */
	PVOPTS_ERR_CHAR,     /* a byte outside printable ASCII and tab */
	PVOPTS_ERR_NO_VALUE, /* a word without '=' or with an empty value */
	PVOPTS_ERR_UNKNOWN,  /* unknown option name */
	PVOPTS_ERR_VALUE,    /* value not one of the option's choices */
	PVOPTS_ERR_COUNT
};

struct pvopts {
	enum pvopts_sidecar sidecar;
	enum pvopts_crash on_crash;
	enum pvopts_log log;
	bool log_set; /* log= given (else the process keeps its default) */
};

/* Where parsing stopped: byte offset of the word and the word itself
 * (truncated to PVOPTS_WORD_MAX - 1 bytes, non-printable bytes as '?'). */
struct pvopts_error {
	enum pvopts_err code;
	size_t offset;
	char word[PVOPTS_WORD_MAX];
};

const char *pvopts_strerror(int err);
void pvopts_init(struct pvopts *o);
/* Applies the words of s[0..len) (stops at a NUL byte) on top of o.
 * Returns PVOPTS_OK or an error (o may be partly updated), err filled. */
int pvopts_parse(const char *s, size_t len, struct pvopts *o,
		 struct pvopts_error *err);
/* "option 'sidecar=maybe' (offset 4): value not one of: off, on, log" */
void pvopts_error_format(const struct pvopts_error *err, char *out, size_t len);

const char *pvopts_sidecar_name(enum pvopts_sidecar v);
const char *pvopts_crash_name(enum pvopts_crash v);
const char *pvopts_log_name(enum pvopts_log v);

#endif
