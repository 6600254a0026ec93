/* Linux cpulist parsing and formatting (hostile input: bounded, no
 * allocation). */
#include "lib/cpulist.h"

#include <stdio.h>
#include <string.h>

static const char *const cpulist_errors[] = {
	"success",
	"empty list or element",
	"not a CPU number or range",
	"CPU number out of range",
	"range end below its start",
};

const char *cpulist_strerror(int err)
{
	if (err < 0 || err >= CPULIST_ERR_COUNT)
		return "unknown error";
	return cpulist_errors[err];
}

void cpulist_clear(struct cpulist *l)
{
	memset(l, 0, sizeof(*l));
}

void cpulist_set(struct cpulist *l, unsigned cpu)
{
	if (cpu < CPULIST_MAX_CPUS)
		l->bits[cpu / 64] |= 1ull << (cpu % 64);
}

bool cpulist_test(const struct cpulist *l, unsigned cpu)
{
	return cpu < CPULIST_MAX_CPUS && (l->bits[cpu / 64] >> (cpu % 64)) & 1;
}

unsigned cpulist_count(const struct cpulist *l)
{
	unsigned n = 0;

	for (size_t i = 0; i < CPULIST_MAX_CPUS / 64; i++)
		n += (unsigned)__builtin_popcountll(l->bits[i]);
	return n;
}

/* A decimal number below max; *p advances past it. */
static int cpulist_number(const char **p, unsigned max, unsigned *out)
{
	unsigned long v = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9')
		return CPULIST_ERR_SYNTAX;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (unsigned long)(*s - '0');
		if (v >= max)
			return CPULIST_ERR_RANGE;
		s++;
	}
	*p = s;
	*out = (unsigned)v;
	return CPULIST_OK;
}

/* One element: N, N-M or N-M:S. */
static int cpulist_element(const char **p, unsigned max, struct cpulist *out)
{
	unsigned lo, hi, stride = 1;
	int rc = cpulist_number(p, max, &lo);

	if (rc != CPULIST_OK)
		return rc;
	hi = lo;
	if (**p == '-') {
		(*p)++;
		if ((rc = cpulist_number(p, max, &hi)) != CPULIST_OK)
			return rc;
		if (**p == ':') {
			(*p)++;
			rc = cpulist_number(p, CPULIST_MAX_CPUS + 1, &stride);
			if (rc != CPULIST_OK || stride == 0)
				return CPULIST_ERR_SYNTAX;
		}
	}
	if (hi < lo)
		return CPULIST_ERR_ORDER;
	for (unsigned c = lo; c <= hi; c += stride)
		cpulist_set(out, c);
	return CPULIST_OK;
}

int cpulist_parse(const char *s, unsigned max_cpus, struct cpulist *out)
{
	int rc;

	cpulist_clear(out);
	if (max_cpus > CPULIST_MAX_CPUS)
		max_cpus = CPULIST_MAX_CPUS;
	if (s == NULL || *s == '\0' || *s == '\n')
		return CPULIST_ERR_EMPTY;
	for (;;) {
		if (*s == ',' || *s == '\0')
			return CPULIST_ERR_EMPTY;
		if ((rc = cpulist_element(&s, max_cpus, out)) != CPULIST_OK)
			return rc;
		if (*s == '\0' || (*s == '\n' && s[1] == '\0'))
			return CPULIST_OK;
		if (*s != ',')
			return CPULIST_ERR_SYNTAX;
		s++;
	}
}

int cpulist_format(const struct cpulist *l, char *out, size_t len)
{
	size_t used = 0;
	unsigned c = 0;
	int n;

	if (len > 0)
		out[0] = '\0';
	while (c < CPULIST_MAX_CPUS) {
		unsigned end = c;
		size_t room;
		char *dst;

		if (!cpulist_test(l, c)) {
			c++;
			continue;
		}
		while (end + 1 < CPULIST_MAX_CPUS && cpulist_test(l, end + 1))
			end++;
		/* No pointer past the buffer (nor NULL + 0 when len is 0). */
		dst = used < len ? out + used : NULL;
		room = used < len ? len - used : 0;
		n = end == c ? snprintf(dst, room, "%s%u", used ? "," : "", c)
			     : snprintf(dst, room, "%s%u-%u", used ? "," : "",
					c, end);
		used += (size_t)n;
		c = end + 1;
	}
	return (int)used;
}
