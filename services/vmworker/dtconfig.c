/* Boot device tree -> vmworker configuration. */
#include "services/vmworker/dtconfig.h"

#include <libfdt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "boot/igvm.h"
#include "lib/diskspec.h"
#include "services/vmworker/vm.h"

static int dt_fail(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int dt_fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* A NUL-terminated string property of at most cap - 1 bytes. */
static int dt_string(const void *fdt, int node, const char *name, char *out,
		     size_t cap)
{
	int len;
	const char *p = fdt_getprop(fdt, node, name, &len);

	if (p == NULL || len < 1 || (size_t)len > cap || p[len - 1] != '\0')
		return -1;
	memcpy(out, p, (size_t)len);
	return 0;
}

static int dt_u32(const void *fdt, int node, const char *name, uint32_t *out)
{
	int len;
	const fdt32_t *p = fdt_getprop(fdt, node, name, &len);

	if (p == NULL || len != 4)
		return -1;
	*out = fdt32_to_cpu(*p);
	return 0;
}

static int dt_u64(const void *fdt, int node, const char *name, uint64_t *out)
{
	int len;
	const fdt64_t *p = fdt_getprop(fdt, node, name, &len);

	if (p == NULL || len != 8)
		return -1;
	*out = fdt64_ld(p); /* properties are only 4-aligned */
	return 0;
}

static int dt_cpus(const void *fdt, struct dtconfig *c, char *err,
		   size_t err_len)
{
	int cpus = fdt_path_offset(fdt, "/cpus"), cpu;

	if (cpus < 0)
		return dt_fail(err, err_len, "boot device tree: no /cpus");
	fdt_for_each_subnode(cpu, fdt, cpus)
	{
		char role[16];
		uint32_t reg;

		if (dt_u32(fdt, cpu, "reg", &reg) != 0 || reg >= c->n_vps)
			return dt_fail(err, err_len,
				       "boot device tree: /cpus/%s: bad reg",
				       fdt_get_name(fdt, cpu, NULL));
		if (dt_string(fdt, cpu, "parapet,role", role, sizeof(role)) ==
			0 &&
		    strcmp(role, "sidecar") == 0) {
			if (reg == 0 || reg >= 64)
				return dt_fail(
				    err, err_len,
				    "boot device tree: cpu %u cannot "
				    "be a sidecar CPU",
				    reg);
			c->sidecar_mask |= 1ull << reg;
		}
	}
	return 0;
}

/* The VTL2-protectable memory node, if any. */
static int dt_memory(const void *fdt, struct dtconfig *c, char *err,
		     size_t err_len)
{
	int node;

	fdt_for_each_subnode(node, fdt, 0)
	{
		char type[32];
		const fdt64_t *reg;
		int len;

		if (strncmp(fdt_get_name(fdt, node, NULL), "memory@", 7) != 0 ||
		    dt_string(fdt, node, "parapet,type", type, sizeof(type)) ||
		    strcmp(type, "vtl2-protectable") != 0)
			continue;
		reg = fdt_getprop(fdt, node, "reg", &len);
		if (reg == NULL || len != 16)
			return dt_fail(err, err_len,
				       "boot device tree: %s: bad reg",
				       fdt_get_name(fdt, node, NULL));
		c->hole_gpa = fdt64_ld(&reg[0]); /* only 4-aligned */
		c->hole_size = fdt64_ld(&reg[1]);
	}
	return 0;
}

static int dt_parapet(const void *fdt, struct dtconfig *c, char *err,
		      size_t err_len)
{
	int node = fdt_path_offset(fdt, "/parapet"), len;
	struct igvm_vp_regs r;
	const void *ctx;
	uint32_t n;
	char sidecar[8];

	if (node < 0)
		return dt_fail(err, err_len, "boot device tree: no /parapet");
	if (dt_string(fdt, node, "accel", c->accel, sizeof(c->accel)) != 0 ||
	    (strcmp(c->accel, "kvm") != 0 && strcmp(c->accel, "emu") != 0))
		return dt_fail(err, err_len,
			       "boot device tree: /parapet/accel");
	if (dt_u32(fdt, node, "vp-count", &n) != 0 || n == 0 || n > VM_MAX_VPS)
		return dt_fail(err, err_len,
			       "boot device tree: /parapet/vp-count");
	c->n_vps = n;
	if (dt_u64(fdt, node, "mem-size", &c->mem_size) != 0 ||
	    c->mem_size == 0 || c->mem_size % 4096)
		return dt_fail(err, err_len,
			       "boot device tree: /parapet/mem-size");
	if (dt_string(fdt, node, "log", c->log, sizeof(c->log)) != 0)
		snprintf(c->log, sizeof(c->log), "default");
	if (dt_string(fdt, node, "sandbox", c->sandbox, sizeof(c->sandbox)))
		snprintf(c->sandbox, sizeof(c->sandbox), "strict");
	if (dt_string(fdt, node, "sidecar", sidecar, sizeof(sidecar)) == 0)
		c->sidecar_log = strcmp(sidecar, "log") == 0;
	ctx = fdt_getprop(fdt, node, "vp-context", &len);
	if (ctx == NULL || igvm_vbs_decode(ctx, (size_t)len, &r) != IGVM_OK)
		return dt_fail(err, err_len,
			       "boot device tree: /parapet/vp-context");
	vpregs_from_igvm(&r, &c->bsp);
	return 0;
}

/* /parapet/disks/disk@ADDR: each at its index's address (docs/disks.md). */
static int dt_disks(const void *fdt, struct dtconfig *c, char *err,
		    size_t err_len)
{
	int disks = fdt_path_offset(fdt, "/parapet/disks"), node;

	if (disks < 0)
		return 0;
	fdt_for_each_subnode(node, fdt, disks)
	{
		const char *name = fdt_get_name(fdt, node, NULL);
		struct dtconfig_disk *d;
		char backend[16];
		uint32_t i;

		if (dt_u32(fdt, node, "index", &i) != 0 ||
		    i >= GUEST_DISK_MAX || c->disks[i].present ||
		    dt_string(fdt, node, "backend", backend, sizeof(backend)) !=
			0 ||
		    diskspec_backend_from_name(backend) < 0)
			return dt_fail(err, err_len,
				       "boot device tree: /parapet/disks/%s: "
				       "bad index or backend",
				       name);
		d = &c->disks[i];
		d->present = true;
		d->blkd = diskspec_backend_from_name(backend) == DISKSPEC_BLKD;
		d->read_only =
		    fdt_getprop(fdt, node, "read-only", NULL) != NULL;
		if (dt_string(fdt, node, "label", d->label, sizeof(d->label)) !=
		    0)
			snprintf(d->label, sizeof(d->label), "disk%u", i);
	}
	return 0;
}

int dtconfig_parse(const void *fdt, size_t len, struct dtconfig *c, char *err,
		   size_t err_len)
{
	memset(c, 0, sizeof(*c));
	if (len < sizeof(struct fdt_header) || fdt_check_header(fdt) != 0 ||
	    fdt_totalsize(fdt) > len)
		return dt_fail(err, err_len, "boot device tree: bad header");
	if (dt_parapet(fdt, c, err, err_len) != 0 ||
	    dt_cpus(fdt, c, err, err_len) != 0 ||
	    dt_memory(fdt, c, err, err_len) != 0 ||
	    dt_disks(fdt, c, err, err_len) != 0)
		return -1;
	return 0;
}
