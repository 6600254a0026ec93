/* libFuzzer harness for the manifest's device tree reader (lib/manifest.c,
 * manifest_from_fdt), as parapet-init uses it: any blob that passes
 * fdt_check_full, read from /parapet/services. What it accepts must be
 * valid and write back to a tree that reads the same. */
#include <libfdt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct manifest m, back;
static uint8_t out[256 << 10];

static void check_accepted(void)
{
	int root, node;

	for (unsigned i = 0; i < m.n; i++) {
		const struct manifest_service *s = &m.svc[i];

		if (strnlen(s->name, sizeof(s->name)) == sizeof(s->name) ||
		    strnlen(s->binary, sizeof(s->binary)) ==
			sizeof(s->binary) ||
		    s->n_args > MANIFEST_MAX_ARGS ||
		    s->fds >> MANIFEST_FD_COUNT || s->stop_timeout_ms == 0)
			__builtin_trap();
	}
	if (fdt_create_empty_tree(out, sizeof(out)) != 0)
		__builtin_trap();
	root = fdt_add_subnode(out, 0, "parapet");
	if (root < 0 || manifest_to_fdt(&m, out, root) != 0)
		__builtin_trap();
	node = fdt_path_offset(out, "/parapet/services");
	if (manifest_from_fdt(out, node, &back) != MANIFEST_OK ||
	    memcmp(&back, &m, sizeof(m)) != 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *blob;
	int node, rc;

	if (size < sizeof(struct fdt_header))
		return 0;
	/* libfdt wants the blob 8-byte aligned: a fresh copy is. */
	blob = malloc(size);
	if (blob == NULL)
		return 0;
	memcpy(blob, data, size);
	/* libfdt 1.6.1's fdt_check_full dereferences NULL on blobs older
	 * than version 16 (see shim_check_host_dt in boot/shim_config.c):
	 * refused first, as every reader of an untrusted blob must. */
	if (fdt_version(blob) < 16 || fdt_check_full(blob, size) != 0) {
		free(blob);
		return 0;
	}
	node = fdt_path_offset(blob, "/parapet/services");
	rc = manifest_from_fdt(blob, node, &m);
	if (manifest_strerror(rc) == NULL)
		__builtin_trap();
	if (rc == MANIFEST_OK)
		check_accepted();
	/* Any node is read as safely (e.g. the root). */
	if (manifest_from_fdt(blob, 0, &m) == MANIFEST_OK)
		check_accepted();
	free(blob);
	return 0;
}
