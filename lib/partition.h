/* What the host launcher, the shim and init agree on: the fds the shim
 * hands to init across exec, the sidecar region's layout, the exit
 * statuses and where things live inside a partition. */
#ifndef PARAPET_PARTITION_H
#define PARAPET_PARTITION_H

#include <stdio.h>

/* Inherited by parapet-init at these numbers (also recorded in the boot
 * device tree, /parapet/...-fd); init marks them close-on-exec and hands
 * them to services over their supervisor channel (manifest fds=). */
#define PARTITION_FD_GUEST_RAM 10 /* memfd: guest RAM, pages loaded */
#define PARTITION_FD_SIDECAR   11 /* memfd: sidecar region */
#define PARTITION_FD_BOOT_DTB  12 /* memfd: the boot device tree (sealed) */
#define PARTITION_FD_BOOT_IMAGE                                                \
	13 /* memfd: guest RAM as loaded, sparse and sealed (for reset) */

/* The host→init descriptor channel (lib/fdchan.h): init's end of a
 * SOCK_SEQPACKET socketpair whose other end `parapet run` keeps. Not
 * handed to services. */
#define PARTITION_FD_HOST_FDS 9

/* Sidecar region: one control page, then one command page per VP. */
#define PARTITION_SIDECAR_CONTROL_SIZE 4096u
#define PARTITION_SIDECAR_VP_SIZE      4096u

/* Exit statuses of `parapet run` (DESIGN.md §3). */
#define PARTITION_EXIT_BIG_VALUE 122
#define PARTITION_EXIT_CRASH	 123
#define PARTITION_EXIT_TIMEOUT	 124
#define PARTITION_EXIT_SETUP	 125
/* A power-off caused by SIGTERM/SIGINT exits 128 + the signal number. */
#define PARTITION_EXIT_SIGNAL_BASE 128

/* Inside the partition. */
/* Each service's sockets sit in PARTITION_IPC_DIR/NAME/, a directory
 * only that service may write (init makes it: the service's uid, group
 * sandbox_ipc_gid(), 0750), so it creates and removes only its own. */
#define PARTITION_IPC_DIR   "/run/parapet/ipc"
#define PARTITION_INIT_SOCK "/run/parapet/ipc/init/init.sock"
/* The trace tap's on/off flag: a u32 at offset 0 of this 4 KiB file (init
 * creates it, mode 0640 plus an ACL entry for diagd; services map it
 * read-only, diagd sets it). */
#define PARTITION_TRACE_FLAG	  "/run/parapet/ipc/trace.flag"
#define PARTITION_TRACE_FLAG_SIZE 4096u
#define PARTITION_HOST_DIR	  "/run/parapet/host"
#define PARTITION_FDT_PATH	  "/sys/firmware/fdt"
#define PARTITION_DT_BASE_PATH	  "/sys/firmware/devicetree/base"

/* buf = IPC_DIR/SVC/SVC SUFFIX (".sock", ".trace.sock"); as snprintf. */
static inline int partition_sock_path(char *buf, size_t len,
				      const char *ipc_dir, const char *svc,
				      const char *suffix)
{
	return snprintf(buf, len, "%s/%s/%s%s", ipc_dir, svc, svc, suffix);
}

/* Longest boot device tree the shim builds. */
#define PARTITION_DTB_MAX (256u * 1024)

#endif
