/* What vmworker's service parts share (service.c, service_ipc.c). */
#ifndef PARAPET_VMWORKER_SERVICE_INT_H
#define PARAPET_VMWORKER_SERVICE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/ipc.h"
#include "lib/partition.h"
#include "lib/svcbase.h"
#include "sandbox/sandbox.h"
#include "services/vmworker/console.h"
#include "services/vmworker/dtconfig.h"
#include "services/vmworker/sidecar.h"
#include "services/vmworker/vm.h"

#define VMW_MAX_TAKES	4    /* ConsoleTake calls waiting for data */
#define VMW_CONSOLE_MAX 8192 /* bytes per ConsoleChunk */
#define VMW_INPUT_MAX	4096 /* bytes per ConsoleInput */

struct vmw_take {
	struct ipc_request *req;
	ProtobufCMessage *out;
	uint64_t deadline_ns;
	uint32_t max;
};

struct vmw {
	struct dtconfig cfg;
	const struct accel_ops *accel;
	struct sandbox_status sandbox;
	int ram_fd, sidecar_fd, dtb_fd, saved_fd;
	int image_fd;		      /* the boot image for Reset, or -1 */
	int disk_fds[GUEST_DISK_MAX]; /* external backends' connections */
	struct console console;
	struct vm vm;
	struct sidecar sidecar;
	bool has_sidecar;
	bool restored; /* continued a saved state */
	bool refused;  /* a saved state was refused: the VM is crashed */
	_Atomic bool console_handed; /* a ConsoleTake carried bytes */

	pthread_mutex_t lock; /* vm_started, takes */
	bool vm_started;
	pthread_t vm_tid;
	_Atomic bool saved;	 /* servicing: state handed to init */
	_Atomic uint32_t vm_ran; /* vm_run returned (the thread may still be
				  * telling policy) */
	_Atomic uint32_t boot;	 /* resets so far */
	_Atomic bool stopping;	 /* the process is ending */

	struct svcbase *sb; /* its loop answers the waiting ConsoleTakes */
	struct ipc_server *server;
	struct ipc_client *policy;
	struct vmw_take takes[VMW_MAX_TAKES]; /* under lock */
	unsigned n_takes;
	uint64_t data_at; /* when the loop saw bytes for them (0: none) */
	/* A restored instance's stages (monotonic ns), logged beside its
	 * blackout: the fds from init, the VM built, the endpoints open. */
	uint64_t fds_ns, vm_ns, open_ns;
};

#define VMW_N_METHODS 9
extern const struct ipc_method vmw_methods[VMW_N_METHODS];

/* Sandbox step 8: the client of policy, the console's kick. */
int vmw_ipc_open(struct svcbase *sb);
/* The VmWorker server from the skeleton's configuration. */
struct ipc_server *vmw_ipc_server(struct svcbase *sb,
				  struct ipc_server_config *cfg);
/* The loop's timer: answers the ConsoleTakes whose bytes or time came;
 * the next deadline (0: none). */
uint64_t vmw_takes_due(struct svcbase *sb, uint64_t now);
void vmw_ipc_close(struct vmw *w);
/* Sleeps until *word is no longer old, or until (monotonic ns). */
void vmw_wait_change(const void *word, uint32_t old, uint64_t until);
/* Starts the VM's thread (Start); idempotent. */
int vmw_start_vm(struct vmw *w);

#endif
