/* The guest runtime: port and MMIO access, console, exit, timestamp port,
 * VP start mailbox, boot parameters and command-line keys. */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/guest_abi.h"

/* How the guest was booted (see guests/README.md). */
enum guest_boot {
	GUEST_BOOT_BARE, /* 64-bit entry without parameter areas */
	GUEST_BOOT_IGVM, /* 64-bit entry, RSI == GUEST_PARAM_BASE */
	GUEST_BOOT_PVH,	 /* PVH 32-bit entry (qemu -kernel) */
};

/* Every guest defines this; its return value is the debug-exit value. */
int guest_main(void);
/* Guests that start APs define this; each AP runs it with its arg. */
void guest_ap_main(uint64_t arg);
/* The AP entry point (start.S): rip for struct guest_start_vp. */
void guest_ap_entry(void);

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" : : : "memory");
}

static inline void mmio_write32(uint64_t gpa, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)gpa = v;
}

static inline uint32_t mmio_read32(uint64_t gpa)
{
	return *(volatile uint32_t *)(uintptr_t)gpa;
}

static inline uint64_t mmio_read64(uint64_t gpa)
{
	return *(volatile uint64_t *)(uintptr_t)gpa;
}

/* Console: 16550 UART at COM1, polled. "\n" is sent as is (no CR). */
void con_putc(char c);
void con_write(const char *s, size_t len);
int con_has_uart(void);
int con_getc(void);    /* blocks; -1 when there is no UART */
int con_trygetc(void); /* a received byte, else -1 at once */
int gprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int gvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* A test-and-set spinlock; gprintf holds con_lock for a whole call. */
void spin_lock(volatile int *lock);
void spin_unlock(volatile int *lock);

/* Power off through the debug-exit port (qemu: status (v << 1) | 1). */
void guest_exit(int value) __attribute__((noreturn));
void guest_halt(void) __attribute__((noreturn));

/* Timestamp port: µs since VM start, 0 if absent (see ts_present). */
int ts_present(void);
uint32_t ts_now_us(void);
void ts_mark(uint32_t id);
void ts_delay_us(uint32_t us);

/* VP start mailbox: status (GUEST_MAILBOX_*), or all ones without one. */
int mailbox_present(void);
uint32_t mailbox_start_vp(volatile struct guest_start_vp *req);

/* Boot parameters. */
enum guest_boot guest_boot_kind(void);
const char *guest_boot_name(void);
const char *guest_cmdline(void);
unsigned int guest_vp_count(void);

/* Command line "key=value key2=value2": returns 1 and copies the value
 * (NUL-terminated, truncated to size) when key is present, else 0. */
int cmdline_get(const char *key, char *val, size_t size);
/* A decimal or 0x-hex number, or def when absent or malformed. */
uint64_t cmdline_u64(const char *key, uint64_t def);
int cmdline_has(const char *key);
/* Every occurrence of a repeated key, in command-line order: start with
 * *pos = NULL; each call copies the next value and returns 1, or returns
 * 0 when there are no more. */
int cmdline_next(const char *key, const char **pos, char *val, size_t size);
/* Parses a decimal or 0x-hex number at the start of s into *out; returns
 * the first character after it, or NULL when there is no number or it
 * overflows. */
const char *parse_u64(const char *s, uint64_t *out);

/* Freestanding string helpers (the compiler may call the mem* ones). */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

#endif
