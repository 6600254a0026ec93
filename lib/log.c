/* Logging for every Parapet process (after OpenBSD's log.c). */
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *log_name = "parapet";
static enum log_level log_level = LOG_LEVEL_INFO;

void log_init(const char *procname)
{
	const char *env = getenv("PARAPET_LOG");

	if (procname != NULL)
		log_name = procname;
	if (env == NULL)
		return;
	if (strcmp(env, "debug") == 0)
		log_level = LOG_LEVEL_DEBUG;
	else if (strcmp(env, "info") == 0)
		log_level = LOG_LEVEL_INFO;
	else if (strcmp(env, "warn") == 0)
		log_level = LOG_LEVEL_WARN;
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
