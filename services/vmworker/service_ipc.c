/* vmworker's VmWorker endpoint: lifecycle for policy, the console stream
 * for hostcomm (offsets and acknowledgements), Inspect for diagd, and
 * Save for servicing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/registry.h"
#include "lib/svcbase.h"
#include "lib/caller.h"
#include "lib/futex.h"
#include "lib/log.h"
#include "lib/supervise.h"
#include "lib/util.h"
#include "policy.pb-c.h"
#include "services/vmworker/savestate.h"
#include "services/vmworker/service_int.h"
#include "vmworker.pb-c.h"

static const char *vmw_state(struct vmw *w)
{
	int st = atomic_load(&w->vm.state);

	if (!w->vm_started && st == VM_STATE_CREATED)
		return "created";
	if (st == VM_STATE_RUNNING)
		return atomic_load(&w->vm.pause_requested) ? "paused"
							   : "running";
	return vm_state_name(st);
}

static void fill_status(struct vmw *w, Parapet__VmStatus *s)
{
	uint64_t first;

	s->state = (char *)(uintptr_t)vmw_state(w);
	s->has_exit_value = 1;
	s->exit_value = w->vm.exit_value;
	s->crash_reason = w->vm.crash_reason;
	s->accel = (char *)(uintptr_t)w->vm.cfg.accel->name;
	s->has_vp_count = s->has_uptime_ns = s->has_restored = 1;
	s->vp_count = w->vm.cfg.n_vps;
	/* the VM's, not this instance's: servicing carries its start */
	s->uptime_ns = w->vm.start_ns ? util_now_ns() - w->vm.start_ns : 0;
	s->restored = w->restored;
	s->has_boot = 1;
	s->boot = atomic_load(&w->boot);
	first = __atomic_load_n(&w->vm.first_insn_ns, __ATOMIC_RELAXED);
	if (first != 0) { /* set by a VP thread */
		s->has_first_insn_ago_ns = 1;
		s->first_insn_ago_ns = util_now_ns() - first;
	}
	if (w->restored && w->vm.resumed_ns != 0) {
		s->has_blackout_ns = 1;
		s->blackout_ns = w->vm.resumed_ns - w->vm.paused_ns;
	}
}

#define VMW_START_WAIT_MS 10000

static int h_start(struct ipc_request *req, const ProtobufCMessage *in,
		   ProtobufCMessage *out, void *arg)
{
	struct vmw *w = arg;

	(void)in;
	if (vmw_start_vm(w) != 0) {
		ipc_request_set_error(req, "cannot start the VM thread");
		return IPC_ERR_HANDLER;
	}
	/* vm_run sets the state on its thread: report it as running (it
	 * wakes this wait; a VM that fails to start sets vm_ran). A loaded
	 * machine may take long to get there; "created" in the reply would
	 * read as a vmworker that lost its VM, so the bound is generous. */
	for (uint64_t until = util_now_ns() + VMW_START_WAIT_MS * 1000000ull;
	     atomic_load(&w->vm.state) == VM_STATE_CREATED && !w->refused &&
	     !atomic_load(&w->vm_ran) && util_now_ns() < until;)
		vmw_wait_change(&w->vm.state, VM_STATE_CREATED, until);
	fill_status(w, (Parapet__VmStatus *)out);
	return 0;
}

static int h_pause(struct ipc_request *req, const ProtobufCMessage *in,
		   ProtobufCMessage *out, void *arg)
{
	struct vmw *w = arg;

	(void)in;
	if (!w->vm_started || vm_pause(&w->vm) != 0) {
		ipc_request_set_error(req, "the VM is not running");
		return IPC_ERR_UNAVAILABLE;
	}
	fill_status(w, (Parapet__VmStatus *)out);
	return 0;
}

static int h_resume(struct ipc_request *req, const ProtobufCMessage *in,
		    ProtobufCMessage *out, void *arg)
{
	struct vmw *w = arg;

	(void)in;
	(void)req;
	if (w->vm_started)
		vm_resume(&w->vm);
	fill_status(w, (Parapet__VmStatus *)out);
	return 0;
}

static int h_status(struct ipc_request *req, const ProtobufCMessage *in,
		    ProtobufCMessage *out, void *arg)
{
	(void)req;
	(void)in;
	fill_status(arg, (Parapet__VmStatus *)out);
	return 0;
}

/* Reset: the VM (stopped first if it runs) back to its boot state; Start
 * runs it again. */
static int h_reset(struct ipc_request *req, const ProtobufCMessage *in,
		   ProtobufCMessage *out, void *arg)
{
	struct vmw *w = arg;
	uint64_t t0 = util_now_ns();
	char err[256];
	int rc;

	(void)in;
	pthread_mutex_lock(&w->lock);
	if (w->vm_started) {
		/* Not joined: the VM thread may still be telling policy how
		 * the VM ended (and policy may be waiting for this reset). */
		vm_stop(&w->vm);
		while (!atomic_load(&w->vm_ran))
			vmw_wait_change(&w->vm_ran, 0, 0);
		pthread_detach(w->vm_tid);
		w->vm_started = false;
	}
	rc = vm_reset(&w->vm, w->image_fd, err, sizeof(err));
	if (rc == 0) {
		w->restored = w->refused = false;
		atomic_fetch_add(&w->boot, 1);
	}
	pthread_mutex_unlock(&w->lock);
	if (rc != 0) {
		log_warnx("reset: %s", err);
		ipc_request_set_error(req, err);
		return IPC_ERR_UNAVAILABLE;
	}
	log_info("reset: the VM is back at its boot state (%.1f ms)",
		 (double)(util_now_ns() - t0) / 1e6);
	fill_status(w, (Parapet__VmStatus *)out);
	return 0;
}

/* Servicing: pause, save into a sealed memfd, hand it to init. */
static int h_save(struct ipc_request *req, const ProtobufCMessage *in,
		  ProtobufCMessage *out, void *arg)
{
	Parapet__SupervisorMsg msg = PARAPET__SUPERVISOR_MSG__INIT;
	const Parapet__VmSaveRequest *q = (const Parapet__VmSaveRequest *)in;
	Parapet__VmSaveReply *r = (Parapet__VmSaveReply *)out;
	struct version_range reader = { 1, 1 };
	struct vmw *w = arg;
	char why[200];
	uint32_t version;
	char name[] = "saved-state", service[] = SVC_NAME_VMWORKER;
	char *names[] = { name };
	uint8_t *buf;
	size_t len;
	int fd;

	if (q->has_reader_min && q->has_reader_max) {
		reader.min = q->reader_min;
		reader.max = q->reader_max;
	}
	/* before the guest pauses: a next vmworker this one cannot write
	 * for is refused while the guest runs on */
	if (savestate_pick_version(&reader, &version, why, sizeof(why)) != 0) {
		log_warnx("Save: %s", why);
		ipc_request_set_error(req, why);
		return IPC_ERR_INVAL;
	}
	if (!w->vm_started || vm_pause(&w->vm) != 0) {
		ipc_request_set_error(req, "the VM is not running");
		return IPC_ERR_UNAVAILABLE;
	}
	if (savestate_save_version(&w->vm, version, &buf, &len) != 0) {
		virtio_blk_resume(&w->vm);
		vm_resume(&w->vm);
		ipc_request_set_error(req, "saving the VM failed");
		return IPC_ERR_HANDLER;
	}
	fd = util_memfd_create("parapet-saved-state", len);
	if (fd < 0 || pwrite(fd, buf, len, 0) != (ssize_t)len) {
		free(buf);
		virtio_blk_resume(&w->vm);
		vm_resume(&w->vm);
		ipc_request_set_error(req, "no memfd for the saved state");
		return IPC_ERR_HANDLER;
	}
	free(buf);
	util_memfd_seal(fd, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
	msg.has_type = 1;
	msg.type = PARAPET__SUPERVISOR_MSG__TYPE__FDS;
	msg.service = service;
	msg.n_fd_names = 1;
	msg.fd_names = names;
	if (supervise_send(SUPERVISE_FD, &msg, &fd, 1) != SUPERVISE_OK) {
		close(fd);
		virtio_blk_resume(&w->vm);
		vm_resume(&w->vm);
		ipc_request_set_error(req, "init did not take the state");
		return IPC_ERR_HANDLER;
	}
	close(fd);
	atomic_store(&w->saved, true);
	r->has_size = r->has_paused_ns = 1;
	r->size = len;
	r->paused_ns = w->vm.paused_ns;
	r->has_format_version = 1;
	r->format_version = version;
	log_info("saved %zu bytes (format version %u, the next vmworker reads "
		 "%u to %u) for servicing (+%.3f ms after the pause); waiting "
		 "to be replaced",
		 len, version, reader.min, reader.max,
		 (double)(util_now_ns() - w->vm.paused_ns) / 1e6);
	return 0;
}

/* Fills a chunk from the oldest unacknowledged byte. */
static void take_fill(struct vmw *w, struct ipc_request *req,
		      Parapet__ConsoleChunk *c, uint32_t max)
{
	uint64_t offset = console_out_tail(&w->console);
	uint64_t ready = console_out_head(&w->console) - offset;
	/* What is there now, not max: an 8 KiB buffer per answer would
	 * overflow the request's arena into a block of its own. */
	uint32_t want = ready < max ? (uint32_t)ready : max;
	uint8_t *data = ipc_request_alloc(req, want ? want : 1);
	size_t n =
	    data ? console_out_peek(&w->console, data, want, &offset) : 0;

	if (n > 0)
		w->console_handed = true;
	c->has_offset = c->has_data = 1;
	c->offset = offset;
	c->data.data = data;
	c->data.len = n;
}

/* Bytes gather this long before a waiting ConsoleTake is answered, so
 * a line goes in one chunk rather than byte by byte. */
#define VMW_TAKE_BATCH_NS 1000000ull

/* Whether bytes wait past the ack; with takes waiting and none, the
 * console's next byte kicks the loop (armed before the second look). */
static bool takes_data(struct vmw *w)
{
	bool data =
	    console_out_head(&w->console) > console_out_tail(&w->console);

	if (!data && w->n_takes > 0) {
		console_out_arm(&w->console);
		data = console_out_head(&w->console) >
		       console_out_tail(&w->console);
	}
	return data;
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return a == 0 || b < a ? b : a;
}

uint64_t vmw_takes_due(struct svcbase *sb, uint64_t now)
{
	struct vmw *w = sb->ctx;
	uint64_t next = 0;
	unsigned i = 0;
	bool data;

	pthread_mutex_lock(&w->lock);
	data = takes_data(w);
	if (!data || w->n_takes == 0)
		w->data_at = 0;
	else if (w->data_at == 0)
		w->data_at = now;
	while (i < w->n_takes) {
		struct vmw_take *t = &w->takes[i];

		if (!(data && now >= w->data_at + VMW_TAKE_BATCH_NS) &&
		    now < t->deadline_ns) {
			next = earliest(next, t->deadline_ns);
			if (data)
				next = earliest(next,
						w->data_at + VMW_TAKE_BATCH_NS);
			i++;
			continue;
		}
		take_fill(w, t->req, (Parapet__ConsoleChunk *)t->out, t->max);
		ipc_request_finish(t->req, 0);
		*t = w->takes[--w->n_takes];
	}
	if (w->n_takes == 0)
		w->data_at = 0;
	pthread_mutex_unlock(&w->lock);
	return next;
}

static int h_console_take(struct ipc_request *req, const ProtobufCMessage *in,
			  ProtobufCMessage *out, void *arg)
{
	const Parapet__ConsoleTakeRequest *r =
	    (const Parapet__ConsoleTakeRequest *)in;
	struct vmw *w = arg;
	uint32_t max = r->max_bytes ? r->max_bytes : VMW_CONSOLE_MAX;
	uint32_t wait = r->wait_ms > 1000 ? 1000 : r->wait_ms;

	if (max > VMW_CONSOLE_MAX)
		max = VMW_CONSOLE_MAX;
	/* The host holds bytes of a vmworker that died (kill -9, crash):
	 * an ack before this instance handed out any byte, or past its
	 * head, counts theirs. This one continues their numbering, or the
	 * host would drop its first bytes as already seen (however many
	 * the guest wrote before hostcomm came back). */
	if (r->has_ack && !w->restored &&
	    (!w->console_handed || r->ack > console_out_head(&w->console)) &&
	    console_out_rebase(&w->console, r->ack))
		log_info("console: continuing the host's stream at byte %llu",
			 (unsigned long long)r->ack);
	if (r->has_ack)
		console_out_ack(&w->console, r->ack);
	if (wait == 0 ||
	    console_out_head(&w->console) > console_out_tail(&w->console)) {
		take_fill(w, req, (Parapet__ConsoleChunk *)out, max);
		return 0;
	}
	pthread_mutex_lock(&w->lock);
	if (w->n_takes == VMW_MAX_TAKES) {
		pthread_mutex_unlock(&w->lock);
		take_fill(w, req, (Parapet__ConsoleChunk *)out, max);
		return 0;
	}
	w->takes[w->n_takes++] =
	    (struct vmw_take){ req, out, util_deadline_ns(wait), max };
	pthread_mutex_unlock(&w->lock);
	evqueue_kick(&w->sb->queue); /* its deadline joins the loop's */
	return IPC_ASYNC;
}

static int h_console_input(struct ipc_request *req, const ProtobufCMessage *in,
			   ProtobufCMessage *out, void *arg)
{
	const Parapet__ConsoleInputRequest *r =
	    (const Parapet__ConsoleInputRequest *)in;
	Parapet__ConsoleInputReply *o = (Parapet__ConsoleInputReply *)out;
	struct vmw *w = arg;

	(void)req;
	o->has_accepted = 1;
	o->accepted =
	    (uint32_t)console_input(&w->console, r->data.data, r->data.len);
	return 0;
}

static void inspect_vp(struct vmw *w, struct ipc_request *req, unsigned i,
		       Parapet__VpInspect *v)
{
	static const char *const states[] = { "not-started", "running",
					      "halted", "stopped" };
	const struct vp *vp = &w->vm.vps[i];
	const struct vp_counters *c = &vp->counters;
	const struct devices *d = &w->vm.devs;
	Parapet__DeviceExits *dev;
	Parapet__DeviceExits **devp;
	unsigned k;

	parapet__vp_inspect__init(v);
	v->has_index = v->has_sidecar = v->has_hotplugged = 1;
	v->index = i;
	v->state = (char *)(uintptr_t)states[atomic_load(&vp->state) & 3];
	v->sidecar = atomic_load(&vp->on_sidecar);
	if (w->has_sidecar) {
		v->hotplugged =
		    atomic_load(&w->sidecar.hotplugged) & (1ull << i);
		v->sidecar_status = (char *)(uintptr_t)sidecar_status_name(
		    w->sidecar.ctl->status[i]);
		v->has_sidecar_exits = 1;
		v->sidecar_exits = w->sidecar.intercepts[i];
	}
#define COUNT(f, v_) (v->has_##f = 1, v->f = (v_))
	vp_exit_totals(vp, &v->exits_pio, &v->exits_mmio);
	v->has_exits_pio = v->has_exits_mmio = 1;
	COUNT(exits_unknown, c->exits_unknown_pio + c->exits_unknown_mmio);
	COUNT(vtl2_refused, c->vtl2_refused);
	COUNT(halts, c->halts);
	COUNT(runs, c->runs);
	COUNT(samples_guest, vp->samples_guest);
	COUNT(samples_handler, vp->samples_handler);
#undef COUNT
	dev = ipc_request_alloc(req, d->n_entries * sizeof(*dev));
	devp = ipc_request_alloc(req, d->n_entries * sizeof(*devp));
	if (dev == NULL || devp == NULL)
		return;
	for (k = 0; k < d->n_entries; k++) {
		parapet__device_exits__init(&dev[k]);
		dev[k].name = (char *)(uintptr_t)d->entries[k].ops->name;
		dev[k].has_exits = 1;
		dev[k].exits = c->dev_exits[k];
		devp[k] = &dev[k];
	}
	v->n_devices = d->n_entries;
	v->devices = devp;
}

/* The disks' transports (vmworker's view; blkd counts bytes). */
static int inspect_disks(struct vmw *w, struct ipc_request *req,
			 Parapet__VmInspectReply *r)
{
	Parapet__DiskInspect *d =
	    ipc_request_alloc(req, GUEST_DISK_MAX * sizeof(*d));
	Parapet__DiskInspect **dp =
	    ipc_request_alloc(req, GUEST_DISK_MAX * sizeof(*dp));
	struct vblk_snapshot s;

	if (d == NULL || dp == NULL)
		return IPC_ERR_NOMEM;
	for (unsigned i = 0; i < GUEST_DISK_MAX; i++) {
		struct vblk *b = virtio_blk_get(&w->vm, i);
		Parapet__DiskInspect *o = &d[r->n_disks];
		char *err;

		if (b == NULL)
			continue;
		virtio_blk_snapshot(b, &w->vm, &s);
		parapet__disk_inspect__init(o);
		o->has_index = o->has_connected = o->has_offered_features = 1;
		o->has_negotiated_features = o->has_status = o->has_running = 1;
		o->has_queue_size = o->has_notifies = o->has_used_index = 1;
		o->has_in_flight = o->has_capacity_sectors = 1;
		o->index = i;
		o->backend = (char *)(uintptr_t)s.cfg->backend;
		o->label = (char *)(uintptr_t)s.cfg->label;
		o->connected = s.connected;
		o->offered_features = s.offered;
		o->negotiated_features = s.negotiated;
		o->status = s.status;
		o->running = s.running;
		o->queue_size = s.queue_size;
		o->notifies = s.notifies;
		o->has_notifies_idle = 1;
		o->notifies_idle = s.notifies_idle;
		o->has_notifies_dropped = o->has_driver_errors = 1;
		o->notifies_dropped = s.notifies_dropped;
		o->driver_errors = s.driver_errors;
		o->used_index = s.used_idx;
		o->in_flight = (uint16_t)(s.avail_idx - s.used_idx);
		o->capacity_sectors = s.capacity;
		if (s.error[0] != '\0' &&
		    (err = ipc_request_alloc(req, strlen(s.error) + 1)) !=
			NULL) {
			memcpy(err, s.error, strlen(s.error) + 1);
			o->error = err;
		}
		dp[r->n_disks++] = o;
	}
	r->disks = dp;
	return 0;
}

static int h_inspect(struct ipc_request *req, const ProtobufCMessage *in,
		     ProtobufCMessage *out, void *arg)
{
	Parapet__VmInspectReply *r = (Parapet__VmInspectReply *)out;
	struct vmw *w = arg;
	unsigned n = w->vm.cfg.n_vps, i;
	Parapet__VmStatus *st = ipc_request_alloc(req, sizeof(*st));
	Parapet__VpInspect *vps = ipc_request_alloc(req, n * sizeof(*vps));
	Parapet__VpInspect **vpp = ipc_request_alloc(req, n * sizeof(*vpp));

	(void)in;
	if (st == NULL || vps == NULL || vpp == NULL)
		return IPC_ERR_NOMEM;
	parapet__vm_status__init(st);
	fill_status(w, st);
	r->status = st;
	for (i = 0; i < n; i++) {
		inspect_vp(w, req, i, &vps[i]);
		vpp[i] = &vps[i];
	}
	r->n_vps = n;
	r->vps = vpp;
	r->has_console_buffered = r->has_console_offset = 1;
	r->has_unknown_accesses = r->has_mem_size = 1;
	r->console_offset = console_out_head(&w->console);
	r->console_buffered = r->console_offset - console_out_tail(&w->console);
	r->unknown_accesses = atomic_load(&w->vm.devs.unknown_total);
	r->mem_size = w->vm.cfg.mem_size;
	return inspect_disks(w, req, r);
}

const struct ipc_method vmw_methods[VMW_N_METHODS] = {
	/* policy drives the VM; hostcomm carries the console (and only
	 * it); diagd inspects. */
	{ "Start", h_start, CALLER_POLICY, 64 },
	{ "Pause", h_pause, CALLER_POLICY, 64 },
	{ "Resume", h_resume, CALLER_POLICY, 64 },
	{ "Status", h_status, CALLER_POLICY, 64 },
	{ "Save", h_save, CALLER_POLICY, 64 },
	{ "Reset", h_reset, CALLER_POLICY, 64 },
	{ "ConsoleTake", h_console_take, CALLER_HOSTCOMM, 64 },
	{ "ConsoleInput", h_console_input, CALLER_HOSTCOMM,
	  VMW_INPUT_MAX + 64 },
	{ "Inspect", h_inspect, CALLER_DIAGD, 64 },
};
_Static_assert(sizeof(vmw_methods) / sizeof(vmw_methods[0]) == VMW_N_METHODS,
	       "VMW_N_METHODS counts the methods");

struct ipc_server *vmw_ipc_server(struct svcbase *sb,
				  struct ipc_server_config *cfg)
{
	struct vmw *w = sb->ctx;

	cfg->recv_max = 64 * 1024;
	w->server = ipc_server_open(cfg);
	return w->server;
}

int vmw_ipc_open(struct svcbase *sb)
{
	struct vmw *w = sb->ctx;

	w->sb = sb;
	console_out_notify(&w->console, &sb->queue);
	/* VmEvent only, which policy answers once queued and which is sent
	 * again until answered: a short bound, since vmworker's exit waits
	 * for the call (a policy stopped before the event came answers
	 * nothing). */
	w->policy =
	    svcbase_client(SVC_NAME_VMWORKER, SVC_NAME_POLICY, NULL,
			   &parapet__policy__descriptor, 250, sb->trace);
	return w->policy != NULL ? 0 : -1;
}

/* The server and the trace tap are the skeleton's to close. */
void vmw_ipc_close(struct vmw *w)
{
	atomic_store(&w->stopping, true);
	if (w->policy)
		ipc_client_close(w->policy);
}

void vmw_wait_change(const void *word, uint32_t old, uint64_t until)
{
	uint64_t now = util_now_ns();

	if (until != 0 && now >= until)
		return;
	futex_wait((uint32_t *)(uintptr_t)word, old,
		   until != 0 ? until - now : 0);
}
