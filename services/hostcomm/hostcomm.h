/* parapet-hostcomm's state, shared by its loops: console.c (vmworker's
 * console stream to the host, at-least-once with offsets and acks),
 * work.c (the host's long poll: stdin to the guest, ctl commands to
 * policy) and main.c (the service; Finish: drain, then the guest
 * event). */
#ifndef PARAPET_HOSTCOMM_H
#define PARAPET_HOSTCOMM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hostchan.pb-c.h"
#include "lib/ipc.h"
#include "lib/svcbase.h"

#define HOSTCOMM_BODY_MAX 8192 /* services.md: 8 KiB message bodies */

struct hostcomm {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t acked; /* console bytes the host has (stream offset) */
	unsigned cmds_in_flight;
	bool finishing; /* a Finish is queued or running */
	struct svcbase *sb;
	_Atomic bool finished; /* the guest event reached the host */
	struct ipc_client *vm, *host, *policy;
	struct ipc_client *vm_quick;	 /* short timeout, for leaving */
	struct ipc_client *policy_quick; /* short timeout: Status for polls */
	struct ipc_trace *trace;
};

void *hostcomm_console_loop(void *arg);
/* vm: the client to use (h->vm, or h->vm_quick when leaving). */
int hostcomm_console_step(struct hostcomm *h, struct ipc_client *vm,
			  unsigned wait_ms);
void *hostcomm_work_loop(void *arg);

/* The work loop's state: stdin handed to vmworker, the command rate. */
struct hostcomm_work {
	uint64_t input_ack;
	double tokens;
	uint64_t tokens_at;
	char vm_state[16]; /* policy's, sent with each poll ("": unknown) */
	uint64_t vm_state_at;
};
void hostcomm_work_init(struct hostcomm_work *w);
/* Handles one HostWork the host answered a poll with: each command
 * through policy and answered with CommandDone, then the stdin bytes to
 * vmworker. */
void hostcomm_work_handle(struct hostcomm *h, struct hostcomm_work *w,
			  const Parapet__HostWork *hw);
/* Sleeps ms milliseconds. */
void hostcomm_sleep_ms(unsigned ms);

#endif
