/* IGVM image -> guest RAM: pages, VP 0 context, configuration, parameter
 * areas. */
#include "boot/loader.h"

#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/guest_abi.h"
#include "lib/log.h"

#define IMAGE_CONFIG_MAX (64u * 1024)

static void loader_find_hole(const struct igvm_file *f, struct loader_image *b)
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
static int loader_read_config(const struct igvm_file *f, struct loader_image *b,
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

int loader_prepare(const struct igvm_file *f, struct loader_image *b, char *err,
		   size_t err_len)
{
	const struct igvm_header *h = NULL;

	memset(b, 0, sizeof(*b));
	pvconfig_init(&b->config);
	if (igvm_vp_regs(f, 0, &b->bsp) != IGVM_OK) {
		snprintf(err, err_len, "image has no VP context for VP 0");
		return -1;
	}
	loader_find_hole(f, b);
	while ((h = igvm_next(f, h, IGVM_VHT_PAGE_DATA)) != NULL) {
		uint64_t end = h->u.page.gpa + igvm_page_size(h);

		if (end > b->min_mem)
			b->min_mem = end;
	}
	if (b->hole_size != 0 && loader_read_config(f, b, err, err_len) != 0)
		return -1;
	if (!b->has_config)
		log_info("image: no measured configuration; using defaults");
	return 0;
}

/* What filling the parameter areas needs. */
struct load_ctx {
	const struct guest_ram *ram;
	const struct loader_params *p;
	const char *cmdline;
};

static int loader_copy_pages(const struct igvm_file *f,
			     const struct loader_image *b,
			     const struct guest_ram *ram, char *err,
			     size_t err_len)
{
	const struct igvm_header *h = NULL;

	while ((h = igvm_next(f, h, IGVM_VHT_PAGE_DATA)) != NULL) {
		uint64_t gpa = h->u.page.gpa, size = igvm_page_size(h);
		const uint8_t *src = igvm_page_bytes(f, h);
		uint8_t *dst;

		if (b->hole_size != 0 && gpa >= b->hole_gpa &&
		    gpa - b->hole_gpa < b->hole_size)
			continue; /* VTL2 only: never in guest RAM */
		dst = guest_ram_ptr(ram, gpa, size);
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

static void loader_memory_map(const struct guest_ram *ram, uint8_t *out,
			      size_t cap)
{
	struct {
		uint64_t gpn, pages;
		uint16_t type, flags;
		uint32_t reserved;
	} e[4];
	size_t n = 0;
	uint64_t hole = ram->hole_gpa, hole_end = hole + ram->hole_size;

	memset(e, 0, sizeof(e));
	if (ram->hole_size != 0 && hole_end <= ram->size) {
		e[n].pages = hole / 4096;
		e[n++].type = IGVM_MEMMAP_MEMORY;
		e[n].gpn = hole / 4096;
		e[n].pages = ram->hole_size / 4096;
		e[n++].type = IGVM_MEMMAP_VTL2_PROTECTABLE;
		e[n].gpn = hole_end / 4096;
		e[n].pages = (ram->size - hole_end) / 4096;
		e[n++].type = IGVM_MEMMAP_MEMORY;
	} else {
		e[n].pages = ram->size / 4096;
		e[n++].type = IGVM_MEMMAP_MEMORY;
	}
	n++; /* the terminating empty entry */
	memcpy(out, e,
	       n * IGVM_MEMMAP_ENTRY_SIZE < cap ? n * IGVM_MEMMAP_ENTRY_SIZE
						: cap);
}

/* A minimal device tree for the guest: cpus, memory, bootargs. */
static int loader_device_tree(const struct load_ctx *c, uint8_t *out,
			      size_t cap)
{
	int cpus, node;
	unsigned i;

	if (c->p->guest_dtb != NULL) {
		if (c->p->guest_dtb_len > cap)
			return -1;
		memcpy(out, c->p->guest_dtb, c->p->guest_dtb_len);
		return 0;
	}
	if (fdt_create_empty_tree(out, (int)cap) != 0)
		return -1;
	node = fdt_add_subnode(out, 0, "chosen");
	if (node < 0 || fdt_setprop_string(out, node, "bootargs", c->cmdline))
		return -1;
	cpus = fdt_add_subnode(out, 0, "cpus");
	if (cpus < 0)
		return -1;
	for (i = 0; i < c->p->n_vps; i++) {
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
	       fdt_appendprop_u64(out, node, "reg", c->ram->size);
}

static int loader_fill_param(const struct load_ctx *c,
			     const struct igvm_header *p, uint8_t *area,
			     uint64_t size)
{
	uint64_t off = p->u.param.byte_offset;
	uint8_t *dst = area + off;
	uint64_t room = size - off;
	uint32_t vps = c->p->n_vps;

	switch (p->type) {
	case IGVM_VHT_COMMAND_LINE:
		snprintf((char *)dst, room, "%s", c->cmdline);
		return 0;
	case IGVM_VHT_VP_COUNT:
		if (room >= sizeof(vps))
			memcpy(dst, &vps, sizeof(vps));
		return 0;
	case IGVM_VHT_MEMORY_MAP:
		loader_memory_map(c->ram, dst, room);
		return 0;
	case IGVM_VHT_DEVICE_TREE:
		return loader_device_tree(c, dst, room);
	default: /* SRAT, MADT, ...: left zero */
		return 0;
	}
}

static int loader_fill_area(const struct igvm_file *f,
			    const struct igvm_header *ins,
			    const struct load_ctx *c, char *err, size_t err_len)
{
	uint32_t index = ins->u.insert.parameter_area_index;
	const struct igvm_header *area = igvm_find_area(f, index);
	const struct igvm_header *p = NULL;
	uint64_t size = area->u.area.number_of_bytes;
	uint8_t *dst = guest_ram_ptr(c->ram, ins->u.insert.gpa, size);

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
		if (loader_fill_param(c, p, dst, size) != 0) {
			snprintf(err, err_len,
				 "header %u: parameter does not fit area %u",
				 p->index, index);
			return -1;
		}
	}
	return 0;
}

int loader_load(const struct igvm_file *f, const struct loader_image *img,
		const struct guest_ram *ram, const struct loader_params *p,
		char *err, size_t err_len)
{
	const struct igvm_header *ins = NULL;
	struct load_ctx c = {
		.ram = ram,
		.p = p,
		.cmdline = p->guest_cmdline != NULL ? p->guest_cmdline
						    : img->config.guest_cmdline,
	};

	if (loader_copy_pages(f, img, ram, err, err_len) != 0)
		return -1;
	while ((ins = igvm_next(f, ins, IGVM_VHT_PARAMETER_INSERT)) != NULL)
		if (loader_fill_area(f, ins, &c, err, err_len) != 0)
			return -1;
	return 0;
}
