/* libFuzzer harness for the paravisor command line parser (boot/pvopts.c):
 * any bytes from the image or the host; what parses must print back and
 * parse to the same options, and every error must format safely. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "boot/pvopts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(const struct pvopts_error *err, int rc)
{
	char msg[256], tiny[8];
	size_t n = strnlen(err->word, sizeof(err->word));

	if ((int)err->code != rc || n == sizeof(err->word))
		__builtin_trap();
	for (size_t i = 0; i < n; i++)
		if (err->word[i] < 0x20 || err->word[i] >= 0x7f)
			__builtin_trap();
	pvopts_error_format(err, msg, sizeof(msg));
	pvopts_error_format(err, tiny, sizeof(tiny));
	if (strnlen(tiny, sizeof(tiny)) == sizeof(tiny))
		__builtin_trap();
}

/* The options as a command line, parsed again from defaults. */
static void check_round_trip(const struct pvopts *o)
{
	struct pvopts again;
	char line[128];
	int n;

	n = snprintf(line, sizeof(line), "sidecar=%s on-crash=%s%s%s",
		     pvopts_sidecar_name(o->sidecar),
		     pvopts_crash_name(o->on_crash), o->log_set ? " log=" : "",
		     o->log_set ? pvopts_log_name(o->log) : "");
	pvopts_init(&again);
	if (pvopts_parse(line, (size_t)n, &again, NULL) != PVOPTS_OK ||
	    memcmp(&again, o, sizeof(again)) != 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct pvopts o, bare;
	struct pvopts_error err;
	int rc;

	pvopts_init(&o);
	pvopts_init(&bare);
	rc = pvopts_parse(s, size, &o, &err);
	/* The error report is optional and changes nothing. */
	if (pvopts_parse(s, size, &bare, NULL) != rc ||
	    memcmp(&o, &bare, sizeof(o)) != 0)
		__builtin_trap();
	if (rc != PVOPTS_OK) {
		check_error(&err, rc);
		return 0;
	}
	if ((unsigned)o.sidecar > PVOPTS_SIDECAR_LOG ||
	    (unsigned)o.on_crash > PVOPTS_CRASH_REBOOT ||
	    (unsigned)o.log > PVOPTS_LOG_DEBUG)
		__builtin_trap();
	check_round_trip(&o);
	return 0;
}
