/* `parapet igvm dump`: every header of a parsed image, field by field with
 * file offsets, as text or as JSON (jansson). One field emitter serves
 * both forms. */
#include <inttypes.h>
#include <stdio.h>

#include <jansson.h>

#include "boot/igvm.h"
#include "host/igvm_dump.h"

/* Text when obj is NULL, JSON into obj otherwise. */
struct out {
	FILE *fp;
	json_t *obj;
};

static void emit_u(struct out *o, const char *name, uint64_t v, bool hex)
{
	if (!o->obj) {
		fprintf(o->fp, hex ? " %s=0x%" PRIx64 : " %s=%" PRIu64, name,
			v);
		return;
	}
	if (v <= INT64_MAX) {
		json_object_set_new(o->obj, name, json_integer((json_int_t)v));
	} else {
		char buf[32];

		snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
		json_object_set_new(o->obj, name, json_string(buf));
	}
}

static void emit_s(struct out *o, const char *name, const char *s)
{
	if (!o->obj)
		fprintf(o->fp, " %s=%s", name, s);
	else
		json_object_set_new(o->obj, name, json_string(s));
}

static const char *platform_name(uint8_t t)
{
	static const char *const names[] = { "NATIVE", "VSM_ISOLATION",
					     "SEV_SNP", "TDX" };

	return t < 4 ? names[t] : "UNKNOWN";
}

static const char *data_type_name(uint16_t t)
{
	static const char *const names[] = { "NORMAL", "SECRETS", "CPUID_DATA",
					     "CPUID_XF" };

	return t < 4 ? names[t] : "UNKNOWN";
}

static void dump_platform(struct out *o, const struct igvm_platform *p)
{
	emit_u(o, "compatibility_mask", p->compatibility_mask, true);
	emit_u(o, "highest_vtl", p->highest_vtl, false);
	emit_u(o, "platform_type", p->platform_type, false);
	emit_s(o, "platform", platform_name(p->platform_type));
	emit_u(o, "platform_version", p->platform_version, false);
	emit_u(o, "shared_gpa_boundary", p->shared_gpa_boundary, true);
}

static void dump_page(struct out *o, const struct igvm_page_data *p)
{
	emit_u(o, "gpa", p->gpa, true);
	emit_u(o, "compatibility_mask", p->compatibility_mask, true);
	emit_u(o, "file_offset", p->file_offset, true);
	emit_u(o, "flags", p->flags, true);
	emit_u(o, "data_type", p->data_type, false);
	emit_s(o, "data", data_type_name(p->data_type));
	emit_s(o, "measured",
	       p->flags & IGVM_PAGE_FLAG_UNMEASURED ? "no" : "yes");
}

static void dump_reg_value(struct out *o, const struct igvm_vbs_reg *r)
{
	struct igvm_segment s;
	struct igvm_table t;

	switch (igvm_reg_kind(r->name)) {
	case IGVM_REG_SEGMENT:
		igvm_reg_decode_segment(r->value, &s);
		emit_u(o, "base", s.base, true);
		emit_u(o, "limit", s.limit, true);
		emit_u(o, "selector", s.selector, true);
		emit_u(o, "attributes", s.attributes, true);
		break;
	case IGVM_REG_TABLE:
		igvm_reg_decode_table(r->value, &t);
		emit_u(o, "base", t.base, true);
		emit_u(o, "limit", t.limit, true);
		break;
	default:
		emit_u(o, "value", igvm_reg_decode_plain(r->value), true);
	}
}

static void dump_regs(struct out *o, const struct igvm_file *f,
		      const struct igvm_header *h)
{
	json_t *arr = o->obj ? json_array() : NULL;

	for (uint32_t i = 0; i < h->u.vp.register_count; i++) {
		struct igvm_vbs_reg r;
		struct out ro = { o->fp, arr ? json_object() : NULL };

		igvm_vp_reg_at(f, h, i, &r);
		if (!ro.obj)
			fprintf(o->fp, "\n      ");
		emit_s(&ro, "register", igvm_reg_name(r.name));
		emit_u(&ro, "name", r.name, true);
		emit_u(&ro, "vtl", r.vtl, false);
		dump_reg_value(&ro, &r);
		if (arr)
			json_array_append_new(arr, ro.obj);
	}
	if (arr)
		json_object_set_new(o->obj, "registers", arr);
}

static void dump_vp(struct out *o, const struct igvm_file *f,
		    const struct igvm_header *h)
{
	const struct igvm_vp_context *vp = &h->u.vp;

	emit_u(o, "gpa", vp->gpa, true);
	emit_u(o, "compatibility_mask", vp->compatibility_mask, true);
	emit_u(o, "file_offset", vp->file_offset, true);
	emit_u(o, "vp_index", vp->vp_index, false);
	emit_s(o, "format", vp->vbs ? "vbs" : "opaque");
	emit_u(o, "data_size", vp->data_size, false);
	if (!vp->vbs)
		return;
	emit_u(o, "vtl", vp->vtl, false);
	emit_u(o, "register_count", vp->register_count, false);
	dump_regs(o, f, h);
}

static void dump_fields(struct out *o, const struct igvm_file *f,
			const struct igvm_header *h)
{
	switch (h->type) {
	case IGVM_VHT_SUPPORTED_PLATFORM:
		dump_platform(o, &h->u.platform);
		break;
	case IGVM_VHT_GUEST_POLICY:
		emit_u(o, "policy", h->u.policy.policy, true);
		emit_u(o, "compatibility_mask", h->u.policy.compatibility_mask,
		       true);
		break;
	case IGVM_VHT_PARAMETER_AREA:
		emit_u(o, "number_of_bytes", h->u.area.number_of_bytes, true);
		emit_u(o, "parameter_area_index",
		       h->u.area.parameter_area_index, false);
		emit_u(o, "file_offset", h->u.area.file_offset, true);
		break;
	case IGVM_VHT_PAGE_DATA:
		dump_page(o, &h->u.page);
		break;
	case IGVM_VHT_PARAMETER_INSERT:
		emit_u(o, "gpa", h->u.insert.gpa, true);
		emit_u(o, "compatibility_mask", h->u.insert.compatibility_mask,
		       true);
		emit_u(o, "parameter_area_index",
		       h->u.insert.parameter_area_index, false);
		break;
	case IGVM_VHT_VP_CONTEXT:
		dump_vp(o, f, h);
		break;
	case IGVM_VHT_REQUIRED_MEMORY:
		emit_u(o, "gpa", h->u.mem.gpa, true);
		emit_u(o, "compatibility_mask", h->u.mem.compatibility_mask,
		       true);
		emit_u(o, "number_of_bytes", h->u.mem.number_of_bytes, true);
		emit_u(o, "flags", h->u.mem.flags, true);
		emit_s(o, "vtl2_protectable",
		       h->u.mem.flags & IGVM_REQUIRED_MEMORY_VTL2_PROTECTABLE
			   ? "yes"
			   : "no");
		break;
	default:
		emit_u(o, "parameter_area_index",
		       h->u.param.parameter_area_index, false);
		emit_u(o, "byte_offset", h->u.param.byte_offset, true);
	}
}

static void dump_header(struct out *o, const struct igvm_file *f,
			const struct igvm_header *h)
{
	uint32_t type = h->type | (h->optional ? IGVM_VHT_OPTIONAL : 0);

	if (!o->obj) {
		fprintf(o->fp, "[%u] @0x%x %s (0x%x)", h->index, h->offset,
			igvm_type_name(h->type), type);
	} else {
		emit_u(o, "index", h->index, false);
		emit_u(o, "offset", h->offset, false);
		emit_u(o, "type", type, false);
		emit_s(o, "type_name", igvm_type_name(h->type));
	}
	emit_u(o, "length", h->length, false);
	if (h->skipped)
		emit_s(o, "skipped", "optional header of unknown type");
	else
		dump_fields(o, f, h);
	if (!o->obj)
		fputc('\n', o->fp);
}

static void dump_fixed(struct out *o, const struct igvm_file *f,
		       const char *measurement)
{
	const struct igvm_fixed_header *fh = &f->fixed;

	if (!o->obj)
		fprintf(o->fp, "fixed header @0x0");
	emit_u(o, "magic", fh->magic, true);
	emit_u(o, "format_version", fh->format_version, false);
	emit_u(o, "variable_header_offset", fh->variable_header_offset, true);
	emit_u(o, "variable_header_size", fh->variable_header_size, true);
	emit_u(o, "total_file_size", fh->total_file_size, false);
	emit_u(o, "checksum", fh->checksum, true);
	/* igvm_parse accepted the file, so the checksum matched. */
	emit_s(o, "checksum_status", "ok");
	emit_u(o, "header_count", f->n_headers, false);
	emit_s(o, "measurement", measurement);
	if (!o->obj)
		fputc('\n', o->fp);
}

static int dump_json(const struct igvm_file *f, FILE *fp,
		     const char *measurement)
{
	json_t *root = json_object(), *hdrs = json_array();
	struct out o = { fp, json_object() };
	int rc;

	dump_fixed(&o, f, measurement);
	json_object_set_new(root, "fixed_header", o.obj);
	for (size_t i = 0; i < f->n_headers; i++) {
		struct out ho = { fp, json_object() };

		dump_header(&ho, f, &f->headers[i]);
		json_array_append_new(hdrs, ho.obj);
	}
	json_object_set_new(root, "headers", hdrs);
	rc = json_dumpf(root, fp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', fp);
	json_decref(root);
	return rc;
}

int igvm_dump(const struct igvm_file *f, FILE *fp, bool json)
{
	uint8_t m[IGVM_MEASUREMENT_SIZE];
	char hex[2 * IGVM_MEASUREMENT_SIZE + 1];
	struct out o = { fp, NULL };

	if (igvm_measure(f, m))
		return -1;
	for (size_t i = 0; i < sizeof(m); i++)
		snprintf(hex + 2 * i, 3, "%02x", m[i]);
	if (json)
		return dump_json(f, fp, hex);
	dump_fixed(&o, f, hex);
	for (size_t i = 0; i < f->n_headers; i++)
		dump_header(&o, f, &f->headers[i]);
	return ferror(fp) ? -1 : 0;
}
