/* The VM lifecycle of parapet-policy as a table next[state][event]
 * (STYLE.md: state machines as tables, as s6 does). */
#ifndef PARAPET_POLICY_STATE_H
#define PARAPET_POLICY_STATE_H

enum pstate {
	PS_STARTING,
	PS_RUNNING,
	PS_PAUSED,
	PS_SAVING,
	PS_RESTORING,
	PS_STOPPED,
	PS_CRASHED,
	PS_COUNT,
	PS_INVALID = -1, /* the event is not allowed in the state */
};

enum pevent {
	PE_STARTED,  /* vmworker runs the guest */
	PE_PAUSE,    /* command: pause every VP */
	PE_RESUME,   /* command: resume */
	PE_POWEROFF, /* the guest powered off, or the host asked to */
	PE_CRASH,    /* the guest crashed (or vmworker died unsaved) */
	PE_RESET,    /* command or on-crash=reboot: start over */
	PE_SAVE,     /* command service: save the VM for a new vmworker */
	PE_SAVED,    /* the old vmworker saved and left */
	PE_RESTORED, /* the new vmworker restored the VM */
	PE_COUNT,
};

const char *pstate_name(enum pstate s);
const char *pevent_name(enum pevent e);
/* The state after event e in state s, or PS_INVALID. */
enum pstate pstate_next(enum pstate s, enum pevent e);
/* vmworker's VmStatus.state as the policy state it implies (created
 * maps to starting; poweroff to stopped); PS_INVALID when unknown. */
enum pstate pstate_from_vm(const char *vm_state);
/* A host/diagd command name as its event; PE_COUNT for status (no
 * transition), -1 when unknown. */
int pevent_from_command(const char *command);

#endif
