/* The sidecar protocol's status table, names and checks of
 * guest-influenced fields. */
#include "services/vmworker/sidecar_proto.h"

/* next[status][event]: -1 where the event is not allowed. */
static const int8_t status_next[SIDECAR_NR_STATUS][SIDECAR_NR_EVENTS] = {
	/*                 RUN   STOPPED  STOP   REMOVE  EXITED */
	[SIDECAR_REMOVED] = { -1, -1, -1, -1, -1 },
	[SIDECAR_IDLE] = { SIDECAR_RUN, -1, SIDECAR_IDLE, SIDECAR_REMOVE, -1 },
	[SIDECAR_RUN] = { SIDECAR_RUN, SIDECAR_IDLE, SIDECAR_STOP,
			  SIDECAR_REMOVE, -1 },
	[SIDECAR_STOP] = { -1, SIDECAR_IDLE, SIDECAR_STOP, SIDECAR_REMOVE, -1 },
	[SIDECAR_REMOVE] = { -1, SIDECAR_REMOVE, SIDECAR_REMOVE, SIDECAR_REMOVE,
			     SIDECAR_REMOVED },
};

int sidecar_status_next(enum sidecar_status s, enum sidecar_event ev)
{
	if ((unsigned)s >= SIDECAR_NR_STATUS ||
	    (unsigned)ev >= SIDECAR_NR_EVENTS)
		return -1;
	return status_next[s][ev];
}

const char *sidecar_status_name(uint32_t s)
{
	static const char *const names[] = { "removed", "idle", "run", "stop",
					     "remove" };

	return s < SIDECAR_NR_STATUS ? names[s] : "invalid";
}

const char *sidecar_command_name(uint32_t c)
{
	static const char *const names[] = { "NONE", "RUN_VP",
					     "GET_VP_REGISTERS",
					     "SET_VP_REGISTERS",
					     "TRANSLATE_GVA" };

	return c < SIDECAR_NR_COMMANDS ? names[c] : "invalid";
}

const char *sidecar_exit_name(uint32_t e)
{
	static const char *const names[] = { "none",  "io",	  "mmio",
					     "halt",  "shutdown", "fault",
					     "kicked" };

	return e < SIDECAR_NR_EXITS ? names[e] : "invalid";
}

const char *sidecar_strerror(uint32_t err)
{
	static const char *const names[] = {
		"ok",
		"unknown command",
		"request length out of range",
		"VP index does not match the page",
		"register context refused",
		"address does not translate",
		"accelerator failed",
		"command not allowed in this state",
		"malformed intercept answer",
	};

	return err < sizeof(names) / sizeof(names[0]) ? names[err]
						      : "unknown error";
}

uint32_t sidecar_check_command(const struct sidecar_cmd_page *p,
			       uint32_t vp_index, uint32_t n_vps)
{
	uint32_t cmd = __atomic_load_n(&p->command, __ATOMIC_ACQUIRE);

	if (cmd == SIDECAR_CMD_NONE || cmd >= SIDECAR_NR_COMMANDS)
		return SIDECAR_ERR_COMMAND;
	if (p->vp_index != vp_index || vp_index >= n_vps)
		return SIDECAR_ERR_VP;
	if (p->request_len > SIDECAR_REQUEST_MAX)
		return SIDECAR_ERR_LENGTH;
	if (cmd == SIDECAR_CMD_TRANSLATE_GVA && p->request_len != 8)
		return SIDECAR_ERR_LENGTH;
	return SIDECAR_OK;
}

uint32_t sidecar_check_intercept(const struct sidecar_intercept *ic)
{
	if (ic->kind != SIDECAR_EXIT_IO && ic->kind != SIDECAR_EXIT_MMIO)
		return SIDECAR_ERR_INTERCEPT;
	if (ic->size != 1 && ic->size != 2 && ic->size != 4 && ic->size != 8)
		return SIDECAR_ERR_INTERCEPT;
	if (ic->is_write > 1)
		return SIDECAR_ERR_INTERCEPT;
	if (ic->kind == SIDECAR_EXIT_IO && (ic->addr > 0xffff || ic->size > 4))
		return SIDECAR_ERR_INTERCEPT;
	return SIDECAR_OK;
}
