/* smp: the BSP starts every other VP through the mailbox; each AP prints
 * "vp N up" and sets its bit; the BSP exits 0 once all have reported, 3
 * after timeout_ms (default 10000) without them, 2 on a mailbox error.
 * With pio=N (a benchmark of exits on an AP): the BSP starts VP 1 only and
 * halts; VP 1 makes N port writes, prints "smp: vp1 pio N in X us" and
 * powers off (pio_chunk=C: and the fastest run of C writes). */
#include "guest.h"

#define SMP_MAX_VPS   64
#define AP_STACK_SIZE 4096
#define SPIN_BOUND    2000000000ULL /* without a clock */

static volatile struct guest_start_vp requests[SMP_MAX_VPS];
static uint8_t ap_stacks[SMP_MAX_VPS][AP_STACK_SIZE]
    __attribute__((aligned(16)));
static volatile uint64_t up_mask;
static volatile unsigned int up_count;

/* VP 1's timed loop of port writes, then power off. With pio_chunk=C it
 * also times each run of C writes and reports the fastest: a run that
 * other work on the host did not interrupt. */
static void ap_pio_loop(uint64_t n, uint64_t chunk)
{
	uint32_t t0 = ts_now_us(), fastest = 0xffffffffu;
	uint64_t i = 0;

	if (chunk == 0 || chunk > n)
		chunk = n;
	while (n - i >= chunk) {
		uint64_t end = i + chunk;
		uint32_t c0 = ts_now_us(), took;

		for (; i < end; i++)
			outb(GUEST_PORT_TEST_NOOP, (uint8_t)i);
		took = ts_now_us() - c0;
		if (took < fastest)
			fastest = took;
	}
	for (; i < n; i++)
		outb(GUEST_PORT_TEST_NOOP, (uint8_t)i);
	gprintf("smp: vp1 pio %llu in %u us\n", (unsigned long long)n,
		ts_now_us() - t0);
	if (chunk < n)
		gprintf("smp: vp1 pio chunks of %llu: fastest %u us\n",
			(unsigned long long)chunk, fastest);
	guest_exit(0);
}

void guest_ap_main(uint64_t arg)
{
	unsigned int vp = (unsigned int)arg;
	uint64_t pio = cmdline_u64("pio", 0);

	if (pio > 0 && vp == 1)
		ap_pio_loop(pio, cmdline_u64("pio_chunk", 0));

	gprintf("vp %u up\n", vp);
	__atomic_fetch_or(&up_mask, 1ULL << vp, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&up_count, 1, __ATOMIC_SEQ_CST);
}

static int start_ap(unsigned int vp)
{
	volatile struct guest_start_vp *req = &requests[vp];
	uint32_t status;

	req->vp_index = vp;
	req->reserved = 0;
	req->rip = (uintptr_t)guest_ap_entry;
	req->rsp = (uintptr_t)&ap_stacks[vp][AP_STACK_SIZE];
	req->arg = vp;
	status = mailbox_start_vp(req);
	if (status != GUEST_MAILBOX_OK) {
		gprintf("smp: starting vp %u failed: status %u\n", vp, status);
		return -1;
	}
	return 0;
}

/* Waits until want APs are up; 0 when they are, -1 on timeout. */
static int wait_aps(unsigned int want)
{
	uint64_t timeout_ms = cmdline_u64("timeout_ms", 10000);
	int clock = ts_present();
	uint32_t t0 = clock ? ts_now_us() : 0;
	uint64_t spins = 0;

	while (__atomic_load_n(&up_count, __ATOMIC_ACQUIRE) < want) {
		if (clock && ts_now_us() - t0 >= timeout_ms * 1000)
			return -1;
		if (!clock && ++spins > SPIN_BOUND)
			return -1;
		cpu_relax();
	}
	return 0;
}

int guest_main(void)
{
	unsigned int vps = guest_vp_count(), vp;

	if (!mailbox_present()) {
		gprintf("smp: no VP start mailbox; 1 VP\n");
		return 0;
	}
	if (vps > SMP_MAX_VPS) {
		gprintf("smp: %u VPs, starting only %u\n", vps, SMP_MAX_VPS);
		vps = SMP_MAX_VPS;
	}
	if (cmdline_u64("pio", 0) > 0 && vps > 1) {
		/* Out of the way: the BSP never competes with VP 1's loop. */
		if (start_ap(1) < 0)
			return 2;
		guest_halt();
	}
	up_mask = 1; /* the BSP */
	gprintf("smp: starting %u VPs\n", vps - 1);
	for (vp = 1; vp < vps; vp++)
		if (start_ap(vp) < 0)
			return 2;
	if (wait_aps(vps - 1) < 0) {
		gprintf("smp: only %u of %u VPs up (mask %llx)\n", up_count + 1,
			vps, (unsigned long long)up_mask);
		return 3;
	}
	gprintf("smp: all %u VPs up\n", vps);
	return 0;
}
