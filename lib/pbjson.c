/* lib/pbjson: protobuf-c messages to JSON through their descriptors, the
 * wire-format depth check and the bounded unpack every decoder uses. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pbjson.h"
#include "lib/pbjson_internal.h"

static const char *const pbjson_errors[PBJSON_ERR_COUNT] = {
	"success",
	"invalid argument",
	"out of memory or decode budget",
	"message over the size limit",
	"malformed message",
	"messages nested too deep",
	"no such field",
	"wrong JSON type for the field",
	"number out of range for the field",
	"more than one member of a oneof",
};

const char *pbjson_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err >= PBJSON_ERR_COUNT)
		return "unknown error";
	return pbjson_errors[err];
}

/* --------------------------------------------------------------- fields */

size_t pbjson_type_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default: /* 32-bit integers, enum, float */
		return 4;
	}
}

static const void *member_of(const ProtobufCMessage *m, unsigned offset)
{
	return (const char *)m + offset;
}

/* proto3 singular fields (LABEL_NONE) are present when not zero. */
static size_t none_present(const ProtobufCFieldDescriptor *f, const void *v)
{
	static const uint8_t zero[sizeof(ProtobufCBinaryData)];

	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		return *(char *const *)v != NULL && **(char *const *)v != 0;
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)v)->len != 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(void *const *)v != NULL;
	default:
		return memcmp(v, zero, pbjson_type_size(f->type)) != 0;
	}
}

size_t pbjson_field_count(const ProtobufCMessage *m,
			  const ProtobufCFieldDescriptor *f)
{
	const void *v = member_of(m, f->offset);
	const void *q = member_of(m, f->quantifier_offset);

	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return *(const void *const *)v ? *(const size_t *)q : 0;
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)q == f->id;
	if (f->label == PROTOBUF_C_LABEL_REQUIRED)
		return f->type == PROTOBUF_C_TYPE_STRING ||
			       f->type == PROTOBUF_C_TYPE_MESSAGE
			   ? *(void *const *)v != NULL
			   : 1;
	if (f->label == PROTOBUF_C_LABEL_NONE)
		return none_present(f, v);
	if (f->type == PROTOBUF_C_TYPE_STRING)
		return *(char *const *)v != NULL &&
		       *(const void *const *)v != f->default_value;
	if (f->type == PROTOBUF_C_TYPE_MESSAGE)
		return *(void *const *)v != NULL;
	return *(const protobuf_c_boolean *)q != 0;
}

const void *pbjson_field_elem(const ProtobufCMessage *m,
			      const ProtobufCFieldDescriptor *f, size_t i)
{
	const void *v = member_of(m, f->offset);

	if (f->label != PROTOBUF_C_LABEL_REPEATED)
		return v;
	return *(const char *const *)v + i * pbjson_type_size(f->type);
}

void pbjson_hex(char *dst, const uint8_t *src, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		dst[2 * i] = digits[src[i] >> 4];
		dst[2 * i + 1] = digits[src[i] & 15];
	}
	dst[2 * n] = 0;
}

/* ------------------------------------------------------- message → JSON */

/* Length of the valid UTF-8 sequence at p, or 0. */
static size_t utf8_seq(const uint8_t *p, size_t left)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (n > left)
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* A JSON string of s with every byte that is not UTF-8 as U+FFFD. */
static json_t *string_json(const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t len = strlen(s), i = 0, o = 0, n;
	json_t *j = json_stringn(s, len);
	char *buf;

	if (j != NULL || len > SIZE_MAX / 3)
		return j;
	buf = malloc(3 * len + 1);
	if (buf == NULL)
		return NULL;
	while (i < len) {
		n = utf8_seq(p + i, len - i);
		if (n == 0) {
			memcpy(buf + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(buf + o, p + i, n);
		o += n;
		i += n;
	}
	j = json_stringn(buf, o);
	free(buf);
	return j;
}

static json_t *bytes_json(const ProtobufCBinaryData *b)
{
	char *hex;
	json_t *j;

	if (b->len > (SIZE_MAX - 1) / 2)
		return NULL;
	hex = malloc(2 * b->len + 1);
	if (hex == NULL)
		return NULL;
	pbjson_hex(hex, b->data, b->len);
	j = json_stringn(hex, 2 * b->len);
	free(hex);
	return j;
}

static json_t *real_json(double d)
{
	if (isnan(d))
		return json_string("NaN");
	if (isinf(d))
		return json_string(d > 0 ? "Infinity" : "-Infinity");
	return json_real(d);
}

static json_t *enum_json(const ProtobufCEnumDescriptor *ed, int v)
{
	const ProtobufCEnumValue *ev =
	    protobuf_c_enum_descriptor_get_value(ed, v);

	return ev ? json_string(ev->name) : json_integer(v);
}

static json_t *u64_json(uint64_t u)
{
	if (u > INT64_MAX)
		return json_sprintf("%" PRIu64, u);
	return json_integer((json_int_t)u);
}

static json_t *message_json(const ProtobufCMessage *m, int depth);

static json_t *value_json(const ProtobufCFieldDescriptor *f, const void *v,
			  int depth)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *)v);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *)v);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return json_integer(*(const int64_t *)v);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return u64_json(*(const uint64_t *)v);
	case PROTOBUF_C_TYPE_FLOAT:
		return real_json(*(const float *)v);
	case PROTOBUF_C_TYPE_DOUBLE:
		return real_json(*(const double *)v);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *)v);
	case PROTOBUF_C_TYPE_ENUM:
		return enum_json(f->descriptor, *(const int *)v);
	case PROTOBUF_C_TYPE_STRING:
		return string_json(*(char *const *)v);
	case PROTOBUF_C_TYPE_BYTES:
		return bytes_json(v);
	case PROTOBUF_C_TYPE_MESSAGE:
		if (*(ProtobufCMessage *const *)v == NULL)
			return json_null();
		return message_json(*(ProtobufCMessage *const *)v, depth + 1);
	}
	return NULL;
}

static json_t *field_json(const ProtobufCMessage *m,
			  const ProtobufCFieldDescriptor *f, size_t n,
			  int depth)
{
	json_t *arr;
	size_t i;

	if (f->label != PROTOBUF_C_LABEL_REPEATED)
		return value_json(f, pbjson_field_elem(m, f, 0), depth);
	arr = json_array();
	for (i = 0; arr != NULL && i < n; i++) {
		if (json_array_append_new(
			arr, value_json(f, pbjson_field_elem(m, f, i),
					depth)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return arr;
}

static json_t *message_json(const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	json_t *obj;
	unsigned i;

	if (depth > PBJSON_MAX_DEPTH)
		return NULL;
	obj = json_object();
	for (i = 0; obj != NULL && i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		size_t n = pbjson_field_count(m, f);

		if (n == 0)
			continue;
		if (json_object_set_new(obj, f->name,
					field_json(m, f, n, depth)) != 0) {
			json_decref(obj);
			obj = NULL;
		}
	}
	return obj;
}

json_t *pbjson_from_message(const ProtobufCMessage *msg)
{
	if (msg == NULL)
		return NULL;
	return message_json(msg, 0);
}

/* ------------------------------------------------------- the wire check */

static int wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	unsigned shift;

	*v = 0;
	for (shift = 0; shift < 70; shift += 7) {
		if (*p >= end)
			return -1;
		*v |= (uint64_t)(**p & 0x7f) << (shift < 64 ? shift : 63);
		if ((*(*p)++ & 0x80) == 0)
			return 0;
	}
	return -1;
}

static int wire_skip(const uint8_t **p, const uint8_t *end, size_t n)
{
	if ((size_t)(end - *p) < n)
		return -1;
	*p += n;
	return 0;
}

static int check_wire(const ProtobufCMessageDescriptor *d, const uint8_t *p,
		      const uint8_t *end, int depth)
{
	const ProtobufCFieldDescriptor *f;
	uint64_t tag, v;
	int rc;

	if (depth > PBJSON_MAX_DEPTH)
		return PBJSON_ERR_TOO_DEEP;
	while (p < end) {
		if (wire_varint(&p, end, &tag) != 0 || tag >> 3 == 0 ||
		    tag >> 3 > UINT32_MAX)
			return PBJSON_ERR_MALFORMED;
		switch (tag & 7) {
		case 0:
			rc = wire_varint(&p, end, &v);
			break;
		case 1:
			rc = wire_skip(&p, end, 8);
			break;
		case 5:
			rc = wire_skip(&p, end, 4);
			break;
		case 2:
			if (wire_varint(&p, end, &v) != 0 ||
			    v > (uint64_t)(end - p))
				return PBJSON_ERR_MALFORMED;
			f = protobuf_c_message_descriptor_get_field(
			    d, (unsigned)(tag >> 3));
			rc = 0;
			if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE)
				rc = check_wire(f->descriptor, p, p + v,
						depth + 1);
			if (rc != 0)
				return rc;
			p += v;
			break;
		default: /* groups: protobuf-c 1.4 does not decode them */
			return PBJSON_ERR_MALFORMED;
		}
		if (rc != 0)
			return PBJSON_ERR_MALFORMED;
	}
	return 0;
}

int pbjson_check_wire(const ProtobufCMessageDescriptor *desc,
		      const uint8_t *data, size_t len)
{
	static const uint8_t empty[1];

	if (desc == NULL || (data == NULL && len != 0))
		return PBJSON_ERR_INVAL;
	if (len == 0)
		data = empty; /* no arithmetic on NULL */
	return check_wire(desc, data, data + len, 0);
}

int pbjson_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
		  size_t len, size_t max_len, ProtobufCAllocator *a,
		  ProtobufCMessage **out)
{
	int rc;

	*out = NULL;
	if (len > max_len)
		return PBJSON_ERR_TOO_BIG;
	rc = pbjson_check_wire(desc, data, len);
	if (rc != 0)
		return rc;
	*out = protobuf_c_message_unpack(desc, a, len,
					 len ? data : (const uint8_t *)"");
	return *out ? 0 : PBJSON_ERR_MALFORMED;
}
