/* `parapet`: the host CLI. Dispatches to its subcommands through a table;
 * each returns its exit status. */
#include <stdio.h>
#include <string.h>

#include "host/console.h"
#include "host/igvm_cmd.h"
#include "host/run.h"
#include "lib/log.h"
#include "lib/version.h"

struct subcommand {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{ "igvm", igvm_cmd_main, "build, dump and measure IGVM images" },
	{ "run", run_main, "run an IGVM image in a new partition" },
	{ "list", list_main, "list the running partitions" },
	{ "ctl", ctl_main, "poweroff, reset, pause, resume or status of a VM" },
	{ "console", console_main, "attach to a running VM's console" },
	{ "metrics", metrics_main, "serve every VM's metrics to Prometheus" },
};

static void usage(FILE *fp)
{
	fprintf(fp, "usage: parapet COMMAND [ARGS] | --version\nCommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]);
	     i++)
		fprintf(fp, "  %-8s %s\n", subcommands[i].name,
			subcommands[i].summary);
	fprintf(fp, "Run `parapet COMMAND --help` for details.\n");
}

int main(int argc, char **argv)
{
	log_init("parapet");
	if (argc < 2) {
		fprintf(stderr, "parapet: missing COMMAND\n");
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		version_print("parapet");
		return 0;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]);
	     i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].main(argc - 1, argv + 1);
	fprintf(stderr, "parapet: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
