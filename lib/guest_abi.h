/* The contract between Parapet and its guests: guest-physical layout of an
 * image built by `parapet igvm build`, Parapet's I/O ports and the VP start
 * mailbox. Included by the host tool, vmworker and the guest runtime
 * (freestanding: only #defines and fixed-size types here). */
#ifndef PARAPET_GUEST_ABI_H
#define PARAPET_GUEST_ABI_H

/* guests/module.mk reads the #defines below with sed: one space between
 * name and value, so no alignment. */
/* clang-format off */

/* Guest-physical layout (identity mapped; see guests/README.md). */
#define GUEST_GDT_GPA 0x1000ULL /* null, code64 (0x08), data (0x10) */
#define GUEST_PML4_GPA 0x2000ULL
#define GUEST_PDPT_GPA 0x3000ULL
#define GUEST_PD_GPA 0x4000ULL /* 4 PDs, 2 MiB pages: first 4 GiB */
#define GUEST_PD_COUNT 4
#define GUEST_CODE64_SEL 0x08
#define GUEST_DATA_SEL 0x10

/* Parameter areas the loader fills (IGVM PARAMETER_INSERT targets). At
 * entry RSI holds GUEST_PARAM_BASE when they are present. */
#define GUEST_PARAM_BASE 0x9000ULL
#define GUEST_CMDLINE_GPA 0x9000ULL /* NUL-terminated string */
#define GUEST_CMDLINE_SIZE 0x1000ULL
#define GUEST_VP_COUNT_GPA 0xA000ULL /* u32 at offset 0 */
#define GUEST_VP_COUNT_SIZE 0x1000ULL
#define GUEST_MEMMAP_GPA 0xB000ULL /* IGVM MEMORY_MAP entries */
#define GUEST_MEMMAP_SIZE 0x1000ULL
#define GUEST_DT_GPA 0x10000ULL /* flattened device tree */
#define GUEST_DT_SIZE 0x10000ULL

/* BSP stack: zero pages below GUEST_STACK_TOP. */
#define GUEST_STACK_BASE 0x20000ULL
#define GUEST_STACK_TOP 0x80000ULL

/* Guest ELF images are linked here. */
#define GUEST_LOAD_GPA 0x100000ULL

/* VTL2-protectable range: the measured paravisor configuration. Never
 * mapped into the guest; a guest access is refused and counted. */
#define GUEST_VTL2_GPA 0xE00000ULL
#define GUEST_VTL2_SIZE 0x200000ULL

#define GUEST_DEFAULT_MEM (64ULL << 20)

/* MMIO window used by mmio_loop: unbacked, every access exits. */
#define GUEST_TEST_MMIO_GPA 0xD0000000ULL
#define GUEST_TEST_MMIO_SIZE 0x1000ULL

/* Disks: disk N (0 to GUEST_DISK_MAX - 1) is a virtio-mmio device at
 * GUEST_VIRTIO_MMIO_GPA + N * GUEST_VIRTIO_MMIO_SIZE with interrupt
 * GUEST_VIRTIO_MMIO_IRQ + N, announced on the command line as
 * virtio_mmio.device=512@ADDR:IRQ (docs/disks.md). */
#define GUEST_VIRTIO_MMIO_GPA 0xFEB00000ULL
#define GUEST_VIRTIO_MMIO_SIZE 0x200ULL
#define GUEST_VIRTIO_MMIO_IRQ 5
#define GUEST_DISK_MAX 8

/* Ports. Parapet's own lie in 0xf0-0xf7; 0xf4 matches qemu's
 * isa-debug-exit (iobase=0xf4) so the same guest runs under qemu, where
 * 0xf0-0xf3 read as all ones. */
#define GUEST_PORT_COM1 0x3f8
#define GUEST_PORT_TIMESTAMP 0xf0 /* inl: µs since VM start (low 32 bits);
				   * outl: a boot timeline mark id, or
				   * GUEST_TS_WAIT | µs */
#define GUEST_PORT_MAILBOX 0xf2 /* outl: gpa of a guest_start_vp;
				 * inl: status of the last request */
#define GUEST_PORT_DEBUG_EXIT 0xf4 /* outb/outl: power off with value */
#define GUEST_PORT_TEST_NOOP 0xf1 /* outb: accepted and ignored (pio_loop) */

/* Timeline marks written to GUEST_PORT_TIMESTAMP (ids below GUEST_TS_WAIT). */
#define GUEST_MARK_FIRST_INSN 1

/* outl GUEST_PORT_TIMESTAMP, GUEST_TS_WAIT | n: the VP waits for time to
 * pass, up to n µs (at most GUEST_TS_WAIT_MAX_US), without using the host
 * CPU. It may end sooner (the host pausing or servicing the VP): the guest
 * re-reads the clock. Under qemu the write is ignored. */
#define GUEST_TS_WAIT	     0x80000000u
#define GUEST_TS_WAIT_MAX_US 100000u

/* VP start request, written by the guest at a 4 GiB-reachable gpa. The
 * new VP starts in the BSP's long mode (same CR3, GDT) at rip with rsp,
 * and rsi = arg. */
struct guest_start_vp {
	unsigned int vp_index;
	unsigned int reserved; /* must be zero */
	unsigned long long rip;
	unsigned long long rsp;
	unsigned long long arg;
};

/* Mailbox status (inl GUEST_PORT_MAILBOX). All ones: no mailbox. */
#define GUEST_MAILBOX_OK 0
#define GUEST_MAILBOX_EINVAL 1 /* bad gpa, reserved, rip or rsp */
#define GUEST_MAILBOX_ENOVP 2 /* vp_index out of range or is the BSP */
#define GUEST_MAILBOX_EBUSY 3 /* VP already started */

/* clang-format on */

#endif
