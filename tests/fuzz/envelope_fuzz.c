/* libFuzzer harness for parapet-diag's envelope decoding (lib/pbjson): any
 * bytes as a packed Envelope, decoded to JSON and to text; a typed body
 * that decodes must also survive JSON -> message -> JSON unchanged. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagtest.pb-c.h"
#include "envelope.pb-c.h"
#include "lib/pbjson.h"
#include "test.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct ipc_event_type events[] = {
	{ "Tick", &parapet__diagtest__tick__descriptor },
	{ "All", &parapet__diagtest__all_types__descriptor },
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
	.n_events = 2,
	.max_size = 1 << 16,
};

/* The registry's message type called name. */
static const ProtobufCMessageDescriptor *type_named(const char *name)
{
	const ProtobufCMessageDescriptor *d;
	size_t i, j;

	if (strcmp(name, parapet__error__descriptor.name) == 0)
		return &parapet__error__descriptor;
	for (i = 0; i < reg.n_events; i++)
		if (strcmp(events[i].type->name, name) == 0)
			return events[i].type;
	for (i = 0; i < reg.n_services; i++) {
		for (j = 0; j < services[i]->n_methods; j++) {
			d = services[i]->methods[j].input;
			if (strcmp(d->name, name) == 0)
				return d;
			d = services[i]->methods[j].output;
			if (strcmp(d->name, name) == 0)
				return d;
		}
	}
	return NULL;
}

/* The body's JSON must map back to a message with the same JSON. */
static void check_body_round_trip(json_t *env)
{
	const char *name = json_string_value(json_object_get(env, "body_type"));
	const ProtobufCMessageDescriptor *d;
	json_t *body = json_object_get(env, "body"), *again;
	ProtobufCMessage *m;

	if (name == NULL)
		return;
	d = type_named(name);
	if (d == NULL || pbjson_to_message(d, body, &m) != 0)
		__builtin_trap();
	again = pbjson_from_message(m);
	if (again == NULL || !json_equal(again, body))
		__builtin_trap();
	json_decref(again);
	protobuf_c_message_free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	json_t *j;
	char *text;

	if (sink == NULL)
		sink = fopen("/dev/null", "w");
	if (pbjson_decode_envelope(&reg, data, size, &j) != 0)
		return 0;
	text = json_dumps(j, JSON_COMPACT);
	if (text == NULL)
		__builtin_trap();
	free(text);
	check_body_round_trip(j);
	json_decref(j);
	if (pbjson_print_envelope(&reg, data, size, sink, 0) != 0)
		__builtin_trap();
	return 0;
}
