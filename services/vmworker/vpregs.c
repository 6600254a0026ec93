/* VP state checks with KVM's (VMX guest-state) rules, applied on both
 * accelerators: Unicorn would run contexts that KVM refuses. */
#include "services/vmworker/vpregs.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "boot/igvm.h"

static const char *const seg_names[VP_NR_SEGS] = {
	"CS", "DS", "ES", "FS", "GS", "SS", "TR", "LDTR",
};

static int check_fail(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int check_fail(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return -1;
}

/* Granularity must agree with the limit, as VMX requires. */
static bool seg_limit_ok(const struct vp_segment *s)
{
	bool g = s->attrib & VP_SEG_ATTR_G;

	if ((s->limit & 0xfff) != 0xfff && g)
		return false;
	if ((s->limit & 0xfff00000) != 0 && !g)
		return false;
	return true;
}

static int check_segments(const struct vp_regs *r, bool long_mode, char *why,
			  size_t why_len)
{
	const struct vp_segment *cs = &r->seg[VP_CS];
	const struct vp_segment *tr = &r->seg[VP_TR];
	int i;

	if (!(cs->attrib & VP_SEG_ATTR_P) || !(cs->attrib & VP_SEG_ATTR_S) ||
	    !(cs->attrib & 0x8))
		return check_fail(why, why_len,
				  "CS attributes 0x%x: not a present code "
				  "segment",
				  cs->attrib);
	if (long_mode && (cs->attrib & VP_SEG_ATTR_L) &&
	    (cs->attrib & VP_SEG_ATTR_DB))
		return check_fail(why, why_len,
				  "CS attributes 0x%x: L and D both set",
				  cs->attrib);
	for (i = 0; i < VP_NR_SEGS; i++) {
		const struct vp_segment *s = &r->seg[i];

		if (!(s->attrib & VP_SEG_ATTR_P))
			continue; /* unusable */
		if (!seg_limit_ok(s))
			return check_fail(why, why_len,
					  "%s limit 0x%x disagrees with G",
					  seg_names[i], s->limit);
		if (i != VP_TR && i != VP_LDTR && !(s->attrib & VP_SEG_ATTR_S))
			return check_fail(why, why_len,
					  "%s attributes 0x%x: S clear",
					  seg_names[i], s->attrib);
	}
	if (r->seg[VP_SS].attrib & VP_SEG_ATTR_P &&
	    (r->seg[VP_SS].attrib & 0xa) != 0x2)
		return check_fail(why, why_len,
				  "SS attributes 0x%x: not writable data",
				  r->seg[VP_SS].attrib);
	if (!(tr->attrib & VP_SEG_ATTR_P) || (tr->attrib & VP_SEG_ATTR_S))
		return check_fail(why, why_len,
				  "TR attributes 0x%x: not a present system "
				  "segment",
				  tr->attrib);
	if ((tr->attrib & 0xf) != 0xb && (long_mode || (tr->attrib & 0xf) != 3))
		return check_fail(why, why_len,
				  "TR attributes 0x%x: not a busy TSS",
				  tr->attrib);
	return 0;
}

static int check_control(const struct vp_regs *r, char *why, size_t why_len)
{
	bool pg = r->cr0 & VP_CR0_PG, pe = r->cr0 & VP_CR0_PE;
	bool lme = r->efer & VP_EFER_LME, lma = r->efer & VP_EFER_LMA;

	if (pg && !pe)
		return check_fail(why, why_len, "CR0 0x%llx: PG without PE",
				  (unsigned long long)r->cr0);
	if ((r->cr0 & (1ull << 29)) && !(r->cr0 & (1ull << 30)))
		return check_fail(why, why_len, "CR0 0x%llx: NW without CD",
				  (unsigned long long)r->cr0);
	if (r->cr0 >> 32)
		return check_fail(why, why_len, "CR0 0x%llx: reserved bits",
				  (unsigned long long)r->cr0);
	if (r->cr4 & ~0x3777fffull)
		return check_fail(why, why_len, "CR4 0x%llx: reserved bits",
				  (unsigned long long)r->cr4);
	if (r->efer & ~0xd01ull)
		return check_fail(why, why_len, "EFER 0x%llx: reserved bits",
				  (unsigned long long)r->efer);
	if (lme && pg && !(r->cr4 & VP_CR4_PAE))
		return check_fail(why, why_len,
				  "EFER.LME with CR0.PG requires CR4.PAE");
	if (lma != (lme && pg))
		return check_fail(why, why_len,
				  "EFER.LMA 0x%llx disagrees with LME and PG",
				  (unsigned long long)r->efer);
	if (!(r->rflags & 2) || (r->rflags & ~0x3f7fd7ull))
		return check_fail(why, why_len, "RFLAGS 0x%llx: reserved bits",
				  (unsigned long long)r->rflags);
	return 0;
}

static bool canonical(uint64_t va)
{
	return (uint64_t)((int64_t)(va << 16) >> 16) == va;
}

int vpregs_check(const struct vp_regs *regs, char *why, size_t why_len)
{
	bool long_mode = regs->efer & VP_EFER_LMA;

	if (check_control(regs, why, why_len) != 0)
		return -1;
	if (check_segments(regs, long_mode, why, why_len) != 0)
		return -1;
	if (long_mode && !canonical(regs->rip))
		return check_fail(why, why_len, "RIP 0x%llx not canonical",
				  (unsigned long long)regs->rip);
	if (!canonical(regs->gdtr.base) || !canonical(regs->idtr.base))
		return check_fail(why, why_len, "GDTR/IDTR base not canonical");
	return 0;
}

void vpregs_long_mode(struct vp_regs *regs, uint64_t cr3, uint64_t gdt_base,
		      uint16_t gdt_limit)
{
	static const struct vp_segment code = { 0, 0xffffffff, 0x08, 0xa09b };
	static const struct vp_segment data = { 0, 0xffffffff, 0x10, 0xc093 };
	int i;

	memset(regs, 0, sizeof(*regs));
	regs->rflags = 2;
	regs->seg[VP_CS] = code;
	for (i = VP_DS; i <= VP_SS; i++)
		regs->seg[i] = data;
	regs->seg[VP_TR] = (struct vp_segment){ 0, 0x67, 0x18, 0x008b };
	regs->seg[VP_LDTR] = (struct vp_segment){ 0, 0xffff, 0, 0x0082 };
	regs->gdtr.base = gdt_base;
	regs->gdtr.limit = gdt_limit;
	regs->cr0 = 0x80050033;
	regs->cr3 = cr3;
	regs->cr4 = 0x20;
	regs->efer = 0x500;
	regs->pat = 0x0007040600070406ull;
}

static void seg_from_igvm(const struct igvm_segment *s, struct vp_segment *d)
{
	d->base = s->base;
	d->limit = s->limit;
	d->selector = s->selector;
	d->attrib = s->attributes;
}

void vpregs_from_igvm(const struct igvm_vp_regs *r, struct vp_regs *out)
{
	static const struct {
		int bit, seg;
	} segs[] = {
		{ IGVM_VPR_CS, VP_CS }, { IGVM_VPR_DS, VP_DS },
		{ IGVM_VPR_ES, VP_ES }, { IGVM_VPR_FS, VP_FS },
		{ IGVM_VPR_GS, VP_GS }, { IGVM_VPR_SS, VP_SS },
		{ IGVM_VPR_TR, VP_TR },
	};
	const struct igvm_segment *src[] = { &r->cs, &r->ds, &r->es, &r->fs,
					     &r->gs, &r->ss, &r->tr };
	size_t i;

	vpregs_long_mode(out, r->cr3, r->gdtr.base, r->gdtr.limit);
	for (i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
		if (r->present & (1u << segs[i].bit))
			seg_from_igvm(src[i], &out->seg[segs[i].seg]);
	out->rip = r->rip;
	out->gpr[VP_RSP] = r->rsp;
	out->gpr[VP_RBP] = r->rbp;
	out->gpr[VP_RSI] = r->rsi;
	out->gpr[VP_R8] = r->r8;
	out->gpr[VP_R9] = r->r9;
	out->gpr[VP_R10] = r->r10;
	out->gpr[VP_R11] = r->r11;
	out->gpr[VP_R12] = r->r12;
	if (r->present & (1u << IGVM_VPR_RFLAGS))
		out->rflags = r->rflags;
	out->cr0 = r->cr0;
	out->cr4 = r->cr4;
	out->efer = r->efer;
	if (r->present & (1u << IGVM_VPR_PAT))
		out->pat = r->pat;
	out->idtr.base = r->idtr.base;
	out->idtr.limit = r->idtr.limit;
}
