/* Service manifest: text parser, device-tree writer and reader. The text
 * comes from a test option and the tree from the shim: both are checked
 * with the same rules, bounded, without allocation. */
#include "lib/manifest.h"

#include <libfdt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/parse.h"
#include "lib/util.h"

static const char *const manifest_errors[] = {
	"success",
	"manifest too long",
	"byte outside printable ASCII",
	"bad service name (1-31 of a-z 0-9 _ -)",
	"service named twice",
	"bad binary (a file name or an absolute path)",
	"unknown option or bad value (fds=LIST, stop-timeout=MS)",
	"too many or too long arguments",
	"too many services",
	"no service",
	"malformed services node",
};

static const char *const manifest_fd_names[] = { "guest-ram", "sidecar",
						 "boot-dtb", "boot-image" };

const char *manifest_strerror(int err)
{
	if (err < 0 || err >= MANIFEST_ERR_COUNT)
		return "unknown error";
	return manifest_errors[err];
}

const char *manifest_fd_name(enum manifest_fd fd)
{
	return (unsigned)fd < MANIFEST_FD_COUNT ? manifest_fd_names[fd] : "?";
}

static bool manifest_name_ok(const char *s, size_t len)
{
	if (len == 0 || len >= MANIFEST_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '-'))
			return false;
	return true;
}

static bool manifest_binary_ok(const char *s, size_t len)
{
	if (len == 0 || len >= MANIFEST_PATH_MAX)
		return false;
	if (s[0] != '/' && memchr(s, '/', len) != NULL)
		return false;
	return !(len == 1 && s[0] == '/');
}

static int manifest_fd_bit(const char *s, size_t len)
{
	for (int i = 0; i < MANIFEST_FD_COUNT; i++)
		if (strlen(manifest_fd_names[i]) == len &&
		    !memcmp(manifest_fd_names[i], s, len))
			return i;
	return -1;
}

/* fds=a,b,c */
static int manifest_fds(const char *s, size_t len, uint32_t *out)
{
	size_t start = 0;

	*out = 0;
	while (start <= len) {
		const char *comma = memchr(s + start, ',', len - start);
		size_t end = comma ? (size_t)(comma - s) : len;
		int bit = manifest_fd_bit(s + start, end - start);

		if (bit < 0)
			return MANIFEST_ERR_OPTION;
		*out |= 1u << bit;
		start = end + 1;
	}
	return MANIFEST_OK;
}

static int manifest_option(const char *w, size_t len,
			   struct manifest_service *svc)
{
	char num[16];
	uint64_t v;

	if (len > 4 && !memcmp(w, "fds=", 4))
		return manifest_fds(w + 4, len - 4, &svc->fds);
	if (len > 13 && len - 13 < sizeof(num) &&
	    !memcmp(w, "stop-timeout=", 13)) {
		memcpy(num, w + 13, len - 13);
		num[len - 13] = '\0';
		if (parse_uint(num, 1, 600000, &v) != 0)
			return MANIFEST_ERR_OPTION;
		svc->stop_timeout_ms = (uint32_t)v;
		return MANIFEST_OK;
	}
	return MANIFEST_ERR_OPTION;
}

static int manifest_check_new(const struct manifest *m, const char *name,
			      size_t len)
{
	if (!manifest_name_ok(name, len))
		return MANIFEST_ERR_NAME;
	for (unsigned i = 0; i < m->n; i++)
		if (strlen(m->svc[i].name) == len &&
		    !memcmp(m->svc[i].name, name, len))
			return MANIFEST_ERR_DUPLICATE;
	return m->n >= MANIFEST_MAX_SERVICES ? MANIFEST_ERR_TOO_MANY
					     : MANIFEST_OK;
}

/* Next whitespace-separated word of [*p, end). */
static bool manifest_next_word(const char **p, const char *end, const char **w,
			       size_t *len)
{
	const char *s = *p;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	*w = s;
	while (s < end && *s != ' ' && *s != '\t')
		s++;
	*len = (size_t)(s - *w);
	*p = s;
	return *len > 0;
}

static int manifest_line(struct manifest *m, const char *p, const char *end)
{
	struct manifest_service *svc;
	const char *w;
	size_t len;
	bool args = false;
	int rc;

	if (!manifest_next_word(&p, end, &w, &len) || w[0] == '#')
		return MANIFEST_OK;
	if ((rc = manifest_check_new(m, w, len)) != MANIFEST_OK)
		return rc;
	svc = &m->svc[m->n];
	memset(svc, 0, sizeof(*svc));
	memcpy(svc->name, w, len);
	svc->stop_timeout_ms = MANIFEST_DEFAULT_STOP_MS;
	if (!manifest_next_word(&p, end, &w, &len) ||
	    !manifest_binary_ok(w, len))
		return MANIFEST_ERR_BINARY;
	memcpy(svc->binary, w, len);
	while (manifest_next_word(&p, end, &w, &len)) {
		if (!args && len == 2 && !memcmp(w, "--", 2)) {
			args = true;
		} else if (!args) {
			if ((rc = manifest_option(w, len, svc)) != MANIFEST_OK)
				return rc;
		} else {
			if (svc->n_args >= MANIFEST_MAX_ARGS ||
			    len >= MANIFEST_ARG_MAX)
				return MANIFEST_ERR_ARGS;
			memcpy(svc->args[svc->n_args++], w, len);
		}
	}
	m->n++;
	return MANIFEST_OK;
}

int manifest_parse(const char *text, size_t len, struct manifest *m,
		   unsigned *line)
{
	const char *p = text, *end;
	size_t i;
	int rc;

	util_zero(m, sizeof(*m)); /* ~70 KiB, static in init: a few used */
	*line = 0;
	for (i = 0; i < len && text[i] != '\0'; i++)
		if (i >= MANIFEST_TEXT_MAX)
			return MANIFEST_ERR_TOO_LONG;
	len = i;
	end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		(*line)++;
		for (const char *c = p; c < eol; c++)
			if ((*c < 0x20 && *c != '\t') ||
			    (unsigned char)*c >= 0x7f)
				return MANIFEST_ERR_CHAR;
		if ((rc = manifest_line(m, p, eol)) != MANIFEST_OK)
			return rc;
		p = eol + 1;
	}
	*line = 0;
	return m->n == 0 ? MANIFEST_ERR_EMPTY : MANIFEST_OK;
}

int manifest_add(struct manifest *m, const char *name, const char *binary,
		 uint32_t fds)
{
	struct manifest_service *svc;
	int rc = manifest_check_new(m, name, strlen(name));

	if (rc != MANIFEST_OK)
		return rc;
	if (!manifest_binary_ok(binary, strlen(binary)))
		return MANIFEST_ERR_BINARY;
	svc = &m->svc[m->n++];
	memset(svc, 0, sizeof(*svc));
	snprintf(svc->name, sizeof(svc->name), "%s", name);
	snprintf(svc->binary, sizeof(svc->binary), "%s", binary);
	svc->fds = fds & ((1u << MANIFEST_FD_COUNT) - 1);
	svc->stop_timeout_ms = MANIFEST_DEFAULT_STOP_MS;
	return MANIFEST_OK;
}

/* A stringlist property from n strings. */
static int manifest_setprop_list(void *fdt, int node, const char *prop,
				 const char *const *s, unsigned n)
{
	int rc = fdt_setprop(fdt, node, prop, NULL, 0);

	for (unsigned i = 0; rc == 0 && i < n; i++)
		rc = fdt_appendprop_string(fdt, node, prop, s[i]);
	return rc;
}

static int manifest_svc_to_fdt(const struct manifest_service *svc, void *fdt,
			       int node)
{
	const char *list[MANIFEST_MAX_ARGS];
	unsigned n = 0;
	int rc;

	if ((rc = fdt_setprop_string(fdt, node, "service", svc->name)) ||
	    (rc = fdt_setprop_string(fdt, node, "binary", svc->binary)) ||
	    (rc = fdt_setprop_u32(fdt, node, "stop-timeout-ms",
				  svc->stop_timeout_ms)))
		return rc;
	for (unsigned i = 0; i < svc->n_args; i++)
		list[i] = svc->args[i];
	if (svc->n_args > 0 &&
	    (rc = manifest_setprop_list(fdt, node, "args", list, svc->n_args)))
		return rc;
	for (int b = 0; b < MANIFEST_FD_COUNT; b++)
		if (svc->fds & (1u << b))
			list[n++] = manifest_fd_names[b];
	return n > 0 ? manifest_setprop_list(fdt, node, "fds", list, n) : 0;
}

int manifest_to_fdt(const struct manifest *m, void *fdt, int parent)
{
	int node = fdt_add_subnode(fdt, parent, "services");

	if (node < 0)
		return node;
	/* fdt_add_subnode inserts first: add in reverse to keep the order. */
	for (unsigned i = m->n; i-- > 0;) {
		char unit[32];
		int sub, rc;

		snprintf(unit, sizeof(unit), "service@%u", i);
		sub = fdt_add_subnode(fdt, node, unit);
		if (sub < 0)
			return sub;
		if ((rc = manifest_svc_to_fdt(&m->svc[i], fdt, sub)) != 0)
			return rc;
	}
	return 0;
}

/* A property that is one NUL-terminated string shorter than max. */
static const char *manifest_get_string(const void *fdt, int node,
				       const char *prop, size_t max)
{
	int len;
	const char *s = fdt_getprop(fdt, node, prop, &len);

	if (s == NULL || len < 1 || (size_t)len > max || s[len - 1] != '\0' ||
	    strlen(s) != (size_t)len - 1)
		return NULL;
	return s;
}

/* Walks a stringlist; calls add for each string. */
static int manifest_get_list(const void *fdt, int node, const char *prop,
			     struct manifest_service *svc, bool args)
{
	int len, off = 0;
	const char *s = fdt_getprop(fdt, node, prop, &len);

	if (s == NULL)
		return MANIFEST_OK;
	if (len > 0 && s[len - 1] != '\0')
		return MANIFEST_ERR_FDT;
	while (off < len) {
		size_t n = strlen(s + off);

		if (args) {
			if (n == 0 || svc->n_args >= MANIFEST_MAX_ARGS ||
			    n >= MANIFEST_ARG_MAX)
				return MANIFEST_ERR_ARGS;
			memcpy(svc->args[svc->n_args++], s + off, n);
		} else {
			int bit = manifest_fd_bit(s + off, n);

			if (bit < 0)
				return MANIFEST_ERR_OPTION;
			svc->fds |= 1u << bit;
		}
		off += (int)n + 1;
	}
	return MANIFEST_OK;
}

static int manifest_svc_from_fdt(const void *fdt, int node, struct manifest *m)
{
	const char *name =
	    manifest_get_string(fdt, node, "service", MANIFEST_NAME_MAX);
	const char *bin =
	    manifest_get_string(fdt, node, "binary", MANIFEST_PATH_MAX);
	const fdt32_t *stop;
	struct manifest_service *svc;
	int rc, len;

	if (name == NULL)
		return MANIFEST_ERR_NAME;
	if (bin == NULL)
		return MANIFEST_ERR_BINARY;
	if ((rc = manifest_add(m, name, bin, 0)) != MANIFEST_OK)
		return rc;
	svc = &m->svc[m->n - 1];
	stop = fdt_getprop(fdt, node, "stop-timeout-ms", &len);
	if (stop != NULL) {
		if (len != 4 || fdt32_to_cpu(*stop) == 0 ||
		    fdt32_to_cpu(*stop) > 600000)
			return MANIFEST_ERR_OPTION;
		svc->stop_timeout_ms = fdt32_to_cpu(*stop);
	}
	if ((rc = manifest_get_list(fdt, node, "args", svc, true)) ||
	    (rc = manifest_get_list(fdt, node, "fds", svc, false)))
		return rc;
	return MANIFEST_OK;
}

int manifest_from_fdt(const void *fdt, int node, struct manifest *m)
{
	int sub, rc;

	util_zero(m, sizeof(*m)); /* ~70 KiB, static in init: a few used */
	if (node < 0)
		return MANIFEST_ERR_FDT;
	fdt_for_each_subnode(sub, fdt, node)
	{
		if ((rc = manifest_svc_from_fdt(fdt, sub, m)) != MANIFEST_OK)
			return rc;
	}
	if (sub != -FDT_ERR_NOTFOUND)
		return MANIFEST_ERR_FDT;
	return MANIFEST_OK;
}
