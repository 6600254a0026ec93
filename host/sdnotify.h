/* `parapet run` under systemd's Type=notify (parapet@.service): READY=1
 * once the guest runs, STATUS= lines (booting, running, powering off,
 * powered off) and STOPPING=1, as datagrams to $NOTIFY_SOCKET in the
 * stable protocol of sd_notify(3), written here so that parapet links no
 * libsystemd. Without NOTIFY_SOCKET every call does nothing. */
#ifndef PARAPET_HOST_SDNOTIFY_H
#define PARAPET_HOST_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

struct ipc_client;

struct sdnotify {
	int fd; /* -1: not under systemd's notify */
	struct sockaddr_un addr;
	socklen_t addr_len;
	bool ready;
	uint64_t next_ns;	 /* the next readiness check */
	struct ipc_client *diag; /* diagd, asked for the VM's state */
};

/* Reads NOTIFY_SOCKET and unsets it: nothing the partition starts
 * inherits it. A bad value is logged and ignored. */
void sdnotify_open(struct sdnotify *n);

/* Sends one datagram (lines "KEY=value\n..."); 0, or -1 (logged once). */
int sdnotify_send(struct sdnotify *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* From run's poll loop: READY=1 and STATUS=running once the guest runs,
 * i.e. it wrote its first console byte (first_console_ns) or policy,
 * asked through run_dir's diag.sock, says running. Checks every 250 ms
 * until then. */
void sdnotify_tick(struct sdnotify *n, const char *run_dir,
		   uint64_t first_console_ns);

/* The run is over (the partition gone): READY=1 first if the guest ran
 * (wrote to its console) faster than sdnotify_tick saw, since systemd
 * counts a notify service that ends unready as failed to start; then
 * STATUS=powered off (exit status STATUS); closes. */
void sdnotify_done(struct sdnotify *n, uint64_t first_console_ns, int status);

#endif
