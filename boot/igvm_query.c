/* IGVM queries on a parsed image (iteration, parameter areas, page data,
 * VP registers) and the VBS register names and value encodings. */
#include <string.h>

#include "boot/igvm.h"
#include "boot/igvm_util.h"

struct reg_desc {
	uint32_t name;
	enum igvm_reg_kind kind;
	const char *text;
	int bit; /* enum igvm_vp_reg_bit, -1: not decoded */
};

static const struct reg_desc regs[] = {
	{ HV_X64_REG_RIP, IGVM_REG_PLAIN, "rip", IGVM_VPR_RIP },
	{ HV_X64_REG_RSP, IGVM_REG_PLAIN, "rsp", IGVM_VPR_RSP },
	{ HV_X64_REG_RBP, IGVM_REG_PLAIN, "rbp", IGVM_VPR_RBP },
	{ HV_X64_REG_RSI, IGVM_REG_PLAIN, "rsi", IGVM_VPR_RSI },
	{ HV_X64_REG_R8, IGVM_REG_PLAIN, "r8", IGVM_VPR_R8 },
	{ HV_X64_REG_R9, IGVM_REG_PLAIN, "r9", IGVM_VPR_R9 },
	{ HV_X64_REG_R10, IGVM_REG_PLAIN, "r10", IGVM_VPR_R10 },
	{ HV_X64_REG_R11, IGVM_REG_PLAIN, "r11", IGVM_VPR_R11 },
	{ HV_X64_REG_R12, IGVM_REG_PLAIN, "r12", IGVM_VPR_R12 },
	{ HV_X64_REG_RFLAGS, IGVM_REG_PLAIN, "rflags", IGVM_VPR_RFLAGS },
	{ HV_X64_REG_CR0, IGVM_REG_PLAIN, "cr0", IGVM_VPR_CR0 },
	{ HV_X64_REG_CR3, IGVM_REG_PLAIN, "cr3", IGVM_VPR_CR3 },
	{ HV_X64_REG_CR4, IGVM_REG_PLAIN, "cr4", IGVM_VPR_CR4 },
	{ HV_X64_REG_EFER, IGVM_REG_PLAIN, "efer", IGVM_VPR_EFER },
	{ HV_X64_REG_PAT, IGVM_REG_PLAIN, "pat", IGVM_VPR_PAT },
	{ HV_X64_REG_CS, IGVM_REG_SEGMENT, "cs", IGVM_VPR_CS },
	{ HV_X64_REG_DS, IGVM_REG_SEGMENT, "ds", IGVM_VPR_DS },
	{ HV_X64_REG_ES, IGVM_REG_SEGMENT, "es", IGVM_VPR_ES },
	{ HV_X64_REG_FS, IGVM_REG_SEGMENT, "fs", IGVM_VPR_FS },
	{ HV_X64_REG_GS, IGVM_REG_SEGMENT, "gs", IGVM_VPR_GS },
	{ HV_X64_REG_SS, IGVM_REG_SEGMENT, "ss", IGVM_VPR_SS },
	{ HV_X64_REG_TR, IGVM_REG_SEGMENT, "tr", IGVM_VPR_TR },
	{ HV_X64_REG_GDTR, IGVM_REG_TABLE, "gdtr", IGVM_VPR_GDTR },
	{ HV_X64_REG_IDTR, IGVM_REG_TABLE, "idtr", IGVM_VPR_IDTR },
	{ HV_X64_REG_MTRR_DEF_TYPE, IGVM_REG_PLAIN, "mtrr_def_type", -1 },
};

static const struct reg_desc *find_reg(uint32_t name)
{
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		if (regs[i].name == name)
			return &regs[i];
	return NULL;
}

static bool is_mtrr(uint32_t name)
{
	return (name >= HV_X64_REG_MTRR_PHYS_BASE0 &&
		name <= HV_X64_REG_MTRR_PHYS_BASE0 + 0xF) ||
	       (name >= HV_X64_REG_MTRR_PHYS_MASK0 &&
		name <= HV_X64_REG_MTRR_PHYS_MASK0 + 0xF) ||
	       (name >= HV_X64_REG_MTRR_FIX64K_00000 &&
		name <= HV_X64_REG_MTRR_FIX4K_F8000);
}

enum igvm_reg_kind igvm_reg_kind(uint32_t name)
{
	const struct reg_desc *d = find_reg(name);

	if (d)
		return d->kind;
	return is_mtrr(name) ? IGVM_REG_PLAIN : IGVM_REG_NONE;
}

const char *igvm_reg_name(uint32_t name)
{
	const struct reg_desc *d = find_reg(name);

	if (d)
		return d->text;
	return is_mtrr(name) ? "mtrr" : "unsupported";
}

void igvm_reg_plain(uint8_t value[16], uint64_t v)
{
	memset(value, 0, 16);
	put_le64(value, v);
}

void igvm_reg_segment(uint8_t value[16], const struct igvm_segment *s)
{
	put_le64(value, s->base);
	put_le32(value + 8, s->limit);
	put_le16(value + 12, s->selector);
	put_le16(value + 14, s->attributes);
}

void igvm_reg_table(uint8_t value[16], const struct igvm_table *t)
{
	memset(value, 0, 6);
	put_le16(value + 6, t->limit);
	put_le64(value + 8, t->base);
}

uint64_t igvm_reg_decode_plain(const uint8_t value[16])
{
	return get_le64(value);
}

void igvm_reg_decode_segment(const uint8_t value[16], struct igvm_segment *s)
{
	s->base = get_le64(value);
	s->limit = get_le32(value + 8);
	s->selector = get_le16(value + 12);
	s->attributes = get_le16(value + 14);
}

void igvm_reg_decode_table(const uint8_t value[16], struct igvm_table *t)
{
	t->limit = get_le16(value + 6);
	t->base = get_le64(value + 8);
}

const struct igvm_header *igvm_next(const struct igvm_file *f,
				    const struct igvm_header *prev,
				    uint32_t type)
{
	size_t i = prev ? (size_t)(prev - f->headers) + 1 : 0;

	for (; i < f->n_headers; i++)
		if (!f->headers[i].skipped &&
		    (type == 0 || f->headers[i].type == type))
			return &f->headers[i];
	return NULL;
}

uint32_t igvm_page_size(const struct igvm_header *h)
{
	return (h->u.page.flags & IGVM_PAGE_FLAG_2MB) ? IGVM_LARGE_PAGE_SIZE
						      : IGVM_PAGE_SIZE;
}

const uint8_t *igvm_page_bytes(const struct igvm_file *f,
			       const struct igvm_header *h)
{
	if (h->type != IGVM_VHT_PAGE_DATA || h->u.page.file_offset == 0)
		return NULL;
	return f->buf + h->u.page.file_offset;
}

const struct igvm_header *igvm_find_area(const struct igvm_file *f,
					 uint32_t index)
{
	const struct igvm_header *h = NULL;

	while ((h = igvm_next(f, h, IGVM_VHT_PARAMETER_AREA)))
		if (h->u.area.parameter_area_index == index)
			return h;
	return NULL;
}

const struct igvm_header *igvm_find_insert(const struct igvm_file *f,
					   uint32_t index)
{
	const struct igvm_header *h = NULL;

	while ((h = igvm_next(f, h, IGVM_VHT_PARAMETER_INSERT)))
		if (h->u.insert.parameter_area_index == index)
			return h;
	return NULL;
}

const struct igvm_header *igvm_find_param(const struct igvm_file *f,
					  uint32_t param_type)
{
	return igvm_next(f, NULL, param_type);
}

void igvm_vp_reg_at(const struct igvm_file *f, const struct igvm_header *h,
		    uint32_t i, struct igvm_vbs_reg *out)
{
	const uint8_t *e =
	    f->buf + h->u.vp.file_offset + 4 + (size_t)i * IGVM_VBS_REG_SIZE;

	out->vtl = e[0];
	out->name = get_le32(e + 1);
	memcpy(out->value, e + 16, 16);
}

/* Stores one decoded register into its field of r. */
static void store_reg(struct igvm_vp_regs *r, int bit, const uint8_t *v)
{
	uint64_t *plain[] = {
		[IGVM_VPR_RIP] = &r->rip, [IGVM_VPR_RSP] = &r->rsp,
		[IGVM_VPR_RBP] = &r->rbp, [IGVM_VPR_RSI] = &r->rsi,
		[IGVM_VPR_R8] = &r->r8,	  [IGVM_VPR_R9] = &r->r9,
		[IGVM_VPR_R10] = &r->r10, [IGVM_VPR_R11] = &r->r11,
		[IGVM_VPR_R12] = &r->r12, [IGVM_VPR_RFLAGS] = &r->rflags,
		[IGVM_VPR_CR0] = &r->cr0, [IGVM_VPR_CR3] = &r->cr3,
		[IGVM_VPR_CR4] = &r->cr4, [IGVM_VPR_EFER] = &r->efer,
		[IGVM_VPR_PAT] = &r->pat,
	};
	struct igvm_segment *seg[] = {
		[IGVM_VPR_CS] = &r->cs, [IGVM_VPR_DS] = &r->ds,
		[IGVM_VPR_ES] = &r->es, [IGVM_VPR_FS] = &r->fs,
		[IGVM_VPR_GS] = &r->gs, [IGVM_VPR_SS] = &r->ss,
		[IGVM_VPR_TR] = &r->tr,
	};

	if (bit <= IGVM_VPR_PAT)
		*plain[bit] = igvm_reg_decode_plain(v);
	else if (bit <= IGVM_VPR_TR)
		igvm_reg_decode_segment(v, seg[bit]);
	else
		igvm_reg_decode_table(v, bit == IGVM_VPR_GDTR ? &r->gdtr
							      : &r->idtr);
	r->present |= 1u << bit;
}

const uint8_t *igvm_vp_context_data(const struct igvm_file *f,
				    uint16_t vp_index, size_t *len)
{
	const struct igvm_header *h = NULL;

	while ((h = igvm_next(f, h, IGVM_VHT_VP_CONTEXT)))
		if (h->u.vp.vbs && h->u.vp.vp_index == vp_index)
			break;
	if (!h)
		return NULL;
	*len = h->u.vp.data_size;
	return f->buf + h->u.vp.file_offset;
}

int igvm_vbs_decode(const void *list, size_t len, struct igvm_vp_regs *out)
{
	const uint8_t *p = list;
	uint32_t count, i;

	memset(out, 0, sizeof(*out));
	if (len < 4)
		return IGVM_ERR_VP_CONTEXT;
	count = get_le32(p);
	if (count == 0 || count > IGVM_MAX_VP_REGISTERS ||
	    len != 4 + (size_t)count * IGVM_VBS_REG_SIZE)
		return IGVM_ERR_VP_CONTEXT;
	out->vtl = p[4];
	for (i = 0; i < count; i++) {
		const uint8_t *e = p + 4 + (size_t)i * IGVM_VBS_REG_SIZE;
		const struct reg_desc *d = find_reg(get_le32(e + 1));

		if (e[0] != out->vtl)
			return IGVM_ERR_VP_CONTEXT;
		if (igvm_reg_kind(get_le32(e + 1)) == IGVM_REG_NONE)
			return IGVM_ERR_VP_REGISTER;
		if (d && d->bit >= 0)
			store_reg(out, d->bit, e + 16);
	}
	return IGVM_OK;
}

int igvm_vp_regs(const struct igvm_file *f, uint16_t vp_index,
		 struct igvm_vp_regs *out)
{
	size_t len;
	const uint8_t *data = igvm_vp_context_data(f, vp_index, &len);

	memset(out, 0, sizeof(*out));
	if (data == NULL)
		return IGVM_ERR_INVALID_ARG;
	return igvm_vbs_decode(data, len, out);
}
