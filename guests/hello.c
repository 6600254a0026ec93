/* hello: prints a greeting, the command line, the VP count and how it was
 * booted, then exits 0. */
#include "guest.h"

int guest_main(void)
{
	gprintf("hello from parapet guest\n");
	gprintf("cmdline: %s\n", guest_cmdline());
	gprintf("vp count: %u\n", guest_vp_count());
	gprintf("boot: %s\n", guest_boot_name());
	return 0;
}
