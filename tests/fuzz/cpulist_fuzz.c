/* libFuzzer harness for Linux cpulist parsing (lib/cpulist.c): the first
 * two bytes choose the CPU limit, the rest is the list (a flag value from
 * the host). What parses stays under the limit and formats back to a list
 * that parses to the same set. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cpulist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Longest format: every other CPU, "0,2,4,...": under 6 bytes each. */
static char text[CPULIST_MAX_CPUS * 6];

static void check_format(const struct cpulist *l, unsigned max)
{
	struct cpulist again;
	char tiny[4];
	int n = cpulist_format(l, text, sizeof(text));

	if (n < 0 || (size_t)n >= sizeof(text) || strlen(text) != (size_t)n)
		__builtin_trap();
	/* A short buffer gets a NUL-terminated prefix and the same need. */
	if (cpulist_format(l, tiny, sizeof(tiny)) != n ||
	    strnlen(tiny, sizeof(tiny)) == sizeof(tiny) ||
	    strncmp(tiny, text, strlen(tiny)) != 0)
		__builtin_trap();
	if (cpulist_format(l, NULL, 0) != n)
		__builtin_trap();
	if (n == 0)
		return;
	if (cpulist_parse(text, max, &again) != CPULIST_OK ||
	    memcmp(&again, l, sizeof(again)) != 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cpulist l;
	unsigned max;
	char *s;
	int rc;

	if (size < 2)
		return 0;
	/* Limits up to a little over CPULIST_MAX_CPUS (clamped inside). */
	max = (unsigned)(data[0] | data[1] << 8) % (CPULIST_MAX_CPUS + 64);
	s = malloc(size - 1);
	if (s == NULL)
		return 0;
	memcpy(s, data + 2, size - 2);
	s[size - 2] = '\0';
	rc = cpulist_parse(s, max, &l);
	free(s);
	if (cpulist_strerror(rc) == NULL)
		__builtin_trap();
	if (rc != CPULIST_OK)
		return 0;
	if (max > CPULIST_MAX_CPUS)
		max = CPULIST_MAX_CPUS;
	if (cpulist_count(&l) == 0)
		__builtin_trap();
	for (unsigned c = max; c < CPULIST_MAX_CPUS; c++)
		if (cpulist_test(&l, c))
			__builtin_trap();
	check_format(&l, max);
	return 0;
}
