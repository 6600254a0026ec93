/* lib/pbjson: any protobuf-c message to JSON (jansson) and back, and a
 * field-by-field text printer, driven only by the descriptors; plus the
 * generic decoding of packed parapet.Envelopes for parapet-diag (§5, §9).
 *
 * JSON mapping (stable: parapet-diag --json prints it):
 * - keys are the .proto field names, in descriptor order; an absent
 *   optional field (proto2 has_ flag clear, NULL pointer, a string equal
 *   to its default pointer), an empty repeated field and an unset oneof
 *   member are left out; required fields are always present;
 * - int32/sint32/sfixed32/uint32/fixed32 and int64/sint64/sfixed64 are
 *   JSON integers; uint64/fixed64 too, except values over INT64_MAX,
 *   which are decimal strings (jansson's integer is signed 64-bit);
 * - float/double are JSON reals; NaN and infinities are the strings
 *   "NaN", "Infinity", "-Infinity";
 * - bool is true/false; an enum is its value's name ("BLUE"), or the bare
 *   integer for a value the descriptor does not know;
 * - string is a JSON string (bytes that are not UTF-8 become U+FFFD);
 * - bytes are lowercase hex without separators ("00ff10"): hex, not
 *   base64, so that trace output can be read next to a hex dump;
 * - a nested message is an object, a repeated field an array.
 * pbjson_to_message reads that mapping back and also accepts any integer
 * as a decimal string and an enum as its number. */
#ifndef PARAPET_PBJSON_H
#define PARAPET_PBJSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "lib/ipc.h"

enum pbjson_err {
	PBJSON_OK = 0,
	PBJSON_ERR_INVAL = -1,	   /* bad argument */
	PBJSON_ERR_NOMEM = -2,	   /* allocation or decode budget exceeded */
	PBJSON_ERR_TOO_BIG = -3,   /* input over the size limit */
	PBJSON_ERR_MALFORMED = -4, /* undecodable protobuf */
	PBJSON_ERR_TOO_DEEP = -5,  /* messages nested over PBJSON_MAX_DEPTH */
	PBJSON_ERR_FIELD = -6,	   /* JSON key that is no field */
	PBJSON_ERR_TYPE = -7,	   /* JSON value of the wrong type */
	PBJSON_ERR_RANGE = -8,	   /* number out of the field's range */
	PBJSON_ERR_ONEOF = -9,	   /* two members of one oneof */
	PBJSON_ERR_COUNT = 10,
};

/* Static description of a pbjson_err. */
const char *pbjson_strerror(int err);

/* Nesting limit of decoded messages: protobuf-c's unpack recurses once per
 * level, so depth is checked on the wire before unpacking. */
#define PBJSON_MAX_DEPTH 32

/* ------------------------------------------------------------ messages */

/* A new JSON object for msg (mapping above), NULL when out of memory or
 * nested over PBJSON_MAX_DEPTH. */
json_t *pbjson_from_message(const ProtobufCMessage *msg);

/* Builds a message of type desc from a JSON object (not modified: jansson's
 * iterators take no const). *out is malloc'd:
 * free it with protobuf_c_message_free_unpacked(*out, NULL). Required
 * fields missing from the JSON stay zero. 0 or a pbjson_err. */
int pbjson_to_message(const ProtobufCMessageDescriptor *desc, json_t *json,
		      ProtobufCMessage **out);

/* Prints msg one field per line, indented by 4 spaces per level from
 * indent (tshark -V style): `name: value`, strings quoted and escaped,
 * enums as `NAME (n)`, bytes in hex (at most 64 bytes, then the total
 * length), repeated fields as `name[i]: value`, nested messages as
 * `name: full.type.Name` with their fields below. */
void pbjson_print_message(FILE *out, const ProtobufCMessage *msg, int indent);

/* Checks that data is well-formed wire format for desc as far as nesting
 * goes (every length inside bounds) and nests at most PBJSON_MAX_DEPTH
 * levels. 0, PBJSON_ERR_MALFORMED or PBJSON_ERR_TOO_DEEP. */
int pbjson_check_wire(const ProtobufCMessageDescriptor *desc,
		      const uint8_t *data, size_t len);

/* Unpacks data as desc with allocator a after pbjson_check_wire and a
 * length check against max_len. *out is allocated by a. 0 or pbjson_err. */
int pbjson_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
		  size_t len, size_t max_len, ProtobufCAllocator *a,
		  ProtobufCMessage **out);

/* ----------------------------------------------------------- envelopes */

/* What the decoder knows: every service whose methods may appear (body
 * types by method name; the first service declaring a name wins, so
 * list parapet.Endpoint for Stats), and the event types by name. */
struct pbjson_registry {
	const ProtobufCServiceDescriptor *const *services;
	size_t n_services;
	const struct ipc_event_type *events; /* as lib/ipc's subscribers */
	size_t n_events;
	size_t max_size; /* packed envelope limit; 0: IPC_DEFAULT_RECV_MAX */
	size_t budget;	 /* bytes one decode may allocate; 0: 32 * max */
};

/* The body type of an envelope: the method's input (REQUEST) or output
 * (REPLY) type, parapet.Error (ERROR), the event's type (EVENT); NULL if
 * unknown. kind is a Parapet__Envelope__Kind value. */
const ProtobufCMessageDescriptor *
pbjson_body_type(const struct pbjson_registry *reg, int kind,
		 const char *method);

/* Decodes a packed Envelope into a JSON object: the envelope's fields
 * (mapping above; kind by name) where "body" is the decoded body object
 * plus "body_type" (its full name) when the type is known and the body
 * decodes; otherwise "body" stays hex, and "body_error" says why a known
 * type failed. Returns 0, or a pbjson_err when the envelope itself is
 * over reg->max_size, malformed or over budget (*out is then NULL). */
int pbjson_decode_envelope(const struct pbjson_registry *reg, const void *data,
			   size_t len, json_t **out);

/* The same decode printed as text (pbjson_print_message style) with a
 * first line "parapet.Envelope (N bytes)" at indent; the body appears as
 * `body: TYPE (N bytes)` with its fields below it, or as hex. 0 or a
 * pbjson_err (nothing printed). */
int pbjson_print_envelope(const struct pbjson_registry *reg, const void *data,
			  size_t len, FILE *out, int indent);

#endif
