/* `parapet igvm dump` output: every header of a parsed image as text or
 * JSON. */
#ifndef PARAPET_IGVM_DUMP_H
#define PARAPET_IGVM_DUMP_H

#include <stdbool.h>
#include <stdio.h>

#include "boot/igvm.h"

/* Writes the dump of f to fp; 0 on success, -1 on an output error. */
int igvm_dump(const struct igvm_file *f, FILE *fp, bool json);

#endif
