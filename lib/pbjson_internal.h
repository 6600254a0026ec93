/* Internals shared by lib/pbjson*.c: reading one field of any protobuf-c
 * message through its descriptor (presence, counts, elements). */
#ifndef PARAPET_PBJSON_INTERNAL_H
#define PARAPET_PBJSON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* How many values field f holds in m: the repeated count, or 1/0 for a
 * singular field present/absent (has_ flag, pointer, oneof case). */
size_t pbjson_field_count(const ProtobufCMessage *m,
			  const ProtobufCFieldDescriptor *f);

/* The address of value i of field f (i = 0 for a singular field). */
const void *pbjson_field_elem(const ProtobufCMessage *m,
			      const ProtobufCFieldDescriptor *f, size_t i);

/* Bytes one value of type t takes in a message struct or array. */
size_t pbjson_type_size(ProtobufCType t);

/* Writes 2 * n lowercase hex digits and a NUL to dst. */
void pbjson_hex(char *dst, const uint8_t *src, size_t n);

#endif
