/* The host side of the host channel (DESIGN.md §5, services.md): serves
 * HostChannel on RUN_DIR/host.sock for the partition's hostcomm (console
 * bytes to stdout once each, stdin for the guest by long poll, the guest
 * event) and HostCtl on RUN_DIR/ctl.sock for `parapet ctl`. */
#ifndef PARAPET_HOST_HOSTCHAN_H
#define PARAPET_HOST_HOSTCHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct hostchan;

/* Opens both sockets in run_dir (owner-only). out_fd (or -1: none) gets
 * the console bytes, in_fd (or -1) is read for the guest's input; fds_fd is our
 * end of the descriptor channel to init (lib/fdchan.h), where a `service
 * --binary` file goes; hostcomm_uid is the partition's hostcomm as the
 * host sees it (host/ids.h). NULL on failure. */
struct hostchan *hostchan_open(const char *run_dir, int out_fd, int in_fd,
			       int fds_fd, uid_t hostcomm_uid);
/* The run is over: the console writer stops (every byte acknowledged to
 * hostcomm is out already; queued calls are abandoned) and so do both
 * listeners' watchdogs, so that nothing makes a socket in the run
 * directory from here on. The sockets stay until hostchan_close, or the
 * process's exit. Once; hostchan_close after it skips what it did. */
void hostchan_stop(struct hostchan *h);
void hostchan_close(struct hostchan *h);

/* The fd the caller polls for input (-1: none wanted now), and the call
 * when it is readable. */
int hostchan_input_fd(struct hostchan *h);
void hostchan_on_input(struct hostchan *h);
/* Expires long polls and ctl commands; returns ms until the next due. */
int hostchan_tick(struct hostchan *h);

/* The VM's state for `parapet list`: booting, running, paused,
 * servicing, stopped or crashed, as hostcomm last reported policy's (each
 * poll carries it) and from the host's own view (a `service` command out,
 * the guest event); "" until hostcomm first said. */
void hostchan_vm_state(struct hostchan *h, char *out, size_t len);
/* policy's state name as `parapet list` shows it (starting: booting,
 * saving and restoring: servicing); NULL for a name it does not know. */
const char *hostchan_state_name(const char *policy_state);
/* Every console byte also goes to tap(arg, bytes, n), once, in order,
 * after out_fd got it (on an nng thread, under the console lock: tap
 * must not block). Set it before the partition can connect. */
void hostchan_set_tap(struct hostchan *h,
		      void (*tap)(void *arg, const uint8_t *p, size_t n),
		      void *arg);
/* Input for the guest from elsewhere than in_fd (attached consoles),
 * merged with in_fd's: queues what fits, returns how many bytes. */
size_t hostchan_put_input(struct hostchan *h, const void *p, size_t n);
/* Bytes of input hostchan_put_input takes now. */
size_t hostchan_input_room(struct hostchan *h);

/* Monotonic ns of the first console byte written, or 0. */
uint64_t hostchan_first_console_ns(struct hostchan *h);
/* Console bytes written so far. */
uint64_t hostchan_console_bytes(struct hostchan *h);

#endif
