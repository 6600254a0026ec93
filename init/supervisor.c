/* init's supervisor as tables next[state][event] (DESIGN.md §8): a
 * service's life (spawn, readiness, restart with backoff, exit 125, stop
 * with SIGKILL after a timeout, update revert, power-off) and its
 * standby's (forked ahead, loaded, taken over or killed). Pure: callers
 * feed events with their facts and perform the actions. */
#include <stddef.h>

#include "init/supervisor.h"

#define NS_PER_MS 1000000ull

/* Effects on struct sup itself, besides the state. */
enum sup_fx {
	FX_RESET_QUICK = 1u << 0,   /* a requested start: no backoff kept */
	FX_SET_RESTART = 1u << 1,   /* spawn again once gone */
	FX_CLEAR_RESTART = 1u << 2, /* that restart is done */
	FX_BACKOFF = 1u << 3,	    /* schedule the respawn */
	FX_SPAWNED = 1u << 4,	    /* spawned_ns = now */
};

struct sup_row {
	bool on; /* false: the event changes nothing in this state */
	enum svc_state next;
	unsigned act, fx;
	enum sup_log log;
};

#define ROW(n, a, f, l)                                                        \
	{                                                                      \
		.on = true, .next = SVC_##n, .act = (a), .fx = (f),            \
		.log = SUP_LOG_##l                                             \
	}
/* Rows shared by several states. */
#define START	   ROW(STARTING, SUP_A_SPAWN, FX_RESET_QUICK, NONE)
#define TERM	   ROW(STOPPING, SUP_A_TERM, 0, NONE)
#define TERM_AGAIN ROW(STOPPING, SUP_A_TERM, FX_SET_RESTART, NONE)
#define CRASH	   ROW(BACKOFF, 0, FX_BACKOFF, BACKOFF)
#define NO_RESTART ROW(FAILED, SUP_A_ANSWER_ERR, 0, NOT_RESTARTED)
#define GONE	   ROW(STOPPED, SUP_A_ANSWER_OK, FX_CLEAR_RESTART, STOPPED)
#define AGAIN	   ROW(STARTING, SUP_A_SPAWN, FX_CLEAR_RESTART, RESTARTING)
#define REVERT	   ROW(STARTING, SUP_A_REVERT | SUP_A_SPAWN, 0, NONE)

/* A cell left out changes nothing: a Start of a starting service is
 * answered at READY, a Stop of a stopping one once it is gone. */
static const struct sup_row sup_table[SVC_STATE_COUNT][SUP_EV_COUNT] = {
	[SVC_STARTING] = {
		[SUP_EV_RESTART] = TERM_AGAIN,
		[SUP_EV_STOP] = TERM,
		[SUP_EV_SPAWNED] = ROW(STARTING, 0, FX_SPAWNED, NONE),
		[SUP_EV_SPAWN_FAILED] = ROW(FAILED, SUP_A_ANSWER_ERR, 0, NONE),
		[SUP_EV_SPAWN_FAILED_UPDATE] = REVERT,
		[SUP_EV_READY] = ROW(RUNNING, SUP_A_UPDATE_DONE | SUP_A_READY |
				 SUP_A_ANSWER_OK, 0, NONE),
		[SUP_EV_DIED] = CRASH,
		[SUP_EV_DIED_SETUP] = NO_RESTART,
		[SUP_EV_DIED_UPDATE] = REVERT,
		[SUP_EV_DIED_RESTART] = AGAIN,
		[SUP_EV_DIED_POWEROFF] = GONE,
		[SUP_EV_POWEROFF] = TERM,
	},
	[SVC_RUNNING] = {
		[SUP_EV_START] = ROW(RUNNING, SUP_A_ANSWER_OK, 0, NONE),
		[SUP_EV_RESTART] = TERM_AGAIN,
		[SUP_EV_STOP] = TERM,
		[SUP_EV_DIED] = CRASH,
		[SUP_EV_DIED_SETUP] = NO_RESTART,
		[SUP_EV_DIED_RESTART] = AGAIN,
		[SUP_EV_DIED_POWEROFF] = GONE,
		[SUP_EV_POWEROFF] = TERM,
	},
	[SVC_BACKOFF] = {
		[SUP_EV_START] = START,
		[SUP_EV_RESTART] = START,
		[SUP_EV_STOP] = ROW(STOPPED, SUP_A_ANSWER_OK, 0, NONE),
		[SUP_EV_RESPAWN_TIMER] = ROW(STARTING, SUP_A_SPAWN, 0, NONE),
		[SUP_EV_POWEROFF] = ROW(STOPPED, 0, 0, NONE),
	},
	[SVC_STOPPING] = {
		[SUP_EV_RESTART] = ROW(STOPPING, 0, FX_SET_RESTART, NONE),
		[SUP_EV_DIED] = GONE,
		[SUP_EV_DIED_SETUP] = GONE,
		[SUP_EV_DIED_RESTART] = AGAIN,
		[SUP_EV_DIED_POWEROFF] = GONE,
		[SUP_EV_KILL_TIMER] = ROW(STOPPING, SUP_A_KILL, 0, SIGKILL),
	},
	[SVC_STOPPED] = {
		[SUP_EV_START] = START,
		[SUP_EV_RESTART] = START,
		[SUP_EV_STOP] = ROW(STOPPED, SUP_A_ANSWER_OK, 0, NONE),
	},
	[SVC_FAILED] = {
		[SUP_EV_START] = START,
		[SUP_EV_RESTART] = START,
		[SUP_EV_STOP] = ROW(FAILED, SUP_A_ANSWER_ERR, 0, NONE),
	},
};

static const char *const svc_state_names[] = {
	"starting", "running", "backoff", "stopping", "stopped", "failed",
};

const char *svc_state_name(enum svc_state s)
{
	return (unsigned)s < SVC_STATE_COUNT ? svc_state_names[s] : "?";
}

bool sup_has_instance(enum svc_state st)
{
	return st == SVC_STARTING || st == SVC_RUNNING || st == SVC_STOPPING;
}

/* Which death, which failed spawn: the table's column. */
static enum sup_event sup_refine(const struct sup *s,
				 const struct sup_input *in)
{
	if (in->ev == SUP_EV_SPAWN_FAILED)
		return in->updating && !in->powering_off
			   ? SUP_EV_SPAWN_FAILED_UPDATE
			   : SUP_EV_SPAWN_FAILED;
	if (in->ev != SUP_EV_DIED)
		return in->ev;
	if (in->powering_off)
		return SUP_EV_DIED_POWEROFF;
	if (s->restart_after_stop)
		return SUP_EV_DIED_RESTART;
	/* An update fails only before its instance is ready, and wins over
	 * exit 125: the previous binary runs again. */
	if (in->updating && s->state == SVC_STARTING)
		return SUP_EV_DIED_UPDATE;
	return in->exit_setup ? SUP_EV_DIED_SETUP : SUP_EV_DIED;
}

/* An unexpected death: at least 1 s between spawns unless it had been up
 * over 1 s, doubling while it keeps dying quickly (capped at 30 s). */
static void sup_schedule_respawn(struct sup *s, uint64_t now)
{
	uint64_t delay = SUP_BACKOFF_MIN_NS;

	if (now - s->spawned_ns > SUP_BACKOFF_MIN_NS) {
		s->quick_deaths = 0;
		s->respawn_at = now;
		return;
	}
	for (unsigned i = 0; i < s->quick_deaths && delay < SUP_BACKOFF_MAX_NS;
	     i++)
		delay *= 2;
	if (delay > SUP_BACKOFF_MAX_NS)
		delay = SUP_BACKOFF_MAX_NS;
	s->quick_deaths++;
	s->respawn_at = s->spawned_ns + delay;
}

/* A request is answered once what it waits for is there: a Start or a
 * Restart when the instance is ready (or failed), a Stop when it is gone. */
static unsigned sup_filter_answer(struct sup *s, unsigned act,
				  enum svc_state next)
{
	const unsigned answers = SUP_A_ANSWER_OK | SUP_A_ANSWER_ERR;

	if (!(act & answers))
		return act;
	if (s->wait == SVC_WAIT_NONE ||
	    ((act & SUP_A_ANSWER_OK) && s->wait == SVC_WAIT_READY &&
	     next != SVC_RUNNING))
		return act & ~answers;
	s->wait = SVC_WAIT_NONE;
	return act;
}

static void sup_apply_fx(struct sup *s, unsigned fx, const struct sup_input *in)
{
	if (fx & FX_RESET_QUICK)
		s->quick_deaths = 0;
	if (fx & FX_SET_RESTART)
		s->restart_after_stop = true;
	if (fx & FX_CLEAR_RESTART)
		s->restart_after_stop = false;
	if (fx & FX_BACKOFF)
		sup_schedule_respawn(s, in->now);
	if (fx & FX_SPAWNED)
		s->spawned_ns = in->now;
}

void sup_step(struct sup *s, const struct sup_input *in, struct sup_result *out)
{
	const struct sup_row *row;
	unsigned act;

	out->ev = sup_refine(s, in);
	out->act = 0;
	out->log = SUP_LOG_NONE;
	if (in->request)
		s->wait =
		    in->ev == SUP_EV_STOP ? SVC_WAIT_GONE : SVC_WAIT_READY;
	row = &sup_table[s->state][out->ev];
	if (!row->on)
		return;
	act = row->act;
	sup_apply_fx(s, row->fx, in);
	if (act & SUP_A_TERM)
		s->kill_at = in->now + in->stop_timeout_ms * NS_PER_MS;
	if (act & SUP_A_KILL)
		s->kill_at = UINT64_MAX;
	if (act & SUP_A_REVERT)
		s->update_reverted = true;
	if (act & SUP_A_READY) {
		/* a reverted update answers its Restart with an error */
		if (s->update_reverted)
			act = (act & ~SUP_A_ANSWER_OK) | SUP_A_ANSWER_ERR;
		s->update_reverted = false;
	}
	out->act = sup_filter_answer(s, act, row->next);
	out->log = row->log;
	s->state = row->next;
}

enum sup_event sup_due(const struct sup *s, uint64_t now, bool powering_off)
{
	if (s->state == SVC_BACKOFF && !powering_off && s->respawn_at <= now)
		return SUP_EV_RESPAWN_TIMER;
	if (s->state == SVC_STOPPING && s->kill_at <= now)
		return SUP_EV_KILL_TIMER;
	return SUP_EV_COUNT;
}

bool sup_poweroff_last(bool stop_last, bool together)
{
	return stop_last && !together;
}

uint64_t sup_deadline(const struct sup *s)
{
	if (s->state == SVC_BACKOFF)
		return s->respawn_at;
	if (s->state == SVC_STOPPING)
		return s->kill_at;
	return UINT64_MAX;
}

/* The standby's table. */
enum sb_fx {
	SBFX_ARM = 1u << 0,    /* expires in SUP_STANDBY_TTL_NS */
	SBFX_DISARM = 1u << 1, /* killed: no timer until reaped */
};

struct sb_row {
	bool on;
	enum sb_state next;
	unsigned act, fx;
};

#define SBROW(n, a, f)                                                         \
	{                                                                      \
		.on = true, .next = SB_##n, .act = (a), .fx = (f)              \
	}
/* Rows shared by a loading and a loaded standby. */
#define SB_LIVE(st)                                                            \
	[SB_EV_REQUEST_BUSY] = SBROW(st, SB_A_REFUSE, 0),                      \
	[SB_EV_ADOPT] = SBROW(NONE, SB_A_TAKE_OVER | SB_A_ANSWER_OK, 0),       \
	[SB_EV_ADOPT_STALE] = SBROW(st, SB_A_KILL, 0),                         \
	[SB_EV_DIED] = SBROW(NONE, SB_A_CLOSE | SB_A_ANSWER_ERR, 0),           \
	[SB_EV_TIMER] = SBROW(st, SB_A_KILL | SB_A_LOG_EXPIRED, SBFX_DISARM),  \
	[SB_EV_POWEROFF] = SBROW(st, SB_A_KILL, SBFX_DISARM)

static const struct sb_row sb_table[SB_STATE_COUNT][SB_EV_COUNT] = {
	[SB_NONE] = {
		[SB_EV_REQUEST] = SBROW(NONE, SB_A_HOLD | SB_A_FORK, 0),
		[SB_EV_REQUEST_IDLE] = SBROW(NONE, SB_A_REFUSE, 0),
		[SB_EV_FORKED] = SBROW(LOADING, 0, SBFX_ARM),
		[SB_EV_FORK_FAILED] = SBROW(NONE, SB_A_ANSWER_ERR, 0),
	},
	[SB_LOADING] = {
		[SB_EV_REQUEST] = SBROW(LOADING, SB_A_HOLD, 0),
		[SB_EV_LOADED] = SBROW(LOADED, SB_A_ANSWER_OK, 0),
		SB_LIVE(LOADING),
	},
	[SB_LOADED] = {
		[SB_EV_REQUEST] = SBROW(LOADED, SB_A_HOLD | SB_A_ANSWER_OK, 0),
		SB_LIVE(LOADED),
	},
};

static enum sb_event sb_refine(const struct sup_standby *sb,
			       const struct sb_input *in)
{
	switch (in->ev) {
	case SB_EV_REQUEST:
		if (sb->state == SB_NONE)
			return in->running ? SB_EV_REQUEST : SB_EV_REQUEST_IDLE;
		return in->busy ? SB_EV_REQUEST_BUSY : SB_EV_REQUEST;
	case SB_EV_ADOPT:
		if (sb->state == SB_NONE)
			return SB_EV_ADOPT;
		if (in->gone)
			return SB_EV_ADOPT_GONE;
		return in->stale ? SB_EV_ADOPT_STALE : SB_EV_ADOPT;
	case SB_EV_TIMER:
		if (sb->state == SB_NONE || sb->expires_ns == UINT64_MAX)
			return SB_EV_COUNT;
		if (in->powering_off)
			return SB_EV_POWEROFF;
		return sb->expires_ns <= in->now ? SB_EV_TIMER : SB_EV_COUNT;
	default:
		return in->ev;
	}
}

void sup_standby_step(struct sup_standby *sb, const struct sb_input *in,
		      struct sb_result *out)
{
	const struct sb_row *row;

	out->ev = sb_refine(sb, in);
	out->act = 0;
	if (out->ev == SB_EV_COUNT)
		return;
	row = &sb_table[sb->state][out->ev];
	if (!row->on)
		return;
	if (row->fx & SBFX_ARM)
		sb->expires_ns = in->now + SUP_STANDBY_TTL_NS;
	if (row->fx & SBFX_DISARM)
		sb->expires_ns = UINT64_MAX;
	out->act = row->act;
	sb->state = row->next;
}

uint64_t sup_standby_deadline(const struct sup_standby *sb)
{
	return sb->state == SB_NONE ? UINT64_MAX : sb->expires_ns;
}
