/* Parser of the paravisor command line: a table of options, each with
 * its list of values. */
#include "boot/pvopts.h"

#include <stdio.h>
#include <string.h>

static const char *const pvopts_errors[] = {
	"success",
	"command line too long",
	"byte outside printable ASCII",
	"expected KEY=VALUE",
	"unknown option (known: sidecar=, on-crash=, log=)",
	"value not one of the option's choices",
};

static const char *const sidecar_values[] = { "on", "off", "log", NULL };
static const char *const crash_values[] = { "poweroff", "reboot", NULL };
static const char *const log_values[] = { "warn", "info", "debug", NULL };

struct pvopts_option {
	const char *key;
	const char *const *values; /* index = enum value */
	const char *choices;	   /* for the error message */
};

static const struct pvopts_option pvopts_table[] = {
	{ "sidecar", sidecar_values, "off, on, log" },
	{ "on-crash", crash_values, "poweroff, reboot" },
	{ "log", log_values, "debug, info, warn" },
};
#define PVOPTS_N_OPTIONS (sizeof(pvopts_table) / sizeof(pvopts_table[0]))

const char *pvopts_strerror(int err)
{
	if (err < 0 || err >= PVOPTS_ERR_COUNT)
		return "unknown error";
	return pvopts_errors[err];
}

void pvopts_init(struct pvopts *o)
{
	memset(o, 0, sizeof(*o));
}

const char *pvopts_sidecar_name(enum pvopts_sidecar v)
{
	return (unsigned)v < 3 ? sidecar_values[v] : "?";
}

const char *pvopts_crash_name(enum pvopts_crash v)
{
	return (unsigned)v < 2 ? crash_values[v] : "?";
}

const char *pvopts_log_name(enum pvopts_log v)
{
	return (unsigned)v < 3 ? log_values[v] : "?";
}

static int pvopts_fail(struct pvopts_error *err, int code, const char *word,
		       size_t wlen, size_t offset)
{
	size_t i, n = wlen < PVOPTS_WORD_MAX - 1 ? wlen : PVOPTS_WORD_MAX - 1;

	if (err != NULL) {
		err->code = code;
		err->offset = offset;
		for (i = 0; i < n; i++)
			err->word[i] =
			    word[i] >= 0x20 && word[i] < 0x7f ? word[i] : '?';
		err->word[n] = '\0';
	}
	return code;
}

static void pvopts_store(struct pvopts *o, size_t opt, int value)
{
	switch (opt) {
	case 0:
		o->sidecar = (enum pvopts_sidecar)value;
		break;
	case 1:
		o->on_crash = (enum pvopts_crash)value;
		break;
	default:
		o->log = (enum pvopts_log)value;
		o->log_set = true;
		break;
	}
}

/* One KEY=VALUE word. */
static int pvopts_word(const char *w, size_t len, struct pvopts *o)
{
	const char *eq = memchr(w, '=', len);
	size_t klen, vlen;

	if (eq == NULL || eq == w || eq == w + len - 1)
		return PVOPTS_ERR_NO_VALUE;
	klen = (size_t)(eq - w);
	vlen = len - klen - 1;
	for (size_t i = 0; i < PVOPTS_N_OPTIONS; i++) {
		const struct pvopts_option *opt = &pvopts_table[i];

		if (strlen(opt->key) != klen || memcmp(opt->key, w, klen))
			continue;
		for (int v = 0; opt->values[v] != NULL; v++)
			if (strlen(opt->values[v]) == vlen &&
			    !memcmp(opt->values[v], eq + 1, vlen)) {
				pvopts_store(o, i, v);
				return PVOPTS_OK;
			}
		return PVOPTS_ERR_VALUE;
	}
	return PVOPTS_ERR_UNKNOWN;
}

int pvopts_parse(const char *s, size_t len, struct pvopts *o,
		 struct pvopts_error *err)
{
	size_t i = 0, start;
	int rc;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (s == NULL)
		return PVOPTS_OK;
	for (start = 0; start < len && s[start] != '\0'; start++)
		if ((s[start] < 0x20 && s[start] != '\t') ||
		    (unsigned char)s[start] >= 0x7f)
			return pvopts_fail(err, PVOPTS_ERR_CHAR, s + start, 1,
					   start);
	len = start;
	if (len > PVOPTS_MAX_LEN)
		return pvopts_fail(err, PVOPTS_ERR_TOO_LONG, s, 0, 0);
	while (i < len) {
		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		start = i;
		while (i < len && s[i] != ' ' && s[i] != '\t')
			i++;
		if (i == start)
			break;
		rc = pvopts_word(s + start, i - start, o);
		if (rc != PVOPTS_OK)
			return pvopts_fail(err, rc, s + start, i - start,
					   start);
	}
	return PVOPTS_OK;
}

void pvopts_error_format(const struct pvopts_error *err, char *out, size_t len)
{
	const char *choices = "";

	if (err->code == PVOPTS_ERR_VALUE)
		for (size_t i = 0; i < PVOPTS_N_OPTIONS; i++)
			if (!strncmp(err->word, pvopts_table[i].key,
				     strlen(pvopts_table[i].key)) &&
			    err->word[strlen(pvopts_table[i].key)] == '=')
				choices = pvopts_table[i].choices;
	if (err->code == PVOPTS_ERR_TOO_LONG) {
		snprintf(out, len, "%s (limit %d bytes)",
			 pvopts_strerror(err->code), PVOPTS_MAX_LEN);
		return;
	}
	snprintf(out, len, "option '%s' (offset %zu): %s%s%s", err->word,
		 err->offset, pvopts_strerror(err->code), *choices ? ": " : "",
		 choices);
}
