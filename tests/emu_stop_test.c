/* The emu accelerator's asynchronous stop, on the Unicorn library itself:
 * another thread sets a flag, a UC_HOOK_BLOCK hook sees it and calls
 * uc_emu_stop from inside the engine (accel_emu.c, emu_block). Thousands
 * of forced stops must not repeat a guest store or a port write, and a
 * guest that never exits (jmp .) must still stop. Why not the cheaper
 * schemes: docs/emu.md. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <unicorn/unicorn.h>

#define RAM_SIZE  (1u << 20)
#define CODE_GPA  0x1000u
#define COUNT_GPA 0x2000u
#define STOPS_MIN 1000
#define N_ITER	  (1ull << 62)

struct run {
	uc_engine *uc;
	uint8_t *ram;
	_Atomic uint32_t stop;
	_Atomic int done;
	uint64_t outs, stops;
};

static void on_out(uc_engine *uc, uint32_t port, int size, uint32_t value,
		   void *user)
{
	struct run *r = user;

	(void)uc;
	(void)port;
	(void)size;
	(void)value;
	r->outs++;
}

static void on_block(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
	struct run *r = user;

	(void)addr;
	(void)size;
	if (atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		atomic_store(&r->stop, 0);
		r->stops++;
		uc_emu_stop(uc);
	}
}

/* Asks for a stop every 20 us until the run is over. */
static void *kicker(void *arg)
{
	struct run *r = arg;
	struct timespec ts = { 0, 20000 };

	while (!atomic_load(&r->done)) {
		nanosleep(&ts, NULL);
		atomic_store(&r->stop, 1);
	}
	return NULL;
}

static void run_open(struct run *r, const uint8_t *code, size_t len, uint64_t n)
{
	uint64_t rbx = COUNT_GPA;
	uc_hook h;

	memset(r, 0, sizeof(*r));
	r->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(r->ram);
	memset(r->ram, 0, RAM_SIZE);
	memcpy(r->ram + CODE_GPA, code, len);
	assert_int_equal(uc_open(UC_ARCH_X86, UC_MODE_64, &r->uc), UC_ERR_OK);
	assert_int_equal(
	    uc_mem_map_ptr(r->uc, 0, RAM_SIZE, UC_PROT_ALL, r->ram), UC_ERR_OK);
	assert_int_equal(uc_hook_add(r->uc, &h, UC_HOOK_INSN, (void *)on_out, r,
				     1, 0, UC_X86_INS_OUT),
			 UC_ERR_OK);
	assert_int_equal(
	    uc_hook_add(r->uc, &h, UC_HOOK_BLOCK, (void *)on_block, r, 1, 0),
	    UC_ERR_OK);
	uc_reg_write(r->uc, UC_X86_REG_RCX, &n);
	uc_reg_write(r->uc, UC_X86_REG_RBX, &rbx);
}

static void run_close(struct run *r)
{
	uc_close(r->uc);
	free(r->ram);
}

static uint64_t counter(const struct run *r)
{
	uint64_t v;

	memcpy(&v, r->ram + COUNT_GPA, sizeof(v));
	return v;
}

/* Where a stop may leave the guest: at the loop head with every earlier
 * iteration whole (stores and port writes counted once), or (two-block
 * loop) at second_block with this iteration's store done. */
static bool stop_is_exact(struct run *r, uint64_t rip, uint64_t second_block,
			  bool has_port)
{
	uint64_t rcx, done;

	uc_reg_read(r->uc, UC_X86_REG_RCX, &rcx);
	done = N_ITER - rcx;
	if (second_block != 0 && rip == second_block)
		done++;
	else if (rip != CODE_GPA)
		return false;
	return counter(r) == done && (!has_port || r->outs == done);
}

/* Runs the guest in slices, as vmworker does (each stop resumes at the
 * RIP the engine reports), checking the state at every stop, until
 * STOPS_MIN stops. The loop never ends by itself (rcx starts at 2^62). */
static void run_sliced(struct run *r, uint64_t second_block, bool has_port)
{
	uint64_t rip = CODE_GPA;
	bool exact = true;
	uc_err err = UC_ERR_OK;
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, kicker, r), 0);
	while (exact && err == UC_ERR_OK && r->stops < STOPS_MIN) {
		err = uc_emu_start(r->uc, rip, ~0ull, 0, 0);
		uc_reg_read(r->uc, UC_X86_REG_RIP, &rip);
		exact = stop_is_exact(r, rip, second_block, has_port);
	}
	atomic_store(&r->done, 1);
	pthread_join(t, NULL);
	assert_int_equal(err, UC_ERR_OK);
	assert_true(exact);
}

/* Runs code (a loop counting rcx down from N_ITER) under forced stops. */
static void run_loop(const uint8_t *code, size_t len, uint64_t second_block,
		     bool has_port)
{
	struct run r;

	run_open(&r, code, len, N_ITER);
	run_sliced(&r, second_block, has_port);
	run_close(&r);
}

/* inc qword [rbx]; out 0x80, al; dec rcx; jnz */
static void test_store_then_port(void **state)
{
	static const uint8_t code[] = { 0x48, 0xff, 0x03, 0xe6, 0x80,
					0x48, 0xff, 0xc9, 0x75, 0xf6 };

	(void)state;
	run_loop(code, sizeof(code), 0, true);
}

/* out 0x80, al; inc qword [rbx]; dec rcx; jnz: a store after the port
 * write in the same block (where a stop from the OUT hook repeats the
 * write, docs/emu.md). */
static void test_port_then_store(void **state)
{
	static const uint8_t code[] = { 0xe6, 0x80, 0x48, 0xff, 0x03,
					0x48, 0xff, 0xc9, 0x75, 0xf6 };

	(void)state;
	run_loop(code, sizeof(code), 0, true);
}

/* inc qword [rbx]; jmp next; next: dec rcx; jnz: no I/O, two blocks
 * (where a stop from another thread repeats the store, docs/emu.md). */
static void test_stores_only(void **state)
{
	static const uint8_t code[] = { 0x48, 0xff, 0x03, 0xeb, 0x00,
					0x48, 0xff, 0xc9, 0x75, 0xf6 };

	(void)state;
	run_loop(code, sizeof(code), CODE_GPA + 5, false);
}

/* jmp . never exits: every asked-for stop still ends the run. */
static void test_spin(void **state)
{
	static const uint8_t code[] = { 0xeb, 0xfe };
	uint64_t rip = CODE_GPA;
	struct run r;
	pthread_t t;
	int i;

	(void)state;
	run_open(&r, code, sizeof(code), 0);
	assert_int_equal(pthread_create(&t, NULL, kicker, &r), 0);
	for (i = 0; i < 200; i++) {
		assert_int_equal(uc_emu_start(r.uc, rip, ~0ull, 0, 0),
				 UC_ERR_OK);
		uc_reg_read(r.uc, UC_X86_REG_RIP, &rip);
		assert_int_equal(rip, CODE_GPA);
	}
	atomic_store(&r.done, 1);
	pthread_join(t, NULL);
	assert_int_equal(r.stops, 200);
	run_close(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_then_port),
		cmocka_unit_test(test_port_then_store),
		cmocka_unit_test(test_stores_only),
		cmocka_unit_test(test_spin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
