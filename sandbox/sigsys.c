/* The SIGSYS reporter: on a seccomp trap, writes "<service>: seccomp:
 * killed by syscall <name> (<nr>)" to stderr with write(2) only, from a
 * name table built before the filter, and exits 159. */
#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "sandbox/sigsys.h"

#define SIGSYS_NAMES   512 /* x86_64 numbers are below 470 */
#define SIGSYS_NAMELEN 24

static char sigsys_service[32];
static char sigsys_names[SIGSYS_NAMES][SIGSYS_NAMELEN];
static int sigsys_ready;

static void build_names(void)
{
	for (int nr = 0; nr < SIGSYS_NAMES; nr++) {
		char *name =
		    seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (name == NULL)
			continue;
		strncpy(sigsys_names[nr], name, SIGSYS_NAMELEN - 1);
		free(name);
	}
}

static size_t put_str(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s != '\0' && at < cap)
		buf[at++] = *s++;
	return at;
}

static size_t put_num(char *buf, size_t at, size_t cap, long v)
{
	char tmp[24];
	size_t n = 0;
	unsigned long u = v < 0 ? 0ul - (unsigned long)v : (unsigned long)v;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0 && n < sizeof(tmp));
	if (v < 0 && at < cap)
		buf[at++] = '-';
	while (n > 0 && at < cap)
		buf[at++] = tmp[--n];
	return at;
}

/* Async-signal-safe: only write(2) and exit_group(2). */
static void sigsys_handler(int sig, siginfo_t *info, void *uctx)
{
	char msg[160];
	size_t n = 0, cap = sizeof(msg) - 1;
	int nr = info->si_syscall;
	const char *name = "?";
	long rc;

	(void)sig;
	(void)uctx;
	if (nr >= 0 && nr < SIGSYS_NAMES && sigsys_names[nr][0] != '\0')
		name = sigsys_names[nr];
	n = put_str(msg, n, cap, sigsys_service);
	n = put_str(msg, n, cap, ": seccomp: killed by syscall ");
	n = put_str(msg, n, cap, name);
	n = put_str(msg, n, cap, " (");
	n = put_num(msg, n, cap, nr);
	n = put_str(msg, n, cap, ")\n");
	/* raw syscalls: a sanitizer's _exit interceptor makes calls that a
	 * tight (sidecar) filter refuses, which would kill us by SIGSYS */
	rc = syscall(SYS_write, STDERR_FILENO, msg, n);
	(void)rc;
	syscall(SYS_exit_group, SANDBOX_EXIT_SECCOMP);
	_exit(SANDBOX_EXIT_SECCOMP);
}

int sigsys_install(const char *service)
{
	struct sigaction sa;
	sigset_t set;

	strncpy(sigsys_service, service, sizeof(sigsys_service) - 1);
	if (!sigsys_ready) {
		build_names();
		sigsys_ready = 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sigsys_handler;
	sa.sa_flags = SA_SIGINFO;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) != 0)
		return -1;
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	return pthread_sigmask(SIG_UNBLOCK, &set, NULL) == 0 ? 0 : -1;
}
