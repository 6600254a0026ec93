/* libFuzzer harness for the measured paravisor configuration parser
 * (boot/pvconfig.c), which reads bytes from an untrusted image. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "boot/pvconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pvconfig cfg, again;
static char text[1 << 20];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len;

	if (pvconfig_parse(data, size, &cfg, NULL) != PVCONFIG_OK)
		return 0;
	/* What parses must write back and parse to the same values. */
	if (pvconfig_write(&cfg, text, sizeof(text), &len) != PVCONFIG_OK)
		__builtin_trap();
	if (pvconfig_parse(text, len, &again, NULL) != PVCONFIG_OK ||
	    again.vp_count != cfg.vp_count || again.mem_size != cfg.mem_size ||
	    again.n_pairs != cfg.n_pairs ||
	    strcmp(again.guest_cmdline, cfg.guest_cmdline) ||
	    strcmp(again.paravisor_cmdline, cfg.paravisor_cmdline))
		__builtin_trap();
	return 0;
}
