/* init's supervision decisions as transition tables (s6-like): a service's
 * state and an event give its next state and what init must do. Pure: no
 * syscalls, no clock; service.c and standby.c feed events and perform the
 * actions (fork, signals, answers to control requests, logs). */
#ifndef PARAPET_INIT_SUPERVISOR_H
#define PARAPET_INIT_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>

#define SUP_BACKOFF_MIN_NS (1000ull * 1000000ull)
#define SUP_BACKOFF_MAX_NS (30000ull * 1000000ull)
#define SUP_STANDBY_TTL_NS (30000ull * 1000000ull)

enum svc_state {
	SVC_STARTING, /* spawned, waiting for READY */
	SVC_RUNNING,
	SVC_BACKOFF,  /* died; respawn at respawn_at */
	SVC_STOPPING, /* SIGTERM sent; SIGKILL at kill_at */
	SVC_STOPPED,  /* stopped on request (or by power-off) */
	SVC_FAILED,   /* exit 125, missing binary: not restarted */
	SVC_STATE_COUNT
};

const char *svc_state_name(enum svc_state s);

/* What a pending control request waits for. */
enum svc_wait { SVC_WAIT_NONE, SVC_WAIT_READY, SVC_WAIT_GONE };

/* Events. The first group is what callers feed; sup_step refines some
 * (a death, a failed spawn) by the facts of its input into the others,
 * which are the table's columns too. */
enum sup_event {
	SUP_EV_START,	      /* Start requested, or boot */
	SUP_EV_RESTART,	      /* Restart requested (maybe a new binary) */
	SUP_EV_STOP,	      /* Stop requested */
	SUP_EV_SPAWNED,	      /* an instance runs (forked or adopted) */
	SUP_EV_SPAWN_FAILED,  /* no binary, or no fork */
	SUP_EV_READY,	      /* READY on its channel */
	SUP_EV_DIED,	      /* reaped: an unexpected death */
	SUP_EV_RESPAWN_TIMER, /* respawn_at passed */
	SUP_EV_KILL_TIMER,    /* kill_at passed */
	SUP_EV_POWEROFF,      /* the power-off step reached it */
	/* refined */
	SUP_EV_SPAWN_FAILED_UPDATE, /* ... for a new binary: revert */
	SUP_EV_DIED_SETUP,	    /* exited 125: do not restart */
	SUP_EV_DIED_UPDATE,	    /* a new binary died before READY */
	SUP_EV_DIED_RESTART,	    /* gone, as a requested restart wanted */
	SUP_EV_DIED_POWEROFF,	    /* died during power-off */
	SUP_EV_COUNT
};

/* Actions, performed by service.c in this order. */
enum sup_action {
	SUP_A_REVERT = 1u << 0,	     /* back to the binary an update replaced */
	SUP_A_UPDATE_DONE = 1u << 1, /* forget the replaced binary */
	SUP_A_READY = 1u << 2,	     /* note readiness, write the timeline */
	SUP_A_TERM = 1u << 3,	     /* STOP message and SIGTERM */
	SUP_A_KILL = 1u << 4,	     /* SIGKILL */
	SUP_A_ANSWER_OK = 1u << 5,   /* answer the pending request */
	SUP_A_ANSWER_ERR = 1u << 6,  /* ... with the last exit as error */
	SUP_A_SPAWN = 1u << 7,	     /* start an instance, then feed
					SPAWNED or SPAWN_FAILED */
};

/* The log line a transition writes (besides those of its actions). */
enum sup_log {
	SUP_LOG_NONE,
	SUP_LOG_BACKOFF,       /* "%s; restarting in %llu ms" */
	SUP_LOG_RESTARTING,    /* "%s; restarting as requested" */
	SUP_LOG_STOPPED,       /* "stopped (%s)" */
	SUP_LOG_NOT_RESTARTED, /* "exited 125: not restarted" */
	SUP_LOG_SIGKILL,       /* "no exit %u ms after SIGTERM: SIGKILL" */
};

/* A service's supervision state. */
struct sup {
	enum svc_state state;
	enum svc_wait wait;	 /* of the pending control request */
	bool restart_after_stop; /* a requested restart: spawn once gone */
	bool update_reverted;	 /* the pending answer is an error */
	unsigned quick_deaths;	 /* consecutive deaths within 1 s of spawn */
	uint64_t spawned_ns, respawn_at, kill_at;
};

/* An event and the facts it comes with. */
struct sup_input {
	enum sup_event ev;
	uint64_t now;
	bool request;	   /* START, STOP, RESTART: a control request waits */
	bool powering_off; /* the partition is powering off */
	bool updating;	   /* a new binary, not yet ready (previous kept) */
	bool exit_setup;   /* DIED: it exited 125 */
	uint32_t stop_timeout_ms;
};

struct sup_result {
	enum sup_event ev; /* the event as refined */
	unsigned act;	   /* enum sup_action bits */
	enum sup_log log;
};

/* Applies in to s: s updated, what to do in *out. */
void sup_step(struct sup *s, const struct sup_input *in,
	      struct sup_result *out);
/* An instance exists (a pid to signal and reap) in state st. */
bool sup_has_instance(enum svc_state st);
/* The timer event due at now (SUP_EV_COUNT: none). */
enum sup_event sup_due(const struct sup *s, uint64_t now, bool powering_off);
/* When s's next timer fires; UINT64_MAX: none. */
uint64_t sup_deadline(const struct sup *s);

/* Power-off: whether a service waits until the others are gone before
 * it is stopped. stop_last: its registry entry says it must outlive them
 * (REGISTRY_F_STOP_LAST); together: nothing needs it any more (the host
 * has the console and the guest's event), so it stops with them. */
bool sup_poweroff_last(bool stop_last, bool together);

/* A service's standby (servicing): its next instance, loaded ahead. */
enum sb_state {
	SB_NONE,    /* none */
	SB_LOADING, /* forked, not yet LOADED */
	SB_LOADED,  /* waits for the service's next start */
	SB_STATE_COUNT
};

enum sb_event {
	SB_EV_REQUEST,	   /* Restart{standby} */
	SB_EV_FORKED,	   /* its fork and exec succeeded */
	SB_EV_FORK_FAILED, /* they did not */
	SB_EV_LOADED,	   /* LOADED on its channel */
	SB_EV_ADOPT,	   /* the service starts an instance */
	SB_EV_DIED,	   /* reaped */
	SB_EV_TIMER,	   /* its expiry passed, or power-off */
	/* refined */
	SB_EV_REQUEST_IDLE, /* ... but the service is not running */
	SB_EV_REQUEST_BUSY, /* ... but another request waits */
	SB_EV_ADOPT_GONE,   /* ... but the standby is dying */
	SB_EV_ADOPT_STALE,  /* ... but it runs a binary since replaced */
	SB_EV_POWEROFF,	    /* timer at power-off: killed silently */
	SB_EV_COUNT
};

enum sb_action {
	SB_A_HOLD = 1u << 0,	    /* keep the request until LOADED */
	SB_A_FORK = 1u << 1,	    /* fork it, then feed FORKED or FAILED */
	SB_A_REFUSE = 1u << 2,	    /* answer the new request: an error */
	SB_A_TAKE_OVER = 1u << 3,   /* it becomes the service's instance */
	SB_A_CLOSE = 1u << 4,	    /* close its fds (reaped) */
	SB_A_KILL = 1u << 5,	    /* SIGKILL; reaped as any child */
	SB_A_LOG_EXPIRED = 1u << 6, /* "standby not taken over ..." */
	SB_A_ANSWER_OK = 1u << 7,   /* answer the held request */
	SB_A_ANSWER_ERR = 1u << 8,  /* ... with an error */
};

struct sup_standby {
	enum sb_state state;
	uint64_t expires_ns; /* killed if not taken over by then */
};

struct sb_input {
	enum sb_event ev;
	uint64_t now;
	bool running;	   /* REQUEST: the service runs (RUNNING) */
	bool busy;	   /* REQUEST: a request is held already */
	bool gone;	   /* ADOPT: it died or closed its channel */
	bool stale;	   /* ADOPT: the service's binary changed since */
	bool powering_off; /* TIMER */
};

struct sb_result {
	enum sb_event ev; /* as refined; SB_EV_COUNT: nothing happens */
	unsigned act;	  /* enum sb_action bits */
};

void sup_standby_step(struct sup_standby *sb, const struct sb_input *in,
		      struct sb_result *out);
/* When the standby expires; UINT64_MAX: no timer. */
uint64_t sup_standby_deadline(const struct sup_standby *sb);

#endif
