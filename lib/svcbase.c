/* Shared start-up of Parapet services: trace tap, partition fds from the
 * supervisor channel, peer clients (see svcbase.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/partition.h"
#include "lib/supervise.h"
#include "lib/svcbase.h"
#include "lib/util.h"
#include "sandbox/sandbox.h"

#define SVCBASE_FLAG_PATH PARTITION_IPC_DIR "/trace.flag"

/* Read-only: only diagd switches the flag (init made the file writable
 * by diagd alone). The tap only loads it. */
static _Atomic uint32_t *svcbase_map_flag(void)
{
	int fd = open(SVCBASE_FLAG_PATH, O_RDONLY | O_CLOEXEC);
	void *p;

	if (fd < 0)
		return NULL;
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

struct ipc_trace *svcbase_trace(const char *service)
{
	char path[128];
	struct ipc_trace_config cfg = {
		.service = service,
		.path = path,
		.flag = svcbase_map_flag(),
		.mode = 0600,
	};
	struct ipc_trace *t;

	partition_sock_path(path, sizeof(path), PARTITION_IPC_DIR, service,
			    ".trace.sock");
	t = ipc_trace_open(&cfg);
	/* The trace carries the console, input included: diagd alone may
	 * subscribe. Unprivileged, diagd shares this uid: 0600 is enough. */
	if (t != NULL &&
	    geteuid() != sandbox_service_uid(SANDBOX_PROFILE_DIAGD) &&
	    util_acl_grant(path, 6, sandbox_service_uid(SANDBOX_PROFILE_DIAGD),
			   6, 0, 0) != 0 &&
	    errno != EINVAL)
		log_warn("%s: ACL for diagd", path);
	return t;
}

int svcbase_no_args(int argc, char **argv)
{
	if (argc <= 1)
		return 0;
	log_warnx("unexpected argument '%s': it takes none (a service of "
		  "parapet-init)",
		  argv[1]);
	return -1;
}

int svcbase_take_fd(const char *name, int wait_ms)
{
	struct pollfd p = { .fd = SUPERVISE_FD, .events = POLLIN };
	Parapet__SupervisorMsg *msg = NULL;
	int fds[SUPERVISE_MAX_FDS], found = -1;
	size_t n = 0;

	if (poll(&p, 1, wait_ms) <= 0 || !(p.revents & POLLIN))
		return -1;
	if (supervise_recv(SUPERVISE_FD, &msg, fds, SUPERVISE_MAX_FDS, &n) !=
	    SUPERVISE_OK)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (found < 0 && name && !strcmp(msg->fd_names[i], name))
			found = fds[i];
		else
			close(fds[i]);
	}
	supervise_msg_free(msg);
	return found;
}

struct ipc_client *svcbase_client(const char *self, const char *peer,
				  const char *path,
				  const ProtobufCServiceDescriptor *desc,
				  int timeout_ms, struct ipc_trace *trace)
{
	char def[128];
	struct ipc_client_config cfg = {
		.name = self,
		.path = path,
		.destination = peer,
		.service = desc,
		.timeout_ms = timeout_ms,
		.trace = trace,
	};

	if (path == NULL) {
		partition_sock_path(def, sizeof(def), PARTITION_IPC_DIR, peer,
				    ".sock");
		cfg.path = def;
	}
	return ipc_client_open(&cfg);
}

void svcbase_dt_string(const char *prop, char *out, size_t len)
{
	char path[256];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/parapet/%s", PARTITION_DT_BASE_PATH,
		 prop);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, out, len - 1) : -1;
	if (fd >= 0)
		close(fd);
	out[n > 0 ? n : 0] = '\0';
}

int svcbase_sandbox(const char *service, int profile,
		    const struct sandbox_bind *extra, size_t n_extra,
		    int (*open_fn)(void *ctx), void *ctx)
{
	return svcbase_sandbox_as(service, profile, extra, n_extra, open_fn,
				  ctx, 0, 0);
}

int svcbase_sandbox_as(const char *service, int profile,
		       const struct sandbox_bind *extra, size_t n_extra,
		       int (*open_fn)(void *ctx), void *ctx, uid_t uid,
		       gid_t gid)
{
	struct sandbox_bind binds[SANDBOX_MAX_BINDS] = {
		{ PARTITION_IPC_DIR, SANDBOX_IPC_DIR, false, false },
		{ "/dev/null", "/dev/null", false, true },
	};
	struct sandbox_spec spec = {
		.service = service,
		.profile = (enum sandbox_profile)profile,
		.binds = binds,
		.n_binds = 2,
		.before_seccomp = open_fn,
		.ctx = ctx,
		.uid = uid,
		.gid = gid,
	};
	struct sandbox_status st;
	char mode[16], err[256];

	for (size_t i = 0; i < n_extra && spec.n_binds < SANDBOX_MAX_BINDS; i++)
		binds[spec.n_binds++] = extra[i];
	svcbase_dt_string("sandbox", mode, sizeof(mode));
	if (sandbox_mode_parse(mode[0] ? mode : "strict", &spec.mode) != 0) {
		log_warnx("unknown sandbox mode '%s'", mode);
		return -1;
	}
	if (sandbox_enter(&spec, &st, err, sizeof(err)) != 0) {
		log_warnx("sandbox: %s", err);
		return -1;
	}
	if (st.note[0])
		log_info("sandbox: %s", st.note);
	return 0;
}
