/* Command-line parsing: space-separated "key=value" words; a bare "key" has
 * the empty value. The first occurrence of a key wins, except for
 * cmdline_next(), which walks every occurrence of a repeated key. */
#include "guest.h"

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Finds key's value in the command line from *pos on; returns its start
 * or NULL, and leaves *pos after the word found. */
static const char *cmdline_scan(const char **pos, const char *key, size_t *vlen)
{
	const char *p = *pos;
	size_t klen = strlen(key);
	const char *w;

	while (*p) {
		while (is_space(*p))
			p++;
		w = p;
		while (*p && !is_space(*p))
			p++;
		if ((size_t)(p - w) < klen || strncmp(w, key, klen) != 0)
			continue;
		if (w + klen == p) {
			*pos = p;
			*vlen = 0;
			return p;
		}
		if (w[klen] == '=') {
			*pos = p;
			*vlen = p - (w + klen + 1);
			return w + klen + 1;
		}
	}
	*pos = p;
	return NULL;
}

static const char *cmdline_find(const char *key, size_t *vlen)
{
	const char *pos = guest_cmdline();

	return cmdline_scan(&pos, key, vlen);
}

static void copy_value(const char *v, size_t vlen, char *val, size_t size)
{
	if (size == 0)
		return;
	if (vlen > size - 1)
		vlen = size - 1;
	memcpy(val, v, vlen);
	val[vlen] = '\0';
}

int cmdline_get(const char *key, char *val, size_t size)
{
	size_t vlen;
	const char *v = cmdline_find(key, &vlen);

	if (!v)
		return 0;
	copy_value(v, vlen, val, size);
	return 1;
}

int cmdline_next(const char *key, const char **pos, char *val, size_t size)
{
	size_t vlen;
	const char *v;

	if (!*pos)
		*pos = guest_cmdline();
	v = cmdline_scan(pos, key, &vlen);
	if (!v)
		return 0;
	copy_value(v, vlen, val, size);
	return 1;
}

int cmdline_has(const char *key)
{
	size_t vlen;

	return cmdline_find(key, &vlen) != NULL;
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

const char *parse_u64(const char *s, uint64_t *out)
{
	unsigned int base = 10;
	uint64_t v = 0;
	const char *start;
	int d;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (start = s; (d = digit_value(*s)) < (int)base; s++) {
		if (v > (UINT64_MAX - d) / base)
			return NULL;
		v = v * base + d;
	}
	if (s == start)
		return NULL;
	*out = v;
	return s;
}

uint64_t cmdline_u64(const char *key, uint64_t def)
{
	char buf[32];
	const char *end;
	uint64_t v;

	if (!cmdline_get(key, buf, sizeof(buf)))
		return def;
	end = parse_u64(buf, &v);
	if (!end || *end)
		return def;
	return v;
}
