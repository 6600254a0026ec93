/* parapet-test-service: a service for the partition e2e tests. As its
 * arguments say, it records where it runs (namespaces, pid, fds it got),
 * sends READY over its supervisor channel, exits with a code or on
 * SIGTERM (or ignores SIGTERM). With --ctl it is instead a client of
 * init's control endpoint, for tests that nsenter the partition. With
 * --violate SYSCALL it enters the test sandbox profile (strict) once
 * ready and makes that forbidden call (ptrace or execve). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init.pb-c.h"
#include "tests/e2e/become.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/supervise.h"
#include "lib/util.h"
#include "sandbox/sandbox.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void ns_link(FILE *fp, const char *ns)
{
	char path[64], target[128];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
	n = readlink(path, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = '\0';
	fprintf(fp, "%s=%s\n", ns, target);
}

/* Appends "pid spawn-ns" plus namespaces and received fds to path. */
static void record(const char *path, const char *fds)
{
	FILE *fp = fopen(path, "a");

	if (fp == NULL) {
		log_warn("%s", path);
		return;
	}
	fprintf(fp, "start pid=%d ppid=%d t=%llu fds=%s\n", (int)getpid(),
		(int)getppid(), (unsigned long long)util_now_ns(), fds);
	ns_link(fp, "pid");
	ns_link(fp, "net");
	ns_link(fp, "mnt");
	fclose(fp);
}

/* Reads a queued FDS message if init sent one: "name:size,...". */
static void take_fds(char *out, size_t len, int wait_ms)
{
	struct pollfd p = { .fd = SUPERVISE_FD, .events = POLLIN };

	Parapet__SupervisorMsg *msg = NULL;
	int fds[SUPERVISE_MAX_FDS];
	size_t n = 0, used = 0;

	snprintf(out, len, "none");
	if (poll(&p, 1, wait_ms) <= 0)
		return;
	fcntl(SUPERVISE_FD, F_SETFL, O_NONBLOCK);
	if (supervise_recv(SUPERVISE_FD, &msg, fds, SUPERVISE_MAX_FDS, &n) !=
	    SUPERVISE_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		used += (size_t)snprintf(
		    out + used, used < len ? len - used : 0, "%s%s:%lld",
		    i ? "," : "", msg->fd_names[i], util_fd_size(fds[i]));
		close(fds[i]);
	}
	supervise_msg_free(msg);
out:
	fcntl(SUPERVISE_FD, F_SETFL, 0);
}

/* Takes the uid of the service named by PARAPET_TEST_CALLER (policy,
 * hostcomm, vmworker, diagd; "root" stays root) as a real caller of
 * init would run: init answers by the caller's uid. Default: policy for
 * Poweroff, diagd for the rest, as in a partition. */
static int ctl_become_caller(const char *method)
{
	const char *who = getenv("PARAPET_TEST_CALLER");

	if (who == NULL)
		who = strcmp(method, "Poweroff") ? SVC_NAME_DIAGD
						 : SVC_NAME_POLICY;
	return become_service("PARAPET_TEST_CALLER", who) < 0 ? -1 : 0;
}

static int ctl(const char *method, const char *name)
{
	struct ipc_client_config cfg = {
		.name = "test",
		.path = PARTITION_INIT_SOCK,
		.service = &parapet__init_control__descriptor,
		.timeout_ms = 20000,
	};
	Parapet__ServiceRef ref = PARAPET__SERVICE_REF__INIT;
	Parapet__PsRequest ps = PARAPET__PS_REQUEST__INIT;
	Parapet__PoweroffRequest off = PARAPET__POWEROFF_REQUEST__INIT;
	Parapet__LogsRequest logs = PARAPET__LOGS_REQUEST__INIT;
	const ProtobufCMessage *req = &ref.base;
	ProtobufCMessage *reply = NULL;
	struct ipc_client *c;
	int rc;

	if (ctl_become_caller(method) != 0 ||
	    (c = ipc_client_open(&cfg)) == NULL)
		return 1;
	ref.name = (char *)(uintptr_t)name;
	ref.binary = getenv("PARAPET_TEST_BINARY");
	if (getenv("PARAPET_TEST_BINARY_TOKEN") != NULL) {
		ref.has_binary_token = 1;
		ref.binary_token =
		    strtoull(getenv("PARAPET_TEST_BINARY_TOKEN"), NULL, 0);
	}
	if (!strcmp(method, "Ps"))
		req = &ps.base;
	if (!strcmp(method, "Logs")) {
		logs.name = ref.name;
		req = &logs.base;
	}
	if (!strcmp(method, "Poweroff")) {
		off.has_status = 1;
		off.status = name ? atoi(name) : 0;
		req = &off.base;
	}
	rc = ipc_call(c, method, req, &reply);
	if (rc != 0) {
		fprintf(stderr, "%s: %s: %s\n", method, ipc_strerror(rc),
			ipc_last_error());
		ipc_client_close(c);
		return 1;
	}
	if (!strcmp(method, "Ps")) {
		Parapet__PsReply *r = (Parapet__PsReply *)reply;

		for (size_t i = 0; i < r->n_services; i++)
			printf("%s %s pid=%d spawns=%u deaths=%u last=%s\n",
			       r->services[i]->name, r->services[i]->state,
			       r->services[i]->pid, r->services[i]->spawns,
			       r->services[i]->deaths,
			       r->services[i]->last_exit);
	} else if (!strcmp(method, "Logs")) {
		Parapet__LogsReply *r = (Parapet__LogsReply *)reply;

		for (size_t i = 0; i < r->n_logs; i++)
			fwrite(r->logs[i]->text.data, 1, r->logs[i]->text.len,
			       stdout);
	} else if (reply->descriptor == &parapet__control_reply__descriptor) {
		Parapet__ControlReply *r = (Parapet__ControlReply *)reply;

		printf("%s %s pid=%d\n", r->service->name, r->service->state,
		       r->service->pid);
	} else {
		/* Poweroff: said before the partition (and, in its pid
		 * namespace, this client) may be gone */
		printf("%s: ok\n", method);
	}
	fflush(stdout);
	ipc_free(reply);
	ipc_client_close(c);
	return 0;
}

/* Enters the strict test profile, then makes the forbidden call named
 * (the SIGSYS reporter should end the process with exit 159). */
static int violate(const char *call)
{
	static const struct sandbox_bind binds[] = {
		{ "/dev/null", "/dev/null", false, true },
	};
	struct sandbox_spec spec = {
		.service = "test-service",
		.profile = SANDBOX_PROFILE_TEST,
		.mode = SANDBOX_STRICT,
		.binds = binds,
		.n_binds = 1,
	};
	struct sandbox_status st;
	char err[256];

	if (sandbox_enter(&spec, &st, err, sizeof(err)) != 0) {
		log_warnx("sandbox: %s", err);
		return 1;
	}
	fprintf(stderr, "test-service: sandboxed (uid %u), calling %s\n",
		(unsigned)st.uid, call);
	if (!strcmp(call, "execve"))
		syscall(SYS_execve, "/bin/sh", NULL, NULL);
	else
		syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
	fprintf(stderr, "test-service: %s was allowed\n", call);
	return 3;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "record", required_argument, NULL, 'r' },
		{ "no-ready", no_argument, NULL, 'n' },
		{ "exit", required_argument, NULL, 'e' },
		{ "ignore-term", no_argument, NULL, 'i' },
		{ "ctl", required_argument, NULL, 'c' },
		{ "fds", no_argument, NULL, 'f' },
		{ "violate", required_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const char *rec = NULL, *method = NULL, *bad = NULL;
	int c, exit_code = -1, ready = 1, ignore = 0, fd_wait = 0;
	char fds[256];

	log_init("test-service");
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rec = optarg;
			break;
		case 'n':
			ready = 0;
			break;
		case 'e':
			exit_code = atoi(optarg);
			break;
		case 'i':
			ignore = 1;
			break;
		case 'c':
			method = optarg;
			break;
		case 'f':
			fd_wait = 5000;
			break;
		case 'v':
			bad = optarg;
			break;
		default:
			return 2;
		}
	}
	if (method != NULL)
		return ctl(method, optind < argc ? argv[optind] : NULL);
	signal(SIGTERM, ignore ? SIG_IGN : on_term);
	take_fds(fds, sizeof(fds), fd_wait);
	if (rec != NULL)
		record(rec, fds);
	fprintf(stderr, "test-service %s: up (pid %d)\n",
		getenv("PARAPET_SERVICE") ? getenv("PARAPET_SERVICE") : "?",
		(int)getpid());
	if (ready && supervise_ready(SUPERVISE_FD, "test") != 0)
		log_warnx("READY not sent");
	if (bad != NULL)
		return violate(bad);
	if (exit_code >= 0)
		return exit_code;
	while (!stop)
		pause();
	fprintf(stderr, "test-service: SIGTERM, exiting\n");
	return 0;
}
