/* IGVM image -> VM: pages, VP 0 context, configuration, parameter areas. */
#include "services/vmworker/image.h"

#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/guest_abi.h"
#include "lib/log.h"
#include "services/vmworker/vm.h"

#define IMAGE_CONFIG_MAX (64u * 1024)

static void seg_from_igvm(const struct igvm_segment *s, struct vp_segment *d)
{
	d->base = s->base;
	d->limit = s->limit;
	d->selector = s->selector;
	d->attrib = s->attributes;
}

/* Registers an image leaves out get what a flat long-mode VP needs. */
static void image_regs(const struct igvm_vp_regs *r, struct vp_regs *out)
{
	static const struct {
		int bit, seg;
	} segs[] = {
		{ IGVM_VPR_CS, VP_CS }, { IGVM_VPR_DS, VP_DS },
		{ IGVM_VPR_ES, VP_ES }, { IGVM_VPR_FS, VP_FS },
		{ IGVM_VPR_GS, VP_GS }, { IGVM_VPR_SS, VP_SS },
		{ IGVM_VPR_TR, VP_TR },
	};
	const struct igvm_segment *src[] = { &r->cs, &r->ds, &r->es, &r->fs,
					     &r->gs, &r->ss, &r->tr };
	size_t i;

	vpregs_long_mode(out, r->cr3, r->gdtr.base, r->gdtr.limit);
	for (i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
		if (r->present & (1u << segs[i].bit))
			seg_from_igvm(src[i], &out->seg[segs[i].seg]);
	out->rip = r->rip;
	out->gpr[VP_RSP] = r->rsp;
	out->gpr[VP_RBP] = r->rbp;
	out->gpr[VP_RSI] = r->rsi;
	out->gpr[VP_R8] = r->r8;
	out->gpr[VP_R9] = r->r9;
	out->gpr[VP_R10] = r->r10;
	out->gpr[VP_R11] = r->r11;
	out->gpr[VP_R12] = r->r12;
	if (r->present & (1u << IGVM_VPR_RFLAGS))
		out->rflags = r->rflags;
	out->cr0 = r->cr0;
	out->cr4 = r->cr4;
	out->efer = r->efer;
	if (r->present & (1u << IGVM_VPR_PAT))
		out->pat = r->pat;
	out->idtr.base = r->idtr.base;
	out->idtr.limit = r->idtr.limit;
}

static void image_find_hole(const struct igvm_file *f, struct image_boot *b)
{
	const struct igvm_header *h = NULL;

	while ((h = igvm_next(f, h, IGVM_VHT_REQUIRED_MEMORY)) != NULL) {
		if (!(h->u.mem.flags & IGVM_REQUIRED_MEMORY_VTL2_PROTECTABLE))
			continue;
		if (b->hole_size != 0) {
			log_warnx("image: more than one VTL2-protectable "
				  "range; only the first is kept from the "
				  "guest");
			continue;
		}
		b->hole_gpa = h->u.mem.gpa;
		b->hole_size = h->u.mem.number_of_bytes;
	}
}

/* The configuration is the text in the first pages of the hole. */
static int image_read_config(const struct igvm_file *f, struct image_boot *b,
			     char *err, size_t err_len)
{
	uint8_t *text = calloc(1, IMAGE_CONFIG_MAX);
	const struct igvm_header *h = NULL;
	unsigned line = 0;
	int rc;

	if (text == NULL)
		return -1;
	while ((h = igvm_next(f, h, IGVM_VHT_PAGE_DATA)) != NULL) {
		uint64_t off = h->u.page.gpa - b->hole_gpa;
		const uint8_t *src = igvm_page_bytes(f, h);

		if (h->u.page.gpa < b->hole_gpa || off >= IMAGE_CONFIG_MAX ||
		    src == NULL)
			continue;
		memcpy(text + off, src,
		       IMAGE_CONFIG_MAX - off < IGVM_PAGE_SIZE
			   ? IMAGE_CONFIG_MAX - off
			   : IGVM_PAGE_SIZE);
		b->has_config = true;
	}
	rc = b->has_config
		 ? pvconfig_parse(text, IMAGE_CONFIG_MAX, &b->config, &line)
		 : PVCONFIG_OK;
	free(text);
	if (rc != PVCONFIG_OK) {
		snprintf(err, err_len, "measured configuration, line %u: %s",
			 line, pvconfig_strerror(rc));
		return -1;
	}
	return 0;
}

int image_prepare(const struct igvm_file *f, struct image_boot *b, char *err,
		  size_t err_len)
{
	struct igvm_vp_regs r;
	const struct igvm_header *h = NULL;

	memset(b, 0, sizeof(*b));
	pvconfig_init(&b->config);
	if (igvm_vp_regs(f, 0, &r) != IGVM_OK) {
		snprintf(err, err_len, "image has no VP context for VP 0");
		return -1;
	}
	image_regs(&r, &b->bsp);
	image_find_hole(f, b);
	while ((h = igvm_next(f, h, IGVM_VHT_PAGE_DATA)) != NULL) {
		uint64_t end = h->u.page.gpa + igvm_page_size(h);

		if (end > b->min_mem)
			b->min_mem = end;
	}
	if (b->hole_size != 0 && image_read_config(f, b, err, err_len) != 0)
		return -1;
	if (!b->has_config)
		log_info("image: no measured configuration; using defaults");
	return 0;
}

static int image_copy_pages(const struct igvm_file *f,
			    const struct image_boot *b, struct vm *vm,
			    char *err, size_t err_len)
{
	const struct igvm_header *h = NULL;

	while ((h = igvm_next(f, h, IGVM_VHT_PAGE_DATA)) != NULL) {
		uint64_t gpa = h->u.page.gpa, size = igvm_page_size(h);
		const uint8_t *src = igvm_page_bytes(f, h);
		uint8_t *dst;

		if (b->hole_size != 0 && gpa >= b->hole_gpa &&
		    gpa - b->hole_gpa < b->hole_size)
			continue; /* VTL2 only: never in guest RAM */
		dst = vm_gpa_ptr(vm, gpa, size);
		if (dst == NULL) {
			snprintf(err, err_len,
				 "header %u: page at gpa 0x%llx is outside "
				 "guest memory",
				 h->index, (unsigned long long)gpa);
			return -1;
		}
		if (src != NULL)
			memcpy(dst, src, size);
		else
			memset(dst, 0, size);
	}
	return 0;
}

static void image_memory_map(const struct vm *vm, uint8_t *out, size_t cap)
{
	struct {
		uint64_t gpn, pages;
		uint16_t type, flags;
		uint32_t reserved;
	} e[4];
	size_t n = 0;
	uint64_t hole = vm->cfg.hole_gpa, hole_end = hole + vm->cfg.hole_size;

	memset(e, 0, sizeof(e));
	if (vm->cfg.hole_size != 0 && hole_end <= vm->cfg.mem_size) {
		e[n].pages = hole / 4096;
		e[n++].type = IGVM_MEMMAP_MEMORY;
		e[n].gpn = hole / 4096;
		e[n].pages = vm->cfg.hole_size / 4096;
		e[n++].type = IGVM_MEMMAP_VTL2_PROTECTABLE;
		e[n].gpn = hole_end / 4096;
		e[n].pages = (vm->cfg.mem_size - hole_end) / 4096;
		e[n++].type = IGVM_MEMMAP_MEMORY;
	} else {
		e[n].pages = vm->cfg.mem_size / 4096;
		e[n++].type = IGVM_MEMMAP_MEMORY;
	}
	n++; /* the terminating empty entry */
	memcpy(out, e,
	       n * IGVM_MEMMAP_ENTRY_SIZE < cap ? n * IGVM_MEMMAP_ENTRY_SIZE
						: cap);
}

/* A minimal boot device tree for the guest: cpus, memory, bootargs. */
static int image_device_tree(const struct vm *vm, const char *cmdline,
			     uint8_t *out, size_t cap)
{
	int cpus, node;
	unsigned i;

	if (fdt_create_empty_tree(out, (int)cap) != 0)
		return -1;
	node = fdt_add_subnode(out, 0, "chosen");
	if (node < 0 || fdt_setprop_string(out, node, "bootargs", cmdline))
		return -1;
	cpus = fdt_add_subnode(out, 0, "cpus");
	if (cpus < 0)
		return -1;
	for (i = 0; i < vm->cfg.n_vps; i++) {
		char name[32];

		snprintf(name, sizeof(name), "cpu@%u", i);
		node = fdt_add_subnode(out, cpus, name);
		if (node < 0 || fdt_setprop_u32(out, node, "reg", i))
			return -1;
	}
	node = fdt_add_subnode(out, 0, "memory");
	if (node < 0 || fdt_setprop_string(out, node, "device_type", "memory"))
		return -1;
	return fdt_setprop_u64(out, node, "reg", 0) ||
	       fdt_appendprop_u64(out, node, "reg", vm->cfg.mem_size);
}

static int image_fill_param(const struct igvm_header *p, uint8_t *area,
			    uint64_t size, struct vm *vm, const char *cmdline)
{
	uint64_t off = p->u.param.byte_offset;
	uint8_t *dst = area + off;
	uint64_t room = size - off;
	uint32_t vps = vm->cfg.n_vps;

	switch (p->type) {
	case IGVM_VHT_COMMAND_LINE:
		snprintf((char *)dst, room, "%s", cmdline);
		return 0;
	case IGVM_VHT_VP_COUNT:
		if (room >= sizeof(vps))
			memcpy(dst, &vps, sizeof(vps));
		return 0;
	case IGVM_VHT_MEMORY_MAP:
		image_memory_map(vm, dst, room);
		return 0;
	case IGVM_VHT_DEVICE_TREE:
		return image_device_tree(vm, cmdline, dst, room);
	default: /* SRAT, MADT, ...: left zero */
		return 0;
	}
}

static int image_fill_area(const struct igvm_file *f,
			   const struct igvm_header *ins, struct vm *vm,
			   const char *cmdline, char *err, size_t err_len)
{
	uint32_t index = ins->u.insert.parameter_area_index;
	const struct igvm_header *area = igvm_find_area(f, index);
	const struct igvm_header *p = NULL;
	uint64_t size = area->u.area.number_of_bytes;
	uint8_t *dst = vm_gpa_ptr(vm, ins->u.insert.gpa, size);

	if (dst == NULL) {
		snprintf(err, err_len,
			 "header %u: parameter area %u at gpa 0x%llx is "
			 "outside guest memory",
			 ins->index, index,
			 (unsigned long long)ins->u.insert.gpa);
		return -1;
	}
	memset(dst, 0, size);
	while ((p = igvm_next(f, p, 0)) != NULL) {
		if (p->skipped || p->type < IGVM_VHT_VP_COUNT ||
		    p->type > IGVM_VHT_ENVIRONMENT_INFO ||
		    p->u.param.parameter_area_index != index)
			continue;
		if (image_fill_param(p, dst, size, vm, cmdline) != 0) {
			snprintf(err, err_len,
				 "header %u: parameter does not fit area %u",
				 p->index, index);
			return -1;
		}
	}
	return 0;
}

int image_load(const struct igvm_file *f, const struct image_boot *b,
	       struct vm *vm, const char *guest_cmdline, char *err,
	       size_t err_len)
{
	const struct igvm_header *ins = NULL;
	const char *cmdline =
	    guest_cmdline != NULL ? guest_cmdline : b->config.guest_cmdline;

	if (image_copy_pages(f, b, vm, err, err_len) != 0)
		return -1;
	while ((ins = igvm_next(f, ins, IGVM_VHT_PARAMETER_INSERT)) != NULL)
		if (image_fill_area(f, ins, vm, cmdline, err, err_len) != 0)
			return -1;
	return 0;
}
