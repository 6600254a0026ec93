/* Linker script of every guest: one ELF loaded at GUEST_LOAD_GPA, entry
 * _start64 (e_entry), PVH note in its own 4-aligned PT_NOTE. */
#include "guest_abi_asm.h"

OUTPUT_FORMAT("elf64-x86-64")
OUTPUT_ARCH(i386:x86-64)
ENTRY(_start64)

PHDRS
{
	text PT_LOAD FLAGS(5);
	data PT_LOAD FLAGS(6);
	note PT_NOTE FLAGS(4);
}

SECTIONS
{
	. = GUEST_LOAD_GPA;
	.note.Xen : ALIGN(4) { KEEP(*(.note.Xen)) } :text :note
	.text : ALIGN(16) {
		*(.text.entry)
		*(.text .text.*)
	} :text
	.rodata : ALIGN(16) { *(.rodata .rodata.*) } :text
	. = ALIGN(4096);
	.data : ALIGN(16) { *(.data .data.*) } :data
	.bss : ALIGN(16) {
		__bss_start = .;
		*(.bss .bss.*)
		*(COMMON)
		. = ALIGN(16);
		__bss_end = .;
	} :data
	/DISCARD/ : {
		*(.note.gnu.*)
		*(.comment)
		*(.eh_frame*)
	}
}
