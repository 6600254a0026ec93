/* `parapet metrics`: execs parapet-metrics from the libexec directory,
 * so that the HTTP server's library (libmicrohttpd) is loaded by that
 * command alone, never by `parapet run`. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "host/libexec.h"
#include "host/run.h"

int metrics_main(int argc, char **argv)
{
	char dir[2200], path[2300], err[2400];

	(void)argc;
	if (libexec_find("parapet-metrics", dir, sizeof(dir), err,
			 sizeof(err)) != 0) {
		fprintf(stderr, "parapet metrics: %s\n", err);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/parapet-metrics", dir);
	argv[0] = (char *)(uintptr_t) "parapet-metrics";
	execv(path, argv);
	fprintf(stderr, "parapet metrics: exec %s: %s\n", path,
		strerror(errno));
	return 1;
}
