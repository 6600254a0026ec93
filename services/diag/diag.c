/* parapet-diag: finds the partition's run directory (--vm NAME, or the
 * only running one), connects to diagd's diag.sock and runs a command:
 * ps, restart/stop/start, logs, vm, sandbox, dt here; trace, inspect,
 * stats and timeline in their own modules. Every command has --json. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/jsonout.h"
#include "lib/log.h"
#include "lib/registry.h"
#include "lib/rundir.h"
#include "lib/version.h"
#include "services/diag/diag.h"

#define DIAG_TIMEOUT_MS 10000
#define DIAG_CONTROL_MS 120000
#define DIAG_LOG_MAX	(64u * 1024)
#define DIAG_FOLLOW_US	300000

int diag_connect(struct diag *d, int timeout_ms)
{
	struct ipc_client_config cfg = {
		.name = "diag",
		.path = d->sock,
		.destination = SVC_NAME_DIAGD,
		.service = &parapet__diag__descriptor,
		.timeout_ms = timeout_ms,
		.recv_max = 4u << 20,
	};

	if (d->c != NULL)
		ipc_client_close(d->c);
	d->c = ipc_client_open(&cfg);
	return d->c != NULL ? 0 : -1;
}

bool diag_vm_ended(struct diag *d)
{
	pid_t init;

	if (d->run_dir[0] == '\0')
		return false;
	if (access(d->run_dir, F_OK) != 0 && errno == ENOENT)
		return true;
	if (rundir_run_state(d->run_dir, NULL) == RUNDIR_RUN_GONE)
		return true;
	init = rundir_read_pid(d->run_dir, "init.pid");
	return init != 0 && !rundir_pid_alive(init);
}

int diag_follow_ended(struct diag *d, const char *cmd)
{
	const char *name = strrchr(d->run_dir, '/');

	fprintf(stderr, "parapet-diag: %s: VM '%s' has ended\n", cmd,
		name ? name + 1 : d->run_dir);
	return 0;
}

int diag_call(struct diag *d, const char *method, const ProtobufCMessage *q,
	      ProtobufCMessage **reply)
{
	int rc = diag_open(d) != 0 ? IPC_ERR_INVAL
				   : ipc_call(d->c, method, q, reply);

	if (d->c == NULL)
		return rc; /* diag_open said why */
	if (rc != 0 && d->follow && diag_vm_ended(d))
		return rc; /* the caller says that it ended */
	if (d->what[0])
		method = d->what;
	if (rc == IPC_ERR_DENIED)
		fprintf(stderr,
			"parapet-diag: %s: refused: only the VM's "
			"owner may use diag.sock\n",
			method);
	else if (rc == IPC_ERR_TIMEOUT && access(d->sock, F_OK) != 0)
		fprintf(stderr, "parapet-diag: %s: no %s (is diagd running?)\n",
			method, d->sock);
	else if (rc == IPC_ERR_TIMEOUT && access(d->sock, W_OK) != 0)
		fprintf(stderr,
			"parapet-diag: %s: %s: permission denied (only "
			"the VM's owner may use it)\n",
			method, d->sock);
	else if ((rc == IPC_ERR_HANDLER || rc == IPC_ERR_UNAVAILABLE) &&
		 *ipc_last_error())
		fprintf(stderr, "parapet-diag: %s: %s\n", method,
			ipc_last_error());
	else if (rc != 0)
		fprintf(stderr, "parapet-diag: %s: %s\n", method,
			ipc_strerror(rc));
	return rc;
}

int diag_print_json(json_t *j)
{
	int rc = j != NULL ? jsonout_print(stdout, j) : -1;

	json_decref(j);
	return rc == 0 ? 0 : 1;
}

int diag_bad_option(const char *cmd, int c, char **argv)
{
	char opt[3] = { '-', (char)optopt, '\0' };
	/* a long option is named by argv; optopt holds a short one */
	const char *o =
	    strncmp(argv[optind - 1], "--", 2) ? opt : argv[optind - 1];

	if (c == ':')
		fprintf(stderr, "parapet-diag: %s: %s needs a value\n", cmd, o);
	else
		fprintf(stderr, "parapet-diag: %s: unknown option '%s'\n", cmd,
			o);
	return 2;
}

int diag_unexpected(const char *cmd, const char *arg)
{
	fprintf(stderr, "parapet-diag: %s: unexpected '%s'\n", cmd, arg);
	return 2;
}

/* --vm NAME, or the only partition whose `parapet run` is alive. */
static int diag_find_vm(struct diag *d, const char *vm)
{
	char base[3000], err[256], only[256] = "";
	struct dirent *de;
	int found = 0;
	DIR *dir;

	if (rundir_base(base, sizeof(base), err, sizeof(err)) != 0) {
		fprintf(stderr, "parapet-diag: %s\n", err);
		return -1;
	}
	if (vm != NULL) {
		snprintf(d->run_dir, sizeof(d->run_dir), "%s/%s", base, vm);
		/* its run gone: said at once (diag.sock would take the
		 * whole timeout), its run directory removed */
		if (rundir_run_gone(base, vm, err, sizeof(err))) {
			fprintf(stderr,
				"parapet-diag: no running VM named '%s' (%s)\n",
				vm, err);
			return -1;
		}
		if (access(d->run_dir, F_OK) == 0)
			return 0;
		fprintf(stderr,
			"parapet-diag: no running VM named '%s' (see "
			"parapet list)\n",
			vm);
		return -1;
	}
	dir = opendir(base);
	while (dir != NULL && (de = readdir(dir)) != NULL) {
		char p[3300];

		snprintf(p, sizeof(p), "%s/%s", base, de->d_name);
		if (de->d_name[0] == '.')
			continue;
		if (rundir_run_state(p, NULL) != RUNDIR_RUN_ALIVE) {
			rundir_reap(base, de->d_name); /* only when gone */
			continue;
		}
		found++;
		snprintf(only, sizeof(only), "%s", de->d_name);
	}
	if (dir != NULL)
		closedir(dir);
	if (found != 1) {
		fprintf(stderr,
			"parapet-diag: %s running partition%s in %s: name one "
			"with --vm (see parapet list)\n",
			found ? "more than one" : "no", found ? "s" : "", base);
		return -1;
	}
	snprintf(d->run_dir, sizeof(d->run_dir), "%s/%s", base, only);
	return 0;
}

int diag_open(struct diag *d)
{
	if (d->c != NULL)
		return 0;
	if (diag_find_vm(d, d->vm) != 0)
		return -1;
	snprintf(d->sock, sizeof(d->sock), "%s/diag/diag.sock", d->run_dir);
	if (diag_connect(d, d->timeout_ms) == 0)
		return 0;
	fprintf(stderr, "parapet-diag: %s: cannot connect\n", d->sock);
	return -1;
}

/* --------------------------------------------------------------- ps */

static int diag_ps(struct diag *d, int argc, char **argv)
{
	Parapet__DiagPsRequest q = PARAPET__DIAG_PS_REQUEST__INIT;
	Parapet__DiagPsReply *r = NULL;
	json_t *arr;

	if (argc != 1)
		return diag_unexpected(argv[0], argv[1]);
	if (diag_call(d, "Ps", &q.base, (ProtobufCMessage **)&r) != 0)
		return 1;
	if (d->json) {
		arr = json_array();
		for (size_t i = 0; i < r->n_services; i++)
			json_array_append_new(
			    arr, pbjson_from_message(&r->services[i]->base));
		ipc_free(&r->base);
		return diag_print_json(arr);
	}
	printf("%-12s %7s %-9s %10s %8s %9s  %s\n", "NAME", "PID", "STATE",
	       "UPTIME", "RESTARTS", "RSS(KiB)", "LAST EXIT");
	for (size_t i = 0; i < r->n_services; i++) {
		const Parapet__DiagService *s = r->services[i];

		printf("%-12s %7d %-9s %9.1fs %8u %9llu  %s\n", s->name, s->pid,
		       s->state, s->uptime_s, s->restarts,
		       (unsigned long long)s->rss_kib,
		       s->last_exit && *s->last_exit ? s->last_exit : "-");
	}
	ipc_free(&r->base);
	return 0;
}

/* ------------------------------------------------- restart/stop/start */

/* For a command taking exactly one operand (what): 2, the error printed. */
static int diag_want_one(int argc, char **argv, const char *what)
{
	if (argc > 2)
		return diag_unexpected(argv[0], argv[2]);
	fprintf(stderr, "parapet-diag: %s: expected %s\n", argv[0], what);
	return 2;
}

static int diag_control(struct diag *d, int argc, char **argv)
{
	Parapet__DiagControlRequest q = PARAPET__DIAG_CONTROL_REQUEST__INIT;
	Parapet__DiagControlReply *r = NULL;

	if (argc != 2)
		return diag_want_one(argc, argv, "SVC");
	q.action = argv[0];
	q.service = argv[1];
	snprintf(d->what, sizeof(d->what), "%s %s", argv[0], argv[1]);
	if (diag_call(d, "Control", &q.base, (ProtobufCMessage **)&r) != 0)
		return 1;
	if (d->json)
		diag_print_json(pbjson_from_message(&r->base));
	else if (r->service != NULL)
		printf("%s: %s (pid %d)%s%s\n", r->service->name,
		       r->service->state, r->service->pid, r->note ? ": " : "",
		       r->note ? r->note : "");
	else
		printf("%s %s: %s\n", argv[0], argv[1],
		       r->note ? r->note : "done");
	ipc_free(&r->base);
	return 0;
}

/* ------------------------------------------------------------- logs */

struct diag_logpos {
	char name[64];
	unsigned long long written;
	int fd; /* RUN_DIR/logs/NAME.log, for what the end leaves; -1 */
};

/* -f: the service's log file, opened while the partition runs, so that
 * what it writes last stays readable once `parapet run` removes the run
 * directory. Best effort: without it, -f ends with the rings' last. */
static void diag_logs_open(struct diag *d, struct diag_logpos *p)
{
	char path[4400];
	struct stat st;

	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if (!d->follow || !rundir_name_ok(p->name))
		return;
	snprintf(path, sizeof(path), "%s/logs/%s.log", d->run_dir, p->name);
	/* the partition writes there: a regular file only (a FIFO would
	 * block the open, a symlink lead elsewhere) */
	p->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (p->fd >= 0 && (fstat(p->fd, &st) != 0 || !S_ISREG(st.st_mode))) {
		close(p->fd);
		p->fd = -1;
	}
}

/* Prints what each ring holds past *pos, each line prefixed when more
 * than one service is shown. */
static void diag_logs_print(struct diag *d, const Parapet__LogsReply *r,
			    struct diag_logpos *pos, size_t npos, bool prefix)
{
	for (size_t i = 0; i < r->n_logs && i < npos; i++) {
		const Parapet__ServiceLog *l = r->logs[i];
		unsigned long long written = l->dropped + l->text.len;
		size_t skip = 0, start;

		if (strcmp(pos[i].name, l->name)) {
			snprintf(pos[i].name, sizeof(pos[i].name), "%s",
				 l->name);
			pos[i].written = 0;
			diag_logs_open(d, &pos[i]);
		}
		if (written <= pos[i].written)
			continue;
		if (pos[i].written > l->dropped)
			skip = (size_t)(pos[i].written - l->dropped);
		pos[i].written = written;
		if (d->json) {
			json_t *j =
			    json_pack("{s:s, s:s%}", "service", l->name, "text",
				      l->text.data + skip, l->text.len - skip);
			jsonout_print_line(stdout, j);
			json_decref(j);
			continue;
		}
		for (start = skip; start < l->text.len;) {
			const uint8_t *nl = memchr(l->text.data + start, '\n',
						   l->text.len - start);
			size_t end =
			    nl ? (size_t)(nl - l->text.data) + 1 : l->text.len;

			if (prefix)
				printf("%-9s| ", l->name);
			fwrite(l->text.data + start, 1, end - start, stdout);
			if (nl == NULL)
				putchar('\n');
			start = end;
		}
	}
	fflush(stdout);
}

/* -f's end: what the log files hold past each ring's last shown, as
 * one more reply to print (the last DIAG_LOG_MAX bytes of each). */
static void diag_logs_rest(struct diag *d, struct diag_logpos *pos, size_t npos,
			   bool prefix)
{
	static Parapet__ServiceLog logs[32], *ptrs[32];
	static uint8_t bufs[32][DIAG_LOG_MAX];
	Parapet__LogsReply r = PARAPET__LOGS_REPLY__INIT;
	struct stat st;

	for (size_t i = 0; i < npos && i < 32 && pos[i].name[0]; i++) {
		unsigned long long from = pos[i].written;
		ssize_t n = 0;

		parapet__service_log__init(&logs[i]);
		logs[i].name = pos[i].name;
		if (pos[i].fd >= 0 && fstat(pos[i].fd, &st) == 0 &&
		    (unsigned long long)st.st_size > from) {
			if ((unsigned long long)st.st_size - from >
			    DIAG_LOG_MAX)
				from = (unsigned long long)st.st_size -
				       DIAG_LOG_MAX;
			n = pread(pos[i].fd, bufs[i], DIAG_LOG_MAX,
				  (off_t)from);
		}
		logs[i].dropped = from;
		logs[i].text.data = bufs[i];
		logs[i].text.len = n > 0 ? (size_t)n : 0;
		ptrs[r.n_logs++] = &logs[i];
	}
	r.logs = ptrs;
	diag_logs_print(d, &r, pos, npos, prefix);
}

static int diag_logs(struct diag *d, int argc, char **argv)
{
	Parapet__DiagLogsRequest q = PARAPET__DIAG_LOGS_REQUEST__INIT;
	static struct diag_logpos pos[32];
	bool follow = false;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt(argc, argv, ":f")) != -1)
		if (c == 'f')
			follow = true;
		else
			return diag_bad_option("logs", c, argv);
	if (optind + 1 < argc)
		return diag_unexpected("logs", argv[optind + 1]);
	q.service = optind < argc ? argv[optind] : NULL;
	q.has_max_bytes = 1;
	q.max_bytes = DIAG_LOG_MAX;
	d->follow = follow;
	if (follow)
		d->timeout_ms = DIAG_FOLLOW_TIMEOUT_MS;
	for (size_t i = 0; i < 32; i++)
		pos[i].fd = -1;
	do {
		Parapet__LogsReply *r = NULL;

		if (follow && diag_vm_ended(d))
			break;
		if (diag_call(d, "Logs", &q.base, (ProtobufCMessage **)&r)) {
			if (!follow || d->c == NULL)
				return 1; /* no such VM: diag_open said so */
			if (diag_vm_ended(d))
				break;
			sleep(1); /* diagd restarting: keep following */
			continue;
		}
		if (d->json && !follow) {
			json_t *arr = json_array();

			for (size_t i = 0; i < r->n_logs; i++)
				json_array_append_new(
				    arr,
				    json_pack("{s:s, s:s%, s:I}", "service",
					      r->logs[i]->name, "text",
					      r->logs[i]->text.data,
					      r->logs[i]->text.len, "dropped",
					      (json_int_t)r->logs[i]->dropped));
			ipc_free(&r->base);
			return diag_print_json(arr);
		}
		diag_logs_print(d, r, pos, 32, q.service == NULL);
		ipc_free(&r->base);
		if (follow)
			usleep(DIAG_FOLLOW_US);
	} while (follow);
	if (!follow)
		return 0;
	diag_logs_rest(d, pos, 32, q.service == NULL);
	return diag_follow_ended(d, "logs");
}

/* --------------------------------------------------------------- vm */

static int diag_vm(struct diag *d, int argc, char **argv)
{
	Parapet__DiagVmRequest q = PARAPET__DIAG_VM_REQUEST__INIT;
	ProtobufCMessage *r = NULL;

	static const char *const actions[] = { "status", "pause", "resume",
					       "reset" };
	size_t i = 0;

	if (argc != 2)
		return diag_want_one(argc, argv,
				     "status, pause, resume or reset");
	while (i < 4 && strcmp(argv[1], actions[i]))
		i++;
	if (i == 4) {
		fprintf(stderr,
			"parapet-diag: vm: unknown action '%s' (want status, "
			"pause, resume or reset)\n",
			argv[1]);
		return 2;
	}
	q.command = argv[1];
	if (diag_call(d, "Vm", &q.base, &r) != 0)
		return 1;
	if (d->json)
		diag_print_json(pbjson_from_message(r));
	else
		pbjson_print_message(stdout, r, 0);
	ipc_free(r);
	return 0;
}

/* ---------------------------------------------------------- sandbox */

static void diag_sandbox_text(const Parapet__DiagSandboxReply *r)
{
	printf("service %s (pid %d): profile %s (%d syscalls), mode %s\n",
	       r->service, r->pid, r->profile, r->profile_syscalls, r->mode);
	if (r->note && *r->note)
		printf("note: %s\n", r->note);
	printf("%7s %-16s %7s %7s %3s %-16s %-16s %6s\n", "TID", "COMM",
	       "SECCOMP", "FILTERS", "NNP", "CAPEFF", "CAPBND", "UID");
	for (size_t i = 0; i < r->n_threads; i++) {
		const Parapet__DiagThread *t = r->threads[i];

		printf("%7d %-16s %7d %7d %3d %-16s %-16s %6u\n", t->tid,
		       t->comm, t->seccomp, t->seccomp_filters, t->no_new_privs,
		       t->cap_eff, t->cap_bnd, t->uid);
	}
}

static int diag_sandbox(struct diag *d, int argc, char **argv)
{
	Parapet__DiagSandboxRequest q = PARAPET__DIAG_SANDBOX_REQUEST__INIT;
	Parapet__DiagSandboxReply *r = NULL;

	if (argc != 2)
		return diag_want_one(argc, argv, "SVC");
	q.service = argv[1];
	snprintf(d->what, sizeof(d->what), "sandbox %s", argv[1]);
	if (diag_call(d, "Sandbox", &q.base, (ProtobufCMessage **)&r) != 0)
		return 1;
	if (d->json)
		diag_print_json(pbjson_from_message(&r->base));
	else
		diag_sandbox_text(r);
	ipc_free(&r->base);
	return 0;
}

/* --------------------------------------------------------------- dt */

/* dtc -I dtb -O dts on the blob; the dts text (malloc'd) or NULL. */
static char *diag_dtc(const ProtobufCBinaryData *dtb)
{
	char path[] = "/tmp/parapet-diag-dtb.XXXXXX", cmd[128];
	int fd = mkstemp(path);
	char *text = NULL;
	size_t len = 0;
	FILE *p = NULL;

	if (fd >= 0 && write(fd, dtb->data, dtb->len) == (ssize_t)dtb->len) {
		snprintf(cmd, sizeof(cmd), "dtc -q -I dtb -O dts '%s'", path);
		p = popen(cmd, "r");
	}
	if (p != NULL) {
		FILE *m = open_memstream(&text, &len);
		char buf[4096];
		size_t n;

		while (m != NULL && (n = fread(buf, 1, sizeof(buf), p)) > 0)
			fwrite(buf, 1, n, m);
		if (m != NULL)
			fclose(m);
		if (pclose(p) != 0) {
			free(text);
			text = NULL;
		}
	}
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	return text;
}

static int diag_dt(struct diag *d, int argc, char **argv)
{
	Parapet__DiagDtRequest q = PARAPET__DIAG_DT_REQUEST__INIT;
	Parapet__DiagDtReply *r = NULL;
	char *dts;

	if (argc != 1)
		return diag_unexpected(argv[0], argv[1]);
	if (diag_call(d, "Dt", &q.base, (ProtobufCMessage **)&r) != 0)
		return 1;
	dts = diag_dtc(&r->dtb);
	ipc_free(&r->base);
	if (dts == NULL) {
		fprintf(stderr, "parapet-diag: dtc failed (package "
				"device-tree-compiler)\n");
		return 1;
	}
	if (d->json)
		diag_print_json(json_pack("{s:s}", "dts", dts));
	else
		fputs(dts, stdout);
	free(dts);
	return 0;
}

/* ------------------------------------------------------------- main */

/* Each command with its arguments and what it shows: the global usage
 * and `parapet-diag CMD --help` (trace has a longer help of its own). */
/* clang-format off */
static const struct diag_command {
	const char *name;
	int (*fn)(struct diag *d, int argc, char **argv);
	const char *args, *summary;
} diag_commands[] = {
	{ "ps", diag_ps, "", "services: pid, state, uptime, restarts" },
	{ "restart", diag_control, "SVC", "restart a service through init's "
	  "supervisor" },
	{ "stop", diag_control, "SVC", "stop a service through init's "
	  "supervisor" },
	{ "start", diag_control, "SVC", "start a service through init's "
	  "supervisor" },
	{ "logs", diag_logs, "[-f] [SVC]", "the services' log rings" },
	{ "trace", diag_trace, "[-f] [--svc SVC] [--method M] [-c COUNT] "
	  "[-w FILE.pcapng]", "live IPC trace of every service" },
	{ "inspect", diag_inspect, "[PATH] [-r DEPTH]", "live values of every "
	  "service" },
	{ "stats", diag_stats, "", "the same counters as OpenMetrics" },
	{ "dt", diag_dt, "", "the boot device tree as dts" },
	{ "timeline", diag_timeline, "[--svg FILE]", "the boot timeline" },
	{ "disks", diag_disks, "", "each disk: backend, features, requests, "
	  "bytes, errors, in flight" },
	{ "vm", diag_vm, "status|pause|resume|reset", "the VM's state, or "
	  "change it through policy" },
	{ "sandbox", diag_sandbox, "SVC", "profile and /proc status of its "
	  "threads" },
};
/* clang-format on */

#define DIAG_N_COMMANDS (sizeof(diag_commands) / sizeof(diag_commands[0]))

static void diag_usage(FILE *fp)
{
	fprintf(fp, "usage: parapet-diag [--vm NAME] COMMAND [--json] | "
		    "--version\n");
	for (size_t k = 0; k < DIAG_N_COMMANDS; k++) {
		const struct diag_command *c = &diag_commands[k];
		int n = fprintf(fp, "  %s %s", c->name, c->args);

		if (n >= 30)
			n = fprintf(fp, "\n") - 1;
		fprintf(fp, "%*s%s\n", 30 - n, "", c->summary);
	}
}

static void diag_command_usage(const struct diag_command *c)
{
	printf("usage: parapet-diag [--vm NAME] %s%s%s [--json]\n%s\n", c->name,
	       c->args[0] ? " " : "", c->args, c->summary);
}

/* Commands that wait for a service to restart or the VM to change. */
static bool diag_slow(const char *cmd)
{
	return !strcmp(cmd, "restart") || !strcmp(cmd, "stop") ||
	       !strcmp(cmd, "start") || !strcmp(cmd, "vm");
}

/* Takes --json out of argv wherever it is; returns the new argc. */
static int diag_strip_json(struct diag *d, int argc, char **argv)
{
	int n = 0;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			d->json = true;
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	return n;
}

/* [--vm NAME]: the index of the command in argv, or -1 (printed). */
static int diag_parse_vm(struct diag *d, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--vm"))
		return 1;
	if (argc < 3) {
		fprintf(stderr, "parapet-diag: --vm needs a value\n");
		return -1;
	}
	if (!rundir_name_ok(argv[2])) {
		fprintf(stderr,
			"parapet-diag: --vm '%s': not a VM name (1-63 of "
			"A-Z a-z 0-9 _ . -)\n",
			argv[2]);
		return -1;
	}
	d->vm = argv[2];
	return 3;
}

/* CMD --help: the command's usage (trace: its own, longer help). */
static bool diag_wants_help(int argc, char **argv)
{
	for (int a = 1; a < argc; a++)
		if (!strcmp(argv[a], "--help"))
			return true;
	return false;
}

static int diag_run(struct diag *d, const struct diag_command *c, int argc,
		    char **argv)
{
	if (diag_wants_help(argc, argv)) {
		if (c->fn == diag_trace)
			return diag_trace(d, argc, argv);
		diag_command_usage(c);
		return 0;
	}
	/* one connection per run, made by the first call once the
	 * command's arguments are checked: nng 1.5.2 servers can spin
	 * on a pipe closed during its handshake (see diagd_trace.c) */
	d->timeout_ms = diag_slow(c->name) ? DIAG_CONTROL_MS : DIAG_TIMEOUT_MS;
	return c->fn(d, argc, argv);
}

int main(int argc, char **argv)
{
	static struct diag d;
	int i;

	log_init("parapet-diag");
	signal(SIGPIPE, SIG_IGN);
	argc = diag_strip_json(&d, argc, argv);
	if ((i = diag_parse_vm(&d, argc, argv)) < 0)
		return 2;
	if (i >= argc) {
		fprintf(stderr, "parapet-diag: missing COMMAND\n");
		diag_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
		diag_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[i], "--version")) {
		version_print("parapet-diag");
		return 0;
	}
	for (size_t k = 0; k < DIAG_N_COMMANDS; k++)
		if (!strcmp(argv[i], diag_commands[k].name))
			return diag_run(&d, &diag_commands[k], argc - i,
					argv + i);
	fprintf(stderr, "parapet-diag: unknown command '%s'\n", argv[i]);
	diag_usage(stderr);
	return 2;
}
