/*
 * hello.c -- the ceiling for `make bench`: a bare libmicrohttpd server with
 * the gateway's daemon settings (gateway/http.c: epoll internal polling
 * thread, a pool of 2 threads, suspend/resume allowed, dual stack, the same
 * connection limit, per-connection memory, timeout and backlog) that
 * answers every request with a small constant body. As in the gateway, the
 * response is queued on the second handler call (the first call only marks
 * the connection), so both do the same MHD work per request.
 *
 * usage: hello PORT
 */
#include <microhttpd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct MHD_Response  *resp;
static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void) sig;
	stop = 1;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **con_cls)
{
	static int marker;

	(void) cls;
	(void) url;
	(void) method;
	(void) version;
	(void) upload;
	if (*con_cls == NULL) {
		*con_cls = &marker;
		return MHD_YES;
	}
	if (*upload_len != 0) {
		*upload_len = 0;
		return MHD_YES;
	}
	return MHD_queue_response(c, MHD_HTTP_OK, resp);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void) cls;
	(void) c;
	(void) toe;
	*con_cls = NULL;
}

int
main(int argc, char **argv)
{
	static const char  body[] = "{\"status\":\"ok\"}";
	struct MHD_Daemon *d;
	int                port;

	if (argc < 2) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
	port = atoi(argv[1]);
	resp = MHD_create_response_from_buffer(
	    strlen(body), (void *) (uintptr_t) body, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(
	    resp, "Content-Type", "application/json; charset=utf-8");
	d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD |
	        MHD_ALLOW_SUSPEND_RESUME | MHD_USE_DUAL_STACK,
	    (uint16_t) port, NULL, NULL, handler, NULL,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int) 2,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 4096,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) (32 * 1024),
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 60,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int) 1024,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "hello: cannot listen on port %d\n", port);
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	while (!stop)
		pause();
	MHD_stop_daemon(d);
	MHD_destroy_response(resp);
	return 0;
}
