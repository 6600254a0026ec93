/* igvm-minimal IN.igvm OUT.igvm: writes the smallest image Parapet must
 * boot: the platform header, IN's pages outside its VTL2-protectable
 * ranges (no measured paravisor config, no parameter areas) and its VP
 * context, with boot/igvm.h's writer. For the e2e tests of parapet run. */
#include <stdio.h>
#include <stdlib.h>

#include "boot/igvm.h"

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = malloc(64u << 20);

	*len = fp && buf ? fread(buf, 1, 64u << 20, fp) : 0;
	if (fp)
		fclose(fp);
	return buf;
}

static int in_vtl2(const struct igvm_file *f, uint64_t gpa)
{
	const struct igvm_header *h = NULL;

	while ((h = igvm_next(f, h, IGVM_VHT_REQUIRED_MEMORY)) != NULL)
		if ((h->u.mem.flags & IGVM_REQUIRED_MEMORY_VTL2_PROTECTABLE) &&
		    gpa >= h->u.mem.gpa &&
		    gpa - h->u.mem.gpa < h->u.mem.number_of_bytes)
			return 1;
	return 0;
}

static void copy(const struct igvm_file *f, struct igvm_writer *w)
{
	const struct igvm_header *h = NULL;
	struct igvm_vbs_reg regs[IGVM_MAX_VP_REGISTERS];

	while ((h = igvm_next(f, h, IGVM_VHT_SUPPORTED_PLATFORM)) != NULL)
		igvm_write_platform(w, &h->u.platform);
	while ((h = igvm_next(f, h, IGVM_VHT_PAGE_DATA)) != NULL)
		if (!in_vtl2(f, h->u.page.gpa))
			igvm_write_page(w, h->u.page.gpa,
					h->u.page.compatibility_mask,
					h->u.page.flags, h->u.page.data_type,
					igvm_page_bytes(f, h));
	while ((h = igvm_next(f, h, IGVM_VHT_VP_CONTEXT)) != NULL) {
		for (uint32_t i = 0; i < h->u.vp.register_count; i++)
			igvm_vp_reg_at(f, h, i, &regs[i]);
		igvm_write_vp_context(
		    w, h->u.vp.gpa, h->u.vp.compatibility_mask,
		    h->u.vp.vp_index, regs, h->u.vp.register_count);
	}
}

int main(int argc, char **argv)
{
	struct igvm_file f;
	struct igvm_writer w;
	uint8_t *buf, *out = NULL;
	size_t len, out_len = 0;
	FILE *fp;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: igvm-minimal IN.igvm OUT.igvm\n");
		return 2;
	}
	buf = slurp(argv[1], &len);
	if (buf == NULL || igvm_parse(buf, len, &f, NULL) != IGVM_OK) {
		fprintf(stderr, "igvm-minimal: cannot parse %s\n", argv[1]);
		return 1;
	}
	igvm_writer_init(&w);
	copy(&f, &w);
	rc = igvm_writer_finish(&w, &out, &out_len);
	fp = rc == IGVM_OK ? fopen(argv[2], "wb") : NULL;
	if (fp == NULL || fwrite(out, 1, out_len, fp) != out_len ||
	    fclose(fp) != 0) {
		fprintf(stderr, "igvm-minimal: cannot write %s: %s\n", argv[2],
			igvm_strerror(rc));
		return 1;
	}
	igvm_writer_free(&w);
	igvm_free(&f);
	free(out);
	free(buf);
	return 0;
}
