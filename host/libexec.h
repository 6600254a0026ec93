/* Where the host CLI finds the programs it starts (parapet-boot,
 * parapet-metrics): next to its own executable in the build tree, or in
 * PREFIX/libexec/parapet when installed as PREFIX/bin/parapet. */
#ifndef PARAPET_HOST_LIBEXEC_H
#define PARAPET_HOST_LIBEXEC_H

#include <stddef.h>

/* The directory holding an executable prog into dir. 0, or -1 with a
 * message in err. */
int libexec_find(const char *prog, char *dir, size_t len, char *err,
		 size_t err_len);

#endif
