/* A VP's architectural state as Parapet holds it, independent of the
 * accelerator, and the checks KVM applies to it (enforced on emu too). */
#ifndef PARAPET_VPREGS_H
#define PARAPET_VPREGS_H

#include <stddef.h>
#include <stdint.h>

struct vp_segment {
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint16_t attrib; /* IGVM/Hyper-V layout: type|S<<4|DPL<<5|P<<7|
			  * AVL<<12|L<<13|DB<<14|G<<15 */
};

struct vp_table {
	uint64_t base;
	uint16_t limit;
};

enum vp_gpr {
	VP_RAX,
	VP_RCX,
	VP_RDX,
	VP_RBX,
	VP_RSP,
	VP_RBP,
	VP_RSI,
	VP_RDI,
	VP_R8,
	VP_R9,
	VP_R10,
	VP_R11,
	VP_R12,
	VP_R13,
	VP_R14,
	VP_R15,
	VP_NR_GPRS
};

enum vp_seg {
	VP_CS,
	VP_DS,
	VP_ES,
	VP_FS,
	VP_GS,
	VP_SS,
	VP_TR,
	VP_LDTR,
	VP_NR_SEGS
};

struct vp_regs {
	uint64_t gpr[VP_NR_GPRS];
	uint64_t rip;
	uint64_t rflags;
	struct vp_segment seg[VP_NR_SEGS];
	struct vp_table gdtr;
	struct vp_table idtr;
	uint64_t cr0, cr2, cr3, cr4, efer, pat;
};

#define VP_SEG_ATTR_P  (1u << 7)
#define VP_SEG_ATTR_S  (1u << 4)
#define VP_SEG_ATTR_L  (1u << 13)
#define VP_SEG_ATTR_DB (1u << 14)
#define VP_SEG_ATTR_G  (1u << 15)

#define VP_CR0_PE   (1ull << 0)
#define VP_CR0_NE   (1ull << 5)
#define VP_CR0_PG   (1ull << 31)
#define VP_CR4_PAE  (1ull << 5)
#define VP_EFER_LME (1ull << 8)
#define VP_EFER_LMA (1ull << 10)

/* Checks regs with KVM's rules for entering a guest (segment attributes,
 * control register combinations, long mode). Returns 0, or -1 with the
 * offending field named in why. */
int vpregs_check(const struct vp_regs *regs, char *why, size_t why_len);

/* Fills a flat 64-bit long-mode context (CS 0x08, data 0x10, TR) for the
 * given page table root and GDT, as `parapet igvm build` does. */
void vpregs_long_mode(struct vp_regs *regs, uint64_t cr3, uint64_t gdt_base,
		      uint16_t gdt_limit);

/* State an accelerator holds beyond vp_regs (kvm: FPU/SSE, MSRs, pending
 * events), opaque to the rest of vmworker; carried by the saved state. */
#define VP_EXTRA_XSAVE	  4096
#define VP_EXTRA_EVENTS	  64
#define VP_EXTRA_MAX_MSRS 16

struct vp_msr {
	uint32_t index;
	uint64_t value;
};

struct vp_extra {
	uint32_t xsave_len; /* 0 or VP_EXTRA_XSAVE */
	uint8_t xsave[VP_EXTRA_XSAVE];
	uint32_t events_len; /* 0 or the accelerator's size */
	uint8_t events[VP_EXTRA_EVENTS];
	uint32_t n_msrs;
	struct vp_msr msrs[VP_EXTRA_MAX_MSRS];
};

struct igvm_vp_regs;

/* VP 0's context from an IGVM VP_CONTEXT; registers the image leaves out
 * get what a flat long-mode VP needs (see vpregs_long_mode). */
void vpregs_from_igvm(const struct igvm_vp_regs *r, struct vp_regs *out);

#endif
