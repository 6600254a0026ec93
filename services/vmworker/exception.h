/* What the hardware does with an exception the emu accelerator raised.
 * Unicorn delivers no exception through the guest's IDT (PITFALLS), so
 * emu always stops; this names the end a real CPU (and the kvm
 * accelerator) would reach, so that both accelerators report the same
 * crash class: a vector the IDT cannot deliver escalates to #GP/#NP, then
 * #DF, then a triple fault (shutdown). */
#ifndef PARAPET_EXCEPTION_H
#define PARAPET_EXCEPTION_H

#include <stddef.h>

#include "lib/guest_ram.h"
#include "services/vmworker/vpregs.h"

#define EXC_DE 0
#define EXC_UD 6
#define EXC_DF 8
#define EXC_NP 11
#define EXC_GP 13

enum exc_outcome {
	EXC_HANDLED,	  /* the guest's IDT holds a handler for it */
	EXC_TRIPLE_FAULT, /* nothing can be delivered: the VP shuts down */
};

/* Follows the exception chain for vector through the IDT that regs
 * describe (long mode: 16-byte gates). *delivered is the vector whose
 * handler the CPU would enter (EXC_HANDLED only). */
enum exc_outcome exception_outcome(const struct guest_ram *ram,
				   const struct vp_regs *regs, unsigned vector,
				   unsigned *delivered);

/* "#UD", "#GP", ... or "vector N" into buf. */
const char *exception_name(unsigned vector, char *buf, size_t len);

#endif
