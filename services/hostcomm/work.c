/* The host's work for the partition, by long poll: stdin bytes for the
 * guest's UART (the host keeps them until input_ack passes them, so a
 * restart loses none) and `parapet ctl` commands, run through policy and
 * answered with CommandDone (rate-limited). Each poll tells the host
 * policy's state. */
#include <stdio.h>
#include <string.h>

#include "hostchan.pb-c.h"
#include "lib/log.h"
#include "lib/util.h"
#include "policy.pb-c.h"
#include "services/hostcomm/hostcomm.h"
#include "vmworker.pb-c.h"

#define POLL_WAIT_MS   1000
#define CMD_RATE_PER_S 20 /* host commands per second (burst as many) */
#define INPUT_RETRY_MS 20
#define VM_STATE_MS    250 /* policy's state, for the host's list */

/* Token bucket: false when the host sends commands too fast. */
static bool work_rate_ok(struct hostcomm_work *w)
{
	uint64_t now = util_now_ns();

	w->tokens += (double)(now - w->tokens_at) * CMD_RATE_PER_S / 1e9;
	if (w->tokens > CMD_RATE_PER_S)
		w->tokens = CMD_RATE_PER_S;
	w->tokens_at = now;
	if (w->tokens < 1)
		return false;
	w->tokens -= 1;
	return true;
}

/* Policy's refusal as words, from its code and state. */
static void work_explain(struct hostcomm *h, const char *cmd, int rc, char *out,
			 size_t len)
{
	Parapet__PolicyStatusRequest q = PARAPET__POLICY_STATUS_REQUEST__INIT;
	Parapet__PolicyReply *st = NULL;
	const char *state = "unknown";

	if (ipc_call(h->policy, "Status", &q.base, (ProtobufCMessage **)&st) ==
		0 &&
	    st->state)
		state = st->state;
	if (rc == IPC_ERR_INVAL)
		snprintf(out, len, "unknown command '%s'", cmd);
	else if (rc == IPC_ERR_UNAVAILABLE)
		snprintf(out, len, "VM not running (state %s)", state);
	else if (rc == IPC_ERR_DENIED)
		snprintf(out, len, "command '%s' not allowed in state %s", cmd,
			 state);
	else
		snprintf(out, len, "policy: %s", ipc_strerror(rc));
	if (st)
		ipc_free(&st->base);
}

/* Policy's own words when its ERROR carried them. */
static void work_error(struct hostcomm *h, const char *cmd, int rc, char *out,
		       size_t len)
{
	const char *msg = ipc_last_error();

	if (msg != NULL && *msg)
		snprintf(out, len, "%s", msg);
	else
		work_explain(h, cmd, rc, out, len);
}

static void work_command(struct hostcomm *h, struct hostcomm_work *w,
			 const Parapet__HostCommand *hc)
{
	Parapet__HostCommandDone d = PARAPET__HOST_COMMAND_DONE__INIT;
	Parapet__PolicyReply *reply = NULL;
	ProtobufCMessage *ack = NULL;
	const char *name =
	    hc->command && hc->command->command ? hc->command->command : "";
	char err[160];
	int rc = IPC_ERR_UNAVAILABLE;

	d.has_id = d.has_ok = 1;
	d.id = hc->id;
	if (hc->command == NULL)
		snprintf(err, sizeof(err), "empty command");
	else if (!work_rate_ok(w))
		snprintf(err, sizeof(err),
			 "rate limited: at most %d "
			 "commands a second",
			 CMD_RATE_PER_S);
	else if ((rc = ipc_call(h->policy, "Command", &hc->command->base,
				(ProtobufCMessage **)&reply)) != 0)
		work_error(h, name, rc, err, sizeof(err));
	d.ok = rc == 0 && reply != NULL;
	d.error = d.ok ? NULL : err;
	d.reply = reply;
	for (int i = 0; i < 3; i++)
		if ((rc = ipc_call(h->host, "CommandDone", &d.base, &ack)) == 0)
			break;
	if (rc != 0)
		log_warnx("HostChannel.CommandDone %llu: %s",
			  (unsigned long long)hc->id, ipc_strerror(rc));
	if (ack)
		ipc_free(ack);
	if (reply)
		ipc_free(&reply->base);
}

/* Hands stdin bytes to the guest's UART; what vmworker does not accept
 * yet comes again with the next poll. */
static void work_input(struct hostcomm *h, struct hostcomm_work *w,
		       const Parapet__HostWork *hw)
{
	Parapet__ConsoleInputRequest in = PARAPET__CONSOLE_INPUT_REQUEST__INIT;
	Parapet__ConsoleInputReply *r = NULL;
	int rc;

	if (hw->has_input_offset && hw->input_offset > w->input_ack)
		w->input_ack = hw->input_offset;
	if (!hw->has_input || hw->input.len == 0)
		return;
	in.has_data = 1;
	in.data = hw->input;
	rc = ipc_call(h->vm, "ConsoleInput", &in.base, (ProtobufCMessage **)&r);
	if (rc == 0 && r->accepted > 0)
		w->input_ack =
		    hw->input_offset +
		    (r->accepted < hw->input.len ? r->accepted : hw->input.len);
	if (rc != 0 || r->accepted < hw->input.len)
		hostcomm_sleep_ms(INPUT_RETRY_MS);
	if (r)
		ipc_free(&r->base);
}

static void work_commands(struct hostcomm *h, struct hostcomm_work *w,
			  const Parapet__HostWork *hw)
{
	pthread_mutex_lock(&h->lock);
	h->cmds_in_flight++;
	pthread_mutex_unlock(&h->lock);
	for (size_t i = 0; i < hw->n_commands; i++)
		work_command(h, w, hw->commands[i]);
	pthread_mutex_lock(&h->lock);
	h->cmds_in_flight--;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

void hostcomm_work_init(struct hostcomm_work *w)
{
	*w = (struct hostcomm_work){ .tokens = CMD_RATE_PER_S,
				     .tokens_at = util_now_ns() };
}

/* Policy's state for the next poll: its Status answers at once (never
 * queued behind a command), asked at most every VM_STATE_MS. */
static void work_vm_state(struct hostcomm *h, struct hostcomm_work *w)
{
	Parapet__PolicyStatusRequest q = PARAPET__POLICY_STATUS_REQUEST__INIT;
	Parapet__PolicyReply *st = NULL;
	uint64_t now = util_now_ns();

	if (now - w->vm_state_at < VM_STATE_MS * 1000000ull)
		return;
	w->vm_state_at = now;
	if (ipc_call(h->policy_quick, "Status", &q.base,
		     (ProtobufCMessage **)&st) != 0)
		return; /* policy restarting: the last state stands */
	snprintf(w->vm_state, sizeof(w->vm_state), "%s",
		 st->state ? st->state : "");
	ipc_free(&st->base);
}

void hostcomm_work_handle(struct hostcomm *h, struct hostcomm_work *w,
			  const Parapet__HostWork *hw)
{
	if (hw->n_commands) {
		work_commands(h, w, hw);
		w->vm_state_at = 0; /* the next poll tells what they did */
	}
	work_input(h, w, hw);
}

void *hostcomm_work_loop(void *arg)
{
	struct hostcomm *h = arg;
	struct hostcomm_work w;

	hostcomm_work_init(&w);

	for (;;) {
		Parapet__HostPoll q = PARAPET__HOST_POLL__INIT;
		Parapet__HostWork *hw = NULL;
		int rc;

		work_vm_state(h, &w);
		q.has_wait_ms = q.has_input_ack = 1;
		q.wait_ms = POLL_WAIT_MS;
		q.input_ack = w.input_ack;
		q.vm_state = w.vm_state[0] ? w.vm_state : NULL;
		rc = ipc_call(h->host, "Poll", &q.base,
			      (ProtobufCMessage **)&hw);
		if (rc != 0) {
			log_debug("HostChannel.Poll: %s", ipc_strerror(rc));
			hostcomm_sleep_ms(100);
			continue;
		}
		hostcomm_work_handle(h, &w, hw);
		ipc_free(&hw->base);
	}
	return NULL;
}
