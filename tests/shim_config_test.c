/* Tests of the shim's host device tree reader (boot/shim_config.c,
 * `parapet run --host-dtb`): what it takes from a real file, and hostile
 * blobs refused without a crash; what a non-IGVM image is taken for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <elf.h>
#include <libfdt.h>

#include "boot/shim.h"
#include "lib/log.h"

static char blob[4096] __attribute__((aligned(8)));

/* A host tree: 2 CPUs, 64 MiB of memory, bootargs and a sidecar list. */
static void host_tree(void)
{
	int cpus, mem, node;
	fdt64_t reg[2] = { cpu_to_fdt64(0), cpu_to_fdt64(64u << 20) };

	assert_int_equal(fdt_create_empty_tree(blob, sizeof(blob)), 0);
	assert_int_equal(fdt_setprop_u32(blob, 0, "#address-cells", 2), 0);
	assert_int_equal(fdt_setprop_u32(blob, 0, "#size-cells", 2), 0);
	cpus = fdt_add_subnode(blob, 0, "cpus");
	assert_true(cpus >= 0);
	assert_true(fdt_add_subnode(blob, cpus, "cpu@1") >= 0);
	assert_true(fdt_add_subnode(blob, cpus, "cpu@0") >= 0);
	mem = fdt_add_subnode(blob, 0, "memory@0");
	assert_true(mem >= 0);
	assert_int_equal(fdt_setprop_string(blob, mem, "device_type", "memory"),
			 0);
	assert_int_equal(fdt_setprop(blob, mem, "reg", reg, sizeof(reg)), 0);
	node = fdt_add_subnode(blob, 0, "chosen");
	assert_int_equal(
	    fdt_setprop_string(blob, node, "bootargs", "on-crash=reboot"), 0);
	node = fdt_add_subnode(blob, 0, "parapet");
	assert_int_equal(fdt_setprop_string(blob, node, "sidecar-cpus", "1"),
			 0);
	assert_int_equal(fdt_pack(blob), 0);
}

/* Writes len bytes of blob to a temporary file; reads it as --host-dtb. */
static int read_host_dt(struct shim *s, size_t len)
{
	char path[] = "/tmp/parapet-shim-test.XXXXXX";
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, blob, len), (ssize_t)len);
	close(fd);
	memset(s, 0, sizeof(*s));
	s->a.host_dtb = path;
	rc = shim_read_host_dt(s);
	unlink(path);
	return rc;
}

static void test_host_dt(void **state)
{
	struct shim *s = calloc(1, sizeof(*s));

	(void)state;
	host_tree();
	assert_int_equal(read_host_dt(s, fdt_totalsize(blob)), 0);
	assert_int_equal(s->host.n_cpus, 2);
	assert_int_equal(s->host.mem_size, 64u << 20);
	assert_string_equal(s->host.bootargs, "on-crash=reboot");
	assert_string_equal(s->host.sidecar_cpus, "1");
	/* Cut short: refused. */
	assert_int_equal(read_host_dt(s, fdt_totalsize(blob) - 8), -1);
	free(s);
}

/* A version 2 blob (root name without '/') made libfdt 1.6.1's
 * fdt_check_full dereference NULL: found by the host_dt fuzz harness. */
static void test_host_dt_old_version(void **state)
{
	struct shim *s = calloc(1, sizeof(*s));

	(void)state;
	host_tree();
	fdt_set_version(blob, 2);
	fdt_set_last_comp_version(blob, 2);
	assert_int_equal(fdt_check_header(blob), 0);
	assert_int_equal(read_host_dt(s, fdt_totalsize(blob)), -1);
	assert_int_equal(s->host.n_cpus, 0);
	free(s);
}

/* An ELF64 header with one PT_NOTE over the note at 0x100. */
static size_t elf_with_note(uint8_t *buf, size_t cap, uint32_t type,
			    uint32_t namesz)
{
	Elf64_Ehdr eh = { .e_phoff = sizeof(eh),
			  .e_phentsize = sizeof(Elf64_Phdr),
			  .e_phnum = 1 };
	Elf64_Phdr ph = { .p_type = PT_NOTE,
			  .p_offset = 0x100,
			  .p_filesz = 24 };
	Elf64_Nhdr n = { .n_namesz = namesz, .n_descsz = 4, .n_type = type };

	memset(buf, 0, cap);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	memcpy(buf, &eh, sizeof(eh));
	memcpy(buf + sizeof(eh), &ph, sizeof(ph));
	memcpy(buf + 0x100, &n, sizeof(n));
	memcpy(buf + 0x100 + sizeof(n), "Xen", 4);
	return 0x100 + 24;
}

static void test_image_kind(void **state)
{
	static uint8_t buf[0x400];
	size_t len;

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(shim_image_kind(buf, sizeof(buf)), SHIM_IMAGE_OTHER);
	assert_int_equal(shim_image_kind(buf, 0), SHIM_IMAGE_OTHER);
	memcpy(buf + 0x202, "HdrS", 4);
	assert_int_equal(shim_image_kind(buf, sizeof(buf)), SHIM_IMAGE_BZIMAGE);
	assert_int_equal(shim_image_kind(buf, 0x205), SHIM_IMAGE_OTHER);
	len = elf_with_note(buf, sizeof(buf), 18, 4);
	assert_int_equal(shim_image_kind(buf, len), SHIM_IMAGE_PVH_ELF);
	/* the note cut short, another type, a bad name: a plain ELF */
	assert_int_equal(shim_image_kind(buf, len - 1), SHIM_IMAGE_ELF);
	len = elf_with_note(buf, sizeof(buf), 17, 4);
	assert_int_equal(shim_image_kind(buf, len), SHIM_IMAGE_ELF);
	len = elf_with_note(buf, sizeof(buf), 18, 0xfffffff0u);
	assert_int_equal(shim_image_kind(buf, len), SHIM_IMAGE_ELF);
	/* a 4-byte ELF: the magic alone */
	assert_int_equal(shim_image_kind(buf, 4), SHIM_IMAGE_ELF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_dt),
		cmocka_unit_test(test_host_dt_old_version),
		cmocka_unit_test(test_image_kind),
	};

	log_init("shim_config_test");
	return cmocka_run_group_tests_name("shim_config", tests, NULL, NULL);
}
