/* lib/jsonout: consistent --json printing for Parapet's CLIs. */
#include "lib/jsonout.h"

static int print(FILE *out, const json_t *j, size_t flags)
{
	if (j == NULL || json_dumpf(j, out, flags) != 0)
		return -1;
	if (fputc('\n', out) == EOF || fflush(out) != 0)
		return -1;
	return 0;
}

int jsonout_print(FILE *out, const json_t *j)
{
	return print(out, j, JSONOUT_FLAGS);
}

int jsonout_print_line(FILE *out, const json_t *j)
{
	return print(out, j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}
