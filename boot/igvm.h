/* IGVM image format (see IGVM.md): a validating parser, a writer and the
 * launch measurement, shared by `parapet igvm`, the shim and vmworker. */
#ifndef PARAPET_IGVM_H
#define PARAPET_IGVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IGVM_MAGIC	       0x4D564749u
#define IGVM_FORMAT_VERSION    1u
#define IGVM_FIXED_HEADER_SIZE 24u
#define IGVM_PAGE_SIZE	       4096u
#define IGVM_LARGE_PAGE_SIZE   (2u << 20)

/* Variable header types. */
#define IGVM_VHT_SUPPORTED_PLATFORM    0x001u
#define IGVM_VHT_GUEST_POLICY	       0x101u
#define IGVM_VHT_RELOCATABLE_REGION    0x102u
#define IGVM_VHT_PAGE_TABLE_RELOCATION 0x103u
#define IGVM_VHT_PARAMETER_AREA	       0x301u
#define IGVM_VHT_PAGE_DATA	       0x302u
#define IGVM_VHT_PARAMETER_INSERT      0x303u
#define IGVM_VHT_VP_CONTEXT	       0x304u
#define IGVM_VHT_REQUIRED_MEMORY       0x305u
#define IGVM_VHT_VP_COUNT	       0x307u
#define IGVM_VHT_SRAT		       0x308u
#define IGVM_VHT_MADT		       0x309u
#define IGVM_VHT_MMIO_RANGES	       0x30Au
#define IGVM_VHT_MEMORY_MAP	       0x30Cu
#define IGVM_VHT_COMMAND_LINE	       0x30Eu
#define IGVM_VHT_DEVICE_TREE	       0x312u
#define IGVM_VHT_ENVIRONMENT_INFO      0x313u
#define IGVM_VHT_OPTIONAL	       0x80000000u

#define IGVM_PLATFORM_NATIVE	    0
#define IGVM_PLATFORM_VSM_ISOLATION 1
#define IGVM_PLATFORM_SEV_SNP	    2
#define IGVM_PLATFORM_TDX	    3

#define IGVM_PAGE_FLAG_2MB	  0x1u
#define IGVM_PAGE_FLAG_UNMEASURED 0x2u
#define IGVM_PAGE_FLAG_SHARED	  0x4u

#define IGVM_DATA_NORMAL     0
#define IGVM_DATA_SECRETS    1
#define IGVM_DATA_CPUID_DATA 2
#define IGVM_DATA_CPUID_XF   3

#define IGVM_REQUIRED_MEMORY_VTL2_PROTECTABLE 0x1u

/* MEMORY_MAP entry types (24-byte entries, 0 pages ends the list). */
#define IGVM_MEMMAP_MEMORY	      0
#define IGVM_MEMMAP_PLATFORM_RESERVED 1
#define IGVM_MEMMAP_VTL2_PROTECTABLE  3
#define IGVM_MEMMAP_ENTRY_SIZE	      24u

/* Every rejection of IGVM.md has its own code. */
enum igvm_err {
	IGVM_OK = 0,
	IGVM_ERR_TRUNCATED,	   /* shorter than the fixed header */
	IGVM_ERR_MAGIC,		   /* bad magic */
	IGVM_ERR_VERSION,	   /* unknown format version */
	IGVM_ERR_FIXED_BOUNDS,	   /* header offsets/sizes run past the file */
	IGVM_ERR_TOTAL_SIZE,	   /* total_file_size != file length */
	IGVM_ERR_CHECKSUM,	   /* CRC-32 mismatch */
	IGVM_ERR_HEADER_LENGTH,	   /* length wrong for the header type */
	IGVM_ERR_HEADER_BOUNDS,	   /* header runs past the header area */
	IGVM_ERR_PADDING,	   /* non-zero padding after a header */
	IGVM_ERR_RESERVED,	   /* reserved field not zero */
	IGVM_ERR_SECTION_ORDER,	   /* header of an earlier section */
	IGVM_ERR_UNKNOWN_TYPE,	   /* unknown non-optional type */
	IGVM_ERR_TYPE_RANGE,	   /* type outside the three sections */
	IGVM_ERR_UNSUPPORTED,	   /* relocation headers */
	IGVM_ERR_GPA_ALIGN,	   /* gpa not page aligned */
	IGVM_ERR_SIZE_ALIGN,	   /* size not a multiple of 4 KiB */
	IGVM_ERR_DATA_BOUNDS,	   /* file_offset data runs past the file */
	IGVM_ERR_DATA_OVERLAP,	   /* file data overlaps the headers */
	IGVM_ERR_LARGE_PAGE_DATA,  /* 2 MiB page data not in the file */
	IGVM_ERR_PAGE_FLAGS,	   /* PAGE_DATA flags above bit 2 */
	IGVM_ERR_DATA_TYPE,	   /* PAGE_DATA data_type above 3 */
	IGVM_ERR_AREA_UNDECLARED,  /* parameter area used before declared */
	IGVM_ERR_AREA_INSERTED,	   /* parameter area used after insert */
	IGVM_ERR_AREA_DUPLICATE,   /* parameter area index declared twice */
	IGVM_ERR_VP_DUPLICATE,	   /* VP context for a VP index twice */
	IGVM_ERR_COMPAT_MASK,	   /* mask naming no declared platform */
	IGVM_ERR_PLATFORM_MASK,	   /* platform mask not one new bit */
	IGVM_ERR_PLATFORM_TYPE,	   /* platform_type above 3 */
	IGVM_ERR_PLATFORM_VERSION, /* platform_version other than 1 */
	IGVM_ERR_VP_REGISTER,	   /* unsupported register in a VP context */
	IGVM_ERR_VP_CONTEXT,	   /* malformed VBS register list */
	IGVM_ERR_AREA_SIZE,	   /* parameter area empty or over the limit */
	IGVM_ERR_PARAM_OFFSET,	   /* parameter byte_offset past its area */
	IGVM_ERR_LIMIT,		   /* more headers/areas than Parapet handles */
	IGVM_ERR_PLATFORM_VTL,	   /* highest_vtl other than 0 or 2 */
	IGVM_ERR_SHARED_BOUNDARY,  /* shared_gpa_boundary on native/VSM */
	IGVM_ERR_PLATFORM_DUPLICATE, /* two platforms of the same type */
	IGVM_ERR_NO_PLATFORM,	     /* no SUPPORTED_PLATFORM header at all */
	IGVM_ERR_NO_MEMORY,
	IGVM_ERR_INVALID_ARG,
	IGVM_ERR_COUNT
};

const char *igvm_strerror(int err);

/* Where a parse failed: header index (-1 for the fixed header), its file
 * offset, its type and the name of the field at fault. */
struct igvm_error {
	enum igvm_err code;
	int32_t index;
	uint32_t offset;
	uint32_t type;
	const char *field;
};

struct igvm_fixed_header {
	uint32_t magic;
	uint32_t format_version;
	uint32_t variable_header_offset;
	uint32_t variable_header_size;
	uint32_t total_file_size;
	uint32_t checksum;
};

struct igvm_platform {
	uint32_t compatibility_mask;
	uint8_t highest_vtl;
	uint8_t platform_type;
	uint16_t platform_version;
	uint64_t shared_gpa_boundary;
};

struct igvm_guest_policy {
	uint64_t policy;
	uint32_t compatibility_mask;
};

struct igvm_param_area {
	uint64_t number_of_bytes;
	uint32_t parameter_area_index;
	uint32_t file_offset;
};

struct igvm_page_data {
	uint64_t gpa;
	uint32_t compatibility_mask;
	uint32_t file_offset;
	uint32_t flags;
	uint16_t data_type;
};

struct igvm_param_insert {
	uint64_t gpa;
	uint32_t compatibility_mask;
	uint32_t parameter_area_index;
};

struct igvm_vp_context {
	uint64_t gpa;
	uint32_t compatibility_mask;
	uint32_t file_offset;
	uint16_t vp_index;
	/* A VSM-isolation context is a VBS register list (for VP 0, one
	 * VTL); another platform's is an opaque 4 KiB page. */
	bool vbs;
	uint32_t register_count; /* from the VBS register list */
	uint8_t vtl;		 /* VTL of every register */
	uint32_t data_size;	 /* 4 + 32 * register_count, or 4096 */
};

struct igvm_required_memory {
	uint64_t gpa;
	uint32_t compatibility_mask;
	uint32_t number_of_bytes;
	uint32_t flags;
};

/* VP_COUNT, SRAT, MADT, MMIO_RANGES, MEMORY_MAP, COMMAND_LINE,
 * DEVICE_TREE, ENVIRONMENT_INFO. */
struct igvm_parameter {
	uint32_t parameter_area_index;
	uint32_t byte_offset;
};

/* One decoded variable header. */
struct igvm_header {
	uint32_t type; /* with IGVM_VHT_OPTIONAL masked off */
	bool optional; /* bit 31 was set */
	bool skipped;  /* optional and unknown: not decoded */
	uint32_t index;
	uint32_t offset; /* file offset of its type field */
	uint32_t length;
	union {
		struct igvm_platform platform;
		struct igvm_guest_policy policy;
		struct igvm_param_area area;
		struct igvm_page_data page;
		struct igvm_param_insert insert;
		struct igvm_vp_context vp;
		struct igvm_required_memory mem;
		struct igvm_parameter param;
	} u;
};

/* A validated image. Pointers into buf stay valid while the caller keeps
 * buf alive; igvm_free releases only what igvm_parse allocated. */
struct igvm_file {
	const uint8_t *buf;
	size_t len;
	struct igvm_fixed_header fixed;
	struct igvm_header *headers;
	size_t n_headers;
	uint32_t platform_mask; /* union of declared platforms */
};

/* Limits Parapet places on an image (beyond the format's own). */
#define IGVM_MAX_HEADERS      (1u << 20)
#define IGVM_MAX_AREAS	      256u
#define IGVM_MAX_AREA_SIZE    (16u << 20)
#define IGVM_MAX_VP_REGISTERS 256u

/* Validates the whole file; on failure returns the error code, fills err
 * (if non-NULL) and leaves f empty. Never reads outside buf. */
int igvm_parse(const void *buf, size_t len, struct igvm_file *f,
	       struct igvm_error *err);
void igvm_free(struct igvm_file *f);

/* Formats err as one line: "header 3 (PAGE_DATA) at offset 0x58, field
 * gpa: gpa not page aligned". */
void igvm_error_format(const struct igvm_error *err, char *out, size_t len);

const char *igvm_type_name(uint32_t type);
uint32_t igvm_crc32(const void *buf, size_t len);

/* Iteration: the next header of the given type after prev (NULL: first);
 * NULL at the end. type 0 matches any header. */
const struct igvm_header *igvm_next(const struct igvm_file *f,
				    const struct igvm_header *prev,
				    uint32_t type);

/* A PAGE_DATA header's size (4 KiB or 2 MiB) and its data in the file
 * buffer, or NULL for a zero page. */
uint32_t igvm_page_size(const struct igvm_header *h);
const uint8_t *igvm_page_bytes(const struct igvm_file *f,
			       const struct igvm_header *h);

/* The PARAMETER_AREA declaring index, its PARAMETER_INSERT (NULL when the
 * area is never inserted) and the parameter of type naming it. */
const struct igvm_header *igvm_find_area(const struct igvm_file *f,
					 uint32_t index);
const struct igvm_header *igvm_find_insert(const struct igvm_file *f,
					   uint32_t index);
const struct igvm_header *igvm_find_param(const struct igvm_file *f,
					  uint32_t param_type);

/* VBS register list. */
#define IGVM_VBS_REG_SIZE 32u

/* Hyper-V register ids accepted in a VBS VP context. */
#define HV_X64_REG_RSP		     0x00020004u
#define HV_X64_REG_RBP		     0x00020005u
#define HV_X64_REG_RSI		     0x00020006u
#define HV_X64_REG_R8		     0x00020008u
#define HV_X64_REG_R9		     0x00020009u
#define HV_X64_REG_R10		     0x0002000Au
#define HV_X64_REG_R11		     0x0002000Bu
#define HV_X64_REG_R12		     0x0002000Cu
#define HV_X64_REG_RIP		     0x00020010u
#define HV_X64_REG_RFLAGS	     0x00020011u
#define HV_X64_REG_CR0		     0x00040000u
#define HV_X64_REG_CR3		     0x00040002u
#define HV_X64_REG_CR4		     0x00040003u
#define HV_X64_REG_ES		     0x00060000u
#define HV_X64_REG_CS		     0x00060001u
#define HV_X64_REG_SS		     0x00060002u
#define HV_X64_REG_DS		     0x00060003u
#define HV_X64_REG_FS		     0x00060004u
#define HV_X64_REG_GS		     0x00060005u
#define HV_X64_REG_TR		     0x00060007u
#define HV_X64_REG_IDTR		     0x00070000u
#define HV_X64_REG_GDTR		     0x00070001u
#define HV_X64_REG_EFER		     0x00080001u
#define HV_X64_REG_PAT		     0x00080004u
#define HV_X64_REG_MTRR_DEF_TYPE     0x0008000Fu
#define HV_X64_REG_MTRR_PHYS_BASE0   0x00080010u /* ..0x0008001F */
#define HV_X64_REG_MTRR_PHYS_MASK0   0x00080040u /* ..0x0008004F */
#define HV_X64_REG_MTRR_FIX64K_00000 0x00080070u
#define HV_X64_REG_MTRR_FIX4K_F8000  0x0008007Au

enum igvm_reg_kind {
	IGVM_REG_NONE = 0, /* not accepted */
	IGVM_REG_PLAIN,
	IGVM_REG_SEGMENT,
	IGVM_REG_TABLE,
};

/* Kind and name ("rip", "cs", "mtrr") of a Hyper-V register id. */
enum igvm_reg_kind igvm_reg_kind(uint32_t name);
const char *igvm_reg_name(uint32_t name);

struct igvm_segment {
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint16_t attributes;
};

struct igvm_table {
	uint16_t limit;
	uint64_t base;
};

/* One VBS register list entry, decoded. */
struct igvm_vbs_reg {
	uint8_t vtl;
	uint32_t name;
	uint8_t value[16];
};

/* The registers of one VP context. present has bit IGVM_VPR_x set for
 * each register the context set; the others are zero. */
enum igvm_vp_reg_bit {
	IGVM_VPR_RIP,
	IGVM_VPR_RSP,
	IGVM_VPR_RBP,
	IGVM_VPR_RSI,
	IGVM_VPR_R8,
	IGVM_VPR_R9,
	IGVM_VPR_R10,
	IGVM_VPR_R11,
	IGVM_VPR_R12,
	IGVM_VPR_RFLAGS,
	IGVM_VPR_CR0,
	IGVM_VPR_CR3,
	IGVM_VPR_CR4,
	IGVM_VPR_EFER,
	IGVM_VPR_PAT,
	IGVM_VPR_CS,
	IGVM_VPR_DS,
	IGVM_VPR_ES,
	IGVM_VPR_FS,
	IGVM_VPR_GS,
	IGVM_VPR_SS,
	IGVM_VPR_TR,
	IGVM_VPR_GDTR,
	IGVM_VPR_IDTR,
};

struct igvm_vp_regs {
	uint32_t present;
	uint8_t vtl;
	uint64_t rip, rsp, rbp, rsi, r8, r9, r10, r11, r12, rflags;
	uint64_t cr0, cr3, cr4, efer, pat;
	struct igvm_segment cs, ds, es, fs, gs, ss, tr;
	struct igvm_table gdtr, idtr;
};

/* Entry i of a validated VBS VP_CONTEXT header's register list. */
void igvm_vp_reg_at(const struct igvm_file *f, const struct igvm_header *h,
		    uint32_t i, struct igvm_vbs_reg *out);
/* Registers of the VBS VP context for vp_index (MTRRs not decoded).
 * Returns IGVM_OK or IGVM_ERR_INVALID_ARG when there is none. */
int igvm_vp_regs(const struct igvm_file *f, uint16_t vp_index,
		 struct igvm_vp_regs *out);

/* The VBS register list (u32 count, 32-byte entries) of VP vp_index's
 * context, pointing into f's buffer, or NULL. */
const uint8_t *igvm_vp_context_data(const struct igvm_file *f,
				    uint16_t vp_index, size_t *len);
/* Decodes a VBS register list from anywhere (the boot device tree's
 * /parapet/vp-context): checks its length, one VTL, accepted names. */
int igvm_vbs_decode(const void *list, size_t len, struct igvm_vp_regs *out);

/* Encodes a register value into 16 bytes. */
void igvm_reg_plain(uint8_t value[16], uint64_t v);
void igvm_reg_segment(uint8_t value[16], const struct igvm_segment *s);
void igvm_reg_table(uint8_t value[16], const struct igvm_table *t);
void igvm_reg_decode_segment(const uint8_t value[16], struct igvm_segment *s);
void igvm_reg_decode_table(const uint8_t value[16], struct igvm_table *t);
uint64_t igvm_reg_decode_plain(const uint8_t value[16]);

/* Launch measurement (DESIGN.md §3): one streaming SHA-256 over a
 * sequence of records, in header order:
 *   for every PAGE_DATA without IGVM_PAGE_FLAG_UNMEASURED:
 *     'P' || gpa_le64 || flags_le32 || data_type_le16 || contents
 *     (contents: the page's 4096 or 2 MiB bytes, zeros for a zero page)
 *   then for every VP_CONTEXT:
 *     'V' || vp_index_le16 || data_size_le32 || context bytes
 *     (VBS: register_count_le32 followed by the 32-byte entries, as in
 *     the file; other platforms: the opaque 4 KiB context page)
 * The tags and the explicit sizes make the record stream unambiguous.
 * Parameter areas (host-filled) and other headers are not measured. */
#define IGVM_MEASUREMENT_SIZE 32u
int igvm_measure(const struct igvm_file *f, uint8_t out[IGVM_MEASUREMENT_SIZE]);

/* Writer: add headers in any order; igvm_writer_finish lays them out in
 * section order (stable), 8-byte aligned and zero padded, then the file
 * data, and sets the CRC-32. All-zero pages get file_offset 0. */
struct igvm_writer_entry;
struct igvm_writer {
	struct igvm_writer_entry *entries;
	size_t n, cap;
	uint8_t *data; /* file data, offsets relative to its start */
	size_t data_len, data_cap;
	int error; /* first error, sticky */
};

void igvm_writer_init(struct igvm_writer *w);
void igvm_writer_free(struct igvm_writer *w);
int igvm_write_platform(struct igvm_writer *w, const struct igvm_platform *p);
/* data: 4096 bytes (or 2 MiB with IGVM_PAGE_FLAG_2MB), NULL = zero page */
int igvm_write_page(struct igvm_writer *w, uint64_t gpa, uint32_t mask,
		    uint32_t flags, uint16_t data_type, const void *data);
int igvm_write_param_area(struct igvm_writer *w, uint32_t index,
			  uint64_t number_of_bytes);
int igvm_write_param(struct igvm_writer *w, uint32_t type, uint32_t index,
		     uint32_t byte_offset);
int igvm_write_insert(struct igvm_writer *w, uint64_t gpa, uint32_t mask,
		      uint32_t index);
int igvm_write_required_memory(struct igvm_writer *w, uint64_t gpa,
			       uint32_t mask, uint32_t size, uint32_t flags);
int igvm_write_vp_context(struct igvm_writer *w, uint64_t gpa, uint32_t mask,
			  uint16_t vp_index, const struct igvm_vbs_reg *regs,
			  uint32_t count);
/* A VP context with opaque file data (another platform's format). */
int igvm_write_vp_data(struct igvm_writer *w, uint64_t gpa, uint32_t mask,
		       uint16_t vp_index, const void *data, size_t len);
/* Any header given raw (type, body); for tests and foreign layouts. */
int igvm_write_raw(struct igvm_writer *w, uint32_t type, const void *body,
		   uint32_t len);
/* The image in a malloc'd buffer (caller frees). */
int igvm_writer_finish(struct igvm_writer *w, uint8_t **out, size_t *len);

/* Recomputes the checksum of an image in place (after a deliberate edit;
 * for tests). Returns IGVM_ERR_FIXED_BOUNDS if the header area does not
 * fit in len. */
int igvm_fix_checksum(uint8_t *buf, size_t len);

#endif
