/* parapet-metrics: `parapet metrics --listen ADDR:PORT` serves /metrics
 * over HTTP for Prometheus (libmicrohttpd, one internal thread), the
 * exposition of every VM whose run directory this user sees
 * (metrics_collect.h). A binary of its own, exec'd by `parapet metrics`:
 * no other Parapet process links libmicrohttpd. Stops on SIGTERM or
 * SIGINT. */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "host/metrics_collect.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/rundir.h"
#include "lib/util.h"
#include "lib/version.h"

#define HTTP_CONN_MAX	 32
#define HTTP_CONN_IDLE_S 30
#define LISTEN_SPEC_MAX	 300

static const char metrics_usage[] =
    "usage: parapet metrics --listen ADDR:PORT\n"
    "Serves http://ADDR:PORT/metrics for Prometheus: every VM of this "
    "user (the\nrun directories it sees), each series labelled "
    "vm=\"NAME\". Prometheus text\nformat 0.0.4, or OpenMetrics when the "
    "scraper's Accept header asks for\napplication/openmetrics-text. "
    "ADDR: an IPv4 or [IPv6] address (numeric);\nanyone who reaches "
    "the port reads the metrics (no TLS, no authentication):\nprefer "
    "127.0.0.1. The metrics: docs/operators.md.\n"
    "Stops on SIGTERM or SIGINT.\n"
    "exit: 0 stopped by a signal, 1 cannot serve (address in use, no run "
    "directory\n      base), 2 bad usage\n";

struct metrics_srv {
	struct mcollect *m;
	pthread_mutex_t lock; /* one scrape at a time */
};

/* ---------------------------------------------------------- usage */

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("parapet metrics: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", metrics_usage);
	return 2;
}

/* --listen ADDR:PORT or --listen=ADDR:PORT; -1 for --help. */
static int parse_args(int argc, char **argv, const char **listen)
{
	*listen = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(metrics_usage, stdout);
			return -1;
		}
		if (!strncmp(argv[i], "--listen=", 9))
			*listen = argv[i] + 9;
		else if (!strcmp(argv[i], "--listen") && i + 1 < argc)
			*listen = argv[++i];
		else if (!strcmp(argv[i], "--listen"))
			return usage_error("%s needs ADDR:PORT", argv[i]);
		else
			return usage_error("%s '%s'",
					   argv[i][0] == '-' ? "unknown option"
							     : "unexpected",
					   argv[i]);
	}
	if (*listen == NULL)
		return usage_error("%s", "--listen ADDR:PORT is required");
	return 0;
}

/* "host:port" or "[v6]:port" into its parts. */
static int split_listen(const char *spec, char *host, size_t len,
			const char **port)
{
	const char *colon;

	if (strlen(spec) >= len)
		return -1;
	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (end == NULL || end[1] != ':')
			return -1;
		snprintf(host, len, "%.*s", (int)(end - spec - 1), spec + 1);
		*port = end + 2;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL || strchr(spec, ':') != colon)
			return -1; /* bare IPv6 wants [brackets] */
		snprintf(host, len, "%.*s", (int)(colon - spec), spec);
		*port = colon + 1;
	}
	return host[0] != '\0' ? 0 : -1;
}

/* --------------------------------------------------------- listen */

static int bind_first(const struct addrinfo *ai, const char *spec)
{
	int fd = -1, err = 0, one = 1;

	for (; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 64) == 0)
			return fd;
		err = errno;
		close(fd);
	}
	fprintf(stderr, "parapet metrics: cannot listen on %s: %s\n", spec,
		strerror(err));
	return -1;
}

/* The listening socket of spec, or -1 having said why. */
static int listen_on(const char *spec)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST |
					      AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char host[LISTEN_SPEC_MAX];
	const char *port;
	uint64_t v;
	int rc, fd;

	if (split_listen(spec, host, sizeof(host), &port) != 0) {
		fprintf(stderr,
			"parapet metrics: --listen '%s': want ADDR:PORT "
			"(e.g. 127.0.0.1:9477 or [::1]:9477)\n",
			spec);
		return -2;
	}
	if (parse_uint(port, 1, 65535, &v) != 0) {
		fprintf(stderr,
			"parapet metrics: --listen '%s': port '%s': want "
			"1-65535\n",
			spec, port);
		return -2;
	}
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0) {
		fprintf(stderr,
			"parapet metrics: --listen '%s': address '%s': %s\n",
			spec, host, gai_strerror(rc));
		return -2;
	}
	fd = bind_first(ai, spec);
	freeaddrinfo(ai);
	return fd;
}

/* ----------------------------------------------------------- http */

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status,
				  const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    strlen(text), (void *)(uintptr_t)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_metrics(struct metrics_srv *s,
				     struct MHD_Connection *conn)
{
	const char *accept = MHD_lookup_connection_value(
	    conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	enum metrics_format fmt = mcollect_negotiate(accept);
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc = METRICS_ERR_IO;

	if (f != NULL) {
		pthread_mutex_lock(&s->lock);
		rc = mcollect_scrape(s->m, f, fmt);
		pthread_mutex_unlock(&s->lock);
		if (fclose(f) != 0)
			rc = METRICS_ERR_IO;
	}
	if (rc != 0) {
		free(buf);
		log_warnx("exposition failed: %s", metrics_strerror(rc));
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "the exposition failed\n");
	}
	r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				metrics_content_type(fmt));
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_len, void **req_ctx)
{
	(void)version;
	(void)upload;
	(void)req_ctx;
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				  "only GET and HEAD\n");
	if (*upload_len != 0)
		return reply_text(conn, MHD_HTTP_BAD_REQUEST,
				  "no request body wanted\n");
	if (!strcmp(url, "/metrics"))
		return reply_metrics(cls, conn);
	if (!strcmp(url, "/"))
		return reply_text(conn, MHD_HTTP_OK,
				  "parapet metrics: the metrics are at "
				  "/metrics\n");
	return reply_text(conn, MHD_HTTP_NOT_FOUND,
			  "not found: try /metrics\n");
}

static struct MHD_Daemon *serve(int fd, struct metrics_srv *s)
{
	return MHD_start_daemon(
	    MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_MAX,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONN_IDLE_S,
	    MHD_OPTION_END);
}

int main(int argc, char **argv)
{
	static struct metrics_srv s = { .lock = PTHREAD_MUTEX_INITIALIZER };
	char base[3000], err[256];
	const char *spec;
	struct MHD_Daemon *d;
	sigset_t set;
	int rc, fd, sig;

	if (version_asked("parapet-metrics", argc, argv))
		return 0;
	log_init("parapet-metrics");
	if ((rc = parse_args(argc, argv, &spec)) != 0)
		return rc < 0 ? 0 : rc;
	if (rundir_base(base, sizeof(base), err, sizeof(err)) != 0) {
		fprintf(stderr, "parapet metrics: %s\n", err);
		return 1;
	}
	/* blocked before MHD's thread starts: this thread alone takes them */
	util_stop_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((fd = listen_on(spec)) < 0)
		return fd == -2 ? 2 : 1;
	s.m = mcollect_open(base);
	d = s.m != NULL ? serve(fd, &s) : NULL;
	if (d == NULL) {
		fprintf(stderr,
			"parapet metrics: cannot start the HTTP server\n");
		close(fd);
		mcollect_close(s.m);
		return 1;
	}
	log_info("serving http://%s/metrics for the VMs under %s", spec, base);
	sig = util_wait_stop_signal();
	log_info("%s: stopping", strsignal(sig));
	MHD_stop_daemon(d); /* closes the listening socket too */
	mcollect_close(s.m);
	return 0;
}
