/* counter: prints 0, 1, 2, ... one number per line, delay_ms apart by the
 * timestamp port (default 10), count= numbers (default: forever); with
 * stamp=1 each line also carries the guest's clock in µs ("N T"), so a
 * pause shows as a gap. Proves the guest keeps running across service
 * restarts. */
#include "guest.h"

int guest_main(void)
{
	uint64_t delay_ms = cmdline_u64("delay_ms", 10);
	uint64_t count = cmdline_u64("count", 0);
	int forever = !cmdline_has("count");
	int stamp = cmdline_u64("stamp", 0) != 0;
	uint64_t n;

	if (delay_ms && !ts_present()) {
		gprintf("counter: no timestamp port; cannot pause\n");
		delay_ms = 0;
	}
	for (n = 0; forever || n < count; n++) {
		if (stamp)
			gprintf("%llu %u\n", (unsigned long long)n,
				ts_now_us());
		else
			gprintf("%llu\n", (unsigned long long)n);
		if (delay_ms)
			ts_delay_us((uint32_t)(delay_ms * 1000));
	}
	return 0;
}
