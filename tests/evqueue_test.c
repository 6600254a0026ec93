/* lib/evqueue: order, bound, kicks without items, the eventfd's count. */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/evqueue.h"

struct item {
	struct evqueue_item it;
	int id;
};

static int order[8];
static int n_run;

static void run_item(struct evqueue_item *it, void *ctx)
{
	(void)ctx;
	order[n_run++] = ((struct item *)it)->id;
}

static bool readable(struct evqueue *q)
{
	struct pollfd p = { .fd = evqueue_fd(q), .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* Items run in push order; the fd is readable exactly while work waits. */
static void test_order(void **state)
{
	struct evqueue q;
	struct item a = { { NULL, run_item }, 1 },
		    b = { { NULL, run_item }, 2 };

	(void)state;
	n_run = 0;
	assert_int_equal(evqueue_init(&q, 0), 0);
	assert_false(readable(&q));
	assert_int_equal(evqueue_push(&q, &a.it), 0);
	assert_int_equal(evqueue_push(&q, &b.it), 0);
	assert_true(readable(&q));
	assert_int_equal(evqueue_run(&q, NULL), 2);
	assert_int_equal(n_run, 2);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 2);
	assert_false(readable(&q));
	evqueue_destroy(&q);
}

/* A full queue refuses; a kick wakes without an item. */
static void test_bound_and_kick(void **state)
{
	struct evqueue q;
	struct item a = { { NULL, run_item }, 1 },
		    b = { { NULL, run_item }, 2 };
	int woken;

	(void)state;
	n_run = 0;
	assert_int_equal(evqueue_init(&q, 1), 0);
	assert_int_equal(evqueue_push(&q, &a.it), 0);
	assert_int_equal(evqueue_push(&q, &b.it), -1);
	assert_ptr_equal(evqueue_take(&q, &woken), &a.it);
	assert_int_equal(woken, 1);
	assert_null(evqueue_take(&q, &woken));
	assert_int_equal(woken, 0);
	evqueue_kick(&q);
	assert_true(readable(&q));
	assert_null(evqueue_take(&q, &woken));
	assert_int_equal(woken, 1);
	assert_int_equal(evqueue_push(&q, &b.it), 0);
	evqueue_kick(&q);
	assert_int_equal(evqueue_run(&q, NULL), 2);
	assert_int_equal(n_run, 1);
	assert_int_equal(order[0], 2);
	evqueue_destroy(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_bound_and_kick),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
