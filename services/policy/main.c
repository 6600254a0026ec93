/* parapet-policy (OpenHCL's openvmm_hcl): config discovery from the boot
 * device tree, the VM lifecycle state machine, VM events from vmworker
 * and commands from the host (through hostcomm) and diagd. Handlers on
 * nng's threads only queue; one worker thread runs the queue in order. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hostcomm.pb-c.h"
#include "init.pb-c.h"
#include "lib/caller.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/registry.h"
#include "lib/supervise.h"
#include "lib/svcbase.h"
#include "lib/util.h"
#include "sandbox/sandbox.h"
#include "services/policy/policy.h"
#include "vmworker.pb-c.h"

#define POLICY_SOCK  PARTITION_IPC_DIR "/policy/policy.sock"
#define SYNC_IDLE_MS 1000 /* vmworker Status while the VM runs */
#define SYNC_BOOT_MS 20	  /* ... while waiting for it to come up */

enum work_kind { WORK_EVENT, WORK_COMMAND };

struct policy_work {
	enum work_kind kind;
	struct ipc_request *req;
	const ProtobufCMessage *in;
	ProtobufCMessage *out;
	struct policy_work *next;
};

static struct policy the_policy = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.state = PS_STARTING,
};

/* SIGTERM or SIGINT (blocked in every thread, taken here). Nothing to
 * save: a restarted instance rebuilds its state from its peers
 * (at-least-once delivery), so stop at once, listener first (lib/ipc.h). */
static void *policy_signal_loop(void *arg)
{
	struct policy *p = arg;

	util_wait_stop_signal();
	ipc_server_stop_listening(p->srv);
	_exit(0);
	return NULL;
}

static int policy_enqueue(struct ipc_request *req, const ProtobufCMessage *in,
			  ProtobufCMessage *out, void *arg, enum work_kind kind)
{
	struct policy *p = arg;
	struct policy_work *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return IPC_ERR_NOMEM;
	*w = (struct policy_work){ kind, req, in, out, NULL };
	pthread_mutex_lock(&p->lock);
	*p->tail = w;
	p->tail = &w->next;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return IPC_ASYNC;
}

static int on_vm_event(struct ipc_request *req, const ProtobufCMessage *in,
		       ProtobufCMessage *out, void *arg)
{
	return policy_enqueue(req, in, out, arg, WORK_EVENT);
}

static int on_command(struct ipc_request *req, const ProtobufCMessage *in,
		      ProtobufCMessage *out, void *arg)
{
	return policy_enqueue(req, in, out, arg, WORK_COMMAND);
}

static int on_status(struct ipc_request *req, const ProtobufCMessage *in,
		     ProtobufCMessage *out, void *arg)
{
	struct policy *p = arg;
	Parapet__PolicyReply *r = (Parapet__PolicyReply *)out;

	(void)req;
	(void)in;
	pthread_mutex_lock(&p->lock);
	r->state = (char *)(uintptr_t)pstate_name(p->state);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static const struct ipc_method policy_methods[] = {
	/* vmworker reports its VM's events; host commands come through
	 * hostcomm, the owner's through diagd. */
	{ "VmEvent", on_vm_event, CALLER_VMWORKER, 1024 },
	{ "Command", on_command, CALLER_HOSTCOMM | CALLER_DIAGD, 1024 },
	{ "Status", on_status, CALLER_HOSTCOMM | CALLER_DIAGD, 64 },
};

/* /parapet/on-crash of the boot device tree (poweroff by default). */
static void policy_config(struct policy *p)
{
	char v[32] = "";
	int fd = open(PARTITION_DT_BASE_PATH "/parapet/on-crash",
		      O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, v, sizeof(v) - 1) : -1;

	if (fd >= 0)
		close(fd);
	v[n > 0 ? n : 0] = '\0';
	p->reboot_on_crash = !strcmp(v, "reboot");
	log_info("on-crash=%s", p->reboot_on_crash ? "reboot" : "poweroff");
}

static void policy_run_event(struct policy *p, struct policy_work *w)
{
	const Parapet__VmEventNotice *ev =
	    (const Parapet__VmEventNotice *)w->in;
	char state[16], reason[256];
	int value = ev->exit_value;
	bool stale = ev->has_boot && ev->boot < p->vm_boot;

	/* Heard: vmworker's VM thread waits for this answer, and a reboot
	 * (VmWorker.Reset) waits for that thread. */
	snprintf(state, sizeof(state), "%s", ev->state ? ev->state : "crashed");
	snprintf(reason, sizeof(reason), "%s", ev->reason ? ev->reason : "");
	ipc_request_finish(w->req, 0);
	if (stale) {
		log_info("VM event '%s' of an earlier boot: already handled",
			 state);
		return;
	}
	policy_vm_ended(p, state, value, reason);
}

static void policy_run_command(struct policy *p, struct policy_work *w)
{
	Parapet__VmStatus *vm = NULL;
	const Parapet__PolicyCommand *cmd =
	    (const Parapet__PolicyCommand *)w->in;
	int rc =
	    policy_command(p, w->req, cmd, (Parapet__PolicyReply *)w->out, &vm);

	log_info("command %s: %s", cmd->command ? cmd->command : "?",
		 rc ? ipc_strerror(rc) : "ok");
	ipc_request_finish(w->req, rc); /* packs the reply now */
	if (vm)
		ipc_free(&vm->base);
	if (p->poweroff_pending) {
		p->poweroff_pending = false;
		/* stop the guest first, so the console can be drained */
		policy_pause_vm(p);
		policy_finish_and_poweroff(p, "poweroff", 0, p->poweroff_reason,
					   p->poweroff_status);
	}
}

static struct policy_work *policy_next_work(struct policy *p, int wait_ms)
{
	struct policy_work *w;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)wait_ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&p->lock);
	if (p->head == NULL)
		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
	w = p->head;
	if (w != NULL && (p->head = w->next) == NULL)
		p->tail = &p->head;
	pthread_mutex_unlock(&p->lock);
	return w;
}

static void policy_loop(struct policy *p)
{
	policy_sync(p); /* at once: Status waits for vmworker to listen */
	for (;;) {
		bool booting = !p->vm_seen || p->state == PS_STARTING;
		struct policy_work *w =
		    policy_next_work(p, booting ? SYNC_BOOT_MS : SYNC_IDLE_MS);

		if (w == NULL) {
			if (p->state != PS_STOPPED)
				policy_sync(p);
			continue;
		}
		if (w->kind == WORK_EVENT)
			policy_run_event(p, w);
		else
			policy_run_command(p, w);
		free(w);
	}
}

static int policy_open(struct policy *p)
{
	static const struct ipc_listen listen = { POLICY_SOCK, 0, 0660 };
	struct ipc_peer_uid uids[CALLER_UIDS_MAX];
	struct ipc_server_config cfg = {
		.name = SVC_NAME_POLICY,
		.listen = &listen,
		.n_listen = 1,
		.uids = uids,
		.n_uids = caller_peer_uids(uids),
		.service = &parapet__policy__descriptor,
		.methods = policy_methods,
		.n_methods = sizeof(policy_methods) / sizeof(policy_methods[0]),
		.arg = p,
		.held = 1, /* served once the sandbox is whole */
	};

	p->trace = svcbase_trace(SVC_NAME_POLICY);
	cfg.trace = p->trace;
	p->vm =
	    svcbase_client(SVC_NAME_POLICY, SVC_NAME_VMWORKER, NULL,
			   &parapet__vm_worker__descriptor, 30000, p->trace);
	p->vm_quick =
	    svcbase_client(SVC_NAME_POLICY, SVC_NAME_VMWORKER, NULL,
			   &parapet__vm_worker__descriptor, 500, p->trace);
	/* vmworker restarts (servicing); its methods may run twice. */
	if (p->vm)
		ipc_client_set_resend(p->vm, 1000);
	if (p->vm_quick)
		ipc_client_set_resend(p->vm_quick, 250);
	p->init =
	    svcbase_client(SVC_NAME_POLICY, "init", NULL,
			   &parapet__init_control__descriptor, 30000, p->trace);
	p->hostcomm =
	    svcbase_client(SVC_NAME_POLICY, SVC_NAME_HOSTCOMM, NULL,
			   &parapet__host_comm__descriptor, 15000, p->trace);
	p->srv = ipc_server_open(&cfg);
	return p->vm && p->vm_quick && p->init && p->hostcomm && p->srv ? 0
									: -1;
}

/* Sandbox step 8: nng starts its threads here. */
static int policy_open_step(void *ctx)
{
	return policy_open(ctx);
}

/* DESIGN.md §7: policy sees the IPC directory and the boot device tree. */
static const struct sandbox_bind policy_binds[] = {
	{ "/sys/firmware", "/sys/firmware", true, false },
};

int main(int argc, char **argv)
{
	struct policy *p = &the_policy;
	pthread_condattr_t ca;
	pthread_t sig;
	sigset_t set;
	int fd;

	log_init(SVC_NAME_POLICY);
	if (svcbase_no_args(argc, argv) != 0)
		return PARTITION_EXIT_SETUP;
	signal(SIGPIPE, SIG_IGN); /* a peer gone mid-write is an error return */
	/* before nng starts its threads: they inherit the mask */
	util_stop_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	p->tail = &p->head;
	fd = svcbase_take_fd(NULL, 50); /* the boot dtb: sysfs has it too */
	if (fd >= 0)
		close(fd);
	policy_config(p);
	if (svcbase_sandbox(SVC_NAME_POLICY, SANDBOX_PROFILE_POLICY,
			    policy_binds, 1, policy_open_step, p) != 0) {
		log_warnx("cannot open its endpoints");
		return PARTITION_EXIT_SETUP;
	}
	if (pthread_create(&sig, NULL, policy_signal_loop, p) != 0) {
		log_warnx("cannot start its signal thread");
		return PARTITION_EXIT_SETUP;
	}
	ipc_server_serve(p->srv);
	supervise_ready(SUPERVISE_FD, SVC_NAME_POLICY);
	policy_loop(p);
	ipc_server_close(p->srv);
	ipc_client_close(p->vm);
	ipc_client_close(p->init);
	ipc_client_close(p->hostcomm);
	ipc_trace_close(p->trace);
	return 0;
}
