/* lib/jsonout: consistent --json printing for Parapet's CLIs. */
#include "lib/jsonout.h"

#include <limits.h>

#include "lib/util.h"

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

int jsonout_write_file(const json_t *j, const char *path,
		       const char *tmp_suffix)
{
	char tmp[PATH_MAX];

	if (j == NULL ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s%s", path, tmp_suffix) >=
		sizeof(tmp) ||
	    json_dump_file(j, tmp, JSON_INDENT(2)) != 0)
		return -1;
	return util_replace_file(tmp, path);
}
