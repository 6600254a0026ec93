/* parapet-policy's state shared by its modules: main.c (the service
 * description, the work queue its loop runs), vm.c (what each lifecycle
 * event and command does through vmworker, hostcomm and init). */
#ifndef PARAPET_POLICY_H
#define PARAPET_POLICY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "lib/ipc.h"
#include "lib/svcbase.h"
#include "policy.pb-c.h"
#include "services/policy/state.h"

/* The timeout of vmworker's calls, which also bounds the wait for a
 * restarted vmworker (above a dead dialer's 12 s redial). */
#define POLICY_VM_WAIT_MS 30000

struct policy {
	pthread_mutex_t lock; /* state (Status reads it on nng's threads) */
	struct svcbase *sb;   /* its loop: requests queue there */
	uint64_t sync_at;     /* next vmworker Status (monotonic ns; 0: none) */
	_Atomic bool vm_changed; /* vmworker's connection came or went */
	enum pstate state;
	bool reboot_on_crash;
	uint64_t reboot_window_ns; /* start of the current reboot window */
	unsigned reboots;	   /* on-crash reboots in that window */
	uint32_t vm_boot;	   /* vmworker's boot count, as last seen */
	char cmd_error[160];	   /* the running command's error text, or "" */
	bool vm_seen;		   /* vmworker answered Status once */
	bool poweroff_pending;	   /* after the current reply: power off */
	int poweroff_status;
	char poweroff_reason[256];
	struct ipc_client *vm, *init, *hostcomm;
	struct ipc_client *vm_quick; /* Status: a short timeout */
	struct ipc_trace *trace;
	/* replace-NAME's tokens already taken (loop thread only): one the
	 * host sends again (its hostcomm was replaced before it reported
	 * the answer) is answered again, not run twice */
	uint64_t replaced[8];
	unsigned n_replaced;
};

/* vm.c: each runs on the worker thread. */
void policy_set_state(struct policy *p, enum pstate s);
/* Asks vmworker for its state and acts on it (Start a created VM, adopt
 * a running one after a policy restart, notice a vmworker that came back
 * without its VM). 0 when settled; -1 to ask again later (vmworker did
 * not answer, or its Start failed). */
int policy_sync(struct policy *p);
/* The VM ended (VmEvent, or seen by sync): 0 once handled. */
void policy_note_boot(struct policy *p, const Parapet__VmStatus *st);
int policy_vm_ended(struct policy *p, const char *state, int value,
		    const char *reason);
/* A command; fills out. Returns 0 or an ipc_err (message set on req). */
int policy_command(struct policy *p, struct ipc_request *req,
		   const Parapet__PolicyCommand *cmd, Parapet__PolicyReply *out,
		   Parapet__VmStatus **vm_out);
/* Pauses the VM (best effort: a host power-off stops the guest). */
void policy_pause_vm(struct policy *p);
/* HostComm.Finish, then InitControl.Poweroff. */
void policy_finish_and_poweroff(struct policy *p, const char *state, int value,
				const char *reason, int status);

#endif
