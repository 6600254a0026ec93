/* IGVM writer: fixed header, variable headers in section order (8-byte
 * aligned, zero padded), then file data; CRC-32 by zlib. */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "boot/igvm.h"
#include "boot/igvm_util.h"

#define NO_DATA ((size_t)-1)

struct igvm_writer_entry {
	uint32_t type;
	uint32_t len;
	uint8_t body[24];
	size_t data_off; /* into w->data, NO_DATA: none */
	int fo_pos;	 /* offset of a u32 file_offset in body, -1: none */
};

void igvm_writer_init(struct igvm_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void igvm_writer_free(struct igvm_writer *w)
{
	free(w->entries);
	free(w->data);
	memset(w, 0, sizeof(*w));
}

static struct igvm_writer_entry *add_entry(struct igvm_writer *w, uint32_t type,
					   uint32_t len)
{
	struct igvm_writer_entry *e;

	if (w->error)
		return NULL;
	if (len > sizeof(e->body)) {
		w->error = IGVM_ERR_INVALID_ARG;
		return NULL;
	}
	if (w->n == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 64;

		e = realloc(w->entries, ncap * sizeof(*e));
		if (!e) {
			w->error = IGVM_ERR_NO_MEMORY;
			return NULL;
		}
		w->entries = e;
		w->cap = ncap;
	}
	e = &w->entries[w->n++];
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->len = len;
	e->data_off = NO_DATA;
	e->fo_pos = -1;
	return e;
}

/* Appends file data for e; its file_offset is patched at finish. */
static int add_data(struct igvm_writer *w, struct igvm_writer_entry *e,
		    int fo_pos, const void *data, size_t len)
{
	if (w->data_len + len > w->data_cap) {
		size_t ncap = w->data_cap ? w->data_cap : 65536;
		uint8_t *n;

		while (ncap < w->data_len + len)
			ncap *= 2;
		n = realloc(w->data, ncap);
		if (!n)
			return w->error = IGVM_ERR_NO_MEMORY;
		w->data = n;
		w->data_cap = ncap;
	}
	memcpy(w->data + w->data_len, data, len);
	e->data_off = w->data_len;
	e->fo_pos = fo_pos;
	w->data_len += len;
	return IGVM_OK;
}

int igvm_write_raw(struct igvm_writer *w, uint32_t type, const void *body,
		   uint32_t len)
{
	struct igvm_writer_entry *e = add_entry(w, type, len);

	if (!e)
		return w->error;
	memcpy(e->body, body, len);
	return IGVM_OK;
}

int igvm_write_platform(struct igvm_writer *w, const struct igvm_platform *p)
{
	uint8_t b[16];

	put_le32(b, p->compatibility_mask);
	b[4] = p->highest_vtl;
	b[5] = p->platform_type;
	put_le16(b + 6, p->platform_version);
	put_le64(b + 8, p->shared_gpa_boundary);
	return igvm_write_raw(w, IGVM_VHT_SUPPORTED_PLATFORM, b, sizeof(b));
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

int igvm_write_page(struct igvm_writer *w, uint64_t gpa, uint32_t mask,
		    uint32_t flags, uint16_t data_type, const void *data)
{
	size_t size = (flags & IGVM_PAGE_FLAG_2MB) ? IGVM_LARGE_PAGE_SIZE
						   : IGVM_PAGE_SIZE;
	struct igvm_writer_entry *e = add_entry(w, IGVM_VHT_PAGE_DATA, 24);

	if (!e)
		return w->error;
	put_le64(e->body, gpa);
	put_le32(e->body + 8, mask);
	put_le32(e->body + 16, flags);
	put_le16(e->body + 20, data_type);
	if (data && !all_zero(data, size))
		return add_data(w, e, 12, data, size);
	return IGVM_OK;
}

int igvm_write_param_area(struct igvm_writer *w, uint32_t index,
			  uint64_t number_of_bytes)
{
	uint8_t b[16] = { 0 };

	put_le64(b, number_of_bytes);
	put_le32(b + 8, index);
	return igvm_write_raw(w, IGVM_VHT_PARAMETER_AREA, b, sizeof(b));
}

int igvm_write_param(struct igvm_writer *w, uint32_t type, uint32_t index,
		     uint32_t byte_offset)
{
	uint8_t b[8];

	put_le32(b, index);
	put_le32(b + 4, byte_offset);
	return igvm_write_raw(w, type, b, sizeof(b));
}

int igvm_write_insert(struct igvm_writer *w, uint64_t gpa, uint32_t mask,
		      uint32_t index)
{
	uint8_t b[16];

	put_le64(b, gpa);
	put_le32(b + 8, mask);
	put_le32(b + 12, index);
	return igvm_write_raw(w, IGVM_VHT_PARAMETER_INSERT, b, sizeof(b));
}

int igvm_write_required_memory(struct igvm_writer *w, uint64_t gpa,
			       uint32_t mask, uint32_t size, uint32_t flags)
{
	uint8_t b[24] = { 0 };

	put_le64(b, gpa);
	put_le32(b + 8, mask);
	put_le32(b + 12, size);
	put_le32(b + 16, flags);
	return igvm_write_raw(w, IGVM_VHT_REQUIRED_MEMORY, b, sizeof(b));
}

int igvm_write_vp_data(struct igvm_writer *w, uint64_t gpa, uint32_t mask,
		       uint16_t vp_index, const void *data, size_t len)
{
	struct igvm_writer_entry *e = add_entry(w, IGVM_VHT_VP_CONTEXT, 20);

	if (!e)
		return w->error;
	put_le64(e->body, gpa);
	put_le32(e->body + 8, mask);
	put_le16(e->body + 16, vp_index);
	return add_data(w, e, 12, data, len);
}

int igvm_write_vp_context(struct igvm_writer *w, uint64_t gpa, uint32_t mask,
			  uint16_t vp_index, const struct igvm_vbs_reg *regs,
			  uint32_t count)
{
	size_t size = 4 + (size_t)count * IGVM_VBS_REG_SIZE;
	uint8_t *list;
	int rc;

	if (w->error)
		return w->error;
	if (count > IGVM_MAX_VP_REGISTERS)
		return w->error = IGVM_ERR_INVALID_ARG;
	list = calloc(1, size);
	if (!list)
		return w->error = IGVM_ERR_NO_MEMORY;
	put_le32(list, count);
	for (uint32_t i = 0; i < count; i++) {
		uint8_t *r = list + 4 + (size_t)i * IGVM_VBS_REG_SIZE;

		r[0] = regs[i].vtl;
		put_le32(r + 1, regs[i].name);
		memcpy(r + 16, regs[i].value, 16);
	}
	rc = igvm_write_vp_data(w, gpa, mask, vp_index, list, size);
	free(list);
	return rc;
}

static int section_of(uint32_t type)
{
	type &= ~IGVM_VHT_OPTIONAL;
	if (type <= 0x100)
		return 0;
	return type <= 0x200 ? 1 : 2;
}

static size_t headers_size(const struct igvm_writer *w)
{
	size_t size = 0;

	for (size_t i = 0; i < w->n; i++)
		size += (8 + w->entries[i].len + 7) & ~(size_t)7;
	return size;
}

/* Writes the variable headers in section order at out. */
static void lay_out_headers(const struct igvm_writer *w, uint8_t *out,
			    uint32_t data_base)
{
	for (int sec = 0; sec < 3; sec++) {
		for (size_t i = 0; i < w->n; i++) {
			const struct igvm_writer_entry *e = &w->entries[i];

			if (section_of(e->type) != sec)
				continue;
			put_le32(out, e->type);
			put_le32(out + 4, e->len);
			memcpy(out + 8, e->body, e->len);
			if (e->data_off != NO_DATA)
				put_le32(out + 8 + e->fo_pos,
					 data_base + (uint32_t)e->data_off);
			out += (8 + e->len + 7) & ~(size_t)7;
		}
	}
}

int igvm_writer_finish(struct igvm_writer *w, uint8_t **out, size_t *len)
{
	size_t vhs = headers_size(w);
	size_t total = IGVM_FIXED_HEADER_SIZE + vhs + w->data_len;
	uint8_t *b;

	*out = NULL;
	*len = 0;
	if (w->error)
		return w->error;
	if (total > UINT32_MAX)
		return IGVM_ERR_LIMIT;
	b = calloc(1, total);
	if (!b)
		return IGVM_ERR_NO_MEMORY;
	put_le32(b, IGVM_MAGIC);
	put_le32(b + 4, IGVM_FORMAT_VERSION);
	put_le32(b + 8, IGVM_FIXED_HEADER_SIZE);
	put_le32(b + 12, (uint32_t)vhs);
	put_le32(b + 16, (uint32_t)total);
	lay_out_headers(w, b + IGVM_FIXED_HEADER_SIZE,
			(uint32_t)(IGVM_FIXED_HEADER_SIZE + vhs));
	if (w->data_len)
		memcpy(b + IGVM_FIXED_HEADER_SIZE + vhs, w->data, w->data_len);
	igvm_fix_checksum(b, total);
	*out = b;
	*len = total;
	return IGVM_OK;
}

int igvm_fix_checksum(uint8_t *buf, size_t len)
{
	uint32_t vho, vhs;
	uint32_t crc;

	if (len < IGVM_FIXED_HEADER_SIZE)
		return IGVM_ERR_FIXED_BOUNDS;
	vho = get_le32(buf + 8);
	vhs = get_le32(buf + 12);
	if (vho < IGVM_FIXED_HEADER_SIZE || vho > len || vhs > len - vho)
		return IGVM_ERR_FIXED_BOUNDS;
	put_le32(buf + 20, 0);
	crc = (uint32_t)crc32(0L, buf, IGVM_FIXED_HEADER_SIZE);
	crc = (uint32_t)crc32(crc, buf + vho, vhs);
	put_le32(buf + 20, crc);
	return IGVM_OK;
}
