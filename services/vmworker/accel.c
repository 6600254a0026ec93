/* Chooses the accelerator: kvm, emu, or auto (kvm when /dev/kvm opens and
 * a VM can be created, else emu). */
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "services/vmworker/accel.h"

const struct accel_ops *accel_select(const char *name, char *why,
				     size_t why_len)
{
	char kvm_why[256];

	if (name == NULL || strcmp(name, "auto") == 0) {
		if (accel_kvm_probe(kvm_why, sizeof(kvm_why)) == 0) {
			log_info("accel: kvm (auto)");
			return &accel_kvm_ops;
		}
		if (accel_emu_probe(why, why_len) != 0)
			return NULL;
		log_info("accel: emu (auto; kvm unusable: %s)", kvm_why);
		return &accel_emu_ops;
	}
	if (strcmp(name, "kvm") == 0) {
		if (accel_kvm_probe(why, why_len) != 0)
			return NULL;
		log_info("accel: kvm");
		return &accel_kvm_ops;
	}
	if (strcmp(name, "emu") == 0) {
		if (accel_emu_probe(why, why_len) != 0)
			return NULL;
		log_info("accel: emu");
		return &accel_emu_ops;
	}
	snprintf(why, why_len, "unknown accelerator '%s' (kvm, emu or auto)",
		 name);
	return NULL;
}

const struct accel_ops *accel_lookup(const char *name, char *why,
				     size_t why_len)
{
	if (strcmp(name, "kvm") == 0)
		return &accel_kvm_ops;
	if (strcmp(name, "emu") == 0)
		return accel_emu_probe(why, why_len) == 0 ? &accel_emu_ops
							  : NULL;
	snprintf(why, why_len, "unknown accelerator '%s'", name);
	return NULL;
}
