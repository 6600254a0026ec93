/* parapet-init's start-up: the boot device tree (/sys/firmware/fdt, as
 * the shim left it), /run with the host run directory bound at
 * /run/parapet/host, /dev with bind-mounted nodes, environment, the RNG
 * seed, the partition fds; and the boot timeline in the host run dir. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "init/init.h"
#include "lib/jsonout.h"
#include "lib/registry.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/util.h"
#include "sandbox/sandbox.h"

static uint8_t init_fdt[PARTITION_DTB_MAX];

static int init_read_fdt(void)
{
	int fd = open(PARTITION_FDT_PATH, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, init_fdt, sizeof(init_fdt)) : -1;
	int rc;

	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		log_warn("%s", PARTITION_FDT_PATH);
		return -1;
	}
	rc = fdt_check_full(init_fdt, (size_t)n);
	if (rc != 0) {
		log_warnx("%s: %s", PARTITION_FDT_PATH, fdt_strerror(rc));
		return -1;
	}
	return 0;
}

static const char *init_dt_string(int node, const char *prop)
{
	int len;
	const char *s = fdt_getprop(init_fdt, node, prop, &len);

	if (s == NULL || len < 1 || s[len - 1] != '\0')
		return "";
	return s;
}

static uint64_t init_dt_u64(int node, const char *prop)
{
	int len;
	const void *v = fdt_getprop(init_fdt, node, prop, &len);
	fdt64_t raw;

	if (v == NULL || len != 8)
		return 0;
	memcpy(&raw, v, sizeof(raw)); /* properties are only 4-aligned */
	return fdt64_to_cpu(raw);
}

/* Detached copies of the host's mounts we need after /run and /dev are
 * covered, attached again with move_mount. */
static int init_clone_tree(const char *path)
{
	int fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);

	if (fd < 0)
		log_warn("open_tree %s", path);
	return fd;
}

static int init_attach(int tree, const char *path, bool dir)
{
	int fd = dir ? mkdir(path, 0755) : open(path, O_CREAT | O_WRONLY, 0666);

	if (fd < 0 && !(dir && errno == EEXIST)) {
		log_warn("create %s", path);
		return -1;
	}
	if (!dir)
		close(fd);
	if (move_mount(tree, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH)) {
		log_warn("move_mount %s", path);
		return -1;
	}
	close(tree);
	return 0;
}

/* The trace flag every service maps: zero (off), readable by the IPC
 * group, writable by diagd alone (an ACL entry for its uid): no other
 * service can switch tracing on. */
static int init_trace_flag(void)
{
	int fd = open(PARTITION_TRACE_FLAG,
		      O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0660);

	if (fd < 0 || ftruncate(fd, PARTITION_TRACE_FLAG_SIZE) != 0) {
		log_warn("%s", PARTITION_TRACE_FLAG);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* unprivileged the group may not be mapped: the file stays root's */
	if (fchown(fd, 0, sandbox_ipc_gid()) != 0)
		log_debug("%s: chown: %s", PARTITION_TRACE_FLAG,
			  strerror(errno));
	fchmod(fd, 0640);
	close(fd);
	if (util_acl_grant(PARTITION_TRACE_FLAG, 6,
			   sandbox_service_uid(SANDBOX_PROFILE_DIAGD), 6, 4, 0))
		log_debug("%s: ACL for diagd: %s", PARTITION_TRACE_FLAG,
			  strerror(errno));
	return 0;
}

/* PARTITION_IPC_DIR/NAME for init and every service: owned by that
 * service's uid (root for init), group IPC, 0750. */
static int init_service_dirs(void)
{
	char path[128];

	for (size_t i = 0; i < registry_count; i++) {
		const struct registry_entry *e = &registry[i];
		uid_t uid = registry_uid(e);

		/* the host and the diag CLI listen outside the partition */
		if (e->binary == NULL && strcmp(e->name, SVC_NAME_INIT) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", PARTITION_IPC_DIR,
			 e->name);
		if (mkdir(path, 0750) != 0) {
			log_warn("mkdir %s", path);
			return -1;
		}
		/* unprivileged the uids are not mapped: root's, as all */
		if (chown(path, uid, sandbox_ipc_gid()) != 0 &&
		    chown(path, 0, sandbox_ipc_gid()) != 0)
			log_debug("%s: chown: %s", path, strerror(errno));
		if (chmod(path, 02750) != 0)
			return -1;
	}
	return 0;
}

/* Services write under /run (their sockets) and hostcomm and diagd in
 * the host run directory: nothing there may be executed, least of all by
 * init, which runs as root (DESIGN.md §7a). */
static int init_mount_run(const char *host_dir)
{
	struct mount_attr inert = { .attr_set = MOUNT_ATTR_NOEXEC |
						MOUNT_ATTR_NOSUID |
						MOUNT_ATTR_NODEV };
	int tree = init_clone_tree(host_dir);

	if (tree < 0)
		return -1;
	if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &inert,
			  sizeof(inert)) != 0) {
		log_warn("%s: noexec", host_dir);
		close(tree);
		return -1;
	}
	if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=0755,size=16m") != 0) {
		log_warn("mount /run");
		return -1;
	}
	if (mkdir("/run/parapet", 0755) != 0 ||
	    mkdir(PARTITION_IPC_DIR, 0755) != 0)
		return -1;
	/* Sandboxed services each run as their own uid and share the IPC
	 * group: the directory is the group's, setgid so sockets are too,
	 * but only root writes it; each service writes its own directory.
	 * Unprivileged the group may not be mapped; one uid runs all. */
	if (chown(PARTITION_IPC_DIR, 0, sandbox_ipc_gid()) != 0)
		log_debug("%s: chown: %s", PARTITION_IPC_DIR, strerror(errno));
	if (chmod(PARTITION_IPC_DIR, 02750) != 0 || init_service_dirs() != 0)
		return -1;
	if (init_trace_flag() != 0)
		return -1;
	if (init_attach(tree, PARTITION_HOST_DIR, true) != 0)
		return -1;
	return 0;
}

static int init_mount_dev(bool kvm)
{
	static const char *const nodes[] = { "null", "zero", "urandom", "kvm" };
	int trees[4];
	char path[64];
	unsigned n = kvm ? 4 : 3;

	for (unsigned i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/dev/%s", nodes[i]);
		if ((trees[i] = init_clone_tree(path)) < 0)
			return -1;
	}
	if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
		  "mode=0755,size=64k") != 0) {
		log_warn("mount /dev");
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/dev/%s", nodes[i]);
		if (init_attach(trees[i], path, false) != 0)
			return -1;
	}
	if (symlink("/proc/self/fd", "/dev/fd") != 0 ||
	    symlink("/proc/self/fd/0", "/dev/stdin") != 0 ||
	    symlink("/proc/self/fd/1", "/dev/stdout") != 0 ||
	    symlink("/proc/self/fd/2", "/dev/stderr") != 0)
		log_warn("/dev symlinks");
	return 0;
}

static void init_env(struct init *in)
{
	const char *v = getenv(SANDBOX_UID_BASE_ENV);
	char uid_base[16] = "";

	/* the partition's block of service uids, from parapet run */
	if (v != NULL && strlen(v) < sizeof(uid_base))
		memcpy(uid_base, v, strlen(v) + 1);
	clearenv();
	if (uid_base[0] != '\0')
		setenv(SANDBOX_UID_BASE_ENV, uid_base, 1);
	setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
	setenv("HOME", "/", 1);
	/* PITFALLS (nng): fewer malloc arenas keep a service's VmSize small */
	setenv("MALLOC_ARENA_MAX", "1", 1);
	setenv("PARAPET_PARTITION", in->name, 1);
	setenv("PARAPET_LIBEXEC", in->libexec, 1);
	if (in->log_env[0])
		setenv("PARAPET_LOG", in->log_env, 1);
}

/* Mixes the shim's entropy into the kernel pool (not credited) and seeds
 * init's own PRNG. */
static void init_seed_rng(int parapet)
{
	int len, fd;
	const uint8_t *e = fdt_getprop(init_fdt, parapet, "entropy", &len);
	unsigned seed = 0;

	if (e == NULL || len < 4) {
		log_warnx("device tree has no entropy; RNG not seeded");
		return;
	}
	fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, e, (size_t)len) != len)
			log_debug("mixing entropy into /dev/urandom failed");
		close(fd);
	}
	memcpy(&seed, e, sizeof(seed));
	srandom(seed);
}

static void init_partition_fds(struct init *in)
{
	static const int fds[MANIFEST_FD_COUNT] = { PARTITION_FD_GUEST_RAM,
						    PARTITION_FD_SIDECAR,
						    PARTITION_FD_BOOT_DTB,
						    PARTITION_FD_BOOT_IMAGE };

	for (int i = 0; i < MANIFEST_FD_COUNT; i++) {
		in->part_fds[i] =
		    fcntl(fds[i], F_SETFD, FD_CLOEXEC) == 0 ? fds[i] : -1;
		if (in->part_fds[i] < 0)
			log_warnx("partition fd %d (%s) missing", fds[i],
				  manifest_fd_name(i));
	}
}

/* logs/NAME.log in the host run directory (bound at PARTITION_HOST_DIR). */
/* logs/NAME.log: for the owner, and diagd's group (root: diagd serves
 * logs to the owner); no other service reads another's log. */
static int init_open_log(const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/logs/%s.log", PARTITION_HOST_DIR,
		 name);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd >= 0 && getuid() == 0 &&
	    fchown(fd, 0, sandbox_service_uid(SANDBOX_PROFILE_DIAGD)) != 0)
		log_debug("%s: chown: %s", path, strerror(errno));
	return fd;
}

/* A bare binary name is looked up in the libexec directory. */
static void init_binary_path(const struct init *in, struct service *s)
{
	char tmp[sizeof(s->path)];

	if (s->m.binary[0] == '/')
		snprintf(tmp, sizeof(tmp), "%s", s->m.binary);
	else
		snprintf(tmp, sizeof(tmp), "%s/%s", in->libexec, s->m.binary);
	memcpy(s->path, tmp, sizeof(tmp));
}

static int init_services(struct init *in, int parapet)
{
	static struct manifest m;
	int rc = manifest_from_fdt(
	    init_fdt, fdt_subnode_offset(init_fdt, parapet, "services"), &m);

	if (rc != MANIFEST_OK) {
		log_warnx("device tree /parapet/services: %s",
			  manifest_strerror(rc));
		return -1;
	}
	in->n_svc = m.n;
	for (unsigned i = 0; i < m.n; i++) {
		struct service *s = &in->svc[i];

		s->m = m.svc[i];
		s->pid = 0;
		s->chan = s->log_fd = s->saved_fd = s->update_saved_fd = -1;
		s->bin_fd = s->prev_bin_fd = -1;
		s->standby.proc = (struct svc_proc){ 0, -1, -1 };
		s->log_file = init_open_log(s->m.name);
		s->sup.state = SVC_STOPPED;
		init_binary_path(in, s);
	}
	return 0;
}

int init_setup(struct init *in)
{
	enum log_level level;
	const char *log;
	int parapet;

	setsid();
	if (init_read_fdt() != 0)
		return -1;
	parapet = fdt_path_offset(init_fdt, "/parapet");
	if (parapet < 0) {
		log_warnx("device tree has no /parapet node");
		return -1;
	}
	snprintf(in->name, sizeof(in->name), "%s",
		 init_dt_string(parapet, "partition"));
	snprintf(in->libexec, sizeof(in->libexec), "%s",
		 init_dt_string(parapet, "libexec-dir"));
	log = init_dt_string(parapet, "log");
	if (strcmp(log, "default"))
		snprintf(in->log_env, sizeof(in->log_env), "%s", log);
	/* the partition's level, for init too (not the inherited one) */
	if (log_level_parse(log, &level) == 0)
		log_set_level(level);
	in->kvm = !strcmp(init_dt_string(parapet, "accel"), "kvm");
	in->reftime_run_start = init_dt_u64(parapet, "reftime_run_start");
	in->reftime_shim_start = init_dt_u64(parapet, "reftime_shim_start");
	in->reftime_shim_end = init_dt_u64(parapet, "reftime_shim_end");
	if (init_mount_run(init_dt_string(parapet, "host-run-dir")) != 0 ||
	    init_mount_dev(in->kvm) != 0)
		return -1;
	init_env(in);
	init_seed_rng(parapet);
	init_partition_fds(in);
	hostfds_open(in);
	if (hostfds_check_disks(
		in, init_fdt, fdt_subnode_offset(init_fdt, parapet, "disks")) !=
	    0)
		return -1;
	return init_services(in, parapet);
}

static void init_note_event(struct init_events *l, const char *service,
			    uint64_t at_ns, uint64_t blackout_ns)
{
	unsigned n = l->n;

	if (n == INIT_SERVICING_MAX) {
		memmove(&l->e[0], &l->e[1], sizeof(l->e[0]) * (n - 1));
		n--;
	}
	snprintf(l->e[n].service, sizeof(l->e[n].service), "%s", service);
	l->e[n].at_ns = at_ns;
	l->e[n].blackout_ns = blackout_ns;
	l->n = n + 1;
}

void init_note_ready(struct init *in, struct service *s,
		     const uint64_t *blackout_ns)
{
	if (s->boot_ready_ns == 0 && blackout_ns == NULL) {
		s->boot_ready_ns = s->ready_ns;
		return;
	}
	if (blackout_ns == NULL) {
		init_note_event(&in->restarts, s->m.name, s->ready_ns, 0);
		return;
	}
	init_note_event(&in->servicing, s->m.name, s->ready_ns, *blackout_ns);
	log_info("%s: servicing done, blackout %.3f ms", s->m.name,
		 (double)*blackout_ns / 1e6);
}

/* [{service, at[, blackout_ns]}, ...], oldest first. */
static json_t *timeline_events(const struct init_events *l, bool blackout)
{
	json_t *list = json_array();

	for (unsigned i = 0; i < l->n; i++) {
		json_t *e = json_object();

		json_object_set_new(e, "service", json_string(l->e[i].service));
		json_object_set_new(e, "at",
				    json_integer((json_int_t)l->e[i].at_ns));
		if (blackout)
			json_object_set_new(
			    e, "blackout_ns",
			    json_integer((json_int_t)l->e[i].blackout_ns));
		json_array_append_new(list, e);
	}
	return list;
}

/* timeline.json in the host run directory: the stamps so far. */
void init_write_timeline(const struct init *in)
{
	json_t *root = json_object(), *svcs = json_object(), *old;
	json_t *spawned = json_object();
	char path[128];

	json_object_set_new(root, "run_start",
			    json_integer((json_int_t)in->reftime_run_start));
	json_object_set_new(root, "shim_start",
			    json_integer((json_int_t)in->reftime_shim_start));
	json_object_set_new(root, "shim_end",
			    json_integer((json_int_t)in->reftime_shim_end));
	json_object_set_new(root, "init_start",
			    json_integer((json_int_t)in->start_ns));
	for (unsigned i = 0; i < in->n_svc; i++) {
		const struct service *s = &in->svc[i];

		if (s->boot_spawned_ns)
			json_object_set_new(
			    spawned, s->m.name,
			    json_integer((json_int_t)s->boot_spawned_ns));
		if (s->boot_ready_ns)
			json_object_set_new(
			    svcs, s->m.name,
			    json_integer((json_int_t)s->boot_ready_ns));
	}
	json_object_set_new(root, "service_spawned", spawned);
	json_object_set_new(root, "service_ready", svcs);
	json_object_set_new(root, "servicing",
			    timeline_events(&in->servicing, true));
	json_object_set_new(root, "restarts",
			    timeline_events(&in->restarts, false));
	snprintf(path, sizeof(path), "%s/timeline.json", PARTITION_HOST_DIR);
	/* the host's stamps (host/timeline.h) stay: no reader sees the file
	 * without them between this write and the host's next look */
	old = json_load_file(path, 0, NULL);
	if (json_is_object(old))
		json_object_update_missing(root, old);
	json_decref(old);
	if (jsonout_write_file(root, path, ".tmp") != 0)
		log_debug("cannot write %s", path);
	json_decref(root);
}
