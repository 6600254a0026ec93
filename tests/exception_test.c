/* Unit tests for the exception chain the emu accelerator reports
 * (services/vmworker/exception.c): which handler a CPU would enter, or
 * that it shuts down, for IDTs built in a small identity-mapped RAM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "services/vmworker/exception.h"

#define RAM_SIZE (4u << 20)
#define PML4	 0x1000u
#define PDPT	 0x2000u
#define PD	 0x3000u
#define IDT	 0x10000u

struct box {
	struct guest_ram ram;
	struct vp_regs regs;
};

static void put64(struct box *b, uint64_t gpa, uint64_t v)
{
	memcpy(b->ram.mem + gpa, &v, sizeof(v));
}

static int setup(void **state)
{
	struct box *b = calloc(1, sizeof(*b));

	b->ram.mem = calloc(1, RAM_SIZE);
	b->ram.size = RAM_SIZE;
	/* The first 4 MiB identity-mapped with two 2 MiB pages. */
	put64(b, PML4, PDPT | 3);
	put64(b, PDPT, PD | 3);
	put64(b, PD, 0x83);
	put64(b, PD + 8, (2u << 20) | 0x83);
	b->regs.cr3 = PML4;
	b->regs.efer = 0x500; /* LME | LMA */
	b->regs.idtr.base = IDT;
	b->regs.idtr.limit = 0;
	*state = b;
	return 0;
}

static int teardown(void **state)
{
	struct box *b = *state;

	free(b->ram.mem);
	free(b);
	return 0;
}

/* A 64-bit gate for vector: P, DPL 0, type (0xe interrupt, 0xf trap). */
static void gate(struct box *b, unsigned vector, uint8_t type, int present)
{
	uint8_t *g = b->ram.mem + IDT + 16u * vector;

	memset(g, 0, 16);
	g[2] = 0x08; /* code selector */
	g[5] = (uint8_t)((present ? 0x80 : 0) | type);
	if (16u * vector + 15 > b->regs.idtr.limit)
		b->regs.idtr.limit = (uint16_t)(16u * vector + 15);
}

static enum exc_outcome outcome(struct box *b, unsigned vector,
				unsigned *delivered)
{
	*delivered = 999;
	return exception_outcome(&b->ram, &b->regs, vector, delivered);
}

static void test_empty_idt_triple_faults(void **state)
{
	struct box *b = *state;
	unsigned d;

	assert_int_equal(outcome(b, EXC_UD, &d), EXC_TRIPLE_FAULT);
	assert_int_equal(outcome(b, EXC_GP, &d), EXC_TRIPLE_FAULT);
	assert_int_equal(outcome(b, EXC_DF, &d), EXC_TRIPLE_FAULT);
	assert_int_equal(d, 999);
}

static void test_own_handler(void **state)
{
	struct box *b = *state;
	unsigned d;

	gate(b, EXC_UD, 0xe, 1);
	assert_int_equal(outcome(b, EXC_UD, &d), EXC_HANDLED);
	assert_int_equal(d, EXC_UD);
	gate(b, EXC_DE, 0xf, 1); /* a trap gate serves as well */
	assert_int_equal(outcome(b, EXC_DE, &d), EXC_HANDLED);
	assert_int_equal(d, EXC_DE);
}

/* A vector past the limit escalates to #GP; a gate not present to #NP;
 * a gate of the wrong type is no gate. */
static void test_escalation(void **state)
{
	struct box *b = *state;
	unsigned d;

	gate(b, EXC_GP, 0xe, 1);
	assert_int_equal(outcome(b, 32, &d), EXC_HANDLED);
	assert_int_equal(d, EXC_GP);
	gate(b, EXC_UD, 0xe, 0);
	assert_int_equal(outcome(b, EXC_UD, &d),
			 EXC_TRIPLE_FAULT); /* no #NP, no #DF */
	gate(b, EXC_NP, 0xe, 1);
	assert_int_equal(outcome(b, EXC_UD, &d), EXC_HANDLED);
	assert_int_equal(d, EXC_NP);
	gate(b, EXC_NP, 0x5, 1); /* a task gate: not in long mode */
	gate(b, EXC_DF, 0xe, 1);
	assert_int_equal(outcome(b, EXC_UD, &d), EXC_HANDLED);
	assert_int_equal(d, EXC_DF);
	/* #GP's own gate broken: #DF. */
	gate(b, EXC_GP, 0xe, 0);
	assert_int_equal(outcome(b, EXC_GP, &d), EXC_HANDLED);
	assert_int_equal(d, EXC_DF);
}

/* An IDT the page tables do not map, or outside RAM, delivers nothing. */
static void test_unmapped_idt(void **state)
{
	struct box *b = *state;
	unsigned d;

	gate(b, EXC_UD, 0xe, 1);
	b->regs.idtr.base = 0x40000000u; /* not mapped */
	assert_int_equal(outcome(b, EXC_UD, &d), EXC_TRIPLE_FAULT);
	b->regs.idtr.base = 0xffff800000000000ull; /* canonical, unmapped */
	assert_int_equal(outcome(b, EXC_UD, &d), EXC_TRIPLE_FAULT);
	b->regs.idtr.base = IDT;
	b->regs.efer = 0; /* not long mode: no 16-byte gates to read */
	assert_int_equal(outcome(b, EXC_UD, &d), EXC_TRIPLE_FAULT);
}

static void test_names(void **state)
{
	char buf[16];

	(void)state;
	assert_string_equal(exception_name(EXC_UD, buf, sizeof(buf)), "#UD");
	assert_string_equal(exception_name(14, buf, sizeof(buf)), "#PF");
	assert_string_equal(exception_name(9, buf, sizeof(buf)), "vector 9");
	assert_string_equal(exception_name(200, buf, sizeof(buf)),
			    "vector 200");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty_idt_triple_faults,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_handler, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_escalation, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unmapped_idt, setup,
						teardown),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("exception", tests, NULL, NULL);
}
