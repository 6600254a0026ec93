/* The console stream from vmworker to the host, exactly once for the
 * user: offsets are the sequence numbers, the host drops what it already
 * wrote, and vmworker drops nothing before the host acknowledged it
 * (ConsoleTake's ack is the host's ConsoleBatchAck), so a restarted
 * hostcomm picks up where the host is and loses no byte. */
#include <time.h>

#include "hostchan.pb-c.h"
#include "lib/log.h"
#include "services/hostcomm/hostcomm.h"
#include "vmworker.pb-c.h"

#define TAKE_WAIT_MS 1000 /* vmworker answers at once when bytes arrive */

void hostcomm_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Sends one chunk to the host; the host's ack (or 0) comes back. */
static int hostcomm_send_chunk(struct hostcomm *h,
			       const Parapet__ConsoleChunk *c)
{
	Parapet__ConsoleBatch b = PARAPET__CONSOLE_BATCH__INIT;
	Parapet__ConsoleBatchAck *ack = NULL;
	int rc;

	b.has_offset = b.has_data = 1;
	b.offset = c->offset;
	b.data = c->data;
	rc = ipc_call(h->host, "Console", &b.base, (ProtobufCMessage **)&ack);
	if (rc != 0) {
		log_debug("HostChannel.Console: %s", ipc_strerror(rc));
		return rc;
	}
	pthread_mutex_lock(&h->lock);
	if (ack->acked > h->acked)
		h->acked = ack->acked;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	ipc_free(&ack->base);
	return 0;
}

/* One round: take what vmworker holds past the host's ack and send it.
 * Returns 1 when vmworker had nothing more, 0 after a chunk, or an
 * ipc_err. The console loop and Finish may both run it: the host drops
 * bytes it already has and acks only grow, so overlap is harmless. */
int hostcomm_console_step(struct hostcomm *h, struct ipc_client *vm,
			  unsigned wait_ms)
{
	Parapet__ConsoleTakeRequest t = PARAPET__CONSOLE_TAKE_REQUEST__INIT;
	Parapet__ConsoleChunk *c = NULL;
	int rc;

	pthread_mutex_lock(&h->lock);
	t.ack = h->acked;
	pthread_mutex_unlock(&h->lock);
	t.has_ack = t.has_max_bytes = t.has_wait_ms = 1;
	t.max_bytes = HOSTCOMM_BODY_MAX;
	t.wait_ms = wait_ms;
	rc = ipc_call(vm, "ConsoleTake", &t.base, (ProtobufCMessage **)&c);
	if (rc != 0) {
		log_debug("VmWorker.ConsoleTake: %s", ipc_strerror(rc));
		return rc;
	}
	rc = c->data.len == 0 ? 1 : hostcomm_send_chunk(h, c);
	ipc_free(&c->base);
	return rc;
}

void *hostcomm_console_loop(void *arg)
{
	struct hostcomm *h = arg;

	for (;;)
		if (hostcomm_console_step(h, h->vm, TAKE_WAIT_MS) < 0)
			hostcomm_sleep_ms(50); /* the same bytes again */
	return NULL;
}
