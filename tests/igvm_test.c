/* Unit tests for boot/igvm: writer/parser round trip, one test per
 * rejection of IGVM.md on a mutated image, queries and the measurement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "boot/igvm.h"
#include "boot/igvm_util.h"

static uint8_t page_a[IGVM_PAGE_SIZE], page_c[IGVM_PAGE_SIZE];

static void regs_vp(struct igvm_vbs_reg *r, uint64_t rip)
{
	struct igvm_segment cs = { 0, 0xFFFFFFFF, 0x08, 0xA09B };
	struct igvm_table gdtr = { 0x27, 0x1000 };

	memset(r, 0, 4 * sizeof(*r));
	r[0].name = HV_X64_REG_RIP;
	igvm_reg_plain(r[0].value, rip);
	r[1].name = HV_X64_REG_CR0;
	igvm_reg_plain(r[1].value, 0x80050033);
	r[2].name = HV_X64_REG_CS;
	igvm_reg_segment(r[2].value, &cs);
	r[3].name = HV_X64_REG_GDTR;
	igvm_reg_table(r[3].value, &gdtr);
}

/* Header indexes of the base image (see build_base). */
enum {
	H_PLAT_VSM,
	H_PLAT_NATIVE,
	H_POLICY,
	H_AREA0,
	H_CMDLINE,
	H_AREA1,
	H_MEMMAP,
	H_INSERT0,
	H_AREA2,
	H_VP_COUNT,
	H_INSERT1,
	H_INSERT2,
	H_PAGE_A,
	H_PAGE_ZERO,
	H_PAGE_UNMEASURED,
	H_REQ_MEM,
	H_VP0,
	H_VPN0, /* native platform: opaque 4 KiB contexts */
	H_VPN1,
	H_COUNT
};

static void write_base_directives(struct igvm_writer *w)
{
	struct igvm_vbs_reg r[4];

	igvm_write_param_area(w, 0, 0x1000);
	igvm_write_param(w, IGVM_VHT_COMMAND_LINE, 0, 0);
	igvm_write_param_area(w, 1, 0x2000);
	igvm_write_param(w, IGVM_VHT_MEMORY_MAP, 1, 0x10);
	igvm_write_insert(w, 0x9000, 1, 0);
	igvm_write_param_area(w, 2, 0x1000);
	igvm_write_param(w, IGVM_VHT_VP_COUNT, 2, 0);
	igvm_write_insert(w, 0xB000, 1, 1);
	igvm_write_insert(w, 0xA000, 1, 2);
	igvm_write_page(w, 0x100000, 1, 0, IGVM_DATA_NORMAL, page_a);
	igvm_write_page(w, 0x101000, 1, 0, IGVM_DATA_NORMAL, NULL);
	igvm_write_page(w, 0x102000, 1, IGVM_PAGE_FLAG_UNMEASURED,
			IGVM_DATA_NORMAL, page_c);
	igvm_write_required_memory(w, 0xE00000, 1, 0x200000,
				   IGVM_REQUIRED_MEMORY_VTL2_PROTECTABLE);
	regs_vp(r, 0x100000);
	igvm_write_vp_context(w, 0, 1, 0, r, 4);
	igvm_write_vp_data(w, 0, 2, 0, page_c, sizeof(page_c));
	igvm_write_vp_data(w, 0, 2, 1, page_a, sizeof(page_a));
}

/* Every header type Parapet knows, two platforms, three kinds of page. */
static void build_base(uint8_t **buf, size_t *len)
{
	struct igvm_platform vsm = { 1, 2, IGVM_PLATFORM_VSM_ISOLATION, 1, 0 };
	struct igvm_platform native = { 2, 0, IGVM_PLATFORM_NATIVE, 1, 0 };
	uint8_t policy[16] = { 0 };
	struct igvm_writer w;

	for (size_t i = 0; i < sizeof(page_a); i++) {
		page_a[i] = (uint8_t)(i * 7 + 1);
		page_c[i] = (uint8_t)(i * 3 + 2);
	}
	put_le32(policy + 8, 1);
	igvm_writer_init(&w);
	/* Added out of section order on purpose: the writer sorts. */
	write_base_directives(&w);
	igvm_write_raw(&w, IGVM_VHT_GUEST_POLICY, policy, sizeof(policy));
	igvm_write_platform(&w, &vsm);
	igvm_write_platform(&w, &native);
	assert_int_equal(igvm_writer_finish(&w, buf, len), IGVM_OK);
	igvm_writer_free(&w);
}

/* The base image's offset of header idx (its type field). */
static uint32_t hdr_off(const uint8_t *buf, size_t len, int idx)
{
	struct igvm_file f;
	uint32_t off;

	assert_int_equal(igvm_parse(buf, len, &f, NULL), IGVM_OK);
	assert_int_equal(f.n_headers, H_COUNT);
	off = f.headers[idx].offset;
	igvm_free(&f);
	return off;
}

static uint32_t data_off(const uint8_t *buf, size_t len, int idx)
{
	return get_le32(buf + hdr_off(buf, len, idx) + 8 + 12);
}

static void expect(uint8_t *buf, size_t len, bool fix, int code, int index,
		   const char *field)
{
	struct igvm_file f;
	struct igvm_error e;

	if (fix)
		assert_int_equal(igvm_fix_checksum(buf, len), IGVM_OK);
	assert_int_equal(igvm_parse(buf, len, &f, &e), code);
	assert_int_equal(e.code, code);
	assert_int_equal(e.index, index);
	if (field)
		assert_string_equal(e.field, field);
	assert_null(f.headers);
	free(buf);
}

/* Mutates a u32/u16/u64 at a header's content offset and expects code. */
static void hdr32(int idx, uint32_t at, uint32_t v, int code, const char *field)
{
	uint8_t *b;
	size_t len;

	build_base(&b, &len);
	put_le32(b + hdr_off(b, len, idx) + at, v);
	expect(b, len, true, code, idx, field);
}

static void hdr16(int idx, uint32_t at, uint16_t v, int code, const char *field)
{
	uint8_t *b;
	size_t len;

	build_base(&b, &len);
	put_le16(b + hdr_off(b, len, idx) + at, v);
	expect(b, len, true, code, idx, field);
}

static void hdr8(int idx, uint32_t at, uint8_t v, int code, const char *f)
{
	uint8_t *b;
	size_t len;

	build_base(&b, &len);
	b[hdr_off(b, len, idx) + at] = v;
	expect(b, len, true, code, idx, f);
}

/* Content offsets: the header body starts at +8. */
#define C(x) (8 + (x))

static void test_round_trip(void **state)
{
	struct igvm_file f;
	const struct igvm_header *h;
	uint8_t *b;
	size_t len;

	(void)state;
	build_base(&b, &len);
	assert_int_equal(igvm_parse(b, len, &f, NULL), IGVM_OK);
	assert_int_equal(f.fixed.total_file_size, len);
	assert_int_equal(f.fixed.variable_header_offset, 24);
	assert_int_equal(f.platform_mask, 3);
	assert_int_equal(f.headers[H_PLAT_VSM].u.platform.highest_vtl, 2);
	assert_int_equal(f.headers[H_PLAT_VSM].u.platform.platform_type,
			 IGVM_PLATFORM_VSM_ISOLATION);
	assert_int_equal(f.headers[H_POLICY].type, IGVM_VHT_GUEST_POLICY);
	for (size_t i = 0; i < f.n_headers; i++) {
		assert_int_equal(f.headers[i].index, i);
		assert_int_equal(f.headers[i].offset % 8, 0);
	}
	h = &f.headers[H_PAGE_A];
	assert_int_equal(h->u.page.gpa, 0x100000);
	assert_true(h->u.page.file_offset >= 24 + f.fixed.variable_header_size);
	assert_memory_equal(igvm_page_bytes(&f, h), page_a, sizeof(page_a));
	assert_null(igvm_page_bytes(&f, &f.headers[H_PAGE_ZERO]));
	assert_int_equal(f.headers[H_VP0].length, 20);
	assert_int_equal(f.headers[H_VP0].u.vp.register_count, 4);
	assert_int_equal(f.headers[H_REQ_MEM].u.mem.number_of_bytes, 0x200000);
	igvm_free(&f);
	free(b);
}

static void test_queries(void **state)
{
	struct igvm_file f;
	struct igvm_vp_regs r;
	const struct igvm_header *h = NULL;
	uint8_t *b;
	size_t len;
	int pages = 0;

	(void)state;
	build_base(&b, &len);
	assert_int_equal(igvm_parse(b, len, &f, NULL), IGVM_OK);
	while ((h = igvm_next(&f, h, IGVM_VHT_PAGE_DATA)))
		pages++;
	assert_int_equal(pages, 3);
	assert_ptr_equal(igvm_find_area(&f, 1), &f.headers[H_AREA1]);
	assert_ptr_equal(igvm_find_insert(&f, 1), &f.headers[H_INSERT1]);
	assert_int_equal(igvm_find_insert(&f, 1)->u.insert.gpa, 0xB000);
	assert_null(igvm_find_area(&f, 9));
	assert_ptr_equal(igvm_find_param(&f, IGVM_VHT_MEMORY_MAP),
			 &f.headers[H_MEMMAP]);
	assert_int_equal(igvm_vp_regs(&f, 0, &r), IGVM_OK);
	assert_int_equal(r.rip, 0x100000);
	assert_int_equal(r.cr0, 0x80050033);
	assert_int_equal(r.cs.attributes, 0xA09B);
	assert_int_equal(r.cs.selector, 8);
	assert_int_equal(r.cs.limit, 0xFFFFFFFF);
	assert_int_equal(r.gdtr.base, 0x1000);
	assert_int_equal(r.gdtr.limit, 0x27);
	assert_true(r.present & (1u << IGVM_VPR_CS));
	assert_false(r.present & (1u << IGVM_VPR_RSP));
	assert_int_equal(igvm_vp_regs(&f, 7, &r), IGVM_ERR_INVALID_ARG);
	/* Native contexts are opaque: no VBS registers for VP 1. */
	assert_false(f.headers[H_VPN1].u.vp.vbs);
	assert_int_equal(f.headers[H_VPN1].u.vp.data_size, IGVM_PAGE_SIZE);
	assert_int_equal(igvm_vp_regs(&f, 1, &r), IGVM_ERR_INVALID_ARG);
	igvm_free(&f);
	free(b);
}

static void test_error_format(void **state)
{
	struct igvm_error e = { IGVM_ERR_GPA_ALIGN, 5, 0x58, IGVM_VHT_PAGE_DATA,
				"gpa" };
	char msg[256];

	(void)state;
	igvm_error_format(&e, msg, sizeof(msg));
	assert_string_equal(msg, "header 5 (PAGE_DATA, type 0x302) at offset "
				 "0x58, field gpa: gpa not page aligned");
	for (int i = 0; i < IGVM_ERR_COUNT; i++)
		assert_string_not_equal(igvm_strerror(i), "unknown error");
}

static void test_reject_truncated(void **state)
{
	uint8_t *b;
	size_t len;

	(void)state;
	build_base(&b, &len);
	expect(b, 20, false, IGVM_ERR_TRUNCATED, -1, NULL);
}

static void test_reject_magic(void **state)
{
	uint8_t *b;
	size_t len;

	(void)state;
	build_base(&b, &len);
	b[0] ^= 1;
	expect(b, len, true, IGVM_ERR_MAGIC, -1, "magic");
}

static void test_reject_version(void **state)
{
	uint8_t *b;
	size_t len;

	(void)state;
	build_base(&b, &len);
	put_le32(b + 4, 2);
	expect(b, len, false, IGVM_ERR_VERSION, -1, "format_version");
}

static void test_reject_fixed_bounds(void **state)
{
	uint8_t *b;
	size_t len;

	(void)state;
	build_base(&b, &len);
	put_le32(b + 12, (uint32_t)len);
	expect(b, len, false, IGVM_ERR_FIXED_BOUNDS, -1,
	       "variable_header_size");
	build_base(&b, &len);
	put_le32(b + 8, (uint32_t)len + 8);
	expect(b, len, false, IGVM_ERR_FIXED_BOUNDS, -1,
	       "variable_header_offset");
}

static void test_reject_total_size(void **state)
{
	uint8_t *b;
	size_t len;

	(void)state;
	build_base(&b, &len);
	put_le32(b + 16, (uint32_t)len + 1);
	expect(b, len, true, IGVM_ERR_TOTAL_SIZE, -1, "total_file_size");
	build_base(&b, &len);
	expect(b, len - 1, false, IGVM_ERR_TOTAL_SIZE, -1, "total_file_size");
}

static void test_reject_checksum(void **state)
{
	uint8_t *b;
	size_t len;

	(void)state;
	build_base(&b, &len);
	b[hdr_off(b, len, H_PAGE_A) + C(0)] ^= 0x10;
	expect(b, len, false, IGVM_ERR_CHECKSUM, -1, "checksum");
}

static void test_reject_header_length(void **state)
{
	(void)state;
	/* PAGE_DATA declared as 16 bytes: its last 8 are now zero padding. */
	hdr32(H_PAGE_ZERO, 4, 16, IGVM_ERR_HEADER_LENGTH, "length");
}

static void test_reject_header_bounds(void **state)
{
	(void)state;
	hdr32(H_VPN1, 4, 0x1000, IGVM_ERR_HEADER_BOUNDS, "length");
}

static void test_reject_padding(void **state)
{
	(void)state;
	/* VP_CONTEXT: 20 bytes padded to 24. */
	hdr8(H_VP0, C(22), 1, IGVM_ERR_PADDING, "padding");
}

static void test_reject_reserved(void **state)
{
	(void)state;
	hdr16(H_PAGE_A, C(22), 1, IGVM_ERR_RESERVED, "reserved");
	hdr16(H_VP0, C(18), 1, IGVM_ERR_RESERVED, "reserved");
	hdr32(H_POLICY, C(12), 1, IGVM_ERR_RESERVED, "reserved");
	hdr32(H_REQ_MEM, C(20), 1, IGVM_ERR_RESERVED, "reserved");
	hdr32(H_REQ_MEM, C(16), 3, IGVM_ERR_RESERVED, "flags");
}

static void test_reject_register_mbz(void **state)
{
	uint8_t *b;
	size_t len;

	(void)state;
	build_base(&b, &len);
	b[data_off(b, len, H_VP0) + 4 + 32 + 9] = 1;
	expect(b, len, true, IGVM_ERR_RESERVED, H_VP0, "register mbz");
}

static void test_reject_section_order(void **state)
{
	(void)state;
	/* A 16-byte directive turned into an initialization header. */
	hdr32(H_INSERT1, 0, IGVM_VHT_GUEST_POLICY, IGVM_ERR_SECTION_ORDER,
	      "type");
}

static void test_reject_unknown_type(void **state)
{
	(void)state;
	hdr32(H_INSERT1, 0, 0x3FF, IGVM_ERR_UNKNOWN_TYPE, "type");
}

static void test_reject_type_range(void **state)
{
	(void)state;
	hdr32(H_INSERT1, 0, 0x80000250, IGVM_ERR_TYPE_RANGE, "type");
	hdr32(H_INSERT1, 0, 0x80000000, IGVM_ERR_TYPE_RANGE, "type");
	hdr32(H_INSERT1, 0, 0x401, IGVM_ERR_TYPE_RANGE, "type");
}

static void test_reject_unsupported(void **state)
{
	(void)state;
	hdr32(H_POLICY, 0, IGVM_VHT_RELOCATABLE_REGION, IGVM_ERR_UNSUPPORTED,
	      "type");
	hdr32(H_POLICY, 0, IGVM_VHT_PAGE_TABLE_RELOCATION, IGVM_ERR_UNSUPPORTED,
	      "type");
}

static void test_reject_gpa_align(void **state)
{
	(void)state;
	hdr32(H_PAGE_A, C(0), 0x100800, IGVM_ERR_GPA_ALIGN, "gpa");
	hdr32(H_INSERT0, C(0), 0x9010, IGVM_ERR_GPA_ALIGN, "gpa");
	hdr32(H_REQ_MEM, C(0), 0xE00100, IGVM_ERR_GPA_ALIGN, "gpa");
}

static void test_reject_size_align(void **state)
{
	(void)state;
	hdr32(H_AREA0, C(0), 0x1800, IGVM_ERR_SIZE_ALIGN, "number_of_bytes");
	hdr32(H_REQ_MEM, C(12), 0x1001, IGVM_ERR_SIZE_ALIGN, "number_of_bytes");
}

static void test_reject_area_size(void **state)
{
	(void)state;
	hdr32(H_AREA0, C(0), 0, IGVM_ERR_AREA_SIZE, "number_of_bytes");
}

static void test_reject_data_bounds(void **state)
{
	uint8_t *b;
	size_t len;

	(void)state;
	build_base(&b, &len);
	put_le32(b + hdr_off(b, len, H_PAGE_A) + C(12), (uint32_t)len - 100);
	expect(b, len, true, IGVM_ERR_DATA_BOUNDS, H_PAGE_A, "file_offset");
	build_base(&b, &len);
	put_le32(b + hdr_off(b, len, H_VP0) + C(12), (uint32_t)len - 2);
	expect(b, len, true, IGVM_ERR_DATA_BOUNDS, H_VP0, "file_offset");
}

static void test_reject_data_overlap(void **state)
{
	(void)state;
	hdr32(H_PAGE_A, C(12), 24, IGVM_ERR_DATA_OVERLAP, "file_offset");
	hdr32(H_VP0, C(12), 8, IGVM_ERR_DATA_OVERLAP, "file_offset");
}

static void test_reject_large_page(void **state)
{
	(void)state;
	hdr32(H_PAGE_A, C(16), IGVM_PAGE_FLAG_2MB, IGVM_ERR_LARGE_PAGE_DATA,
	      "file_offset");
}

static void test_reject_page_flags(void **state)
{
	(void)state;
	hdr32(H_PAGE_A, C(16), 8, IGVM_ERR_PAGE_FLAGS, "flags");
}

static void test_reject_data_type(void **state)
{
	(void)state;
	hdr16(H_PAGE_A, C(20), 4, IGVM_ERR_DATA_TYPE, "data_type");
}

static void test_reject_area_undeclared(void **state)
{
	(void)state;
	hdr32(H_CMDLINE, C(0), 7, IGVM_ERR_AREA_UNDECLARED,
	      "parameter_area_index");
	/* Area 2 is declared only after MEMORY_MAP. */
	hdr32(H_MEMMAP, C(0), 2, IGVM_ERR_AREA_UNDECLARED,
	      "parameter_area_index");
	hdr32(H_INSERT0, C(12), 7, IGVM_ERR_AREA_UNDECLARED,
	      "parameter_area_index");
}

static void test_reject_area_inserted(void **state)
{
	(void)state;
	hdr32(H_VP_COUNT, C(0), 0, IGVM_ERR_AREA_INSERTED,
	      "parameter_area_index");
	/* A second insert of area 0. */
	hdr32(H_INSERT1, C(12), 0, IGVM_ERR_AREA_INSERTED,
	      "parameter_area_index");
}

static void test_reject_area_duplicate(void **state)
{
	(void)state;
	hdr32(H_AREA2, C(8), 1, IGVM_ERR_AREA_DUPLICATE,
	      "parameter_area_index");
	/* Re-declaring an inserted index is a duplicate too. */
	hdr32(H_AREA2, C(8), 0, IGVM_ERR_AREA_DUPLICATE,
	      "parameter_area_index");
}

static void test_reject_param_offset(void **state)
{
	(void)state;
	hdr32(H_MEMMAP, C(4), 0x2000, IGVM_ERR_PARAM_OFFSET, "byte_offset");
}

static void test_reject_vp_duplicate(void **state)
{
	(void)state;
	hdr16(H_VPN1, C(16), 0, IGVM_ERR_VP_DUPLICATE, "vp_index");
}

static void test_reject_compat_mask(void **state)
{
	(void)state;
	hdr32(H_PAGE_A, C(8), 4, IGVM_ERR_COMPAT_MASK, "compatibility_mask");
	hdr32(H_PAGE_A, C(8), 0, IGVM_ERR_COMPAT_MASK, "compatibility_mask");
	hdr32(H_VP0, C(8), 5, IGVM_ERR_COMPAT_MASK, "compatibility_mask");
	hdr32(H_INSERT0, C(8), 8, IGVM_ERR_COMPAT_MASK, "compatibility_mask");
	hdr32(H_REQ_MEM, C(8), 0, IGVM_ERR_COMPAT_MASK, "compatibility_mask");
	hdr32(H_POLICY, C(8), 4, IGVM_ERR_COMPAT_MASK, "compatibility_mask");
}

static void test_reject_platform_mask(void **state)
{
	(void)state;
	hdr32(H_PLAT_VSM, C(0), 3, IGVM_ERR_PLATFORM_MASK,
	      "compatibility_mask");
	hdr32(H_PLAT_VSM, C(0), 0, IGVM_ERR_PLATFORM_MASK,
	      "compatibility_mask");
	hdr32(H_PLAT_NATIVE, C(0), 1, IGVM_ERR_PLATFORM_MASK,
	      "compatibility_mask");
}

static void test_reject_platform_type(void **state)
{
	(void)state;
	hdr8(H_PLAT_VSM, C(5), 4, IGVM_ERR_PLATFORM_TYPE, "platform_type");
}

static void test_reject_platform_version(void **state)
{
	(void)state;
	hdr16(H_PLAT_VSM, C(6), 2, IGVM_ERR_PLATFORM_VERSION,
	      "platform_version");
}

static void test_reject_vp_register(void **state)
{
	static const uint32_t bad[] = { 0x00020000, 0x00020007, 0x0002000D,
					0x00060006, 0x00040004, 0 };
	uint8_t *b;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		build_base(&b, &len);
		put_le32(b + data_off(b, len, H_VP0) + 4 + 32 + 1, bad[i]);
		expect(b, len, true, IGVM_ERR_VP_REGISTER, H_VP0,
		       "register_name");
	}
}

static void test_reject_vp_context(void **state)
{
	uint8_t *b;
	size_t len;

	(void)state;
	build_base(&b, &len);
	put_le32(b + data_off(b, len, H_VP0), 1000);
	expect(b, len, true, IGVM_ERR_VP_CONTEXT, H_VP0, "register_count");
	build_base(&b, &len);
	b[data_off(b, len, H_VP0) + 4 + 32] = 2; /* second entry's VTL */
	expect(b, len, true, IGVM_ERR_VP_CONTEXT, H_VP0, "vtl");
	hdr32(H_VP0, C(12), 0, IGVM_ERR_VP_CONTEXT, "file_offset");
	hdr16(H_VP0, C(16), 3, IGVM_ERR_VP_CONTEXT, "vp_index");
	build_base(&b, &len);
	put_le32(b + data_off(b, len, H_VP0), 0);
	expect(b, len, true, IGVM_ERR_VP_CONTEXT, H_VP0, "register_count");
	build_base(&b, &len);
	b[data_off(b, len, H_VP0) + 4] = 3; /* first entry's VTL */
	expect(b, len, true, IGVM_ERR_VP_CONTEXT, H_VP0, "vtl");
	/* An opaque context must have its 4 KiB in the file. */
	build_base(&b, &len);
	put_le32(b + hdr_off(b, len, H_VPN1) + C(12), (uint32_t)len - 4000);
	expect(b, len, true, IGVM_ERR_DATA_BOUNDS, H_VPN1, "file_offset");
}

static void test_reject_platform_vtl(void **state)
{
	(void)state;
	hdr8(H_PLAT_VSM, C(4), 1, IGVM_ERR_PLATFORM_VTL, "highest_vtl");
}

static void test_reject_shared_boundary(void **state)
{
	(void)state;
	hdr32(H_PLAT_VSM, C(8), 0x1000, IGVM_ERR_SHARED_BOUNDARY,
	      "shared_gpa_boundary");
}

static void test_reject_no_platform(void **state)
{
	struct igvm_writer w;
	uint8_t *b;
	size_t len;

	(void)state;
	igvm_writer_init(&w);
	assert_int_equal(igvm_writer_finish(&w, &b, &len), IGVM_OK);
	igvm_writer_free(&w);
	expect(b, len, false, IGVM_ERR_NO_PLATFORM, -1, NULL);
}

static void test_reject_platform_duplicate(void **state)
{
	(void)state;
	hdr8(H_PLAT_NATIVE, C(5), IGVM_PLATFORM_VSM_ISOLATION,
	     IGVM_ERR_PLATFORM_DUPLICATE, "platform_type");
}

/* Optional unknown headers are skipped; bit 31 on a known type decodes. */
static void test_optional_headers(void **state)
{
	struct igvm_platform vsm = { 1, 2, IGVM_PLATFORM_VSM_ISOLATION, 1, 0 };
	struct igvm_writer w;
	struct igvm_file f;
	uint8_t junk[5] = { 1, 2, 3, 4, 5 };
	uint8_t *b;
	size_t len;

	(void)state;
	igvm_writer_init(&w);
	igvm_write_platform(&w, &vsm);
	igvm_write_raw(&w, 0x80000350, junk, sizeof(junk));
	igvm_write_page(&w, 0x1000, 1, 0, 0, page_a);
	assert_int_equal(igvm_writer_finish(&w, &b, &len), IGVM_OK);
	igvm_writer_free(&w);
	assert_int_equal(igvm_parse(b, len, &f, NULL), IGVM_OK);
	assert_int_equal(f.n_headers, 3);
	assert_true(f.headers[1].skipped);
	assert_ptr_equal(igvm_next(&f, &f.headers[0], 0), &f.headers[2]);
	igvm_free(&f);
	free(b);
}

/* Only platform, pages, VP context, directives in a foreign order. */
static void test_foreign_order(void **state)
{
	struct igvm_platform vsm = { 1, 2, IGVM_PLATFORM_VSM_ISOLATION, 1, 0 };
	struct igvm_vbs_reg r[4];
	struct igvm_writer w;
	struct igvm_file f;
	uint8_t *b;
	size_t len;

	(void)state;
	regs_vp(r, 0x1000);
	igvm_writer_init(&w);
	igvm_write_vp_context(&w, 0, 1, 0, r, 4);
	igvm_write_page(&w, 0x2000, 1, 0, 0, page_a);
	igvm_write_page(&w, 0x1000, 1, 0, 0, page_c);
	igvm_write_platform(&w, &vsm);
	assert_int_equal(igvm_writer_finish(&w, &b, &len), IGVM_OK);
	igvm_writer_free(&w);
	assert_int_equal(igvm_parse(b, len, &f, NULL), IGVM_OK);
	assert_int_equal(f.headers[1].type, IGVM_VHT_VP_CONTEXT);
	assert_null(igvm_find_area(&f, 0));
	igvm_free(&f);
	free(b);
}

static void measure_buf(uint8_t *b, size_t len, uint8_t out[32])
{
	struct igvm_file f;

	assert_int_equal(igvm_fix_checksum(b, len), IGVM_OK);
	assert_int_equal(igvm_parse(b, len, &f, NULL), IGVM_OK);
	assert_int_equal(igvm_measure(&f, out), IGVM_OK);
	igvm_free(&f);
}

/* Measurement of the base image after flipping bits at off (xor). */
static void measure_mutated(uint32_t off, uint8_t x, uint8_t out[32])
{
	uint8_t *b;
	size_t len;

	build_base(&b, &len);
	b[off] ^= x;
	measure_buf(b, len, out);
	free(b);
}

static void test_measurement(void **state)
{
	uint8_t m0[32], m1[32];
	uint8_t *b;
	size_t len;
	uint32_t pa, pc, pz, vp;

	(void)state;
	build_base(&b, &len);
	pa = hdr_off(b, len, H_PAGE_A) + 8;
	pz = hdr_off(b, len, H_PAGE_ZERO) + 8;
	pc = data_off(b, len, H_PAGE_UNMEASURED);
	vp = data_off(b, len, H_VP0);
	measure_buf(b, len, m0);
	free(b);
	measure_mutated(0, 0, m1); /* same input, same value */
	assert_memory_equal(m0, m1, 32);
	measure_mutated(pa + 1, 0x10, m1); /* gpa */
	assert_memory_not_equal(m0, m1, 32);
	measure_mutated(pz + 1, 0x20, m1); /* zero page gpa */
	assert_memory_not_equal(m0, m1, 32);
	measure_mutated(pa + 16, IGVM_PAGE_FLAG_SHARED, m1); /* flags */
	assert_memory_not_equal(m0, m1, 32);
	measure_mutated(pa + 20, 1, m1); /* data type */
	assert_memory_not_equal(m0, m1, 32);
	build_base(&b, &len);
	measure_mutated(data_off(b, len, H_PAGE_A) + 4095, 1, m1);
	free(b);
	assert_memory_not_equal(m0, m1, 32);
	measure_mutated(vp + 4 + 16, 1, m1); /* rip value */
	assert_memory_not_equal(m0, m1, 32);
	build_base(&b, &len);
	measure_mutated(data_off(b, len, H_VPN0) + 7, 1, m1); /* opaque VP */
	free(b);
	assert_memory_not_equal(m0, m1, 32);
	measure_mutated(pc + 100, 0xFF, m1); /* unmeasured page contents */
	assert_memory_equal(m0, m1, 32);
}

/* The digest itself: one page's record (igvm_measure() in igvm.h) is
 * 'P', gpa, flags, data type, then its 4096 bytes; the expected SHA-256
 * of that stream was computed apart (Python's hashlib). */
static void test_measurement_known_answer(void **state)
{
	static const uint8_t want[32] = {
		0x11, 0x8f, 0xdf, 0x56, 0x9a, 0xa4, 0x60, 0xb0,
		0xb7, 0xf3, 0x41, 0xff, 0xb5, 0x53, 0x8c, 0x36,
		0xe3, 0xbc, 0x04, 0x15, 0x0c, 0x48, 0xe4, 0x4d,
		0x71, 0x76, 0xb7, 0x7c, 0x6c, 0xf1, 0xd4, 0xdc,
	};
	struct igvm_platform vsm = { 1, 2, IGVM_PLATFORM_VSM_ISOLATION, 1, 0 };
	static uint8_t page[4096];
	struct igvm_writer w;
	uint8_t got[32];
	uint8_t *b;
	size_t len;

	(void)state;
	memset(page, 0xab, sizeof(page));
	igvm_writer_init(&w);
	igvm_write_platform(&w, &vsm);
	igvm_write_page(&w, 0x1000, 1, 0, 0, page);
	assert_int_equal(igvm_writer_finish(&w, &b, &len), IGVM_OK);
	igvm_writer_free(&w);
	measure_buf(b, len, got);
	free(b);
	assert_memory_equal(got, want, sizeof(want));
}

/* An unmeasured page's gpa does not count either; marking a page
 * unmeasured changes the measurement. */
static void test_measurement_unmeasured(void **state)
{
	uint8_t m0[32], m1[32];
	uint8_t *b;
	size_t len;
	uint32_t pc, pa;

	(void)state;
	build_base(&b, &len);
	pc = hdr_off(b, len, H_PAGE_UNMEASURED) + 8;
	pa = hdr_off(b, len, H_PAGE_A) + 8;
	measure_buf(b, len, m0);
	free(b);
	measure_mutated(pc + 2, 0x10, m1);
	assert_memory_equal(m0, m1, 32);
	measure_mutated(pa + 16, IGVM_PAGE_FLAG_UNMEASURED, m1);
	assert_memory_not_equal(m0, m1, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_queries),
		cmocka_unit_test(test_error_format),
		cmocka_unit_test(test_reject_truncated),
		cmocka_unit_test(test_reject_magic),
		cmocka_unit_test(test_reject_version),
		cmocka_unit_test(test_reject_fixed_bounds),
		cmocka_unit_test(test_reject_total_size),
		cmocka_unit_test(test_reject_checksum),
		cmocka_unit_test(test_reject_header_length),
		cmocka_unit_test(test_reject_header_bounds),
		cmocka_unit_test(test_reject_padding),
		cmocka_unit_test(test_reject_reserved),
		cmocka_unit_test(test_reject_register_mbz),
		cmocka_unit_test(test_reject_section_order),
		cmocka_unit_test(test_reject_unknown_type),
		cmocka_unit_test(test_reject_type_range),
		cmocka_unit_test(test_reject_unsupported),
		cmocka_unit_test(test_reject_gpa_align),
		cmocka_unit_test(test_reject_size_align),
		cmocka_unit_test(test_reject_area_size),
		cmocka_unit_test(test_reject_data_bounds),
		cmocka_unit_test(test_reject_data_overlap),
		cmocka_unit_test(test_reject_large_page),
		cmocka_unit_test(test_reject_page_flags),
		cmocka_unit_test(test_reject_data_type),
		cmocka_unit_test(test_reject_area_undeclared),
		cmocka_unit_test(test_reject_area_inserted),
		cmocka_unit_test(test_reject_area_duplicate),
		cmocka_unit_test(test_reject_param_offset),
		cmocka_unit_test(test_reject_vp_duplicate),
		cmocka_unit_test(test_reject_compat_mask),
		cmocka_unit_test(test_reject_platform_mask),
		cmocka_unit_test(test_reject_platform_type),
		cmocka_unit_test(test_reject_platform_version),
		cmocka_unit_test(test_reject_vp_register),
		cmocka_unit_test(test_reject_vp_context),
		cmocka_unit_test(test_reject_platform_vtl),
		cmocka_unit_test(test_reject_shared_boundary),
		cmocka_unit_test(test_reject_platform_duplicate),
		cmocka_unit_test(test_reject_no_platform),
		cmocka_unit_test(test_optional_headers),
		cmocka_unit_test(test_foreign_order),
		cmocka_unit_test(test_measurement),
		cmocka_unit_test(test_measurement_known_answer),
		cmocka_unit_test(test_measurement_unmeasured),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
