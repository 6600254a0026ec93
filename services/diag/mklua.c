/* Build tool: writes the tshark dissector of Parapet's envelopes
 * (lib/pcapng_lua.c over diag_registry) to the file named by its one
 * argument; `make` puts it in $(B)/share/parapet/parapet.lua, which
 * `make install` copies to PREFIX/share/parapet. */
#include <stdio.h>

#include "lib/pcapng.h"
#include "services/diag/diag.h"

int main(int argc, char **argv)
{
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: mklua OUT.lua\n");
		return 2;
	}
	f = fopen(argv[1], "w");
	if (f == NULL || pcapng_write_lua(f, diag_registry()) != 0 ||
	    fclose(f) != 0) {
		perror(argv[1]);
		return 1;
	}
	return 0;
}
