/* parapet-diag, the host CLI of diagnostics (DESIGN.md §9): talks to
 * parapet-diagd through RUN_DIR/diag.sock. The command modules share the
 * connection and the output helpers declared here. */
#ifndef PARAPET_DIAG_H
#define PARAPET_DIAG_H

#include <stdbool.h>

#include <jansson.h>

#include "diag.pb-c.h"
#include "lib/ipc.h"
#include "lib/pbjson.h"

struct diag {
	char run_dir[4200];
	char sock[4300];
	bool json;
	struct ipc_client *c;
	const char *vm; /* --vm NAME, or NULL for the only running one */
	int timeout_ms; /* per call, for the connection diag_open makes */
	char what[160]; /* names the call in its errors ("": the method) */
	bool follow;	/* -f: a call failing as the partition ends is quiet */
};

/* Calls a Diag method, printing the error on failure; 0 or ipc_err. */
int diag_call(struct diag *d, const char *method, const ProtobufCMessage *q,
	      ProtobufCMessage **reply);
/* A (re)connected client with the given per-call timeout. */
int diag_connect(struct diag *d, int timeout_ms);
/* Finds the VM and connects, once (diag_call does it on first use, so
 * that a command checks its arguments first). 0, or -1 with the error
 * printed. */
int diag_open(struct diag *d);
/* True when the partition diag_open found has ended: its run directory
 * removed, its `parapet run` or its init gone. */
bool diag_vm_ended(struct diag *d);
/* -f's end: says that the partition ended; the exit status (0). */
#define DIAG_FOLLOW_TIMEOUT_MS 5000 /* -f: a partition ending is seen soon */
int diag_follow_ended(struct diag *d, const char *cmd);
/* Prints "parapet-diag: CMD: " and the option getopt (optstring starting
 * with ':') stopped at: c is ':' (missing value) or '?'. Returns 2. */
int diag_bad_option(const char *cmd, int c, char **argv);
/* Prints "parapet-diag: CMD: unexpected 'ARG'" and returns 2. */
int diag_unexpected(const char *cmd, const char *arg);
/* Prints j (--json) and drops the reference; returns 0 or 1. */
int diag_print_json(json_t *j);

/* diag_trace.c */
int diag_trace(struct diag *d, int argc, char **argv);
/* The decoding registry: every service's descriptors. */
const struct pbjson_registry *diag_registry(void);

/* diag_view.c */
int diag_inspect(struct diag *d, int argc, char **argv);
int diag_stats(struct diag *d, int argc, char **argv);
int diag_timeline(struct diag *d, int argc, char **argv);
int diag_disks(struct diag *d, int argc, char **argv);
/* The views of the JSON diagd sent (any JSON: diagd is inside the
 * partition), printed to stdout; json: as JSON instead. 0 or 1.
 * inspect: the tree at path (NULL: all) to depth levels (0: all). */
int diag_view_inspect(json_t *root, const char *path, int depth, bool json);
/* stats: the tree's integers as OpenMetrics. */
int diag_view_stats(json_t *root, bool json);
/* timeline: the boot stamps in order, and as an SVG file when svg is
 * not NULL. Drops the reference to t. */
int diag_view_timeline(json_t *t, const char *svg, bool json);
/* disks: vmworker's transports joined with blkd's counters. */
int diag_view_disks(json_t *root, bool json);

#endif
