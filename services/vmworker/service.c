/* parapet-vmworker under init: set-up from the supervisor channel and the
 * boot device tree, the VM's thread, and the end-of-VM report to policy.
 * The endpoint's handlers are in service_ipc.c. */
#include "services/vmworker/service.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/futex.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/registry.h"
#include "lib/supervise.h"
#include "lib/svcbase.h"
#include "lib/util.h"
#include "sandbox/sandbox.h"
#include "services/vmworker/vblk_watch.h"
#include "policy.pb-c.h"
#include "services/vmworker/savestate.h"
#include "services/vmworker/service_int.h"

static int take_fds(struct vmw *w)
{
	Parapet__SupervisorMsg *msg = NULL;
	int fds[SUPERVISE_MAX_FDS];
	size_t n = 0, i;
	unsigned disk;
	int rc;

	for (i = 0; i < GUEST_DISK_MAX; i++)
		w->disk_fds[i] = -1;
	rc = supervise_recv(SUPERVISE_FD, &msg, fds, SUPERVISE_MAX_FDS, &n);
	if (rc != SUPERVISE_OK) {
		log_warnx("supervisor channel: %s", supervise_strerror(rc));
		return -1;
	}
	for (i = 0; i < n; i++) {
		const char *name = msg->fd_names[i];

		if (strcmp(name, "guest-ram") == 0)
			w->ram_fd = fds[i];
		else if (strcmp(name, "sidecar") == 0)
			w->sidecar_fd = fds[i];
		else if (strcmp(name, "boot-dtb") == 0)
			w->dtb_fd = fds[i];
		else if (strcmp(name, "saved-state") == 0)
			w->saved_fd = fds[i];
		else if (strcmp(name, "boot-image") == 0)
			w->image_fd = fds[i];
		else if (sscanf(name, "vhost-user%u", &disk) == 1 &&
			 disk < GUEST_DISK_MAX && w->disk_fds[disk] < 0)
			w->disk_fds[disk] = fds[i];
		else
			close(fds[i]);
	}
	supervise_msg_free(msg);
	if (w->ram_fd < 0 || w->dtb_fd < 0) {
		log_warnx("init passed no guest-ram or boot-dtb fd");
		return -1;
	}
	return 0;
}

static int read_config(struct vmw *w)
{
	long long size = util_fd_size(w->dtb_fd);
	char err[256];
	void *dtb;
	int rc;

	if (size <= 0 || size > PARTITION_DTB_MAX) {
		log_warnx("boot device tree fd: %lld bytes", size);
		return -1;
	}
	dtb = util_map(w->dtb_fd, (size_t)size, PROT_READ);
	if (dtb == NULL) {
		log_warn("mmap boot device tree");
		return -1;
	}
	rc = dtconfig_parse(dtb, (size_t)size, &w->cfg, err, sizeof(err));
	util_unmap(dtb, (size_t)size);
	if (rc != 0)
		log_warnx("%s", err);
	else if (strcmp(w->cfg.log, "debug") == 0)
		log_set_level(LOG_LEVEL_DEBUG);
	else if (strcmp(w->cfg.log, "warn") == 0)
		log_set_level(LOG_LEVEL_WARN);
	return rc;
}

/* A saved state from the previous instance: restore it, or refuse it
 * whole and report the VM crashed. */
static void restore_saved(struct vmw *w)
{
	long long size = util_fd_size(w->saved_fd);
	char err[200];
	uint8_t *buf;

	if (size <= 0 ||
	    size > (long long)SAVESTATE_MAX_SIZE + SAVESTATE_HEADER_SIZE) {
		snprintf(err, sizeof(err), "saved state of %lld bytes", size);
		goto crashed;
	}
	buf = util_map(w->saved_fd, (size_t)size, PROT_READ);
	if (buf == NULL) {
		snprintf(err, sizeof(err), "cannot map the saved state");
		goto crashed;
	}
	if (savestate_restore(&w->vm, buf, (size_t)size, err, sizeof(err)) !=
	    0) {
		util_unmap(buf, (size_t)size);
		goto crashed;
	}
	util_unmap(buf, (size_t)size);
	w->restored = true;
	log_info("restored the saved state (%lld bytes)", size);
	return;
crashed:
	log_warnx("servicing failed: %s", err);
	snprintf(w->vm.crash_reason, sizeof(w->vm.crash_reason),
		 "servicing failed: %s", err);
	atomic_store(&w->vm.state, VM_STATE_CRASHED);
	w->refused = true;
}

/* The disks of the boot device tree: blkd's are reached on its socket,
 * external backends through the connection init passed on. */
static int vmw_disks(struct vmw *w, struct vm_config *vc)
{
	for (unsigned i = 0; i < GUEST_DISK_MAX; i++) {
		const struct dtconfig_disk *d = &w->cfg.disks[i];
		struct vm_disk_config *c = &vc->disks[i];

		c->conn_fd = -1;
		if (!d->present)
			continue;
		c->present = true;
		snprintf(c->label, sizeof(c->label), "%s", d->label);
		snprintf(c->backend, sizeof(c->backend), "%s",
			 d->blkd ? SVC_NAME_BLKD : "vhost-user");
		if (d->blkd) {
			snprintf(c->sock_path, sizeof(c->sock_path),
				 "%s/%s/disk%u.sock", PARTITION_IPC_DIR,
				 SVC_NAME_BLKD, i);
		} else if (w->disk_fds[i] >= 0) {
			c->conn_fd = w->disk_fds[i];
			w->disk_fds[i] = -1; /* the VM's now */
		} else {
			log_warnx("disk %u: init passed no connection to its "
				  "vhost-user backend",
				  i);
			return -1;
		}
	}
	return 0;
}

/* Sandbox step 3, still privileged: the VM, its vCPUs or engines, the
 * sidecar region and the restored state. */
static int create_vm(void *arg)
{
	struct svcbase *sb = arg; /* the skeleton's sandbox context */
	struct vmw *w = sb->ctx;
	struct vm_config vc = { 0 };
	struct sidecar_config sc = { 0 };

	vc.accel = w->accel;
	if (console_init(&w->console, NULL, NULL) != 0)
		return -1;
	vc.n_vps = w->cfg.n_vps;
	vc.mem_size = w->cfg.mem_size;
	vc.hole_gpa = w->cfg.hole_gpa;
	vc.hole_size = w->cfg.hole_size;
	vc.console = &w->console;
	vc.coalesce_sinks = true;
	if (vmw_disks(w, &vc) != 0)
		return -1;
	if (vm_create(&w->vm, &vc, w->ram_fd) != 0)
		return -1;
	w->ram_fd = -1; /* the VM owns it now */
	if (w->cfg.sidecar_mask != 0) {
		sc.vp_mask = w->cfg.sidecar_mask;
		sc.log = w->cfg.sidecar_log;
		sc.hotplug_threshold = 100000;
		sc.region_fd = w->sidecar_fd;
		sc.thread_filter = true;
		sc.kvm = w->accel == &accel_kvm_ops;
		if (sidecar_create(&w->sidecar, &w->vm, &sc) != 0)
			return -1;
	}
	if (w->saved_fd >= 0) {
		restore_saved(w);
		close(w->saved_fd); /* read whole: not kept in the sandbox */
		w->saved_fd = -1;
	}
	w->vm_ns = util_now_ns();
	return 0;
}

/* vmworker's sandbox: its mode from its device tree config, /dev/kvm
 * (the last bind) only for kvm, the VM built at step 3 and the fds it
 * keeps. */
static void vmw_sandbox(struct svcbase *sb, struct sandbox_spec *spec)
{
	struct vmw *w = sb->ctx;
	static int keep[4 + GUEST_DISK_MAX];
	int *fds[4 + GUEST_DISK_MAX] = { &w->ram_fd, &w->sidecar_fd,
					 &w->saved_fd, &w->image_fd };
	size_t n_keep = 0;

	for (unsigned i = 0; i < GUEST_DISK_MAX; i++)
		fds[4 + i] = &w->disk_fds[i];

	if (sandbox_mode_parse(w->cfg.sandbox, &spec->mode) != 0)
		log_warnx("unknown sandbox mode '%s'", w->cfg.sandbox);
	if (w->accel != &accel_kvm_ops)
		spec->n_binds--;
	spec->flags = w->accel == &accel_kvm_ops ? SANDBOX_F_KVM : 0;
	/* The kept fds move to 4, 5, ... in this order. */
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			keep[n_keep] = *fds[i];
			*fds[i] = SANDBOX_FIRST_KEPT_FD + (int)n_keep++;
		}
	spec->keep_fds = keep;
	spec->n_keep_fds = n_keep;
	spec->before_privdrop = create_vm;
	close(w->dtb_fd);
	w->dtb_fd = -1;
}

/* Tells policy how the VM ended, until it hears it (policy may be
 * restarting). */
static void report_end(struct vmw *w)
{
	Parapet__VmEventNotice ev = PARAPET__VM_EVENT_NOTICE__INIT;
	int state = atomic_load(&w->vm.state);
	char reason[sizeof(w->vm.crash_reason)];
	ProtobufCMessage *reply;

	if (state != VM_STATE_POWEROFF && state != VM_STATE_CRASHED)
		return;
	ev.state = (char *)(uintptr_t)(state == VM_STATE_POWEROFF ? "poweroff"
								  : "crashed");
	ev.has_exit_value = ev.has_boot = 1;
	ev.exit_value = w->vm.exit_value;
	snprintf(reason, sizeof(reason), "%s", w->vm.crash_reason);
	ev.reason = reason; /* a reset clears the VM's */
	ev.boot = atomic_load(&w->boot);
	/* A reset (a new boot) makes the news stale. */
	while (!atomic_load(&w->stopping) && atomic_load(&w->boot) == ev.boot) {
		if (ipc_call(w->policy, "VmEvent", &ev.base, &reply) == 0) {
			ipc_free(reply);
			return;
		}
		usleep(200000);
	}
}

static void *vm_thread(void *arg)
{
	struct vmw *w = arg;

	vm_run(&w->vm, w->restored ? NULL : &w->cfg.bsp, 0);
	atomic_store(&w->vm_ran, true);
	/* Start and Reset wait for one of these. */
	futex_wake_all((uint32_t *)(uintptr_t)&w->vm_ran);
	futex_wake_all((uint32_t *)(uintptr_t)&w->vm.state);
	if (!atomic_load(&w->saved))
		report_end(w);
	return NULL;
}

int vmw_start_vm(struct vmw *w)
{
	int rc = 0;

	pthread_mutex_lock(&w->lock);
	if (!w->vm_started && !w->refused) {
		atomic_store(&w->vm_ran, false);
		rc = pthread_create(&w->vm_tid, NULL, vm_thread, w) == 0 ? 0
									 : -1;
		w->vm_started = rc == 0;
	}
	pthread_mutex_unlock(&w->lock);
	return rc;
}

/* A refused restore: policy hears of the crash without a Start. */
static void *refused_thread(void *arg)
{
	report_end(arg);
	return NULL;
}

/* The accelerator's library loads before the fds arrive: a standby
 * (init started it ahead of servicing) then tells init it has loaded and
 * waits, so the guest's blackout does not pay for the load (dlopen of
 * libunicorn: 5-20 ms). Errors are reported by the lookup that follows
 * the fds. */
static void preload_accel(void)
{
	char name[16], why[256];

	svcbase_dt_string("accel", name, sizeof(name));
	if (name[0] != '\0')
		(void)accel_lookup(name, why, sizeof(why));
	if (getenv("PARAPET_STANDBY") != NULL &&
	    supervise_loaded(SUPERVISE_FD, SVC_NAME_VMWORKER) != SUPERVISE_OK)
		log_warnx("standby: LOADED not sent");
}

/* The blackout of the servicing this instance continues, once its VM
 * runs (a moment after its thread starts); 0 when not restored. READY
 * waits for it: policy's servicing reads the state once after init's
 * Restart answer (READY) and must find the VM running. vm_run sets
 * resumed_ns, then the state, and wakes this wait. */
static uint64_t restored_blackout(struct vmw *w)
{
	while (w->restored && w->vm_started) {
		if (atomic_load(&w->vm.state) != VM_STATE_CREATED) {
			uint64_t resumed = __atomic_load_n(&w->vm.resumed_ns,
							   __ATOMIC_ACQUIRE);

			return resumed != 0 ? resumed - w->vm.paused_ns : 0;
		}
		vmw_wait_change(&w->vm.state, VM_STATE_CREATED, 0);
	}
	return 0;
}

/* Where a restored instance's blackout went, from the pause: its fds
 * came, its VM was built with the state, its endpoints were open, the
 * VM ran. */
static void log_stages(const struct vmw *w)
{
	uint64_t p = w->vm.paused_ns;
#define VMW_MS(t) ((t) > p ? (double)((t)-p) / 1e6 : 0.0)
	log_info("servicing stages: fds +%.3f, vm +%.3f, open +%.3f, "
		 "resumed +%.3f ms",
		 VMW_MS(w->fds_ns), VMW_MS(w->vm_ns), VMW_MS(w->open_ns),
		 VMW_MS(w->vm.resumed_ns));
#undef VMW_MS
}

static void shutdown_vm(struct vmw *w)
{
	atomic_store(&w->stopping, true);
	if (w->vm_started) {
		vm_stop(&w->vm);
		pthread_join(w->vm_tid, NULL);
	}
	vmw_ipc_close(w);
	if (w->has_sidecar)
		sidecar_destroy(&w->sidecar);
	vm_destroy(&w->vm);
	console_destroy(&w->console);
}

/* Privileged: the fds init sent (after a standby's LOADED), the
 * config of the boot device tree, the accelerator. */
static int vmw_init(struct svcbase *sb)
{
	struct vmw *w = sb->ctx;
	char why[256];

	w->ram_fd = w->sidecar_fd = w->dtb_fd = w->saved_fd = w->image_fd = -1;
	pthread_mutex_init(&w->lock, NULL);
	sb->sandbox_status = &w->sandbox;
	preload_accel();
	if (take_fds(w) != 0 || read_config(w) != 0)
		return -1;
	w->fds_ns = util_now_ns();
	/* Loaded before the sandbox: its root has no libraries. */
	w->accel = accel_lookup(w->cfg.accel, why, sizeof(why));
	if (w->accel == NULL) {
		log_warnx("accel %s: %s", w->cfg.accel, why);
		return -1;
	}
	return 0;
}

/* Served: policy hears of a refused state; a restored guest runs on at
 * once (the blackout ends here) and READY carries the blackout. */
static int vmw_start(struct svcbase *sb)
{
	struct vmw *w = sb->ctx;
	pthread_t tid;

	w->open_ns = util_now_ns();
	w->has_sidecar = w->cfg.sidecar_mask != 0;
	/* here, in the sandbox: the thread runs under its filter */
	if (vblk_watch_start(&w->vm) != 0)
		return -1;
	if (w->refused && pthread_create(&tid, NULL, refused_thread, w) == 0)
		pthread_detach(tid);
	if (w->restored && vmw_start_vm(w) != 0)
		log_warnx("cannot run the restored VM");
	sb->blackout_ns = restored_blackout(w);
	if (sb->blackout_ns != 0)
		log_stages(w);
	log_info("ready: %u VPs, %llu MiB, accel %s%s", w->cfg.n_vps,
		 (unsigned long long)(w->cfg.mem_size >> 20), w->cfg.accel,
		 w->restored ? ", restored" : "");
	return 0;
}

/* Servicing: the state is with init and the guest RAM stays in its
 * memfd; the next instance (a standby init handed the state) may run the
 * guest already, so go now (the listener closed already) and let the
 * kernel tear the VM down. The same once the guest powered off or
 * crashed (a power-off stops us then): no guest runs and nothing is left
 * to keep, and what vmw_fini would stop and free the exit does. */
static void vmw_stop(struct svcbase *sb, int sig)
{
	struct vmw *w = sb->ctx;
	int state = atomic_load(&w->vm.state);

	(void)sig;
	if (atomic_load(&w->saved) || state == VM_STATE_POWEROFF ||
	    state == VM_STATE_CRASHED)
		_exit(0);
}

static void vmw_fini(struct svcbase *sb)
{
	shutdown_vm(sb->ctx);
}

/* DESIGN.md §7: /dev/kvm besides the IPC directory (kvm only: the
 * sandbox hook drops it). */
static const struct sandbox_bind vmw_binds[] = {
	{ "/dev/kvm", "/dev/kvm", false, true },
};

static const struct svcbase_desc vmw_desc = {
	.name = SVC_NAME_VMWORKER,
	.binds = vmw_binds,
	.n_binds = 1,
	.methods = vmw_methods,
	.n_methods = VMW_N_METHODS,
	.init = vmw_init,
	.sandbox = vmw_sandbox,
	.open = vmw_ipc_open,
	.server = vmw_ipc_server,
	.start = vmw_start,
	.timer = vmw_takes_due,
	.stop = vmw_stop,
	.fini = vmw_fini,
};

int vmworker_service_main(void)
{
	static struct vmw w;
	static char *argv[] = { (char *)(uintptr_t)SVC_NAME_VMWORKER, NULL };

	/* main.c checked the arguments (none besides the options). */
	return svcbase_main(&vmw_desc, &w, 1, argv);
}
