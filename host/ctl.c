/* `parapet ctl NAME COMMAND [--json]`: a command for a running partition,
 * through its run directory's ctl.sock to `parapet run`, which queues it
 * for hostcomm's poll; policy runs it and the answer comes back the same
 * way (DESIGN.md §9, §11). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host/run.h"
#include "hostctl.pb-c.h"
#include "lib/ipc.h"
#include "lib/jsonout.h"
#include "lib/pbjson.h"
#include "lib/rundir.h"

#define CTL_TIMEOUT_MS 40000

static const char ctl_usage[] =
    "usage: parapet ctl NAME poweroff|reset|pause|resume|status [--json]\n"
    "       parapet ctl NAME service [--service SVC] [--binary PATH] "
    "[--json]\n"
    "  service: restart vmworker with the guest's state saved and restored\n"
    "           (the guest keeps running); --binary runs PATH from now on\n"
    "  --service policy|hostcomm|diagd --binary PATH: that service runs\n"
    "           PATH from now on (restarted; the guest keeps running)\n"
    "exit: 0 done, 1 failed (unknown VM, refused, no answer), 2 bad "
    "usage\n";

static const char *const ctl_commands[] = { "poweroff", "reset",  "pause",
					    "resume",	"status", "service" };

struct ctl_args {
	const char *name, *cmd;
	char binary[4096];   /* absolute; "" for none */
	const char *service; /* --service, NULL: vmworker */
	char wire[32];	     /* the command sent */
	int json;
};

/* --binary PATH: made absolute here, checked by the partition's init. */
static int ctl_binary(struct ctl_args *a, const char *path)
{
	if (path == NULL || *path == '\0') {
		fprintf(stderr, "parapet ctl: --binary needs a path\n%s",
			ctl_usage);
		return 2;
	}
	if (realpath(path, a->binary) == NULL) {
		fprintf(stderr, "parapet ctl: --binary %s: %s\n", path,
			strerror(errno));
		return 2;
	}
	return 0;
}

static int ctl_parse(int argc, char **argv, struct ctl_args *a)
{
	const char *ops[2];
	int n = 0, rc;

	a->json = 0;
	a->binary[0] = '\0';
	a->service = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			a->json = 1;
		else if (!strcmp(argv[i], "--service")) {
			if (i + 1 >= argc)
				return fprintf(stderr,
					       "parapet ctl: --service needs a "
					       "name\n%s",
					       ctl_usage),
				       2;
			a->service = argv[++i];
		} else if (!strcmp(argv[i], "--binary")) {
			rc = ctl_binary(a, i + 1 < argc ? argv[++i] : NULL);
			if (rc != 0)
				return rc;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return fputs(ctl_usage, stdout), -1;
		else if (argv[i][0] == '-' || n == 2)
			return fprintf(stderr,
				       "parapet ctl: unexpected '%s'\n%s",
				       argv[i], ctl_usage),
			       2;
		else
			ops[n++] = argv[i];
	}
	if (n != 2)
		return fprintf(stderr,
			       "parapet ctl: expected NAME and COMMAND\n%s",
			       ctl_usage),
		       2;
	a->name = ops[0];
	a->cmd = ops[1];
	if (a->binary[0] != '\0' && strcmp(a->cmd, "service") != 0) {
		fprintf(stderr, "parapet ctl: --binary goes with 'service' "
				"only\n");
		return 2;
	}
	snprintf(a->wire, sizeof(a->wire), "%s", a->cmd);
	if (a->service != NULL) {
		if (strcmp(a->cmd, "service") != 0) {
			fprintf(stderr, "parapet ctl: --service goes with "
					"'service' only\n");
			return 2;
		}
		if (strcmp(a->service, "vmworker") != 0 &&
		    strcmp(a->service, "policy") != 0 &&
		    strcmp(a->service, "hostcomm") != 0 &&
		    strcmp(a->service, "diagd") != 0) {
			fprintf(stderr,
				"parapet ctl: --service: vmworker, policy, "
				"hostcomm or diagd, not '%s'\n",
				a->service);
			return 2;
		}
		/* the others: a command of their own, which a policy older
		 * than 0.10.0 refuses as unknown */
		if (strcmp(a->service, "vmworker") != 0) {
			if (a->binary[0] == '\0') {
				fprintf(stderr,
					"parapet ctl: --service %s needs "
					"--binary (a plain restart: "
					"parapet-diag restart)\n",
					a->service);
				return 2;
			}
			snprintf(a->wire, sizeof(a->wire), "replace-%s",
				 a->service);
		}
	}
	for (size_t i = 0; i < sizeof(ctl_commands) / sizeof(*ctl_commands);
	     i++)
		if (!strcmp(a->cmd, ctl_commands[i]))
			return 0;
	fprintf(stderr, "parapet ctl: unknown command '%s'\n%s", a->cmd,
		ctl_usage);
	return 2;
}

static void ctl_print(const char *name, const Parapet__HostCommandDone *d,
		      int json)
{
	const Parapet__PolicyReply *r = d->reply;
	const Parapet__VmStatus *vm = r ? r->vm : NULL;

	if (json) {
		json_t *j = pbjson_from_message(&d->base);

		jsonout_print(stdout, j);
		json_decref(j);
		return;
	}
	printf("%s: %s", name, r && r->state ? r->state : "done");
	if (vm)
		printf(" (vm %s, accel %s, %u VPs, up %.3f s)",
		       vm->state ? vm->state : "?", vm->accel ? vm->accel : "?",
		       vm->vp_count, (double)vm->uptime_ns / 1e9);
	if (r && r->has_blackout_ns)
		printf(", blackout %.3f ms", (double)r->blackout_ns / 1e6);
	putchar('\n');
}

static int ctl_call(const char *sock, const struct ctl_args *a)
{
	struct ipc_client_config cfg = {
		.name = "ctl",
		.path = sock,
		.destination = "host",
		.service = &parapet__host_ctl__descriptor,
		.timeout_ms = CTL_TIMEOUT_MS,
	};
	Parapet__PolicyCommand pc = PARAPET__POLICY_COMMAND__INIT;
	Parapet__HostCommandDone *d = NULL;
	struct ipc_client *c = ipc_client_open(&cfg);
	int rc;

	if (c == NULL)
		return 1;
	pc.command = (char *)(uintptr_t)a->wire;
	if (a->binary[0] != '\0')
		pc.binary = (char *)(uintptr_t)a->binary;
	rc = ipc_call(c, "Command", &pc.base, (ProtobufCMessage **)&d);
	ipc_client_close(c);
	if (rc != 0) {
		fprintf(stderr,
			"parapet ctl: %s: no answer from the "
			"partition: %s\n",
			a->name, ipc_strerror(rc));
		return 1;
	}
	if (!d->ok) {
		fprintf(stderr, "parapet ctl: %s: %s: %s\n", a->name, a->cmd,
			d->error ? d->error : "failed");
		rc = 1;
	} else
		ctl_print(a->name, d, a->json);
	ipc_free(&d->base);
	return rc;
}

int ctl_main(int argc, char **argv)
{
	static struct ctl_args a;
	char base[3000], err[256], sock[4200];
	struct stat st;
	int rc = ctl_parse(argc, argv, &a);
	const char *name = a.name;

	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if (!rundir_name_ok(name)) {
		fprintf(stderr, "parapet ctl: bad name '%s'\n", name);
		return 2;
	}
	if (rundir_base(base, sizeof(base), err, sizeof(err)) != 0) {
		fprintf(stderr, "parapet ctl: %s\n", err);
		return 1;
	}
	/* a VM whose run is gone: said at once (ctl.sock would take the
	 * whole timeout), its run directory removed */
	if (rundir_run_gone(base, name, err, sizeof(err))) {
		fprintf(stderr, "parapet ctl: no running VM named '%s' (%s)\n",
			name, err);
		return 1;
	}
	snprintf(sock, sizeof(sock), "%s/%s/ctl.sock", base, name);
	if (stat(sock, &st) != 0) {
		fprintf(stderr, "parapet ctl: no running VM named '%s' (%s)\n",
			name, strerror(errno));
		return 1;
	}
	return ctl_call(sock, &a);
}
