/* One VM in the foreground from an IGVM file (parapet-vmworker
 * --standalone): image loading, console on stdin/stdout, exit statuses of
 * `parapet run` (DESIGN.md §3). */
#ifndef PARAPET_STANDALONE_H
#define PARAPET_STANDALONE_H

#include "boot/vmopts.h"

#define STANDALONE_EXIT_BIG_VALUE 122
#define STANDALONE_EXIT_CRASH	  123
#define STANDALONE_EXIT_TIMEOUT	  124
#define STANDALONE_EXIT_SETUP	  125

/* Runs args->image with the --standalone flags in args (accel set). */
int standalone_run(const struct vmopts *args);

#endif
