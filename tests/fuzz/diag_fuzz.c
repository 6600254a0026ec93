/* libFuzzer harness for parapet-diagd's Diag endpoint (services/diag/
 * diagd*.c) without a partition: diagd's own server (diagd_server_open,
 * its dispatch table and job threads) in a temporary directory, with
 * stand-in init, policy and vmworker endpoints (and a trace tap of init's)
 * beside it. Each input is one request as the owner's parapet-diag sends
 * it: a method and its body (or a raw envelope), plus how the stand-ins
 * answer. Every request gets a well-formed REPLY of the method's type or
 * an ERROR. An input that starts with 0xfe is the other direction: JSON
 * as diagd sends it to parapet-diag's inspect, stats and timeline views
 * (services/diag/diag_view.c), which must take any document.
 * PARAPET_FUZZ_SEEDS=DIR writes the seed corpus and exits. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "diag.pb-c.h"
#include "envelope.pb-c.h"
#include "init.pb-c.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/util.h"
#include "policy.pb-c.h"
#include "services/diag/diag.h"
#include "services/diag/diagd.h"
#include "tests/fuzz/fuzz_ipc.h"
#include "vmworker.pb-c.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(why) (fprintf(stderr, "diag_fuzz: %s\n", why), __builtin_trap())

#define REPLY_WAIT_MS 20000
#define BODY_MAX      1024

/* How the stand-ins answer (the input's second byte). */
enum {
	SC_POLICY_UP = 1,   /* Ps: policy running */
	SC_VMWORKER_UP = 2, /* Ps: vmworker running */
	SC_INIT_FAILS = 4,  /* init answers every call with an ERROR */
	SC_POLICY_FAILS = 8,
};

static atomic_uint scenario;
static char dir[64];
static struct diagd d;
static struct ipc_server *fake_init, *fake_policy, *fake_vm;
static struct ipc_trace *init_tap;
static nng_socket cli;

/* ------------------------------------------------------ the stand-ins */

static Parapet__ServiceStatus rows[5];
static Parapet__ServiceStatus *row_ptrs[5];

static void fill_row(Parapet__ServiceStatus *r, const char *name, bool up)
{
	parapet__service_status__init(r);
	r->name = (char *)(uintptr_t)name;
	r->state = (char *)(uintptr_t)(up ? "running" : "stopped");
	r->has_pid = r->has_spawns = r->has_uptime_ns = r->has_rss_kib = 1;
	r->pid = up ? getpid() : 0; /* Sandbox reads /proc of the pid */
	r->spawns = 1;
	r->uptime_ns = 1500000000;
	r->rss_kib = 2048;
	if (!up)
		r->last_exit = (char *)(uintptr_t) "exited 3";
}

static int init_ps(struct ipc_request *req, const ProtobufCMessage *in,
		   ProtobufCMessage *out, void *arg)
{
	Parapet__PsReply *o = (Parapet__PsReply *)out;
	unsigned sc = atomic_load(&scenario);

	(void)req;
	(void)in;
	(void)arg;
	if (sc & SC_INIT_FAILS)
		return IPC_ERR_UNAVAILABLE;
	/* Handlers run one at a time per call; the rows are rewritten
	 * only between inputs. */
	o->n_services = 5;
	o->services = row_ptrs;
	o->has_uptime_ns = 1;
	o->uptime_ns = 42;
	return 0;
}

static int init_control(struct ipc_request *req, const ProtobufCMessage *in,
			ProtobufCMessage *out, void *arg)
{
	const Parapet__ServiceRef *ref = (const Parapet__ServiceRef *)in;
	Parapet__ControlReply *o = (Parapet__ControlReply *)out;

	(void)arg;
	if (atomic_load(&scenario) & SC_INIT_FAILS) {
		ipc_request_set_error(req, "no such service");
		return IPC_ERR_HANDLER;
	}
	for (size_t i = 0; i < 5 && ref->name != NULL; i++)
		if (!strcmp(ref->name, rows[i].name))
			o->service = &rows[i];
	return 0;
}

static int init_logs(struct ipc_request *req, const ProtobufCMessage *in,
		     ProtobufCMessage *out, void *arg)
{
	static Parapet__ServiceLog log = PARAPET__SERVICE_LOG__INIT;
	static Parapet__ServiceLog *logs[1] = { &log };
	Parapet__LogsReply *o = (Parapet__LogsReply *)out;

	(void)in;
	(void)arg;
	if (atomic_load(&scenario) & SC_INIT_FAILS)
		return IPC_ERR_UNAVAILABLE;
	log.name = (char *)(uintptr_t) "init";
	log.has_text = 1;
	log.text.data = (uint8_t *)(uintptr_t) "init: started policy\n";
	log.text.len = strlen((const char *)log.text.data);
	o->n_logs = 1;
	o->logs = logs;
	(void)req;
	return 0;
}

static int policy_answer(struct ipc_request *req, const ProtobufCMessage *in,
			 ProtobufCMessage *out, void *arg)
{
	Parapet__PolicyReply *o = (Parapet__PolicyReply *)out;

	(void)in;
	(void)arg;
	if (atomic_load(&scenario) & SC_POLICY_FAILS) {
		ipc_request_set_error(req, "command not allowed in state off");
		return IPC_ERR_DENIED;
	}
	o->state = (char *)(uintptr_t) "running";
	o->has_blackout_ns = 1;
	o->blackout_ns = 1000;
	return 0;
}

static int vm_inspect(struct ipc_request *req, const ProtobufCMessage *in,
		      ProtobufCMessage *out, void *arg)
{
	(void)req;
	(void)in;
	(void)out;
	(void)arg;
	return 0;
}

static const struct ipc_method init_methods[] = {
	{ "Ps", init_ps, IPC_SENDER_ANY, 0 },
	{ "Restart", init_control, IPC_SENDER_ANY, 0 },
	{ "Stop", init_control, IPC_SENDER_ANY, 0 },
	{ "Start", init_control, IPC_SENDER_ANY, 0 },
	{ "Logs", init_logs, IPC_SENDER_ANY, 0 },
};
static const struct ipc_method policy_methods[] = {
	{ "Command", policy_answer, IPC_SENDER_ANY, 0 },
	{ "Status", policy_answer, IPC_SENDER_ANY, 0 },
};
static const struct ipc_method vm_methods[] = {
	{ "Inspect", vm_inspect, IPC_SENDER_ANY, 0 },
};

/* A stand-in's own directory, as in a partition: dir/NAME (made once). */
static const char *svc_dir(const char *name)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		abort();
	return path;
}

static struct ipc_server *fake(const char *name,
			       const ProtobufCServiceDescriptor *svc,
			       const struct ipc_method *m, size_t n,
			       struct ipc_trace *tap)
{
	return fuzz_server(svc_dir(name), name, svc, m, n, 4, tap);
}

static struct ipc_client *client(const char *name,
				 const ProtobufCServiceDescriptor *svc)
{
	return fuzz_client(svc_dir(name), "diagd", name, svc, REPLY_WAIT_MS,
			   4u << 20);
}

/* The trace flag diagd switches, and a tap on init's endpoint under it:
 * Trace requests see init's calls as frames. */
static void open_tap(void)
{
	char path[128];
	struct ipc_trace_config tc = { .service = "init", .path = path };
	int fd;

	snprintf(path, sizeof(path), "%s/trace.flag", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, PARTITION_TRACE_FLAG_SIZE) != 0)
		abort();
	tc.flag =
	    util_map(fd, PARTITION_TRACE_FLAG_SIZE, PROT_READ | PROT_WRITE);
	close(fd);
	snprintf(path, sizeof(path), "%s/init.trace.sock", svc_dir("init"));
	if (tc.flag == NULL || (init_tap = ipc_trace_open(&tc)) == NULL)
		abort();
}

/* ------------------------------------------------------------- setup */

static void teardown(void)
{
	static const char *const files[] = {
		"diag.sock",
		"init/init.sock",
		"policy/policy.sock",
		"vmworker/vmworker.sock",
		"init/init.trace.sock",
		"trace.flag",
		"init",
		"policy",
		"vmworker",
	};
	char path[128];

	nng_close(cli);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (unlink(path) != 0)
			rmdir(path);
	}
	rmdir(dir);
}

static void setup(void)
{
	char url[160];

	log_init("diag_fuzz");
	snprintf(dir, sizeof(dir), "/tmp/parapet-diagfuzz.XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	open_tap();
	fake_init = fake("init", &parapet__init_control__descriptor,
			 init_methods, 5, init_tap);
	fake_policy = fake("policy", &parapet__policy__descriptor,
			   policy_methods, 2, NULL);
	fake_vm = fake("vmworker", &parapet__vm_worker__descriptor, vm_methods,
		       1, NULL);
	d.owner = getuid();
	d.ipc_dir = dir;
	d.start_ns = util_now_ns();
	d.init = client("init", &parapet__init_control__descriptor);
	d.policy = client("policy", &parapet__policy__descriptor);
	d.vmworker = client("vmworker", &parapet__vm_worker__descriptor);
	d.trace = diagd_trace_open(dir);
	snprintf(url, sizeof(url), "%s/diag.sock", dir);
	d.srv = diagd_server_open(&d, url);
	ipc_server_serve(d.srv);
	snprintf(url, sizeof(url), "ipc://%s/diag.sock", dir);
	if (d.trace == NULL || d.srv == NULL || nng_req0_open(&cli) != 0 ||
	    nng_socket_set_ms(cli, NNG_OPT_RECVTIMEO, REPLY_WAIT_MS) != 0 ||
	    nng_dial(cli, url, NULL, 0) != 0)
		abort();
	atexit(teardown);
}

static void set_scenario(unsigned sc)
{
	static const char *const names[5] = { "init", "policy", "vmworker",
					      "hostcomm", "diagd" };

	for (int i = 0; i < 5; i++) {
		bool up = i == 1   ? (sc & SC_POLICY_UP) != 0
			  : i == 2 ? (sc & SC_VMWORKER_UP) != 0
				   : true;

		fill_row(&rows[i], names[i], up);
		row_ptrs[i] = &rows[i];
	}
	atomic_store(&scenario, sc);
}

/* ---------------------------------------------------------- requests */

static nng_msg *envelope(const char *method, const uint8_t *body, size_t len)
{
	return fuzz_envelope("parapet-diag", method, body, len);
}

/* The answer: a REPLY whose body is the method's output, or an ERROR
 * with a known code and a message. */
static void check_reply(nng_msg *msg, const ProtobufCMessageDescriptor *type)
{
	ProtobufCMessage *body = fuzz_check_reply(msg, type, true);

	if (body != NULL)
		protobuf_c_message_free_unpacked(body, NULL);
}

/* A Trace body that decodes waits at most 2 ms (not the 1 s a tracer
 * may ask for); anything else goes as it is. */
static size_t clamp_trace(const uint8_t *b, size_t n, uint8_t *out)
{
	Parapet__DiagTraceRequest *q =
	    parapet__diag_trace_request__unpack(NULL, n, b);

	if (q == NULL || n > BODY_MAX) {
		if (q != NULL)
			parapet__diag_trace_request__free_unpacked(q, NULL);
		memcpy(out, b, n < BODY_MAX ? n : BODY_MAX);
		return n < BODY_MAX ? n : BODY_MAX;
	}
	q->wait_ms %= 3;
	n = parapet__diag_trace_request__pack(q, out);
	parapet__diag_trace_request__free_unpacked(q, NULL);
	return n;
}

/* ------------------------------------------------- parapet-diag's views */

/* 0xfe, a selector (inspect's path and depth, --json), then the JSON. */
static void views(const uint8_t *data, size_t size)
{
	static const char *const paths[4] = { NULL, "vmworker.vm",
					      "init/uptime_ns", "diagd.ipc.0" };
	static bool quiet;
	char *text = malloc(size - 1);
	bool json = data[1] & 0x80;
	json_t *root;

	if (!quiet) /* the views print on stdout */
		quiet = dup2(open("/dev/null", O_WRONLY), 1) == 1;
	if (text == NULL)
		abort();
	memcpy(text, data + 2, size - 2);
	text[size - 2] = '\0';
	root = json_loads(text, 0, NULL);
	free(text);
	if (root == NULL)
		return;
	diag_view_inspect(root, paths[data[1] & 3], (data[1] >> 2) & 7, json);
	diag_view_stats(root, json);
	diag_view_timeline(json_incref(root), json ? NULL : "/dev/null", json);
	json_decref(root);
	fflush(stdout);
}

/* First byte: a Diag method (its index), or a raw envelope past them;
 * second: the scenario; the rest: the body. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCServiceDescriptor *svc = &parapet__diag__descriptor;
	const ProtobufCMethodDescriptor *m = NULL;
	uint8_t body[BODY_MAX];
	nng_msg *msg;
	size_t n;

	if (size >= 2 && data[0] == 0xfe) {
		views(data, size);
		return 0;
	}
	if (d.srv == NULL)
		setup();
	if (size < 2 || size - 2 > BODY_MAX)
		return 0;
	set_scenario(data[1]);
	if (data[0] < svc->n_methods) {
		m = &svc->methods[data[0]];
		n = !strcmp(m->name, "Trace")
			? clamp_trace(data + 2, size - 2, body)
			: (memcpy(body, data + 2, size - 2), size - 2);
		msg = envelope(m->name, body, n);
	} else if (nng_msg_alloc(&msg, 0) != 0 ||
		   nng_msg_append(msg, data + 2, size - 2) != 0) {
		abort();
	}
	if (nng_sendmsg(cli, msg, 0) != 0)
		abort();
	if (nng_recvmsg(cli, &msg, 0) != 0)
		FAIL("no answer: diagd lost a request");
	check_reply(msg, m ? m->output : NULL);
	nng_msg_free(msg);
	return 0;
}

/* ---- seeds: one real request of each kind ---- */

static void seed(const char *dir_out, const char *name, const char *method,
		 unsigned sc, const ProtobufCMessage *q)
{
	const ProtobufCServiceDescriptor *svc = &parapet__diag__descriptor;
	uint8_t buf[2 + BODY_MAX];
	char path[4200];
	size_t n;
	FILE *f;

	buf[0] = 0xff;
	for (unsigned i = 0; i < svc->n_methods; i++)
		if (!strcmp(svc->methods[i].name, method))
			buf[0] = (uint8_t)i;
	buf[1] = (uint8_t)sc;
	n = 2 + protobuf_c_message_pack(q, buf + 2);
	snprintf(path, sizeof(path), "%s/%s", dir_out, name);
	if (buf[0] == 0xff || (f = fopen(path, "wb")) == NULL ||
	    fwrite(buf, 1, n, f) != n || fclose(f) != 0)
		abort();
}

/* The views' seeds: the Inspect document diagd gives for the stand-ins,
 * and a Timeline document as diagd rebuilds it. */
static void seed_text(const char *dir_out, const char *name, unsigned sel,
		      const char *text)
{
	char path[4200];
	size_t n = strlen(text);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir_out, name);
	if ((f = fopen(path, "wb")) == NULL || fputc(0xfe, f) != 0xfe ||
	    fputc((int)sel, f) != (int)sel || fwrite(text, 1, n, f) != n ||
	    fclose(f) != 0)
		abort();
}

static void seed_views(const char *out)
{
	Parapet__DiagInspectRequest q = PARAPET__DIAG_INSPECT_REQUEST__INIT;
	Parapet__DiagInspectReply *r;
	Parapet__Envelope *env;
	nng_msg *msg;

	setup();
	set_scenario(SC_POLICY_UP | SC_VMWORKER_UP);
	msg = envelope("Inspect", NULL, 0);
	(void)q;
	if (nng_sendmsg(cli, msg, 0) != 0 || nng_recvmsg(cli, &msg, 0) != 0)
		abort();
	env = parapet__envelope__unpack(NULL, nng_msg_len(msg),
					nng_msg_body(msg));
	r = env ? parapet__diag_inspect_reply__unpack(NULL, env->body.len,
						      env->body.data)
		: NULL;
	if (r == NULL || r->json == NULL)
		abort();
	seed_text(out, "view_inspect", 0, r->json);
	seed_text(out, "view_inspect_path", 1 | (2 << 2), r->json);
	seed_text(out, "view_timeline", 0,
		  "{\"source\": \"/run/parapet/host/timeline.json\", "
		  "\"stamps\": {\"run_start\": 1000, \"init_ready\": "
		  "2500000, \"vm_first_exit\": 9000000}}");
	parapet__diag_inspect_reply__free_unpacked(r, NULL);
	parapet__envelope__free_unpacked(env, NULL);
	nng_msg_free(msg);
}

static void seeds(const char *out)
{
	Parapet__DiagPsRequest ps = PARAPET__DIAG_PS_REQUEST__INIT;
	Parapet__DiagControlRequest ctl = PARAPET__DIAG_CONTROL_REQUEST__INIT;
	Parapet__DiagLogsRequest logs = PARAPET__DIAG_LOGS_REQUEST__INIT;
	Parapet__DiagTraceRequest tr = PARAPET__DIAG_TRACE_REQUEST__INIT;
	Parapet__DiagInspectRequest ins = PARAPET__DIAG_INSPECT_REQUEST__INIT;
	Parapet__DiagDtRequest dt = PARAPET__DIAG_DT_REQUEST__INIT;
	Parapet__DiagTimelineRequest tl = PARAPET__DIAG_TIMELINE_REQUEST__INIT;
	Parapet__DiagVmRequest vm = PARAPET__DIAG_VM_REQUEST__INIT;
	Parapet__DiagSandboxRequest sb = PARAPET__DIAG_SANDBOX_REQUEST__INIT;
	const unsigned up = SC_POLICY_UP | SC_VMWORKER_UP;

	seed(out, "ps", "Ps", up, &ps.base);
	ctl.action = (char *)(uintptr_t) "restart";
	ctl.service = (char *)(uintptr_t) "policy";
	seed(out, "control_restart", "Control", up, &ctl.base);
	ctl.service = (char *)(uintptr_t) "vmworker";
	seed(out, "control_service_vmworker", "Control", up, &ctl.base);
	ctl.action = (char *)(uintptr_t) "stop";
	ctl.service = (char *)(uintptr_t) "diagd";
	seed(out, "control_stop_self", "Control", up, &ctl.base);
	logs.service = (char *)(uintptr_t) "init";
	logs.has_max_bytes = 1;
	logs.max_bytes = 4096;
	seed(out, "logs", "Logs", up, &logs.base);
	tr.has_max_frames = tr.has_wait_ms = 1;
	tr.max_frames = 8;
	tr.wait_ms = 2;
	seed(out, "trace", "Trace", up, &tr.base);
	seed(out, "inspect", "Inspect", up, &ins.base);
	seed(out, "dt", "Dt", up, &dt.base);
	seed(out, "timeline", "Timeline", up, &tl.base);
	vm.command = (char *)(uintptr_t) "status";
	seed(out, "vm_status", "Vm", up, &vm.base);
	seed(out, "vm_no_policy", "Vm", SC_VMWORKER_UP, &vm.base);
	sb.service = (char *)(uintptr_t) "policy";
	seed(out, "sandbox", "Sandbox", up, &sb.base);
	seed_views(out);
	exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *out = getenv("PARAPET_FUZZ_SEEDS");

	(void)argc;
	(void)argv;
	if (out != NULL)
		seeds(out);
	return 0;
}
