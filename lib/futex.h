/* Futex wait and wake on a 32-bit word shared between threads or
 * processes (the sidecar rings), and an adaptive wait that spins before
 * it sleeps. */
#ifndef PARAPET_FUTEX_H
#define PARAPET_FUTEX_H

#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Sleeps while *word == expected (or until timeout_ns, 0: none). */
static inline void futex_wait(uint32_t *word, uint32_t expected,
			      uint64_t timeout_ns)
{
	struct timespec ts = { (time_t)(timeout_ns / 1000000000u),
			       (long)(timeout_ns % 1000000000u) };

	syscall(SYS_futex, word, FUTEX_WAIT, expected, timeout_ns ? &ts : NULL,
		NULL, 0);
}

static inline void futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static inline void futex_wake_all(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* Waits until *word != old: spins up to spins times, then sleeps on the
 * futex with *waiting set so that the poster knows to wake it. */
static inline uint32_t futex_wait_change(uint32_t *word, uint32_t old,
					 uint32_t *waiting, unsigned spins)
{
	uint32_t now;
	unsigned i;

	for (i = 0; i < spins; i++) {
		now = __atomic_load_n(word, __ATOMIC_ACQUIRE);
		if (now != old)
			return now;
		cpu_relax();
	}
	for (;;) {
		__atomic_store_n(waiting, 1, __ATOMIC_SEQ_CST);
		now = __atomic_load_n(word, __ATOMIC_SEQ_CST);
		if (now != old)
			break;
		futex_wait(word, old, 0);
	}
	__atomic_store_n(waiting, 0, __ATOMIC_RELAXED);
	return now;
}

/* Bumps *word and wakes a waiter if one sleeps. */
static inline void futex_post(uint32_t *word, uint32_t *waiting)
{
	__atomic_add_fetch(word, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(waiting, __ATOMIC_SEQ_CST))
		futex_wake(word);
}

#endif
