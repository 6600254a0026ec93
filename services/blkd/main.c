/* parapet-blkd: under parapet-init, the disks init sends (fds disk0 ...
 * disk7) served on /run/parapet/ipc/blkd/diskN.sock to vmworker alone,
 * and their counters over IPC (Disks); `--standalone` serves one disk
 * file to a front-end such as qemu (standalone.c). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "blkd.pb-c.h"
#include "lib/caller.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/registry.h"
#include "lib/supervise.h"
#include "lib/svcbase.h"
#include "lib/util.h"
#include "lib/version.h"
#include "sandbox/sandbox.h"
#include "services/blkd/blkd.h"
#include "services/blkd/standalone.h"

#define DISK_FD_PREFIX	"disk"
#define DISK_FD_WAIT_MS 5000

struct blkd {
	struct blkd_disk disks[BLKD_MAX_DISKS];
	unsigned n;
	pthread_t threads[BLKD_MAX_DISKS];
	unsigned n_threads;
	int stop_fd; /* an eventfd: readable once the service stops */
	int keep[BLKD_MAX_DISKS];
};

struct disk_job {
	struct blkd_disk *d;
	int stop_fd;
};

/* The uid vmworker runs as: its own, or the one every service shares
 * where the partition's user namespace maps a single uid (the last
 * entry caller_peer_uids gives it). */
static uid_t vmworker_uid(void)
{
	struct ipc_peer_uid u[CALLER_UIDS_MAX];
	size_t n = caller_peer_uids(u);
	uid_t uid = sandbox_service_uid(SANDBOX_PROFILE_VMWORKER);

	for (size_t i = 0; i < n; i++)
		if (u[i].identity & CALLER_VMWORKER)
			uid = u[i].uid;
	return uid;
}

/* The disks init queued on the supervisor channel. */
static int blkd_init(struct svcbase *sb)
{
	struct blkd *b = sb->ctx;
	struct svcbase_fd fds[SUPERVISE_MAX_FDS];
	int n = svcbase_take_fds(DISK_FD_PREFIX, DISK_FD_WAIT_MS, fds,
				 SUPERVISE_MAX_FDS);

	for (int i = 0; i < n; i++) {
		const char *num = fds[i].name + strlen(DISK_FD_PREFIX);

		/* diskN, N one digit 0-7 (docs/disks.md) */
		if (b->n >= BLKD_MAX_DISKS || num[0] < '0' ||
		    num[0] >= '0' + BLKD_MAX_DISKS || num[1] != '\0' ||
		    blkd_disk_init(&b->disks[b->n], (unsigned)(num[0] - '0'),
				   fds[i].fd, fds[i].name) != 0) {
			log_warnx("fd '%s' left out", fds[i].name);
			close(fds[i].fd);
			continue;
		}
		b->disks[b->n].peer_uid = vmworker_uid();
		log_info("%s: %llu sectors%s", fds[i].name,
			 (unsigned long long)b->disks[b->n].sectors,
			 b->disks[b->n].ro ? ", read-only" : "");
		b->n++;
	}
	if (b->n == 0) {
		log_warnx("init passed no disk (fds named %s0 ... %s7)",
			  DISK_FD_PREFIX, DISK_FD_PREFIX);
		return -1;
	}
	return 0;
}

/* The disks' fds stay open in the sandbox, moved to 4, 5, ... */
static void blkd_sandbox(struct svcbase *sb, struct sandbox_spec *spec)
{
	struct blkd *b = sb->ctx;

	for (unsigned i = 0; i < b->n; i++) {
		b->keep[i] = b->disks[i].fd;
		b->disks[i].fd = SANDBOX_FIRST_KEPT_FD + (int)i;
	}
	spec->keep_fds = b->keep;
	spec->n_keep_fds = b->n;
}

/* Sandbox step 8, before the filter: the disks' sockets. */
static int blkd_open(struct svcbase *sb)
{
	struct blkd *b = sb->ctx;
	char path[108];

	b->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (b->stop_fd < 0)
		return -1;
	for (unsigned i = 0; i < b->n; i++) {
		snprintf(path, sizeof(path), "%s/%s/disk%u.sock",
			 PARTITION_IPC_DIR, SVC_NAME_BLKD, b->disks[i].index);
		if (blkd_listen(
			&b->disks[i], path,
			sandbox_service_uid(SANDBOX_PROFILE_VMWORKER)) != 0)
			return -1;
	}
	return 0;
}

static void *disk_thread(void *arg)
{
	struct disk_job *j = arg;

	blkd_serve(j->d, j->stop_fd);
	return NULL;
}

/* The sandbox is whole: one thread per disk. */
static int blkd_start(struct svcbase *sb)
{
	struct blkd *b = sb->ctx;
	static struct disk_job jobs[BLKD_MAX_DISKS];

	for (unsigned i = 0; i < b->n; i++) {
		jobs[i] = (struct disk_job){ &b->disks[i], b->stop_fd };
		if (pthread_create(&b->threads[i], NULL, disk_thread,
				   &jobs[i]) != 0) {
			log_warnx("%s: no thread", b->disks[i].label);
			return -1;
		}
		b->n_threads++;
	}
	return 0;
}

/* Each service removes its own sockets; the front-ends see them go. */
static void blkd_stop(struct svcbase *sb, int sig)
{
	struct blkd *b = sb->ctx;
	uint64_t one = 1;

	(void)sig;
	if (write(b->stop_fd, &one, sizeof(one)) != sizeof(one))
		log_warn("stop");
	for (unsigned i = 0; i < b->n_threads; i++)
		pthread_join(b->threads[i], NULL);
	for (unsigned i = 0; i < b->n; i++)
		unlink(b->disks[i].sock_path);
}

static Parapet__BlkdDisk *disk_row(struct ipc_request *req, struct blkd_disk *d)
{
	Parapet__BlkdDisk *r = ipc_request_alloc(req, sizeof(*r));
	struct blkd_counters *c = &d->c;

	if (r == NULL)
		return NULL;
	parapet__blkd_disk__init(r);
#define SET(f, v) (r->has_##f = 1, r->f = (v))
	SET(index, d->index);
	r->id = d->id;
	SET(read_only, d->ro);
	SET(sectors, d->sectors);
	SET(connected, atomic_load(&c->connected));
	SET(features, atomic_load(&c->features));
	SET(requests, atomic_load(&c->requests));
	SET(reads, atomic_load(&c->reads));
	SET(writes, atomic_load(&c->writes));
	SET(flushes, atomic_load(&c->flushes));
	SET(get_ids, atomic_load(&c->get_ids));
	SET(bytes_read, atomic_load(&c->bytes_read));
	SET(bytes_written, atomic_load(&c->bytes_written));
	SET(errors, atomic_load(&c->errors));
	SET(refused, atomic_load(&c->refused));
	SET(in_flight, atomic_load(&c->in_flight));
	SET(resubmitted, atomic_load(&c->resubmitted));
	SET(connections, atomic_load(&c->connections));
	SET(rejected_peers, atomic_load(&c->rejected_peers));
	SET(bad_messages, atomic_load(&c->bad_messages));
#undef SET
	return r;
}

/* Disks: every disk's counters (atomics: no lock, any thread). */
static int on_disks(struct ipc_request *req, const ProtobufCMessage *in,
		    ProtobufCMessage *out, void *arg)
{
	struct blkd *b = arg;
	Parapet__BlkdDisksReply *r = (Parapet__BlkdDisksReply *)out;

	(void)in;
	r->disks = ipc_request_alloc(req, sizeof(void *) * (b->n + 1));
	if (r->disks == NULL)
		return IPC_ERR_NOMEM;
	for (unsigned i = 0; i < b->n; i++)
		if ((r->disks[r->n_disks++] = disk_row(req, &b->disks[i])) ==
		    NULL)
			return IPC_ERR_NOMEM;
	return 0;
}

static const struct ipc_method blkd_methods[] = {
	/* parapet-diag disks (through diagd), and vmworker */
	{ "Disks", on_disks, CALLER_DIAGD | CALLER_VMWORKER, 64 },
};

static const struct svcbase_desc blkd_desc = {
	.name = SVC_NAME_BLKD,
	.methods = blkd_methods,
	.n_methods = sizeof(blkd_methods) / sizeof(blkd_methods[0]),
	.init = blkd_init,
	.sandbox = blkd_sandbox,
	.open = blkd_open,
	.start = blkd_start,
	.stop = blkd_stop,
};

int main(int argc, char **argv)
{
	static struct blkd b = { .stop_fd = -1 };

	if (version_asked("parapet-blkd", argc, argv))
		return 0;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--standalone") ||
		    !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return blkd_standalone_main(argc, argv);
	if (!util_is_seqpacket(SUPERVISE_FD)) {
		log_init(SVC_NAME_BLKD);
		log_warnx("without --standalone it runs only as a service of "
			  "parapet-init");
		blkd_standalone_usage(stderr);
		return BLKD_EXIT_SETUP;
	}
	return svcbase_main(&blkd_desc, &b, argc, argv);
}
