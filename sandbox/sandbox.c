/* The fixed sandbox sequence of DESIGN.md §7 (steps 1-9, each fatal) and
 * per-thread filters for sidecar threads; see sandbox.h for the API. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <grp.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/profiles.h"
#include "sandbox/sandbox.h"
#include "sandbox/sigsys.h"

/* Where the new root is built, inside our private mount namespace only;
 * bind sources are opened (O_PATH) before it is covered, so they may lie
 * anywhere, under /tmp too. */
#define STAGING "/tmp"

struct run {
	const struct sandbox_spec *spec;
	struct sandbox_status *st;
	char *err;
	size_t errlen;
	int src_fds[SANDBOX_MAX_BINDS];
};

static enum sandbox_mode process_mode = SANDBOX_OFF;

__attribute__((format(printf, 3, 4))) static int fail(struct run *r, int step,
						      const char *fmt, ...)
{
	static const char *const names[] = {
		"",
		"mount namespace",
		"fds and rlimits",
		"before_privdrop",
		"bounding set",
		"uid and gid",
		"capabilities",
		"no_new_privs",
		"before_seccomp",
		"seccomp",
	};
	int saved = errno;
	size_t n;
	va_list ap;

	n = (size_t)snprintf(r->err, r->errlen, "step %d (%s): ", step,
			     names[step]);
	if (n < r->errlen) {
		va_start(ap, fmt);
		vsnprintf(r->err + n, r->errlen - n, fmt, ap);
		va_end(ap);
	}
	errno = saved;
	return -1;
}

/* --- step 1: the new root ------------------------------------------ */

static int open_sources(struct run *r)
{
	const struct sandbox_spec *s = r->spec;

	if (s->n_binds > SANDBOX_MAX_BINDS)
		return fail(r, 1, "more than %d binds", SANDBOX_MAX_BINDS);
	for (size_t i = 0; i < s->n_binds; i++) {
		const struct sandbox_bind *b = &s->binds[i];

		if (b->src == NULL || b->dst == NULL || b->dst[0] != '/')
			return fail(r, 1, "bind %zu: need src and absolute dst",
				    i);
		/* O_PATH: a device node is not opened, nothing is created */
		r->src_fds[i] = open(b->src, O_PATH | O_CLOEXEC);
		if (r->src_fds[i] < 0)
			return fail(r, 1, "bind source %s: %s", b->src,
				    strerror(errno));
	}
	return 0;
}

/* mkdir -p of the parents of path (relative to the cwd, the staging root),
 * then the mount point itself: a directory or an empty file. */
static int make_mountpoint(const char *path, bool is_dir)
{
	char buf[256];
	int fd;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return errno = ENAMETOOLONG, -1;
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (is_dir)
		return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
	fd = open(buf, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int bind_one(struct run *r, size_t i)
{
	const struct sandbox_bind *b = &r->spec->binds[i];
	struct mount_attr attr;
	char from[64], to[256];
	struct stat sb;

	if (fstat(r->src_fds[i], &sb) != 0)
		return fail(r, 1, "stat %s: %s", b->src, strerror(errno));
	snprintf(to, sizeof(to), ".%s", b->dst);
	if (make_mountpoint(to, S_ISDIR(sb.st_mode)) != 0)
		return fail(r, 1, "mount point %s: %s", b->dst,
			    strerror(errno));
	snprintf(from, sizeof(from), "/proc/self/fd/%d", r->src_fds[i]);
	if (mount(from, to, NULL, MS_BIND | MS_REC, NULL) != 0)
		return fail(r, 1, "bind %s at %s: %s", b->src, b->dst,
			    strerror(errno));
	/* only ever sets flags, so flags locked by a user namespace stay */
	memset(&attr, 0, sizeof(attr));
	attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;
	if (!b->is_dev)
		attr.attr_set |= MOUNT_ATTR_NODEV;
	if (b->readonly)
		attr.attr_set |= MOUNT_ATTR_RDONLY;
	if (mount_setattr(AT_FDCWD, to, AT_RECURSIVE, &attr, sizeof(attr)))
		return fail(r, 1, "mount flags of %s: %s", b->dst,
			    strerror(errno));
	return 0;
}

static int build_root(struct run *r)
{
	const char *size = r->spec->root_size ? r->spec->root_size : "1m";
	char opts[64];

	snprintf(opts, sizeof(opts), "size=%s,mode=0755", size);
	if (mount("tmpfs", STAGING, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  opts) != 0)
		return fail(r, 1, "tmpfs root (%s): %s", opts, strerror(errno));
	if (chdir(STAGING) != 0)
		return fail(r, 1, "chdir to new root: %s", strerror(errno));
	if (mkdir("proc", 0555) != 0 ||
	    mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) != 0)
		return fail(r, 1, "mount /proc: %s", strerror(errno));
	for (size_t i = 0; i < r->spec->n_binds; i++)
		if (bind_one(r, i) != 0)
			return -1;
	return 0;
}

static int seal_root(struct run *r)
{
	struct mount_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
			MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
	if (!r->spec->root_writable &&
	    mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof(attr)) != 0)
		return fail(r, 1, "read-only root: %s", strerror(errno));
	return 0;
}

static int step_mounts(struct run *r)
{
	int rc;

	if (unshare(CLONE_NEWNS) != 0)
		return fail(r, 1, "unshare: %s", strerror(errno));
	/* else our mounts would propagate to the parent namespace */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return fail(r, 1, "make / private: %s", strerror(errno));
	/* opened in the new namespace (a mount of another namespace cannot
	 * be bound) and before the staging tmpfs covers any of them */
	if (open_sources(r) != 0 || build_root(r) != 0)
		return -1;
	/* pivot_root(".", "."): the old root ends up stacked on the new one
	 * and is detached at once, so no directory for it is needed */
	if (syscall(SYS_pivot_root, ".", ".") != 0)
		return fail(r, 1, "pivot_root: %s", strerror(errno));
	if (umount2(".", MNT_DETACH) != 0)
		return fail(r, 1, "detach old root: %s", strerror(errno));
	if (chdir("/") != 0)
		return fail(r, 1, "chdir /: %s", strerror(errno));
	rc = seal_root(r);
	for (size_t i = 0; i < r->spec->n_binds; i++)
		close(r->src_fds[i]);
	return rc;
}

/* --- step 2: fds and rlimits ---------------------------------------- */

static int step_fds(struct run *r)
{
	const struct sandbox_spec *s = r->spec;
	int tmp[SANDBOX_MAX_KEEP_FDS];
	int floor = SANDBOX_FIRST_KEPT_FD + (int)s->n_keep_fds;

	if (s->n_keep_fds > SANDBOX_MAX_KEEP_FDS)
		return fail(r, 2, "more than %d fds to keep",
			    SANDBOX_MAX_KEEP_FDS);
	for (size_t i = 0; i < s->n_keep_fds; i++)
		if (s->keep_fds[i] >= floor)
			floor = s->keep_fds[i] + 1;
	/* copies above every source and target first, then into place */
	for (size_t i = 0; i < s->n_keep_fds; i++) {
		tmp[i] = fcntl(s->keep_fds[i], F_DUPFD_CLOEXEC, floor);
		if (tmp[i] < 0)
			return fail(r, 2, "keep fd %d: %s", s->keep_fds[i],
				    strerror(errno));
	}
	for (size_t i = 0; i < s->n_keep_fds; i++)
		if (dup2(tmp[i], SANDBOX_FIRST_KEPT_FD + (int)i) < 0)
			return fail(r, 2, "move fd %d: %s", s->keep_fds[i],
				    strerror(errno));
	/* the copies sit above too, so this closes them as well */
	if (close_range(SANDBOX_FIRST_KEPT_FD + (unsigned)s->n_keep_fds, ~0U,
			0) != 0)
		return fail(r, 2, "close_range: %s", strerror(errno));
	r->st->n_kept_fds = (unsigned)s->n_keep_fds;
	return 0;
}

static int set_limit(struct run *r, int res, const char *name, uint64_t v)
{
	struct rlimit rl = { .rlim_cur = v, .rlim_max = v };

	if (setrlimit(res, &rl) != 0)
		return fail(r, 2, "RLIMIT_%s %llu: %s", name,
			    (unsigned long long)v, strerror(errno));
	return 0;
}

static int step_rlimits(struct run *r, bool unprivileged)
{
	const struct sandbox_spec *s = r->spec;
	uint64_t as = s->rlimit_as ? s->rlimit_as : 1ull << 30;

	if (set_limit(r, RLIMIT_NOFILE, "NOFILE",
		      s->rlimit_nofile ? s->rlimit_nofile : 256) != 0 ||
	    set_limit(r, RLIMIT_CORE, "CORE", 0) != 0)
		return -1;
	/* unprivileged, the uid is the host user's: NPROC would count all
	 * of that user's processes */
	if (!unprivileged &&
	    set_limit(r, RLIMIT_NPROC, "NPROC",
		      s->rlimit_nproc ? s->rlimit_nproc : 128) != 0)
		return -1;
#ifndef PARAPET_SAN
	/* never for vmworker: Unicorn maps 1 GiB RWX per engine */
	if (s->profile != SANDBOX_PROFILE_VMWORKER) {
		if (set_limit(r, RLIMIT_AS, "AS", as) != 0)
			return -1;
		r->st->as_capped = true;
	}
#else
	(void)as; /* ASan reserves terabytes of shadow memory */
#endif
	return 0;
}

/* --- steps 4-7: privileges ------------------------------------------ */

static int step_bounding_set(struct run *r)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int last = -1;

	if (f == NULL || fscanf(f, "%d", &last) != 1 || last < 0) {
		if (f != NULL)
			fclose(f);
		return fail(r, 4, "cannot read cap_last_cap");
	}
	fclose(f);
	for (int cap = 0; cap <= last; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
			return fail(r, 4, "drop cap %d: %s", cap,
				    strerror(errno));
	}
	return 0;
}

/* Whether id is mapped in this user namespace (map: /proc/self/uid_map). */
static bool id_mapped(const char *map, unsigned long id)
{
	unsigned long inside, outside, count;
	bool found = false;
	FILE *f = fopen(map, "re");

	if (f == NULL)
		return false;
	while (fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3)
		if (id >= inside && id - inside < count)
			found = true;
	fclose(f);
	return found;
}

static void pick_ids(struct run *r)
{
	const struct sandbox_spec *s = r->spec;
	struct sandbox_status *st = r->st;

	st->want_uid = s->uid ? s->uid : sandbox_service_uid(s->profile);
	st->want_gid = s->gid ? s->gid : sandbox_service_uid(s->profile);
	st->unprivileged = !id_mapped("/proc/self/uid_map", st->want_uid) ||
			   !id_mapped("/proc/self/gid_map", st->want_gid) ||
			   !id_mapped("/proc/self/gid_map", sandbox_ipc_gid());
	if (st->unprivileged)
		snprintf(st->note, sizeof(st->note),
			 "unprivileged: uid %u not mapped, kept uid %u gid %u; "
			 "setgroups skipped; RLIMIT_NPROC not set",
			 (unsigned)st->want_uid, (unsigned)getuid(),
			 (unsigned)getgid());
}

static int step_ids(struct run *r)
{
	struct sandbox_status *st = r->st;
	gid_t groups[1] = { sandbox_ipc_gid() };
	uid_t u = st->want_uid, ru, eu, su;
	gid_t g = st->want_gid;

	if (st->unprivileged) {
		u = getuid();
		g = getgid();
	} else if (setgroups(1, groups) != 0) {
		return fail(r, 5, "setgroups: %s", strerror(errno));
	}
	if (setresgid(g, g, g) != 0)
		return fail(r, 5, "setresgid %u: %s", (unsigned)g,
			    strerror(errno));
	if (setresuid(u, u, u) != 0)
		return fail(r, 5, "setresuid %u: %s", (unsigned)u,
			    strerror(errno));
	if (getresuid(&ru, &eu, &su) != 0 || ru != u || eu != u || su != u)
		return fail(r, 5, "uid is not %u after setresuid", (unsigned)u);
	/* No core dumps, and no ptrace or /proc/PID access by other
	 * processes of the same uid (unprivileged: the user's own). */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return fail(r, 5, "PR_SET_DUMPABLE: %s", strerror(errno));
	st->uid = u;
	st->gid = g;
	return 0;
}

static int step_caps(struct run *r)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
		return fail(r, 6, "clear ambient: %s", strerror(errno));
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) != 0)
		return fail(r, 6, "capset: %s", strerror(errno));
	if (syscall(SYS_capget, &hdr, data) != 0)
		return fail(r, 6, "capget: %s", strerror(errno));
	for (int i = 0; i < 2; i++)
		if (data[i].effective || data[i].permitted ||
		    data[i].inheritable)
			return fail(r, 6, "capabilities left after capset");
	return 0;
}

/* --- step 9: seccomp ------------------------------------------------ */

static uint32_t default_action(enum sandbox_mode mode)
{
	return mode == SANDBOX_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP;
}

/* A filter for the native arch only (seccomp_init adds no x32 or i386);
 * another arch's syscall kills the process. */
static scmp_filter_ctx new_filter(enum sandbox_profile profile, unsigned flags,
				  enum sandbox_mode mode, bool tsync,
				  unsigned *n, int *rc)
{
	scmp_filter_ctx ctx = seccomp_init(default_action(mode));

	*rc = -ENOMEM;
	if (ctx == NULL)
		return NULL;
	*rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
			       SCMP_ACT_KILL_PROCESS);
	if (*rc == 0) /* no_new_privs is step 7's job */
		*rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (*rc == 0 && tsync)
		*rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (*rc == 0)
		*rc = profile_add_rules(ctx, profile, flags, n);
	if (*rc != 0) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

static int step_seccomp(struct run *r)
{
	const struct sandbox_spec *s = r->spec;
	scmp_filter_ctx ctx;
	int rc;

	if (s->mode == SANDBOX_OFF)
		return 0;
	ctx = new_filter(s->profile, s->flags, s->mode, true,
			 &r->st->n_syscalls, &rc);
	if (ctx == NULL)
		return fail(r, 9, "building the %s filter: %s",
			    sandbox_profile_name(s->profile), strerror(-rc));
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc != 0)
		return fail(r, 9, "loading the filter (TSYNC): %s",
			    strerror(-rc));
	return 0;
}

/* --- the sequence --------------------------------------------------- */

static int check_spec(struct run *r)
{
	const struct sandbox_spec *s = r->spec;

	if (s->service == NULL || s->service[0] == '\0')
		return fail(r, 1, "no service name");
	if (sandbox_profile_name(s->profile) == NULL ||
	    s->profile == SANDBOX_PROFILE_SIDECAR)
		return fail(r, 1, "not a process profile: %d", s->profile);
	if (sandbox_mode_name(s->mode) == NULL)
		return fail(r, 1, "unknown mode %d", s->mode);
	/* the name table allocates: build it while everything is allowed */
	if (s->mode != SANDBOX_OFF && sigsys_install(s->service) != 0)
		return fail(r, 1, "SIGSYS handler: %s", strerror(errno));
	return 0;
}

static int run_callback(struct run *r, int step, int (*fn)(void *))
{
	int rc;

	if (fn == NULL)
		return 0;
	errno = 0;
	rc = fn(r->spec->ctx);
	if (rc != 0)
		return fail(r, step, "returned %d%s%s", rc, errno ? ": " : "",
			    errno ? strerror(errno) : "");
	return 0;
}

int sandbox_enter(const struct sandbox_spec *spec, struct sandbox_status *out,
		  char *err, size_t errlen)
{
	struct sandbox_status local;
	struct run r = { spec, out ? out : &local, err, errlen, { 0 } };

	memset(r.st, 0, sizeof(*r.st));
	if (errlen > 0)
		err[0] = '\0';
	if (check_spec(&r) != 0)
		return -1;
	snprintf(r.st->service, sizeof(r.st->service), "%s", spec->service);
	r.st->profile = sandbox_profile_name(spec->profile);
	r.st->mode = spec->mode;
	r.st->n_binds = (unsigned)spec->n_binds;
	pick_ids(&r);
	if (step_mounts(&r) != 0 || step_fds(&r) != 0 ||
	    step_rlimits(&r, r.st->unprivileged) != 0 ||
	    run_callback(&r, 3, spec->before_privdrop) != 0 ||
	    step_bounding_set(&r) != 0 || step_ids(&r) != 0 ||
	    step_caps(&r) != 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return fail(&r, 7, "%s", strerror(errno));
	/* Under the filter chmod is refused: a socket the service creates
	 * later (lib/ipc_watch.c listening anew) takes its mode from the
	 * umask, 0660 as the IPC sockets are. Nothing else is created. */
	umask(SANDBOX_UMASK);
	if (run_callback(&r, 8, spec->before_seccomp) != 0 ||
	    step_seccomp(&r) != 0)
		return -1;
	process_mode = spec->mode;
	return 0;
}

int sandbox_thread_filter(enum sandbox_profile profile, unsigned flags,
			  char *err, size_t errlen)
{
	return sandbox_load_filter(profile, flags, process_mode, err, errlen);
}

int sandbox_filter_self(const char *service, enum sandbox_profile profile,
			enum sandbox_mode mode, char *err, size_t errlen)
{
	if (mode == SANDBOX_OFF)
		return 0;
	if (sigsys_install(service) != 0) {
		snprintf(err, errlen, "SIGSYS handler: %s", strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(err, errlen, "no_new_privs: %s", strerror(errno));
		return -1;
	}
	if (sandbox_load_filter(profile, 0, mode, err, errlen) != 0)
		return -1;
	process_mode = mode;
	return 0;
}

int sandbox_load_filter(enum sandbox_profile profile, unsigned flags,
			enum sandbox_mode mode, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	unsigned n;
	int rc;

	if (mode == SANDBOX_OFF)
		return 0;
	ctx = new_filter(profile, flags, mode, false, &n, &rc);
	if (ctx == NULL) {
		snprintf(err, errlen, "thread filter %s: %s",
			 sandbox_profile_name(profile) ?: "?", strerror(-rc));
		return -1;
	}
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc != 0) {
		snprintf(err, errlen, "thread filter %s: load: %s",
			 sandbox_profile_name(profile), strerror(-rc));
		return -1;
	}
	return 0;
}
