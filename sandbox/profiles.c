/* Seccomp allowlists, one per service (DESIGN.md §7): a base set for glibc,
 * pthreads, nng and lib/log, plus what each service adds, with argument
 * checks on ioctl, socket, clone, mmap/mprotect, prctl, prlimit64, tgkill. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "sandbox/profiles.h"

#define NR_MAX 1024 /* distinct-syscall bitmap, x86_64 numbers */

/* LeakSanitizer's stop-the-world tracer task (sanitizer builds only) */
#define SAN_TRACER_CLONE (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_UNTRACED)

enum rule_how {
	ALLOW,	    /* any arguments */
	ARG_EQ,	    /* args[arg] == val */
	ARG_NOBITS, /* (args[arg] & val) == 0 */
	ARG_BITS,   /* (args[arg] & val) == val */
};

struct rule {
	int nr;
	uint8_t how;
	uint8_t arg;
	uint64_t val;
};

struct builder {
	scmp_filter_ctx ctx;
	uint8_t seen[NR_MAX / 8];
	unsigned n;
	int rc;
};

/* glibc, pthreads, nng (PITFALLS.md: nng section), lib/log, the SIGSYS
 * reporter (write, exit_group). Exec mappings, fork, non-AF_UNIX sockets,
 * setrlimit, signals to other processes are left out on purpose. */
static const struct rule base_rules[] = {
	{ SCMP_SYS(read), ALLOW, 0, 0 },
	{ SCMP_SYS(write), ALLOW, 0, 0 },
	{ SCMP_SYS(readv), ALLOW, 0, 0 },
	{ SCMP_SYS(writev), ALLOW, 0, 0 },
	{ SCMP_SYS(pread64), ALLOW, 0, 0 },
	{ SCMP_SYS(pwrite64), ALLOW, 0, 0 },
	{ SCMP_SYS(close), ALLOW, 0, 0 },
	{ SCMP_SYS(fstat), ALLOW, 0, 0 },
	{ SCMP_SYS(newfstatat), ALLOW, 0, 0 },
	{ SCMP_SYS(statx), ALLOW, 0, 0 },
	{ SCMP_SYS(lseek), ALLOW, 0, 0 },
	{ SCMP_SYS(openat), ALLOW, 0, 0 },
	{ SCMP_SYS(fcntl), ALLOW, 0, 0 },
	{ SCMP_SYS(unlink), ALLOW, 0, 0 },
	{ SCMP_SYS(unlinkat), ALLOW, 0, 0 },
	/* lib/ipc binds each listener under a name of its own, then renames
	 * it into place (see ipc_listen_path); only in dirs it may write. */
	{ SCMP_SYS(rename), ALLOW, 0, 0 },
	{ SCMP_SYS(renameat), ALLOW, 0, 0 },
	{ SCMP_SYS(renameat2), ALLOW, 0, 0 },
	{ SCMP_SYS(mmap), ARG_NOBITS, 2, PROT_EXEC },
	{ SCMP_SYS(mprotect), ARG_NOBITS, 2, PROT_EXEC },
	{ SCMP_SYS(munmap), ALLOW, 0, 0 },
	{ SCMP_SYS(mremap), ALLOW, 0, 0 },
	{ SCMP_SYS(madvise), ALLOW, 0, 0 },
	/* glibc's qsort sizes its merge buffer by the machine's memory
	 * (sysconf(_SC_PHYS_PAGES)) once the array passes 1 KiB: jansson's
	 * JSON_SORT_KEYS on an object of 128 keys or more (diagd's inspect),
	 * lib/virtq's in-flight list (blkd). Read-only, no process's data. */
	{ SCMP_SYS(sysinfo), ALLOW, 0, 0 },
	{ SCMP_SYS(brk), ALLOW, 0, 0 },
	{ SCMP_SYS(rt_sigaction), ALLOW, 0, 0 },
	{ SCMP_SYS(rt_sigprocmask), ALLOW, 0, 0 },
	{ SCMP_SYS(rt_sigreturn), ALLOW, 0, 0 },
	{ SCMP_SYS(rt_sigtimedwait), ALLOW, 0, 0 }, /* sigwait for SIGTERM */
	{ SCMP_SYS(sigaltstack), ALLOW, 0, 0 },
	{ SCMP_SYS(futex), ALLOW, 0, 0 },
	{ SCMP_SYS(set_robust_list), ALLOW, 0, 0 },
	{ SCMP_SYS(rseq), ALLOW, 0, 0 },
	/* threads only; clone3 hides its flags in memory: ENOSYS below
	 * makes glibc fall back to clone, whose flags are checked here */
	{ SCMP_SYS(clone), ARG_BITS, 0, CLONE_THREAD },
	{ SCMP_SYS(exit), ALLOW, 0, 0 },
	{ SCMP_SYS(exit_group), ALLOW, 0, 0 },
	{ SCMP_SYS(gettid), ALLOW, 0, 0 },
	{ SCMP_SYS(getpid), ALLOW, 0, 0 },
	{ SCMP_SYS(getuid), ALLOW, 0, 0 },
	{ SCMP_SYS(geteuid), ALLOW, 0, 0 },
	{ SCMP_SYS(getgid), ALLOW, 0, 0 },
	{ SCMP_SYS(getegid), ALLOW, 0, 0 },
	{ SCMP_SYS(sched_yield), ALLOW, 0, 0 },
	{ SCMP_SYS(sched_getaffinity), ALLOW, 0, 0 },
	{ SCMP_SYS(nanosleep), ALLOW, 0, 0 },
	{ SCMP_SYS(clock_nanosleep), ALLOW, 0, 0 },
	{ SCMP_SYS(clock_gettime), ALLOW, 0, 0 },
	{ SCMP_SYS(clock_getres), ALLOW, 0, 0 },
	{ SCMP_SYS(gettimeofday), ALLOW, 0, 0 },
	{ SCMP_SYS(restart_syscall), ALLOW, 0, 0 },
	{ SCMP_SYS(getrandom), ALLOW, 0, 0 },
	{ SCMP_SYS(prctl), ARG_EQ, 0, PR_SET_NAME },
	{ SCMP_SYS(prctl), ARG_EQ, 0, PR_GET_NAME },
	{ SCMP_SYS(prlimit64), ARG_EQ, 2, 0 }, /* getrlimit only */
	{ SCMP_SYS(poll), ALLOW, 0, 0 },
	{ SCMP_SYS(ppoll), ALLOW, 0, 0 },
	{ SCMP_SYS(epoll_create1), ALLOW, 0, 0 },
	{ SCMP_SYS(epoll_ctl), ALLOW, 0, 0 },
	{ SCMP_SYS(epoll_wait), ALLOW, 0, 0 },
	{ SCMP_SYS(epoll_pwait), ALLOW, 0, 0 },
	{ SCMP_SYS(eventfd2), ALLOW, 0, 0 },
	{ SCMP_SYS(socket), ARG_EQ, 0, AF_UNIX },
	{ SCMP_SYS(bind), ALLOW, 0, 0 },
	{ SCMP_SYS(listen), ALLOW, 0, 0 },
	{ SCMP_SYS(accept), ALLOW, 0, 0 },
	{ SCMP_SYS(accept4), ALLOW, 0, 0 },
	{ SCMP_SYS(connect), ALLOW, 0, 0 },
	{ SCMP_SYS(getsockopt), ALLOW, 0, 0 },
	{ SCMP_SYS(setsockopt), ALLOW, 0, 0 },
	{ SCMP_SYS(getsockname), ALLOW, 0, 0 },
	{ SCMP_SYS(getpeername), ALLOW, 0, 0 },
	{ SCMP_SYS(sendmsg), ALLOW, 0, 0 },
	{ SCMP_SYS(recvmsg), ALLOW, 0, 0 },
	{ SCMP_SYS(sendto), ALLOW, 0, 0 },
	{ SCMP_SYS(recvfrom), ALLOW, 0, 0 },
	{ SCMP_SYS(shutdown), ALLOW, 0, 0 },
#ifdef PARAPET_SAN
	/* Sanitizer builds only (make SAN=...; never in a release build):
	 * what the ASan/UBSan/LSan runtime calls with raw syscalls. Reports
	 * read /proc/self/maps (open, not openat, on x86_64) and the
	 * binary's path; UBSan's "pointer points here" dump first checks
	 * that the memory is readable by writing it into a pipe (pipe2);
	 * LeakSanitizer's check at exit stops the world: it
	 * makes the process dumpable, clones a tracer task sharing memory
	 * (exactly these flags, no SIGCHLD: not a fork), lets it ptrace,
	 * and the tracer lists /proc/PID/task, attaches to every thread,
	 * reads their registers, detaches and is reaped with wait4. */
	{ SCMP_SYS(open), ALLOW, 0, 0 },
	{ SCMP_SYS(pipe2), ALLOW, 0, 0 },
	{ SCMP_SYS(readlink), ALLOW, 0, 0 },
	{ SCMP_SYS(readlinkat), ALLOW, 0, 0 },
	{ SCMP_SYS(getppid), ALLOW, 0, 0 },
	{ SCMP_SYS(getdents), ALLOW, 0, 0 },
	{ SCMP_SYS(getdents64), ALLOW, 0, 0 },
	{ SCMP_SYS(prctl), ARG_EQ, 0, PR_GET_DUMPABLE },
	{ SCMP_SYS(prctl), ARG_EQ, 0, PR_SET_DUMPABLE },
	{ SCMP_SYS(prctl), ARG_EQ, 0, PR_SET_PDEATHSIG },
	{ SCMP_SYS(prctl), ARG_EQ, 0, PR_SET_PTRACER },
	{ SCMP_SYS(clone), ARG_EQ, 0, SAN_TRACER_CLONE },
	{ SCMP_SYS(ptrace), ARG_EQ, 0, PTRACE_ATTACH },
	{ SCMP_SYS(ptrace), ARG_EQ, 0, PTRACE_CONT },
	{ SCMP_SYS(ptrace), ARG_EQ, 0, PTRACE_DETACH },
	{ SCMP_SYS(ptrace), ARG_EQ, 0, PTRACE_KILL },
	{ SCMP_SYS(ptrace), ARG_EQ, 0, PTRACE_GETREGS },
	{ SCMP_SYS(ptrace), ARG_EQ, 0, PTRACE_GETREGSET },
	{ SCMP_SYS(ptrace), ARG_EQ, 0, PTRACE_GETFPREGS },
	{ SCMP_SYS(wait4), ALLOW, 0, 0 },
#endif
};

/* diagd lists directories and writes capture files; it grants the VM's
 * owner its socket by an ACL entry, also when listening anew (setxattr:
 * only on files it owns). */
static const struct rule diagd_rules[] = {
	{ SCMP_SYS(setxattr), ALLOW, 0, 0 },
	{ SCMP_SYS(getdents64), ALLOW, 0, 0 },
	{ SCMP_SYS(ftruncate), ALLOW, 0, 0 },
	{ SCMP_SYS(fsync), ALLOW, 0, 0 },
};

/* vmworker pins sidecar threads and lets them add their own filter (a
 * filter only ever narrows: safe under no_new_privs). */
static const struct rule vmworker_rules[] = {
	{ SCMP_SYS(sched_setaffinity), ALLOW, 0, 0 },
	{ SCMP_SYS(seccomp), ARG_EQ, 0, SECCOMP_SET_MODE_FILTER },
	{ SCMP_SYS(seccomp), ARG_EQ, 0, SECCOMP_GET_ACTION_AVAIL },
	{ SCMP_SYS(ftruncate), ALLOW, 0, 0 },
	{ SCMP_SYS(memfd_create), ALLOW, 0, 0 }, /* the saved state */
};

/* blkd moves guest data between its disks' descriptors and the guest's
 * memory (vectored, at an offset), makes writes durable on FLUSH and
 * makes each queue's inflight region (a sealed memfd). Its sockets are
 * made before the filter. */
static const struct rule blkd_rules[] = {
	{ SCMP_SYS(preadv), ALLOW, 0, 0 },
	{ SCMP_SYS(pwritev), ALLOW, 0, 0 },
	{ SCMP_SYS(fdatasync), ALLOW, 0, 0 },
	{ SCMP_SYS(memfd_create), ALLOW, 0, 0 },
	{ SCMP_SYS(ftruncate), ALLOW, 0, 0 },
};

/* A sidecar thread: run the VP, wait, wake, report (DESIGN.md §6). */
static const struct rule sidecar_rules[] = {
	{ SCMP_SYS(futex), ALLOW, 0, 0 },
	{ SCMP_SYS(rt_sigreturn), ALLOW, 0, 0 },
	{ SCMP_SYS(rt_sigprocmask), ALLOW, 0, 0 },
	{ SCMP_SYS(sched_yield), ALLOW, 0, 0 },
	{ SCMP_SYS(clock_gettime), ALLOW, 0, 0 },
	{ SCMP_SYS(gettid), ALLOW, 0, 0 },
	{ SCMP_SYS(write), ARG_EQ, 0, 2 },  /* stderr: SIGSYS report */
	{ SCMP_SYS(madvise), ALLOW, 0, 0 }, /* thread exit frees its stack */
	{ SCMP_SYS(exit), ALLOW, 0, 0 },
	{ SCMP_SYS(exit_group), ALLOW, 0, 0 },
	/* emu: Unicorn allocates while it runs the VP (translation blocks,
	 * and in 2.0.1 its store slow path); never executable memory */
	{ SCMP_SYS(brk), ALLOW, 0, 0 },
	{ SCMP_SYS(mmap), ARG_NOBITS, 2, PROT_EXEC },
	{ SCMP_SYS(munmap), ALLOW, 0, 0 },
	{ SCMP_SYS(mremap), ALLOW, 0, 0 },
#ifdef PARAPET_SAN
	/* sanitizer builds only: ASan gives every thread an alternate
	 * signal stack and takes it down when the thread exits */
	{ SCMP_SYS(sigaltstack), ALLOW, 0, 0 },
#endif
};

/* The vCPU ioctls vmworker uses after start (the VM, its memory and its
 * vCPUs are created in step 3, so KVM_CREATE_* and memory slots are not
 * here). */
static const unsigned long kvm_vcpu_ioctls[] = {
	KVM_RUN,
	KVM_GET_REGS,
	KVM_SET_REGS,
	KVM_GET_SREGS,
	KVM_SET_SREGS,
	KVM_GET_FPU,
	KVM_SET_FPU,
	KVM_GET_XSAVE,
	KVM_SET_XSAVE,
	KVM_GET_XSAVE2,
	KVM_GET_XCRS,
	KVM_SET_XCRS,
	KVM_GET_MSRS,
	KVM_SET_MSRS,
	KVM_GET_VCPU_EVENTS,
	KVM_SET_VCPU_EVENTS,
	KVM_GET_MP_STATE,
	KVM_SET_MP_STATE,
	KVM_GET_CPUID2,
	KVM_SET_CPUID2,
	KVM_GET_LAPIC,
	KVM_SET_LAPIC,
	KVM_GET_TSC_KHZ,
	KVM_SET_TSC_KHZ,
	KVM_GET_DEBUGREGS,
	KVM_SET_DEBUGREGS,
	KVM_TRANSLATE,
	KVM_INTERRUPT,
	KVM_NMI,
	KVM_KVMCLOCK_CTRL,
	KVM_GET_CLOCK,
	KVM_SET_CLOCK,
	KVM_CHECK_EXTENSION,
	KVM_GET_API_VERSION,
	KVM_GET_VCPU_MMAP_SIZE,
};

static const unsigned long kvm_sidecar_ioctls[] = {
	KVM_RUN,       KVM_GET_REGS,  KVM_SET_REGS,
	KVM_GET_SREGS, KVM_SET_SREGS, KVM_TRANSLATE,
};

static void count(struct builder *b, int nr)
{
	if (nr < 0 || nr >= NR_MAX || (b->seen[nr / 8] & (1u << (nr % 8))))
		return;
	b->seen[nr / 8] |= (uint8_t)(1u << (nr % 8));
	b->n++;
}

static void add(struct builder *b, uint32_t action, const struct rule *r)
{
	struct scmp_arg_cmp cmp;
	int rc;

	if (b->rc != 0)
		return;
	memset(&cmp, 0, sizeof(cmp));
	cmp.arg = r->arg;
	cmp.datum_b = r->val;
	switch (r->how) {
	case ARG_EQ:
		cmp.op = SCMP_CMP_EQ;
		cmp.datum_a = r->val;
		break;
	case ARG_NOBITS:
		cmp.op = SCMP_CMP_MASKED_EQ;
		cmp.datum_a = r->val;
		cmp.datum_b = 0;
		break;
	case ARG_BITS:
		cmp.op = SCMP_CMP_MASKED_EQ;
		cmp.datum_a = r->val;
		break;
	default:
		break;
	}
	if (r->how == ALLOW)
		rc = seccomp_rule_add_exact(b->ctx, action, r->nr, 0);
	else
		rc = seccomp_rule_add_exact_array(b->ctx, action, r->nr, 1,
						  &cmp);
	if (rc != 0)
		b->rc = rc;
	else if (action == SCMP_ACT_ALLOW)
		count(b, r->nr);
}

static void add_table(struct builder *b, const struct rule *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		add(b, SCMP_ACT_ALLOW, &t[i]);
}

static void add_ioctls(struct builder *b, const unsigned long *req, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct rule r = { SCMP_SYS(ioctl), ARG_EQ, 1, req[i] };

		add(b, SCMP_ACT_ALLOW, &r);
	}
}

/* Calls answered with an error instead of a trap: clone3 (see above) and
 * isatty()'s TCGETS, which glibc's stdio issues on a character device
 * such as /dev/null; "not a tty" is the right answer for a service. */
static void add_errnos(struct builder *b)
{
	struct rule clone3 = { SCMP_SYS(clone3), ALLOW, 0, 0 };
	struct rule tcgets = { SCMP_SYS(ioctl), ARG_EQ, 1, TCGETS };

	add(b, SCMP_ACT_ERRNO(ENOSYS), &clone3);
	add(b, SCMP_ACT_ERRNO(ENOTTY), &tcgets);
}

static void add_service(struct builder *b, enum sandbox_profile profile,
			unsigned flags)
{
	struct rule tgkill = { SCMP_SYS(tgkill), ARG_EQ, 0,
			       (uint64_t)getpid() };

	add_table(b, base_rules, sizeof(base_rules) / sizeof(base_rules[0]));
	add(b, SCMP_ACT_ALLOW, &tgkill); /* own threads only */
	add_errnos(b);
	if (profile == SANDBOX_PROFILE_DIAGD)
		add_table(b, diagd_rules,
			  sizeof(diagd_rules) / sizeof(diagd_rules[0]));
	if (profile == SANDBOX_PROFILE_BLKD)
		add_table(b, blkd_rules,
			  sizeof(blkd_rules) / sizeof(blkd_rules[0]));
	if (profile == SANDBOX_PROFILE_VMWORKER) {
		add_table(b, vmworker_rules,
			  sizeof(vmworker_rules) / sizeof(vmworker_rules[0]));
		if (flags & SANDBOX_F_KVM)
			add_ioctls(b, kvm_vcpu_ioctls,
				   sizeof(kvm_vcpu_ioctls) /
				       sizeof(kvm_vcpu_ioctls[0]));
	}
}

int profile_add_rules(scmp_filter_ctx ctx, enum sandbox_profile profile,
		      unsigned flags, unsigned *n_syscalls)
{
	struct builder b;

	memset(&b, 0, sizeof(b));
	b.ctx = ctx;
	switch (profile) {
	case SANDBOX_PROFILE_POLICY:
	case SANDBOX_PROFILE_HOSTCOMM:
	case SANDBOX_PROFILE_VMWORKER:
	case SANDBOX_PROFILE_DIAGD:
	case SANDBOX_PROFILE_BLKD:
	case SANDBOX_PROFILE_TEST:
		add_service(&b, profile, flags);
		break;
	case SANDBOX_PROFILE_SIDECAR:
		add_table(&b, sidecar_rules,
			  sizeof(sidecar_rules) / sizeof(sidecar_rules[0]));
		if (flags & SANDBOX_F_KVM)
			add_ioctls(&b, kvm_sidecar_ioctls,
				   sizeof(kvm_sidecar_ioctls) /
				       sizeof(kvm_sidecar_ioctls[0]));
		break;
	default:
		return -EINVAL;
	}
	if (n_syscalls != NULL)
		*n_syscalls = b.n;
	return b.rc;
}

int sandbox_profile_count(enum sandbox_profile profile, unsigned flags)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	unsigned n = 0;
	int rc;

	if (ctx == NULL)
		return -1;
	rc = profile_add_rules(ctx, profile, flags, &n);
	seccomp_release(ctx);
	return rc != 0 ? -1 : (int)n;
}
