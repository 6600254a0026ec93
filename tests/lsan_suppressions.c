/* LeakSanitizer suppressions, compiled into every binary of a sanitizer
 * build (make SAN=...; the Makefile links this object only there).
 *
 * Built in rather than a file named by LSAN_OPTIONS: LSan reads a
 * suppressions file only when its check runs at exit, and by then a
 * service is jailed (its root pivoted, stat and open filtered), so the
 * file could not be read and the check failed.
 *
 * nng 1.5.2 never frees a listener that stopped taking pipes (a
 * connection dropped mid-handshake, upstream issue 1518), nor the pipes
 * it was negotiating, even when its socket is closed; lib/ipc_watch.c
 * listens anew beside such a listener, and ipc_test and trust.sh freeze
 * listeners on purpose. The objects are nng's own (every frame of their
 * allocation is in libnng). */
const char *__lsan_default_suppressions(void);

const char *__lsan_default_suppressions(void)
{
	return "leak:libnng.so.1\n";
}
