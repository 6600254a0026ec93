/* parapet-policy's lifecycle table: which event moves the VM from which
 * state to which; everything not listed is refused. */
#include <stddef.h>
#include <string.h>

#include "services/policy/state.h"

static const char *const state_names[PS_COUNT] = {
	"starting",  "running", "paused",  "saving",
	"restoring", "stopped", "crashed",
};

static const char *const event_names[PE_COUNT] = {
	"started", "pause", "resume", "poweroff", "crash",
	"reset",   "save",  "saved",  "restored",
};

#define X PS_INVALID
/* clang-format off */
static const enum pstate next_state[PS_COUNT][PE_COUNT] = {
	/*             started     pause      resume      poweroff    crash       reset        save       saved         restored */
	[PS_STARTING]  = { PS_RUNNING, X,         X,          PS_STOPPED, PS_CRASHED, X,           X,         X,            X },
	[PS_RUNNING]   = { X,          PS_PAUSED, X,          PS_STOPPED, PS_CRASHED, PS_STARTING, PS_SAVING, X,            X },
	[PS_PAUSED]    = { X,          X,         PS_RUNNING, PS_STOPPED, PS_CRASHED, PS_STARTING, PS_SAVING, X,            X },
	[PS_SAVING]    = { X,          X,         X,          PS_STOPPED, PS_CRASHED, X,           X,         PS_RESTORING, X },
	[PS_RESTORING] = { X,          X,         X,          PS_STOPPED, PS_CRASHED, X,           X,         X,            PS_RUNNING },
	[PS_STOPPED]   = { X,          X,         X,          X,          X,          X,           X,         X,            X },
	[PS_CRASHED]   = { X,          X,         X,          PS_STOPPED, X,          PS_STARTING, X,         X,            X },
};
/* clang-format on */
#undef X

const char *pstate_name(enum pstate s)
{
	return (unsigned)s < PS_COUNT ? state_names[s] : "invalid";
}

const char *pevent_name(enum pevent e)
{
	return (unsigned)e < PE_COUNT ? event_names[e] : "invalid";
}

enum pstate pstate_next(enum pstate s, enum pevent e)
{
	if ((unsigned)s >= PS_COUNT || (unsigned)e >= PE_COUNT)
		return PS_INVALID;
	return next_state[s][e];
}

enum pstate pstate_from_vm(const char *vm)
{
	static const struct {
		const char *vm;
		enum pstate ps;
	} map[] = {
		{ "created", PS_STARTING }, { "running", PS_RUNNING },
		{ "paused", PS_PAUSED },    { "poweroff", PS_STOPPED },
		{ "stopped", PS_STOPPED },  { "crashed", PS_CRASHED },
	};

	for (size_t i = 0; vm != NULL && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(vm, map[i].vm))
			return map[i].ps;
	return PS_INVALID;
}

int pevent_from_command(const char *command)
{
	static const struct {
		const char *name;
		int ev;
	} map[] = {
		{ "status", PE_COUNT },	 { "pause", PE_PAUSE },
		{ "resume", PE_RESUME }, { "poweroff", PE_POWEROFF },
		{ "reset", PE_RESET },	 { "service", PE_SAVE },
	};

	for (size_t i = 0; command != NULL && i < sizeof(map) / sizeof(map[0]);
	     i++)
		if (!strcmp(command, map[i].name))
			return map[i].ev;
	return -1;
}
