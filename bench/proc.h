/* Running whole processes for benchmarks: wall time of a command, with
 * its stdout discarded or handed to a reader; the PSS of a process tree. */
#ifndef PARAPET_BENCH_PROC_H
#define PARAPET_BENCH_PROC_H

#include <stddef.h>
#include <sys/types.h>

/* Runs argv (stdin /dev/null, stdout and stderr to /dev/null) and returns
 * its wall time in ns, or -1 when it cannot start or exits with a status
 * other than want_status. */
double proc_time(const char *const argv[], int want_status);

/* The same, but the CPU time (user + system, all its threads) it used,
 * from wait4: unlike wall time, not stretched by other work on the
 * machine. */
double proc_cpu(const char *const argv[], int want_status);

/* Runs argv as proc_time() does and returns its wait status (as
 * waitpid's), or -1 when it cannot start; prints nothing. */
int proc_status(const char *const argv[]);

/* Reaps pid (name for messages) and returns its CPU time in ns, or -1
 * when its exit status is not want_status. */
double proc_wait_cpu(pid_t pid, const char *name, int want_status);

/* Runs argv to exit status 0 and keeps up to len - 1 bytes of its stdout,
 * NUL-terminated. Returns 0 or -1. */
int proc_output(const char *const argv[], char *out, size_t len);
/* The same for an expected exit status other than 0 (qemu's). */
int proc_output_status(const char *const argv[], char *out, size_t len,
		       int want_status);
/* Starts argv in the background, stdio on /dev/null; its pid or -1. */
pid_t proc_spawn(const char *const argv[]);

/* Starts argv with stdout on a pipe; *out_fd is the read end. */
pid_t proc_spawn_reader(const char *const argv[], int *out_fd);
/* The same with stderr on err_fd (-1: /dev/null); the caller keeps and
 * closes err_fd. */
pid_t proc_spawn_reader_err(const char *const argv[], int *out_fd, int err_fd);

/* Build directory ($PARAPET_BUILD, default "build") joined with rel. */
const char *proc_build_path(const char *rel);

/* True when qemu-system-x86_64 is on PATH. */
int proc_have_qemu(void);

/* The baseline's command line, the same in every bench: qemu-system-x86_64
 * -M machine -accel accel, 64 MiB, serial on stdout, the isa-debug-exit
 * port the guests end with (qemu then exits (value << 1) | 1), -kernel
 * the guest's PVH ELF (under the build directory), -append cmdline when
 * not NULL, then extra (NULL-ended, may be NULL). Fills argv (up to
 * PROC_QEMU_ARGV_MAX entries, NULL-ended) and returns it. */
#define PROC_QEMU_ARGV_MAX 48
const char **proc_qemu_argv(const char *argv[PROC_QEMU_ARGV_MAX],
			    const char *machine, const char *accel,
			    const char *guest_elf, const char *cmdline,
			    const char *const extra[]);

/* Sum of the "Pss:" lines of /proc/PID/FILE in kB (0 when it is gone);
 * with guest_only, only of the mappings named /memfd:parapet-guest-ram
 * (FILE smaps). */
long proc_pss_kb(pid_t pid, const char *file, int guest_only);

/* root and its descendants (up to 8 levels) into out; their count. */
size_t proc_tree(pid_t root, pid_t *out, size_t max);

/* Reads fd until lines newlines have come (none for 10 s: -1). */
int proc_read_lines(int fd, int lines);

/* SIGTERM to pid, drains and closes fd, reaps pid. */
void proc_stop(pid_t pid, int fd);

#endif
