/* Writes a sample capture of Parapet envelopes for the tshark e2e test
 * (tests/e2e/pcapng_tshark.sh): pcapng_write FILE|- [LUA_FILE] (- is
 * stdout through the fd writer; LUA_FILE gets the typed-body dissector).
 * Prints the number of packets written on stderr. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "envelope.pb-c.h"
#include "lib/pbjson.h"
#include "lib/pcapng.h"
#include "test.pb-c.h"

static char *mut(const char *s)
{
	union {
		const char *c;
		char *m;
	} u = { .c = s };

	return u.m;
}

static int put(struct pcapng_writer *w, uint64_t ts, const char *src,
	       const char *dst, int kind, const char *method,
	       const ProtobufCMessage *body, const char *comment)
{
	Parapet__Envelope env = PARAPET__ENVELOPE__INIT;
	uint8_t body_buf[256], buf[512];
	size_t len;

	env.source = mut(src);
	env.destination = mut(dst);
	env.has_seq = env.has_correlation_id = env.has_kind = 1;
	env.seq = env.correlation_id = ts / 1000;
	env.method = mut(method);
	env.kind = kind;
	env.has_sent_ns = 1;
	env.sent_ns = ts;
	if (body != NULL) {
		env.has_body = 1;
		env.body.data = body_buf;
		env.body.len = protobuf_c_message_pack(body, body_buf);
	}
	len = parapet__envelope__pack(&env, buf);
	return pcapng_write_envelope(w, ts, src, dst, buf, len, comment);
}

static int write_lua(const char *path)
{
	static const ProtobufCServiceDescriptor *const services[] = {
		&parapet__test__descriptor,
		&parapet__endpoint__descriptor,
	};
	static const struct ipc_event_type events[] = {
		{ "Tick", &parapet__counter__descriptor },
	};
	const struct pbjson_registry reg = { .services = services,
					     .n_services = 2,
					     .events = events,
					     .n_events = 1 };
	FILE *f = fopen(path, "w");
	int rc;

	if (f == NULL)
		return 1;
	rc = pcapng_write_lua(f, &reg);
	return fclose(f) != 0 || rc != 0;
}

int main(int argc, char **argv)
{
	Parapet__PingRequest req = PARAPET__PING_REQUEST__INIT;
	Parapet__PingReply rep = PARAPET__PING_REPLY__INIT;
	Parapet__Error err = PARAPET__ERROR__INIT;
	Parapet__Counter tick = PARAPET__COUNTER__INIT;
	uint64_t t0 = 1700000000000000000ull;
	struct pcapng_writer *w;
	FILE *f = NULL;
	int rc = 0;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: pcapng_write FILE|- [LUA_FILE]\n");
		return 2;
	}
	if (argc == 3 && write_lua(argv[2]) != 0) {
		perror(argv[2]);
		return 1;
	}
	if (strcmp(argv[1], "-") == 0) {
		w = pcapng_open_fd(STDOUT_FILENO, "parapet pcapng_write");
	} else {
		f = fopen(argv[1], "wb");
		w = f ? pcapng_open_stream(f, "parapet pcapng_write") : NULL;
	}
	if (w == NULL) {
		perror(argv[1]);
		return 1;
	}
	req.text = mut("hello");
	rep.text = mut("hello");
	rep.has_served_by = 1;
	rep.served_by = 3;
	err.has_code = 1;
	err.code = 7;
	err.message = mut("unknown method");
	tick.has_value = 1;
	tick.value = 42;
	rc |= put(w, t0 + 1000, "policy", "vmworker", 0, "Ping", &req.base,
		  "typed body: PingRequest");
	rc |=
	    put(w, t0 + 2500, "vmworker", "policy", 1, "Ping", &rep.base, NULL);
	rc |= put(w, t0 + 4000, "diagd", "init", 3, "Bogus", &err.base,
		  "error reply");
	rc |= put(w, t0 + 5123, "hostcomm", "somebody", 2, "ConsoleReady", NULL,
		  NULL);
	rc |=
	    put(w, t0 + 6000, "vmworker", "diagd", 2, "Tick", &tick.base, NULL);
	fprintf(stderr, "%llu packets\n", (unsigned long long)pcapng_count(w));
	rc |= pcapng_close(w);
	if (f != NULL && fclose(f) != 0)
		rc = 1;
	return rc != 0;
}
