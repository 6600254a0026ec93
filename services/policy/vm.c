/* What parapet-policy does for each lifecycle event and command: the
 * calls to vmworker (Start, Pause, Resume, Reset, Save), hostcomm
 * (Finish) and init (Restart, Poweroff), driven by the state table. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostchan.pb-c.h"
#include "hostcomm.pb-c.h"
#include "init.pb-c.h"
#include "lib/caller.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/registry.h"
#include "lib/util.h"
#include "services/policy/policy.h"
#include "vmworker.pb-c.h"

#define POLICY_REBOOT_MAX	3
#define POLICY_REBOOT_WINDOW_MS 60000u
#define STR_(x)			#x
#define STR(x)			STR_(x)

void policy_set_state(struct policy *p, enum pstate s)
{
	pthread_mutex_lock(&p->lock);
	if (p->state != s)
		log_info("VM %s -> %s", pstate_name(p->state), pstate_name(s));
	p->state = s;
	pthread_mutex_unlock(&p->lock);
}

static enum pstate policy_state(struct policy *p)
{
	enum pstate s;

	pthread_mutex_lock(&p->lock);
	s = p->state;
	pthread_mutex_unlock(&p->lock);
	return s;
}

/* A vmworker call with an empty request of the method's own input type
 * (also for methods this build's proto may lack, such as Reset), on
 * client c. */
static int policy_vm_call_on(struct ipc_client *c, const char *method,
			     Parapet__VmStatus **st_out)
{
	const ProtobufCMethodDescriptor *m =
	    protobuf_c_service_descriptor_get_method_by_name(
		&parapet__vm_worker__descriptor, method);
	ProtobufCMessage *req, *reply = NULL;
	int rc;

	if (m == NULL)
		return IPC_ERR_UNKNOWN_METHOD;
	req = calloc(1, m->input->sizeof_message);
	if (req == NULL)
		return IPC_ERR_NOMEM;
	protobuf_c_message_init(m->input, req);
	rc = ipc_call(c, method, req, &reply);
	free(req);
	if (rc == 0 && st_out != NULL &&
	    reply->descriptor == &parapet__vm_status__descriptor)
		*st_out = (Parapet__VmStatus *)reply;
	else if (reply != NULL)
		ipc_free(reply);
	return rc;
}

/* Status has the short timeout; the other methods the long one. */
static int policy_vm_call(struct policy *p, const char *method,
			  Parapet__VmStatus **st_out)
{
	return policy_vm_call_on(strcmp(method, "Status") ? p->vm : p->vm_quick,
				 method, st_out);
}

void policy_pause_vm(struct policy *p)
{
	int rc = policy_vm_call(p, "Pause", NULL);

	if (rc != 0)
		log_warnx("VmWorker.Pause before power-off: %s",
			  ipc_strerror(rc));
}

static int policy_start_vm(struct policy *p)
{
	Parapet__VmStatus *st = NULL;
	int rc = policy_vm_call(p, "Start", &st);

	if (rc != 0) {
		log_warnx("VmWorker.Start: %s", ipc_strerror(rc));
		return rc;
	}
	log_info("VM started (vmworker: %s)", st ? st->state : "?");
	policy_note_boot(p, st);
	policy_set_state(p, pstate_next(PS_STARTING, PE_STARTED));
	if (st)
		ipc_free(&st->base);
	return 0;
}

static void policy_poweroff_call(struct policy *p, int status,
				 const char *reason, bool delivered);

/* vmworker does not answer: when init says it failed for good (or the
 * manifest has none), nothing can run the guest: power off with 125.
 * Asked at most every 500 ms. */
static void policy_check_vmworker(struct policy *p)
{
	static uint64_t next;
	Parapet__PsRequest q = PARAPET__PS_REQUEST__INIT;
	Parapet__PsReply *ps = NULL;
	const char *why = "the manifest has no vmworker";
	char reason[160];
	uint64_t now = util_now_ns();

	if (now < next || policy_state(p) == PS_STOPPED)
		return;
	next = now + 500000000ull;
	if (ipc_call(p->init, "Ps", &q.base, (ProtobufCMessage **)&ps) != 0)
		return;
	for (size_t i = 0; i < ps->n_services; i++) {
		const Parapet__ServiceStatus *s = ps->services[i];

		if (s->name && !strcmp(s->name, SVC_NAME_VMWORKER))
			why = s->state && !strcmp(s->state, "failed")
				  ? s->last_exit
				  : NULL;
	}
	if (why != NULL) {
		snprintf(reason, sizeof(reason),
			 "vmworker failed (%s): nothing can run the guest",
			 why);
		log_warnx("%s", reason);
		policy_set_state(p, PS_STOPPED);
		policy_poweroff_call(p, PARTITION_EXIT_SETUP, reason, false);
	}
	ipc_free(&ps->base);
}

/* The VM's boot count from a status: events of older boots are stale. */
void policy_note_boot(struct policy *p, const Parapet__VmStatus *st)
{
	if (st != NULL && st->has_boot && st->boot > p->vm_boot)
		p->vm_boot = st->boot;
}

int policy_sync(struct policy *p)
{
	Parapet__VmStatus *st = NULL;
	enum pstate cur = policy_state(p), vm;
	int rc = 0;

	if (policy_vm_call(p, "Status", &st) != 0 || st == NULL) {
		policy_check_vmworker(p);
		return -1;
	}
	vm = pstate_from_vm(st->state);
	policy_note_boot(p, st);
	if (!p->vm_seen)
		log_info("vmworker: VM %s", st->state ? st->state : "?");
	p->vm_seen = true;
	if (vm == PS_STARTING && (cur == PS_RUNNING || cur == PS_PAUSED))
		policy_vm_ended(p, "crashed", 0,
				"vmworker restarted without its VM state");
	else if (vm == PS_STARTING && cur == PS_STARTING)
		rc = policy_start_vm(p) == 0 ? 0 : -1;
	else if (vm == PS_STOPPED || vm == PS_CRASHED)
		policy_vm_ended(p, vm == PS_CRASHED ? "crashed" : "poweroff",
				st->exit_value,
				st->crash_reason ? st->crash_reason : "");
	else if (vm != PS_INVALID && cur == PS_STARTING)
		policy_set_state(p, vm); /* a restarted policy adopts it */
	ipc_free(&st->base);
	return rc;
}

/* delivered: the host has the console and the guest's event, so init
 * may stop vmworker with the other services. */
static void policy_poweroff_call(struct policy *p, int status,
				 const char *reason, bool delivered)
{
	Parapet__PoweroffRequest req = PARAPET__POWEROFF_REQUEST__INIT;
	ProtobufCMessage *reply = NULL;
	int rc;

	req.has_status = 1;
	req.status = status;
	req.reason = (char *)(uintptr_t)reason;
	req.has_delivered = 1;
	req.delivered = delivered;
	for (int i = 0; i < 3; i++) {
		rc = ipc_call(p->init, "Poweroff", &req.base, &reply);
		if (rc == 0)
			break;
		log_warnx("InitControl.Poweroff: %s", ipc_strerror(rc));
	}
	if (reply)
		ipc_free(reply);
}

void policy_finish_and_poweroff(struct policy *p, const char *state, int value,
				const char *reason, int status)
{
	Parapet__GuestEvent ev = PARAPET__GUEST_EVENT__INIT;
	Parapet__FinishReply *reply = NULL;
	bool delivered;
	int rc;

	ev.state = (char *)(uintptr_t)state;
	ev.has_exit_value = 1;
	ev.exit_value = value;
	ev.reason = (char *)(uintptr_t)reason;
	rc = ipc_call(p->hostcomm, "Finish", &ev.base,
		      (ProtobufCMessage **)&reply);
	if (rc != 0)
		log_warnx("HostComm.Finish: %s (powering off anyway)",
			  ipc_strerror(rc));
	delivered = reply != NULL && reply->has_delivered && reply->delivered;
	if (reply)
		ipc_free(&reply->base);
	log_info("power-off: status %d (%s)", status, reason);
	policy_poweroff_call(p, status, reason, delivered);
}

/* Reset then Start (on-crash=reboot, or the host's reset); 0 when the VM
 * runs again. */
static int policy_reboot(struct policy *p)
{
	Parapet__VmStatus *st = NULL;
	int rc = policy_vm_call(p, "Reset", &st);

	if (rc != 0) {
		log_warnx("reboot: VmWorker.Reset: %s", ipc_last_error()[0]
							    ? ipc_last_error()
							    : ipc_strerror(rc));
		return rc;
	}
	policy_note_boot(p, st);
	if (st != NULL)
		ipc_free(&st->base);
	policy_set_state(p, PS_STARTING);
	return policy_start_vm(p);
}

/* on-crash=reboot, but a guest that crashes again and again is powered
 * off: at most POLICY_REBOOT_MAX reboots within POLICY_REBOOT_WINDOW_MS. */
static bool policy_may_reboot(struct policy *p)
{
	uint64_t now = util_now_ns();

	if (now - p->reboot_window_ns >
	    POLICY_REBOOT_WINDOW_MS * UTIL_NS_PER_MS) {
		p->reboot_window_ns = now;
		p->reboots = 0;
	}
	if (p->reboots >= POLICY_REBOOT_MAX) {
		log_warnx("on-crash=reboot: %u reboots within %u s; powering "
			  "off",
			  p->reboots, POLICY_REBOOT_WINDOW_MS / 1000);
		return false;
	}
	p->reboots++;
	log_info("on-crash=reboot: rebooting (%u of at most %u within %u s)",
		 p->reboots, POLICY_REBOOT_MAX, POLICY_REBOOT_WINDOW_MS / 1000);
	return true;
}

int policy_vm_ended(struct policy *p, const char *state, int value,
		    const char *reason)
{
	enum pstate cur = policy_state(p);
	bool crash = !strcmp(state, "crashed");
	char why[300];

	if (cur == PS_STOPPED)
		return 0; /* a re-sent event: handled already */
	if (crash) {
		log_warnx("guest crashed: %s", reason);
		policy_set_state(p, PS_CRASHED);
		if (p->reboot_on_crash && policy_may_reboot(p) &&
		    policy_reboot(p) == 0)
			return 0;
		policy_set_state(p, PS_STOPPED);
		snprintf(why, sizeof(why), "guest crashed: %s", reason);
		policy_finish_and_poweroff(p, state, value, why,
					   PARTITION_EXIT_CRASH);
		return 0;
	}
	policy_set_state(p, PS_STOPPED);
	if (value >= PARTITION_EXIT_CRASH)
		snprintf(why, sizeof(why), "guest exit value %d", value);
	else
		snprintf(why, sizeof(why), "guest powered off (%d)", value);
	policy_finish_and_poweroff(
	    p, state, value, why,
	    value >= PARTITION_EXIT_CRASH ? PARTITION_EXIT_BIG_VALUE : value);
	return 0;
}

/* Servicing of the same binary: init starts the next vmworker now, which
 * loads while the guest still runs; the restart after the save takes it
 * over. Without it (an error) servicing works the same, only slower. */
static void policy_start_standby(struct policy *p)
{
	Parapet__ServiceRef ref = PARAPET__SERVICE_REF__INIT;
	ProtobufCMessage *reply = NULL;
	int rc;

	ref.name = (char *)(uintptr_t)SVC_NAME_VMWORKER;
	ref.has_standby = ref.standby = 1;
	rc = ipc_call(p->init, "Restart", &ref.base, &reply);
	if (rc != 0)
		log_warnx("servicing: no standby vmworker: %s",
			  ipc_last_error()[0] ? ipc_last_error()
					      : ipc_strerror(rc));
	ipc_free(reply);
}

/* The end of servicing. init answers Restart once the next vmworker is
 * READY, and a restored vmworker is READY only once its VM runs again:
 * its one Status (on the long client: it waits in nng until the new
 * instance's connection comes) is final, with no wait for a change. */
static int policy_restored(struct policy *p, int restart_rc,
			   const char *restart_err, Parapet__VmStatus **st_out)
{
	Parapet__VmStatus *st = NULL;
	const char *why = NULL;

	if (policy_vm_call_on(p->vm, "Status", &st) != 0 || st == NULL ||
	    st->state == NULL)
		why = "servicing failed: the restarted vmworker did not "
		      "answer within " STR(POLICY_VM_WAIT_MS) " ms";
	/* A fresh vmworker (the old one died before its state reached
	 * init, or the new one died): the guest is lost, a crash. */
	else if (!strcmp(st->state, "created"))
		why = st->restored ? "servicing failed: the restored vmworker "
				     "did not run its VM"
				   : "servicing failed: vmworker came back "
				     "without its saved state";
	if (why != NULL) {
		if (st != NULL)
			ipc_free(&st->base);
		policy_vm_ended(p, "crashed", 0, why);
		return IPC_ERR_UNAVAILABLE;
	}
	if (!strcmp(st->state, "paused"))
		policy_vm_call(p, "Resume", NULL);
	policy_set_state(p, PS_RUNNING);
	if (restart_rc != 0) {
		ipc_free(&st->base);
		snprintf(p->cmd_error, sizeof(p->cmd_error), "%s", restart_err);
		return restart_rc;
	}
	*st_out = st;
	return 0;
}

/* The check before servicing: init checks the next binary (binary: a
 * token, or 0 for the current one) and says which saved-state versions
 * it reads; an init that does not say (release 0.9.0) leaves 1..1. */
static int policy_check_next(struct policy *p, uint64_t binary,
			     Parapet__VmSaveRequest *save)
{
	Parapet__ServiceRef ref = PARAPET__SERVICE_REF__INIT;
	Parapet__ControlReply *reply = NULL;
	int rc;

	ref.name = (char *)(uintptr_t)SVC_NAME_VMWORKER;
	ref.has_binary_token = binary != 0;
	ref.binary_token = binary;
	ref.has_check_only = ref.check_only = 1;
	save->has_reader_min = save->has_reader_max = 1;
	save->reader_min = save->reader_max = 1;
	rc = ipc_call(p->init, "Restart", &ref.base,
		      (ProtobufCMessage **)&reply);
	if (rc != 0)
		return rc;
	if (reply->base.descriptor == &parapet__control_reply__descriptor &&
	    reply->has_state_read_min && reply->has_state_read_max) {
		save->reader_min = reply->state_read_min;
		save->reader_max = reply->state_read_max;
	}
	ipc_free(&reply->base);
	return 0;
}

/* Servicing: save, restart vmworker (binary: the token of an update the
 * host sent init, or 0 for the same binary), wait for the restored VM. */
static int policy_service(struct policy *p, uint64_t binary,
			  Parapet__VmStatus **st_out)
{
	Parapet__ServiceRef ref = PARAPET__SERVICE_REF__INIT;
	Parapet__VmSaveRequest save = PARAPET__VM_SAVE_REQUEST__INIT;
	ProtobufCMessage *reply = NULL;
	char restart_err[160] = "";
	int rc, restart_rc;

	/* A binary init cannot run is refused before the guest pauses, and
	 * so is one whose saved-state versions vmworker cannot write (its
	 * Save refuses before it pauses). */
	if ((rc = policy_check_next(p, binary, &save)) != 0 && binary != 0)
		return rc;
	if (binary == 0)
		policy_start_standby(p);
	policy_set_state(p, PS_SAVING);
	rc = ipc_call(p->vm, "Save", &save.base, &reply);
	ipc_free(reply);
	reply = NULL;
	if (rc != 0) {
		policy_set_state(p, PS_RUNNING);
		return rc;
	}
	policy_set_state(p, PS_RESTORING);
	ref.name = (char *)(uintptr_t)SVC_NAME_VMWORKER;
	ref.has_binary_token = binary != 0;
	ref.binary_token = binary;
	/* An update whose binary died before it was ready is an error here,
	 * but init has brought the previous binary back with the saved
	 * state: the guest runs on, and the error is the answer. */
	restart_rc = ipc_call(p->init, "Restart", &ref.base, &reply);
	if (restart_rc != 0) {
		snprintf(restart_err, sizeof(restart_err), "%s",
			 ipc_last_error()[0] ? ipc_last_error()
					     : ipc_strerror(restart_rc));
		log_warnx("servicing: Restart: %s", restart_err);
	}
	ipc_free(reply);
	return policy_restored(p, restart_rc, restart_err, st_out);
}

/* ---- replace-NAME: another service into a binary from the host ---- */

#define POLICY_REPLACE_DELAY_MS 200

struct policy_replace {
	struct policy *p;
	char name[32];
	uint64_t token;
};

/* The Restart itself, off the loop: it waits for the new instance, and
 * when it replaces policy (this process) or hostcomm (which waits for
 * this command's answer), the answer goes out first, the delay later. */
static void *policy_replace_thread(void *arg)
{
	struct policy_replace *r = arg;
	Parapet__ServiceRef ref = PARAPET__SERVICE_REF__INIT;
	ProtobufCMessage *reply = NULL;
	int rc;

	usleep(POLICY_REPLACE_DELAY_MS * 1000);
	ref.name = r->name;
	ref.has_binary_token = 1;
	ref.binary_token = r->token;
	rc = ipc_call(r->p->init, "Restart", &ref.base, &reply);
	if (rc != 0)
		log_warnx("replace %s: %s", r->name,
			  ipc_last_error()[0] ? ipc_last_error()
					      : ipc_strerror(rc));
	else
		log_info("replace %s: the new binary runs", r->name);
	ipc_free(reply);
	free(r);
	return NULL;
}

/* replace-policy, replace-hostcomm, replace-diagd (docs/servicing.md):
 * the host's alone, with its binary (a token of the descriptor the host
 * sent init). init checks the binary now; the answer is "replacing", and
 * the restart follows (ctl waits for it through `parapet-diag ps`). Their
 * state lives elsewhere: policy's in vmworker and init (asked again at
 * start), hostcomm's in `parapet run`, diagd's in init's rings. */
static int policy_replace(struct policy *p, struct ipc_request *req,
			  const Parapet__PolicyCommand *cmd)
{
	static const char *const names[] = { SVC_NAME_POLICY, SVC_NAME_HOSTCOMM,
					     SVC_NAME_DIAGD };
	const char *name = cmd->command + strlen("replace-");
	Parapet__ServiceRef ref = PARAPET__SERVICE_REF__INIT;
	ProtobufCMessage *reply = NULL;
	struct policy_replace *r;
	pthread_t t;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (!strcmp(name, names[i]))
			break;
	if (i == sizeof(names) / sizeof(*names)) {
		ipc_request_set_error(req, "replace: policy, hostcomm or diagd "
					   "(vmworker: service)");
		return IPC_ERR_INVAL;
	}
	if (!(ipc_request_sender(req) & CALLER_HOSTCOMM) ||
	    !cmd->has_binary_token) {
		ipc_request_set_error(req, "replace: the host's only, with a "
					   "binary");
		return IPC_ERR_DENIED;
	}
	for (i = 0; i < sizeof(p->replaced) / sizeof(*p->replaced); i++)
		if (cmd->binary_token != 0 &&
		    p->replaced[i] == cmd->binary_token)
			return 0; /* a re-sent command: done already */
	ref.name = (char *)(uintptr_t)name;
	ref.has_binary_token = ref.has_check_only = ref.check_only = 1;
	ref.binary_token = cmd->binary_token;
	if ((rc = ipc_call(p->init, "Restart", &ref.base, &reply)) != 0) {
		ipc_request_set_error(req, ipc_last_error()[0]
					       ? ipc_last_error()
					       : ipc_strerror(rc));
		return rc;
	}
	ipc_free(reply);
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return IPC_ERR_NOMEM;
	r->p = p;
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->token = cmd->binary_token;
	if (pthread_create(&t, NULL, policy_replace_thread, r) != 0) {
		free(r);
		return IPC_ERR_NOMEM;
	}
	p->replaced[p->n_replaced++ %
		    (sizeof(p->replaced) / sizeof(*p->replaced))] =
	    cmd->binary_token;
	pthread_detach(t);
	log_info("replace %s: binary checked; restarting it", name);
	return 0;
}

static const char *const vm_methods[PE_COUNT] = {
	[PE_PAUSE] = "Pause",
	[PE_RESUME] = "Resume",
};

static int policy_refuse(struct ipc_request *req, const char *cmd,
			 enum pstate s)
{
	char msg[128];

	if (s == PS_STOPPED || s == PS_CRASHED || s == PS_STARTING)
		snprintf(msg, sizeof(msg), "VM not running (state %s)",
			 pstate_name(s));
	else
		snprintf(msg, sizeof(msg),
			 "command '%s' not allowed in state %s", cmd,
			 pstate_name(s));
	ipc_request_set_error(req, msg);
	return s == PS_STOPPED || s == PS_CRASHED || s == PS_STARTING
		   ? IPC_ERR_UNAVAILABLE
		   : IPC_ERR_DENIED;
}

static int policy_do(struct policy *p, int ev,
		     const Parapet__PolicyCommand *cmd, Parapet__VmStatus **st)
{
	int rc;

	switch (ev) {
	case PE_PAUSE:
	case PE_RESUME:
		rc = policy_vm_call(p, vm_methods[ev], st);
		if (rc == 0)
			policy_set_state(p, pstate_next(policy_state(p), ev));
		return rc;
	case PE_POWEROFF:
		policy_set_state(p, PS_STOPPED);
		p->poweroff_pending = true;
		p->poweroff_status = 0;
		snprintf(p->poweroff_reason, sizeof(p->poweroff_reason),
			 "powered off by the host");
		return 0;
	case PE_RESET:
		return policy_reboot(p);
	case PE_SAVE:
		return policy_service(
		    p, cmd->has_binary_token ? cmd->binary_token : 0, st);
	default:
		return 0;
	}
}

int policy_command(struct policy *p, struct ipc_request *req,
		   const Parapet__PolicyCommand *cmd, Parapet__PolicyReply *out,
		   Parapet__VmStatus **vm_out)
{
	int ev = pevent_from_command(cmd->command);
	enum pstate cur = policy_state(p);
	int rc;

	if (cmd->command != NULL && !strncmp(cmd->command, "replace-", 8)) {
		if ((rc = policy_replace(p, req, cmd)) != 0)
			return rc;
		out->state = (char *)(uintptr_t) "replacing";
		return 0;
	}
	if (ev < 0) {
		ipc_request_set_error(req, "unknown command (poweroff, reset, "
					   "pause, resume, status, service, "
					   "replace-NAME)");
		return IPC_ERR_INVAL;
	}
	if (ev != PE_COUNT && pstate_next(cur, (enum pevent)ev) == PS_INVALID)
		return policy_refuse(req, cmd->command, cur);
	if (cmd->binary != NULL) {
		ipc_request_set_error(req, "a binary is never named by path: "
					   "the host sends it");
		return IPC_ERR_INVAL;
	}
	/* the host's request alone: diagd (the owner's diag) has no way to
	 * hand init a binary, and may not pick one the host sent */
	if (cmd->has_binary_token &&
	    !(ipc_request_sender(req) & CALLER_HOSTCOMM)) {
		ipc_request_set_error(req, "a binary comes from the host only");
		return IPC_ERR_DENIED;
	}
	if (cmd->has_binary_token && ev != PE_SAVE) {
		ipc_request_set_error(req, "a binary goes with 'service' only");
		return IPC_ERR_INVAL;
	}
	p->cmd_error[0] = '\0';
	rc = ev == PE_COUNT ? 0 : policy_do(p, ev, cmd, vm_out);
	if (rc == IPC_ERR_UNKNOWN_METHOD && ev == PE_RESET)
		ipc_request_set_error(req, "reset: this vmworker has no Reset");
	else if (rc != 0 && p->cmd_error[0] != '\0')
		ipc_request_set_error(req, p->cmd_error);
	else if (rc != 0 && ipc_last_error()[0] != '\0')
		ipc_request_set_error(req, ipc_last_error());
	else if (rc != 0)
		ipc_request_set_error(req, ipc_strerror(rc));
	if (rc != 0)
		return rc;
	if (*vm_out == NULL)
		policy_vm_call(p, "Status", vm_out);
	out->state = (char *)(uintptr_t)pstate_name(policy_state(p));
	out->vm = *vm_out;
	if (*vm_out && (*vm_out)->has_blackout_ns && ev == PE_SAVE) {
		out->has_blackout_ns = 1;
		out->blackout_ns = (*vm_out)->blackout_ns;
	}
	return 0;
}
