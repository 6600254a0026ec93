/* --version for every program, and its parse (lib/version.h). */
#include "lib/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void version_print(const char *prog)
{
	printf("%s %s\nsaved-state read %u %u\nsaved-state write %u %u\n", prog,
	       PARAPET_VERSION, SAVESTATE_READ_MIN, SAVESTATE_READ_MAX,
	       SAVESTATE_WRITE_MIN, SAVESTATE_WRITE_MAX);
	fflush(stdout);
}

bool version_asked(const char *prog, int argc, char *const *argv)
{
	if (argc != 2 || strcmp(argv[1], "--version") != 0)
		return false;
	version_print(prog);
	return true;
}

int version_parse_read(const char *text, size_t len, struct version_range *r)
{
	static const char key[] = "saved-state read ";
	char line[128];
	size_t i = 0;

	while (i < len) {
		size_t e = i, n;
		unsigned a, b;
		char extra;

		while (e < len && text[e] != '\n')
			e++;
		n = e - i;
		if (n < sizeof(line) && n >= sizeof(key) - 1 &&
		    memcmp(text + i, key, sizeof(key) - 1) == 0) {
			memcpy(line, text + i, n);
			line[n] = '\0';
			if (sscanf(line + sizeof(key) - 1, "%u %u %c", &a, &b,
				   &extra) != 2 ||
			    a == 0 || a > b)
				return -1;
			r->min = a;
			r->max = b;
			return 0;
		}
		i = e + 1;
	}
	return -1;
}
