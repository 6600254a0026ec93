/* vmworker's watch over its disks' backends: one thread notices a
 * backend going away (parapet-blkd killed, crashed or restarted), waits
 * for its next instance and starts the running queue again there, while
 * the VPs run on (docs/disks.md, "A backend restarts"). */
#ifndef PARAPET_VBLK_WATCH_H
#define PARAPET_VBLK_WATCH_H

struct vm;

#define VBLK_RECONNECT_MS 30000 /* for the next backend, init's backoff */

/* Starts the thread when vm has disks (in the sandbox: the thread is
 * under vmworker's filter). 0, or -1 logged. */
int vblk_watch_start(struct vm *vm);

/* A disk connected to its backend: the thread watches it from now on.
 * Cheap (one eventfd write); any thread, any lock held. */
void vblk_watch_poke(void);

/* Stops the thread and waits for it (before the disks close). */
void vblk_watch_stop(void);

#endif
