/* The pbjson registry of every Parapet interface, for `parapet-diag
 * trace` and the tshark dissector that `make` installs (mklua.c). */
#include "envelope.pb-c.h"
#include "lib/pbjson.h"
#include "lib/registry.h"
#include "services/diag/diag.h"

/* Every interface of the registry (lib/registry.h) and the methods every
 * endpoint serves. */
static const ProtobufCServiceDescriptor *diag_services[REGISTRY_MAX + 1];
static struct pbjson_registry diag_reg = { .services = diag_services };

const struct pbjson_registry *diag_registry(void)
{
	if (diag_reg.n_services == 0) {
		size_t n = 0;

		diag_services[n++] = &parapet__endpoint__descriptor;
		for (size_t i = 0; i < registry_count; i++)
			if (registry[i].desc != NULL)
				diag_services[n++] = registry[i].desc;
		diag_reg.n_services = n;
	}
	return &diag_reg;
}
