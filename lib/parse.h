/* Parsing numbers from command lines and configuration, overflow-safe:
 * sizes with K/M/G suffixes, bounded unsigned integers. */
#ifndef PARAPET_PARSE_H
#define PARAPET_PARSE_H

#include <stdint.h>

/* "64M", "1G", "4096", "2k": bytes. Returns 0, or -1 when s is not a
 * size or overflows. */
int parse_size(const char *s, uint64_t *out);

/* A decimal unsigned integer in [min, max]. Returns 0 or -1. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
