/* Guest runtime start-up: boot parameters (IGVM parameter areas or PVH
 * start_info), debug exit, timestamp port, VP start mailbox, spinlocks. */
#include "guest.h"

#define PVH_START_MAGIC 0x336ec578u
#define PVH_CMDLINE_OFF 24 /* hvm_start_info.cmdline_paddr */
#define FOUR_GIB	0x100000000ULL

void guest_rt_start(uint64_t boot_arg);
void guest_rt_ap_start(uint64_t arg);

static enum guest_boot boot_kind;
static unsigned int vp_count = 1;
static char cmdline[GUEST_CMDLINE_SIZE];

static void copy_cmdline(uint64_t gpa)
{
	const volatile char *src = (const volatile char *)(uintptr_t)gpa;
	size_t i;

	if (gpa == 0 || gpa >= FOUR_GIB - GUEST_CMDLINE_SIZE)
		return;
	for (i = 0; i < sizeof(cmdline) - 1 && src[i]; i++)
		cmdline[i] = src[i];
	cmdline[i] = '\0';
}

static void read_params(uint64_t boot_arg)
{
	const volatile uint32_t *p32;

	if (boot_arg == GUEST_PARAM_BASE) {
		boot_kind = GUEST_BOOT_IGVM;
		copy_cmdline(GUEST_CMDLINE_GPA);
		p32 = (const volatile uint32_t *)(uintptr_t)GUEST_VP_COUNT_GPA;
		if (*p32 > 0)
			vp_count = *p32;
		return;
	}
	if (boot_arg != 0 && boot_arg < FOUR_GIB - 64 && (boot_arg & 3) == 0) {
		p32 = (const volatile uint32_t *)(uintptr_t)boot_arg;
		if (*p32 == PVH_START_MAGIC) {
			boot_kind = GUEST_BOOT_PVH;
			copy_cmdline(mmio_read64(boot_arg + PVH_CMDLINE_OFF));
			return;
		}
	}
	boot_kind = GUEST_BOOT_BARE;
}

/* Called by start.S with .bss zeroed and the stack at GUEST_STACK_TOP. */
void guest_rt_start(uint64_t boot_arg)
{
	read_params(boot_arg);
	guest_exit(guest_main());
}

/* Called by start.S on each AP started through the mailbox. */
void guest_rt_ap_start(uint64_t arg)
{
	guest_ap_main(arg);
	guest_halt();
}

/* Guests without APs never start one; this keeps the link simple. */
__attribute__((weak)) void guest_ap_main(uint64_t arg)
{
	(void)arg;
}

enum guest_boot guest_boot_kind(void)
{
	return boot_kind;
}

const char *guest_boot_name(void)
{
	static const char *const names[] = { "bare", "igvm", "pvh" };

	return names[boot_kind];
}

const char *guest_cmdline(void)
{
	return cmdline;
}

unsigned int guest_vp_count(void)
{
	return vp_count;
}

void guest_halt(void)
{
	for (;;)
		__asm__ volatile("cli; hlt" : : : "memory");
}

/* If no debug-exit device answers, halt: the VP stops for good. */
void guest_exit(int value)
{
	outb(GUEST_PORT_DEBUG_EXIT, (uint8_t)value);
	guest_halt();
}

/* Absent ports read as all ones; a real clock reads all ones for only one
 * microsecond every 71 minutes, so two all-ones reads mean no port. */
int ts_present(void)
{
	return inl(GUEST_PORT_TIMESTAMP) != 0xffffffffu ||
	       inl(GUEST_PORT_TIMESTAMP) != 0xffffffffu;
}

uint32_t ts_now_us(void)
{
	return inl(GUEST_PORT_TIMESTAMP);
}

void ts_mark(uint32_t id)
{
	outl(GUEST_PORT_TIMESTAMP, id);
}

/* Waits of at least TS_WAIT_MIN_US are asked of the host (GUEST_TS_WAIT:
 * the VP sleeps instead of polling); it may end them early, so the clock
 * decides. Shorter ones, and the rest after an early end, poll. */
#define TS_WAIT_MIN_US 50u

void ts_delay_us(uint32_t us)
{
	uint32_t start = ts_now_us(), gone;

	while ((gone = ts_now_us() - start) < us) {
		uint32_t left = us - gone;

		if (left >= TS_WAIT_MIN_US)
			outl(GUEST_PORT_TIMESTAMP,
			     GUEST_TS_WAIT | (left < GUEST_TS_WAIT_MAX_US
						  ? left
						  : GUEST_TS_WAIT_MAX_US));
		else
			cpu_relax();
	}
}

/* Before any request the status reads GUEST_MAILBOX_OK; all ones is "no
 * mailbox". Under qemu an inl at 0xf2 spans isa-debug-exit at 0xf4 and
 * reads 0, so the timestamp port (0xf0, all ones there) is probed first:
 * Parapet's ports come together. Never outl 0xf2 without a mailbox: under
 * qemu its upper bytes would land on the debug-exit port. */
int mailbox_present(void)
{
	return ts_present() && inl(GUEST_PORT_MAILBOX) != 0xffffffffu;
}

uint32_t mailbox_start_vp(volatile struct guest_start_vp *req)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	outl(GUEST_PORT_MAILBOX, (uint32_t)(uintptr_t)req);
	return inl(GUEST_PORT_MAILBOX);
}

void spin_lock(volatile int *lock)
{
	while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(lock, __ATOMIC_RELAXED))
			cpu_relax();
}

void spin_unlock(volatile int *lock)
{
	__atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}
