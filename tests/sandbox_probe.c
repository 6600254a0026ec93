/* Helper of sandbox_test: enters the sandbox with a given profile and mode
 * (an nng rep socket started in step 8), reports what it sees, then tries
 * one action, allowed or forbidden, so the test can check how it ends.
 * Usage: sandbox_probe PROFILE MODE ACTION IPCDIR */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unicorn/unicorn.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

#define KEPT_FD 20 /* a memfd standing in for vmworker's guest RAM */

struct probe {
	const char *action;
	nng_socket rep;
	char report[4096];
	size_t len;
	int kvm, vm, vcpu;
	uc_engine *uc;
	void *dl;
};

static struct probe P = { .kvm = -1, .vm = -1, .vcpu = -1 };

__attribute__((format(printf, 1, 2))) static void note(const char *fmt, ...)
{
	va_list ap;

	if (P.len >= sizeof(P.report))
		return;
	va_start(ap, fmt);
	P.len += (size_t)vsnprintf(P.report + P.len, sizeof(P.report) - P.len,
				   fmt, ap);
	va_end(ap);
	if (P.len > sizeof(P.report))
		P.len = sizeof(P.report);
}

static void note_dir(const char *key, const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	note("%s:", key);
	while (d != NULL && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			note(" %s", de->d_name);
	note("\n");
	if (d != NULL)
		closedir(d);
}

static int unicorn_setup(void)
{
	/* mov rax, 0x1234; add rax, 1; hlt-free end by address */
	static const uint8_t code[] = { 0x48, 0xc7, 0xc0, 0x34, 0x12, 0x00,
					0x00, 0x48, 0x83, 0xc0, 0x01 };
	uc_err (*open_fn)(uc_arch, uc_mode, uc_engine **);
	uc_err (*map_fn)(uc_engine *, uint64_t, size_t, uint32_t);
	uc_err (*write_fn)(uc_engine *, uint64_t, const void *, size_t);

	if (P.dl == NULL)
		return 0; /* reported as "unicorn: missing" later */
	*(void **)&open_fn = dlsym(P.dl, "uc_open");
	*(void **)&map_fn = dlsym(P.dl, "uc_mem_map");
	*(void **)&write_fn = dlsym(P.dl, "uc_mem_write");
	if (open_fn(UC_ARCH_X86, UC_MODE_64, &P.uc) != UC_ERR_OK ||
	    map_fn(P.uc, 0x1000, 0x1000, UC_PROT_ALL) != UC_ERR_OK ||
	    write_fn(P.uc, 0x1000, code, sizeof(code)) != UC_ERR_OK)
		return -1;
	return 0;
}

/* Step 3: still root, as vmworker creating its VM. */
static int before_privdrop(void *ctx)
{
	(void)ctx;
	if (strcmp(P.action, "kvm") == 0) {
		P.kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
		if (P.kvm < 0)
			return -1;
		P.vm = ioctl(P.kvm, KVM_CREATE_VM, 0);
		if (P.vm < 0)
			return -1;
		P.vcpu = ioctl(P.vm, KVM_CREATE_VCPU, 0);
		return P.vcpu < 0 ? -1 : 0;
	}
	if (strcmp(P.action, "unicorn") == 0)
		return unicorn_setup();
	return 0;
}

/* Step 8: privileges gone, no filter yet; nng starts its threads. */
static int before_seccomp(void *ctx)
{
	char link[128];
	ssize_t n;

	(void)ctx;
	note_dir("root", "/");
	note_dir("fds", "/proc/self/fd");
	n = readlink("/proc/self/fd/4", link, sizeof(link) - 1);
	note("fd4: %.*s\n", (int)(n > 0 ? n : 0), link);
	note("ids: %u %u %u %u\n", (unsigned)getuid(), (unsigned)geteuid(),
	     (unsigned)getgid(), (unsigned)getegid());
	note("dumpable: %d\n", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
	if (nng_rep0_open(&P.rep) != 0 ||
	    nng_listen(P.rep, "ipc://" SANDBOX_IPC_DIR "/probe.sock", NULL,
		       0) != 0)
		return -1;
	return 0;
}

static void done(int rc)
{
	fflush(stdout);
	fflush(stderr);
	_exit(rc); /* never exit(): LeakSanitizer would need ptrace */
}

static void serve(void)
{
	char *buf = NULL, pong[] = "pong";
	size_t len = 0;
	char c;

	if (nng_recv(P.rep, &buf, &len, NNG_FLAG_ALLOC) != 0)
		done(3);
	nng_free(buf, len);
	if (nng_send(P.rep, pong, sizeof(pong), 0) != 0)
		done(3);
	printf("served\n");
	fflush(stdout);
	while (read(0, &c, 1) > 0) /* the test reads our /proc meanwhile */
		;
	done(0);
}

static void *sidecar_thread(void *arg)
{
	char err[256];
	int fd;

	(void)arg;
	if (sandbox_thread_filter(SANDBOX_PROFILE_SIDECAR, 0, err,
				  sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		done(4);
	}
	if (write(2, "filtered\n", 9) != 9) /* only stderr is allowed */
		done(4);
	fd = open("/dev/null", O_RDONLY); /* allowed for the process only */
	return (void *)(long)fd;
}

static void *plain_thread(void *arg)
{
	return arg;
}

static void run_thread(void *(*fn)(void *))
{
	pthread_t t;
	void *ret;
	int rc = pthread_create(&t, NULL, fn, NULL);

	if (rc != 0) {
		printf("pthread_create: %s\n", strerror(rc));
		done(5);
	}
	pthread_join(t, &ret);
	printf("thread: joined\n");
}

static void unicorn_run(void)
{
	uc_err (*start_fn)(uc_engine *, uint64_t, uint64_t, uint64_t, size_t);
	uc_err (*read_fn)(uc_engine *, int, void *);
	uint64_t rax = 0;
	uc_err e;

	if (P.uc == NULL) {
		printf("unicorn: missing\n");
		done(0);
	}
	*(void **)&start_fn = dlsym(P.dl, "uc_emu_start");
	*(void **)&read_fn = dlsym(P.dl, "uc_reg_read");
	e = start_fn(P.uc, 0x1000, 0x1000 + 11, 0, 0);
	read_fn(P.uc, UC_X86_REG_RAX, &rax);
	printf("unicorn: err %d rax 0x%llx\n", (int)e, (unsigned long long)rax);
}

static void kvm_calls(void)
{
	struct kvm_regs regs;

	if (ioctl(P.vcpu, KVM_GET_REGS, &regs) != 0)
		printf("kvm_get_regs: %s\n", strerror(errno));
	else
		printf("kvm_get_regs: ok\n");
	fflush(stdout);
	ioctl(P.kvm, KVM_CREATE_VM, 0); /* not after start: traps */
}

static long mprotect_exec(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	return mprotect(p, 4096, PROT_READ | PROT_EXEC);
}

#ifdef PARAPET_SAN
/* Sanitizer builds: the runtime's own work under the filter. "leak" drops
 * an allocation in a thread (so no stack of ours still points at it) and
 * leaves by exit() so LeakSanitizer checks at exit; "overflow" reads past
 * a heap block so AddressSanitizer reports; "misaligned" makes UBSan report
 * a load with a dump of the memory it points at. */
static void *volatile san_sink;

static void *san_leak_thread(void *arg)
{
	(void)arg;
	san_sink = malloc(64);
	san_sink = NULL;
	return NULL;
}

static long san_attempt(const char *a)
{
	volatile size_t i = 16, n = 16;
	uint64_t words[2] = { 0, 0 };
	char *volatile bytes = (char *)words;
	char *p;

	if (strcmp(a, "leak") == 0) {
		run_thread(san_leak_thread);
		fflush(stdout);
		exit(0);
	}
	if (strcmp(a, "misaligned") == 0)
		return (long)*(uint64_t *)(void *)(bytes + 4);
	p = malloc(n); /* n unknown to UBSan's object-size check */
	if (p == NULL)
		return -1;
	p[0] = 1;
	return p[i];
}
#endif

static void attempt(const char *a)
{
	char *argv[] = { NULL };
	long rc = 0;
	int n;

	if (strcmp(a, "serve") == 0)
		serve();
	else if (strcmp(a, "execve") == 0)
		rc = execve("/proc/self/exe", argv, argv);
	else if (strcmp(a, "ptrace") == 0)
		rc = ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	else if (strcmp(a, "mount") == 0)
		rc = mount("none", "/", "tmpfs", 0, NULL);
	else if (strcmp(a, "socket_inet") == 0)
		rc = socket(AF_INET, SOCK_STREAM, 0);
	else if (strcmp(a, "socket_unix") == 0)
		rc = socket(AF_UNIX, SOCK_STREAM, 0);
	else if (strcmp(a, "ioctl") == 0)
		rc = ioctl(1, FIONREAD, &n);
	else if (strcmp(a, "isatty") == 0)
		rc = isatty(open("/dev/null", O_RDONLY));
	else if (strcmp(a, "mmap_exec") == 0)
		rc = (long)mmap(NULL, 4096, PROT_READ | PROT_EXEC,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else if (strcmp(a, "mprotect_exec") == 0)
		rc = mprotect_exec();
	else if (strcmp(a, "x32") == 0)
		rc = syscall(0x40000000 | SYS_getpid);
	else if (strcmp(a, "fork") == 0)
		rc = fork();
	else if (strcmp(a, "kill") == 0)
		rc = kill(1, 0);
	else if (strcmp(a, "userns_ptrace") == 0)
		rc = ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	else if (strcmp(a, "thread") == 0)
		run_thread(plain_thread);
	else if (strcmp(a, "sidecar") == 0)
		run_thread(sidecar_thread);
	else if (strcmp(a, "kvm") == 0)
		kvm_calls();
	else if (strcmp(a, "unicorn") == 0)
		unicorn_run();
	else if (strcmp(a, "unicorn_late") == 0)
		rc = unicorn_setup(); /* an engine after start: traps */
#ifdef PARAPET_SAN
	else if (strcmp(a, "leak") == 0 || strcmp(a, "overflow") == 0 ||
		 strcmp(a, "misaligned") == 0)
		rc = san_attempt(a);
#endif
	printf("%s: returned %ld\n", a, rc);
	done(0);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* "userns": as an unprivileged partition would run, in a user namespace
 * with one mapped uid (root inside) and a pid namespace of its own (a
 * fresh /proc needs one owned by the user namespace). The parent waits
 * and passes the child's end on. */
static void enter_userns(void)
{
	int status;
	pid_t pid;

	if (unshare(CLONE_NEWUSER) != 0 ||
	    write_file("/proc/self/setgroups", "deny") != 0 ||
	    write_file("/proc/self/uid_map", "0 0 1") != 0 ||
	    write_file("/proc/self/gid_map", "0 0 1") != 0 ||
	    unshare(CLONE_NEWPID) != 0) {
		fprintf(stderr, "probe: userns: %s\n", strerror(errno));
		done(2);
	}
	pid = fork();
	if (pid == 0)
		return;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		done(2);
	if (WIFSIGNALED(status))
		done(128 + WTERMSIG(status));
	done(WEXITSTATUS(status));
}

int main(int argc, char **argv)
{
	struct sandbox_bind binds[] = {
		{ NULL, SANDBOX_IPC_DIR, false, false },
		{ "/dev/null", "/dev/null", false, true },
		{ "/dev/urandom", "/dev/urandom", true, true },
		{ "/dev/kvm", "/dev/kvm", false, true },
	};
	int keep[1] = { KEPT_FD };
	struct sandbox_spec spec = {
		.service = "probe",
		.binds = binds,
		.n_binds = 3,
		.keep_fds = keep,
		.n_keep_fds = 1,
		.before_privdrop = before_privdrop,
		.before_seccomp = before_seccomp,
	};
	struct sandbox_status st;
	char err[256];

	if (argc != 5 || sandbox_profile_parse(argv[1], &spec.profile) != 0 ||
	    sandbox_mode_parse(argv[2], &spec.mode) != 0) {
		fprintf(stderr, "usage: sandbox_probe PROFILE MODE ACTION "
				"IPCDIR\n");
		return 2;
	}
	P.action = argv[3];
	binds[0].src = argv[4];
	if (strcmp(P.action, "kvm") == 0) {
		spec.n_binds = 4;
		spec.flags = SANDBOX_F_KVM;
	}
	/* the new root has no /usr/lib: load libraries before entering */
	if (strncmp(P.action, "unicorn", 7) == 0)
		P.dl = dlopen("libunicorn.so.2", RTLD_NOW | RTLD_LOCAL);
	if (strncmp(P.action, "userns", 6) == 0)
		enter_userns();
	if (strcmp(P.action, "badbind") == 0)
		binds[1].src = "/nonexistent/parapet";
	if (dup2(memfd_create("probe", MFD_CLOEXEC), KEPT_FD) != KEPT_FD)
		return 2;
	if (sandbox_enter(&spec, &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "probe: %s\n", err);
		done(2);
	}
	printf("%sstatus: %s %s uid %u gid %u want %u %u unpriv %d "
	       "syscalls %u kept %u as %d\nnote: %s\nready\n",
	       P.report, st.profile, sandbox_mode_name(st.mode),
	       (unsigned)st.uid, (unsigned)st.gid, (unsigned)st.want_uid,
	       (unsigned)st.want_gid, st.unprivileged, st.n_syscalls,
	       st.n_kept_fds, st.as_capped, st.note);
	fflush(stdout);
	attempt(P.action);
	return 0;
}
