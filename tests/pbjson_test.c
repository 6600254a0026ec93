/* Unit tests for lib/pbjson: every field type to JSON and back through the
 * wire format, the text printer, Envelope decoding and hostile input. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "diagtest.pb-c.h"
#include "envelope.pb-c.h"
#include "lib/jsonout.h"
#include "lib/pbjson.h"
#include "test.pb-c.h"

#define ALL_JSON                                                               \
	"{\"f_int32\": -5, \"f_int64\": -9223372036854775808,"                 \
	" \"f_uint32\": 4294967295, \"f_uint64\": \"18446744073709551615\","   \
	" \"f_sint32\": -2147483648, \"f_sint64\": 9223372036854775807,"       \
	" \"f_fixed32\": 7, \"f_fixed64\": 9223372036854775807,"               \
	" \"f_sfixed32\": -7, \"f_sfixed64\": -8, \"f_bool\": true,"           \
	" \"f_float\": 1.5, \"f_double\": -0.125, \"f_enum\": \"BLUE\","       \
	" \"f_string\": \"h\\u00e9\\\"\\n\", \"f_bytes\": \"00ff7f\","         \
	" \"f_inner\": {\"id\": 1, \"label\": \"x\", \"children\":"            \
	" [{\"id\": 2}, {\"label\": \"\"}]}, \"f_required\": 42,"              \
	" \"f_default\": \"set\","                                             \
	" \"r_int32\": [1, -1], \"r_int64\": [2, -2], \"r_uint32\": [3],"      \
	" \"r_uint64\": [4, \"18446744073709551614\"], \"r_sint32\": [-5],"    \
	" \"r_sint64\": [-6], \"r_fixed32\": [7], \"r_fixed64\": [8],"         \
	" \"r_sfixed32\": [-9], \"r_sfixed64\": [-10],"                        \
	" \"r_bool\": [true, false], \"r_float\": [0.5, \"NaN\"],"             \
	" \"r_double\": [\"Infinity\", \"-Infinity\", 2.5],"                   \
	" \"r_enum\": [\"RED\", \"GREEN\"], \"r_string\": [\"a\", \"\"],"      \
	" \"r_bytes\": [\"\", \"01\"], \"r_inner\": [{\"id\": 3}],"            \
	" \"r_packed\": [100000, 0, -3], \"c_inner\": {\"id\": 9}}"

static const struct ipc_event_type events[] = {
	{ "Tick", &parapet__diagtest__tick__descriptor },
};
static const ProtobufCServiceDescriptor *const services[] = {
	&parapet__test__descriptor,
	&parapet__endpoint__descriptor,
	&parapet__diagtest__diag_test__descriptor,
};
static const struct pbjson_registry reg = {
	.services = services,
	.n_services = 3,
	.events = events,
	.n_events = 1,
	.max_size = 4096,
};

/* A string literal for a char * member the library only reads. */
static char *mut(const char *s)
{
	union {
		const char *c;
		char *m;
	} u = { .c = s };

	return u.m;
}

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (j == NULL)
		fail_msg("bad test JSON: %s at %d", e.text, e.position);
	return j;
}

static void assert_json_eq(json_t *got, json_t *want)
{
	char *g, *w;

	if (json_equal(got, want))
		return;
	g = json_dumps(got, JSON_SORT_KEYS);
	w = json_dumps(want, JSON_SORT_KEYS);
	print_error("got:  %s\nwant: %s\n", g, w);
	free(g);
	free(w);
	fail();
}

/* JSON → message → wire → message → JSON. */
static json_t *round_trip(const ProtobufCMessageDescriptor *d, json_t *in)
{
	ProtobufCMessage *m = NULL, *back;
	uint8_t buf[4096];
	size_t len;
	json_t *out;

	assert_int_equal(pbjson_to_message(d, in, &m), 0);
	len = protobuf_c_message_get_packed_size(m);
	assert_true(len <= sizeof(buf));
	protobuf_c_message_pack(m, buf);
	protobuf_c_message_free_unpacked(m, NULL);
	assert_int_equal(pbjson_unpack(d, buf, len, sizeof(buf), NULL, &back),
			 0);
	out = pbjson_from_message(back);
	protobuf_c_message_free_unpacked(back, NULL);
	assert_non_null(out);
	return out;
}

static void test_every_type_round_trip(void **state)
{
	json_t *in = load(ALL_JSON), *out;

	(void)state;
	out = round_trip(&parapet__diagtest__all_types__descriptor, in);
	assert_json_eq(out, in);
	json_decref(out);
	json_decref(in);
}

/* A struct filled by hand (not through pbjson) gives the documented JSON. */
static void test_struct_to_json(void **state)
{
	Parapet__Diagtest__AllTypes m = PARAPET__DIAGTEST__ALL_TYPES__INIT;
	Parapet__Diagtest__Inner in = PARAPET__DIAGTEST__INNER__INIT;
	uint8_t raw[] = { 0xde, 0xad };
	int32_t r32[] = { 3, 4 };
	json_t *j, *want;

	(void)state;
	m.f_required = 1;
	m.has_f_uint64 = 1;
	m.f_uint64 = 5;
	m.has_f_enum = 1;
	m.f_enum = 99; /* not in the enum: stays a number */
	m.has_f_bytes = 1;
	m.f_bytes.data = raw;
	m.f_bytes.len = 2;
	m.n_r_sint32 = 2;
	m.r_sint32 = r32;
	m.f_string = mut("\xff\x61\xe2\x82"); /* invalid UTF-8 */
	in.has_id = 1;
	m.choice_case = PARAPET__DIAGTEST__ALL_TYPES__CHOICE_C_INNER;
	m.c_inner = &in;
	j = pbjson_from_message(&m.base);
	want = load("{\"f_required\": 1, \"f_uint64\": 5, \"f_enum\": 99,"
		    " \"f_bytes\": \"dead\", \"r_sint32\": [3, 4],"
		    " \"f_string\": \"\\ufffda\\ufffd\\ufffd\","
		    " \"c_inner\": {\"id\": 0}}");
	assert_json_eq(j, want);
	json_decref(j);
	json_decref(want);
}

static void test_absent_and_defaults(void **state)
{
	Parapet__Diagtest__AllTypes m = PARAPET__DIAGTEST__ALL_TYPES__INIT;
	json_t *j, *want;

	(void)state;
	/* f_default points at its default value: not set, left out. */
	j = pbjson_from_message(&m.base);
	want = load("{\"f_required\": 0}");
	assert_json_eq(j, want);
	json_decref(j);
	json_decref(want);
}

static void test_oneof_members(void **state)
{
	static const char *const cases[] = {
		"{\"f_required\": 0, \"c_int\": -1}",
		"{\"f_required\": 0, \"c_string\": \"s\"}",
		"{\"f_required\": 0, \"c_bytes\": \"0102\"}",
		"{\"f_required\": 0, \"c_inner\": {\"label\": \"l\"}}",
	};
	const ProtobufCMessageDescriptor *d =
	    &parapet__diagtest__all_types__descriptor;
	ProtobufCMessage *m;
	json_t *in, *out;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		in = load(cases[i]);
		out = round_trip(d, in);
		assert_json_eq(out, in);
		json_decref(out);
		json_decref(in);
	}
	in = load("{\"c_string\": \"s\", \"c_inner\": {\"id\": 1}}");
	assert_int_equal(pbjson_to_message(d, in, &m), PBJSON_ERR_ONEOF);
	assert_null(m);
	json_decref(in);
}

static void expect_parse_error(const char *text, int err)
{
	ProtobufCMessage *m = (ProtobufCMessage *)1;
	json_t *in = load(text);

	assert_int_equal(pbjson_to_message(
			     &parapet__diagtest__all_types__descriptor, in, &m),
			 err);
	assert_null(m);
	json_decref(in);
}

static void test_parse_errors(void **state)
{
	(void)state;
	expect_parse_error("{\"nope\": 1}", PBJSON_ERR_FIELD);
	expect_parse_error("{\"f_int32\": \"x\"}", PBJSON_ERR_TYPE);
	expect_parse_error("{\"f_int32\": 2147483648}", PBJSON_ERR_RANGE);
	expect_parse_error("{\"f_uint32\": -1}", PBJSON_ERR_RANGE);
	expect_parse_error("{\"f_uint64\": \"-1\"}", PBJSON_ERR_RANGE);
	expect_parse_error("{\"f_uint64\": \"18446744073709551616\"}",
			   PBJSON_ERR_RANGE);
	expect_parse_error("{\"f_float\": 1e39}", PBJSON_ERR_RANGE);
	expect_parse_error("{\"f_bool\": 1}", PBJSON_ERR_TYPE);
	expect_parse_error("{\"f_enum\": \"PURPLE\"}", PBJSON_ERR_RANGE);
	expect_parse_error("{\"f_bytes\": \"abc\"}", PBJSON_ERR_TYPE);
	expect_parse_error("{\"f_bytes\": \"zz\"}", PBJSON_ERR_TYPE);
	expect_parse_error("{\"r_string\": [\"a\", 1]}", PBJSON_ERR_TYPE);
	expect_parse_error("{\"r_inner\": [{\"id\": 1}, {\"id\": \"q\"}]}",
			   PBJSON_ERR_TYPE);
	expect_parse_error("{\"f_inner\": {\"children\": [{\"x\": 1}]}}",
			   PBJSON_ERR_FIELD);
	expect_parse_error("{\"r_int32\": 1}", PBJSON_ERR_TYPE);
	expect_parse_error("[]", PBJSON_ERR_TYPE);
}

static void test_parse_lenient_forms(void **state)
{
	json_t *in = load("{\"f_int64\": \"-12\", \"f_enum\": 7,"
			  " \"f_uint32\": \"9\", \"f_string\": null}");
	json_t *want = load("{\"f_int64\": -12, \"f_enum\": \"BLUE\","
			    " \"f_uint32\": 9, \"f_required\": 0}");
	json_t *out;

	(void)state;
	out = round_trip(&parapet__diagtest__all_types__descriptor, in);
	assert_json_eq(out, want);
	json_decref(out);
	json_decref(want);
	json_decref(in);
}

static char *print_to_string(const ProtobufCMessage *m)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	pbjson_print_message(f, m, 0);
	fclose(f);
	return text;
}

static void test_text_printer(void **state)
{
	ProtobufCMessage *m;
	json_t *in =
	    load("{\"f_int32\": -5, \"f_uint64\": \"18446744073709551615\","
		 " \"f_float\": 0.1, \"f_double\": 0.1, \"f_enum\": \"BLUE\","
		 " \"f_string\": \"a\\\"b\\n\\u0001\", \"f_bytes\": \"00ff\","
		 " \"f_inner\": {\"id\": 1, \"children\": [{\"id\": 2}]},"
		 " \"f_required\": 3, \"r_bool\": [true, false],"
		 " \"r_bytes\": [\"\"], \"c_string\": \"c\"}");
	char *text;

	(void)state;
	assert_int_equal(pbjson_to_message(
			     &parapet__diagtest__all_types__descriptor, in, &m),
			 0);
	text = print_to_string(m);
	assert_string_equal(text, "f_int32: -5\n"
				  "f_uint64: 18446744073709551615\n"
				  "f_float: 0.1\n"
				  "f_double: 0.1\n"
				  "f_enum: BLUE (7)\n"
				  "f_string: \"a\\\"b\\n\\x01\"\n"
				  "f_bytes: 00ff\n"
				  "f_inner: parapet.diagtest.Inner\n"
				  "    id: 1\n"
				  "    children[0]: parapet.diagtest.Inner\n"
				  "        id: 2\n"
				  "f_required: 3\n"
				  "r_bool[0]: true\n"
				  "r_bool[1]: false\n"
				  "r_bytes[0]: (empty)\n"
				  "c_string: \"c\"\n");
	free(text);
	protobuf_c_message_free_unpacked(m, NULL);
	json_decref(in);
}

/* ------------------------------------------------------------ envelopes */

/* Packs an envelope with body (packed) into buf; returns its length. */
static size_t pack_env(uint8_t *buf, size_t cap, int kind, const char *method,
		       const ProtobufCMessage *body)
{
	Parapet__Envelope env = PARAPET__ENVELOPE__INIT;
	uint8_t bodybuf[1024];
	size_t len;

	env.source = mut("policy");
	env.destination = mut("vmworker");
	env.has_seq = 1;
	env.seq = 7;
	env.has_kind = 1;
	env.kind = kind;
	env.method = mut(method);
	if (body != NULL) {
		env.has_body = 1;
		env.body.len = protobuf_c_message_pack(body, bodybuf);
		env.body.data = bodybuf;
	}
	len = parapet__envelope__get_packed_size(&env);
	assert_true(len <= cap);
	return parapet__envelope__pack(&env, buf);
}

static void expect_env_json(const uint8_t *buf, size_t len, const char *want)
{
	json_t *j = NULL, *w = load(want);

	assert_int_equal(pbjson_decode_envelope(&reg, buf, len, &j), 0);
	assert_json_eq(j, w);
	json_decref(j);
	json_decref(w);
}

#define ENV_HEAD                                                               \
	"\"source\": \"policy\", \"destination\": \"vmworker\", \"seq\": 7, "

static void test_envelope_typed_bodies(void **state)
{
	Parapet__PingRequest req = PARAPET__PING_REQUEST__INIT;
	Parapet__PingReply rep = PARAPET__PING_REPLY__INIT;
	Parapet__Error err = PARAPET__ERROR__INIT;
	Parapet__Diagtest__Tick tick = PARAPET__DIAGTEST__TICK__INIT;
	Parapet__StatsReply st = PARAPET__STATS_REPLY__INIT;
	uint8_t buf[2048];
	size_t len;

	(void)state;
	req.text = mut("hi");
	len = pack_env(buf, sizeof(buf), PARAPET__ENVELOPE__KIND__REQUEST,
		       "Ping", &req.base);
	expect_env_json(buf, len,
			"{" ENV_HEAD
			"\"method\": \"Ping\", \"kind\": \"REQUEST\","
			" \"body\": {\"text\": \"hi\"},"
			" \"body_type\": \"parapet.PingRequest\"}");
	rep.has_served_by = 1;
	rep.served_by = 3;
	len = pack_env(buf, sizeof(buf), PARAPET__ENVELOPE__KIND__REPLY, "Ping",
		       &rep.base);
	expect_env_json(buf, len,
			"{" ENV_HEAD
			"\"method\": \"Ping\", \"kind\": \"REPLY\","
			" \"body\": {\"served_by\": 3},"
			" \"body_type\": \"parapet.PingReply\"}");
	err.has_code = 1;
	err.code = 7;
	err.message = mut("no");
	len = pack_env(buf, sizeof(buf), PARAPET__ENVELOPE__KIND__ERROR, "Zap",
		       &err.base);
	expect_env_json(buf, len,
			"{" ENV_HEAD "\"method\": \"Zap\", \"kind\": \"ERROR\","
			" \"body\": {\"code\": 7, \"message\": \"no\"},"
			" \"body_type\": \"parapet.Error\"}");
	tick.has_n = 1;
	tick.n = 1;
	len = pack_env(buf, sizeof(buf), PARAPET__ENVELOPE__KIND__EVENT, "Tick",
		       &tick.base);
	expect_env_json(buf, len,
			"{" ENV_HEAD
			"\"method\": \"Tick\", \"kind\": \"EVENT\","
			" \"body\": {\"n\": 1},"
			" \"body_type\": \"parapet.diagtest.Tick\"}");
	st.service = mut("policy");
	len = pack_env(buf, sizeof(buf), PARAPET__ENVELOPE__KIND__REPLY,
		       "Stats", &st.base);
	expect_env_json(buf, len,
			"{" ENV_HEAD
			"\"method\": \"Stats\", \"kind\": \"REPLY\","
			" \"body\": {\"service\": \"policy\"},"
			" \"body_type\": \"parapet.StatsReply\"}");
}

static void test_envelope_unknown_and_bad_bodies(void **state)
{
	Parapet__PingRequest req = PARAPET__PING_REQUEST__INIT;
	uint8_t buf[2048];
	size_t len;

	(void)state;
	req.text = mut("hi");
	/* Unknown method: the body stays hex, no type. */
	len = pack_env(buf, sizeof(buf), PARAPET__ENVELOPE__KIND__REQUEST,
		       "Nope", &req.base);
	expect_env_json(buf, len,
			"{" ENV_HEAD
			"\"method\": \"Nope\", \"kind\": \"REQUEST\","
			" \"body\": \"12026869\"}");
	/* Unknown event name. */
	len = pack_env(buf, sizeof(buf), PARAPET__ENVELOPE__KIND__EVENT, "Ping",
		       &req.base);
	expect_env_json(buf, len,
			"{" ENV_HEAD
			"\"method\": \"Ping\", \"kind\": \"EVENT\","
			" \"body\": \"12026869\"}");
	/* Known type, body that does not decode: hex plus the reason. The
	 * body is a PingRequest with text cut short (length 5, 2 bytes). */
	len = pack_env(buf, sizeof(buf), PARAPET__ENVELOPE__KIND__REQUEST,
		       "Ping", &req.base);
	buf[len - 3] = 5;
	expect_env_json(buf, len,
			"{" ENV_HEAD
			"\"method\": \"Ping\", \"kind\": \"REQUEST\","
			" \"body\": \"12056869\","
			" \"body_error\": \"malformed message\"}");
}

static void test_envelope_text(void **state)
{
	Parapet__PingRequest req = PARAPET__PING_REQUEST__INIT;
	uint8_t buf[2048], payload[100];
	char *text = NULL, hex[129], want[1024];
	size_t len, tlen, i;
	FILE *f;

	(void)state;
	memset(payload, 0xab, sizeof(payload));
	req.has_payload = 1;
	req.payload.data = payload;
	req.payload.len = sizeof(payload);
	len = pack_env(buf, sizeof(buf), PARAPET__ENVELOPE__KIND__REQUEST,
		       "Ping", &req.base);
	f = open_memstream(&text, &tlen);
	assert_int_equal(pbjson_print_envelope(&reg, buf, len, f, 1), 0);
	assert_int_equal(pbjson_print_envelope(&reg, buf, len - 1, f, 0),
			 PBJSON_ERR_MALFORMED);
	fclose(f);
	for (i = 0; i < 64; i++)
		memcpy(hex + 2 * i, "ab", 3);
	snprintf(want, sizeof(want),
		 "    parapet.Envelope (132 bytes)\n"
		 "        source: \"policy\"\n"
		 "        destination: \"vmworker\"\n"
		 "        seq: 7\n"
		 "        method: \"Ping\"\n"
		 "        kind: REQUEST (0)\n"
		 "        body: parapet.PingRequest (102 bytes)\n"
		 "            payload: %s... (100 bytes)\n",
		 hex);
	assert_string_equal(text, want);
	free(text);
}

static void test_envelope_limits(void **state)
{
	struct pbjson_registry small = reg;
	Parapet__PingRequest req = PARAPET__PING_REQUEST__INIT;
	uint8_t buf[4096], payload[1000];
	json_t *j = (json_t *)1;
	size_t len;

	(void)state;
	memset(payload, 1, sizeof(payload));
	req.has_payload = 1;
	req.payload.data = payload;
	req.payload.len = sizeof(payload);
	len = pack_env(buf, sizeof(buf), PARAPET__ENVELOPE__KIND__REQUEST,
		       "Ping", &req.base);
	small.max_size = len - 1;
	assert_int_equal(pbjson_decode_envelope(&small, buf, len, &j),
			 PBJSON_ERR_TOO_BIG);
	assert_null(j);
	small.max_size = len;
	small.budget = 256; /* below what the envelope alone needs */
	assert_int_equal(pbjson_decode_envelope(&small, buf, len, &j),
			 PBJSON_ERR_NOMEM);
	assert_int_equal(pbjson_decode_envelope(&reg, NULL, 0, &j), 0);
	json_decref(j);
}

/* Inner nested n levels deep as field 3 (children), on the wire. */
static size_t nested_inner(uint8_t *buf, int n)
{
	size_t len = 0;
	int i;

	/* Built inside out: each level is 0x1a LEN CHILD. */
	for (i = 0; i < n; i++) {
		memmove(buf + 2, buf, len);
		buf[0] = 0x1a;
		buf[1] = (uint8_t)len;
		len += 2;
	}
	return len;
}

static void test_nesting_limit(void **state)
{
	const ProtobufCMessageDescriptor *d =
	    &parapet__diagtest__inner__descriptor;
	Parapet__Envelope env = PARAPET__ENVELOPE__INIT;
	uint8_t body[256], buf[512];
	ProtobufCMessage *m;
	json_t *j;
	size_t len;

	(void)state;
	len = nested_inner(body, PBJSON_MAX_DEPTH);
	assert_int_equal(pbjson_unpack(d, body, len, 512, NULL, &m), 0);
	j = pbjson_from_message(m);
	assert_non_null(j);
	json_decref(j);
	protobuf_c_message_free_unpacked(m, NULL);
	len = nested_inner(body, PBJSON_MAX_DEPTH + 1);
	assert_int_equal(pbjson_unpack(d, body, len, 512, NULL, &m),
			 PBJSON_ERR_TOO_DEEP);
	/* In an envelope: decoded, the body reported too deep. */
	env.method = mut("Nest");
	env.has_body = 1;
	env.body.data = body;
	env.body.len = len;
	len = parapet__envelope__pack(&env, buf);
	assert_int_equal(pbjson_decode_envelope(&reg, buf, len, &j), 0);
	assert_string_equal(json_string_value(json_object_get(j, "body_error")),
			    "messages nested too deep");
	json_decref(j);
}

/* Every truncation and many corruptions of a typed envelope decode or
 * fail cleanly (ASan/UBSan watch). */
static void test_truncated_and_corrupt(void **state)
{
	Parapet__Diagtest__AllTypes *m;
	uint8_t buf[4096], bad[4096];
	json_t *in = load(ALL_JSON), *j;
	char *text;
	size_t len, tlen, i;
	unsigned seed = 1;
	FILE *f;

	(void)state;
	assert_int_equal(
	    pbjson_to_message(&parapet__diagtest__all_types__descriptor, in,
			      (ProtobufCMessage **)&m),
	    0);
	len = pack_env(buf, sizeof(buf), PARAPET__ENVELOPE__KIND__REQUEST,
		       "Echo", &m->base);
	protobuf_c_message_free_unpacked(&m->base, NULL);
	json_decref(in);
	f = open_memstream(&text, &tlen);
	for (i = 0; i <= len; i++) {
		if (pbjson_decode_envelope(&reg, buf, i, &j) == 0)
			json_decref(j);
		pbjson_print_envelope(&reg, buf, i, f, 0);
	}
	for (i = 0; i < 20000; i++) {
		memcpy(bad, buf, len);
		seed = seed * 1103515245u + 12345u;
		bad[(seed >> 8) % len] = (uint8_t)(seed >> 20);
		if (pbjson_decode_envelope(&reg, bad, len, &j) == 0)
			json_decref(j);
	}
	fclose(f);
	free(text);
}

/* --json output: sorted keys, 2-space indent; -f lines compact. */
static void test_jsonout(void **state)
{
	json_t *j = load("{\"b\": [1, {\"y\": 2, \"x\": null}], \"a\": \"s\"}");
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_int_equal(jsonout_print(f, j), 0);
	assert_int_equal(jsonout_print_line(f, j), 0);
	assert_int_equal(jsonout_print(f, NULL), -1);
	fclose(f);
	assert_string_equal(text,
			    "{\n"
			    "  \"a\": \"s\",\n"
			    "  \"b\": [\n"
			    "    1,\n"
			    "    {\n"
			    "      \"x\": null,\n"
			    "      \"y\": 2\n"
			    "    }\n"
			    "  ]\n"
			    "}\n"
			    "{\"a\":\"s\",\"b\":[1,{\"x\":null,\"y\":2}]}\n");
	free(text);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type_round_trip),
		cmocka_unit_test(test_struct_to_json),
		cmocka_unit_test(test_absent_and_defaults),
		cmocka_unit_test(test_oneof_members),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_lenient_forms),
		cmocka_unit_test(test_text_printer),
		cmocka_unit_test(test_envelope_typed_bodies),
		cmocka_unit_test(test_envelope_unknown_and_bad_bodies),
		cmocka_unit_test(test_envelope_text),
		cmocka_unit_test(test_envelope_limits),
		cmocka_unit_test(test_nesting_limit),
		cmocka_unit_test(test_truncated_and_corrupt),
		cmocka_unit_test(test_jsonout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
