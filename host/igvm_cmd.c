/* `parapet igvm build|dump|measure`: option parsing, file I/O and error
 * reporting around boot/igvm and host/igvm_build. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/igvm.h"
#include "boot/pvconfig.h"
#include "host/elf_load.h"
#include "host/igvm_build.h"
#include "host/igvm_cmd.h"
#include "host/igvm_dump.h"
#include "lib/util.h"

#define PROG "parapet igvm"

static const char build_usage[] =
    "usage: parapet igvm build --guest ELF -o OUT.igvm [options]\n"
    "Builds an IGVM image that starts the guest ELF in 64-bit long mode.\n"
    "  --guest ELF               guest x86-64 ELF executable (required)\n"
    "  -o, --output OUT          image to write (required)\n"
    "  --vps N                   default VP count (default 1)\n"
    "  --mem SIZE                default memory size, K/M/G suffixes\n"
    "                            (default 64M)\n"
    "  --cmdline ARGS            default guest command line\n"
    "  --paravisor-cmdline STR   measured paravisor command line\n"
    "  --allow-host-cmdline      let `parapet run --cmdline` append to it\n"
    "  --config KEY=VALUE        extra measured configuration (repeatable)\n"
    "  -h, --help                this help\n";

static const char dump_usage[] =
    "usage: parapet igvm dump FILE [--json]\n"
    "Validates FILE and prints the fixed header (with checksum status and\n"
    "measurement) and every variable header, field by field, with its\n"
    "file offset.\n"
    "  --json      machine-readable output\n"
    "  -h, --help  this help\n";

static const char measure_usage[] =
    "usage: parapet igvm measure FILE\n"
    "Validates FILE and prints its launch measurement (SHA-256 over the\n"
    "measured pages and the VP context, see boot/igvm.h) as 64 hex\n"
    "digits.\n"
    "  -h, --help  this help\n";

static const char igvm_usage[] =
    "usage: parapet igvm COMMAND [ARGS]\n"
    "IGVM image tools. Commands:\n"
    "  build     build an image from a guest ELF\n"
    "  dump      print every header of an image\n"
    "  measure   print the launch measurement of an image\n"
    "Run `parapet igvm COMMAND --help` for details.\n"
    "Exit status: 0 ok, 1 failed, 2 bad input.\n";

static int bad_usage(const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int bad_usage(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage);
	return CMD_BAD_INPUT;
}

/* The option getopt (optstring starting with ':') stopped at: c is ':'
 * for a missing value, else unknown. */
static int bad_option(const char *usage, int c, char **argv)
{
	char opt[3] = { '-', (char)optopt, '\0' };
	const char *o =
	    strncmp(argv[optind - 1], "--", 2) ? opt : argv[optind - 1];

	if (c == ':')
		return bad_usage(usage, "%s needs a value", o);
	return bad_usage(usage, "unknown option '%s'", o);
}

/* SIZE: decimal bytes with an optional K, M or G suffix (binary). */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if (shift)
		end++;
	if (*end || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int add_config_pair(struct pvconfig *cfg, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct pvconfig_pair *p;

	if (!eq || pvconfig_check_key(arg, (size_t)(eq - arg)) ||
	    pvconfig_check_value(eq + 1, strlen(eq + 1)))
		return -1;
	if (pvconfig_builtin_key(arg, (size_t)(eq - arg)))
		return -1;
	for (size_t i = 0; i < cfg->n_pairs; i++)
		if (cfg->pairs[i].key_len == (size_t)(eq - arg) &&
		    !memcmp(cfg->pairs[i].key, arg, cfg->pairs[i].key_len))
			return -1;
	if (cfg->n_pairs == PVCONFIG_MAX_PAIRS)
		return -1;
	p = &cfg->pairs[cfg->n_pairs++];
	p->key = arg;
	p->key_len = (size_t)(eq - arg);
	p->value = eq + 1;
	p->value_len = strlen(eq + 1);
	return 0;
}

static int copy_string(char *dst, const char *src)
{
	size_t len = strlen(src);

	if (pvconfig_check_value(src, len))
		return -1;
	memcpy(dst, src, len + 1);
	return 0;
}

static int write_file(const char *path, const uint8_t *buf, size_t len)
{
	char tmp[4096];
	FILE *fp;
	int ok;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, getpid()) >=
	    sizeof(tmp))
		return -1;
	fp = fopen(tmp, "wb");
	if (!fp)
		return -1;
	ok = fwrite(buf, 1, len, fp) == len;
	ok = (fclose(fp) == 0) && ok;
	if (ok && rename(tmp, path) == 0)
		return 0;
	unlink(tmp);
	return -1;
}

struct build_args {
	const char *guest;
	const char *output;
	struct pvconfig cfg;
};

enum {
	OPT_GUEST = 256,
	OPT_VPS,
	OPT_MEM,
	OPT_CMDLINE,
	OPT_PV_CMDLINE,
	OPT_ALLOW_HOST,
	OPT_CONFIG
};

/* Applies one option; returns CMD_OK or CMD_BAD_INPUT (message printed). */
static int build_option(struct build_args *a, int c, const char *arg)
{
	uint64_t n;

	switch (c) {
	case OPT_GUEST:
		a->guest = arg;
		return CMD_OK;
	case 'o':
		a->output = arg;
		return CMD_OK;
	case OPT_VPS:
		if (parse_size(arg, &n) || strpbrk(arg, "KkMmGg") || n == 0 ||
		    n > PVCONFIG_MAX_VPS)
			return bad_usage(build_usage, "bad --vps '%s'", arg);
		a->cfg.vp_count = (uint32_t)n;
		return CMD_OK;
	case OPT_MEM:
		if (parse_size(arg, &a->cfg.mem_size))
			return bad_usage(build_usage, "bad --mem '%s'", arg);
		return CMD_OK;
	case OPT_CMDLINE:
		if (copy_string(a->cfg.guest_cmdline, arg))
			return bad_usage(build_usage, "bad --cmdline '%s'",
					 arg);
		return CMD_OK;
	case OPT_PV_CMDLINE:
		if (copy_string(a->cfg.paravisor_cmdline, arg))
			return bad_usage(build_usage,
					 "bad --paravisor-cmdline '%s'", arg);
		return CMD_OK;
	case OPT_ALLOW_HOST:
		a->cfg.allow_host_cmdline = true;
		return CMD_OK;
	case OPT_CONFIG:
		if (add_config_pair(&a->cfg, arg))
			return bad_usage(build_usage,
					 "bad or duplicate --config '%s'", arg);
		return CMD_OK;
	}
	return bad_usage(build_usage, "%s", "unknown option");
}

static const struct option build_opts[] = {
	{ "guest", required_argument, NULL, OPT_GUEST },
	{ "output", required_argument, NULL, 'o' },
	{ "vps", required_argument, NULL, OPT_VPS },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "paravisor-cmdline", required_argument, NULL, OPT_PV_CMDLINE },
	{ "allow-host-cmdline", no_argument, NULL, OPT_ALLOW_HOST },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Parses build's argv into a; returns -1 for --help, else a status. */
static int parse_build_args(int argc, char **argv, struct build_args *a)
{
	int c, rc;

	memset(a, 0, sizeof(*a));
	pvconfig_init(&a->cfg);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", build_opts, NULL)) != -1) {
		if (c == 'h')
			return -1;
		if (c == '?' || c == ':')
			return bad_option(build_usage, c, argv);
		rc = build_option(a, c, optarg);
		if (rc)
			return rc;
	}
	if (optind < argc)
		return bad_usage(build_usage, "unexpected operand '%s'",
				 argv[optind]);
	if (!a->guest || !a->output)
		return bad_usage(build_usage, "%s",
				 "--guest and -o are required");
	return CMD_OK;
}

static int cmd_build(int argc, char **argv)
{
	static struct build_args a;
	struct elf_image elf;
	char err[512];
	uint8_t *img;
	size_t len;
	int rc = parse_build_args(argc, argv, &a);

	if (rc < 0) {
		fputs(build_usage, stdout);
		return CMD_OK;
	}
	if (rc)
		return rc;
	if (elf_load_file(a.guest, &elf, err, sizeof(err))) {
		fprintf(stderr, "%s build: %s: %s\n", PROG, a.guest, err);
		return CMD_BAD_INPUT;
	}
	rc = igvm_build_image(&elf, &a.cfg, &img, &len, err, sizeof(err));
	elf_image_free(&elf);
	if (rc) {
		fprintf(stderr, "%s build: %s\n", PROG, err);
		return rc;
	}
	if (write_file(a.output, img, len)) {
		fprintf(stderr, "%s build: %s: %s\n", PROG, a.output,
			strerror(errno));
		rc = CMD_FAILED;
	}
	free(img);
	return rc;
}

/* Reads a whole image (at most 4 GiB, the format's limit). */
static int read_image(const char *path, uint8_t **out, size_t *len)
{
	int rc = util_read_file(path, UINT32_MAX, out, len);

	if (rc == UTIL_READ_OK)
		return CMD_OK;
	fprintf(stderr, "%s: %s: %s\n", PROG, path, util_read_strerror(rc));
	return rc == UTIL_READ_IO ? CMD_FAILED : CMD_BAD_INPUT;
}

/* Loads and validates FILE; prints the one-line error on failure. */
static int load_image(const char *path, uint8_t **buf, struct igvm_file *f)
{
	struct igvm_error e;
	char msg[256];
	size_t len;
	int rc = read_image(path, buf, &len);

	if (rc)
		return rc;
	rc = igvm_parse(*buf, len, f, &e);
	if (rc == IGVM_ERR_NO_MEMORY) {
		fprintf(stderr, "%s: %s: out of memory\n", PROG, path);
		free(*buf);
		return CMD_FAILED;
	}
	if (rc) {
		igvm_error_format(&e, msg, sizeof(msg));
		fprintf(stderr, "%s: %s: %s\n", PROG, path, msg);
		free(*buf);
		return CMD_BAD_INPUT;
	}
	return CMD_OK;
}

static const struct option file_opts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Parses "FILE [--json]"; returns -1 for --help, else a status. */
static int parse_file_args(int argc, char **argv, const char *usage,
			   bool allow_json, const char **file, bool *json)
{
	int c;

	optind = 0;
	opterr = 0;
	*json = false;
	while ((c = getopt_long(argc, argv, ":h", file_opts, NULL)) != -1) {
		if (c == 'h')
			return -1;
		if (c == 'j' && allow_json)
			*json = true;
		else
			return bad_option(usage, c == 'j' ? '?' : c, argv);
	}
	if (argc - optind != 1)
		return bad_usage(usage, "%s", "expected exactly one FILE");
	*file = argv[optind];
	return CMD_OK;
}

static int cmd_dump(int argc, char **argv)
{
	struct igvm_file f;
	const char *file;
	uint8_t *buf;
	bool json;
	int rc = parse_file_args(argc, argv, dump_usage, true, &file, &json);

	if (rc < 0) {
		fputs(dump_usage, stdout);
		return CMD_OK;
	}
	if (rc || (rc = load_image(file, &buf, &f)))
		return rc;
	if (igvm_dump(&f, stdout, json) || fflush(stdout)) {
		fprintf(stderr, "%s dump: write error\n", PROG);
		rc = CMD_FAILED;
	}
	igvm_free(&f);
	free(buf);
	return rc;
}

static int cmd_measure(int argc, char **argv)
{
	uint8_t m[IGVM_MEASUREMENT_SIZE];
	struct igvm_file f;
	const char *file;
	uint8_t *buf;
	bool json;
	int rc =
	    parse_file_args(argc, argv, measure_usage, false, &file, &json);

	if (rc < 0) {
		fputs(measure_usage, stdout);
		return CMD_OK;
	}
	if (rc || (rc = load_image(file, &buf, &f)))
		return rc;
	if (igvm_measure(&f, m)) {
		fprintf(stderr, "%s measure: hashing failed\n", PROG);
		rc = CMD_FAILED;
	}
	for (size_t i = 0; !rc && i < sizeof(m); i++)
		printf("%02x", m[i]);
	if (!rc && (printf("\n") < 0 || fflush(stdout)))
		rc = CMD_FAILED;
	igvm_free(&f);
	free(buf);
	return rc;
}

int igvm_cmd_main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} cmds[] = {
		{ "build", cmd_build },
		{ "dump", cmd_dump },
		{ "measure", cmd_measure },
	};

	if (argc < 2)
		return bad_usage(igvm_usage, "%s", "missing command");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		fputs(igvm_usage, stdout);
		return CMD_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	return bad_usage(igvm_usage, "unknown command '%s'", argv[1]);
}
