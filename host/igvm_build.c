/* `parapet igvm build` image layout: guest PT_LOAD pages, identity page
 * tables, GDT + TSS, stack, measured configuration pages, parameter areas
 * and the VP 0 context that starts the guest in 64-bit long mode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/igvm.h"
#include "boot/igvm_util.h"
#include "host/igvm_build.h"
#include "lib/guest_abi.h"

#define MASK	      0x1u	  /* the one platform of a Parapet image */
#define TSS_OFFSET    0x80u	  /* TSS inside the GDT page */
#define TSS_LIMIT     0x67u	  /* 104-byte 64-bit TSS */
#define GDT_LIMIT     (5 * 8 - 1) /* null, code, data, 16-byte TSS */
#define GUEST_TSS_SEL 0x18

#define PTE_P  0x1ULL
#define PTE_RW 0x2ULL
#define PTE_PS 0x80ULL

static int bad(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return IGVM_BUILD_BAD_INPUT;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int check_layout(const struct elf_image *elf, const struct pvconfig *cfg,
			char *err, size_t errlen)
{
	bool entry_ok = false;

	if (cfg->mem_size < IGVM_BUILD_MIN_MEM ||
	    cfg->mem_size > IGVM_BUILD_MAX_MEM ||
	    cfg->mem_size % IGVM_PAGE_SIZE)
		return bad(err, errlen,
			   "--mem must be a multiple of 4 KiB between 2 MiB "
			   "and 3.25 GiB");
	for (size_t i = 0; i < elf->n_segments; i++) {
		const struct elf_segment *s = &elf->segments[i];

		if (s->paddr < GUEST_LOAD_GPA ||
		    s->paddr + s->memsz > cfg->mem_size)
			return bad(err, errlen,
				   "guest PT_LOAD segment outside "
				   "GUEST_LOAD_GPA..memory size");
		if (overlaps(s->paddr, s->memsz, GUEST_VTL2_GPA,
			     GUEST_VTL2_SIZE))
			return bad(err, errlen,
				   "guest PT_LOAD segment overlaps the "
				   "VTL2 range");
		if (elf->entry >= s->paddr && elf->entry < s->paddr + s->memsz)
			entry_ok = true;
	}
	if (!entry_ok)
		return bad(err, errlen, "guest entry point not in a segment");
	return IGVM_BUILD_OK;
}

static void put_gdt_page(uint8_t *page)
{
	uint64_t tss = GUEST_GDT_GPA + TSS_OFFSET;
	uint8_t *d = page + GUEST_TSS_SEL;

	memset(page, 0, IGVM_PAGE_SIZE);
	put_le64(page + GUEST_CODE64_SEL, 0x00AF9B000000FFFFULL);
	put_le64(page + GUEST_DATA_SEL, 0x00CF93000000FFFFULL);
	/* 16-byte busy 64-bit TSS descriptor (type 0xB, P=1). */
	put_le16(d, TSS_LIMIT);
	put_le16(d + 2, (uint16_t)tss);
	d[4] = (uint8_t)(tss >> 16);
	d[5] = 0x8B;
	d[6] = 0;
	d[7] = (uint8_t)(tss >> 24);
	put_le32(d + 8, (uint32_t)(tss >> 32));
	/* TSS: I/O map base past the limit means no I/O bitmap. */
	put_le16(page + TSS_OFFSET + 0x66, TSS_LIMIT + 1);
}

/* GDT page, identity page tables for 4 GiB with 2 MiB pages, stack. */
static int add_low_pages(struct igvm_writer *w)
{
	uint8_t page[IGVM_PAGE_SIZE];

	put_gdt_page(page);
	igvm_write_page(w, GUEST_GDT_GPA, MASK, 0, IGVM_DATA_NORMAL, page);
	memset(page, 0, sizeof(page));
	put_le64(page, GUEST_PDPT_GPA | PTE_P | PTE_RW);
	igvm_write_page(w, GUEST_PML4_GPA, MASK, 0, IGVM_DATA_NORMAL, page);
	memset(page, 0, sizeof(page));
	for (int i = 0; i < GUEST_PD_COUNT; i++)
		put_le64(page + 8 * i,
			 (GUEST_PD_GPA + 0x1000ULL * i) | PTE_P | PTE_RW);
	igvm_write_page(w, GUEST_PDPT_GPA, MASK, 0, IGVM_DATA_NORMAL, page);
	for (int pd = 0; pd < GUEST_PD_COUNT; pd++) {
		for (int i = 0; i < 512; i++) {
			uint64_t gpa = ((uint64_t)pd * 512 + i) << 21;

			put_le64(page + 8 * i, gpa | PTE_P | PTE_RW | PTE_PS);
		}
		igvm_write_page(w, GUEST_PD_GPA + 0x1000ULL * pd, MASK, 0,
				IGVM_DATA_NORMAL, page);
	}
	for (uint64_t gpa = GUEST_STACK_BASE; gpa < GUEST_STACK_TOP;
	     gpa += IGVM_PAGE_SIZE)
		igvm_write_page(w, gpa, MASK, 0, IGVM_DATA_NORMAL, NULL);
	return w->error;
}

/* Copies the parts of every segment that fall in the page at gpa. */
static void fill_page(const struct elf_image *elf, uint64_t gpa, uint8_t *page)
{
	memset(page, 0, IGVM_PAGE_SIZE);
	for (size_t i = 0; i < elf->n_segments; i++) {
		const struct elf_segment *s = &elf->segments[i];
		uint64_t lo = s->paddr > gpa ? s->paddr : gpa;
		uint64_t fend = s->paddr + s->filesz;
		uint64_t hi =
		    fend < gpa + IGVM_PAGE_SIZE ? fend : gpa + IGVM_PAGE_SIZE;

		if (lo < hi)
			memcpy(page + (lo - gpa), s->data + (lo - s->paddr),
			       hi - lo);
	}
}

static int add_guest_pages(struct igvm_writer *w, const struct elf_image *elf)
{
	uint8_t page[IGVM_PAGE_SIZE];
	uint64_t next = 0; /* first page not yet written */

	for (size_t i = 0; i < elf->n_segments; i++) {
		const struct elf_segment *s = &elf->segments[i];
		uint64_t gpa = s->paddr & ~(uint64_t)(IGVM_PAGE_SIZE - 1);

		if (gpa < next)
			gpa = next;
		for (; gpa < s->paddr + s->memsz; gpa += IGVM_PAGE_SIZE) {
			fill_page(elf, gpa, page);
			igvm_write_page(w, gpa, MASK, 0, IGVM_DATA_NORMAL,
					page);
		}
		next = gpa;
	}
	return w->error;
}

static int add_config(struct igvm_writer *w, const struct pvconfig *cfg,
		      char *err, size_t errlen)
{
	static struct pvconfig check;
	char *text = calloc(1, GUEST_VTL2_SIZE);
	size_t len = 0;
	int rc;

	if (!text)
		return IGVM_BUILD_FAILED;
	rc = pvconfig_write(cfg, text, GUEST_VTL2_SIZE, &len);
	/* What the shim will read back must parse the same way. */
	if (!rc)
		rc = pvconfig_parse(text, len, &check, NULL);
	if (rc) {
		snprintf(err, errlen, "configuration: %s",
			 pvconfig_strerror(rc));
		free(text);
		return IGVM_BUILD_BAD_INPUT;
	}
	igvm_write_required_memory(w, GUEST_VTL2_GPA, MASK, GUEST_VTL2_SIZE,
				   IGVM_REQUIRED_MEMORY_VTL2_PROTECTABLE);
	for (size_t off = 0; off < len; off += IGVM_PAGE_SIZE)
		igvm_write_page(w, GUEST_VTL2_GPA + off, MASK, 0,
				IGVM_DATA_NORMAL, text + off);
	free(text);
	return w->error;
}

static void add_params(struct igvm_writer *w)
{
	static const struct {
		uint32_t index, type;
		uint64_t gpa, size;
	} areas[] = {
		{ IGVM_BUILD_AREA_CMDLINE, IGVM_VHT_COMMAND_LINE,
		  GUEST_CMDLINE_GPA, GUEST_CMDLINE_SIZE },
		{ IGVM_BUILD_AREA_VP_COUNT, IGVM_VHT_VP_COUNT,
		  GUEST_VP_COUNT_GPA, GUEST_VP_COUNT_SIZE },
		{ IGVM_BUILD_AREA_MEMMAP, IGVM_VHT_MEMORY_MAP, GUEST_MEMMAP_GPA,
		  GUEST_MEMMAP_SIZE },
		{ IGVM_BUILD_AREA_DT, IGVM_VHT_DEVICE_TREE, GUEST_DT_GPA,
		  GUEST_DT_SIZE },
	};
	size_t n = sizeof(areas) / sizeof(areas[0]);

	for (size_t i = 0; i < n; i++) {
		igvm_write_param_area(w, areas[i].index, areas[i].size);
		igvm_write_param(w, areas[i].type, areas[i].index, 0);
	}
	for (size_t i = 0; i < n; i++)
		igvm_write_insert(w, areas[i].gpa, MASK, areas[i].index);
}

static void reg_plain(struct igvm_vbs_reg *r, uint32_t name, uint64_t v)
{
	r->vtl = 0;
	r->name = name;
	igvm_reg_plain(r->value, v);
}

static void reg_seg(struct igvm_vbs_reg *r, uint32_t name, uint16_t sel,
		    uint16_t attr, uint64_t base, uint32_t limit)
{
	struct igvm_segment s = { base, limit, sel, attr };

	r->vtl = 0;
	r->name = name;
	igvm_reg_segment(r->value, &s);
}

static void reg_table(struct igvm_vbs_reg *r, uint32_t name, uint64_t base,
		      uint16_t limit)
{
	struct igvm_table t = { limit, base };

	r->vtl = 0;
	r->name = name;
	igvm_reg_table(r->value, &t);
}

/* VP 0 in long mode; values pass KVM's checks (PITFALLS.md). */
static int add_vp(struct igvm_writer *w, uint64_t entry)
{
	struct igvm_vbs_reg r[20];
	int n = 0;

	reg_plain(&r[n++], HV_X64_REG_CR0, 0x80050033ULL);
	reg_plain(&r[n++], HV_X64_REG_CR3, GUEST_PML4_GPA);
	reg_plain(&r[n++], HV_X64_REG_CR4, 0x620ULL);
	reg_plain(&r[n++], HV_X64_REG_EFER, 0x500ULL);
	reg_plain(&r[n++], HV_X64_REG_PAT, 0x0007040600070406ULL);
	reg_table(&r[n++], HV_X64_REG_GDTR, GUEST_GDT_GPA, GDT_LIMIT);
	reg_table(&r[n++], HV_X64_REG_IDTR, 0, 0);
	reg_seg(&r[n++], HV_X64_REG_CS, GUEST_CODE64_SEL, 0xA09B, 0,
		0xFFFFFFFF);
	reg_seg(&r[n++], HV_X64_REG_DS, GUEST_DATA_SEL, 0xC093, 0, 0xFFFFFFFF);
	reg_seg(&r[n++], HV_X64_REG_ES, GUEST_DATA_SEL, 0xC093, 0, 0xFFFFFFFF);
	reg_seg(&r[n++], HV_X64_REG_FS, GUEST_DATA_SEL, 0xC093, 0, 0xFFFFFFFF);
	reg_seg(&r[n++], HV_X64_REG_GS, GUEST_DATA_SEL, 0xC093, 0, 0xFFFFFFFF);
	reg_seg(&r[n++], HV_X64_REG_SS, GUEST_DATA_SEL, 0xC093, 0, 0xFFFFFFFF);
	reg_seg(&r[n++], HV_X64_REG_TR, GUEST_TSS_SEL, 0x008B,
		GUEST_GDT_GPA + TSS_OFFSET, TSS_LIMIT);
	reg_plain(&r[n++], HV_X64_REG_RFLAGS, 0x2);
	reg_plain(&r[n++], HV_X64_REG_RIP, entry);
	reg_plain(&r[n++], HV_X64_REG_RSP, GUEST_STACK_TOP);
	reg_plain(&r[n++], HV_X64_REG_RSI, GUEST_PARAM_BASE);
	return igvm_write_vp_context(w, 0, MASK, 0, r, (uint32_t)n);
}

static int write_all(struct igvm_writer *w, const struct elf_image *elf,
		     const struct pvconfig *cfg, char *err, size_t errlen)
{
	struct igvm_platform pl = {
		.compatibility_mask = MASK,
		.highest_vtl = 2,
		.platform_type = IGVM_PLATFORM_VSM_ISOLATION,
		.platform_version = 1,
	};
	int rc;

	igvm_write_platform(w, &pl);
	add_params(w);
	if (add_low_pages(w) || add_guest_pages(w, elf))
		return IGVM_BUILD_FAILED;
	rc = add_config(w, cfg, err, errlen);
	if (rc)
		return rc;
	return add_vp(w, elf->entry) ? IGVM_BUILD_FAILED : IGVM_BUILD_OK;
}

int igvm_build_image(const struct elf_image *elf, const struct pvconfig *cfg,
		     uint8_t **out, size_t *len, char *err, size_t errlen)
{
	struct igvm_writer w;
	int rc;

	if (errlen)
		err[0] = '\0';
	rc = check_layout(elf, cfg, err, errlen);
	*out = NULL;
	*len = 0;
	if (rc)
		return rc;
	igvm_writer_init(&w);
	rc = write_all(&w, elf, cfg, err, errlen);
	if (!rc && igvm_writer_finish(&w, out, len))
		rc = IGVM_BUILD_FAILED;
	if (rc == IGVM_BUILD_FAILED && !err[0])
		snprintf(err, errlen, "image writer: %s",
			 igvm_strerror(w.error ? w.error : IGVM_ERR_NO_MEMORY));
	igvm_writer_free(&w);
	return rc;
}
