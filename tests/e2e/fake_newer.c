/* A stand-in for a vmworker newer than this build (tests/e2e/upgrade.sh):
 * its --version says it reads saved-state version 3 only, which nothing
 * here writes; run otherwise, it fails at once. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("parapet-vmworker 99.0.0\nsaved-state read 3 3\n"
		       "saved-state write 3 3\n");
		return 0;
	}
	fprintf(stderr, "parapet-fake-newer: a test stand-in, not a "
			"service\n");
	return 1;
}
