/* Tests of init's supervisor tables (init/supervisor.c): a service's life
 * (start, ready, crash and backoff, exit 125, stop and SIGKILL, restart,
 * update revert, power-off) and its standby's (loaded, taken over, expired,
 * reaped), event by event, with the actions init must perform. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "init/supervisor.h"

#define MS  1000000ull
#define SEC (1000 * MS)

/* Feeds one event at time now; returns its actions. */
static unsigned feed(struct sup *s, struct sup_input in, uint64_t now,
		     struct sup_result *out)
{
	struct sup_result r;

	in.now = now;
	if (in.stop_timeout_ms == 0)
		in.stop_timeout_ms = 5000;
	sup_step(s, &in, out != NULL ? out : &r);
	return out != NULL ? out->act : r.act;
}

static unsigned ev(struct sup *s, enum sup_event e, uint64_t now)
{
	return feed(s, (struct sup_input){ .ev = e }, now, NULL);
}

static unsigned request(struct sup *s, enum sup_event e, uint64_t now)
{
	return feed(s, (struct sup_input){ .ev = e, .request = true }, now,
		    NULL);
}

/* A service spawned at t and ready. */
static struct sup running(uint64_t t)
{
	struct sup s = { .state = SVC_STOPPED };

	assert_int_equal(ev(&s, SUP_EV_START, t), SUP_A_SPAWN);
	assert_int_equal(ev(&s, SUP_EV_SPAWNED, t), 0);
	ev(&s, SUP_EV_READY, t);
	assert_int_equal(s.state, SVC_RUNNING);
	return s;
}

static void test_start_ready(void **state)
{
	struct sup s = { .state = SVC_STOPPED };
	struct sup_result r;

	(void)state;
	assert_int_equal(request(&s, SUP_EV_START, 0), SUP_A_SPAWN);
	assert_int_equal(s.state, SVC_STARTING);
	assert_int_equal(s.wait, SVC_WAIT_READY);
	assert_int_equal(ev(&s, SUP_EV_SPAWNED, 7), 0);
	assert_int_equal(s.spawned_ns, 7);
	assert_true(sup_has_instance(s.state));
	/* Start again while starting: answered at READY, not now. */
	assert_int_equal(request(&s, SUP_EV_START, 8), 0);
	feed(&s, (struct sup_input){ .ev = SUP_EV_READY }, 9, &r);
	assert_int_equal(r.act,
			 SUP_A_UPDATE_DONE | SUP_A_READY | SUP_A_ANSWER_OK);
	assert_int_equal(s.state, SVC_RUNNING);
	assert_int_equal(s.wait, SVC_WAIT_NONE);
	/* A second READY (or a Start of a running service) changes nothing
	 * but answers the Start at once. */
	assert_int_equal(ev(&s, SUP_EV_READY, 10), 0);
	assert_int_equal(request(&s, SUP_EV_START, 11), SUP_A_ANSWER_OK);
	assert_string_equal(svc_state_name(SVC_BACKOFF), "backoff");
	assert_string_equal(svc_state_name(SVC_STATE_COUNT), "?");
}

static void test_spawn_fails(void **state)
{
	struct sup s = { .state = SVC_STOPPED };

	(void)state;
	assert_int_equal(request(&s, SUP_EV_RESTART, 0), SUP_A_SPAWN);
	assert_int_equal(ev(&s, SUP_EV_SPAWN_FAILED, 0), SUP_A_ANSWER_ERR);
	assert_int_equal(s.state, SVC_FAILED);
	assert_false(sup_has_instance(s.state));
	assert_int_equal(sup_due(&s, UINT64_MAX, false), SUP_EV_COUNT);
	/* Stopping a failed service: nothing to stop, answered an error. */
	assert_int_equal(request(&s, SUP_EV_STOP, 1), SUP_A_ANSWER_ERR);
	assert_int_equal(s.state, SVC_FAILED);
	/* Started on request, it tries again. */
	assert_int_equal(ev(&s, SUP_EV_START, 2), SUP_A_SPAWN);
	assert_int_equal(s.state, SVC_STARTING);
}

/* Dies quickly once more: returns the delay to its respawn. */
static uint64_t quick_death(struct sup *s, uint64_t t)
{
	struct sup_result r;

	ev(s, SUP_EV_SPAWNED, t);
	feed(s, (struct sup_input){ .ev = SUP_EV_DIED }, t + 100 * MS, &r);
	assert_int_equal(r.ev, SUP_EV_DIED);
	assert_int_equal(r.act, 0);
	assert_int_equal(r.log, SUP_LOG_BACKOFF);
	assert_int_equal(s->state, SVC_BACKOFF);
	assert_int_equal(sup_deadline(s), s->respawn_at);
	assert_int_equal(sup_due(s, s->respawn_at - 1, false), SUP_EV_COUNT);
	assert_int_equal(sup_due(s, s->respawn_at, false),
			 SUP_EV_RESPAWN_TIMER);
	return s->respawn_at - t;
}

static void test_crash_backoff(void **state)
{
	struct sup s = running(0);
	const uint64_t want[] = { 1, 2, 4, 8, 16, 30, 30 };
	uint64_t t = 0;

	(void)state;
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint64_t delay = quick_death(&s, t);

		assert_int_equal(delay, want[i] * SEC);
		assert_int_equal(s.quick_deaths, i + 1);
		t = s.respawn_at;
		assert_int_equal(ev(&s, SUP_EV_RESPAWN_TIMER, t), SUP_A_SPAWN);
		assert_int_equal(s.state, SVC_STARTING);
	}
	/* Up over 1 s before dying: the backoff is over, respawned now. */
	ev(&s, SUP_EV_SPAWNED, t);
	ev(&s, SUP_EV_READY, t + MS);
	assert_int_equal(ev(&s, SUP_EV_DIED, t + 2 * SEC), 0);
	assert_int_equal(s.state, SVC_BACKOFF);
	assert_int_equal(s.quick_deaths, 0);
	assert_int_equal(s.respawn_at, t + 2 * SEC);
	assert_int_equal(ev(&s, SUP_EV_RESPAWN_TIMER, t + 2 * SEC),
			 SUP_A_SPAWN);
	assert_int_equal(quick_death(&s, t + 3 * SEC), 1 * SEC);
	/* A requested start does not wait for the backoff, and resets it. */
	t = s.respawn_at;
	ev(&s, SUP_EV_RESPAWN_TIMER, t);
	quick_death(&s, t);
	assert_int_equal(s.quick_deaths, 2);
	assert_int_equal(request(&s, SUP_EV_START, s.respawn_at - 1),
			 SUP_A_SPAWN);
	assert_int_equal(s.quick_deaths, 0);
	assert_int_equal(s.state, SVC_STARTING);
}

static void test_exit_125(void **state)
{
	struct sup s = { .state = SVC_STOPPED };
	struct sup_result r;

	(void)state;
	request(&s, SUP_EV_START, 0);
	ev(&s, SUP_EV_SPAWNED, 0);
	feed(&s, (struct sup_input){ .ev = SUP_EV_DIED, .exit_setup = true },
	     SEC / 2, &r);
	assert_int_equal(r.ev, SUP_EV_DIED_SETUP);
	assert_int_equal(r.act, SUP_A_ANSWER_ERR); /* the Start hears it */
	assert_int_equal(r.log, SUP_LOG_NOT_RESTARTED);
	assert_int_equal(s.state, SVC_FAILED);
	assert_int_equal(sup_deadline(&s), UINT64_MAX); /* no respawn */
}

static void test_stop(void **state)
{
	struct sup s = running(0);
	struct sup_result r;

	(void)state;
	assert_int_equal(request(&s, SUP_EV_STOP, 10 * SEC), SUP_A_TERM);
	assert_int_equal(s.state, SVC_STOPPING);
	assert_int_equal(s.wait, SVC_WAIT_GONE);
	assert_int_equal(s.kill_at, 15 * SEC);
	/* Asked again (or power-off): no second SIGTERM. */
	assert_int_equal(request(&s, SUP_EV_STOP, 11 * SEC), 0);
	assert_int_equal(ev(&s, SUP_EV_POWEROFF, 11 * SEC), 0);
	assert_int_equal(sup_due(&s, 15 * SEC - 1, false), SUP_EV_COUNT);
	assert_int_equal(sup_due(&s, 15 * SEC, false), SUP_EV_KILL_TIMER);
	feed(&s, (struct sup_input){ .ev = SUP_EV_KILL_TIMER }, 15 * SEC, &r);
	assert_int_equal(r.act, SUP_A_KILL);
	assert_int_equal(r.log, SUP_LOG_SIGKILL);
	assert_int_equal(sup_deadline(&s), UINT64_MAX);
	/* Its exit status does not matter: stopped, the Stop answered. */
	feed(&s, (struct sup_input){ .ev = SUP_EV_DIED, .exit_setup = true },
	     16 * SEC, &r);
	assert_int_equal(r.act, SUP_A_ANSWER_OK);
	assert_int_equal(r.log, SUP_LOG_STOPPED);
	assert_int_equal(s.state, SVC_STOPPED);
	assert_int_equal(request(&s, SUP_EV_STOP, 17 * SEC), SUP_A_ANSWER_OK);
	/* In backoff: stopped at once, no respawn. */
	s = running(0);
	ev(&s, SUP_EV_DIED, 100 * MS);
	assert_int_equal(request(&s, SUP_EV_STOP, 200 * MS), SUP_A_ANSWER_OK);
	assert_int_equal(s.state, SVC_STOPPED);
	assert_int_equal(sup_due(&s, UINT64_MAX, false), SUP_EV_COUNT);
}

static void test_restart(void **state)
{
	struct sup s = running(0);
	struct sup_result r;

	(void)state;
	assert_int_equal(request(&s, SUP_EV_RESTART, 5 * SEC), SUP_A_TERM);
	assert_int_equal(s.state, SVC_STOPPING);
	assert_true(s.restart_after_stop);
	/* Gone, even by exit 125: started again, not throttled. */
	feed(&s, (struct sup_input){ .ev = SUP_EV_DIED, .exit_setup = true },
	     5 * SEC + MS, &r);
	assert_int_equal(r.ev, SUP_EV_DIED_RESTART);
	assert_int_equal(r.act, SUP_A_SPAWN); /* the Restart waits on */
	assert_int_equal(r.log, SUP_LOG_RESTARTING);
	assert_int_equal(s.state, SVC_STARTING);
	assert_false(s.restart_after_stop);
	ev(&s, SUP_EV_SPAWNED, 5 * SEC + 2 * MS);
	assert_int_equal(ev(&s, SUP_EV_READY, 6 * SEC),
			 SUP_A_UPDATE_DONE | SUP_A_READY | SUP_A_ANSWER_OK);
	/* A Restart while it stops for another reason: no second SIGTERM. */
	ev(&s, SUP_EV_STOP, 7 * SEC);
	assert_int_equal(request(&s, SUP_EV_RESTART, 8 * SEC), 0);
	assert_int_equal(ev(&s, SUP_EV_DIED, 9 * SEC), SUP_A_SPAWN);
	/* Restarting a service in backoff starts it now. */
	ev(&s, SUP_EV_SPAWNED, 10 * SEC);
	ev(&s, SUP_EV_DIED, 10 * SEC + MS);
	assert_int_equal(s.state, SVC_BACKOFF);
	assert_int_equal(request(&s, SUP_EV_RESTART, 10 * SEC + 2 * MS),
			 SUP_A_SPAWN);
}

static void test_update_revert(void **state)
{
	struct sup s = running(0);
	struct sup_input upd = { .ev = SUP_EV_RESTART,
				 .request = true,
				 .updating = true };
	struct sup_result r;

	(void)state;
	assert_int_equal(feed(&s, upd, SEC, NULL), SUP_A_TERM);
	upd = (struct sup_input){ .ev = SUP_EV_DIED, .updating = true };
	assert_int_equal(feed(&s, upd, SEC + MS, NULL), SUP_A_SPAWN);
	upd.ev = SUP_EV_SPAWNED;
	feed(&s, upd, SEC + 2 * MS, NULL);
	/* The new binary dies before READY (even by exit 125): back to the
	 * previous one, and the Restart is not answered yet. */
	upd = (struct sup_input){ .ev = SUP_EV_DIED,
				  .updating = true,
				  .exit_setup = true };
	feed(&s, upd, SEC + 3 * MS, &r);
	assert_int_equal(r.ev, SUP_EV_DIED_UPDATE);
	assert_int_equal(r.act, SUP_A_REVERT | SUP_A_SPAWN);
	assert_int_equal(s.state, SVC_STARTING);
	ev(&s, SUP_EV_SPAWNED, SEC + 4 * MS);
	/* The previous binary is ready: the Restart hears the failure. */
	assert_int_equal(ev(&s, SUP_EV_READY, 2 * SEC),
			 SUP_A_UPDATE_DONE | SUP_A_READY | SUP_A_ANSWER_ERR);
	assert_int_equal(s.state, SVC_RUNNING);
	assert_false(s.update_reverted);
	/* Ready once: a later death of the same binary is a crash. */
	upd = (struct sup_input){ .ev = SUP_EV_DIED, .updating = true };
	feed(&s, upd, 10 * SEC, &r);
	assert_int_equal(r.ev, SUP_EV_DIED);
	assert_int_equal(s.state, SVC_BACKOFF);
}

static void test_update_cannot_start(void **state)
{
	struct sup s = { .state = SVC_STOPPED };
	struct sup_input in = { .ev = SUP_EV_START,
				.request = true,
				.updating = true };
	struct sup_result r;

	(void)state;
	assert_int_equal(feed(&s, in, 0, NULL), SUP_A_SPAWN);
	in = (struct sup_input){ .ev = SUP_EV_SPAWN_FAILED, .updating = true };
	feed(&s, in, 0, &r);
	assert_int_equal(r.ev, SUP_EV_SPAWN_FAILED_UPDATE);
	assert_int_equal(r.act, SUP_A_REVERT | SUP_A_SPAWN);
	/* The previous binary cannot start either: failed, answered. */
	assert_int_equal(ev(&s, SUP_EV_SPAWN_FAILED, 0), SUP_A_ANSWER_ERR);
	assert_int_equal(s.state, SVC_FAILED);
}

static void test_poweroff(void **state)
{
	struct sup s = running(0);
	struct sup_input in = { .ev = SUP_EV_DIED, .powering_off = true };
	struct sup_result r;

	(void)state;
	/* Power-off while a Restart waits for the old instance to go: it
	 * stays stopped, and the Restart is not answered a success. */
	request(&s, SUP_EV_RESTART, SEC);
	feed(&s, in, 2 * SEC, &r);
	assert_int_equal(r.ev, SUP_EV_DIED_POWEROFF);
	assert_int_equal(r.act, 0);
	assert_int_equal(r.log, SUP_LOG_STOPPED);
	assert_int_equal(s.state, SVC_STOPPED);
	assert_int_equal(s.wait, SVC_WAIT_READY);
	assert_false(s.restart_after_stop);
	/* In backoff: no respawn once powering off; the step stops it. */
	s = running(0);
	ev(&s, SUP_EV_DIED, 100 * MS);
	assert_int_equal(sup_due(&s, UINT64_MAX, true), SUP_EV_COUNT);
	assert_int_equal(ev(&s, SUP_EV_POWEROFF, SEC), 0);
	assert_int_equal(s.state, SVC_STOPPED);
	/* Running: SIGTERM; a new binary that dies now is not reverted. */
	s = running(0);
	assert_int_equal(ev(&s, SUP_EV_POWEROFF, SEC), SUP_A_TERM);
	s = (struct sup){ .state = SVC_STOPPED };
	ev(&s, SUP_EV_START, 0);
	ev(&s, SUP_EV_SPAWNED, 0);
	in.updating = true;
	feed(&s, in, MS, &r);
	assert_int_equal(r.act, 0);
	assert_int_equal(s.state, SVC_STOPPED);
}

/* vmworker outlives the others at a host's stop (hostcomm drains the
 * console from it); once the host has everything, all stop at once. */
static void test_poweroff_order(void **state)
{
	(void)state;
	assert_true(sup_poweroff_last(true, false));
	assert_false(sup_poweroff_last(true, true));
	assert_false(sup_poweroff_last(false, false));
	assert_false(sup_poweroff_last(false, true));
}

static unsigned sb_feed(struct sup_standby *sb, struct sb_input in,
			uint64_t now, enum sb_event *refined)
{
	struct sb_result r;

	in.now = now;
	sup_standby_step(sb, &in, &r);
	if (refined != NULL)
		*refined = r.ev;
	return r.act;
}

static unsigned sb_ev(struct sup_standby *sb, enum sb_event e, uint64_t now)
{
	return sb_feed(sb, (struct sb_input){ .ev = e }, now, NULL);
}

/* A standby requested and forked at t. */
static struct sup_standby sb_forked(uint64_t t)
{
	struct sup_standby sb = { .state = SB_NONE };
	struct sb_input req = { .ev = SB_EV_REQUEST, .running = true };

	assert_int_equal(sb_feed(&sb, req, t, NULL), SB_A_HOLD | SB_A_FORK);
	assert_int_equal(sb_ev(&sb, SB_EV_FORKED, t), 0);
	assert_int_equal(sb.state, SB_LOADING);
	return sb;
}

static void test_standby_adopt(void **state)
{
	struct sup_standby sb = { .state = SB_NONE };
	struct sb_input req = { .ev = SB_EV_REQUEST };
	enum sb_event e;

	(void)state;
	assert_int_equal(sb_feed(&sb, req, 0, &e), SB_A_REFUSE);
	assert_int_equal(e, SB_EV_REQUEST_IDLE);
	assert_int_equal(sb_ev(&sb, SB_EV_ADOPT, 0), 0); /* none to adopt */
	sb = sb_forked(SEC);
	assert_int_equal(sup_standby_deadline(&sb), SEC + SUP_STANDBY_TTL_NS);
	req.busy = true;
	assert_int_equal(sb_feed(&sb, req, 2 * SEC, &e), SB_A_REFUSE);
	assert_int_equal(e, SB_EV_REQUEST_BUSY);
	assert_int_equal(sb_ev(&sb, SB_EV_LOADED, 3 * SEC), SB_A_ANSWER_OK);
	assert_int_equal(sb.state, SB_LOADED);
	assert_int_equal(sb_ev(&sb, SB_EV_LOADED, 3 * SEC), 0);
	/* Asked again once loaded: answered at once. */
	req.busy = false;
	assert_int_equal(sb_feed(&sb, req, 4 * SEC, NULL),
			 SB_A_HOLD | SB_A_ANSWER_OK);
	/* Dying, it is not taken over; running the replaced binary, it is
	 * killed; else the service's next instance is the standby. */
	req = (struct sb_input){ .ev = SB_EV_ADOPT, .gone = true };
	assert_int_equal(sb_feed(&sb, req, 5 * SEC, &e), 0);
	assert_int_equal(e, SB_EV_ADOPT_GONE);
	req = (struct sb_input){ .ev = SB_EV_ADOPT, .stale = true };
	assert_int_equal(sb_feed(&sb, req, 5 * SEC, NULL), SB_A_KILL);
	assert_int_equal(sb.state, SB_LOADED);
	assert_int_equal(sb_ev(&sb, SB_EV_ADOPT, 6 * SEC),
			 SB_A_TAKE_OVER | SB_A_ANSWER_OK);
	assert_int_equal(sb.state, SB_NONE);
	assert_int_equal(sup_standby_deadline(&sb), UINT64_MAX);
	/* Adopted before LOADED: taken over all the same. */
	sb = sb_forked(7 * SEC);
	assert_int_equal(sb_ev(&sb, SB_EV_ADOPT, 8 * SEC),
			 SB_A_TAKE_OVER | SB_A_ANSWER_OK);
}

static void test_standby_expire_reap(void **state)
{
	struct sup_standby sb = sb_forked(0);
	struct sb_input timer = { .ev = SB_EV_TIMER };
	struct sup_standby none = { .state = SB_NONE };

	(void)state;
	assert_int_equal(sb_feed(&sb, timer, SUP_STANDBY_TTL_NS - 1, NULL), 0);
	assert_int_equal(sb_feed(&sb, timer, SUP_STANDBY_TTL_NS, NULL),
			 SB_A_KILL | SB_A_LOG_EXPIRED);
	assert_int_equal(sup_standby_deadline(&sb), UINT64_MAX);
	assert_int_equal(sb_feed(&sb, timer, UINT64_MAX, NULL), 0);
	/* Reaped: its fds closed, the held request answered an error. */
	assert_int_equal(sb_ev(&sb, SB_EV_DIED, SUP_STANDBY_TTL_NS + 1),
			 SB_A_CLOSE | SB_A_ANSWER_ERR);
	assert_int_equal(sb.state, SB_NONE);
	/* Power-off kills it silently; a failed fork answers an error. */
	sb = sb_forked(0);
	timer.powering_off = true;
	assert_int_equal(sb_feed(&sb, timer, 1, NULL), SB_A_KILL);
	assert_int_equal(sb_feed(&none, timer, 1, NULL), 0);
	assert_int_equal(sb_ev(&none, SB_EV_FORK_FAILED, 0), SB_A_ANSWER_ERR);
	assert_int_equal(none.state, SB_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_ready),
		cmocka_unit_test(test_spawn_fails),
		cmocka_unit_test(test_crash_backoff),
		cmocka_unit_test(test_exit_125),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_update_revert),
		cmocka_unit_test(test_update_cannot_start),
		cmocka_unit_test(test_poweroff),
		cmocka_unit_test(test_poweroff_order),
		cmocka_unit_test(test_standby_adopt),
		cmocka_unit_test(test_standby_expire_reap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
