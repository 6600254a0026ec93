/* IGVM parser: validates a whole image (every rule of IGVM.md) before
 * anyone uses it, and decodes its headers. Never prints, never exits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "boot/igvm.h"
#include "boot/igvm_util.h"

enum section { SEC_PLATFORM, SEC_INIT, SEC_DIRECTIVE };

/* A declared parameter area and whether it has been inserted. */
struct area_state {
	uint32_t index;
	uint64_t size;
	bool inserted;
};

/* Working state of one parse. */
struct parser {
	const uint8_t *buf;
	size_t len;
	uint32_t hdr_end; /* end of the variable header area */
	struct igvm_file *f;
	struct igvm_error *err;
	struct igvm_header *cur;
	enum section section;
	struct area_state areas[IGVM_MAX_AREAS];
	uint32_t n_areas;
	uint8_t *vp_seen[32]; /* per platform bit: bitmap of VP indexes */
	uint32_t vsm_mask;    /* platform bit of VSM isolation, if any */
	uint32_t type_seen;   /* bit per platform_type declared */
};

static const char *const err_text[IGVM_ERR_COUNT] = {
	[IGVM_OK] = "success",
	[IGVM_ERR_TRUNCATED] = "file shorter than the fixed header",
	[IGVM_ERR_MAGIC] = "bad magic",
	[IGVM_ERR_VERSION] = "unknown format version",
	[IGVM_ERR_FIXED_BOUNDS] = "variable headers run past the file",
	[IGVM_ERR_TOTAL_SIZE] = "total_file_size does not match the file",
	[IGVM_ERR_CHECKSUM] = "checksum mismatch",
	[IGVM_ERR_HEADER_LENGTH] = "header length wrong for its type",
	[IGVM_ERR_HEADER_BOUNDS] = "header runs past the variable headers",
	[IGVM_ERR_PADDING] = "non-zero header padding",
	[IGVM_ERR_RESERVED] = "reserved field not zero",
	[IGVM_ERR_SECTION_ORDER] = "header out of section order",
	[IGVM_ERR_UNKNOWN_TYPE] = "unknown header type",
	[IGVM_ERR_TYPE_RANGE] = "header type outside every section",
	[IGVM_ERR_UNSUPPORTED] = "unsupported header (relocation)",
	[IGVM_ERR_GPA_ALIGN] = "gpa not page aligned",
	[IGVM_ERR_SIZE_ALIGN] = "size not a multiple of 4 KiB",
	[IGVM_ERR_DATA_BOUNDS] = "file data runs past the file",
	[IGVM_ERR_DATA_OVERLAP] = "file data overlaps the headers",
	[IGVM_ERR_LARGE_PAGE_DATA] = "2 MiB page data not in the file",
	[IGVM_ERR_PAGE_FLAGS] = "unknown page flags",
	[IGVM_ERR_DATA_TYPE] = "unknown page data type",
	[IGVM_ERR_AREA_UNDECLARED] = "parameter area not declared",
	[IGVM_ERR_AREA_INSERTED] = "parameter area used after its insert",
	[IGVM_ERR_AREA_DUPLICATE] = "parameter area index declared twice",
	[IGVM_ERR_VP_DUPLICATE] = "second VP context for a VP index",
	[IGVM_ERR_COMPAT_MASK] = "compatibility mask names no declared "
				 "platform",
	[IGVM_ERR_PLATFORM_MASK] = "platform mask not exactly one new bit",
	[IGVM_ERR_PLATFORM_TYPE] = "unknown platform type",
	[IGVM_ERR_PLATFORM_VERSION] = "unknown platform version",
	[IGVM_ERR_VP_REGISTER] = "unsupported register in VP context",
	[IGVM_ERR_VP_CONTEXT] = "malformed VP context register list",
	[IGVM_ERR_AREA_SIZE] = "parameter area size zero or too large",
	[IGVM_ERR_PARAM_OFFSET] = "parameter offset past its area",
	[IGVM_ERR_LIMIT] = "too many headers or parameter areas",
	[IGVM_ERR_PLATFORM_VTL] = "highest_vtl must be 0 or 2",
	[IGVM_ERR_SHARED_BOUNDARY] = "shared_gpa_boundary must be 0 for "
				     "native and VSM platforms",
	[IGVM_ERR_PLATFORM_DUPLICATE] = "platform type declared twice",
	[IGVM_ERR_NO_PLATFORM] = "no SUPPORTED_PLATFORM header",
	[IGVM_ERR_NO_MEMORY] = "out of memory",
	[IGVM_ERR_INVALID_ARG] = "invalid argument",
};

const char *igvm_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err >= IGVM_ERR_COUNT || !err_text[err])
		return "unknown error";
	return err_text[err];
}

const char *igvm_type_name(uint32_t type)
{
	switch (type & ~IGVM_VHT_OPTIONAL) {
	case IGVM_VHT_SUPPORTED_PLATFORM:
		return "SUPPORTED_PLATFORM";
	case IGVM_VHT_GUEST_POLICY:
		return "GUEST_POLICY";
	case IGVM_VHT_RELOCATABLE_REGION:
		return "RELOCATABLE_REGION";
	case IGVM_VHT_PAGE_TABLE_RELOCATION:
		return "PAGE_TABLE_RELOCATION";
	case IGVM_VHT_PARAMETER_AREA:
		return "PARAMETER_AREA";
	case IGVM_VHT_PAGE_DATA:
		return "PAGE_DATA";
	case IGVM_VHT_PARAMETER_INSERT:
		return "PARAMETER_INSERT";
	case IGVM_VHT_VP_CONTEXT:
		return "VP_CONTEXT";
	case IGVM_VHT_REQUIRED_MEMORY:
		return "REQUIRED_MEMORY";
	case IGVM_VHT_VP_COUNT:
		return "VP_COUNT";
	case IGVM_VHT_SRAT:
		return "SRAT";
	case IGVM_VHT_MADT:
		return "MADT";
	case IGVM_VHT_MMIO_RANGES:
		return "MMIO_RANGES";
	case IGVM_VHT_MEMORY_MAP:
		return "MEMORY_MAP";
	case IGVM_VHT_COMMAND_LINE:
		return "COMMAND_LINE";
	case IGVM_VHT_DEVICE_TREE:
		return "DEVICE_TREE";
	case IGVM_VHT_ENVIRONMENT_INFO:
		return "ENVIRONMENT_INFO";
	}
	return "UNKNOWN";
}

void igvm_error_format(const struct igvm_error *err, char *out, size_t len)
{
	const char *what = igvm_strerror(err->code);

	if (err->index < 0)
		snprintf(out, len, "fixed header, field %s: %s",
			 err->field ? err->field : "?", what);
	else
		snprintf(out, len,
			 "header %d (%s, type 0x%x) at offset 0x%x, field "
			 "%s: %s",
			 err->index, igvm_type_name(err->type), err->type,
			 err->offset, err->field ? err->field : "?", what);
}

uint32_t igvm_crc32(const void *buf, size_t len)
{
	uLong crc = crc32(0L, Z_NULL, 0);
	const Bytef *p = buf;

	while (len > 0) {
		uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;

		crc = crc32(crc, p, chunk);
		p += chunk;
		len -= chunk;
	}
	return (uint32_t)crc;
}

/* CRC of the fixed header (checksum field as 0) and the variable headers;
 * the caller has checked that both lie inside buf. */
static uint32_t image_checksum(const uint8_t *buf, uint32_t vho, uint32_t vhs)
{
	uint8_t fixed[IGVM_FIXED_HEADER_SIZE];
	uLong crc = crc32(0L, Z_NULL, 0);

	memcpy(fixed, buf, sizeof(fixed));
	memset(fixed + 20, 0, 4);
	crc = crc32(crc, fixed, sizeof(fixed));
	crc = crc32(crc, buf + vho, vhs);
	return (uint32_t)crc;
}

static int fail(struct parser *p, enum igvm_err code, const char *field)
{
	if (p->err) {
		p->err->code = code;
		p->err->field = field;
		if (p->cur) {
			p->err->index = (int32_t)p->cur->index;
			p->err->offset = p->cur->offset;
			p->err->type = p->cur->type;
		} else {
			p->err->index = -1;
			p->err->offset = 0;
			p->err->type = 0;
		}
	}
	return code;
}

static int parse_fixed(struct parser *p)
{
	struct igvm_fixed_header *fh = &p->f->fixed;
	const uint8_t *b = p->buf;

	if (p->len < IGVM_FIXED_HEADER_SIZE)
		return fail(p, IGVM_ERR_TRUNCATED, "magic");
	fh->magic = get_le32(b);
	fh->format_version = get_le32(b + 4);
	fh->variable_header_offset = get_le32(b + 8);
	fh->variable_header_size = get_le32(b + 12);
	fh->total_file_size = get_le32(b + 16);
	fh->checksum = get_le32(b + 20);
	if (fh->magic != IGVM_MAGIC)
		return fail(p, IGVM_ERR_MAGIC, "magic");
	if (fh->format_version != IGVM_FORMAT_VERSION)
		return fail(p, IGVM_ERR_VERSION, "format_version");
	if (fh->total_file_size != p->len)
		return fail(p, IGVM_ERR_TOTAL_SIZE, "total_file_size");
	if (fh->variable_header_offset < IGVM_FIXED_HEADER_SIZE ||
	    fh->variable_header_offset > p->len)
		return fail(p, IGVM_ERR_FIXED_BOUNDS, "variable_header_offset");
	if (fh->variable_header_size > p->len - fh->variable_header_offset)
		return fail(p, IGVM_ERR_FIXED_BOUNDS, "variable_header_size");
	if (image_checksum(b, fh->variable_header_offset,
			   fh->variable_header_size) != fh->checksum)
		return fail(p, IGVM_ERR_CHECKSUM, "checksum");
	p->hdr_end = fh->variable_header_offset + fh->variable_header_size;
	return IGVM_OK;
}

/* Checks that [off, off + size) is file data: after the headers and
 * inside the file. */
static int check_data(struct parser *p, uint64_t off, uint64_t size,
		      enum igvm_err past_end, const char *field)
{
	if (off < p->hdr_end)
		return fail(p, IGVM_ERR_DATA_OVERLAP, field);
	if (size > p->len || off > p->len - size)
		return fail(p, past_end, field);
	return IGVM_OK;
}

static int check_mask(struct parser *p, uint32_t mask)
{
	if (mask == 0 || (mask & ~p->f->platform_mask) != 0)
		return fail(p, IGVM_ERR_COMPAT_MASK, "compatibility_mask");
	return IGVM_OK;
}

static int parse_platform(struct parser *p, const uint8_t *c)
{
	struct igvm_platform *pl = &p->cur->u.platform;
	int bit;

	pl->compatibility_mask = get_le32(c);
	pl->highest_vtl = c[4];
	pl->platform_type = c[5];
	pl->platform_version = get_le16(c + 6);
	pl->shared_gpa_boundary = get_le64(c + 8);
	if (__builtin_popcount(pl->compatibility_mask) != 1 ||
	    (pl->compatibility_mask & p->f->platform_mask))
		return fail(p, IGVM_ERR_PLATFORM_MASK, "compatibility_mask");
	if (pl->platform_type > IGVM_PLATFORM_TDX)
		return fail(p, IGVM_ERR_PLATFORM_TYPE, "platform_type");
	if (pl->platform_version != 1)
		return fail(p, IGVM_ERR_PLATFORM_VERSION, "platform_version");
	if (pl->highest_vtl != 0 && pl->highest_vtl != 2)
		return fail(p, IGVM_ERR_PLATFORM_VTL, "highest_vtl");
	if (pl->shared_gpa_boundary != 0 &&
	    (pl->platform_type == IGVM_PLATFORM_NATIVE ||
	     pl->platform_type == IGVM_PLATFORM_VSM_ISOLATION))
		return fail(p, IGVM_ERR_SHARED_BOUNDARY, "shared_gpa_boundary");
	if (p->type_seen & (1u << pl->platform_type))
		return fail(p, IGVM_ERR_PLATFORM_DUPLICATE, "platform_type");
	p->type_seen |= 1u << pl->platform_type;
	if (pl->platform_type == IGVM_PLATFORM_VSM_ISOLATION)
		p->vsm_mask = pl->compatibility_mask;
	bit = __builtin_ctz(pl->compatibility_mask);
	p->vp_seen[bit] = calloc(1, 65536 / 8);
	if (!p->vp_seen[bit])
		return fail(p, IGVM_ERR_NO_MEMORY, "compatibility_mask");
	p->f->platform_mask |= pl->compatibility_mask;
	return IGVM_OK;
}

static int parse_policy(struct parser *p, const uint8_t *c)
{
	struct igvm_guest_policy *gp = &p->cur->u.policy;

	gp->policy = get_le64(c);
	gp->compatibility_mask = get_le32(c + 8);
	if (get_le32(c + 12) != 0)
		return fail(p, IGVM_ERR_RESERVED, "reserved");
	return check_mask(p, gp->compatibility_mask);
}

static struct area_state *find_area(struct parser *p, uint32_t index)
{
	for (uint32_t i = 0; i < p->n_areas; i++)
		if (p->areas[i].index == index)
			return &p->areas[i];
	return NULL;
}

static int parse_area(struct parser *p, const uint8_t *c)
{
	struct igvm_param_area *a = &p->cur->u.area;
	struct area_state *st;
	int rc;

	a->number_of_bytes = get_le64(c);
	a->parameter_area_index = get_le32(c + 8);
	a->file_offset = get_le32(c + 12);
	if (find_area(p, a->parameter_area_index))
		return fail(p, IGVM_ERR_AREA_DUPLICATE, "parameter_area_index");
	if (a->number_of_bytes % IGVM_PAGE_SIZE)
		return fail(p, IGVM_ERR_SIZE_ALIGN, "number_of_bytes");
	if (a->number_of_bytes == 0 || a->number_of_bytes > IGVM_MAX_AREA_SIZE)
		return fail(p, IGVM_ERR_AREA_SIZE, "number_of_bytes");
	if (a->file_offset) {
		rc = check_data(p, a->file_offset, a->number_of_bytes,
				IGVM_ERR_DATA_BOUNDS, "file_offset");
		if (rc)
			return rc;
	}
	if (p->n_areas == IGVM_MAX_AREAS)
		return fail(p, IGVM_ERR_LIMIT, "parameter_area_index");
	st = &p->areas[p->n_areas++];
	st->index = a->parameter_area_index;
	st->size = a->number_of_bytes;
	st->inserted = false;
	return IGVM_OK;
}

/* The declared, not yet inserted area named by a parameter or insert. */
static int use_area(struct parser *p, uint32_t index, struct area_state **out)
{
	*out = find_area(p, index);
	if (!*out)
		return fail(p, IGVM_ERR_AREA_UNDECLARED,
			    "parameter_area_index");
	if ((*out)->inserted)
		return fail(p, IGVM_ERR_AREA_INSERTED, "parameter_area_index");
	return IGVM_OK;
}

static int parse_param(struct parser *p, const uint8_t *c)
{
	struct igvm_parameter *pa = &p->cur->u.param;
	struct area_state *st;
	int rc;

	pa->parameter_area_index = get_le32(c);
	pa->byte_offset = get_le32(c + 4);
	rc = use_area(p, pa->parameter_area_index, &st);
	if (rc)
		return rc;
	if (pa->byte_offset >= st->size)
		return fail(p, IGVM_ERR_PARAM_OFFSET, "byte_offset");
	return IGVM_OK;
}

static int parse_insert(struct parser *p, const uint8_t *c)
{
	struct igvm_param_insert *in = &p->cur->u.insert;
	struct area_state *st;
	int rc;

	in->gpa = get_le64(c);
	in->compatibility_mask = get_le32(c + 8);
	in->parameter_area_index = get_le32(c + 12);
	if (in->gpa % IGVM_PAGE_SIZE)
		return fail(p, IGVM_ERR_GPA_ALIGN, "gpa");
	rc = check_mask(p, in->compatibility_mask);
	if (rc)
		return rc;
	rc = use_area(p, in->parameter_area_index, &st);
	if (rc)
		return rc;
	st->inserted = true;
	return IGVM_OK;
}

static int parse_page(struct parser *p, const uint8_t *c)
{
	struct igvm_page_data *pg = &p->cur->u.page;
	bool large;
	int rc;

	pg->gpa = get_le64(c);
	pg->compatibility_mask = get_le32(c + 8);
	pg->file_offset = get_le32(c + 12);
	pg->flags = get_le32(c + 16);
	pg->data_type = get_le16(c + 20);
	if (get_le16(c + 22) != 0)
		return fail(p, IGVM_ERR_RESERVED, "reserved");
	if (pg->gpa % IGVM_PAGE_SIZE)
		return fail(p, IGVM_ERR_GPA_ALIGN, "gpa");
	if (pg->flags & ~(uint32_t)7)
		return fail(p, IGVM_ERR_PAGE_FLAGS, "flags");
	if (pg->data_type > IGVM_DATA_CPUID_XF)
		return fail(p, IGVM_ERR_DATA_TYPE, "data_type");
	rc = check_mask(p, pg->compatibility_mask);
	if (rc || pg->file_offset == 0)
		return rc;
	large = pg->flags & IGVM_PAGE_FLAG_2MB;
	return check_data(
	    p, pg->file_offset, large ? IGVM_LARGE_PAGE_SIZE : IGVM_PAGE_SIZE,
	    large ? IGVM_ERR_LARGE_PAGE_DATA : IGVM_ERR_DATA_BOUNDS,
	    "file_offset");
}

/* Validates every entry of a VBS register list already known to lie in
 * the file. */
static int check_vbs_regs(struct parser *p, const struct igvm_vp_context *vp)
{
	const uint8_t *e = p->buf + vp->file_offset + 4;
	static const uint8_t zero[11];

	for (uint32_t i = 0; i < vp->register_count; i++, e += 32) {
		if (e[0] != vp->vtl)
			return fail(p, IGVM_ERR_VP_CONTEXT, "vtl");
		if (memcmp(e + 5, zero, sizeof(zero)) != 0)
			return fail(p, IGVM_ERR_RESERVED, "register mbz");
		if (igvm_reg_kind(get_le32(e + 1)) == IGVM_REG_NONE)
			return fail(p, IGVM_ERR_VP_REGISTER, "register_name");
	}
	return IGVM_OK;
}

static int check_vp_unique(struct parser *p, const struct igvm_vp_context *vp)
{
	for (int bit = 0; bit < 32; bit++) {
		uint8_t *seen = p->vp_seen[bit];

		if (!(vp->compatibility_mask & (1u << bit)) || !seen)
			continue;
		if (seen[vp->vp_index / 8] & (1u << (vp->vp_index % 8)))
			return fail(p, IGVM_ERR_VP_DUPLICATE, "vp_index");
		seen[vp->vp_index / 8] |= (uint8_t)(1u << (vp->vp_index % 8));
	}
	return IGVM_OK;
}

/* A VBS register list: count, then 32-byte entries, all in the file. */
static int parse_vbs_list(struct parser *p, struct igvm_vp_context *vp)
{
	int rc;

	if (vp->vp_index != 0)
		return fail(p, IGVM_ERR_VP_CONTEXT, "vp_index");
	rc = check_data(p, vp->file_offset, 4, IGVM_ERR_DATA_BOUNDS,
			"file_offset");
	if (rc)
		return rc;
	vp->register_count = get_le32(p->buf + vp->file_offset);
	if (vp->register_count == 0 ||
	    vp->register_count > IGVM_MAX_VP_REGISTERS)
		return fail(p, IGVM_ERR_VP_CONTEXT, "register_count");
	vp->data_size = 4 + IGVM_VBS_REG_SIZE * vp->register_count;
	rc = check_data(p, vp->file_offset, vp->data_size, IGVM_ERR_DATA_BOUNDS,
			"register_count");
	if (rc)
		return rc;
	vp->vtl = p->buf[vp->file_offset + 4];
	if (vp->vtl > 2)
		return fail(p, IGVM_ERR_VP_CONTEXT, "vtl");
	return check_vbs_regs(p, vp);
}

static int parse_vp(struct parser *p, const uint8_t *c)
{
	struct igvm_vp_context *vp = &p->cur->u.vp;
	int rc;

	vp->gpa = get_le64(c);
	vp->compatibility_mask = get_le32(c + 8);
	vp->file_offset = get_le32(c + 12);
	vp->vp_index = get_le16(c + 16);
	if (get_le16(c + 18) != 0)
		return fail(p, IGVM_ERR_RESERVED, "reserved");
	rc = check_mask(p, vp->compatibility_mask);
	if (rc)
		return rc;
	if (vp->file_offset == 0)
		return fail(p, IGVM_ERR_VP_CONTEXT, "file_offset");
	vp->vbs = vp->compatibility_mask & p->vsm_mask;
	if (vp->vbs) {
		rc = parse_vbs_list(p, vp);
	} else {
		vp->data_size = IGVM_PAGE_SIZE;
		rc = check_data(p, vp->file_offset, vp->data_size,
				IGVM_ERR_DATA_BOUNDS, "file_offset");
	}
	return rc ? rc : check_vp_unique(p, vp);
}

static int parse_required_memory(struct parser *p, const uint8_t *c)
{
	struct igvm_required_memory *m = &p->cur->u.mem;

	m->gpa = get_le64(c);
	m->compatibility_mask = get_le32(c + 8);
	m->number_of_bytes = get_le32(c + 12);
	m->flags = get_le32(c + 16);
	if (get_le32(c + 20) != 0)
		return fail(p, IGVM_ERR_RESERVED, "reserved");
	if (m->flags & ~IGVM_REQUIRED_MEMORY_VTL2_PROTECTABLE)
		return fail(p, IGVM_ERR_RESERVED, "flags");
	if (m->gpa % IGVM_PAGE_SIZE)
		return fail(p, IGVM_ERR_GPA_ALIGN, "gpa");
	if (m->number_of_bytes % IGVM_PAGE_SIZE)
		return fail(p, IGVM_ERR_SIZE_ALIGN, "number_of_bytes");
	return check_mask(p, m->compatibility_mask);
}

typedef int (*parse_fn)(struct parser *p, const uint8_t *c);

struct type_info {
	uint32_t type;
	uint32_t length;
	parse_fn parse;
};

static const struct type_info types[] = {
	{ IGVM_VHT_SUPPORTED_PLATFORM, 16, parse_platform },
	{ IGVM_VHT_GUEST_POLICY, 16, parse_policy },
	{ IGVM_VHT_PARAMETER_AREA, 16, parse_area },
	{ IGVM_VHT_PAGE_DATA, 24, parse_page },
	{ IGVM_VHT_PARAMETER_INSERT, 16, parse_insert },
	{ IGVM_VHT_VP_CONTEXT, 20, parse_vp },
	{ IGVM_VHT_REQUIRED_MEMORY, 24, parse_required_memory },
	{ IGVM_VHT_VP_COUNT, 8, parse_param },
	{ IGVM_VHT_SRAT, 8, parse_param },
	{ IGVM_VHT_MADT, 8, parse_param },
	{ IGVM_VHT_MMIO_RANGES, 8, parse_param },
	{ IGVM_VHT_MEMORY_MAP, 8, parse_param },
	{ IGVM_VHT_COMMAND_LINE, 8, parse_param },
	{ IGVM_VHT_DEVICE_TREE, 8, parse_param },
	{ IGVM_VHT_ENVIRONMENT_INFO, 8, parse_param },
};

static const struct type_info *find_type(uint32_t type)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == type)
			return &types[i];
	return NULL;
}

/* Checks the type's section and order; sets p->section. */
static int check_section(struct parser *p, uint32_t type)
{
	enum section s;

	if (type >= 0x1 && type <= 0x100)
		s = SEC_PLATFORM;
	else if (type >= 0x101 && type <= 0x200)
		s = SEC_INIT;
	else if (type >= 0x301 && type <= 0x400)
		s = SEC_DIRECTIVE;
	else
		return fail(p, IGVM_ERR_TYPE_RANGE, "type");
	if (s < p->section)
		return fail(p, IGVM_ERR_SECTION_ORDER, "type");
	p->section = s;
	return IGVM_OK;
}

static int decode_header(struct parser *p, const uint8_t *c)
{
	struct igvm_header *h = p->cur;
	const struct type_info *ti;
	int rc = check_section(p, h->type);

	if (rc)
		return rc;
	if (h->type == IGVM_VHT_RELOCATABLE_REGION ||
	    h->type == IGVM_VHT_PAGE_TABLE_RELOCATION)
		return fail(p, IGVM_ERR_UNSUPPORTED, "type");
	ti = find_type(h->type);
	if (!ti) {
		if (!h->optional)
			return fail(p, IGVM_ERR_UNKNOWN_TYPE, "type");
		h->skipped = true;
		return IGVM_OK;
	}
	if (h->length != ti->length)
		return fail(p, IGVM_ERR_HEADER_LENGTH, "length");
	return ti->parse(p, c);
}

static struct igvm_header *new_header(struct parser *p, size_t *cap)
{
	struct igvm_file *f = p->f;

	if (f->n_headers == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct igvm_header *n;

		n = realloc(f->headers, ncap * sizeof(*n));
		if (!n)
			return NULL;
		f->headers = n;
		*cap = ncap;
	}
	memset(&f->headers[f->n_headers], 0, sizeof(f->headers[0]));
	return &f->headers[f->n_headers++];
}

/* Reads the type and length at off and checks bounds and padding. */
static int frame_header(struct parser *p, uint32_t off, uint32_t *next)
{
	struct igvm_header *h = p->cur;
	uint64_t end, padded;

	h->offset = off;
	if (p->hdr_end - off < 8) {
		h->type = 0;
		return fail(p, IGVM_ERR_HEADER_BOUNDS, "length");
	}
	h->type = get_le32(p->buf + off) & ~IGVM_VHT_OPTIONAL;
	h->optional = get_le32(p->buf + off) & IGVM_VHT_OPTIONAL;
	h->length = get_le32(p->buf + off + 4);
	end = (uint64_t)off + 8 + h->length;
	padded = (end + 7) & ~(uint64_t)7;
	if (padded > p->hdr_end)
		return fail(p, IGVM_ERR_HEADER_BOUNDS, "length");
	for (uint64_t i = end; i < padded; i++)
		if (p->buf[i] != 0)
			return fail(p, IGVM_ERR_PADDING, "padding");
	*next = (uint32_t)padded;
	return IGVM_OK;
}

static int parse_headers(struct parser *p)
{
	uint32_t off = p->f->fixed.variable_header_offset;
	size_t cap = 0;
	int rc;

	while (off < p->hdr_end) {
		uint32_t next;

		if (p->f->n_headers == IGVM_MAX_HEADERS) {
			p->cur = NULL;
			return fail(p, IGVM_ERR_LIMIT, "variable_header_size");
		}
		p->cur = new_header(p, &cap);
		if (!p->cur)
			return fail(p, IGVM_ERR_NO_MEMORY, "variable_header");
		p->cur->index = (uint32_t)(p->f->n_headers - 1);
		rc = frame_header(p, off, &next);
		if (!rc)
			rc = decode_header(p, p->buf + off + 8);
		if (rc)
			return rc;
		off = next;
	}
	p->cur = NULL;
	if (p->f->platform_mask == 0)
		return fail(p, IGVM_ERR_NO_PLATFORM, "variable_header_size");
	return IGVM_OK;
}

int igvm_parse(const void *buf, size_t len, struct igvm_file *f,
	       struct igvm_error *err)
{
	struct parser *p;
	int rc;

	if (err)
		memset(err, 0, sizeof(*err));
	memset(f, 0, sizeof(*f));
	if (!buf && len)
		return IGVM_ERR_INVALID_ARG;
	p = calloc(1, sizeof(*p));
	if (!p)
		return IGVM_ERR_NO_MEMORY;
	p->buf = buf;
	p->len = len;
	p->f = f;
	p->err = err;
	f->buf = buf;
	f->len = len;
	rc = len > UINT32_MAX ? fail(p, IGVM_ERR_TOTAL_SIZE, "total_file_size")
			      : parse_fixed(p);
	if (!rc)
		rc = parse_headers(p);
	for (int i = 0; i < 32; i++)
		free(p->vp_seen[i]);
	free(p);
	if (rc)
		igvm_free(f);
	return rc;
}

void igvm_free(struct igvm_file *f)
{
	free(f->headers);
	memset(f, 0, sizeof(*f));
}
