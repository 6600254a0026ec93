/* The host side of the host channel (host/hostchan.c) over real nng
 * sockets in a temporary run directory: console bytes written once each
 * whatever the re-sends, stdin served by offset until acknowledged, ctl
 * commands through Poll and CommandDone (re-sent to the next poll when
 * not done), refusals after the guest event. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/hostchan.h"
#include "hostchan.pb-c.h"
#include "hostctl.pb-c.h"
#include "lib/fdchan.h"
#include "lib/ipc.h"

struct fixture {
	char dir[64], sock[128], ctl[128];
	int out[2], in[2];
	int fds[2]; /* the descriptor channel: ours, init's */
	struct hostchan *h;
	struct ipc_client *c;
	pthread_t ticker;
	volatile int stop;
};

static void *ticker(void *arg)
{
	struct fixture *f = arg;

	while (!f->stop) {
		hostchan_tick(f->h);
		usleep(5000);
	}
	return NULL;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct ipc_client_config cfg = {
		.name = "hostcomm",
		.path = f->sock,
		.service = &parapet__host_channel__descriptor,
		.timeout_ms = 30000, /* bounds a hang only */
	};

	snprintf(f->dir, sizeof(f->dir), "/tmp/hostchan-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/host.sock", f->dir);
	snprintf(f->ctl, sizeof(f->ctl), "%s/ctl.sock", f->dir);
	assert_int_equal(pipe(f->out), 0);
	assert_int_equal(pipe(f->in), 0);
	fcntl(f->out[0], F_SETFL, O_NONBLOCK);
	assert_int_equal(fdchan_pair(f->fds), 0);
	f->h = hostchan_open(f->dir, f->out[1], f->in[0], f->fds[0], getuid());
	assert_non_null(f->h);
	f->c = ipc_client_open(&cfg);
	assert_non_null(f->c);
	pthread_create(&f->ticker, NULL, ticker, f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	f->stop = 1;
	pthread_join(f->ticker, NULL);
	ipc_client_close(f->c);
	hostchan_close(f->h);
	close(f->out[0]);
	close(f->out[1]);
	close(f->in[0]);
	close(f->fds[0]);
	close(f->fds[1]);
	if (f->in[1] >= 0)
		close(f->in[1]);
	unlink(f->sock);
	unlink(f->ctl);
	rmdir(f->dir);
	free(f);
	return 0;
}

static uint64_t console(struct fixture *f, uint64_t off, const char *s)
{
	Parapet__ConsoleBatch b = PARAPET__CONSOLE_BATCH__INIT;
	Parapet__ConsoleBatchAck *ack = NULL;
	uint64_t acked;

	b.has_offset = b.has_data = 1;
	b.offset = off;
	b.data.data = (uint8_t *)(uintptr_t)s;
	b.data.len = strlen(s);
	assert_int_equal(
	    ipc_call(f->c, "Console", &b.base, (ProtobufCMessage **)&ack), 0);
	acked = ack->acked;
	ipc_free(&ack->base);
	return acked;
}

static void test_console_once(void **state)
{
	struct fixture *f = *state;
	char buf[64] = "";
	ssize_t n;

	assert_int_equal(console(f, 0, "abc"), 3);
	assert_int_equal(console(f, 0, "abcdef"), 6); /* a re-send */
	assert_int_equal(console(f, 2, "cdefgh"), 8); /* overlapping */
	assert_int_equal(console(f, 0, "ab"), 8);     /* old: dropped */
	n = read(f->out[0], buf, sizeof(buf) - 1);
	assert_int_equal(n, 8);
	assert_string_equal(buf, "abcdefgh");
	assert_int_equal(hostchan_console_bytes(f->h), 8);
	assert_true(hostchan_first_console_ns(f->h) > 0);
}

/* A batch without data past the end (found by hostchan_fuzz: the write
 * used a NULL data pointer) declares a gap: nothing is written and no
 * console byte counts as seen, but the ack moves past the gap. */
static void test_console_empty_batch(void **state)
{
	Parapet__ConsoleBatch b = PARAPET__CONSOLE_BATCH__INIT;
	Parapet__ConsoleBatchAck *ack = NULL;
	struct fixture *f = *state;
	char buf[16];

	b.has_offset = 1;
	b.offset = 5;
	assert_int_equal(
	    ipc_call(f->c, "Console", &b.base, (ProtobufCMessage **)&ack), 0);
	assert_int_equal(ack->acked, 5);
	ipc_free(&ack->base);
	assert_int_equal(read(f->out[0], buf, sizeof(buf)), -1);
	assert_int_equal(hostchan_first_console_ns(f->h), 0);
	assert_int_equal(console(f, 5, "xy"), 7);
	assert_int_equal(read(f->out[0], buf, sizeof(buf)), 2);
	assert_true(hostchan_first_console_ns(f->h) > 0);
}

struct tap_seen {
	char bytes[64];
	size_t len, calls;
};

static void tap(void *arg, const uint8_t *p, size_t n)
{
	struct tap_seen *t = arg;

	assert_true(n <= sizeof(t->bytes) - 1 - t->len);
	memcpy(t->bytes + t->len, p, n);
	t->len += n;
	t->calls++;
}

/* The tap (attached consoles) gets each byte once, as out_fd does. */
static void test_console_tap(void **state)
{
	struct fixture *f = *state;
	struct tap_seen t = { .len = 0 };

	hostchan_set_tap(f->h, tap, &t);
	assert_int_equal(console(f, 0, "abc"), 3);
	assert_int_equal(console(f, 1, "bcdef"), 6); /* overlapping */
	assert_int_equal(console(f, 0, "abc"), 6);   /* old: dropped */
	assert_int_equal(t.calls, 2);
	assert_int_equal(t.len, 6);
	assert_memory_equal(t.bytes, "abcdef", 6);
	hostchan_set_tap(f->h, NULL, NULL);
	assert_int_equal(console(f, 6, "g"), 7);
	assert_int_equal(t.len, 6);
}

static Parapet__HostWork *poll_work(struct fixture *f, uint64_t ack,
				    uint32_t wait_ms)
{
	Parapet__HostPoll q = PARAPET__HOST_POLL__INIT;
	Parapet__HostWork *w = NULL;

	q.has_wait_ms = q.has_input_ack = 1;
	q.wait_ms = wait_ms;
	q.input_ack = ack;
	assert_int_equal(
	    ipc_call(f->c, "Poll", &q.base, (ProtobufCMessage **)&w), 0);
	return w;
}

static void test_input_until_acked(void **state)
{
	struct fixture *f = *state;
	Parapet__HostWork *w;

	assert_int_equal(write(f->in[1], "hello", 5), 5);
	hostchan_on_input(f->h);
	w = poll_work(f, 0, 500);
	assert_int_equal(w->input_offset, 0);
	assert_memory_equal(w->input.data, "hello", 5);
	ipc_free(&w->base);
	w = poll_work(f, 2, 500); /* hostcomm handed 2 bytes on */
	assert_int_equal(w->input_offset, 2);
	assert_int_equal(w->input.len, 3);
	assert_memory_equal(w->input.data, "llo", 3);
	ipc_free(&w->base);
	w = poll_work(f, 0, 50); /* a restarted hostcomm: from the ack */
	assert_int_equal(w->input_offset, 2);
	ipc_free(&w->base);
	w = poll_work(f, 5, 50); /* nothing left: the long poll expires */
	assert_int_equal(w->input.len, 0);
	assert_false(w->input_closed);
	ipc_free(&w->base);
	close(f->in[1]);
	f->in[1] = -1;
	hostchan_on_input(f->h); /* EOF closes input only */
	assert_int_equal(hostchan_input_fd(f->h), -1);
	w = poll_work(f, 5, 0);
	assert_true(w->input_closed);
	ipc_free(&w->base);
}

/* Input of attached consoles joins stdin's in one stream, bounded. */
static void test_put_input(void **state)
{
	struct fixture *f = *state;
	static uint8_t big[128 * 1024];
	Parapet__HostWork *w;
	size_t room;

	assert_int_equal(write(f->in[1], "ab", 2), 2);
	hostchan_on_input(f->h);
	room = hostchan_input_room(f->h);
	assert_int_equal(hostchan_put_input(f->h, "cd", 2), 2);
	assert_int_equal(hostchan_input_room(f->h), room - 2);
	w = poll_work(f, 0, 500);
	assert_int_equal(w->input_offset, 0);
	assert_int_equal(w->input.len, 4);
	assert_memory_equal(w->input.data, "abcd", 4);
	ipc_free(&w->base);
	/* more than fits: what fits is taken, then nothing */
	assert_int_equal(hostchan_put_input(f->h, big, sizeof(big)), room - 2);
	assert_int_equal(hostchan_input_room(f->h), 0);
	assert_int_equal(hostchan_put_input(f->h, "x", 1), 0);
	assert_int_equal(hostchan_input_fd(f->h), -1); /* stdin waits too */
	w = poll_work(f, 4, 0); /* handed on: room again */
	ipc_free(&w->base);
	assert_int_equal(hostchan_input_room(f->h), 4);
}

struct ctl_call {
	struct fixture *f;
	const char *command, *binary;
	Parapet__HostCommandDone *done;
	int rc;
};

static void *ctl_thread(void *arg)
{
	struct ctl_call *cc = arg;
	struct ipc_client_config cfg = {
		.name = "ctl",
		.path = cc->f->ctl,
		.service = &parapet__host_ctl__descriptor,
		.timeout_ms = 30000, /* bounds a hang only */
	};
	Parapet__PolicyCommand pc = PARAPET__POLICY_COMMAND__INIT;
	struct ipc_client *c = ipc_client_open(&cfg);

	pc.command = (char *)(uintptr_t)cc->command;
	pc.binary = (char *)(uintptr_t)cc->binary;
	cc->rc =
	    ipc_call(c, "Command", &pc.base, (ProtobufCMessage **)&cc->done);
	ipc_client_close(c);
	return NULL;
}

/* Polls until a command arrives; returns its id (and in *token, when
 * not NULL, the binary token it carries). */
static uint64_t take_command_token(struct fixture *f, const char *want,
				   uint64_t *token)
{
	for (int i = 0; i < 50; i++) {
		Parapet__HostWork *w = poll_work(f, 0, 200);
		uint64_t id = 0;

		if (w->n_commands == 1) {
			const Parapet__PolicyCommand *pc =
			    w->commands[0]->command;

			assert_string_equal(pc->command, want);
			assert_null(pc->binary); /* paths stay on the host */
			id = w->commands[0]->id;
			if (token != NULL)
				*token =
				    pc->has_binary_token ? pc->binary_token : 0;
		}
		ipc_free(&w->base);
		if (id)
			return id;
	}
	fail_msg("no command arrived");
	return 0;
}

static uint64_t take_command(struct fixture *f, const char *want)
{
	return take_command_token(f, want, NULL);
}

static void command_done(struct fixture *f, uint64_t id, int ok,
			 const char *error, const char *state)
{
	Parapet__HostCommandDone d = PARAPET__HOST_COMMAND_DONE__INIT;
	Parapet__PolicyReply r = PARAPET__POLICY_REPLY__INIT;
	ProtobufCMessage *ack = NULL;

	d.has_id = d.has_ok = 1;
	d.id = id;
	d.ok = ok;
	d.error = (char *)(uintptr_t)error;
	r.state = (char *)(uintptr_t)state;
	d.reply = ok ? &r : NULL;
	assert_int_equal(ipc_call(f->c, "CommandDone", &d.base, &ack), 0);
	ipc_free(ack);
}

static void test_ctl_commands(void **state)
{
	struct fixture *f = *state;
	struct ctl_call cc = { f, "pause", NULL, NULL, -1 };
	Parapet__GuestEvent ev = PARAPET__GUEST_EVENT__INIT;
	ProtobufCMessage *ack = NULL;
	pthread_t t;
	uint64_t id;

	pthread_create(&t, NULL, ctl_thread, &cc);
	command_done(f, take_command(f, "pause"), 1, NULL, "paused");
	pthread_join(t, NULL);
	assert_int_equal(cc.rc, 0);
	assert_true(cc.done->ok);
	assert_string_equal(cc.done->reply->state, "paused");
	ipc_free(&cc.done->base);

	/* a hostcomm that died with the command: the next poll has it */
	cc = (struct ctl_call){ f, "resume", NULL, NULL, -1 };
	pthread_create(&t, NULL, ctl_thread, &cc);
	id = take_command(f, "resume");
	assert_int_equal(take_command(f, "resume"), id);
	command_done(f, id, 0, "not allowed", NULL);
	pthread_join(t, NULL);
	assert_false(cc.done->ok);
	assert_string_equal(cc.done->error, "not allowed");
	ipc_free(&cc.done->base);

	/* after the guest event, commands are refused at once */
	ev.state = (char *)(uintptr_t) "poweroff";
	assert_int_equal(ipc_call(f->c, "Event", &ev.base, &ack), 0);
	ipc_free(ack);
	cc = (struct ctl_call){ f, "status", NULL, NULL, -1 };
	ctl_thread(&cc);
	assert_int_equal(cc.rc, 0);
	assert_false(cc.done->ok);
	assert_non_null(strstr(cc.done->error, "VM not running"));
	ipc_free(&cc.done->base);
}

/* One poll carrying policy's state, as hostcomm sends it. */
static void poll_state(struct fixture *f, const char *state)
{
	Parapet__HostPoll q = PARAPET__HOST_POLL__INIT;
	Parapet__HostWork *w = NULL;

	q.has_wait_ms = 1;
	q.wait_ms = 0;
	q.vm_state = (char *)(uintptr_t)state;
	assert_int_equal(
	    ipc_call(f->c, "Poll", &q.base, (ProtobufCMessage **)&w), 0);
	ipc_free(&w->base);
}

static void expect_state(struct fixture *f, const char *want)
{
	char st[16];

	hostchan_vm_state(f->h, st, sizeof(st));
	assert_string_equal(st, want);
}

/* `parapet list`'s state: policy's as each poll says it, in list's words;
 * a name it does not know changes nothing; after the guest event, the
 * event's. */
static void test_vm_state(void **state)
{
	struct fixture *f = *state;
	Parapet__GuestEvent ev = PARAPET__GUEST_EVENT__INIT;
	ProtobufCMessage *ack = NULL;

	expect_state(f, "");
	poll_state(f, "starting");
	expect_state(f, "booting");
	poll_state(f, "paused");
	expect_state(f, "paused");
	poll_state(f, "\033[2Jnonsense");
	expect_state(f, "paused");
	poll_state(f, NULL);
	expect_state(f, "paused");
	poll_state(f, "restoring");
	expect_state(f, "servicing");
	poll_state(f, "running");
	expect_state(f, "running");
	ev.state = (char *)(uintptr_t) "poweroff";
	assert_int_equal(ipc_call(f->c, "Event", &ev.base, &ack), 0);
	ipc_free(ack);
	expect_state(f, "stopped");
	poll_state(f, "running");
	expect_state(f, "stopped");
}

/* service --binary PATH: parapet run opens the file and sends the
 * descriptor to init under the command's id; the command carries only
 * that token. A path it cannot open is refused on the spot. */
static void test_ctl_binary_descriptor(void **state)
{
	struct fixture *f = *state;
	struct ctl_call cc = { f, "service", "/bin/true", NULL, -1 };
	struct fdchan_msg m;
	struct stat a, b;
	const char *why;
	uint64_t id, token = 0;
	pthread_t t;
	int fd = -1;

	pthread_create(&t, NULL, ctl_thread, &cc);
	id = take_command_token(f, "service", &token);
	assert_int_equal(token, id);
	assert_int_equal(fdchan_recv(f->fds[1], &m, &fd, &why), 1);
	assert_int_equal(m.kind, FDCHAN_BINARY);
	assert_int_equal(m.token, id);
	assert_string_equal(m.label, "/bin/true");
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(stat("/bin/true", &b), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	close(fd);
	command_done(f, id, 1, NULL, "running");
	pthread_join(t, NULL);
	assert_true(cc.done->ok);
	ipc_free(&cc.done->base);

	cc = (struct ctl_call){ f, "service", "/nonexistent/vmw", NULL, -1 };
	ctl_thread(&cc);
	assert_false(cc.done->ok);
	assert_non_null(strstr(cc.done->error, "No such file"));
	ipc_free(&cc.done->base);
	cc = (struct ctl_call){ f, "service", "relative/vmw", NULL, -1 };
	ctl_thread(&cc);
	assert_false(cc.done->ok);
	assert_non_null(strstr(cc.done->error, "not an absolute path"));
	ipc_free(&cc.done->base);
	/* nothing more went to init */
	assert_int_equal(fdchan_recv(f->fds[1], &m, &fd, &why), 0);
}

/* init's end refuses what is not one header with one descriptor. */
static void test_fdchan_malformed(void **state)
{
	struct fdchan_msg m = { .version = FDCHAN_VERSION, .token = 1 };
	const char *why;
	int sv[2], fd;

	(void)state;
	assert_int_equal(fdchan_pair(sv), 0);
	assert_int_equal(fdchan_recv(sv[1], &m, &fd, &why), 0);
	assert_int_equal(send(sv[0], &m, sizeof(m), 0), (ssize_t)sizeof(m));
	assert_int_equal(fdchan_recv(sv[1], &m, &fd, &why), -2);
	assert_string_equal(why, "not exactly one descriptor");
	assert_int_equal(send(sv[0], "x", 1, 0), 1);
	assert_int_equal(fdchan_recv(sv[1], &m, &fd, &why), -2);
	assert_string_equal(why, "wrong size");
	assert_int_equal(fdchan_send(sv[0], FDCHAN_BINARY, 0, "", 0), 0);
	assert_int_equal(fdchan_recv(sv[1], &m, &fd, &why), -2);
	assert_string_equal(why, "token 0");
	assert_int_equal(fdchan_send(sv[0], FDCHAN_BINARY, 7, "/x", 0), 0);
	assert_int_equal(fdchan_recv(sv[1], &m, &fd, &why), 1);
	assert_true(fd > 2 && m.token == 7);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	close(sv[0]);
	assert_int_equal(fdchan_recv(sv[1], &m, &fd, &why), -1);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_console_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_console_tap, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_put_input, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_console_empty_batch, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_input_until_acked, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_vm_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctl_commands, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ctl_binary_descriptor,
						setup, teardown),
		cmocka_unit_test(test_fdchan_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
