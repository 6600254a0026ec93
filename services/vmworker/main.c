/* parapet-vmworker: the VM service. `--standalone IMAGE.igvm` runs one VM
 * in the foreground (console on stdin/stdout), the developer's and the
 * benchmarks' entry point. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/igvm.h"
#include "lib/guest_abi.h"
#include "lib/log.h"
#include "lib/registry.h"
#include "services/vmworker/console.h"
#include "services/vmworker/service.h"
#include "services/vmworker/standalone.h"
#include "services/vmworker/vm.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: parapet-vmworker --standalone IMAGE.igvm [options]\n"
		"\n"
		"Runs one VM in the foreground: the guest's console on stdout\n"
		"(guest bytes only) and stdin; Parapet's messages on stderr.\n"
		"\n"
		"options:\n"
		"  --accel kvm|emu|auto    accelerator (default auto)\n"
		"  --cpus N                VP count (default: the image's)\n"
		"  --mem SIZE              guest memory, e.g. 64M (default: "
		"the image's)\n"
		"  --cmdline OPTS          paravisor options: sidecar=off|on|"
		"log,\n"
		"                          on-crash=poweroff|reboot, log=debug|"
		"info|warn\n"
		"  --sidecar-cpus LIST     VPs run as sidecar CPUs: a cpulist, "
		"auto\n"
		"                          (every VP but VP 0, the default) or "
		"none\n"
		"  --sidecar-hotplug N     exits after which a sidecar VP "
		"becomes a\n"
		"                          full VP thread (default 100000; 0: "
		"never)\n"
		"  --guest-cmdline ARGS    the guest's command line\n"
		"  --timeout SECONDS       stop the VM after this long (exit "
		"124)\n"
		"  --no-coalesce           kvm: every write to a sink device "
		"exits\n"
		"                          (for measuring exits)\n"
		"  -h, --help              this text\n"
		"\n"
		"exit status: the guest's debug-exit value (122 when it is "
		"123 or more),\n"
		"123 the guest crashed, 124 timeout, 125 set-up failure.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "standalone", no_argument, NULL, 's' },
		{ "accel", required_argument, NULL, 'a' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "mem", required_argument, NULL, 'm' },
		{ "cmdline", required_argument, NULL, 'p' },
		{ "guest-cmdline", required_argument, NULL, 'g' },
		{ "timeout", required_argument, NULL, 't' },
		{ "sidecar-cpus", required_argument, NULL, 'S' },
		{ "sidecar-hotplug", required_argument, NULL, 'H' },
		{ "no-coalesce", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct standalone_args args;
	bool standalone = false;
	int c;

	log_init(SVC_NAME_VMWORKER);
	memset(&args, 0, sizeof(args));
	args.accel = "auto";
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			standalone = true;
			break;
		case 'a':
			args.accel = optarg;
			break;
		case 'c':
			args.cpus = optarg;
			break;
		case 'm':
			args.mem = optarg;
			break;
		case 'p':
			args.pv_cmdline = optarg;
			break;
		case 'g':
			args.guest_cmdline = optarg;
			break;
		case 't':
			args.timeout = optarg;
			break;
		case 'S':
			args.sidecar_cpus = optarg;
			break;
		case 'H':
			args.sidecar_hotplug = optarg;
			break;
		case 'C':
			args.no_coalesce = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return STANDALONE_EXIT_SETUP;
		}
	}
	if (!standalone) {
		/* Under init: the supervisor channel is fd 3. */
		if (optind != argc || fcntl(3, F_GETFD) < 0) {
			fprintf(stderr,
				"parapet-vmworker: without --standalone it "
				"runs only as a service of parapet-init\n");
			usage(stderr);
			return STANDALONE_EXIT_SETUP;
		}
		return vmworker_service_main();
	}
	if (optind != argc - 1) {
		fprintf(stderr, "parapet-vmworker: expected one IMAGE.igvm\n");
		usage(stderr);
		return STANDALONE_EXIT_SETUP;
	}
	args.image = argv[optind];
	return standalone_run(&args);
}
