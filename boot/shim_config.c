/* The shim's configuration steps, in OpenHCL's order: the image and its
 * measured configuration, the host device tree, then the merge of
 * `parapet run` flags over the paravisor command line over the image's
 * defaults. */
#include <elf.h>
#include <fcntl.h>
#include <libfdt.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/shim.h"
#include "lib/guest_abi.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/util.h"

#define SHIM_IMAGE_MAX	 (1u << 30)
#define SHIM_HOST_DT_MAX (1u << 20)
#define SHIM_MAX_VPS	 64
#define SHIM_MAX_MEM	 (64ull << 30)

/* Reads a whole regular file of 1 to max bytes. */
static int shim_slurp(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	int rc = util_read_file(path, max, buf, len);

	if (rc == UTIL_READ_OPEN || rc == UTIL_READ_IO) {
		log_errx("%s: %s", path, util_read_strerror(rc));
		return -1;
	}
	if (rc != UTIL_READ_OK || *len == 0) {
		log_errx("%s: not a regular file of 1 to %zu bytes", path, max);
		free(*buf);
		*buf = NULL;
		return -1;
	}
	return 0;
}

#define SHIM_XEN_ELFNOTE_PHYS32_ENTRY 18

/* Whether the notes in buf[off, off + size) hold Xen's PVH entry. */
static bool shim_pvh_note(const uint8_t *buf, size_t len, uint64_t off,
			  uint64_t size)
{
	Elf64_Nhdr n;

	if (off > len || size > len - off)
		return false;
	while (size >= sizeof(n)) {
		uint64_t step;

		memcpy(&n, buf + off, sizeof(n));
		step = sizeof(n) + (((uint64_t)n.n_namesz + 3) & ~3ull) +
		       (((uint64_t)n.n_descsz + 3) & ~3ull);
		if (step > size)
			return false;
		if (n.n_type == SHIM_XEN_ELFNOTE_PHYS32_ENTRY &&
		    n.n_namesz == 4 && !memcmp(buf + off + sizeof(n), "Xen", 4))
			return true;
		off += step;
		size -= step;
	}
	return false;
}

enum shim_image_kind shim_image_kind(const uint8_t *buf, size_t len)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	if (len < SELFMAG || memcmp(buf, ELFMAG, SELFMAG))
		return len >= 0x206 && !memcmp(buf + 0x202, "HdrS", 4)
			   ? SHIM_IMAGE_BZIMAGE
			   : SHIM_IMAGE_OTHER;
	if (len < sizeof(eh) || buf[EI_CLASS] != ELFCLASS64)
		return SHIM_IMAGE_ELF;
	memcpy(&eh, buf, sizeof(eh));
	if (eh.e_phentsize != sizeof(ph) || eh.e_phoff > len ||
	    (uint64_t)eh.e_phnum * sizeof(ph) > len - eh.e_phoff)
		return SHIM_IMAGE_ELF;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		memcpy(&ph, buf + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_NOTE &&
		    shim_pvh_note(buf, len, ph.p_offset, ph.p_filesz))
			return SHIM_IMAGE_PVH_ELF;
	}
	return SHIM_IMAGE_ELF;
}

/* The image is a guest kernel, not an IGVM image: say how to make one. */
static bool shim_not_igvm(const struct shim *s)
{
	enum shim_image_kind k = shim_image_kind(s->image_buf, s->image_len);
	const char *p = s->a.image;
	int stem = (int)strlen(p);

	if (stem > 4 && !strcmp(p + stem - 4, ".elf"))
		stem -= 4;
	switch (k) {
	case SHIM_IMAGE_ELF:
	case SHIM_IMAGE_PVH_ELF:
		log_errx("%s is an ELF file%s, not an IGVM image: build one "
			 "with `parapet igvm build --guest %s -o %.*s.igvm`",
			 p, k == SHIM_IMAGE_PVH_ELF ? " (a PVH kernel)" : "", p,
			 stem, p);
		return true;
	case SHIM_IMAGE_BZIMAGE:
		log_errx("%s is a Linux bzImage, not an IGVM image: build one "
			 "from the kernel's ELF with `parapet igvm build "
			 "--guest vmlinux -o vmlinux.igvm`",
			 p);
		return true;
	default:
		return false;
	}
}

int shim_read_image(struct shim *s)
{
	struct igvm_error err;
	char msg[256];

	if (shim_slurp(s->a.image, SHIM_IMAGE_MAX, &s->image_buf,
		       &s->image_len) != 0)
		return -1;
	if (igvm_parse(s->image_buf, s->image_len, &s->image, &err) != 0) {
		if (shim_not_igvm(s))
			return -1;
		igvm_error_format(&err, msg, sizeof(msg));
		log_errx("image %s: %s", s->a.image, msg);
		return -1;
	}
	if (loader_prepare(&s->image, &s->img, msg, sizeof(msg)) != 0) {
		log_errx("image %s: %s", s->a.image, msg);
		return -1;
	}
	return 0;
}

/* A string property of at most cap - 1 bytes, NUL-terminated. */
static int shim_dt_string(const void *fdt, int node, const char *prop,
			  char *out, size_t cap)
{
	int len;
	const char *v = fdt_getprop(fdt, node, prop, &len);

	if (v == NULL)
		return 0;
	if (len < 1 || (size_t)len > cap || v[len - 1] != '\0' ||
	    strlen(v) != (size_t)len - 1) {
		log_errx("host device tree: property %s is not a string "
			 "shorter than %zu bytes",
			 prop, cap);
		return -1;
	}
	memcpy(out, v, (size_t)len);
	return 0;
}

/* Size of /memory (or memory@...): the sum of its reg ranges, with the
 * root's #address-cells/#size-cells. */
static int shim_dt_memory(const void *fdt, struct shim_host_dt *h)
{
	int node, len, ac = fdt_address_cells(fdt, 0),
		       sc = fdt_size_cells(fdt, 0);
	const fdt32_t *reg;

	if (ac < 1 || ac > 2 || sc < 1 || sc > 2)
		return 0;
	fdt_for_each_subnode(node, fdt, 0)
	{
		const char *dt = fdt_getprop(fdt, node, "device_type", &len);

		if (dt == NULL || len != 7 || memcmp(dt, "memory", 7))
			continue;
		reg = fdt_getprop(fdt, node, "reg", &len);
		if (reg == NULL || len <= 0 || len % ((ac + sc) * 4)) {
			log_errx("host device tree: memory node without a "
				 "valid reg");
			return -1;
		}
		for (int i = 0; i < len / 4; i += ac + sc) {
			uint64_t size = fdt32_to_cpu(reg[i + ac]);

			if (sc == 2)
				size =
				    size << 32 | fdt32_to_cpu(reg[i + ac + 1]);
			h->mem_size += size;
		}
	}
	return 0;
}

static int shim_dt_parse(const void *fdt, struct shim_host_dt *h)
{
	int node;

	node = fdt_path_offset(fdt, "/cpus");
	if (node >= 0) {
		int sub;

		fdt_for_each_subnode(sub, fdt, node) h->n_cpus++;
	}
	if (shim_dt_memory(fdt, h) != 0)
		return -1;
	node = fdt_path_offset(fdt, "/chosen");
	if (node >= 0 && shim_dt_string(fdt, node, "bootargs", h->bootargs,
					sizeof(h->bootargs)) != 0)
		return -1;
	node = fdt_path_offset(fdt, "/parapet");
	if (node >= 0 &&
	    (shim_dt_string(fdt, node, "accel", h->accel, sizeof(h->accel)) ||
	     shim_dt_string(fdt, node, "sidecar-cpus", h->sidecar_cpus,
			    sizeof(h->sidecar_cpus))))
		return -1;
	return 0;
}

/* fdt_check_full of libfdt 1.6.1 dereferences NULL on a blob older than
 * version 16 whose root node name has no '/' (fdt_get_name fails and the
 * root-name check does not look): refuse such old blobs first. dtc and
 * every current tool write version 17. */
static int shim_check_host_dt(const void *buf, size_t len)
{
	if (len < sizeof(struct fdt_header))
		return -FDT_ERR_TRUNCATED;
	if (fdt_magic(buf) == FDT_MAGIC && fdt_version(buf) < 16)
		return -FDT_ERR_BADVERSION;
	return fdt_check_full(buf, len);
}

int shim_read_host_dt(struct shim *s)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (s->a.host_dtb == NULL)
		return 0;
	if (shim_slurp(s->a.host_dtb, SHIM_HOST_DT_MAX, &buf, &len) != 0)
		return -1;
	rc = shim_check_host_dt(buf, len);
	if (rc != 0) {
		log_errx("host device tree %s: %s", s->a.host_dtb,
			 fdt_strerror(rc));
		free(buf);
		return -1;
	}
	rc = shim_dt_parse(buf, &s->host);
	free(buf);
	return rc;
}
