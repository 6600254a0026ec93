/* Save and restore of a VM for servicing: the header, the SavedState
 * protobuf, and a restore that validates everything before applying. */
#include "services/vmworker/savestate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lib/ipc.h"
#include "lib/log.h"
#include "savedstate.pb-c.h"
#include "services/vmworker/sidecar.h"
#include "services/vmworker/vm.h"

#define SAVESTATE_DECODE_BUDGET (16u << 20)

/* ---- save ---- */

struct save_ctx {
	Parapet__SavedVp vps[VM_MAX_VPS], tmpl;
	Parapet__SavedVp *vp_ptrs[VM_MAX_VPS];
	Parapet__SavedSegment segs[VM_MAX_VPS + 1][VP_NR_SEGS];
	Parapet__SavedSegment *seg_ptrs[VM_MAX_VPS + 1][VP_NR_SEGS];
	uint64_t gprs[VM_MAX_VPS + 1][VP_NR_GPRS];
	struct vp_extra extra[VM_MAX_VPS];
	Parapet__SavedMsr msrs[VM_MAX_VPS][VP_EXTRA_MAX_MSRS];
	Parapet__SavedMsr *msr_ptrs[VM_MAX_VPS][VP_EXTRA_MAX_MSRS];
	struct ipc_arena arena; /* the devices' sections */
};

static void save_regs(struct save_ctx *c, unsigned slot,
		      const struct vp_regs *r, Parapet__SavedVp *out)
{
	int i;

	memcpy(c->gprs[slot], r->gpr, sizeof(r->gpr));
	out->n_gpr = VP_NR_GPRS;
	out->gpr = c->gprs[slot];
#define SAVE(f, v) (out->has_##f = 1, out->f = (v))
	SAVE(rip, r->rip);
	SAVE(rflags, r->rflags);
	SAVE(cr0, r->cr0);
	SAVE(cr2, r->cr2);
	SAVE(cr3, r->cr3);
	SAVE(cr4, r->cr4);
	SAVE(efer, r->efer);
	SAVE(pat, r->pat);
	SAVE(gdtr_base, r->gdtr.base);
	SAVE(gdtr_limit, r->gdtr.limit);
	SAVE(idtr_base, r->idtr.base);
	SAVE(idtr_limit, r->idtr.limit);
#undef SAVE
	for (i = 0; i < VP_NR_SEGS; i++) {
		Parapet__SavedSegment *s = &c->segs[slot][i];

		parapet__saved_segment__init(s);
		s->has_seg_base = s->has_limit = 1;
		s->has_selector = s->has_attrib = 1;
		s->seg_base = r->seg[i].base;
		s->limit = r->seg[i].limit;
		s->selector = r->seg[i].selector;
		s->attrib = r->seg[i].attrib;
		c->seg_ptrs[slot][i] = s;
	}
	out->n_seg = VP_NR_SEGS;
	out->seg = c->seg_ptrs[slot];
}

static void save_extra(struct save_ctx *c, unsigned i, Parapet__SavedVp *out)
{
	struct vp_extra *x = &c->extra[i];
	uint32_t m;

	if (x->xsave_len != 0) {
		out->has_xsave = 1;
		out->xsave.data = x->xsave;
		out->xsave.len = x->xsave_len;
	}
	if (x->events_len != 0) {
		out->has_vcpu_events = 1;
		out->vcpu_events.data = x->events;
		out->vcpu_events.len = x->events_len;
	}
	for (m = 0; m < x->n_msrs; m++) {
		Parapet__SavedMsr *s = &c->msrs[i][m];

		parapet__saved_msr__init(s);
		s->has_index = s->has_value = 1;
		s->index = x->msrs[m].index;
		s->value = x->msrs[m].value;
		c->msr_ptrs[i][m] = s;
	}
	out->n_msrs = x->n_msrs;
	out->msrs = c->msr_ptrs[i];
}

static int save_vp(struct save_ctx *c, struct vm *vm, unsigned i)
{
	const struct accel_ops *a = vm->cfg.accel;
	Parapet__SavedVp *out = &c->vps[i];
	struct vp *vp = &vm->vps[i];
	struct sidecar *sc = vm->sidecar;
	struct vp_regs r;
	bool hot = sc && (atomic_load(&sc->hotplugged) & (1ull << i));

	parapet__saved_vp__init(out);
	if (a->vp_get_regs(vp->avp, &r) != 0)
		return -1;
	if (a->vp_get_extra && a->vp_get_extra(vp->avp, &c->extra[i]) != 0)
		return -1;
	out->has_index = out->has_run_state = 1;
	out->index = i;
	out->run_state = (Parapet__SavedVp__RunState)atomic_load(&vp->state);
	save_regs(c, i, &r, out);
	save_extra(c, i, out);
	out->has_sidecar = out->has_hotplugged = out->has_sidecar_exits = 1;
	out->sidecar = atomic_load(&vp->on_sidecar) || hot;
	out->hotplugged = hot;
	out->sidecar_exits = sc ? sc->intercepts[i] : 0;
	out->has_exits_pio = out->has_exits_mmio = 1;
	out->has_exits_unknown = out->has_vtl2_refused = 1;
	vp_exit_totals(vp, &out->exits_pio, &out->exits_mmio);
	out->exits_unknown =
	    vp->counters.exits_unknown_pio + vp->counters.exits_unknown_mmio;
	out->vtl2_refused = vp->counters.vtl2_refused;
	out->has_exits_unknown_pio = out->has_exits_unknown_mmio = 1;
	out->exits_unknown_pio = vp->counters.exits_unknown_pio;
	out->exits_unknown_mmio = vp->counters.exits_unknown_mmio;
	c->vp_ptrs[i] = out;
	return 0;
}

static int save_pack(const Parapet__SavedState *st, uint32_t version,
		     uint8_t **out, size_t *len)
{
	size_t body = parapet__saved_state__get_packed_size(st);
	struct savestate_header h = { .version = version };
	uint8_t *buf;

	if (body > SAVESTATE_MAX_SIZE)
		return -1;
	buf = malloc(SAVESTATE_HEADER_SIZE + body);
	if (buf == NULL)
		return -1;
	parapet__saved_state__pack(st, buf + SAVESTATE_HEADER_SIZE);
	memcpy(h.magic, SAVESTATE_MAGIC, sizeof(h.magic));
	h.size = (uint32_t)body;
	h.crc32 = (uint32_t)crc32(0, buf + SAVESTATE_HEADER_SIZE, (uInt)body);
	memcpy(buf, &h, sizeof(h));
	*out = buf;
	*len = SAVESTATE_HEADER_SIZE + body;
	return 0;
}

/* Each device fills its own section of st. */
static int save_devices(struct save_ctx *c, struct vm *vm,
			Parapet__SavedState *st)
{
	const struct devices *d = &vm->devs;
	unsigned i;

	for (i = 0; i < d->n_entries; i++) {
		const struct dev_entry *e = &d->entries[i];

		if (e->ops->save != NULL &&
		    e->ops->save(e->ctx, vm, st, &c->arena) != 0) {
			log_warnx("saving device %s", e->ops->name);
			return -1;
		}
	}
	return 0;
}

int savestate_pick_version(const struct version_range *reader,
			   uint32_t *version, char *err, size_t err_len)
{
	uint32_t hi = reader->max < SAVESTATE_WRITE_MAX ? reader->max
							: SAVESTATE_WRITE_MAX;
	uint32_t lo = reader->min > SAVESTATE_WRITE_MIN ? reader->min
							: SAVESTATE_WRITE_MIN;

	if (reader->min == 0 || reader->min > reader->max || lo > hi)
		return savestate_fail(
		    err, err_len,
		    "the next vmworker reads saved-state versions %u to %u; "
		    "this one writes %u to %u: no common version",
		    reader->min, reader->max, SAVESTATE_WRITE_MIN,
		    SAVESTATE_WRITE_MAX);
	*version = hi;
	return 0;
}

int savestate_save(struct vm *vm, uint8_t **out, size_t *len)
{
	return savestate_save_version(vm, SAVESTATE_WRITE_MAX, out, len);
}

int savestate_save_version(struct vm *vm, uint32_t version, uint8_t **out,
			   size_t *len)
{
	Parapet__SavedState st = PARAPET__SAVED_STATE__INIT;
	struct save_ctx *c;
	unsigned i;
	int rc = -1;

	if (version < SAVESTATE_WRITE_MIN || version > SAVESTATE_WRITE_MAX)
		return -1;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	if (ipc_arena_init(&c->arena, 4096, SAVESTATE_MAX_SIZE) != 0) {
		free(c);
		return -1;
	}
	for (i = 0; i < vm->cfg.n_vps; i++)
		if (save_vp(c, vm, i) != 0)
			goto out;
	parapet__saved_vp__init(&c->tmpl);
	save_regs(c, VM_MAX_VPS, &vm->bsp_start_regs, &c->tmpl);
	if (save_devices(c, vm, &st) != 0)
		goto out;
	st.accel = (char *)(uintptr_t)vm->cfg.accel->name;
	st.has_vp_count = st.has_mem_size = 1;
	st.has_hole_gpa = st.has_hole_size = 1;
	st.vp_count = vm->cfg.n_vps;
	st.mem_size = vm->cfg.mem_size;
	st.hole_gpa = vm->cfg.hole_gpa;
	st.hole_size = vm->cfg.hole_size;
	st.n_vps = vm->cfg.n_vps;
	st.vps = c->vp_ptrs;
	st.has_paused_ns = st.has_start_ns = 1;
	st.paused_ns = vm->paused_ns;
	st.start_ns = vm->start_ns;
	st.ap_template = &c->tmpl;
	/* version 1: exactly release 0.9.0's fields */
	if (version >= 2) {
		st.has_format_version = st.has_min_reader_version = 1;
		st.format_version = version;
		st.min_reader_version = SAVESTATE_MIN_READER;
	}
	rc = save_pack(&st, version, out, len);
out:
	ipc_arena_fini(&c->arena);
	free(c);
	return rc;
}

/* ---- restore ---- */

int savestate_fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

static int check_header(const uint8_t *buf, size_t len, char *err,
			size_t err_len)
{
	struct savestate_header h;

	if (len < SAVESTATE_HEADER_SIZE)
		return savestate_fail(err, err_len,
				      "saved state truncated: %zu bytes", len);
	memcpy(&h, buf, sizeof(h));
	if (memcmp(h.magic, SAVESTATE_MAGIC, sizeof(h.magic)) != 0)
		return savestate_fail(err, err_len, "saved state: bad magic");
	if (h.version < SAVESTATE_READ_MIN)
		return savestate_fail(err, err_len,
				      "saved state: format version %u, this "
				      "vmworker reads %u to %u",
				      h.version, SAVESTATE_READ_MIN,
				      SAVESTATE_READ_MAX);
	if (h.reserved != 0)
		return savestate_fail(err, err_len,
				      "saved state: reserved field set");
	if (h.size > SAVESTATE_MAX_SIZE ||
	    h.size != len - SAVESTATE_HEADER_SIZE)
		return savestate_fail(
		    err, err_len,
		    "saved state: header says %u bytes, %zu present", h.size,
		    len - SAVESTATE_HEADER_SIZE);
	if (crc32(0, buf + SAVESTATE_HEADER_SIZE, h.size) != h.crc32)
		return savestate_fail(err, err_len,
				      "saved state: checksum mismatch");
	return 0;
}

/* The body's word on its version: version 1 has none; from 2 on it
 * names its format (the header's) and the oldest reader that can read
 * it, which lets a newer format this build does not know through when it
 * only added what a reader may ignore. */
static int check_version(const Parapet__SavedState *st, const uint8_t *buf,
			 char *err, size_t err_len)
{
	struct savestate_header h;

	memcpy(&h, buf, sizeof(h));
	if (h.version == 1)
		return 0;
	if (!st->has_format_version || st->format_version != h.version ||
	    !st->has_min_reader_version || st->min_reader_version == 0 ||
	    st->min_reader_version > h.version)
		return savestate_fail(
		    err, err_len,
		    "saved state: format version %u without a matching "
		    "version in its body",
		    h.version);
	if (st->min_reader_version > SAVESTATE_READ_MAX)
		return savestate_fail(
		    err, err_len,
		    "saved state: format version %u needs a vmworker that "
		    "reads version %u; this one reads %u to %u",
		    h.version, st->min_reader_version, SAVESTATE_READ_MIN,
		    SAVESTATE_READ_MAX);
	return 0;
}

static void regs_from_saved(const Parapet__SavedVp *s, struct vp_regs *r)
{
	int i;

	memset(r, 0, sizeof(*r));
	memcpy(r->gpr, s->gpr, sizeof(r->gpr));
	r->rip = s->rip;
	r->rflags = s->rflags;
	r->cr0 = s->cr0;
	r->cr2 = s->cr2;
	r->cr3 = s->cr3;
	r->cr4 = s->cr4;
	r->efer = s->efer;
	r->pat = s->pat;
	r->gdtr.base = s->gdtr_base;
	r->gdtr.limit = (uint16_t)s->gdtr_limit;
	r->idtr.base = s->idtr_base;
	r->idtr.limit = (uint16_t)s->idtr_limit;
	for (i = 0; i < VP_NR_SEGS; i++)
		r->seg[i] =
		    (struct vp_segment){ s->seg[i]->seg_base, s->seg[i]->limit,
					 (uint16_t)s->seg[i]->selector,
					 (uint16_t)s->seg[i]->attrib };
}

/* Register shape checks; KVM's rules for a VP that will run. */
static int check_regs(const Parapet__SavedVp *s, bool runs, char *err,
		      size_t err_len)
{
	struct vp_regs r;
	char why[128];
	size_t i;

	if (s->n_gpr != VP_NR_GPRS || s->n_seg != VP_NR_SEGS)
		return savestate_fail(
		    err, err_len, "saved VP %u: %zu registers, %zu segments",
		    s->index, s->n_gpr, s->n_seg);
	for (i = 0; i < s->n_seg; i++)
		if (s->seg[i]->selector > 0xffff || s->seg[i]->attrib > 0xffff)
			return savestate_fail(err, err_len,
					      "saved VP %u: segment %zu",
					      s->index, i);
	if (s->gdtr_limit > 0xffff || s->idtr_limit > 0xffff)
		return savestate_fail(err, err_len,
				      "saved VP %u: GDTR/IDTR limit", s->index);
	regs_from_saved(s, &r);
	if (runs && vpregs_check(&r, why, sizeof(why)) != 0)
		return savestate_fail(err, err_len, "saved VP %u: %s", s->index,
				      why);
	return 0;
}

static int check_vp(struct vm *vm, const Parapet__SavedVp *s, uint64_t *seen,
		    char *err, size_t err_len)
{
	if (!s->has_index || s->index >= vm->cfg.n_vps)
		return savestate_fail(err, err_len,
				      "saved VP index %u past the %u VPs",
				      s->index, vm->cfg.n_vps);
	if (*seen & (1ull << s->index))
		return savestate_fail(err, err_len, "saved VP %u twice",
				      s->index);
	*seen |= 1ull << s->index;
	if (s->run_state > PARAPET__SAVED_VP__RUN_STATE__HALTED)
		return savestate_fail(err, err_len, "saved VP %u: run state %d",
				      s->index, s->run_state);
	/* exits_mmio is a total (vp_exit_totals) that counts the refused
	 * VTL2 accesses too. */
	if (s->vtl2_refused > s->exits_mmio)
		return savestate_fail(
		    err, err_len,
		    "saved VP %u: more VTL2 refusals than MMIO exits",
		    s->index);
	if (s->exits_unknown_pio > s->exits_pio ||
	    s->exits_unknown_mmio > s->exits_mmio - s->vtl2_refused)
		return savestate_fail(
		    err, err_len,
		    "saved VP %u: more unclaimed accesses than exits",
		    s->index);
	if ((s->has_xsave && s->xsave.len != VP_EXTRA_XSAVE) ||
	    (s->has_vcpu_events && s->vcpu_events.len > VP_EXTRA_EVENTS) ||
	    s->n_msrs > VP_EXTRA_MAX_MSRS)
		return savestate_fail(err, err_len,
				      "saved VP %u: accelerator state size",
				      s->index);
	if (s->sidecar && !s->hotplugged &&
	    (vm->sidecar == NULL || s->index == 0))
		return savestate_fail(
		    err, err_len,
		    "saved VP %u is a sidecar CPU, this VM has none", s->index);
	return check_regs(
	    s, s->run_state != PARAPET__SAVED_VP__RUN_STATE__NOT_STARTED, err,
	    err_len);
}

/* Each device vets its own section. */
static int check_devices(const struct vm *vm, const Parapet__SavedState *st,
			 char *err, size_t err_len)
{
	const struct devices *d = &vm->devs;
	unsigned i;

	for (i = 0; i < d->n_entries; i++) {
		const struct dev_ops *o = d->entries[i].ops;

		if (o->check != NULL && o->check(st, err, err_len) != 0)
			return -1;
	}
	return 0;
}

static int check_state(struct vm *vm, const Parapet__SavedState *st, char *err,
		       size_t err_len)
{
	uint64_t seen = 0;
	size_t i;

	if (st->vp_count != vm->cfg.n_vps || st->mem_size != vm->cfg.mem_size ||
	    st->hole_gpa != vm->cfg.hole_gpa ||
	    st->hole_size != vm->cfg.hole_size)
		return savestate_fail(
		    err, err_len,
		    "saved state is for %u VPs and %llu bytes of "
		    "memory; this VM has %u and %llu",
		    st->vp_count, (unsigned long long)st->mem_size,
		    vm->cfg.n_vps, (unsigned long long)vm->cfg.mem_size);
	if (st->n_vps != vm->cfg.n_vps)
		return savestate_fail(err, err_len,
				      "saved state holds %zu VPs of %u",
				      st->n_vps, vm->cfg.n_vps);
	for (i = 0; i < st->n_vps; i++)
		if (check_vp(vm, st->vps[i], &seen, err, err_len) != 0)
			return -1;
	if (st->ap_template == NULL ||
	    check_regs(st->ap_template, false, err, err_len) != 0)
		return savestate_fail(err, err_len,
				      "saved state: bad AP template");
	return check_devices(vm, st, err, err_len);
}

static int apply_extra(struct vm *vm, struct vp *vp, const Parapet__SavedVp *s)
{
	struct vp_extra x;
	size_t m;

	if (vm->cfg.accel->vp_set_extra == NULL)
		return 0;
	memset(&x, 0, sizeof(x));
	if (s->has_xsave) {
		memcpy(x.xsave, s->xsave.data, s->xsave.len);
		x.xsave_len = (uint32_t)s->xsave.len;
	}
	if (s->has_vcpu_events) {
		memcpy(x.events, s->vcpu_events.data, s->vcpu_events.len);
		x.events_len = (uint32_t)s->vcpu_events.len;
	}
	for (m = 0; m < s->n_msrs; m++)
		x.msrs[x.n_msrs++] =
		    (struct vp_msr){ s->msrs[m]->index, s->msrs[m]->value };
	return vm->cfg.accel->vp_set_extra(vp->avp, &x);
}

/* The accelerator's part: the only one that can still refuse. */
static int apply_vp_regs(struct vm *vm, const Parapet__SavedVp *s)
{
	struct vp *vp = &vm->vps[s->index];
	struct vp_regs r;

	if (s->run_state == PARAPET__SAVED_VP__RUN_STATE__NOT_STARTED)
		return 0;
	regs_from_saved(s, &r);
	if (vm->cfg.accel->vp_set_regs(vp->avp, &r) != 0 ||
	    apply_extra(vm, vp, s) != 0)
		return -1;
	return 0;
}

/* Run state, counters and sidecar state, once every VP's registers were
 * taken: a refusal leaves every VP as it was (not started). */
static void apply_vp_state(struct vm *vm, const Parapet__SavedVp *s)
{
	struct vp *vp = &vm->vps[s->index];
	struct sidecar *sc = vm->sidecar;

	atomic_store(&vp->state, (int)s->run_state);
	/* the saved exits are totals: the unclaimed and refused ones apart */
	vp->counters.exits_pio = s->exits_pio - s->exits_unknown_pio;
	vp->counters.exits_unknown_pio = s->exits_unknown_pio;
	vp->counters.exits_mmio =
	    s->exits_mmio - s->vtl2_refused - s->exits_unknown_mmio;
	vp->counters.exits_unknown_mmio = s->exits_unknown_mmio;
	vp->counters.vtl2_refused = s->vtl2_refused;
	if (sc != NULL && s->index < SIDECAR_MAX_VPS) {
		sc->intercepts[s->index] = s->sidecar_exits;
		if (s->hotplugged) {
			atomic_store(&vp->on_sidecar, false);
			sc->ctl->status[s->index] = SIDECAR_REMOVED;
			atomic_fetch_or(&sc->hotplugged, 1ull << s->index);
		}
	}
}

int savestate_restore(struct vm *vm, const uint8_t *buf, size_t len, char *err,
		      size_t err_len)
{
	Parapet__SavedState *st;
	struct ipc_arena arena;
	size_t i;
	int rc = -1;

	if (check_header(buf, len, err, err_len) != 0)
		return -1;
	if (ipc_arena_init(&arena, 64 * 1024, SAVESTATE_DECODE_BUDGET) != 0)
		return savestate_fail(err, err_len,
				      "saved state: out of memory");
	st =
	    parapet__saved_state__unpack(&arena.pb, len - SAVESTATE_HEADER_SIZE,
					 buf + SAVESTATE_HEADER_SIZE);
	if (st == NULL) {
		savestate_fail(err, err_len, "saved state: undecodable body");
		goto out;
	}
	if (check_version(st, buf, err, err_len) != 0 ||
	    check_state(vm, st, err, err_len) != 0)
		goto out;
	for (i = 0; i < st->n_vps; i++)
		if (apply_vp_regs(vm, st->vps[i]) != 0) {
			savestate_fail(
			    err, err_len,
			    "the accelerator refused VP %u's saved state",
			    st->vps[i]->index);
			goto out;
		}
	for (i = 0; i < st->n_vps; i++)
		apply_vp_state(vm, st->vps[i]);
	regs_from_saved(st->ap_template, &vm->bsp_start_regs);
	for (i = 0; i < vm->devs.n_entries; i++) {
		const struct dev_entry *e = &vm->devs.entries[i];

		if (e->ops->restore != NULL)
			e->ops->restore(e->ctx, vm, st);
	}
	vm->start_ns = st->start_ns;
	vm->paused_ns = st->paused_ns;
	rc = 0;
out:
	ipc_arena_fini(&arena);
	return rc;
}
