/* `parapet run` and `parapet list`: start a partition and stay outside as
 * its host; list the running ones. */
#ifndef PARAPET_HOST_RUN_H
#define PARAPET_HOST_RUN_H

int run_main(int argc, char **argv);

/* "parapet run: " and the message on stderr; returns 125 (set-up
 * failed, PARTITION_EXIT_SETUP). */
int run_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int list_main(int argc, char **argv);
/* host/ctl.c: `parapet ctl NAME COMMAND` */
int ctl_main(int argc, char **argv);
/* host/metrics_cmd.c: `parapet metrics` execs parapet-metrics */
int metrics_main(int argc, char **argv);

#endif
