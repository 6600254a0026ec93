/* pio_loop: n= byte writes (default 10M) to the no-op test port, then the
 * sum of the bytes written and the elapsed time if there is a clock. */
#include "guest.h"

int guest_main(void)
{
	uint64_t n = cmdline_u64("n", 10000000);
	uint64_t i, sum = 0;
	int clock = ts_present();
	uint32_t t0 = clock ? ts_now_us() : 0;

	for (i = 0; i < n; i++) {
		outb(GUEST_PORT_TEST_NOOP, (uint8_t)i);
		sum += (uint8_t)i;
	}
	gprintf("pio_loop: n=%llu sum=%llu\n", (unsigned long long)n,
		(unsigned long long)sum);
	if (clock)
		gprintf("pio_loop: %u us\n", ts_now_us() - t0);
	return 0;
}
