/* parapet-fake-vmworker: a stand-in VmWorker service for the e2e tests of
 * policy and hostcomm (a real nng server speaking proto/vmworker.proto).
 * After Start it "runs" a guest that prints --lines numbered lines (or
 * echoes its console input with --echo until a line "quit"), then powers
 * off with --exit VALUE or crashes with --crash REASON, and reports it
 * to policy with VmEvent until acknowledged. It runs as vmworker's uid,
 * the caller policy takes VmEvent from. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/supervise.h"
#include "lib/svcbase.h"
#include "lib/util.h"
#include "policy.pb-c.h"
#include "tests/e2e/become.h"
#include "vmworker.pb-c.h"

#define STREAM_MAX (1u << 20)

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char state[16];
	uint8_t out[STREAM_MAX];
	size_t out_len, acked;
	char line[256];
	size_t line_len;
	int quit;
	uint64_t start_ns;
} vm = { .lock = PTHREAD_MUTEX_INITIALIZER,
	 .cond = PTHREAD_COND_INITIALIZER,
	 .state = "created" };

static int opt_lines = 5, opt_exit, opt_echo, opt_delay_ms = 5;
static const char *opt_crash;

static void vm_emit(const char *s, size_t n)
{
	pthread_mutex_lock(&vm.lock);
	if (n > STREAM_MAX - vm.out_len)
		n = STREAM_MAX - vm.out_len;
	memcpy(vm.out + vm.out_len, s, n);
	vm.out_len += n;
	pthread_cond_broadcast(&vm.cond);
	pthread_mutex_unlock(&vm.lock);
}

static void fill_status(Parapet__VmStatus *st)
{
	st->state = vm.state;
	st->accel = (char *)(uintptr_t) "fake";
	st->has_vp_count = st->has_exit_value = 1;
	st->vp_count = 1;
	st->exit_value = opt_exit;
	if (vm.start_ns) {
		st->has_uptime_ns = 1;
		st->uptime_ns = util_now_ns() - vm.start_ns;
	}
	if (opt_crash && !strcmp(vm.state, "crashed"))
		st->crash_reason = (char *)(uintptr_t)opt_crash;
}

static int on_start(struct ipc_request *req, const ProtobufCMessage *in,
		    ProtobufCMessage *out, void *arg)
{
	(void)req, (void)in, (void)arg;
	pthread_mutex_lock(&vm.lock);
	if (!strcmp(vm.state, "created")) {
		snprintf(vm.state, sizeof(vm.state), "running");
		vm.start_ns = util_now_ns();
		pthread_cond_broadcast(&vm.cond);
	}
	fill_status((Parapet__VmStatus *)out);
	pthread_mutex_unlock(&vm.lock);
	return 0;
}

static int set_state(ProtobufCMessage *out, const char *from, const char *to)
{
	int rc = 0;

	pthread_mutex_lock(&vm.lock);
	if (strcmp(vm.state, from))
		rc = IPC_ERR_HANDLER;
	else
		snprintf(vm.state, sizeof(vm.state), "%s", to);
	pthread_cond_broadcast(&vm.cond);
	fill_status((Parapet__VmStatus *)out);
	pthread_mutex_unlock(&vm.lock);
	return rc;
}

static int on_pause(struct ipc_request *req, const ProtobufCMessage *in,
		    ProtobufCMessage *out, void *arg)
{
	(void)req, (void)in, (void)arg;
	return set_state(out, "running", "paused");
}

static int on_resume(struct ipc_request *req, const ProtobufCMessage *in,
		     ProtobufCMessage *out, void *arg)
{
	(void)req, (void)in, (void)arg;
	return set_state(out, "paused", "running");
}

static int on_status(struct ipc_request *req, const ProtobufCMessage *in,
		     ProtobufCMessage *out, void *arg)
{
	(void)req, (void)in, (void)arg;
	pthread_mutex_lock(&vm.lock);
	fill_status((Parapet__VmStatus *)out);
	pthread_mutex_unlock(&vm.lock);
	return 0;
}

static int on_take(struct ipc_request *req, const ProtobufCMessage *in,
		   ProtobufCMessage *out, void *arg)
{
	const Parapet__ConsoleTakeRequest *q =
	    (const Parapet__ConsoleTakeRequest *)in;
	Parapet__ConsoleChunk *c = (Parapet__ConsoleChunk *)out;
	struct timespec until;
	size_t n;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec +=
	    (long)(q->wait_ms > 1000 ? 1000 : q->wait_ms) * 1000000;
	until.tv_sec += until.tv_nsec / 1000000000;
	until.tv_nsec %= 1000000000;
	pthread_mutex_lock(&vm.lock);
	if (q->ack > vm.acked && q->ack <= vm.out_len)
		vm.acked = q->ack;
	while (vm.out_len == vm.acked &&
	       pthread_cond_timedwait(&vm.cond, &vm.lock, &until) == 0)
		;
	n = vm.out_len - vm.acked;
	if (n > q->max_bytes)
		n = q->max_bytes;
	c->has_offset = c->has_data = 1;
	c->offset = vm.acked;
	c->data.len = n;
	c->data.data = ipc_request_alloc(req, n ? n : 1);
	memcpy(c->data.data, vm.out + vm.acked, n);
	pthread_mutex_unlock(&vm.lock);
	return 0;
}

static int on_input(struct ipc_request *req, const ProtobufCMessage *in,
		    ProtobufCMessage *out, void *arg)
{
	const Parapet__ConsoleInputRequest *q =
	    (const Parapet__ConsoleInputRequest *)in;
	Parapet__ConsoleInputReply *r = (Parapet__ConsoleInputReply *)out;

	(void)req, (void)arg;
	r->has_accepted = 1;
	r->accepted = (uint32_t)q->data.len;
	for (size_t i = 0; opt_echo && i < q->data.len; i++) {
		char ch = (char)q->data.data[i];

		pthread_mutex_lock(&vm.lock);
		if (vm.line_len < sizeof(vm.line) - 1)
			vm.line[vm.line_len++] = ch;
		pthread_mutex_unlock(&vm.lock);
		if (ch != '\n')
			continue;
		vm_emit("echo: ", 6);
		vm_emit(vm.line, vm.line_len);
		if (vm.line_len == 5 && !memcmp(vm.line, "quit\n", 5))
			vm.quit = 1;
		vm.line_len = 0;
	}
	pthread_cond_broadcast(&vm.cond);
	return 0;
}

static const struct ipc_method methods[] = {
	{ "Start", on_start, IPC_SENDER_ANY, 0 },
	{ "Pause", on_pause, IPC_SENDER_ANY, 0 },
	{ "Resume", on_resume, IPC_SENDER_ANY, 0 },
	{ "Status", on_status, IPC_SENDER_ANY, 0 },
	{ "ConsoleTake", on_take, IPC_SENDER_ANY, 0 },
	{ "ConsoleInput", on_input, IPC_SENDER_ANY, 0 },
};

/* The "guest": waits for Start, prints, ends. */
static void guest_run(void)
{
	char buf[64];

	pthread_mutex_lock(&vm.lock);
	while (strcmp(vm.state, "running"))
		pthread_cond_wait(&vm.cond, &vm.lock);
	pthread_mutex_unlock(&vm.lock);
	for (int i = 1; i <= opt_lines; i++) {
		int n = snprintf(buf, sizeof(buf), "line %d\n", i);

		vm_emit(buf, (size_t)n);
		usleep((useconds_t)opt_delay_ms * 1000);
		pthread_mutex_lock(&vm.lock);
		while (!strcmp(vm.state, "paused"))
			pthread_cond_wait(&vm.cond, &vm.lock);
		pthread_mutex_unlock(&vm.lock);
	}
	while (opt_echo && !vm.quit)
		usleep(5000);
	pthread_mutex_lock(&vm.lock);
	snprintf(vm.state, sizeof(vm.state),
		 opt_crash ? "crashed" : "poweroff");
	pthread_mutex_unlock(&vm.lock);
}

static void report_end(void)
{
	struct ipc_client *pc =
	    svcbase_client("vmworker", "policy", NULL,
			   &parapet__policy__descriptor, 2000, NULL);
	Parapet__VmEventNotice ev = PARAPET__VM_EVENT_NOTICE__INIT;
	ProtobufCMessage *ack = NULL;

	ev.state = vm.state;
	ev.has_exit_value = 1;
	ev.exit_value = opt_exit;
	ev.reason = (char *)(uintptr_t)(opt_crash ? opt_crash : "");
	while (ipc_call(pc, "VmEvent", &ev.base, &ack) != 0)
		usleep(100000);
	ipc_free(ack);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "lines", required_argument, NULL, 'l' },
		{ "exit", required_argument, NULL, 'e' },
		{ "crash", required_argument, NULL, 'c' },
		{ "delay-ms", required_argument, NULL, 'd' },
		{ "echo", no_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 },
	};
	struct ipc_listen l = { PARTITION_IPC_DIR "/vmworker/vmworker.sock", 1,
				0660 };
	struct ipc_server_config cfg = {
		.name = "vmworker",
		.listen = &l,
		.n_listen = 1,
		.service = &parapet__vm_worker__descriptor,
		.methods = methods,
		.n_methods = sizeof(methods) / sizeof(methods[0]),
		.n_contexts = 16,
	};
	int c;

	log_init("fake-vmworker");
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'l')
			opt_lines = atoi(optarg);
		else if (c == 'e')
			opt_exit = atoi(optarg);
		else if (c == 'c')
			opt_crash = optarg;
		else if (c == 'd')
			opt_delay_ms = atoi(optarg);
		else if (c == 'E')
			opt_echo = 1;
		else
			return PARTITION_EXIT_SETUP;
	}
	c = svcbase_take_fd(NULL, 100);
	/* Its VmEvent is accepted from vmworker's uid only (policy hears of
	 * the end from it, nothing polls); before nng starts its threads. */
	if (become_ids("fake-vmworker", "vmworker",
		       registry_find(SVC_NAME_VMWORKER)) != 0)
		log_warnx("runs as root: policy will refuse its VmEvent");
	if (ipc_server_open(&cfg) == NULL)
		return PARTITION_EXIT_SETUP;
	supervise_ready(SUPERVISE_FD, "vmworker");
	guest_run();
	report_end();
	pause(); /* until init stops it */
	return 0;
}
