/* `parapet list [--json]`: the running partitions, from the status.json
 * that `parapet run` keeps in each run directory (the VM's state as the
 * partition last reported it: booting, running, paused, servicing,
 * stopped, crashed; stopping once the run powers it off) and the boot
 * device tree the shim wrote there (resolved accel and CPU count). */
#include <dirent.h>
#include <jansson.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/run.h"
#include "lib/rundir.h"
#include "lib/util.h"

/* accel and vp-count from DIR/boot.dtb, when the shim has written it. */
static void list_from_dtb(const char *dir, json_t *row)
{
	static char buf[256 * 1024];
	char path[4300];
	FILE *fp;
	size_t n;
	int node, len;
	const char *accel;
	const fdt32_t *vps;

	snprintf(path, sizeof(path), "%s/boot.dtb", dir);
	fp = fopen(path, "re");
	if (fp == NULL)
		return;
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	if (n < sizeof(struct fdt_header) || fdt_check_full(buf, n) != 0)
		return;
	node = fdt_path_offset(buf, "/parapet");
	accel = node >= 0 ? fdt_getprop(buf, node, "accel", &len) : NULL;
	if (accel != NULL && len > 0 && accel[len - 1] == '\0')
		json_object_set_new(row, "accel", json_string(accel));
	vps = node >= 0 ? fdt_getprop(buf, node, "vp-count", &len) : NULL;
	if (vps != NULL && len == 4)
		json_object_set_new(row, "cpus",
				    json_integer(fdt32_to_cpu(*vps)));
}

static json_t *list_one(const char *base, const char *name)
{
	char dir[4200], path[4300];
	json_t *st, *row;
	pid_t pid;
	uint64_t start;

	snprintf(dir, sizeof(dir), "%s/%s", base, name);
	switch (rundir_run_state(dir, &pid)) {
	case RUNDIR_RUN_ALIVE:
		break;
	case RUNDIR_RUN_GONE:
		rundir_reap(base, name); /* its parapet run was killed */
		return NULL;
	case RUNDIR_RUN_UNKNOWN:
		return NULL; /* starting, or not a run directory */
	}
	snprintf(path, sizeof(path), "%s/status.json", dir);
	st = json_load_file(path, 0, NULL);
	if (!json_is_object(st)) {
		json_decref(st);
		return NULL;
	}
	start = (uint64_t)json_integer_value(json_object_get(st, "start_ns"));
	row = json_pack("{s:s, s:i, s:O, s:O, s:O, s:O, s:f}", "name", name,
			"pid", (int)pid, "image", json_object_get(st, "image"),
			"accel", json_object_get(st, "accel"), "cpus",
			json_object_get(st, "cpus"), "state",
			json_object_get(st, "state"), "uptime_s",
			(double)(util_now_ns() - start) / 1e9);
	json_decref(st);
	if (row != NULL)
		list_from_dtb(dir, row);
	return row;
}

static void list_print(json_t *rows)
{
	size_t i;
	json_t *r;

	printf("%-24s %8s %-5s %4s %-9s %9s  %s\n", "NAME", "PID", "ACCEL",
	       "CPUS", "STATE", "UPTIME", "IMAGE");
	json_array_foreach(rows, i, r)
	{
		json_t *cpus = json_object_get(r, "cpus");
		char ncpu[16];

		if (json_is_integer(cpus))
			snprintf(ncpu, sizeof(ncpu), "%lld",
				 (long long)json_integer_value(cpus));
		else
			snprintf(ncpu, sizeof(ncpu), "-");
		printf("%-24s %8lld %-5s %4s %-9s %8.1fs  %s\n",
		       json_string_value(json_object_get(r, "name")),
		       (long long)json_integer_value(json_object_get(r, "pid")),
		       json_string_value(json_object_get(r, "accel")), ncpu,
		       json_string_value(json_object_get(r, "state")),
		       json_real_value(json_object_get(r, "uptime_s")),
		       json_string_value(json_object_get(r, "image")));
	}
}

static const char list_usage[] =
    "usage: parapet list [--json]\n"
    "The running partitions of this user: name, pid, accelerator, CPUs, "
    "state,\nuptime and image (--json: the same as a JSON array).\n";

int list_main(int argc, char **argv)
{
	char base[3000], err[256];
	json_t *rows;
	struct dirent *de;
	DIR *d;
	int json = argc == 2 && !strcmp(argv[1], "--json");

	if (argc == 2 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("%s", list_usage);
		return 0;
	}
	if (argc > 2 || (argc == 2 && !json)) {
		const char *bad = strcmp(argv[1], "--json") ? argv[1] : argv[2];

		fprintf(stderr, "parapet list: %s '%s'\n",
			bad[0] == '-' ? "unknown option" : "unexpected", bad);
		fprintf(stderr, "%s", list_usage);
		return 2;
	}
	if (rundir_base(base, sizeof(base), err, sizeof(err)) != 0) {
		fprintf(stderr, "parapet list: %s\n", err);
		return 1;
	}
	rows = json_array(); /* after the checks: their returns leak nothing */
	if (rows == NULL) {
		fprintf(stderr, "parapet list: out of memory\n");
		return 1;
	}
	d = opendir(base);
	while (d != NULL && (de = readdir(d)) != NULL) {
		json_t *row;

		if (de->d_name[0] == '.')
			continue;
		if ((row = list_one(base, de->d_name)) != NULL)
			json_array_append_new(rows, row);
	}
	if (d != NULL)
		closedir(d);
	if (json) {
		json_dumpf(rows, stdout, JSON_INDENT(2));
		putchar('\n');
	} else
		list_print(rows);
	json_decref(rows);
	return 0;
}
