/* bench/disk: the disk guest's bench mode (guests/disk_modes.c) on a
 * fresh 64 MiB file, timed by the guest's own clock (its bench-raw:
 * lines; Parapet's timestamp port, qemu's RTC-calibrated TSC: both wall
 * time). Parapet runs disk.igvm on emu with parapet-blkd; the baseline is
 * qemu microvm TCG running disk.pvh.elf with its built-in
 * virtio-blk-device on the same file, and for sequential writes also
 * qemu with qemu-storage-daemon over vhost-user. Runs interleaved,
 * medians with the spread of the pairs' ratios; ms for the same bytes,
 * ratio = Parapet / baseline:
 * disk_seq_write_vs_qemu, disk_seq_read_vs_qemu, disk_rand4k_read_vs_qemu,
 * disk_seq_write_vs_qemu_vhost (no qemu: none of these). And
 * blkd_restart_gap_p50/_p99, the guest's stall across a kill -9 of
 * parapet-blkd beside servicing's blackout (bench/disk_gap.c). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/disk_gap.h"
#include "bench/proc.h"
#include "bench/report.h"

#define DISK_MB	    64
#define RAND_IOS    4000
#define REPS	    7
#define QUICK_REPS  2
#define OUT_MAX	    (64 << 10)
#define QSD_WAIT_MS 10000

#define GUEST_CMDLINE "mode=bench mb=64 ios=4000 depth=8"
_Static_assert(DISK_MB == 64 && RAND_IOS == 4000, "GUEST_CMDLINE");

enum { SEQ_WRITE, SEQ_READ, RAND4K, N_PHASES };
static const char *const phase_names[N_PHASES] = { "seq_write", "seq_read",
						   "rand4k_read" };

enum { RUN_PARAPET, RUN_QEMU, RUN_VHOST, N_RUNS };
static const char *const run_names[N_RUNS] = { "parapet emu + blkd",
					       "qemu tcg virtio-blk",
					       "qemu tcg + qsd vhost-user" };

static char dir[64], img[128], sock[128];

/* The phases' times (ms) from the guest's bench-raw: lines. */
static int parse_raw(const char *out, double ms[N_PHASES])
{
	for (int i = 0; i < N_PHASES; i++) {
		char key[64];
		const char *p;
		unsigned long long us;

		snprintf(key, sizeof(key), "bench-raw: %s ", phase_names[i]);
		p = strstr(out, key);
		if (p == NULL || (p = strstr(p, " us=")) == NULL ||
		    sscanf(p, " us=%llu", &us) != 1 || us == 0)
			return -1;
		ms[i] = (double)us / 1000.0;
	}
	return 0;
}

/* A fresh, empty DISK_MB file before every run. */
static int fresh_image(void)
{
	int fd;

	unlink(img);
	fd = open(img, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)DISK_MB << 20) != 0) {
		fprintf(stderr, "bench disk: %s: %s\n", img, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int run_parapet(char *out)
{
	const char *argv[] = { proc_build_path("bin/parapet"),
			       "run",
			       "--accel",
			       "emu",
			       "--disk",
			       img,
			       "--guest-cmdline",
			       GUEST_CMDLINE,
			       proc_build_path("guests/disk.igvm"),
			       NULL };

	return proc_output_status(argv, out, OUT_MAX, 0);
}

/* qemu microvm TCG on machine, with the disk's arguments (NULL-ended). */
static int run_qemu_with(const char *machine, const char *const extra[],
			 char *out)
{
	const char *argv[PROC_QEMU_ARGV_MAX],
	    *more[24] = { "-global", "virtio-mmio.force-legacy=false" };
	size_t n = 2;

	for (int i = 0; extra[i] != NULL && n < 23; i++)
		more[n++] = extra[i];
	more[n] = NULL;
	proc_qemu_argv(argv, machine, "tcg", "guests/disk.pvh.elf",
		       GUEST_CMDLINE, more);
	/* isa-debug-exit: guest 0 is qemu's 1 */
	return proc_output_status(argv, out, OUT_MAX, 1);
}

static int run_qemu(char *out)
{
	char drive[256];
	const char *extra[] = { "-drive", drive, "-device",
				"virtio-blk-device,drive=d0", NULL };

	snprintf(drive, sizeof(drive), "file=%s,format=raw,if=none,id=d0", img);
	return run_qemu_with("microvm,acpi=off", extra, out);
}

static int wait_socket(const char *path)
{
	for (int i = 0; i < QSD_WAIT_MS / 10; i++) {
		if (access(path, F_OK) == 0)
			return 0;
		usleep(10000);
	}
	return -1;
}

/* qemu-storage-daemon exporting img on sock, then qemu on it. */
static int run_vhost(char *out)
{
	char blockdev[256], export[256], chardev[256];
	const char *qsd[] = { "qemu-storage-daemon",
			      "--blockdev",
			      blockdev,
			      "--export",
			      export,
			      NULL };
	const char *extra[] = {
		"-object",  "memory-backend-memfd,id=mem,size=64M,share=on",
		"-chardev", chardev,
		"-device",  "vhost-user-blk,chardev=c0",
		NULL
	};
	pid_t pid;
	int rc = -1, status;

	snprintf(blockdev, sizeof(blockdev),
		 "driver=file,node-name=f,filename=%s", img);
	snprintf(export, sizeof(export),
		 "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,"
		 "addr.path=%s,writable=on",
		 sock);
	snprintf(chardev, sizeof(chardev), "socket,id=c0,path=%s", sock);
	unlink(sock);
	pid = proc_spawn(qsd);
	if (pid < 0)
		return -1;
	if (wait_socket(sock) == 0)
		rc = run_qemu_with("microvm,acpi=off,memory-backend=mem", extra,
				   out);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	return rc;
}

static int (*const runners[N_RUNS])(char *out) = { run_parapet, run_qemu,
						   run_vhost };

/* One run of kind k on a fresh file: its phases' times. */
static int run_once(int k, double ms[N_PHASES])
{
	static char out[OUT_MAX];

	if (fresh_image() != 0)
		return -1;
	if (runners[k](out) != 0 || parse_raw(out, ms) != 0) {
		fprintf(stderr, "bench disk: %s failed; its output:\n%s\n",
			run_names[k], out);
		return -1;
	}
	printf("  %-26s write %8.1f ms  read %8.1f ms  rand4k %8.1f ms\n",
	       run_names[k], ms[SEQ_WRITE], ms[SEQ_READ], ms[RAND4K]);
	fflush(stdout);
	return 0;
}

static int have_qsd(void)
{
	return system("command -v qemu-storage-daemon >/dev/null 2>&1") == 0;
}

/* v[k][phase][rep]: the times (ms) of reps interleaved runs; kinds with
 * want[k] == 0 are not run. */
static int measure(int reps, const int want[N_RUNS],
		   double v[N_RUNS][N_PHASES][REPS])
{
	double ms[N_PHASES];

	for (int r = 0; r < reps; r++)
		for (int k = 0; k < N_RUNS; k++) {
			if (!want[k])
				continue;
			if (run_once(k, ms) != 0)
				return -1;
			for (int p = 0; p < N_PHASES; p++)
				v[k][p][r] = ms[p];
		}
	return 0;
}

/* The qemu comparisons (when have_qemu: medians of the runs, the spread
 * of each pair's ratio) and the n_gap restart rows. */
static int report(int have_qemu, int reps, const int want[N_RUNS],
		  double v[N_RUNS][N_PHASES][REPS], const struct bench_row *gap,
		  size_t n_gap)
{
	struct bench_row rows[6];
	size_t n = 0;
	static const char base[] = "qemu microvm TCG, virtio-blk-device, same "
				   "guest and file (guest clock)";
	static const char vbase[] = "qemu microvm TCG + qemu-storage-daemon "
				    "vhost-user-blk (guest clock)";
	static const char *const metrics[N_PHASES] = {
		"disk_seq_write_vs_qemu", "disk_seq_read_vs_qemu",
		"disk_rand4k_read_vs_qemu"
	};

	size_t nr = (size_t)reps;

	for (size_t i = 0; i < n_gap; i++)
		rows[n++] = gap[i];
	for (int p = 0; have_qemu && p < N_PHASES; p++) {
		rows[n] = (struct bench_row){ metrics[p], "ms", 0, 0, base, 0 };
		if (bench_row_spread(&rows[n++], v[RUN_PARAPET][p],
				     v[RUN_QEMU][p], nr) != 0)
			return -1;
	}
	if (have_qemu && want[RUN_VHOST]) {
		rows[n] = (struct bench_row){
			"disk_seq_write_vs_qemu_vhost", "ms", 0, 0, vbase, 0
		};
		if (bench_row_spread(&rows[n++], v[RUN_PARAPET][SEQ_WRITE],
				     v[RUN_VHOST][SEQ_WRITE], nr) != 0)
			return -1;
	}
	return bench_report("disk", rows, n);
}

int main(void)
{
	int reps = getenv("PARAPET_BENCH_QUICK") ? QUICK_REPS : REPS;
	int want[N_RUNS] = { 1, 1, have_qsd() };
	int have_qemu = proc_have_qemu();
	static double v[N_RUNS][N_PHASES][REPS];
	struct bench_row gap[2];
	int rc = 0;

	if (!have_qemu)
		fprintf(stderr, "disk: qemu-system-x86_64 missing: the "
				"comparisons with qemu skipped\n");
	else if (!want[RUN_VHOST])
		fprintf(stderr, "disk_seq_write_vs_qemu_vhost: skipped (no "
				"qemu-storage-daemon)\n");
	snprintf(dir, sizeof(dir), "/tmp/parapet-bench-disk.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("bench disk: mkdtemp");
		return 1;
	}
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	snprintf(sock, sizeof(sock), "%s/qsd.sock", dir);
	if (fresh_image() != 0 || disk_gap_rows(img, gap) != 0)
		rc = -1;
	if (rc == 0 && have_qemu) {
		printf("%d MiB file, %s, %d runs each, interleaved\n", DISK_MB,
		       GUEST_CMDLINE, reps);
		rc = measure(reps, want, v);
	}
	if (rc == 0)
		rc = report(have_qemu, reps, want, v, gap, 2);
	unlink(img);
	unlink(sock);
	rmdir(dir);
	return rc == 0 ? 0 : 1;
}
