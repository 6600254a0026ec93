/* libFuzzer harness for the service manifest text parser (lib/manifest.c):
 * an accepted manifest holds only valid services and survives the trip
 * through the boot device tree (to_fdt, from_fdt) unchanged. */
#include <libfdt.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct manifest m, back;
/* 16 services of 16 arguments of 255 bytes fit with room to spare. */
static uint8_t fdt[256 << 10];

static void check_service(const struct manifest_service *s)
{
	size_t n = strnlen(s->name, sizeof(s->name));

	if (n == 0 || n == sizeof(s->name) ||
	    strnlen(s->binary, sizeof(s->binary)) == sizeof(s->binary) ||
	    s->binary[0] == '\0' || s->n_args > MANIFEST_MAX_ARGS ||
	    s->fds >> MANIFEST_FD_COUNT || s->stop_timeout_ms == 0 ||
	    s->stop_timeout_ms > 600000)
		__builtin_trap();
	for (unsigned i = 0; i < s->n_args; i++)
		if (s->args[i][0] == '\0' ||
		    strnlen(s->args[i], MANIFEST_ARG_MAX) == MANIFEST_ARG_MAX)
			__builtin_trap();
}

static void check_fdt_round_trip(void)
{
	int root, node;

	if (fdt_create_empty_tree(fdt, sizeof(fdt)) != 0)
		__builtin_trap();
	root = fdt_add_subnode(fdt, 0, "parapet");
	if (root < 0 || manifest_to_fdt(&m, fdt, root) != 0)
		__builtin_trap();
	node = fdt_path_offset(fdt, "/parapet/services");
	if (manifest_from_fdt(fdt, node, &back) != MANIFEST_OK ||
	    memcmp(&back, &m, sizeof(m)) != 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned line = 0;
	int rc = manifest_parse((const char *)data, size, &m, &line);

	if (manifest_strerror(rc) == NULL)
		__builtin_trap();
	if (rc != MANIFEST_OK)
		return 0;
	if (line != 0 || m.n == 0 || m.n > MANIFEST_MAX_SERVICES)
		__builtin_trap();
	for (unsigned i = 0; i < m.n; i++) {
		check_service(&m.svc[i]);
		for (unsigned j = 0; j < i; j++)
			if (strcmp(m.svc[i].name, m.svc[j].name) == 0)
				__builtin_trap();
	}
	check_fdt_round_trip();
	return 0;
}
