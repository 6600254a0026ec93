/* Exception delivery as the CPU decides it (Intel SDM vol. 3, 6.12 and
 * 6.15, "Double Fault Exception"), for the emu accelerator's crash
 * reports. Only the gate's presence and type are checked: enough to tell
 * "the guest has a handler" from "the VP shuts down". */
#include "services/vmworker/exception.h"

#include <stdbool.h>
#include <stdio.h>

#include "services/vmworker/translate.h"

#define EFER_LMA      (1ull << 10)
#define GATE_SIZE     16u
#define GATE_TYPE_INT 0xe
#define GATE_TYPE_TRP 0xf

/* Whether the IDT holds a present interrupt or trap gate for vector. A
 * gate the CPU cannot read (outside the limit, unmapped) is no gate. */
static bool gate_present(const struct guest_ram *ram,
			 const struct vp_regs *regs, unsigned vector,
			 bool *beyond_limit)
{
	uint64_t off = (uint64_t)vector * GATE_SIZE, gpa;
	const uint8_t *access;

	*beyond_limit = off + GATE_SIZE - 1 > regs->idtr.limit;
	if (*beyond_limit || !(regs->efer & EFER_LMA))
		return false;
	/* Byte 5 of a gate: P (bit 7) and the gate type (bits 0-3). */
	if (translate_gva(ram, regs->cr3, regs->idtr.base + off + 5, &gpa))
		return false;
	access = guest_ram_ptr(ram, gpa, 1);
	if (access == NULL || !(*access & 0x80))
		return false;
	return (*access & 0xf) == GATE_TYPE_INT ||
	       (*access & 0xf) == GATE_TYPE_TRP;
}

enum exc_outcome exception_outcome(const struct guest_ram *ram,
				   const struct vp_regs *regs, unsigned vector,
				   unsigned *delivered)
{
	bool beyond;

	if (gate_present(ram, regs, vector, &beyond)) {
		*delivered = vector;
		return EXC_HANDLED;
	}
	/* Delivering through a bad gate faults: #GP for a vector past the
	 * limit or a wrong type, #NP for a gate not present. A fault while
	 * delivering #DF itself shuts down. */
	if (vector == EXC_DF)
		return EXC_TRIPLE_FAULT;
	if (vector != EXC_GP && vector != EXC_NP) {
		unsigned next = beyond ? EXC_GP : EXC_NP;

		if (gate_present(ram, regs, next, &beyond)) {
			*delivered = next;
			return EXC_HANDLED;
		}
	}
	/* A second contributory fault while delivering the first: #DF. */
	if (gate_present(ram, regs, EXC_DF, &beyond)) {
		*delivered = EXC_DF;
		return EXC_HANDLED;
	}
	return EXC_TRIPLE_FAULT;
}

const char *exception_name(unsigned vector, char *buf, size_t len)
{
	static const char *const names[] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
		"#DF", NULL,  "#TS", "#NP", "#SS", "#GP", "#PF", NULL,
		"#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
	};

	if (vector < sizeof(names) / sizeof(*names) && names[vector] != NULL)
		snprintf(buf, len, "%s", names[vector]);
	else
		snprintf(buf, len, "vector %u", vector);
	return buf;
}
