/* Unit tests of lib/rundir.c's removal: a whole tree goes, and a thread
 * that keeps creating a file by a path under the directory while it is
 * removed (as a listener's watchdog listening anew at the end of a run)
 * cannot keep the directory, nor its name, from going. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/rundir.h"

#define CREATES_AFTER 200 /* the creator's tries once the removal returned */

static char base[] = "/tmp/rundir_test.XXXXXX";

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	close(fd);
}

static bool gone(const char *path)
{
	struct stat st;

	return lstat(path, &st) != 0 && errno == ENOENT;
}

/* Entries of base other than . and ..: what a removal left behind. */
static int base_entries(void)
{
	DIR *d = opendir(base);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n +=
		    strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void test_remove_tree(void **state)
{
	char dir[128], path[192];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/vm1", base);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/logs", dir);
	assert_int_equal(mkdir(path, 0750), 0);
	snprintf(path, sizeof(path), "%s/logs/init.log", dir);
	touch(path);
	snprintf(path, sizeof(path), "%s/pid", dir);
	touch(path);
	rundir_remove(dir);
	assert_true(gone(dir));
	assert_int_equal(base_entries(), 0);
}

struct creator {
	char dir[128];
	_Atomic bool stop;
	_Atomic unsigned made, tries;
};

/* What ipc_listen_path does: a file of its own name, renamed to the
 * socket's path; again and again until told to stop. */
static void *creator_run(void *arg)
{
	struct creator *c = arg;
	char tmp[192], path[192];

	snprintf(tmp, sizeof(tmp), "%s/ctl.sock.l1", c->dir);
	snprintf(path, sizeof(path), "%s/ctl.sock", c->dir);
	while (!atomic_load(&c->stop)) {
		int fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

		if (fd >= 0) {
			close(fd);
			if (rename(tmp, path) == 0)
				atomic_fetch_add(&c->made, 1);
		}
		atomic_fetch_add(&c->tries, 1);
	}
	return NULL;
}

static void test_remove_while_created(void **state)
{
	static struct creator c;
	pthread_t t;

	(void)state;
	for (int round = 0; round < 50; round++) {
		char path[192];
		unsigned tries;

		snprintf(c.dir, sizeof(c.dir), "%s/vm2", base);
		atomic_store(&c.stop, false);
		atomic_store(&c.made, 0);
		assert_int_equal(mkdir(c.dir, 0755), 0);
		snprintf(path, sizeof(path), "%s/pid", c.dir);
		touch(path);
		assert_int_equal(pthread_create(&t, NULL, creator_run, &c), 0);
		while (atomic_load(&c.made) < 10)
			sched_yield();
		rundir_remove(c.dir);
		/* the name is free, and the creator's tries from now on fail */
		assert_true(gone(c.dir));
		tries = atomic_load(&c.tries);
		while (atomic_load(&c.tries) < tries + CREATES_AFTER)
			sched_yield();
		atomic_store(&c.stop, true);
		pthread_join(t, NULL);
		assert_true(gone(c.dir));
		assert_int_equal(base_entries(), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_remove_tree),
		cmocka_unit_test(test_remove_while_created),
	};
	int rc;

	if (mkdtemp(base) == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(base);
	return rc;
}
