/* parapet-vmworker: the VM service. `--standalone IMAGE.igvm` runs one VM
 * in the foreground (console on stdin/stdout), the developer's and the
 * benchmarks' entry point. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/igvm.h"
#include "boot/vmopts.h"
#include "lib/version.h"
#include "lib/guest_abi.h"
#include "lib/log.h"
#include "lib/registry.h"
#include "lib/supervise.h"
#include "lib/util.h"
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

/* The flags of --standalone (getopt prints what is wrong). */
#define VMWORKER_FLAGS                                                         \
	(VMOPT(VMOPT_STANDALONE) | VMOPT(VMOPT_ACCEL) | VMOPT(VMOPT_CPUS) |    \
	 VMOPT(VMOPT_MEM) | VMOPT(VMOPT_CMDLINE) |                             \
	 VMOPT(VMOPT_GUEST_CMDLINE) | VMOPT(VMOPT_TIMEOUT) |                   \
	 VMOPT(VMOPT_SIDECAR_CPUS) | VMOPT(VMOPT_SIDECAR_HOTPLUG) |            \
	 VMOPT(VMOPT_NO_COALESCE) | VMOPT(VMOPT_HELP))

int main(int argc, char **argv)
{
	struct vmopts args;
	int next;

	if (version_asked("parapet-vmworker", argc, argv))
		return 0;
	log_init(SVC_NAME_VMWORKER);
	switch (vmopts_parse(argc, argv, VMWORKER_FLAGS, 0, &args, &next)) {
	case VMOPTS_OK:
		break;
	case VMOPTS_HELP:
		usage(stdout);
		return 0;
	default:
		usage(stderr);
		return STANDALONE_EXIT_SETUP;
	}
	if (args.accel == NULL)
		args.accel = "auto";
	if (!args.standalone) {
		/* Under init: the supervisor channel is fd 3. */
		if (next != argc || !util_is_seqpacket(SUPERVISE_FD)) {
			fprintf(stderr,
				"parapet-vmworker: without --standalone it "
				"runs only as a service of parapet-init\n");
			usage(stderr);
			return STANDALONE_EXIT_SETUP;
		}
		return vmworker_service_main();
	}
	if (next != argc - 1) {
		fprintf(stderr, "parapet-vmworker: expected one IMAGE.igvm\n");
		usage(stderr);
		return STANDALONE_EXIT_SETUP;
	}
	args.image = argv[next];
	return standalone_run(&args);
}
