/* lib/jsonout: the one way Parapet tools print --json output, so every
 * command's JSON looks alike (2-space indent, sorted keys, newline). */
#ifndef PARAPET_JSONOUT_H
#define PARAPET_JSONOUT_H

#include <stdio.h>

#include <jansson.h>

#define JSONOUT_FLAGS (JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY)

/* Prints j and a newline to out, then flushes. 0, or -1 on failure. */
int jsonout_print(FILE *out, const json_t *j);

/* Prints j as one compact line (sorted keys), for streams such as
 * `trace -f --json` (one JSON value per line). 0 or -1. */
int jsonout_print_line(FILE *out, const json_t *j);

/* Writes j (2-space indent) to path by way of path + tmp_suffix, which
 * then takes path's place (util_replace_file): a reader sees the old
 * file or the new one, whole. Writers of the same file use different
 * suffixes. 0, or -1 on failure. */
int jsonout_write_file(const json_t *j, const char *path,
		       const char *tmp_suffix);

#endif
