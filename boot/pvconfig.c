/* Paravisor configuration text (format in pvconfig.h): a bounded parser
 * for hostile bytes and the writer used by `parapet igvm build`. */
#include <stdio.h>
#include <string.h>

#include "boot/pvconfig.h"
#include "lib/guest_abi.h"

enum builtin {
	KEY_PARAVISOR_CMDLINE,
	KEY_ALLOW_HOST_CMDLINE,
	KEY_GUEST_CMDLINE,
	KEY_VP_COUNT,
	KEY_MEM_SIZE,
	KEY_COUNT
};

static const char *const builtin_keys[KEY_COUNT] = {
	"paravisor_cmdline", "allow_host_cmdline", "guest_cmdline",
	"vp_count",	     "mem_size",
};

static const char *const err_text[PVCONFIG_ERR_COUNT] = {
	[PVCONFIG_OK] = "success",
	[PVCONFIG_ERR_MAGIC] = "missing 'parapet-config 1' first line",
	[PVCONFIG_ERR_LINE] = "malformed line",
	[PVCONFIG_ERR_KEY] = "bad key",
	[PVCONFIG_ERR_VALUE] = "bad value",
	[PVCONFIG_ERR_DUPLICATE] = "duplicate key",
	[PVCONFIG_ERR_NUMBER] = "bad number",
	[PVCONFIG_ERR_TOO_MANY] = "too many config pairs",
	[PVCONFIG_ERR_SPACE] = "configuration too large",
};

const char *pvconfig_strerror(int err)
{
	if (err < 0 || err >= PVCONFIG_ERR_COUNT)
		return "unknown error";
	return err_text[err];
}

void pvconfig_init(struct pvconfig *c)
{
	memset(c, 0, sizeof(*c));
	c->vp_count = 1;
	c->mem_size = GUEST_DEFAULT_MEM;
}

static int builtin_index(const char *key, size_t len)
{
	for (int i = 0; i < KEY_COUNT; i++)
		if (strlen(builtin_keys[i]) == len &&
		    memcmp(builtin_keys[i], key, len) == 0)
			return i;
	return -1;
}

bool pvconfig_builtin_key(const char *key, size_t len)
{
	return builtin_index(key, len) >= 0;
}

int pvconfig_check_key(const char *key, size_t len)
{
	if (len == 0 || len >= PVCONFIG_KEY_MAX)
		return PVCONFIG_ERR_KEY;
	for (size_t i = 0; i < len; i++) {
		char ch = key[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '.' || ch == '-'))
			return PVCONFIG_ERR_KEY;
	}
	return PVCONFIG_OK;
}

int pvconfig_check_value(const char *value, size_t len)
{
	if (len >= PVCONFIG_VALUE_MAX)
		return PVCONFIG_ERR_VALUE;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)value[i] < 0x20 ||
		    (unsigned char)value[i] > 0x7e)
			return PVCONFIG_ERR_VALUE;
	return PVCONFIG_OK;
}

/* Decimal number of at most 20 digits, no sign, no overflow. */
static int parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return PVCONFIG_ERR_NUMBER;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return PVCONFIG_ERR_NUMBER;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return PVCONFIG_ERR_NUMBER;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return PVCONFIG_OK;
}

static int set_builtin(struct pvconfig *c, int key, const char *v, size_t len)
{
	uint64_t n;

	switch (key) {
	case KEY_PARAVISOR_CMDLINE:
		memcpy(c->paravisor_cmdline, v, len);
		c->paravisor_cmdline[len] = '\0';
		return PVCONFIG_OK;
	case KEY_GUEST_CMDLINE:
		memcpy(c->guest_cmdline, v, len);
		c->guest_cmdline[len] = '\0';
		return PVCONFIG_OK;
	case KEY_ALLOW_HOST_CMDLINE:
		if (len != 1 || (v[0] != '0' && v[0] != '1'))
			return PVCONFIG_ERR_NUMBER;
		c->allow_host_cmdline = v[0] == '1';
		return PVCONFIG_OK;
	case KEY_VP_COUNT:
		if (parse_u64(v, len, PVCONFIG_MAX_VPS, &n) || n == 0)
			return PVCONFIG_ERR_NUMBER;
		c->vp_count = (uint32_t)n;
		return PVCONFIG_OK;
	default:
		if (parse_u64(v, len, UINT64_MAX, &n) || n == 0)
			return PVCONFIG_ERR_NUMBER;
		c->mem_size = n;
		return PVCONFIG_OK;
	}
}

static int add_pair(struct pvconfig *c, const char *k, size_t klen,
		    const char *v, size_t vlen)
{
	for (size_t i = 0; i < c->n_pairs; i++)
		if (c->pairs[i].key_len == klen &&
		    memcmp(c->pairs[i].key, k, klen) == 0)
			return PVCONFIG_ERR_DUPLICATE;
	if (c->n_pairs == PVCONFIG_MAX_PAIRS)
		return PVCONFIG_ERR_TOO_MANY;
	c->pairs[c->n_pairs].key = k;
	c->pairs[c->n_pairs].key_len = klen;
	c->pairs[c->n_pairs].value = v;
	c->pairs[c->n_pairs].value_len = vlen;
	c->n_pairs++;
	return PVCONFIG_OK;
}

/* One "key=value" line (without its '\n'). seen: built-in keys so far. */
static int parse_line(struct pvconfig *c, const char *s, size_t len,
		      unsigned *seen)
{
	const char *eq = memchr(s, '=', len);
	size_t klen, vlen;
	int key, rc;

	if (!eq)
		return PVCONFIG_ERR_LINE;
	klen = (size_t)(eq - s);
	vlen = len - klen - 1;
	rc = pvconfig_check_key(s, klen);
	if (!rc)
		rc = pvconfig_check_value(eq + 1, vlen);
	if (rc)
		return rc;
	key = builtin_index(s, klen);
	if (key < 0)
		return add_pair(c, s, klen, eq + 1, vlen);
	if (*seen & (1u << key))
		return PVCONFIG_ERR_DUPLICATE;
	*seen |= 1u << key;
	return set_builtin(c, key, eq + 1, vlen);
}

int pvconfig_parse(const void *buf, size_t len, struct pvconfig *c,
		   unsigned *line)
{
	const char *s = buf;
	const char *nul = memchr(s, '\0', len);
	size_t magic_len = strlen(PVCONFIG_MAGIC_LINE);
	unsigned seen = 0, lineno = 1;
	size_t pos;
	int rc = PVCONFIG_OK;

	pvconfig_init(c);
	if (nul)
		len = (size_t)(nul - s);
	if (len <= magic_len || memcmp(s, PVCONFIG_MAGIC_LINE, magic_len) ||
	    s[magic_len] != '\n') {
		rc = PVCONFIG_ERR_MAGIC;
		goto out;
	}
	for (pos = magic_len + 1; pos < len && !rc; lineno++) {
		const char *nl = memchr(s + pos, '\n', len - pos);

		if (!nl) {
			lineno++;
			rc = PVCONFIG_ERR_LINE;
			break;
		}
		rc = parse_line(c, s + pos, (size_t)(nl - (s + pos)), &seen);
		pos = (size_t)(nl - s) + 1;
	}
out:
	if (line)
		*line = rc ? lineno : 0;
	return rc;
}

/* Appends "key=value\n" to out after checking both. */
static int put_line(char *out, size_t cap, size_t *len, const char *key,
		    const char *value, size_t vlen)
{
	size_t klen = strlen(key);
	int rc = pvconfig_check_key(key, klen);

	if (!rc)
		rc = pvconfig_check_value(value, vlen);
	if (rc)
		return rc;
	if (klen + vlen + 2 > cap - *len)
		return PVCONFIG_ERR_SPACE;
	memcpy(out + *len, key, klen);
	out[*len + klen] = '=';
	memcpy(out + *len + klen + 1, value, vlen);
	out[*len + klen + 1 + vlen] = '\n';
	*len += klen + vlen + 2;
	return PVCONFIG_OK;
}

static int put_builtins(const struct pvconfig *c, char *out, size_t cap,
			size_t *len)
{
	char num[32];
	int rc;

	rc = put_line(out, cap, len, "paravisor_cmdline", c->paravisor_cmdline,
		      strlen(c->paravisor_cmdline));
	if (!rc)
		rc = put_line(out, cap, len, "allow_host_cmdline",
			      c->allow_host_cmdline ? "1" : "0", 1);
	if (!rc)
		rc = put_line(out, cap, len, "guest_cmdline", c->guest_cmdline,
			      strlen(c->guest_cmdline));
	snprintf(num, sizeof(num), "%u", c->vp_count);
	if (!rc)
		rc = put_line(out, cap, len, "vp_count", num, strlen(num));
	snprintf(num, sizeof(num), "%llu", (unsigned long long)c->mem_size);
	if (!rc)
		rc = put_line(out, cap, len, "mem_size", num, strlen(num));
	return rc;
}

int pvconfig_write(const struct pvconfig *c, char *out, size_t cap, size_t *len)
{
	size_t magic_len = strlen(PVCONFIG_MAGIC_LINE);
	char key[PVCONFIG_KEY_MAX];
	int rc;

	*len = 0;
	if (cap < magic_len + 1)
		return PVCONFIG_ERR_SPACE;
	memcpy(out, PVCONFIG_MAGIC_LINE "\n", magic_len + 1);
	*len = magic_len + 1;
	rc = put_builtins(c, out, cap, len);
	for (size_t i = 0; i < c->n_pairs && !rc; i++) {
		const struct pvconfig_pair *p = &c->pairs[i];

		if (p->key_len >= sizeof(key) ||
		    pvconfig_builtin_key(p->key, p->key_len))
			return PVCONFIG_ERR_KEY;
		memcpy(key, p->key, p->key_len);
		key[p->key_len] = '\0';
		rc = put_line(out, cap, len, key, p->value, p->value_len);
	}
	return rc;
}
