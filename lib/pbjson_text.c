/* lib/pbjson: the field-by-field text printer (parapet-diag trace) and the
 * generic decoding of packed Envelopes, bodies typed from the registry. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.pb-c.h"
#include "lib/pbjson.h"
#include "lib/pbjson_internal.h"

#define TEXT_MAX_BYTES	 64 /* bytes fields print at most this much hex */
#define ENV_INLINE_ARENA 4096

/* ---------------------------------------------------------------- text */

static void print_string(FILE *out, const char *s)
{
	const unsigned char *p;

	fputc('"', out);
	for (p = (const unsigned char *)s; *p != 0; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else if (*p == '\t')
			fputs("\\t", out);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\x%02x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void print_bytes(FILE *out, const ProtobufCBinaryData *b)
{
	char hex[2 * TEXT_MAX_BYTES + 1];
	size_t n = b->len < TEXT_MAX_BYTES ? b->len : TEXT_MAX_BYTES;

	pbjson_hex(hex, b->data, n);
	if (b->len == 0)
		fputs("(empty)", out);
	else if (n < b->len)
		fprintf(out, "%s... (%zu bytes)", hex, b->len);
	else
		fputs(hex, out);
}

/* Shortest %g that reads back as d. */
static void print_real(FILE *out, double d, int max_prec)
{
	char buf[40];
	int prec;

	for (prec = 6; prec < max_prec; prec++) {
		if (snprintf(buf, sizeof(buf), "%.*g", prec, d) >=
		    (int)sizeof(buf))
			break;
		if (max_prec > 9 ? strtod(buf, NULL) == d
				 : strtof(buf, NULL) == (float)d)
			break;
	}
	fprintf(out, "%.*g", prec, d);
}

static void print_enum(FILE *out, const ProtobufCEnumDescriptor *ed, int v)
{
	const ProtobufCEnumValue *ev =
	    protobuf_c_enum_descriptor_get_value(ed, v);

	fprintf(out, "%s (%d)", ev ? ev->name : "?", v);
}

static void print_fields(FILE *out, const ProtobufCMessage *m, int indent);

static void print_scalar(FILE *out, const ProtobufCFieldDescriptor *f,
			 const void *v)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		fprintf(out, "%" PRId32, *(const int32_t *)v);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		fprintf(out, "%" PRIu32, *(const uint32_t *)v);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		fprintf(out, "%" PRId64, *(const int64_t *)v);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		fprintf(out, "%" PRIu64, *(const uint64_t *)v);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		print_real(out, *(const float *)v, 9);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		print_real(out, *(const double *)v, 17);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		fputs(*(const protobuf_c_boolean *)v ? "true" : "false", out);
		break;
	case PROTOBUF_C_TYPE_ENUM:
		print_enum(out, f->descriptor, *(const int *)v);
		break;
	case PROTOBUF_C_TYPE_STRING:
		print_string(out, *(char *const *)v);
		break;
	case PROTOBUF_C_TYPE_BYTES:
		print_bytes(out, v);
		break;
	case PROTOBUF_C_TYPE_MESSAGE:
		break;
	}
}

static void print_value(FILE *out, const ProtobufCFieldDescriptor *f,
			const void *v, int indent)
{
	const ProtobufCMessage *sub;

	if (f->type != PROTOBUF_C_TYPE_MESSAGE) {
		print_scalar(out, f, v);
		fputc('\n', out);
		return;
	}
	sub = *(const ProtobufCMessage *const *)v;
	if (sub == NULL) {
		fputs("(null)\n", out);
		return;
	}
	fprintf(out, "%s\n", sub->descriptor->name);
	if (indent < PBJSON_MAX_DEPTH)
		print_fields(out, sub, indent + 1);
}

static void print_field(FILE *out, const ProtobufCMessage *m,
			const ProtobufCFieldDescriptor *f, int indent)
{
	size_t n = pbjson_field_count(m, f), i;

	for (i = 0; i < n; i++) {
		if (f->label == PROTOBUF_C_LABEL_REPEATED)
			fprintf(out, "%*s%s[%zu]: ", 4 * indent, "", f->name,
				i);
		else
			fprintf(out, "%*s%s: ", 4 * indent, "", f->name);
		print_value(out, f, pbjson_field_elem(m, f, i), indent);
	}
}

static void print_fields(FILE *out, const ProtobufCMessage *m, int indent)
{
	unsigned i;

	for (i = 0; i < m->descriptor->n_fields; i++)
		print_field(out, m, &m->descriptor->fields[i], indent);
}

void pbjson_print_message(FILE *out, const ProtobufCMessage *msg, int indent)
{
	if (msg != NULL)
		print_fields(out, msg, indent);
}

/* ------------------------------------------------------------ envelopes */

const ProtobufCMessageDescriptor *
pbjson_body_type(const struct pbjson_registry *reg, int kind,
		 const char *method)
{
	size_t i, j;

	if (kind == PARAPET__ENVELOPE__KIND__ERROR)
		return &parapet__error__descriptor;
	if (method == NULL)
		return NULL;
	if (kind == PARAPET__ENVELOPE__KIND__EVENT) {
		for (i = 0; i < reg->n_events; i++)
			if (strcmp(reg->events[i].name, method) == 0)
				return reg->events[i].type;
		return NULL;
	}
	for (i = 0; i < reg->n_services; i++) {
		const ProtobufCServiceDescriptor *s = reg->services[i];

		for (j = 0; j < s->n_methods; j++) {
			if (strcmp(s->methods[j].name, method) != 0)
				continue;
			if (kind == PARAPET__ENVELOPE__KIND__REQUEST)
				return s->methods[j].input;
			if (kind == PARAPET__ENVELOPE__KIND__REPLY)
				return s->methods[j].output;
			return NULL;
		}
	}
	return NULL;
}

/* One decoded envelope; everything lives in the arena. */
struct env_decode {
	struct ipc_arena arena;
	Parapet__Envelope *env;
	const ProtobufCMessageDescriptor *type; /* body type, NULL: unknown */
	ProtobufCMessage *body;			/* NULL: not decoded */
	int body_err;
};

static int decode_body(struct env_decode *d, size_t max)
{
	Parapet__Envelope *env = d->env;

	if (!env->has_body || d->type == NULL)
		return 0;
	d->body_err = pbjson_unpack(d->type, env->body.data, env->body.len, max,
				    &d->arena.pb, &d->body);
	if (d->body_err != 0 && d->arena.exhausted)
		d->body_err = PBJSON_ERR_NOMEM;
	return 0;
}

static int env_decode(const struct pbjson_registry *reg, const void *data,
		      size_t len, struct env_decode *d)
{
	size_t max = reg->max_size ? reg->max_size : IPC_DEFAULT_RECV_MAX;
	size_t budget = reg->budget;
	int rc;

	memset(d, 0, sizeof(*d));
	if (budget == 0)
		budget = max > SIZE_MAX / 32 ? SIZE_MAX : 32 * max;
	if (len > max)
		return PBJSON_ERR_TOO_BIG;
	if (data == NULL && len != 0)
		return PBJSON_ERR_INVAL;
	if (ipc_arena_init(&d->arena, ENV_INLINE_ARENA, budget) != 0)
		return PBJSON_ERR_NOMEM;
	rc = pbjson_unpack(&parapet__envelope__descriptor, data, len, max,
			   &d->arena.pb, (ProtobufCMessage **)&d->env);
	if (rc != 0) {
		if (d->arena.exhausted)
			rc = PBJSON_ERR_NOMEM;
		ipc_arena_fini(&d->arena);
		return rc;
	}
	d->type = pbjson_body_type(reg, (int)d->env->kind, d->env->method);
	return decode_body(d, max);
}

static int body_json(json_t *obj, const struct env_decode *d)
{
	json_t *body;

	if (d->type == NULL)
		return 0;
	if (d->body == NULL)
		return json_object_set_new(
		    obj, "body_error",
		    json_string(pbjson_strerror(d->body_err)));
	body = pbjson_from_message(d->body);
	if (body == NULL)
		return -1;
	if (json_object_set_new(obj, "body", body) != 0)
		return -1;
	return json_object_set_new(obj, "body_type",
				   json_string(d->type->name));
}

int pbjson_decode_envelope(const struct pbjson_registry *reg, const void *data,
			   size_t len, json_t **out)
{
	struct env_decode d;
	int rc;

	*out = NULL;
	rc = env_decode(reg, data, len, &d);
	if (rc != 0)
		return rc;
	*out = pbjson_from_message(&d.env->base);
	if (*out == NULL || body_json(*out, &d) != 0) {
		json_decref(*out);
		*out = NULL;
		rc = PBJSON_ERR_NOMEM;
	}
	ipc_arena_fini(&d.arena);
	return rc;
}

static void print_env_body(FILE *out, const struct env_decode *d, int indent)
{
	const ProtobufCBinaryData *b = &d->env->body;

	fprintf(out, "%*sbody: ", 4 * indent, "");
	if (d->body != NULL) {
		fprintf(out, "%s (%zu bytes)\n", d->type->name, b->len);
		print_fields(out, d->body, indent + 1);
		return;
	}
	print_bytes(out, b);
	if (d->type != NULL)
		fprintf(out, " [%s: %s]", d->type->name,
			pbjson_strerror(d->body_err));
	fputc('\n', out);
}

int pbjson_print_envelope(const struct pbjson_registry *reg, const void *data,
			  size_t len, FILE *out, int indent)
{
	const ProtobufCMessageDescriptor *ed = &parapet__envelope__descriptor;
	struct env_decode d;
	unsigned i;
	int rc;

	rc = env_decode(reg, data, len, &d);
	if (rc != 0)
		return rc;
	fprintf(out, "%*s%s (%zu bytes)\n", 4 * indent, "", ed->name, len);
	for (i = 0; i < ed->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &ed->fields[i];

		if (strcmp(f->name, "body") == 0 && d.env->has_body)
			print_env_body(out, &d, indent + 1);
		else
			print_field(out, &d.env->base, f, indent + 1);
	}
	ipc_arena_fini(&d.arena);
	return 0;
}
