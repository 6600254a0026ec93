/* Benchmark ipc_call_64b / ipc_call_4k: a Ping call through lib/ipc
 * (protobuf envelope, dispatch, one call in flight) against a raw nng
 * req/rep round trip of the same payload, interleaved in blocks of 500;
 * the spread is that of the blocks' medians. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "bench/report.h"
#include "lib/ipc.h"
#include "test.pb-c.h"

#define BLOCK 500

static char tmpdir[64], path_ipc[128], path_raw[128];
static uint8_t payload[4096];

static int ping(struct ipc_request *req, const ProtobufCMessage *in,
		ProtobufCMessage *out, void *arg)
{
	const Parapet__PingRequest *r = (const Parapet__PingRequest *)in;
	Parapet__PingReply *o = (Parapet__PingReply *)out;

	(void)req;
	(void)arg;
	o->has_payload = r->has_payload;
	o->payload = r->payload;
	return 0;
}

/* The baseline server: receive, send the same message back. */
static void *raw_server(void *arg)
{
	nng_socket *s = arg;
	nng_msg *m;

	while (nng_recvmsg(*s, &m, 0) == 0)
		if (nng_sendmsg(*s, m, 0) != 0)
			nng_msg_free(m);
	return NULL;
}

static double call_ipc(struct ipc_client *c, size_t len)
{
	Parapet__PingRequest req = PARAPET__PING_REQUEST__INIT;
	ProtobufCMessage *rep;
	double t0 = bench_now_ns();

	req.has_payload = 1;
	req.payload.len = len;
	req.payload.data = payload;
	if (ipc_call(c, "Ping", &req.base, &rep) != 0) {
		fprintf(stderr, "bench ipc: call failed\n");
		exit(1);
	}
	ipc_free(rep);
	return (bench_now_ns() - t0) / 1000.0;
}

static double call_raw(nng_socket s, size_t len)
{
	double t0 = bench_now_ns();
	nng_msg *m;

	if (nng_msg_alloc(&m, len) != 0)
		exit(1);
	memcpy(nng_msg_body(m), payload, len);
	if (nng_sendmsg(s, m, 0) != 0 || nng_recvmsg(s, &m, 0) != 0) {
		fprintf(stderr, "bench ipc: raw call failed\n");
		exit(1);
	}
	nng_msg_free(m);
	return (bench_now_ns() - t0) / 1000.0;
}

/* Runs n calls of each kind in alternating blocks; the row gets the
 * medians of the blocks' medians and their spread. */
static void measure(struct ipc_client *c, nng_socket raw, size_t len, size_t n,
		    struct bench_row *row)
{
	size_t blocks = (n + BLOCK - 1) / BLOCK, i, done = 0, k, j = 0;
	double *a = calloc(n, sizeof(*a)), *b = calloc(n, sizeof(*b));
	double *ma = calloc(blocks, sizeof(*ma));
	double *mb = calloc(blocks, sizeof(*mb));

	if (a == NULL || b == NULL || ma == NULL || mb == NULL)
		exit(1);
	for (i = 0; i < 200; i++) {
		call_ipc(c, len);
		call_raw(raw, len);
	}
	while (done < n) {
		k = n - done < BLOCK ? n - done : BLOCK;
		for (i = 0; i < k; i++)
			a[done + i] = call_ipc(c, len);
		for (i = 0; i < k; i++)
			b[done + i] = call_raw(raw, len);
		ma[j] = bench_median(a + done, k);
		mb[j++] = bench_median(b + done, k);
		done += k;
	}
	if (bench_row_spread(row, ma, mb, blocks) != 0)
		exit(1);
	free(a);
	free(b);
	free(ma);
	free(mb);
}

static struct ipc_server *open_server(void)
{
	static const struct ipc_method methods[] = {
		{ "Ping", ping, IPC_SENDER_ANY, 0 },
	};
	struct ipc_listen listen = { path_ipc, 1, 0 };
	struct ipc_server_config cfg = {
		.name = "bench",
		.listen = &listen,
		.n_listen = 1,
		.service = &parapet__test__descriptor,
		.methods = methods,
		.n_methods = 1,
		.recv_max = 64 << 10,
	};

	return ipc_server_open(&cfg);
}

static int open_raw(nng_socket *srv, nng_socket *cli)
{
	char url[160];

	snprintf(url, sizeof(url), "ipc://%s", path_raw);
	if (nng_rep0_open(srv) || nng_req0_open(cli) ||
	    nng_socket_set_size(*srv, NNG_OPT_RECVMAXSZ, 64 << 10) ||
	    nng_socket_set_size(*cli, NNG_OPT_RECVMAXSZ, 64 << 10) ||
	    nng_listen(*srv, url, NULL, 0) || nng_dial(*cli, url, NULL, 0))
		return -1;
	return 0;
}

int main(void)
{
	struct ipc_client_config cc = { "bench-client",
					path_ipc,
					"bench",
					&parapet__test__descriptor,
					0,
					64 << 10,
					1,
					NULL };
	const char *env = getenv("PARAPET_BENCH_CALLS");
	size_t n = env ? strtoul(env, NULL, 10) : 20000;
	struct bench_row rows[2] = {
		{ "ipc_call_64b", "us", 0, 0, "raw nng req/rep", 0 },
		{ "ipc_call_4k", "us", 0, 0, "raw nng req/rep", 0 },
	};
	struct ipc_server *srv;
	struct ipc_client *cli;
	nng_socket raw_srv, raw_cli;
	pthread_t t;
	int rc;

	if (n == 0)
		n = 1;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/parapet-bench-ipc.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	snprintf(path_ipc, sizeof(path_ipc), "%s/ipc.sock", tmpdir);
	snprintf(path_raw, sizeof(path_raw), "%s/raw.sock", tmpdir);
	memset(payload, 0xa5, sizeof(payload));
	srv = open_server();
	cli = ipc_client_open(&cc);
	if (srv == NULL || cli == NULL || open_raw(&raw_srv, &raw_cli) ||
	    pthread_create(&t, NULL, raw_server, &raw_srv)) {
		fprintf(stderr, "bench ipc: set-up failed\n");
		return 1;
	}
	measure(cli, raw_cli, 64, n, &rows[0]);
	measure(cli, raw_cli, 4096, n, &rows[1]);
	printf("%zu calls each, blocks of %d, medians of the blocks' "
	       "medians\n",
	       n, BLOCK);
	rc = bench_report("ipc", rows, 2) ? 1 : 0;
	ipc_client_close(cli);
	ipc_server_close(srv);
	nng_close(raw_cli);
	nng_close(raw_srv);
	pthread_join(t, NULL);
	unlink(path_ipc);
	unlink(path_raw);
	rmdir(tmpdir);
	return rc;
}
