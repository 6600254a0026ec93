/* The sandbox every Parapet service enters at start (DESIGN.md §7): a
 * minimal root, closed fds, rlimits, dropped ids and capabilities, and a
 * seccomp allowlist per service, applied in one fixed order. */
#ifndef PARAPET_SANDBOX_H
#define PARAPET_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Usage, in a service's main() before it does anything else:
 *
 *	static const struct sandbox_bind binds[] = {
 *		{ "/run/parapet/ipc", SANDBOX_IPC_DIR, false, false },
 *		{ "/dev/null", "/dev/null", false, true },
 *	};
 *	struct sandbox_spec spec = {
 *		.service = "policy",
 *		.profile = SANDBOX_PROFILE_POLICY,
 *		.mode = mode_from_the_command_line,
 *		.binds = binds, .n_binds = 2,
 *		.before_seccomp = start_nng, .ctx = &state,
 *	};
 *	struct sandbox_status st;
 *	char err[256];
 *	if (sandbox_enter(&spec, &st, err, sizeof(err)) != 0)
 *		fatalx("%s", err);
 *
 * Steps (each fatal: sandbox_enter returns -1 and err says "step N (what):
 * why"; the process is then half sandboxed and must exit):
 *  1 mount namespace, / made private, pivot_root to a fresh tmpfs that holds
 *    /proc and the binds, the old root detached, chdir /
 *  2 close every fd above 3 except keep_fds (moved to 4, 5, ...); rlimits
 *  3 before_privdrop(ctx): still root (vmworker creates its VM here)
 *  4 drop the capability bounding set
 *  5 setgroups, setresgid, setresuid to the service's ids
 *  6 clear every capability set (effective, permitted, inheritable, ambient)
 *  7 no_new_privs
 *  8 before_seccomp(ctx): start nng (its threads start here)
 *  9 seccomp filter of the profile for every thread (TSYNC)
 * Later, a thread may add a tighter filter of its own: sandbox_thread_filter.
 *
 * In mode OFF steps 1-8 still run; only the filter is skipped.
 * A call that the filter refuses (STRICT) writes
 * "<service>: seccomp: killed by syscall <name> (<nr>)" to stderr and the
 * process exits with SANDBOX_EXIT_SECCOMP.
 */

#define SANDBOX_EXIT_SECCOMP 159
#define SANDBOX_IPC_DIR	     "/run/parapet/ipc"
#define SANDBOX_HOST_DIR     "/run/parapet/host"
/* keep_fds[i] is found at fd SANDBOX_FIRST_KEPT_FD + i after step 2. */
#define SANDBOX_FIRST_KEPT_FD 4
/* Root: service profile p runs as uid and gid sandbox_service_uid(p), with
 * the supplementary group sandbox_ipc_gid(), which should own the IPC
 * directory (mode 02770, so sockets inherit the group; nng sockets need
 * NNG_OPT_IPC_PERMISSIONS 0660). Partitions never share these ids: each
 * root partition takes a block of SANDBOX_UID_BLOCK ids of its own
 * (`parapet run` holds it while the partition lives), the block's first
 * id in the environment as SANDBOX_UID_BASE_ENV; without it, block 0. */
#define SANDBOX_UID_BASE       61000 /* block 0's first id */
#define SANDBOX_UID_BLOCK      128   /* ids per partition */
#define SANDBOX_UID_BLOCKS     32    /* partitions at once: 61000-65095 */
#define SANDBOX_IPC_GID_OFFSET 100   /* the IPC group, in the block */
#define SANDBOX_UID_BASE_ENV   "PARAPET_UID_BASE"
#define SANDBOX_MAX_BINDS      16
/* The umask from step 8 on: files and sockets 0660, for the IPC group. */
#define SANDBOX_UMASK	     0117
#define SANDBOX_MAX_KEEP_FDS 16

enum sandbox_profile {
	SANDBOX_PROFILE_POLICY = 0,
	SANDBOX_PROFILE_HOSTCOMM = 1,
	SANDBOX_PROFILE_VMWORKER = 2,
	SANDBOX_PROFILE_DIAGD = 3,
	SANDBOX_PROFILE_SIDECAR = 4, /* threads only: sandbox_thread_filter */
	SANDBOX_PROFILE_BLKD = 5,
	SANDBOX_PROFILE_TEST = 9, /* unit tests: the common base set */
};

enum sandbox_mode {
	SANDBOX_STRICT = 0, /* refused calls trap: report and exit 159 */
	SANDBOX_LOG = 1,    /* refused calls go through, logged by audit */
	SANDBOX_OFF = 2,    /* no filter (debugging only) */
};

/* Profile options (sandbox_spec.flags). */
#define SANDBOX_F_KVM 0x1u /* vmworker/sidecar on kvm: allow KVM ioctls */

/* A path of the host root made visible at dst inside the new root. */
struct sandbox_bind {
	const char *src;
	const char *dst;
	bool readonly;
	bool is_dev; /* a device node: the mount keeps device access */
};

struct sandbox_spec {
	const char *service; /* name in the SIGSYS report, e.g. "policy" */
	enum sandbox_profile profile;
	enum sandbox_mode mode;
	unsigned flags;	       /* SANDBOX_F_* */
	const char *root_size; /* tmpfs size= of the new root; NULL: "1m" */
	bool root_writable;    /* else the new root is remounted read-only */
	const struct sandbox_bind *binds;
	size_t n_binds;
	const int *keep_fds; /* besides 0-3; moved to 4, 5, ... */
	size_t n_keep_fds;
	/* 0 picks the default: NOFILE 256, NPROC 128 (threads of the uid),
	 * AS 1 GiB except vmworker (never capped: Unicorn maps 1 GiB RWX
	 * per engine); AS is never capped in sanitizer builds. */
	uint64_t rlimit_nofile, rlimit_nproc, rlimit_as;
	/* 0 picks sandbox_service_uid(profile); ignored when unprivileged. */
	uid_t uid;
	gid_t gid;
	int (*before_privdrop)(void *ctx); /* step 3; nonzero is fatal */
	int (*before_seccomp)(void *ctx);  /* step 8; nonzero is fatal */
	void *ctx;
};

/* What sandbox_enter did, for `parapet-diag sandbox SVC`. */
struct sandbox_status {
	char service[32];
	const char *profile; /* sandbox_profile_name() */
	enum sandbox_mode mode;
	uid_t uid, want_uid; /* the ids in force and the ones asked for */
	gid_t gid, want_gid;
	/* In a user namespace without the service's uid mapped: setgroups
	 * and the uid change were skipped and RLIMIT_NPROC left alone
	 * (it would count every process of the host user). */
	bool unprivileged;
	bool as_capped;
	unsigned n_syscalls; /* syscalls the filter allows (some by args) */
	unsigned n_binds;
	unsigned n_kept_fds;
	char note[160]; /* the differences, in words, or "" */
};

/* Runs steps 1-9. Returns 0, or -1 with "step N (name): reason" in err. */
int sandbox_enter(const struct sandbox_spec *spec, struct sandbox_status *out,
		  char *err, size_t errlen);

/* Adds a filter of profile to the calling thread only (no TSYNC), in the
 * mode of the process's sandbox (no-op in OFF). Call it from a sidecar
 * thread after sandbox_enter; the process filter still applies. */
/* The filter of profile (in mode), for the calling thread and the
 * threads it starts later (no TSYNC), as a test tool takes on a service's
 * filter. 0, or -1 with err. */
int sandbox_load_filter(enum sandbox_profile profile, unsigned flags,
			enum sandbox_mode mode, char *err, size_t errlen);
int sandbox_thread_filter(enum sandbox_profile profile, unsigned flags,
			  char *err, size_t errlen);

/* The filter alone, for a service run by a user outside a partition
 * (parapet-blkd --standalone), which can build no namespace or id
 * change: the SIGSYS reporter, no_new_privs and profile's filter for the
 * calling thread and the threads it starts later, in mode. 0, or -1
 * with err. */
int sandbox_filter_self(const char *service, enum sandbox_profile profile,
			enum sandbox_mode mode, char *err, size_t errlen);

/* One thread's confinement as /proc/PID/task/TID/status shows it. */
struct sandbox_thread_status {
	pid_t tid;
	char comm[16];
	int seccomp;	     /* 0 none, 1 strict, 2 filter */
	int seccomp_filters; /* -1 if the kernel does not say */
	int no_new_privs;
	uint64_t cap_eff, cap_prm, cap_inh, cap_bnd, cap_amb;
	uid_t uid; /* effective */
	gid_t gid;
};

/* Reads every thread of pid (0: this process) into out[0..max); *n gets
 * the number of threads found (may exceed max). 0, or -1 with errno. */
int sandbox_read_threads(pid_t pid, struct sandbox_thread_status *out,
			 size_t max, size_t *n);

const char *sandbox_profile_name(enum sandbox_profile profile);
const char *sandbox_mode_name(enum sandbox_mode mode);
/* "strict", "log", "off" -> mode; -1 if unknown (for --sandbox). */
int sandbox_mode_parse(const char *name, enum sandbox_mode *out);
/* "policy", "hostcomm", ... -> profile; -1 if unknown. */
int sandbox_profile_parse(const char *name, enum sandbox_profile *out);
/* Distinct syscalls the profile allows; -1 for an unknown profile. */
int sandbox_profile_count(enum sandbox_profile profile, unsigned flags);

/* The first id of this partition's block (SANDBOX_UID_BASE_ENV when it
 * names a block, else SANDBOX_UID_BASE), the uid (and gid) of a service's
 * profile in it, and the block's IPC group. */
uid_t sandbox_uid_base(void);
uid_t sandbox_service_uid(int profile);
gid_t sandbox_ipc_gid(void);
/* Whether base is the first id of a block. */
bool sandbox_uid_base_ok(unsigned long base);

#endif
