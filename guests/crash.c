/* crash: triple faults. With an empty IDT, ud2's #UD cannot be delivered,
 * nor can the #GP and #DF that follow: the VP shuts down. */
#include "guest.h"

struct idt_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

int guest_main(void)
{
	static const struct idt_ptr empty = { 0, 0 };

	gprintf("crash: triple fault now\n");
	__asm__ volatile("lidt %0; ud2" : : "m"(empty) : "memory");
	gprintf("crash: still alive\n");
	return 1;
}
