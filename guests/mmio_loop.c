/* mmio_loop: n= 32-bit writes (default 10M) to the unbacked test MMIO page,
 * then the sum of the values written and the elapsed time if known. */
#include "guest.h"

int guest_main(void)
{
	uint64_t n = cmdline_u64("n", 10000000);
	uint64_t i, sum = 0;
	int clock = ts_present();
	uint32_t t0 = clock ? ts_now_us() : 0;

	for (i = 0; i < n; i++) {
		mmio_write32(GUEST_TEST_MMIO_GPA, (uint32_t)i);
		sum += (uint32_t)i;
	}
	gprintf("mmio_loop: n=%llu sum=%llu\n", (unsigned long long)n,
		(unsigned long long)sum);
	if (clock)
		gprintf("mmio_loop: %u us\n", ts_now_us() - t0);
	return 0;
}
