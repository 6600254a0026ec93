/* Command-line parsing: space-separated "key=value" words; a bare "key" has
 * the empty value. The first occurrence of a key wins. */
#include "guest.h"

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Finds key's value in the command line; returns its start or NULL. */
static const char *cmdline_find(const char *key, size_t *vlen)
{
	const char *p = guest_cmdline();
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
			*vlen = 0;
			return p;
		}
		if (w[klen] == '=') {
			*vlen = p - (w + klen + 1);
			return w + klen + 1;
		}
	}
	return NULL;
}

int cmdline_get(const char *key, char *val, size_t size)
{
	size_t vlen;
	const char *v = cmdline_find(key, &vlen);

	if (!v)
		return 0;
	if (size > 0) {
		if (vlen > size - 1)
			vlen = size - 1;
		memcpy(val, v, vlen);
		val[vlen] = '\0';
	}
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

uint64_t cmdline_u64(const char *key, uint64_t def)
{
	char buf[32];
	const char *p = buf;
	unsigned int base = 10;
	uint64_t v = 0;
	int d;

	if (!cmdline_get(key, buf, sizeof(buf)) || !buf[0])
		return def;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (!*p)
		return def;
	for (; *p; p++) {
		d = digit_value(*p);
		if (d >= (int)base || v > (UINT64_MAX - d) / base)
			return def;
		v = v * base + d;
	}
	return v;
}
