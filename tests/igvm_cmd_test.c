/* Tests of `parapet igvm build|dump|measure` (host/igvm_cmd.c) run in
 * process on a synthetic guest ELF: image layout, dump, measure, exit
 * statuses and error lines. */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "boot/igvm.h"
#include "boot/igvm_util.h"
#include "boot/pvconfig.h"
#include "host/igvm_cmd.h"
#include "lib/guest_abi.h"

#define ENTRY (GUEST_LOAD_GPA + 0x10)

static char dir[64];
static char elf_path[128], img_path[128];
static char out[1 << 20], err[8192];

/* mov al, 42; out 0xf4, al; hlt */
static const uint8_t code[] = { 0xb0, 0x2a, 0xe6, 0xf4, 0xf4 };

/* An ELF64 with a code segment at GUEST_LOAD_GPA (entry at +0x10) and a
 * data + bss segment at paddr (memsz bytes, 8 in the file). */
static void write_elf(const char *path, uint64_t data_paddr, uint64_t memsz)
{
	uint8_t file[0x3000] = { 0 };
	Elf64_Ehdr *eh = (Elf64_Ehdr *)file;
	Elf64_Phdr *ph = (Elf64_Phdr *)(file + sizeof(*eh));
	FILE *fp;

	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = ENTRY;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 2;
	ph[0] =
	    (Elf64_Phdr){ PT_LOAD,	  PF_R | PF_X, 0x1000, GUEST_LOAD_GPA,
			  GUEST_LOAD_GPA, 0x20,	       0x20,   0x1000 };
	memcpy(file + 0x1010, code, sizeof(code));
	ph[1] = (Elf64_Phdr){ PT_LOAD,	  PF_R | PF_W, 0x2000, data_paddr,
			      data_paddr, 8,	       memsz,  0x1000 };
	memcpy(file + 0x2000, "DATA1234", 8);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(file, 1, sizeof(file), fp), sizeof(file));
	fclose(fp);
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/igvm_cmd_test.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(elf_path, sizeof(elf_path), "%s/guest.elf", dir);
	snprintf(img_path, sizeof(img_path), "%s/guest.igvm", dir);
	write_elf(elf_path, GUEST_LOAD_GPA + 0x1000, 0x3000);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* Reads a whole temp file into buf (NUL-terminated). */
static void slurp(FILE *fp, char *buf, size_t cap)
{
	size_t n;

	fflush(fp);
	rewind(fp);
	n = fread(buf, 1, cap - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

/* Runs `parapet igvm ARGS...` with stdout and stderr captured. */
static int run(const char *first, ...)
{
	char *argv[32];
	int argc = 0, rc, so = dup(1), se = dup(2);
	FILE *fo = tmpfile(), *fe = tmpfile();
	va_list ap;

	argv[argc++] = strdup("igvm");
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *))
		argv[argc++] = strdup(a);
	va_end(ap);
	argv[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	dup2(fileno(fo), 1);
	dup2(fileno(fe), 2);
	rc = igvm_cmd_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	slurp(fo, out, sizeof(out));
	slurp(fe, err, sizeof(err));
	return rc;
}

static uint8_t *load(const char *path, size_t *len, struct igvm_file *f)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = malloc(8 << 20);

	assert_non_null(fp);
	*len = fread(buf, 1, 8 << 20, fp);
	fclose(fp);
	assert_int_equal(igvm_parse(buf, *len, f, NULL), IGVM_OK);
	return buf;
}

static const uint8_t *page_at(const struct igvm_file *f, uint64_t gpa,
			      bool *found)
{
	const struct igvm_header *h = NULL;

	*found = false;
	while ((h = igvm_next(f, h, IGVM_VHT_PAGE_DATA)))
		if (h->u.page.gpa == gpa) {
			*found = true;
			return igvm_page_bytes(f, h);
		}
	return NULL;
}

static void check_vp(const struct igvm_file *f)
{
	struct igvm_vp_regs r;

	assert_int_equal(igvm_vp_regs(f, 0, &r), IGVM_OK);
	assert_int_equal(r.rip, ENTRY);
	assert_int_equal(r.rsp, GUEST_STACK_TOP);
	assert_int_equal(r.rsi, GUEST_PARAM_BASE);
	assert_int_equal(r.cr0, 0x80050033);
	assert_int_equal(r.cr3, GUEST_PML4_GPA);
	assert_int_equal(r.cr4 & 0x20, 0x20);
	assert_int_equal(r.efer, 0x500);
	assert_int_equal(r.cs.attributes, 0xA09B);
	assert_int_equal(r.cs.selector, GUEST_CODE64_SEL);
	assert_int_equal(r.cs.limit, 0xFFFFFFFF);
	assert_int_equal(r.ss.attributes, 0xC093);
	assert_int_equal(r.ds.selector, GUEST_DATA_SEL);
	assert_int_equal(r.tr.attributes, 0x8B);
	assert_int_equal(r.gdtr.base, GUEST_GDT_GPA);
	assert_true(r.gdtr.limit >= r.tr.selector + 15);
	assert_int_equal(f->headers[f->n_headers - 1].type,
			 IGVM_VHT_VP_CONTEXT);
}

static void check_tables(const struct igvm_file *f)
{
	const uint8_t *p;
	bool found;

	p = page_at(f, GUEST_GDT_GPA, &found);
	assert_non_null(p);
	assert_int_equal(get_le64(p + GUEST_CODE64_SEL), 0x00AF9B000000FFFF);
	assert_int_equal(get_le64(p + GUEST_DATA_SEL), 0x00CF93000000FFFF);
	assert_int_equal(p[0x18 + 5], 0x8B); /* busy 64-bit TSS */
	p = page_at(f, GUEST_PML4_GPA, &found);
	assert_int_equal(get_le64(p) & ~0xFFFULL, GUEST_PDPT_GPA);
	p = page_at(f, GUEST_PDPT_GPA, &found);
	assert_int_equal(get_le64(p + 8 * 3) & ~0xFFFULL,
			 GUEST_PD_GPA + 0x3000);
	p = page_at(f, GUEST_PD_GPA + 0x3000, &found);
	assert_int_equal(get_le64(p + 8 * 511), (0x7FFULL << 21) | 0x83);
	p = page_at(f, GUEST_STACK_TOP - 0x1000, &found);
	assert_true(found);
	assert_null(p);
}

static void check_guest(const struct igvm_file *f)
{
	const uint8_t *p;
	bool found;

	p = page_at(f, GUEST_LOAD_GPA, &found);
	assert_non_null(p);
	assert_memory_equal(p + 0x10, code, sizeof(code));
	p = page_at(f, GUEST_LOAD_GPA + 0x1000, &found);
	assert_memory_equal(p, "DATA1234", 8);
	p = page_at(f, GUEST_LOAD_GPA + 0x3000, &found); /* bss */
	assert_true(found);
	assert_null(p);
	page_at(f, GUEST_LOAD_GPA + 0x4000, &found);
	assert_false(found);
}

static void check_params(const struct igvm_file *f)
{
	static const struct {
		uint32_t type;
		uint64_t gpa, size;
	} want[] = {
		{ IGVM_VHT_COMMAND_LINE, GUEST_CMDLINE_GPA,
		  GUEST_CMDLINE_SIZE },
		{ IGVM_VHT_VP_COUNT, GUEST_VP_COUNT_GPA, GUEST_VP_COUNT_SIZE },
		{ IGVM_VHT_MEMORY_MAP, GUEST_MEMMAP_GPA, GUEST_MEMMAP_SIZE },
		{ IGVM_VHT_DEVICE_TREE, GUEST_DT_GPA, GUEST_DT_SIZE },
	};

	for (size_t i = 0; i < 4; i++) {
		const struct igvm_header *p = igvm_find_param(f, want[i].type);
		uint32_t idx;

		assert_non_null(p);
		idx = p->u.param.parameter_area_index;
		assert_int_equal(igvm_find_area(f, idx)->u.area.number_of_bytes,
				 want[i].size);
		assert_int_equal(igvm_find_insert(f, idx)->u.insert.gpa,
				 want[i].gpa);
	}
}

static void check_config(const struct igvm_file *f)
{
	static struct pvconfig c;
	const struct igvm_header *m =
	    igvm_next(f, NULL, IGVM_VHT_REQUIRED_MEMORY);
	const uint8_t *p;
	bool found;

	assert_non_null(m);
	assert_int_equal(m->u.mem.gpa, GUEST_VTL2_GPA);
	assert_int_equal(m->u.mem.number_of_bytes, GUEST_VTL2_SIZE);
	assert_int_equal(m->u.mem.flags, IGVM_REQUIRED_MEMORY_VTL2_PROTECTABLE);
	p = page_at(f, GUEST_VTL2_GPA, &found);
	assert_non_null(p);
	assert_int_equal(pvconfig_parse(p, IGVM_PAGE_SIZE, &c, NULL), 0);
	assert_string_equal(c.guest_cmdline, "count=5 x=y");
	assert_string_equal(c.paravisor_cmdline, "sidecar=off");
	assert_true(c.allow_host_cmdline);
	assert_int_equal(c.vp_count, 3);
	assert_int_equal(c.mem_size, 32ULL << 20);
	assert_int_equal(c.n_pairs, 2);
	assert_memory_equal(c.pairs[1].key, "svc.b", 5);
	assert_memory_equal(c.pairs[1].value, "2=3", 3);
}

static void test_build_layout(void **state)
{
	struct igvm_file f;
	size_t len;
	uint8_t *buf;

	(void)state;
	/* Options before and after each other, --config repeated. */
	assert_int_equal(run("build", "-o", img_path, "--guest", elf_path,
			     "--cmdline", "count=5 x=y", "--vps", "3", "--mem",
			     "32M", "--paravisor-cmdline", "sidecar=off",
			     "--allow-host-cmdline", "--config", "svc.a=1",
			     "--config", "svc.b=2=3", NULL),
			 CMD_OK);
	assert_string_equal(err, "");
	buf = load(img_path, &len, &f);
	assert_int_equal(f.headers[0].type, IGVM_VHT_SUPPORTED_PLATFORM);
	assert_int_equal(f.headers[0].u.platform.platform_type,
			 IGVM_PLATFORM_VSM_ISOLATION);
	assert_int_equal(f.headers[0].u.platform.highest_vtl, 2);
	check_vp(&f);
	check_tables(&f);
	check_guest(&f);
	check_params(&f);
	check_config(&f);
	igvm_free(&f);
	free(buf);
}

static void test_dump_and_measure(void **state)
{
	char m1[128], want[80];
	uint8_t mb[32];
	struct igvm_file f;
	json_error_t je;
	json_t *root;
	size_t len;
	uint8_t *buf;

	(void)state;
	assert_int_equal(
	    run("build", "--guest", elf_path, "-o", img_path, NULL), CMD_OK);
	assert_int_equal(run("measure", img_path, NULL), CMD_OK);
	assert_int_equal(strlen(out), 65);
	assert_int_equal(out[64], '\n');
	strcpy(m1, out);
	buf = load(img_path, &len, &f);
	igvm_measure(&f, mb);
	for (int i = 0; i < 32; i++)
		sprintf(want + 2 * i, "%02x", mb[i]);
	assert_memory_equal(m1, want, 64);
	/* The same input builds the same image. */
	assert_int_equal(
	    run("build", "--guest", elf_path, "-o", img_path, NULL), CMD_OK);
	assert_int_equal(run("measure", img_path, NULL), CMD_OK);
	assert_string_equal(out, m1);

	assert_int_equal(run("dump", img_path, NULL), CMD_OK);
	assert_non_null(strstr(out, "checksum_status=ok"));
	assert_non_null(strstr(out, "@0x18 SUPPORTED_PLATFORM"));
	assert_non_null(strstr(out, "register=tr"));
	assert_non_null(strstr(out, want));
	assert_int_equal(run(img_path, "--json", "dump", NULL),
			 CMD_BAD_INPUT); /* the command comes first */
	assert_int_equal(run("dump", "--json", img_path, NULL), CMD_OK);
	assert_int_equal(out[0], '{');
	assert_int_equal(run("dump", img_path, "--json", NULL), CMD_OK);
	root = json_loads(out, 0, &je);
	assert_non_null(root);
	assert_int_equal(json_array_size(json_object_get(root, "headers")),
			 f.n_headers);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_object_get(root, "fixed_header"), "checksum_status")),
	    "ok");
	json_decref(root);
	igvm_free(&f);
	free(buf);
}

static void write_buf(const char *path, const uint8_t *b, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(b, 1, len, fp), len);
	fclose(fp);
}

static void test_corrupt_image(void **state)
{
	struct igvm_file f;
	char bad[160];
	size_t len;
	uint8_t *buf;
	uint32_t off;
	int idx;

	(void)state;
	assert_int_equal(
	    run("build", "--guest", elf_path, "-o", img_path, NULL), CMD_OK);
	buf = load(img_path, &len, &f);
	idx = (int)(igvm_next(&f, NULL, IGVM_VHT_PAGE_DATA) - f.headers);
	off = f.headers[idx].offset;
	igvm_free(&f);
	put_le64(buf + off + 8, 0x1234);
	igvm_fix_checksum(buf, len);
	snprintf(bad, sizeof(bad), "%s/bad.igvm", dir);
	write_buf(bad, buf, len);
	free(buf);
	assert_int_equal(run("dump", bad, NULL), CMD_BAD_INPUT);
	assert_string_equal(out, "");
	assert_non_null(strstr(err, "(PAGE_DATA"));
	assert_non_null(strstr(err, "field gpa"));
	snprintf(bad, sizeof(bad), "header %d ", idx);
	assert_non_null(strstr(err, bad));
	/* One line. */
	assert_ptr_equal(strchr(err, '\n'), err + strlen(err) - 1);
	assert_int_equal(run("measure", elf_path, NULL), CMD_BAD_INPUT);
	assert_non_null(strstr(err, "magic"));
}

static void test_bad_flags(void **state)
{
	char bad_elf[160], out_path[160];

	(void)state;
	assert_int_equal(run("build", "--guest", elf_path, NULL),
			 CMD_BAD_INPUT);
	assert_non_null(strstr(err, "usage:"));
	assert_int_equal(
	    run("build", "--guest", elf_path, "-o", img_path, "--bogus", NULL),
	    CMD_BAD_INPUT);
	assert_int_equal(run("build", "--guest", elf_path, "-o", img_path,
			     "--vps", "0", NULL),
			 CMD_BAD_INPUT);
	assert_int_equal(run("build", "--guest", elf_path, "-o", img_path,
			     "--mem", "12Q", NULL),
			 CMD_BAD_INPUT);
	assert_int_equal(run("build", "--guest", elf_path, "-o", img_path,
			     "--mem", "1M", NULL),
			 CMD_BAD_INPUT);
	assert_int_equal(run("build", "--guest", elf_path, "-o", img_path,
			     "--config", "vp_count=2", NULL),
			 CMD_BAD_INPUT);
	assert_int_equal(run("build", "--guest", elf_path, "-o", img_path,
			     "--config", "a=1", "--config", "a=2", NULL),
			 CMD_BAD_INPUT);
	assert_int_equal(run("build", "--guest", elf_path, "-o", img_path,
			     "--cmdline", "a\nb", NULL),
			 CMD_BAD_INPUT);
	assert_int_equal(run("dump", NULL), CMD_BAD_INPUT);
	assert_int_equal(run("measure", img_path, "--json", NULL),
			 CMD_BAD_INPUT);
	assert_int_equal(run("frob", NULL), CMD_BAD_INPUT);
	assert_int_equal(run("dump", "/nonexistent.igvm", NULL), CMD_BAD_INPUT);
	/* Guest segments in reserved memory, a non-ELF guest. */
	snprintf(bad_elf, sizeof(bad_elf), "%s/low.elf", dir);
	write_elf(bad_elf, 0x8000, 0x1000);
	assert_int_equal(run("build", "--guest", bad_elf, "-o", img_path, NULL),
			 CMD_BAD_INPUT);
	write_elf(bad_elf, GUEST_VTL2_GPA - 0x1000, 0x2000);
	assert_int_equal(run("build", "--guest", bad_elf, "-o", img_path, NULL),
			 CMD_BAD_INPUT);
	assert_non_null(strstr(err, "VTL2"));
	assert_int_equal(
	    run("build", "--guest", img_path, "-o", img_path, NULL),
	    CMD_BAD_INPUT);
	/* Writing fails: exit 1. */
	snprintf(out_path, sizeof(out_path), "%s/no/such/dir.igvm", dir);
	assert_int_equal(
	    run("build", "--guest", elf_path, "-o", out_path, NULL),
	    CMD_FAILED);
}

static void test_help(void **state)
{
	(void)state;
	assert_int_equal(run("--help", NULL), CMD_OK);
	assert_non_null(strstr(out, "build"));
	assert_int_equal(run("build", "--help", NULL), CMD_OK);
	assert_non_null(strstr(out, "--paravisor-cmdline"));
	assert_int_equal(run("dump", "-h", NULL), CMD_OK);
	assert_non_null(strstr(out, "--json"));
	assert_int_equal(run("measure", "--help", NULL), CMD_OK);
	assert_non_null(strstr(out, "SHA-256"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_layout),
		cmocka_unit_test(test_dump_and_measure),
		cmocka_unit_test(test_corrupt_image),
		cmocka_unit_test(test_bad_flags),
		cmocka_unit_test(test_help),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
