/* lib/pbjson: JSON objects (the mapping of lib/pbjson.h) to protobuf-c
 * messages, for requests built from parapet-diag's command line. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pbjson.h"
#include "lib/pbjson_internal.h"

static int parse_i64(const json_t *j, int64_t *out)
{
	const char *s;
	char *end;

	if (json_is_integer(j)) {
		*out = json_integer_value(j);
		return 0;
	}
	if (!json_is_string(j))
		return PBJSON_ERR_TYPE;
	s = json_string_value(j);
	errno = 0;
	*out = strtoll(s, &end, 10);
	if (end == s || *end != 0)
		return PBJSON_ERR_TYPE;
	return errno ? PBJSON_ERR_RANGE : 0;
}

static int parse_u64(const json_t *j, uint64_t *out)
{
	const char *s;
	char *end;

	if (json_is_integer(j)) {
		if (json_integer_value(j) < 0)
			return PBJSON_ERR_RANGE;
		*out = (uint64_t)json_integer_value(j);
		return 0;
	}
	if (!json_is_string(j))
		return PBJSON_ERR_TYPE;
	s = json_string_value(j);
	if (*s == '-')
		return PBJSON_ERR_RANGE;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (end == s || *end != 0)
		return PBJSON_ERR_TYPE;
	return errno ? PBJSON_ERR_RANGE : 0;
}

static int parse_real(const json_t *j, double *out)
{
	const char *s;

	if (json_is_number(j)) {
		*out = json_number_value(j);
		return 0;
	}
	s = json_string_value(j);
	if (s == NULL)
		return PBJSON_ERR_TYPE;
	if (strcmp(s, "NaN") == 0)
		*out = NAN;
	else if (strcmp(s, "Infinity") == 0)
		*out = INFINITY;
	else if (strcmp(s, "-Infinity") == 0)
		*out = -INFINITY;
	else
		return PBJSON_ERR_TYPE;
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_bytes(const json_t *j, ProtobufCBinaryData *out)
{
	const char *s = json_string_value(j);
	size_t len, i;

	if (s == NULL)
		return PBJSON_ERR_TYPE;
	len = json_string_length(j);
	if (len % 2 != 0)
		return PBJSON_ERR_TYPE;
	out->data = malloc(len / 2 + 1);
	if (out->data == NULL)
		return PBJSON_ERR_NOMEM;
	out->len = len / 2;
	for (i = 0; i < len / 2; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return PBJSON_ERR_TYPE; /* freed with the message */
		out->data[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int parse_enum(const ProtobufCEnumDescriptor *ed, const json_t *j,
		      int *out)
{
	const ProtobufCEnumValue *ev;
	int64_t v;

	if (json_is_string(j)) {
		ev = protobuf_c_enum_descriptor_get_value_by_name(
		    ed, json_string_value(j));
		if (ev == NULL)
			return PBJSON_ERR_RANGE;
		*out = ev->value;
		return 0;
	}
	if (!json_is_integer(j))
		return PBJSON_ERR_TYPE;
	v = json_integer_value(j);
	if (v < INT32_MIN || v > INT32_MAX)
		return PBJSON_ERR_RANGE;
	*out = (int)v;
	return 0;
}

static int parse_int(ProtobufCType t, const json_t *j, void *v)
{
	int64_t i;
	uint64_t u;
	int rc;

	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		rc = parse_i64(j, &i);
		if (rc == 0 && (i < INT32_MIN || i > INT32_MAX))
			rc = PBJSON_ERR_RANGE;
		if (rc == 0)
			*(int32_t *)v = (int32_t)i;
		return rc;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		rc = parse_u64(j, &u);
		if (rc == 0 && u > UINT32_MAX)
			rc = PBJSON_ERR_RANGE;
		if (rc == 0)
			*(uint32_t *)v = (uint32_t)u;
		return rc;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return parse_u64(j, v);
	default:
		return parse_i64(j, v);
	}
}

static int fill_message(ProtobufCMessage *m, json_t *obj, int depth);

static int parse_message(const ProtobufCMessageDescriptor *d, json_t *j,
			 ProtobufCMessage **out, int depth)
{
	if (!json_is_object(j))
		return PBJSON_ERR_TYPE;
	if (depth > PBJSON_MAX_DEPTH)
		return PBJSON_ERR_TOO_DEEP;
	*out = calloc(1, d->sizeof_message);
	if (*out == NULL)
		return PBJSON_ERR_NOMEM;
	protobuf_c_message_init(d, *out);
	return fill_message(*out, j, depth);
}

static int parse_value(const ProtobufCFieldDescriptor *f, json_t *j, void *v,
		       int depth)
{
	double d;
	int rc;

	switch (f->type) {
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
		rc = parse_real(j, &d);
		if (rc == 0 && f->type == PROTOBUF_C_TYPE_DOUBLE)
			*(double *)v = d;
		else if (rc == 0 && isfinite(d) && fabs(d) > FLT_MAX)
			rc = PBJSON_ERR_RANGE;
		else if (rc == 0)
			*(float *)v = (float)d;
		return rc;
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(j))
			return PBJSON_ERR_TYPE;
		*(protobuf_c_boolean *)v = json_is_true(j);
		return 0;
	case PROTOBUF_C_TYPE_ENUM:
		return parse_enum(f->descriptor, j, v);
	case PROTOBUF_C_TYPE_STRING:
		if (!json_is_string(j))
			return PBJSON_ERR_TYPE;
		*(char **)v = strdup(json_string_value(j));
		return *(char **)v ? 0 : PBJSON_ERR_NOMEM;
	case PROTOBUF_C_TYPE_BYTES:
		return parse_bytes(j, v);
	case PROTOBUF_C_TYPE_MESSAGE:
		return parse_message(f->descriptor, j, v, depth + 1);
	default:
		return parse_int(f->type, j, v);
	}
}

static int parse_repeated(ProtobufCMessage *m,
			  const ProtobufCFieldDescriptor *f, json_t *j,
			  int depth)
{
	size_t n = json_array_size(j), size = pbjson_type_size(f->type), i;
	char *arr;
	int rc;

	if (!json_is_array(j))
		return PBJSON_ERR_TYPE;
	if (n == 0)
		return 0;
	arr = calloc(n, size);
	if (arr == NULL)
		return PBJSON_ERR_NOMEM;
	/* Count first: a failure half way frees what was filled. */
	*(void **)((char *)m + f->offset) = arr;
	*(size_t *)((char *)m + f->quantifier_offset) = n;
	for (i = 0; i < n; i++) {
		rc =
		    parse_value(f, json_array_get(j, i), arr + i * size, depth);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int set_field(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
		     json_t *j, int depth)
{
	char *q = (char *)m + f->quantifier_offset;
	int rc;

	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return parse_repeated(m, f, j, depth);
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		if (*(uint32_t *)q != 0 && *(uint32_t *)q != f->id)
			return PBJSON_ERR_ONEOF;
		/* The case first, so that a failure frees the member. */
		*(uint32_t *)q = f->id;
	}
	rc = parse_value(f, j, (char *)m + f->offset, depth);
	if (rc == 0 && f->label == PROTOBUF_C_LABEL_OPTIONAL &&
	    !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
	    f->type != PROTOBUF_C_TYPE_STRING &&
	    f->type != PROTOBUF_C_TYPE_MESSAGE)
		*(protobuf_c_boolean *)q = 1;
	return rc;
}

static int fill_message(ProtobufCMessage *m, json_t *obj, int depth)
{
	const ProtobufCFieldDescriptor *f;
	const char *key;
	json_t *val;
	int rc;

	json_object_foreach(obj, key, val)
	{
		f = protobuf_c_message_descriptor_get_field_by_name(
		    m->descriptor, key);
		if (f == NULL)
			return PBJSON_ERR_FIELD;
		if (json_is_null(val))
			continue;
		rc = set_field(m, f, val, depth);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int pbjson_to_message(const ProtobufCMessageDescriptor *desc, json_t *json,
		      ProtobufCMessage **out)
{
	int rc;

	*out = NULL;
	if (desc == NULL || json == NULL)
		return PBJSON_ERR_INVAL;
	rc = parse_message(desc, json, out, 0);
	if (rc != 0) {
		protobuf_c_message_free_unpacked(*out, NULL);
		*out = NULL;
	}
	return rc;
}
