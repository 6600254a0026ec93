/* libFuzzer harness for the IGVM parser: parse any bytes, and when they
 * validate, walk everything a loader would (pages, areas, VP registers,
 * measurement) so that an accepted image is safe to use. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/igvm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

static void touch_pages(const struct igvm_file *f)
{
	const struct igvm_header *h = NULL;

	while ((h = igvm_next(f, h, IGVM_VHT_PAGE_DATA))) {
		const uint8_t *p = igvm_page_bytes(f, h);

		if (p)
			sink ^= p[0] ^ p[igvm_page_size(h) - 1];
	}
}

static void touch_areas(const struct igvm_file *f)
{
	const struct igvm_header *h = NULL;

	while ((h = igvm_next(f, h, IGVM_VHT_PARAMETER_AREA))) {
		uint32_t idx = h->u.area.parameter_area_index;

		if (igvm_find_area(f, idx) != h)
			__builtin_trap();
		if (igvm_find_insert(f, idx))
			sink ^= 1;
	}
}

static void touch_vps(const struct igvm_file *f)
{
	const struct igvm_header *h = NULL;

	while ((h = igvm_next(f, h, IGVM_VHT_VP_CONTEXT))) {
		struct igvm_vp_regs regs;

		if (!h->u.vp.vbs)
			continue;
		for (uint32_t i = 0; i < h->u.vp.register_count; i++) {
			struct igvm_vbs_reg r;

			igvm_vp_reg_at(f, h, i, &r);
			if (igvm_reg_kind(r.name) == IGVM_REG_NONE)
				__builtin_trap();
		}
		if (igvm_vp_regs(f, h->u.vp.vp_index, &regs) != IGVM_OK)
			__builtin_trap();
		sink ^= (uint8_t)regs.rip;
	}
}

static void check_accepted(const struct igvm_file *f)
{
	uint8_t m[IGVM_MEASUREMENT_SIZE];

	touch_pages(f);
	touch_areas(f);
	touch_vps(f);
	if (igvm_measure(f, m) != IGVM_OK)
		__builtin_trap();
}

/* Parses buf; on success walks the result. Returns the parse status. */
static int parse_and_walk(const uint8_t *buf, size_t size)
{
	struct igvm_file f;
	struct igvm_error err;
	char msg[256];
	int rc = igvm_parse(buf, size, &f, &err);

	if (rc) {
		igvm_error_format(&err, msg, sizeof(msg));
		return rc;
	}
	check_accepted(&f);
	igvm_free(&f);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (parse_and_walk(data, size) != IGVM_ERR_CHECKSUM)
		return 0;
	/* Mutations almost always break the CRC: parse again with a fixed
	 * checksum to reach the header checks. */
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (igvm_fix_checksum(copy, size) == IGVM_OK &&
	    parse_and_walk(copy, size) == IGVM_ERR_CHECKSUM)
		__builtin_trap();
	free(copy);
	return 0;
}
