/* ipc_probe: IPC misbehaviour tried for real against a partition (e2e
 * only, never installed).
 * [--as SERVICE|root] SOCKET: the caller matrix of one endpoint. As the
 * named service's uid (and the IPC group), it asks the endpoint's Stats
 * for its method table's callers, then calls every method in it with a
 * body that cannot decode: an allowed caller gets "malformed" (the check
 * comes first, so no handler runs and nothing changes), a refused one
 * "sender not allowed". Prints one line per method and exits 1 when any
 * answer differs from the table, 2 on a usage or connection error.
 * --connect PATH / --read PATH / --write PATH in SOCKET's place: whether
 * that service may connect to a socket file / open a file (exit 0 yes, 3
 * refused by permissions); --drop PATH: handshakes cut short.
 * --bad-request malformed|big|huge SOCKET: a request diagd must refuse
 * on its diag.sock (prints the error; "accepted" and exit 1 if served).
 * --unknown-method SOCKET: a method no release has (upgrade.sh, against
 * an older release's service): exit 0 when the answer is the unknown
 * method error, 1 otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "diag.pb-c.h"
#include "envelope.pb-c.h"
#include "lib/caller.h"
#include "lib/ipc.h"
#include "sandbox/sandbox.h"
#include "tests/e2e/become.h"

/* Becomes the service named (tests/e2e/become.h); returns its caller
 * bit, 0 for root (no bit). -1 on error. */
static long become(const char *who)
{
	return become_service("ipc_probe", who);
}

/* One request envelope for method with body; the reply envelope or NULL. */
static Parapet__Envelope *call(nng_socket sock, const char *method,
			       const uint8_t *body, size_t len)
{
	Parapet__Envelope env = PARAPET__ENVELOPE__INIT;
	uint8_t buf[256];
	nng_msg *m;
	Parapet__Envelope *rep = NULL;
	size_t n;

	env.method = (char *)(uintptr_t)method;
	env.source = (char *)(uintptr_t) "ipc_probe";
	env.has_kind = 1;
	env.kind = PARAPET__ENVELOPE__KIND__REQUEST;
	env.has_body = 1;
	env.body.len = len;
	env.body.data = (uint8_t *)(uintptr_t)body;
	if (parapet__envelope__get_packed_size(&env) > sizeof(buf))
		return NULL;
	n = parapet__envelope__pack(&env, buf);
	if (nng_msg_alloc(&m, n) != 0)
		return NULL;
	memcpy(nng_msg_body(m), buf, n);
	if (nng_sendmsg(sock, m, 0) != 0) {
		nng_msg_free(m);
		return NULL;
	}
	if (nng_recvmsg(sock, &m, 0) != 0)
		return NULL;
	rep = parapet__envelope__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
	nng_msg_free(m);
	return rep;
}

/* The error code of an ERROR reply (as a negative ipc_err), 0 for a
 * REPLY, 1 for no answer. */
static int answer_code(Parapet__Envelope *rep)
{
	Parapet__Error *err;
	int code = 0;

	if (rep == NULL)
		return 1;
	if (rep->kind == PARAPET__ENVELOPE__KIND__ERROR) {
		err =
		    parapet__error__unpack(NULL, rep->body.len, rep->body.data);
		code = err ? -err->code : 1;
		parapet__error__free_unpacked(err, NULL);
	}
	parapet__envelope__free_unpacked(rep, NULL);
	return code;
}

/* --drop PATH: 20 connections closed before the SP handshake, what
 * stops an nng 1.5.2 listener for good unless its watchdog re-creates
 * it. 0, or 2 when a connect fails. */
static int drop_handshakes(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return 2;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	for (int i = 0; i < 20; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			perror(path);
			return 2;
		}
		close(fd);
	}
	return 0;
}

/* --connect / --write: 0 allowed, 3 refused (EACCES/EPERM), 2 other. */
static int try_access(const char *how, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (!strcmp(how, "--write") || !strcmp(how, "--read")) {
		fd = open(path,
			  (how[2] == 'w' ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
	} else {
		if (strlen(path) >= sizeof(sa.sun_path))
			return 2;
		memcpy(sa.sun_path, path, strlen(path) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 &&
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			close(fd);
			fd = -1;
		}
	}
	rc = fd >= 0 ? 0 : errno == EACCES || errno == EPERM ? 3 : 2;
	if (fd >= 0)
		close(fd);
	printf("%s %s: %s\n", how + 2, path,
	       rc == 0	 ? "allowed"
	       : rc == 3 ? "refused"
			 : strerror(errno));
	return rc;
}

static void bad_request_alarm(int sig)
{
	static const char msg[] = "no reply (dropped by the server)\n";

	(void)sig;
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(0);
}

/* --bad-request HOW SOCKET, against diagd's diag.sock: a body that does
 * not decode as the method's type (malformed), one over the method's
 * limit (big), and one over the socket's limit (huge: dropped by nng, the
 * call times out). 0 when refused, 1 when accepted or unreachable. */
static int bad_request(const char *how, const char *path)
{
	static const unsigned idx[] = { 0, 1 };
	ProtobufCMethodDescriptor m[2] = {
		{ "Control", &parapet__diag_trace_reply__descriptor,
		  &parapet__diag_control_reply__descriptor },
		{ "Logs", &parapet__diag_logs_request__descriptor,
		  &parapet__logs_reply__descriptor },
	};
	ProtobufCServiceDescriptor sd = parapet__diag__descriptor;
	Parapet__DiagTraceReply bad = PARAPET__DIAG_TRACE_REPLY__INIT;
	Parapet__DiagLogsRequest big = PARAPET__DIAG_LOGS_REQUEST__INIT;
	struct ipc_client_config cfg = {
		.name = "diag", .path = path, .service = &sd, .timeout_ms = 3000
	};
	size_t size = !strcmp(how, "huge") ? 200000 : 4000;
	ProtobufCMessage *r = NULL;
	struct ipc_client *c;
	char *name;
	int rc;

	/* over recv-max nng drops the message and the pipe; the call itself
	 * may then wait past its timeout while nng redials and resends */
	signal(SIGALRM, bad_request_alarm);
	alarm(8);
	sd.n_methods = 2;
	sd.methods = m;
	sd.method_indices_by_name = idx;
	if ((c = ipc_client_open(&cfg)) == NULL || !(name = malloc(size + 1)))
		return 1;
	memset(name, 'x', size);
	name[size] = '\0';
	/* a varint where DiagControlRequest has a string: wire type error */
	bad.has_cursor = 1;
	bad.cursor = 7;
	big.service = name;
	rc = !strcmp(how, "malformed") ? ipc_call(c, "Control", &bad.base, &r)
				       : ipc_call(c, "Logs", &big.base, &r);
	printf("%s\n", rc == 0 ? "accepted" : ipc_strerror(rc));
	if (r != NULL)
		ipc_free(r);
	free(name);
	ipc_client_close(c);
	return rc == 0 ? 1 : 0;
}

/* --unknown-method SOCKET: see the top. */
static int unknown_method(const char *path)
{
	nng_socket sock;
	char url[300];
	int code;

	snprintf(url, sizeof(url), "ipc://%s", path);
	if (nng_req0_open(&sock) != 0 ||
	    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 30000) != 0 ||
	    nng_dial(sock, url, NULL, 0) != 0) {
		fprintf(stderr, "ipc_probe: cannot reach %s\n", path);
		return 2;
	}
	code = answer_code(call(sock, "NoSuchMethodInAnyRelease", NULL, 0));
	nng_close(sock);
	printf("%s NoSuchMethodInAnyRelease: %s\n", path,
	       code == 1   ? "no answer"
	       : code == 0 ? "answered"
			   : ipc_strerror(code));
	return code == IPC_ERR_UNKNOWN_METHOD ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0x07, 0x42 };
	const char *who = "root";
	Parapet__StatsReply *st;
	Parapet__Envelope *rep;
	nng_socket sock;
	char url[300];
	int mismatches = 0;
	long bit;

	if (argc == 4 && !strcmp(argv[1], "--bad-request"))
		return bad_request(argv[2], argv[3]);
	if (argc >= 4 && !strcmp(argv[1], "--as")) {
		who = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc != 2 &&
	    !(argc == 3 &&
	      (!strcmp(argv[1], "--connect") || !strcmp(argv[1], "--write") ||
	       !strcmp(argv[1], "--unknown-method") ||
	       !strcmp(argv[1], "--read") || !strcmp(argv[1], "--drop")))) {
		fprintf(stderr, "usage: ipc_probe [--as SERVICE|root] "
				"SOCKET|--connect PATH|--read PATH|"
				"--write PATH|"
				"--drop PATH\n"
				"       ipc_probe --bad-request "
				"malformed|big|huge SOCKET\n");
		return 2;
	}
	if ((bit = become(who)) < 0)
		return 2;
	if (argc == 3 && !strcmp(argv[1], "--drop"))
		return drop_handshakes(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "--unknown-method"))
		return unknown_method(argv[2]);
	if (argc == 3)
		return try_access(argv[1], argv[2]);
	snprintf(url, sizeof(url), "ipc://%s", argv[1]);
	if (nng_req0_open(&sock) != 0 ||
	    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 30000) != 0 ||
	    nng_dial(sock, url, NULL, 0) != 0) {
		fprintf(stderr, "ipc_probe: cannot reach %s\n", argv[1]);
		return 2;
	}
	rep = call(sock, "Stats", NULL, 0);
	st = rep && rep->kind == PARAPET__ENVELOPE__KIND__REPLY
		 ? parapet__stats_reply__unpack(NULL, rep->body.len,
						rep->body.data)
		 : NULL;
	if (rep != NULL)
		parapet__envelope__free_unpacked(rep, NULL);
	if (st == NULL || st->n_callers == 0) {
		fprintf(stderr, "ipc_probe: %s: no caller table\n", argv[1]);
		return 2;
	}
	for (size_t i = 0; i < st->n_callers; i++) {
		const Parapet__MethodCallers *mc = st->callers[i];
		int want = mc->allowed == IPC_SENDER_ANY ||
			   (mc->allowed & (uint32_t)bit) != 0;
		int code = answer_code(
		    call(sock, mc->method, garbage, sizeof(garbage)));
		int got = code == IPC_ERR_DENIED ? 0 : 1;

		printf("%s %s %s: table %s, answer %s\n", who,
		       st->service ? st->service : "?", mc->method,
		       want ? "allows" : "refuses",
		       code == IPC_ERR_DENIED ? "refused"
		       : code == 1	      ? "none"
					      : ipc_strerror(code));
		if (code == 1 || want != got)
			mismatches++;
	}
	parapet__stats_reply__free_unpacked(st, NULL);
	nng_close(sock);
	return mismatches ? 1 : 0;
}
