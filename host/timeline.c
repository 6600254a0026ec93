/* The host's part of the boot timeline (see timeline.h). The first guest
 * instruction is estimated from init's stamps: the host asks the
 * partition nothing (a call here would stall the run's loop). */
#include <jansson.h>
#include <stdio.h>

#include "host/timeline.h"
#include "lib/jsonout.h"
#include "lib/registry.h"

/* The guest cannot run before vmworker and policy are both ready
 * (policy calls Start then): the later of the two, a lower bound (the
 * guest's first instruction has no stamp of its own at the host). */
#define TIMELINE_GUEST_SOURCE                                                  \
	"lower bound: vmworker and policy ready, the later"

static uint64_t timeline_guest_start(json_t *root)
{
	json_t *ready = json_object_get(root, "service_ready");
	const char *names[] = { SVC_NAME_VMWORKER, SVC_NAME_POLICY };
	uint64_t t = 0;

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

void timeline_update(const char *run_dir, struct timeline_host *t)
{
	char path[4200];
	json_t *root, *ready;

	if (t->first_console_ns == 0)
		return;
	snprintf(path, sizeof(path), "%s/timeline.json", run_dir);
	root = json_load_file(path, 0, NULL);
	if (root == NULL || json_object_get(root, "first_console_byte")) {
		json_decref(root);
		return;
	}
	/* vmworker creates the VM before it tells init it is ready */
	ready = json_object_get(json_object_get(root, "service_ready"),
				SVC_NAME_VMWORKER);
	if (json_is_integer(ready))
		json_object_set(root, "vm_created", ready);
	timeline_set(root, "first_guest_instruction",
		     timeline_guest_start(root));
	json_object_set_new(root, "first_guest_instruction_source",
			    json_string(TIMELINE_GUEST_SOURCE));
	timeline_set(root, "first_console_byte", t->first_console_ns);
	(void)jsonout_write_file(root, path, ".host.tmp");
	json_decref(root);
}
