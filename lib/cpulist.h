/* Linux cpulists ("0-3,8,10-11"), as in /sys/devices/system/cpu/online and
 * `parapet run --sidecar-cpus`: parsed into a bitmap of CPU numbers. */
#ifndef PARAPET_CPULIST_H
#define PARAPET_CPULIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPULIST_MAX_CPUS 1024

struct cpulist {
	uint64_t bits[CPULIST_MAX_CPUS / 64];
};

enum cpulist_err {
	CPULIST_OK = 0,
	CPULIST_ERR_EMPTY,  /* empty string or empty element ("1,,2") */
	CPULIST_ERR_SYNTAX, /* not a number, range or stride */
	CPULIST_ERR_RANGE,  /* a CPU number at or over the limit */
	CPULIST_ERR_ORDER,  /* a range whose end is below its start */
	CPULIST_ERR_COUNT
};

const char *cpulist_strerror(int err);

/* Parses s into out; CPU numbers must be below max_cpus (at most
 * CPULIST_MAX_CPUS). Accepts "N", "N-M" and "N-M:STRIDE" elements
 * separated by commas (the kernel's bitmap_parselist grammar, without
 * "all" and "N" shorthands). Returns CPULIST_OK or an error. */
int cpulist_parse(const char *s, unsigned max_cpus, struct cpulist *out);

void cpulist_clear(struct cpulist *l);
void cpulist_set(struct cpulist *l, unsigned cpu);
bool cpulist_test(const struct cpulist *l, unsigned cpu);
unsigned cpulist_count(const struct cpulist *l);

/* Formats l in its shortest form ("0-2,5"); "" when empty. Returns the
 * length it needed (as snprintf). */
int cpulist_format(const struct cpulist *l, char *out, size_t len);

#endif
