/* echo: reads console lines, writes each back upper-cased; "quit" ends
 * it with exit 0. Empty lines are skipped (so CR LF counts as one end). */
#include "guest.h"

#define LINE_MAX 256

static char upper(char c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/* Reads one non-empty line; returns its length, or -1 without a UART. */
static int read_line(char *buf, size_t size)
{
	size_t len = 0;
	int c;

	for (;;) {
		c = con_getc();
		if (c < 0)
			return -1;
		if (c == '\r' || c == '\n') {
			if (len == 0)
				continue;
			buf[len] = '\0';
			return (int)len;
		}
		if (len < size - 1)
			buf[len++] = (char)c;
	}
}

int guest_main(void)
{
	char line[LINE_MAX];
	int i, len;

	if (!con_has_uart()) {
		gprintf("echo: no UART\n");
		return 2;
	}
	gprintf("echo: ready\n");
	while ((len = read_line(line, sizeof(line))) >= 0) {
		if (strcmp(line, "quit") == 0) {
			gprintf("echo: bye\n");
			return 0;
		}
		for (i = 0; i < len; i++)
			line[i] = upper(line[i]);
		gprintf("%s\n", line);
	}
	gprintf("echo: console gone\n");
	return 2;
}
