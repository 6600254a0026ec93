/* `parapet run` and `parapet list`: start a partition and stay outside as
 * its host; list the running ones. */
#ifndef PARAPET_HOST_RUN_H
#define PARAPET_HOST_RUN_H

int run_main(int argc, char **argv);
int list_main(int argc, char **argv);
/* host/ctl.c: `parapet ctl NAME COMMAND` */
int ctl_main(int argc, char **argv);

#endif
