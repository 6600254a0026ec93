/* The sidecar shared-memory protocol (DESIGN.md §6): one control page and
 * one command page per VP in a memfd region that the shim allocates (or
 * vmworker, standalone). The layout is fixed: every size and offset is
 * asserted below. Command pages carry guest-influenced data: every field
 * is checked before use (sidecar_check_*). */
#ifndef PARAPET_SIDECAR_PROTO_H
#define PARAPET_SIDECAR_PROTO_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#define SIDECAR_MAGIC	    0x52444353u /* "SCDR" */
#define SIDECAR_VERSION	    1u
#define SIDECAR_PAGE_SIZE   4096u
#define SIDECAR_MAX_VPS	    64u
#define SIDECAR_REQUEST_MAX 256u
#define SIDECAR_REASON_MAX  64u

/* Region size for n VPs: the control page and a command page each. */
#define SIDECAR_REGION_SIZE(n) ((size_t)(1u + (n)) * SIDECAR_PAGE_SIZE)

/* Per-CPU status on the control page. */
enum sidecar_status {
	SIDECAR_REMOVED = 0, /* not (or no longer) a sidecar CPU */
	SIDECAR_IDLE = 1,    /* waiting for a command */
	SIDECAR_RUN = 2,     /* running its VP */
	SIDECAR_STOP = 3,    /* asked to stop running */
	SIDECAR_REMOVE = 4,  /* asked to leave the sidecar (hot-plug) */
	SIDECAR_NR_STATUS
};

enum sidecar_command {
	SIDECAR_CMD_NONE = 0,
	SIDECAR_CMD_RUN_VP = 1,
	SIDECAR_CMD_GET_VP_REGISTERS = 2,
	SIDECAR_CMD_SET_VP_REGISTERS = 3,
	SIDECAR_CMD_TRANSLATE_GVA = 4,
	SIDECAR_NR_COMMANDS
};

/* Command errors (has_error set, error one of these). */
enum sidecar_error {
	SIDECAR_OK = 0,
	SIDECAR_ERR_COMMAND = 1,  /* unknown command */
	SIDECAR_ERR_LENGTH = 2,	  /* request_len out of range */
	SIDECAR_ERR_VP = 3,	  /* vp_index wrong for this page */
	SIDECAR_ERR_REGS = 4,	  /* register context refused */
	SIDECAR_ERR_UNMAPPED = 5, /* GVA does not translate */
	SIDECAR_ERR_ACCEL = 6,	  /* the accelerator failed */
	SIDECAR_ERR_STATE = 7,	  /* command not allowed in this status */
	SIDECAR_ERR_INTERCEPT = 8 /* malformed intercept answer */
};

/* What stopped the VP, posted as the intercept of RUN_VP. */
enum sidecar_exit {
	SIDECAR_EXIT_NONE = 0,
	SIDECAR_EXIT_IO = 1,
	SIDECAR_EXIT_MMIO = 2,
	SIDECAR_EXIT_HALT = 3,
	SIDECAR_EXIT_SHUTDOWN = 4,
	SIDECAR_EXIT_FAULT = 5,
	SIDECAR_EXIT_KICKED = 6,
	SIDECAR_NR_EXITS
};

struct sidecar_segment {
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint16_t attrib;
};

struct sidecar_regs {
	uint64_t gpr[16];
	uint64_t rip, rflags;
	uint64_t cr0, cr2, cr3, cr4, efer, pat;
	struct sidecar_segment seg[8];
	uint64_t gdtr_base, idtr_base;
	uint16_t gdtr_limit, idtr_limit;
	uint32_t reserved;
};

/* The first 24 bytes share the command page's first cache line with its
 * header, so that an exit's round trip moves that one line each way. */
struct sidecar_intercept {
	uint32_t kind;	  /* enum sidecar_exit */
	uint8_t size;	  /* access size: 1, 2, 4 or 8 */
	uint8_t is_write; /* 0 or 1 */
	uint16_t reserved;
	uint64_t addr; /* port or gpa */
	uint64_t data; /* written value, or the answer to a read */
	uint64_t rip;
	char reason[SIDECAR_REASON_MAX]; /* NUL-terminated, for faults */
};

struct sidecar_control {
	uint32_t magic;
	uint32_t version;
	uint32_t n_vps;
	uint32_t flags; /* SIDECAR_FLAG_* */
	uint32_t status[SIDECAR_MAX_VPS];
	/* Set by a sidecar that posted an intercept while the main loop
	 * sleeps; an awake main loop polls each page's posted word. */
	uint64_t needs_attention[SIDECAR_MAX_VPS / 64];
	uint32_t request;      /* futex: bumped when an attention bit is set */
	uint32_t response;     /* futex: bumped when the main loop answers */
	uint32_t main_waiting; /* the main loop sleeps on request */
	uint32_t reserved0;
	uint8_t reserved[SIDECAR_PAGE_SIZE - 296];
};

#define SIDECAR_FLAG_LOG 1u /* log every command (sidecar=log) */

struct sidecar_cmd_page {
	uint32_t command;	  /* enum sidecar_command, set by main */
	uint32_t seq;		  /* futex: main bumps it to post a command */
	uint32_t done;		  /* futex: sidecar bumps it when done */
	uint32_t has_error;	  /* 0 or 1 */
	uint32_t error;		  /* enum sidecar_error */
	uint32_t vp_index;	  /* the VP this page belongs to */
	uint32_t sidecar_waiting; /* the sidecar thread sleeps on seq */
	uint32_t request_len;	  /* bytes of request_data in use */
	uint32_t main_waiting;	  /* the main side sleeps on done */
	uint32_t posted; /* sidecar bumps it when the intercept is new */
	struct sidecar_intercept intercept;
	struct sidecar_regs regs;
	uint8_t request_data[SIDECAR_REQUEST_MAX];
	uint8_t
	    reserved[SIDECAR_PAGE_SIZE - 40 - 96 - 344 - SIDECAR_REQUEST_MAX];
};

static_assert(sizeof(struct sidecar_segment) == 16, "segment size");
static_assert(sizeof(struct sidecar_regs) == 344, "regs size");
static_assert(offsetof(struct sidecar_regs, seg) == 192, "regs.seg");
static_assert(offsetof(struct sidecar_regs, gdtr_limit) == 336, "gdtr");
static_assert(sizeof(struct sidecar_intercept) == 96, "intercept size");
static_assert(offsetof(struct sidecar_intercept, reason) == 32, "reason");
static_assert(offsetof(struct sidecar_control, status) == 16, "status");
static_assert(offsetof(struct sidecar_control, needs_attention) == 272,
	      "needs_attention");
static_assert(offsetof(struct sidecar_control, request) == 280, "request");
static_assert(offsetof(struct sidecar_control, reserved) == 296,
	      "control reserved");
static_assert(sizeof(struct sidecar_control) == SIDECAR_PAGE_SIZE,
	      "control page");
static_assert(offsetof(struct sidecar_cmd_page, regs) == 136, "page.regs");
static_assert(offsetof(struct sidecar_cmd_page, intercept) == 40,
	      "page.intercept");
static_assert(offsetof(struct sidecar_cmd_page, intercept.data) + 8 == 64,
	      "an exit fits the first cache line");
static_assert(offsetof(struct sidecar_cmd_page, request_data) == 480,
	      "page.request_data");
static_assert(sizeof(struct sidecar_cmd_page) == SIDECAR_PAGE_SIZE,
	      "command page");

/* Events that move a CPU's status (sidecar_status_next). */
enum sidecar_event {
	SIDECAR_EV_RUN,	    /* main posts RUN_VP */
	SIDECAR_EV_STOPPED, /* the thread stopped running its VP */
	SIDECAR_EV_STOP,    /* main asks it to stop */
	SIDECAR_EV_REMOVE,  /* main asks for hot-plug */
	SIDECAR_EV_EXITED,  /* the thread left (after REMOVE) */
	SIDECAR_NR_EVENTS
};

/* The status table: the next status, or -1 when the event is not allowed
 * in that status. */
int sidecar_status_next(enum sidecar_status s, enum sidecar_event ev);
const char *sidecar_status_name(uint32_t s);
const char *sidecar_command_name(uint32_t c);
const char *sidecar_exit_name(uint32_t e);
const char *sidecar_strerror(uint32_t err);

/* Checks of guest-influenced fields: 0 or an enum sidecar_error. */
uint32_t sidecar_check_command(const struct sidecar_cmd_page *p,
			       uint32_t vp_index, uint32_t n_vps);
uint32_t sidecar_check_intercept(const struct sidecar_intercept *ic);

#endif
