/* evil: hostile behaviour by mode= (ports, unmapped, vtl2, flood, spin);
 * by default ports, unmapped and vtl2 in turn, then exit 0. */
#include "guest.h"

#define EVIL_PORT_OPS 100000

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Ports that would end the run or garble the console rather than test the
 * VMM: Parapet's own (debug exit), COM1, and reset/A20 lines of PC-style
 * machines (i8042, port 0x92, 0xcf9 and its PCI config neighbours). */
static int port_is_excluded(uint16_t port)
{
	return (port >= 0xf0 && port <= 0xf7) ||
	       (port >= GUEST_PORT_COM1 && port <= GUEST_PORT_COM1 + 7) ||
	       (port >= 0x60 && port <= 0x64) || port == 0x92 ||
	       (port >= 0xcf8 && port <= 0xcff);
}

static void evil_ports(void)
{
	uint32_t acc = 0;
	uint64_t r;
	uint16_t port;
	int i;

	for (i = 0; i < EVIL_PORT_OPS; i++) {
		r = rng_next();
		port = (uint16_t)r;
		if (port_is_excluded(port))
			continue;
		switch ((r >> 16) & 3) {
		case 0:
			outb(port, (uint8_t)(r >> 24));
			break;
		case 1:
			outl(port & ~3, (uint32_t)(r >> 32));
			break;
		case 2:
			acc += inb(port);
			break;
		default:
			acc += inl(port & ~3);
			break;
		}
	}
	gprintf("evil: ports: %d accesses survived, reads summed %x\n",
		EVIL_PORT_OPS, acc);
}

/* Within the 4 GiB identity map but not RAM (past GUEST_DEFAULT_MEM and
 * qemu's default 128 MiB), plus the test MMIO page. */
static const uint64_t unmapped_gpas[] = {
	0x10000000ULL,	     0x40000000ULL, 0x80000000ULL, 0xC0000000ULL,
	GUEST_TEST_MMIO_GPA, 0xF0000000ULL, 0xFFFFF000ULL,
};

static void evil_unmapped(void)
{
	uint32_t before, after;
	size_t i;

	for (i = 0; i < sizeof(unmapped_gpas) / sizeof(unmapped_gpas[0]); i++) {
		before = mmio_read32(unmapped_gpas[i]);
		mmio_write32(unmapped_gpas[i], 0x5a5a5a5a);
		after = mmio_read32(unmapped_gpas[i]);
		gprintf("evil: unmapped %llx read %08x, after write %08x\n",
			(unsigned long long)unmapped_gpas[i], before, after);
	}
}

/* The paravisor must answer all ones here, never the measured config. */
static void evil_vtl2(void)
{
	uint64_t off, v;
	unsigned int ones = 0, total = 0;

	for (off = 0; off < GUEST_VTL2_SIZE; off += 0x10000) {
		v = mmio_read64(GUEST_VTL2_GPA + off);
		gprintf("evil: vtl2 %llx = %016llx\n",
			(unsigned long long)(GUEST_VTL2_GPA + off),
			(unsigned long long)v);
		ones += v == ~0ULL;
		total++;
	}
	gprintf("evil: vtl2: %u of %u reads all ones\n", ones, total);
}

/* Prints numbered lines forever. The line is built once and its decimal
 * counter bumped in place: the output rate then measures the console
 * path, not the guest's own stores (each store is costly under
 * emulation). */
static char flood_line[] = "evil: flood 0000000000 "
			   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n";

static void evil_flood(void)
{
	char *last = flood_line + 21; /* the counter's last digit */

	for (;;) {
		char *d = last;

		con_write(flood_line, sizeof(flood_line) - 1);
		while (*d == '9')
			*d-- = '0';
		(*d)++;
	}
}

static void evil_spin(void)
{
	gprintf("evil: spinning without exits\n");
	for (;;)
		__asm__ volatile("" : : : "memory");
}

int guest_main(void)
{
	char mode[16];

	if (!cmdline_get("mode", mode, sizeof(mode)))
		mode[0] = '\0';
	if (!strcmp(mode, "ports"))
		evil_ports();
	else if (!strcmp(mode, "unmapped"))
		evil_unmapped();
	else if (!strcmp(mode, "vtl2"))
		evil_vtl2();
	else if (!strcmp(mode, "flood"))
		evil_flood();
	else if (!strcmp(mode, "spin"))
		evil_spin();
	else if (!mode[0]) {
		evil_ports();
		evil_unmapped();
		evil_vtl2();
	} else {
		gprintf("evil: unknown mode %s\n", mode);
		return 2;
	}
	gprintf("evil: done\n");
	return 0;
}
