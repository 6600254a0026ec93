/* parapet-init, PID 1 of a partition: its state (the supervised services)
 * and the modules of its one event loop: service.c (spawn, reap, restart,
 * stop), control.c (the InitControl endpoint), logring.c (service logs),
 * setup.c (mounts, environment, the boot device tree). */
#ifndef PARAPET_INIT_H
#define PARAPET_INIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "init/supervisor.h"
#include "lib/version.h"
#include "lib/evqueue.h"
#include "lib/guest_abi.h"
#include "lib/manifest.h"

#define LOGRING_SIZE (64u * 1024)

/* A byte ring holding the tail of a service's stderr. */
struct logring {
	uint8_t buf[LOGRING_SIZE];
	uint64_t written; /* bytes ever written */
};

void logring_write(struct logring *r, const void *data, size_t len);
/* Copies the last up to max bytes; returns the count. */
size_t logring_tail(const struct logring *r, uint8_t *out, size_t max);
uint64_t logring_dropped(const struct logring *r);

struct ctl_req;

/* One forked instance: pid, init's end of its channel, its log pipe. */
struct svc_proc {
	pid_t pid;
	int chan, log_fd;
};

/* The next instance started ahead (servicing): exec'ed and loaded, it
 * waits for its fds until the service's next start takes it over. */
struct svc_standby {
	struct svc_proc proc;	 /* pid 0: none */
	struct sup_standby sup;	 /* loading, loaded; its expiry */
	char path[1400];	 /* the binary it runs */
	struct ctl_req *pending; /* the Restart{standby} waiting for LOADED */
	unsigned starts;
	/* Servicing: its fds and the saved state went to it when the running
	 * instance was told to stop, so it restores and resumes the guest
	 * while that one exits; its channel is read once it is adopted. */
	bool handed;
};

/* The fd name a service hands init before servicing (supervisor channel
 * FDS message); init passes it to the service's next instance. */
#define SVC_SAVED_STATE "saved-state"

struct service {
	struct manifest_service m;
	char path[1400]; /* resolved binary */
	pid_t pid;
	int chan;     /* init's end of the supervisor channel, or -1 */
	int log_fd;   /* read end of the stderr pipe, or -1 */
	int log_file; /* host run dir logs/NAME.log, or -1 */
	int saved_fd; /* servicing: state for the next instance, or -1 */
	/* An update (Restart with a new binary) until its instance is ready:
	 * the binary it replaced and the saved state it was given, for
	 * going back if the new binary dies first. */
	char prev_path[1400];
	/* A binary set by Restart: the descriptor init opened and checked
	 * (exec'd instead of path), and the one it replaced; -1: the
	 * manifest's binary, by path. */
	int bin_fd, prev_bin_fd;
	int update_saved_fd;
	struct sup sup; /* its state, backoff, timers, what a request awaits */
	uint64_t ready_ns;
	uint64_t boot_ready_ns;	  /* its first READY: the timeline's stamp */
	uint64_t boot_spawned_ns; /* its first spawn: the timeline's stamp */
	unsigned spawns, deaths;
	char last_exit[96];
	struct logring log;
	struct ctl_req *pending; /* answered when sup.wait is over */
	struct svc_standby standby;
};

#define INIT_SERVICING_MAX 64 /* kept for the timeline */

/* A service's READY after boot, for the timeline (the last ones). */
struct init_events {
	struct {
		char service[32];
		uint64_t at_ns, blackout_ns;
	} e[INIT_SERVICING_MAX];
	unsigned n;
};
#define INIT_QUEUE_MAX 64 /* control requests waiting for the loop */

/* A descriptor the host sent (hostfds.c), until a request takes it. */
#define INIT_HOST_FDS_MAX 8
struct init_host_fd {
	int fd; /* -1: a free slot */
	uint64_t token, seq;
	char label[1024]; /* its host path */
};

/* A disk's descriptor from the host (docs/disks.md): the file parapet-blkd
 * serves, or the connection to an external vhost-user backend. Kept for
 * the partition's life: every new instance of its service gets a copy. */
struct init_disk {
	int fd;	  /* -1: no disk N */
	int kind; /* FDCHAN_DISK or FDCHAN_VHOST_USER */
	char label[1024];
};

struct init {
	struct service svc[MANIFEST_MAX_SERVICES];
	unsigned n_svc;
	int sigfd;
	struct evqueue queue;		 /* control requests for the loop */
	int part_fds[MANIFEST_FD_COUNT]; /* guest RAM, sidecar, boot dtb */
	int host_fds; /* the descriptor channel from the host, or -1 */
	struct init_host_fd host_fd[INIT_HOST_FDS_MAX];
	uint64_t host_fd_seq;
	struct init_disk disk[GUEST_DISK_MAX];
	unsigned n_disks; /* in the boot device tree */
	char libexec[1024];
	char name[64];
	char log_env[16]; /* PARAPET_LOG value, or "" */
	bool kvm;
	uint64_t start_ns;
	uint64_t orphans;
	bool powering_off;
	/* every service stops at once: nothing needs vmworker any more */
	bool poweroff_together;
	int poweroff_status;
	struct control *control;
	/* boot timeline stamps from the device tree */
	uint64_t reftime_run_start, reftime_shim_start, reftime_shim_end;
	/* Servicings (restored instances' READY) and restarts (any other
	 * READY after a service's first), newest last: the boot stamps
	 * (service_ready) stay those of boot. */
	struct init_events servicing, restarts;
};

/* setup.c */
int init_setup(struct init *in);
void init_write_timeline(const struct init *in);
/* A service's READY: its first is a boot stamp; a later one is noted
 * as a servicing (blackout_ns given) or a restart. */
void init_note_ready(struct init *in, struct service *s,
		     const uint64_t *blackout_ns);

/* service.c */
/* Forks and execs an instance of s (a standby: PARAPET_STANDBY=1 in its
 * environment); 0, or -1 with errno (ENOENT: no binary, logged). */
int svc_fork(struct init *in, struct service *s, bool standby,
	     struct svc_proc *out);
/* Copies what fd holds of s's stderr into its ring, init's stderr and
 * its log file. */
void svc_copy_log(struct service *s, int fd);
/* Feeds s's supervisor START, STOP, RESTART (request: a control request
 * in s->pending waits on it) or POWEROFF, and does what it decides. */
void svc_command(struct init *in, struct service *s, enum sup_event ev,
		 bool request);
void svc_reap(struct init *in);
void svc_on_channel(struct init *in, struct service *s);
void svc_on_log(struct init *in, struct service *s);
/* Fires due timers; returns the poll timeout in ms until the next. */
int svc_timers(struct init *in);
struct service *svc_find(struct init *in, const char *name);
/* Powers off with status (once). together: the host has the console and
 * the guest's event, so REGISTRY_F_STOP_LAST services stop with the
 * others (init_poweroff_step). */
void init_poweroff(struct init *in, int status, const char *reason,
		   bool together);

/* standby.c */
/* Starts s's standby (once); the request r is answered when it loaded
 * (or died). 0, or -1 with r answered at once. */
int standby_start(struct init *in, struct service *s, struct ctl_req *r);
/* The fds the manifest grants s, and its saved state once, on chan. */
void svc_send_fds(struct init *in, struct service *s, int chan);
/* At s's next start: takes over its standby when it runs s's binary
 * (out filled, true; handed: it has its fds already); a standby of
 * another binary is killed. */
bool standby_adopt(struct init *in, struct service *s, struct svc_proc *out,
		   bool *handed);
/* After the running instance of s was told to stop for a restart with a
 * saved state: hands the loaded standby its fds and the state now
 * (svc_send_fds), not once the instance is gone; true if it did. */
bool standby_hand_over(struct init *in, struct service *s);
void standby_on_channel(struct init *in, struct service *s);
void standby_on_log(struct service *s, bool hup);
/* pid was a standby: cleaned up, its request answered; true. */
bool standby_reaped(struct init *in, pid_t pid, int status);
/* Kills an expired standby (or every one at power-off); returns the
 * earlier of next and its expiry. */
uint64_t standby_timer(struct init *in, struct service *s, uint64_t now,
		       uint64_t next);

/* control.c */
struct control;
/* The control endpoint; it closes with init's exit (the partition's
 * end): there is no close. */
struct control *control_open(struct init *in);
/* Runs the queued requests in the event loop (after the queue's fd
 * fired). */
void control_run_queue(struct init *in);
/* Completes request r about s: 0, or an error with message why. */
/* init/verprobe.c: the saved-state versions the binary (bin_fd, or path
 * when bin_fd < 0) reads, from its --version; 1..1 when it says none. */
void verprobe_read(int bin_fd, const char *path, struct version_range *r);

void control_answer(struct ctl_req *r, struct service *s, const char *why);

/* hostfds.c: the host→init descriptor channel (lib/fdchan.h). */
void hostfds_open(struct init *in);
void hostfds_on_readable(struct init *in);
/* The descriptor sent with token (after taking what is waiting), or NULL. */
struct init_host_fd *hostfds_find(struct init *in, uint64_t token);
/* Checks that every disk of the boot device tree (/parapet/disks, node
 * offset disks or < 0 for none) came with its descriptor: 0, or -1
 * (logged). */
int hostfds_check_disks(struct init *in, const void *fdt, int disks);
/* The disks' descriptors service s gets: blkd the files ("diskN"),
 * vmworker the external backends' connections ("vhost-userN"). Fills
 * names (room for name_len bytes each) and fds; returns how many. */
size_t hostfds_disks_for(const struct init *in, const char *service,
			 char (*names)[16], int *fds, size_t max);
/* Hands over a found descriptor (the slot is free again). */
int hostfds_take(struct init_host_fd *h);

#endif
