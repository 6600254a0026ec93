/* parapet-blkd --standalone: one disk file served on a socket to any
 * vhost-user front-end (qemu for interop tests), without parapet-init. */
#ifndef PARAPET_BLKD_STANDALONE_H
#define PARAPET_BLKD_STANDALONE_H

#include <stdio.h>

#define BLKD_EXIT_SETUP 125 /* as parapet run's set-up failure */

void blkd_standalone_usage(FILE *out);

/* Parses argv (--standalone, --help ...) and runs; main's exit status. */
int blkd_standalone_main(int argc, char **argv);

#endif
