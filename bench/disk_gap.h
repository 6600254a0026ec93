/* bench/disk's blkd_restart_gap rows (bench/disk_gap.c). */
#ifndef PARAPET_BENCH_DISK_GAP_H
#define PARAPET_BENCH_DISK_GAP_H

#include "bench/report.h"

/* Runs the disk guest's torture on img (an empty file) while parapet-blkd
 * is killed, then vmworker serviced, and fills rows[0] (p50) and rows[1]
 * (p99). 0, or -1 with a message on stderr. */
int disk_gap_rows(const char *img, struct bench_row *rows);

#endif
