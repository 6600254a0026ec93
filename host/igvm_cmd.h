/* `parapet igvm build|dump|measure`: the IGVM subcommands of the host CLI.
 * Exit statuses: 0 ok, 1 failed, 2 bad input (DESIGN.md §3). */
#ifndef PARAPET_IGVM_CMD_H
#define PARAPET_IGVM_CMD_H

#define CMD_OK	      0
#define CMD_FAILED    1
#define CMD_BAD_INPUT 2

/* argv[0] is "igvm". Never exits; returns the exit status. */
int igvm_cmd_main(int argc, char **argv);

#endif
