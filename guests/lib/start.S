/* Guest entry points: the PVH note and 32-bit entry (qemu -kernel), the
 * 64-bit entry (ELF e_entry, used by parapet igvm build) and the AP entry. */
#include "guest_abi_asm.h" /* lib/guest_abi.h without C suffixes */

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define MSR_EFER 0xC0000080
#define EFER_LME 0x100
#define CR4_PAE 0x20
#define CR0_PE_PG 0x80000001
#define PDE_2M 0x83 /* present, writable, 2 MiB page */
#define PTE_TABLE 0x3 /* present, writable */

/* PVH entry note: qemu reads the 32-bit entry from here, not e_entry. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4
	.long 8
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.balign 4
	.quad pvh_start32
	.balign 4

	.section .text.entry, "ax", @progbits

/* PVH: 32-bit protected mode, paging off, flat segments, ebx = start_info.
 * Build the guest_abi.h GDT and page tables (identity map of 4 GiB with
 * 2 MiB pages), enter long mode, continue at the common 64-bit entry. */
	.code32
	.globl pvh_start32
pvh_start32:
	movl $GUEST_MARK_FIRST_INSN, %eax
	movw $GUEST_PORT_TIMESTAMP, %dx
	outl %eax, %dx
	cli
	cld
	movl %ebx, %ebp

	movl $GUEST_GDT_GPA, %edi
	movl $((GUEST_PD_GPA + GUEST_PD_COUNT * 0x1000 - GUEST_GDT_GPA) / 4), %ecx
	xorl %eax, %eax
	rep stosl

	movl $GUEST_GDT_GPA, %edi
	movl $0x0000ffff, GUEST_CODE64_SEL(%edi)
	movl $0x00af9b00, GUEST_CODE64_SEL + 4(%edi)
	movl $0x0000ffff, GUEST_DATA_SEL(%edi)
	movl $0x00cf9300, GUEST_DATA_SEL + 4(%edi)

	movl $(GUEST_PDPT_GPA | PTE_TABLE), GUEST_PML4_GPA
	movl $GUEST_PDPT_GPA, %edi
	movl $(GUEST_PD_GPA | PTE_TABLE), %eax
	movl $GUEST_PD_COUNT, %ecx
1:	movl %eax, (%edi)
	addl $0x1000, %eax
	addl $8, %edi
	loop 1b

	movl $GUEST_PD_GPA, %edi
	movl $PDE_2M, %eax
	movl $(GUEST_PD_COUNT * 512), %ecx
2:	movl %eax, (%edi)
	addl $0x200000, %eax
	addl $8, %edi
	loop 2b

	lgdt gdt_desc
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $GUEST_PML4_GPA, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $CR0_PE_PG, %eax
	movl %eax, %cr0
	ljmp $GUEST_CODE64_SEL, $pvh_start64

	.code64
pvh_start64:
	movl %ebp, %esi /* zero-extends: rsi = start_info */
	jmp start64_common

/* 64-bit entry: long mode with the guest_abi.h GDT and page tables,
 * rsi = GUEST_PARAM_BASE when the parameter areas are present. */
	.globl _start64
_start64:
	movl $GUEST_MARK_FIRST_INSN, %eax
	movw $GUEST_PORT_TIMESTAMP, %dx
	outl %eax, %dx
start64_common:
	cli
	cld
	movw $GUEST_DATA_SEL, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	movq $GUEST_STACK_TOP, %rsp
	movq %rsi, %rbx
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb
	movq %rbx, %rdi
	call guest_rt_start
3:	cli
	hlt
	jmp 3b

/* AP entry (mailbox rip): BSP's long mode, rsp and rsi from the request. */
	.globl guest_ap_entry
guest_ap_entry:
	cli
	cld
	movw $GUEST_DATA_SEL, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	andq $-16, %rsp
	movq %rsi, %rdi
	call guest_rt_ap_start
4:	cli
	hlt
	jmp 4b

	.balign 8
gdt_desc:
	.word 3 * 8 - 1
	.long GUEST_GDT_GPA

	.section .note.GNU-stack, "", @progbits
