/* Logging for every Parapet process: one line per message on stderr,
 * prefixed with the process name; level from PARAPET_LOG. */
#ifndef PARAPET_LOG_H
#define PARAPET_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_WARN = 0,
	LOG_LEVEL_INFO = 1,
	LOG_LEVEL_DEBUG = 2,
};

/* Sets the prefix (e.g. "vmworker") and reads PARAPET_LOG=debug|info|warn. */
void log_init(const char *procname);
void log_set_level(enum log_level level);
/* "warn", "info" or "debug" -> *level; -1 (level untouched) otherwise. */
int log_level_parse(const char *name, enum log_level *level);
enum log_level log_get_level(void);
const char *log_procname(void);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends ": strerror(errno)"; log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_err/log_errx: a failure the process gives up on ("error: "),
 * where the caller still cleans up and picks the exit status. */
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* fatal/fatalx log (as warn/warnx) and exit(1). */
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
