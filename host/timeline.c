/* The host's part of the boot timeline (see timeline.h). The first guest
 * instruction is estimated from vmworker's Status (uptime_ns counts from
 * the VM's start), reached through the partition's root: /proc/INIT/root. */
#include <jansson.h>
#include <stdio.h>

#include "host/timeline.h"
#include "lib/ipc.h"
#include "lib/registry.h"
#include "lib/util.h"
#include "vmworker.pb-c.h"

static uint64_t timeline_vm_start(pid_t init_pid)
{
	char path[128];
	struct ipc_client_config cfg = {
		.name = "host",
		.path = path,
		.destination = SVC_NAME_VMWORKER,
		.service = &parapet__vm_worker__descriptor,
		.timeout_ms = 500,
	};
	Parapet__VmStatusRequest q = PARAPET__VM_STATUS_REQUEST__INIT;
	Parapet__VmStatus *st = NULL;
	struct ipc_client *c;
	uint64_t t = 0;

	snprintf(path, sizeof(path),
		 "/proc/%d/root/run/parapet/ipc/"
		 "vmworker.sock",
		 (int)init_pid);
	c = ipc_client_open(&cfg);
	if (c == NULL)
		return 0;
	if (ipc_call(c, "Status", &q.base, (ProtobufCMessage **)&st) == 0) {
		if (st->has_uptime_ns && st->uptime_ns)
			t = util_now_ns() - st->uptime_ns;
		ipc_free(&st->base);
	}
	ipc_client_close(c);
	return t;
}

/* VmStatus.uptime_ns counts from the VM's start (VP 0 set running), when
 * vmworker answers the host; the guest cannot have run before vmworker
 * and policy were both ready either (policy calls Start then): the later
 * of the two, an estimate (the guest's first instruction has no stamp of
 * its own). */
#define TIMELINE_GUEST_SOURCE                                                  \
	"lower bound: the VM's start, or vmworker and policy ready when "      \
	"later"

static uint64_t timeline_guest_start(json_t *root, uint64_t from_status)
{
	json_t *ready = json_object_get(root, "service_ready");
	const char *names[] = { SVC_NAME_VMWORKER, SVC_NAME_POLICY };
	uint64_t t = from_status;

	for (size_t i = 0; i < 2; i++) {
		json_t *v = json_object_get(ready, names[i]);

		if (json_is_integer(v) && (uint64_t)json_integer_value(v) > t)
			t = (uint64_t)json_integer_value(v);
	}
	return t;
}

static void timeline_set(json_t *root, const char *key, uint64_t ns)
{
	if (ns)
		json_object_set_new(root, key, json_integer((json_int_t)ns));
}

void timeline_update(const char *run_dir, pid_t init_pid,
		     struct timeline_host *t)
{
	char path[4200], tmp[4300];
	json_t *root, *ready;

	if (t->first_console_ns == 0)
		return;
	snprintf(path, sizeof(path), "%s/timeline.json", run_dir);
	root = json_load_file(path, 0, NULL);
	if (root == NULL || json_object_get(root, "first_console_byte")) {
		json_decref(root);
		return;
	}
	if (!t->vm_asked) {
		t->vm_asked = 1;
		t->first_guest_ns = timeline_vm_start(init_pid);
	}
	/* vmworker creates the VM before it tells init it is ready */
	ready = json_object_get(json_object_get(root, "service_ready"),
				SVC_NAME_VMWORKER);
	if (json_is_integer(ready))
		json_object_set(root, "vm_created", ready);
	timeline_set(root, "first_guest_instruction",
		     timeline_guest_start(root, t->first_guest_ns));
	json_object_set_new(root, "first_guest_instruction_source",
			    json_string(TIMELINE_GUEST_SOURCE));
	timeline_set(root, "first_console_byte", t->first_console_ns);
	snprintf(tmp, sizeof(tmp), "%s.host.tmp", path);
	if (json_dump_file(root, tmp, JSON_INDENT(2)) == 0)
		rename(tmp, path);
	json_decref(root);
}
