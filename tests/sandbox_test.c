/* Unit tests for sandbox/: a child (tests/sandbox_probe) enters the sandbox
 * for real (namespaces, ids, capabilities, seccomp with TSYNC, an nng rep
 * socket) and tries allowed and forbidden calls; the test checks its root,
 * fds, ids, per-thread /proc status, exit status and SIGSYS report. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "sandbox/sandbox.h"

#define TEST_UID (SANDBOX_UID_BASE + SANDBOX_PROFILE_TEST)

struct probe {
	pid_t pid;
	int in; /* probe's stdin: closing it ends "serve" */
	FILE *out;
	int err;
	char dir[64]; /* bound at /run/parapet/ipc */
	char out_text[8192];
	char err_text[4096];
	int status;
};

static char probe_path[PATH_MAX + 32];

static void need_root(void)
{
	if (geteuid() != 0)
		skip(); /* namespaces, pivot_root, setresuid need root */
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
		skip(); /* kernel without seccomp */
}

static void child_exec(int in[2], int out[2], int err[2], int chan[2],
		       char **argv)
{
	int extra;

	dup2(in[0], 0);
	dup2(out[1], 1);
	dup2(err[1], 2);
	dup2(chan[1], 3); /* stands in for the supervisor channel */
	/* an inherited fd above 3 that the sandbox must close */
	extra = open("/dev/null", O_RDONLY);
	if (extra >= 0 && extra != 9) {
		dup2(extra, 9);
		close(extra);
	}
	execv(probe_path, argv);
	_exit(127);
}

static void probe_start(struct probe *p, const char *profile, const char *mode,
			const char *action)
{
	int in[2], out[2], err[2], chan[2];
	char *argv[] = { probe_path,
			 (char *)(uintptr_t)profile,
			 (char *)(uintptr_t)mode,
			 (char *)(uintptr_t)action,
			 p->dir,
			 NULL };

	snprintf(p->dir, sizeof(p->dir), "/tmp/sbxtest.XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	assert_int_equal(chmod(p->dir, 0777), 0); /* the probe's uid binds */
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	assert_int_equal(pipe2(chan, O_CLOEXEC), 0);
	fflush(NULL);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0)
		child_exec(in, out, err, chan, argv);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	close(chan[0]);
	close(chan[1]);
	p->in = in[1];
	p->out = fdopen(out[0], "r");
	p->err = err[0];
	assert_non_null(p->out);
}

/* Reads stdout lines up to and including one starting with prefix. */
static int probe_until(struct probe *p, const char *prefix)
{
	size_t len = strlen(p->out_text);
	char *line;

	while (fgets(p->out_text + len, (int)(sizeof(p->out_text) - len),
		     p->out) != NULL) {
		line = p->out_text + len;
		len += strlen(line);
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			return 0;
	}
	return -1;
}

static void rmdir_ipc(const char *dir)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/probe.sock", dir);
	unlink(path);
	rmdir(dir);
}

/* Collects the rest of stdout and stderr and the exit status. */
static void probe_finish(struct probe *p)
{
	size_t len = strlen(p->out_text);
	ssize_t n;
	size_t e = 0;

	close(p->in);
	while (len < sizeof(p->out_text) - 1 &&
	       (n = (ssize_t)fread(p->out_text + len, 1,
				   sizeof(p->out_text) - 1 - len, p->out)) > 0)
		len += (size_t)n;
	p->out_text[len] = '\0';
	while (e < sizeof(p->err_text) - 1 &&
	       (n = read(p->err, p->err_text + e,
			 sizeof(p->err_text) - 1 - e)) > 0)
		e += (size_t)n;
	p->err_text[e] = '\0';
	fclose(p->out);
	close(p->err);
	assert_int_equal(waitpid(p->pid, &p->status, 0), p->pid);
	rmdir_ipc(p->dir);
}

static void probe_run(struct probe *p, const char *profile, const char *mode,
		      const char *action)
{
	memset(p, 0, sizeof(*p));
	probe_start(p, profile, mode, action);
	probe_finish(p);
}

static int exit_code(const struct probe *p)
{
	return WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1;
}

static void expect_trap(const char *profile, const char *action,
			const char *syscall_name)
{
	struct probe p;
	char want[96];

	probe_run(&p, profile, "strict", action);
	snprintf(want, sizeof(want), "probe: seccomp: killed by syscall %s (",
		 syscall_name);
	if (exit_code(&p) != SANDBOX_EXIT_SECCOMP ||
	    strstr(p.err_text, want) == NULL)
		print_error("%s: status 0x%x, stderr: %s\n", action, p.status,
			    p.err_text);
	assert_int_equal(exit_code(&p), SANDBOX_EXIT_SECCOMP);
	assert_non_null(strstr(p.err_text, want));
	assert_non_null(strstr(p.out_text, "ready\n")); /* entered first */
}

static void expect_ok(const char *profile, const char *mode, const char *action,
		      const char *stdout_has)
{
	struct probe p;

	probe_run(&p, profile, mode, action);
	if (exit_code(&p) != 0 || strstr(p.out_text, stdout_has) == NULL)
		print_error("%s: status 0x%x\nstdout: %s\nstderr: %s\n", action,
			    p.status, p.out_text, p.err_text);
	assert_int_equal(exit_code(&p), 0);
	assert_non_null(strstr(p.out_text, stdout_has));
}

static void test_names_and_counts(void **state)
{
	enum sandbox_profile prof;
	enum sandbox_mode mode;
	int test = sandbox_profile_count(SANDBOX_PROFILE_TEST, 0);
	int vmw = sandbox_profile_count(SANDBOX_PROFILE_VMWORKER, 0);
	int vmw_kvm =
	    sandbox_profile_count(SANDBOX_PROFILE_VMWORKER, SANDBOX_F_KVM);
	int sidecar =
	    sandbox_profile_count(SANDBOX_PROFILE_SIDECAR, SANDBOX_F_KVM);

	(void)state;
	assert_int_equal(sandbox_mode_parse("log", &mode), 0);
	assert_int_equal(mode, SANDBOX_LOG);
	assert_int_equal(sandbox_mode_parse("permissive", &mode), -1);
	assert_int_equal(sandbox_profile_parse("hostcomm", &prof), 0);
	assert_int_equal(prof, SANDBOX_PROFILE_HOSTCOMM);
	assert_string_equal(sandbox_profile_name(SANDBOX_PROFILE_DIAGD),
			    "diagd");
	assert_null(sandbox_profile_name((enum sandbox_profile)7));
	assert_true(test > 40);
	assert_int_equal(vmw_kvm, vmw + 1); /* ioctl, for KVM requests only */
	assert_true(sidecar > 0 && sidecar < test / 4);
	assert_true(sandbox_profile_count(SANDBOX_PROFILE_DIAGD, 0) > test);
	printf("allowed syscalls: policy %d hostcomm %d vmworker %d "
	       "(kvm %d) diagd %d sidecar %d (kvm %d) test %d\n",
	       sandbox_profile_count(SANDBOX_PROFILE_POLICY, 0),
	       sandbox_profile_count(SANDBOX_PROFILE_HOSTCOMM, 0), vmw, vmw_kvm,
	       sandbox_profile_count(SANDBOX_PROFILE_DIAGD, 0),
	       sandbox_profile_count(SANDBOX_PROFILE_SIDECAR, 0), sidecar,
	       test);
}

static void ping_probe(const char *dir)
{
	nng_socket req;
	char url[128], *buf = NULL, ping[] = "ping";
	size_t len = 0;

	snprintf(url, sizeof(url), "ipc://%s/probe.sock", dir);
	assert_int_equal(nng_req0_open(&req), 0);
	/* a hang guard only: the probe answers at once */
	assert_int_equal(nng_socket_set_ms(req, NNG_OPT_RECVTIMEO, 30000), 0);
	assert_int_equal(nng_dial(req, url, NULL, 0), 0);
	assert_int_equal(nng_send(req, ping, sizeof(ping), 0), 0);
	assert_int_equal(nng_recv(req, &buf, &len, NNG_FLAG_ALLOC), 0);
	assert_string_equal(buf, "pong");
	nng_free(buf, len);
	nng_close(req);
}

static void check_threads(pid_t pid)
{
	struct sandbox_thread_status t[64];
	char proc[32];
	struct stat st;
	size_t n = 0;

	assert_int_equal(sandbox_read_threads(pid, t, 64, &n), 0);
	assert_true(n >= 2 && n <= 64); /* main and nng's threads */
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(t[i].seccomp, 2);
		assert_true(t[i].seccomp_filters >= 1);
		assert_int_equal(t[i].no_new_privs, 1);
		assert_true(t[i].cap_eff == 0 && t[i].cap_prm == 0);
		assert_true(t[i].cap_inh == 0 && t[i].cap_amb == 0);
		assert_true(t[i].cap_bnd == 0);
		assert_int_equal(t[i].uid, TEST_UID);
		assert_int_equal(t[i].gid, TEST_UID);
	}
	/* not dumpable: its private /proc files are root's, not its uid's
	 * (a 0555 directory such as /proc/PID keeps the uid) */
	snprintf(proc, sizeof(proc), "/proc/%d/environ", (int)pid);
	assert_int_equal(stat(proc, &st), 0);
	assert_int_equal(st.st_uid, 0);
	printf("probe: %zu threads, all Seccomp 2, NoNewPrivs 1, CapEff 0, "
	       "not dumpable\n",
	       n);
}

/* The root holds only what the spec named: /proc, /run/parapet/ipc and
 * the device nodes, nothing of the host's (readdir order is tmpfs's). */
static void check_root(const char *out)
{
	const char *line = strstr(out, "root:");
	char entries[128], *tok, *save = NULL;
	int seen = 0, n = 0;

	assert_non_null(line);
	assert_int_equal(sscanf(line, "root:%127[^\n]", entries), 1);
	for (tok = strtok_r(entries, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save), n++) {
		if (strcmp(tok, "dev") == 0)
			seen |= 1;
		else if (strcmp(tok, "run") == 0)
			seen |= 2;
		else if (strcmp(tok, "proc") == 0)
			seen |= 4;
	}
	assert_int_equal(n, 3);
	assert_int_equal(seen, 7);
}

/* The whole sequence: minimal root, fds, ids; nng started in step 8
 * answers a request after the filter; every thread is filtered. */
static void test_strict_serves_nng(void **state)
{
	struct probe p;
	char want[128];

	(void)state;
	need_root();
	memset(&p, 0, sizeof(p));
	probe_start(&p, "test", "strict", "serve");
	assert_int_equal(probe_until(&p, "ready"), 0);
	ping_probe(p.dir);
	assert_int_equal(probe_until(&p, "served"), 0);
	check_threads(p.pid);
	probe_finish(&p);
	if (exit_code(&p) != 0)
		print_error("stdout: %s\nstderr: %s\n", p.out_text, p.err_text);
	assert_int_equal(exit_code(&p), 0);
	check_root(p.out_text);
	/* 0-3 stay, the memfd moved to 4, fd 9 and the memfd's fd 20 are
	 * gone; 5 is the directory being listed */
	assert_non_null(strstr(p.out_text, "fds: 0 1 2 3 4 5\n"));
	assert_non_null(strstr(p.out_text, "fd4: /memfd:probe"));
	snprintf(want, sizeof(want), "ids: %d %d %d %d\n", TEST_UID, TEST_UID,
		 TEST_UID, TEST_UID);
	assert_non_null(strstr(p.out_text, want));
	assert_non_null(strstr(p.out_text, "status: test strict uid 61009"));
	assert_non_null(strstr(p.out_text, "unpriv 0"));
}

static void test_forbidden_calls_trap(void **state)
{
	static const char *const cases[][2] = {
		{ "execve", "execve" },
		{ "ptrace", "ptrace" },
		{ "mount", "mount" },
		{ "socket_inet", "socket" },
		{ "ioctl", "ioctl" },
		{ "kill", "kill" },
		{ "fork", "clone" },
		{ "mmap_exec", "mmap" },
		{ "mprotect_exec", "mprotect" },
	};

	(void)state;
	need_root();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_trap("test", cases[i][0], cases[i][1]);
}

static void test_allowed_calls(void **state)
{
	(void)state;
	need_root();
	expect_ok("test", "strict", "socket_unix", "socket_unix: returned ");
	/* TCGETS answers ENOTTY: isatty() is 0, no trap */
	expect_ok("test", "strict", "isatty", "isatty: returned 0\n");
	/* clone3 gets ENOSYS, glibc falls back to clone(CLONE_THREAD) */
	expect_ok("test", "strict", "thread", "thread: joined\n");
}

static void test_log_mode_lets_through(void **state)
{
	struct probe p;

	(void)state;
	need_root();
	expect_ok("test", "log", "socket_inet", "socket_inet: returned ");
	probe_run(&p, "test", "log", "socket_inet");
	assert_null(strstr(p.out_text, "returned -1"));
	assert_null(strstr(p.err_text, "seccomp"));
	/* through the filter, but without capabilities */
	expect_ok("test", "log", "mount", "mount: returned -1\n");
	expect_ok("test", "off", "ptrace", "ptrace: returned ");
}

static void test_other_arch_killed(void **state)
{
	struct probe p;

	(void)state;
	need_root();
	probe_run(&p, "test", "strict", "x32");
	assert_true(WIFSIGNALED(p.status));
	assert_int_equal(WTERMSIG(p.status), SIGSYS);
}

static void test_vmworker_ioctls(void **state)
{
	struct probe p;

	(void)state;
	need_root();
	expect_trap("vmworker", "ioctl", "ioctl"); /* FIONREAD: not KVM */
	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		printf("no /dev/kvm: KVM ioctl checks skipped\n");
		return;
	}
	probe_run(&p, "vmworker", "strict", "kvm");
	assert_non_null(strstr(p.out_text, "kvm_get_regs: ok\n"));
	/* KVM_CREATE_VM belongs to step 3, not after start */
	assert_int_equal(exit_code(&p), SANDBOX_EXIT_SECCOMP);
	assert_non_null(strstr(p.err_text, "killed by syscall ioctl (16)"));
}

static void test_sidecar_thread_filter(void **state)
{
	struct probe p;

	(void)state;
	need_root();
	probe_run(&p, "vmworker", "strict", "sidecar");
	assert_non_null(strstr(p.err_text, "filtered\n"));
	assert_non_null(strstr(p.err_text, "killed by syscall openat (257)"));
	assert_int_equal(exit_code(&p), SANDBOX_EXIT_SECCOMP);
}

/* Unicorn: engines made in step 3 run under the filter; a new engine
 * after start needs an executable mapping and traps. */
static void test_unicorn_under_filter(void **state)
{
	void *h;

	(void)state;
	need_root();
	h = dlopen("libunicorn.so.2", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		skip();
	dlclose(h);
	expect_ok("vmworker", "strict", "unicorn",
		  "unicorn: err 0 rax 0x1235\n");
	expect_trap("vmworker", "unicorn_late", "mmap");
}

/* Sanitizer builds: under the strict filter, LeakSanitizer's check at
 * exit runs (it stops the world with ptrace) and finds the leak, and
 * AddressSanitizer and UBSan reports are complete; none is a seccomp
 * kill. */
#ifdef PARAPET_SAN
static void test_sanitizer_runtime_under_filter(void **state)
{
	struct probe p;

	(void)state;
	need_root();
	probe_run(&p, "test", "strict", "leak");
	if (strstr(p.err_text, "detected memory leaks") == NULL)
		print_error("leak: status 0x%x, stderr: %s\n", p.status,
			    p.err_text);
	assert_non_null(
	    strstr(p.err_text, "ERROR: LeakSanitizer: detected memory leaks"));
	assert_null(strstr(p.err_text, "seccomp"));
	assert_int_not_equal(exit_code(&p), 0);
	probe_run(&p, "test", "strict", "overflow");
	if (strstr(p.err_text, "SUMMARY: AddressSanitizer") == NULL)
		print_error("overflow: status 0x%x, stderr: %s\n", p.status,
			    p.err_text);
	assert_non_null(strstr(
	    p.err_text, "ERROR: AddressSanitizer: heap-buffer-overflow"));
	assert_non_null(strstr(
	    p.err_text, "SUMMARY: AddressSanitizer: heap-buffer-overflow"));
	assert_null(strstr(p.err_text, "seccomp"));
	assert_int_not_equal(exit_code(&p), SANDBOX_EXIT_SECCOMP);
	probe_run(&p, "test", "strict", "misaligned");
	if (strstr(p.err_text, "note: pointer points here") == NULL)
		print_error("misaligned: status 0x%x, stderr: %s\n", p.status,
			    p.err_text);
	assert_non_null(
	    strstr(p.err_text, "runtime error: load of misaligned"));
	assert_non_null(strstr(p.err_text, "note: pointer points here"));
	assert_null(strstr(p.err_text, "seccomp"));
	assert_int_not_equal(exit_code(&p), SANDBOX_EXIT_SECCOMP);
}
#endif

/* A user namespace with one mapped uid: same steps, the uid kept, the
 * difference stated in the status; the filter still traps. */
static void test_unprivileged_userns(void **state)
{
	struct probe p;

	(void)state;
	need_root(); /* to compare with, and to map uid 0 */
	probe_run(&p, "test", "strict", "userns");
	if (exit_code(&p) != 0)
		print_error("stdout: %s\nstderr: %s\n", p.out_text, p.err_text);
	assert_int_equal(exit_code(&p), 0);
	check_root(p.out_text);
	assert_non_null(strstr(p.out_text, "ids: 0 0 0 0\n"));
	/* the uid did not change, so only PR_SET_DUMPABLE made it so */
	assert_non_null(strstr(p.out_text, "dumpable: 0\n"));
	assert_non_null(strstr(p.out_text, "status: test strict uid 0 gid 0 "
					   "want 61009 61009 unpriv 1"));
	assert_non_null(strstr(p.out_text, "note: unprivileged: uid 61009 "
					   "not mapped"));
	assert_non_null(strstr(p.out_text, "fds: 0 1 2 3 4 5\n"));
	expect_trap("test", "userns_ptrace", "ptrace");
}

static void test_step_error_names_step(void **state)
{
	struct probe p;

	(void)state;
	need_root();
	probe_run(&p, "test", "strict", "badbind");
	assert_int_equal(exit_code(&p), 2);
	assert_non_null(strstr(p.err_text,
			       "probe: step 1 (mount namespace): bind source "
			       "/nonexistent/parapet: No such file"));
}

static void test_read_threads_self(void **state)
{
	struct sandbox_thread_status t[8];
	size_t n = 0;
	int found = 0;

	(void)state;
	assert_int_equal(sandbox_read_threads(0, t, 8, &n), 0);
	assert_true(n >= 1);
	for (size_t i = 0; i < n && i < 8; i++)
		if (t[i].tid == getpid()) {
			found = 1;
			assert_int_equal(t[i].uid, geteuid());
			assert_true(t[i].seccomp_filters >= 0);
		}
	assert_true(found);
	assert_int_equal(sandbox_read_threads(999999999, t, 8, &n), -1);
}

static int find_probe(void **state)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	(void)state;
	if (n <= 0)
		return -1;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash == NULL)
		return -1;
	*slash = '\0';
	snprintf(probe_path, sizeof(probe_path), "%s/sandbox_probe", self);
	return access(probe_path, X_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_counts),
		cmocka_unit_test(test_read_threads_self),
		cmocka_unit_test(test_strict_serves_nng),
		cmocka_unit_test(test_forbidden_calls_trap),
		cmocka_unit_test(test_allowed_calls),
		cmocka_unit_test(test_log_mode_lets_through),
		cmocka_unit_test(test_other_arch_killed),
		cmocka_unit_test(test_vmworker_ioctls),
		cmocka_unit_test(test_sidecar_thread_filter),
		cmocka_unit_test(test_unicorn_under_filter),
#ifdef PARAPET_SAN /* only a sanitizer build has the runtime */
		cmocka_unit_test(test_sanitizer_runtime_under_filter),
#endif
		cmocka_unit_test(test_unprivileged_userns),
		cmocka_unit_test(test_step_error_names_step),
	};

	return cmocka_run_group_tests(tests, find_probe, NULL);
}
