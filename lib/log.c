/* Logging for every Parapet process (after OpenBSD's log.c). */
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *log_name = "parapet";
static enum log_level log_level = LOG_LEVEL_INFO;

int log_level_parse(const char *name, enum log_level *level)
{
	static const char *const names[] = { "warn", "info", "debug" };

	for (int i = 0; name != NULL && i < 3; i++)
		if (strcmp(name, names[i]) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	return -1;
}

void log_init(const char *procname)
{
	if (procname != NULL)
		log_name = procname;
	log_level_parse(getenv("PARAPET_LOG"), &log_level);
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

const char *log_procname(void)
{
	return log_name;
}

/* One fprintf per line so lines from several threads do not interleave. */
static void log_emit(const char *level, int errnum, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errnum != 0)
		fprintf(stderr, "%s: %s%s: %s\n", log_name, level, msg,
			strerror(errnum));
	else
		fprintf(stderr, "%s: %s%s\n", log_name, level, msg);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_level < LOG_LEVEL_INFO)
		return;
	va_start(ap, fmt);
	log_emit("", 0, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_level < LOG_LEVEL_DEBUG)
		return;
	va_start(ap, fmt);
	log_emit("debug: ", 0, fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit("warning: ", saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("warning: ", 0, fmt, ap);
	va_end(ap);
}

void log_err(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit("error: ", saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void log_errx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("error: ", 0, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit("fatal: ", saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("fatal: ", 0, fmt, ap);
	va_end(ap);
	exit(1);
}
