/*
 * busbasectl.c -- the operator CLI: talks to the services over the bus,
 * without the gateway. Same environment as the services (DATA_DIR,
 * BB_*_URL), so it finds the same sockets.
 *
 *   busbasectl call <service> <op> [json-body] [--query json]
 *              [--params json] [--caller json] [--timeout ms]
 *       One request; prints {"status":N,"body":...,"headers":{...}} on one
 *       line. Exit 0 when a reply came (whatever its status), 3 when the
 *       service is unavailable or timed out, 2 on a usage error.
 *   busbasectl events [--heartbeats] [topic...]
 *       Subscribes to every service's events (or the named topics, e.g.
 *       settings.changed) and prints each as one JSON line
 *       {"topic","seq","ts","src","payload"} until interrupted.
 *   busbasectl health
 *       svc.health on all five services; a table; exit 1 if any is down.
 *
 * The events command uses nng directly (a sub0 socket dialled to every
 * publisher) because it prints the envelope fields (ts, src) that the
 * lc_sub callback does not carry, and heartbeats on request.
 */
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lc_bus.h"
#include "lc_cfg.h"
#include "lc_err.h"
#include "lc_ids.h"
#include "lc_log.h"
#include "lc_msg.h"

#define EXIT_USAGE 2
#define EXIT_UNAVAILABLE 3
#define PEER_WAIT_MS 2000 // time to let a fresh client connect
#define HEALTH_TIMEOUT_MS 1000

static void
usage(void)
{
	fprintf(stderr,
	    "usage: busbasectl call <service> <op> [json-body] [--query json]"
	    " [--params json]\n"
	    "                  [--caller json] [--timeout ms]\n"
	    "       busbasectl events [--heartbeats] [topic...]\n"
	    "       busbasectl health\n"
	    "services: auth data storage hooks admin\n");
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

// Prints a JSON value as one line on stdout.
static void
print_line(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

	if (s != NULL) {
		fputs(s, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		free(s);
	}
}

static json_t *
parse_json(const char *what, const char *text, int want_object)
{
	json_error_t err;
	json_t      *j = json_loads(text, JSON_DECODE_ANY, &err);

	if (j == NULL) {
		fprintf(stderr, "busbasectl: %s is not JSON: %s\n", what,
		    err.text);
		return (NULL);
	}
	if (want_object && !json_is_object(j)) {
		fprintf(
		    stderr, "busbasectl: %s must be a JSON object\n", what);
		json_decref(j);
		return (NULL);
	}
	return (j);
}

// A bus service by name (the gateway has no bus address).
static int
service_find(const char *name)
{
	int svc = lc_svc_find(name, strlen(name));

	if (svc <= LC_SVC_GATEWAY || svc >= LC_SVC_COUNT) {
		fprintf(stderr, "busbasectl: unknown service '%s'\n", name);
		return (-1);
	}
	return (svc);
}

// Opens a client and gives it up to wait_ms to connect (a fresh client
// has no peer yet, and a call without one fails at once).
static int
client_connect(
    const struct lc_cfg *cfg, int svc, int wait_ms, struct lc_client **out)
{
	struct lc_client *c;
	int64_t           until = lc_mono_ms() + wait_ms;
	int               rv;

	if ((rv = lc_client_open(cfg->url[svc], lc_svc_name(svc), 16, &c)) !=
	    0) {
		return (rv);
	}
	while (lc_client_peers(c) == 0 && lc_mono_ms() < until) {
		sleep_ms(5);
	}
	*out = c;
	return (0);
}

/* ---- call ---- */

// Indexed by enum lc_caller_kind.
static const char *const caller_kinds[] = { "anon", "user", "apikey", "admin",
	"service" };

static int
cmd_call(const struct lc_cfg *cfg, int argc, char **argv)
{
	struct lc_client *c = NULL;
	struct lc_req     rq;
	struct lc_rep     rp;
	json_t           *out;
	int64_t           timeout = LC_BUS_TIMEOUT_MS;
	int               svc;
	int               rv = EXIT_USAGE;
	int               i;
	const json_t     *kind;

	lc_req_init(&rq);
	lc_rep_init(&rp);
	if (argc < 2 || (svc = service_find(argv[0])) < 0) {
		usage();
		goto out;
	}
	rq.v  = LC_ENV_VERSION;
	rq.op = lc_msg_find(argv[1], strlen(argv[1]));
	// Unknown ops go out by name (to see the service's 404).
	if (snprintf(rq.op_name, sizeof(rq.op_name), "%s", argv[1]) >=
	    (int) sizeof(rq.op_name)) {
		fprintf(stderr, "busbasectl: op name too long\n");
		goto out;
	}
	for (i = 2; i < argc; i++) {
		const char *a = argv[i];
		json_t    **slot;

		if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
			const char *v = argv[++i];

			if (lc_parse_i64(v, strlen(v), 1, 3600000, &timeout) !=
			    0) {
				fprintf(stderr, "busbasectl: bad --timeout\n");
				goto out;
			}
			continue;
		}
		slot = strcmp(a, "--query") == 0 ? &rq.query
		    : strcmp(a, "--params") == 0 ? &rq.params
		    : strcmp(a, "--caller") == 0 ? &rq.caller
		                                 : NULL;
		if (slot != NULL) {
			if (i + 1 >= argc) {
				usage();
				goto out;
			}
			json_decref(*slot);
			if ((*slot = parse_json(a + 2, argv[++i], 1)) ==
			    NULL) {
				goto out;
			}
			continue;
		}
		if (a[0] == '-' && a[1] == '-') {
			usage();
			goto out;
		}
		if (rq.body != NULL) {
			usage();
			goto out;
		}
		if ((rq.body = parse_json("body", a, 0)) == NULL) {
			goto out;
		}
	}
	if (rq.params == NULL) {
		rq.params = json_object();
	}
	if (rq.query == NULL) {
		rq.query = json_object();
	}
	if (rq.caller == NULL) {
		rq.caller = json_pack("{s:s}", "kind", "service");
	}
	kind           = json_object_get(rq.caller, "kind");
	rq.caller_kind = LC_CALLER_SERVICE;
	for (i = 0; i < (int) LC_NELEM(caller_kinds); i++) {
		if (json_is_string(kind) &&
		    strcmp(json_string_value(kind), caller_kinds[i]) == 0) {
			rq.caller_kind = i;
		}
	}
	lc_uuid4(rq.rid);
	rq.deadline = lc_now_ms() + timeout;

	if (client_connect(cfg, svc,
	        timeout < PEER_WAIT_MS ? (int) timeout : PEER_WAIT_MS,
	        &c) != 0) {
		rv = EXIT_UNAVAILABLE;
		goto out;
	}
	if ((i = lc_client_call(c, &rq, (int) timeout, &rp)) != 0) {
		fprintf(stderr, "busbasectl: %s: %s\n", lc_svc_name(svc),
		    i == LC_ETIMEDOUT ? "timed out" : "unavailable");
		rv = EXIT_UNAVAILABLE;
		goto out;
	}
	out = json_pack("{s:i}", "status", rp.status);
	if (rp.raw != NULL) {
		char *b64 = lc_b64url_encode(rp.raw, rp.raw_len);

		json_object_set_new(
		    out, "body", json_pack("{s:s}", "$bin", b64));
		json_object_set_new(
		    out, "ctype", json_string(rp.content_type));
		lc_free(b64);
	} else {
		json_object_set(
		    out, "body", rp.body != NULL ? rp.body : json_null());
	}
	json_object_set_new(out, "headers",
	    rp.headers != NULL ? json_incref(rp.headers) : json_object());
	print_line(out);
	json_decref(out);
	rv = 0;
out:
	lc_client_close(c);
	lc_req_fini(&rq);
	lc_rep_fini(&rp);
	return (rv);
}

/* ---- events ---- */

static int
cmd_events(const struct lc_cfg *cfg, int argc, char **argv)
{
	nng_socket sock       = NNG_SOCKET_INITIALIZER;
	int        heartbeats = 0;
	int        ntopics    = 0;
	int        rv;
	int        i;

	if ((rv = nng_sub0_open(&sock)) != 0) {
		fprintf(stderr, "busbasectl: sub: %s\n", nng_strerror(rv));
		return (EXIT_UNAVAILABLE);
	}
	nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, LC_BUS_MAX_MSG);
	nng_socket_set_int(sock, NNG_OPT_RECVBUF, 8192);
	nng_socket_set_ms(sock, NNG_OPT_RECONNMINT, 20);
	nng_socket_set_ms(sock, NNG_OPT_RECONNMAXT, 500);
	for (i = 0; i < argc; i++) {
		int topic;

		if (strcmp(argv[i], "--heartbeats") == 0) {
			heartbeats = 1;
			continue;
		}
		if ((topic = lc_topic_find(argv[i], strlen(argv[i]))) < 0) {
			fprintf(stderr, "busbasectl: unknown topic '%s'\n",
			    argv[i]);
			nng_close(sock);
			return (EXIT_USAGE);
		}
		// The tag is exactly 4 bytes, not NUL-terminated.
		nng_socket_set(
		    sock, NNG_OPT_SUB_SUBSCRIBE, lc_topic_tag(topic), 4);
		ntopics++;
	}
	if (ntopics == 0) {
		nng_socket_set(sock, NNG_OPT_SUB_SUBSCRIBE, "", 0);
	} else if (heartbeats) {
		nng_socket_set(sock, NNG_OPT_SUB_SUBSCRIBE,
		    lc_topic_tag(LC_TOPIC_HEARTBEAT), 4);
	}
	for (i = LC_SVC_AUTH; i < LC_SVC_COUNT; i++) {
		// Non-blocking: a publisher that is not up yet is dialled
		// again in the background.
		if ((rv = nng_dial(sock, cfg->events_url[i], NULL,
		         NNG_FLAG_NONBLOCK)) != 0) {
			fprintf(stderr, "busbasectl: dial %s: %s\n",
			    cfg->events_url[i], nng_strerror(rv));
		}
	}
	for (;;) {
		nng_msg *msg;
		int      topic;
		uint64_t seq;
		int64_t  ts;
		char     src[128];
		json_t  *payload = NULL;
		json_t  *line;

		if ((rv = nng_recvmsg(sock, &msg, 0)) != 0) {
			fprintf(stderr, "busbasectl: recv: %s\n",
			    nng_strerror(rv));
			break;
		}
		rv = lc_env_decode_event(nng_msg_body(msg), nng_msg_len(msg),
		    &topic, &seq, &ts, src, sizeof(src), &payload);
		nng_msg_free(msg);
		if (rv != 0) {
			fprintf(stderr, "busbasectl: undecodable event\n");
			continue;
		}
		if (topic == LC_TOPIC_HEARTBEAT && !heartbeats) {
			json_decref(payload);
			continue;
		}
		line = json_pack("{s:s,s:I,s:I,s:s,s:o}", "topic",
		    lc_topic_name(topic), "seq", (json_int_t) seq, "ts",
		    (json_int_t) ts, "src", src, "payload",
		    payload != NULL ? payload : json_null());
		print_line(line);
		json_decref(line);
	}
	nng_close(sock);
	return (EXIT_UNAVAILABLE);
}

/* ---- health ---- */

static int
cmd_health(const struct lc_cfg *cfg)
{
	struct lc_client *cl[LC_SVC_COUNT] = { 0 };
	int               down             = 0;
	int64_t           until            = lc_mono_ms() + PEER_WAIT_MS;
	int               svc;

	// Open all first so they connect in parallel.
	for (svc = LC_SVC_AUTH; svc < LC_SVC_COUNT; svc++) {
		if (lc_client_open(
		        cfg->url[svc], lc_svc_name(svc), 4, &cl[svc]) != 0) {
			cl[svc] = NULL;
		}
	}
	for (;;) {
		int all = 1;

		for (svc = LC_SVC_AUTH; svc < LC_SVC_COUNT; svc++) {
			all = all &&
			    (cl[svc] == NULL || lc_client_peers(cl[svc]) > 0);
		}
		if (all || lc_mono_ms() >= until) {
			break;
		}
		sleep_ms(5);
	}
	printf("%-8s %-6s %10s %9s\n", "SERVICE", "STATUS", "LATENCY_MS",
	    "UPTIME_S");
	for (svc = LC_SVC_AUTH; svc < LC_SVC_COUNT; svc++) {
		struct lc_req rq;
		struct lc_rep rp;
		int64_t       t0 = lc_mono_ms();
		int           rv = LC_EUNAVAILABLE;

		lc_req_init(&rq);
		lc_rep_init(&rp);
		rq.v           = LC_ENV_VERSION;
		rq.op          = LC_MSG_SVC_HEALTH;
		rq.caller_kind = LC_CALLER_SERVICE;
		lc_uuid4(rq.rid);
		rq.deadline = lc_now_ms() + HEALTH_TIMEOUT_MS;
		if (cl[svc] != NULL) {
			rv = lc_client_call(
			    cl[svc], &rq, HEALTH_TIMEOUT_MS, &rp);
		}
		if (rv == 0 && rp.status == 200) {
			printf("%-8s %-6s %10lld %9lld\n", lc_svc_name(svc),
			    "ok", (long long) (lc_mono_ms() - t0),
			    (long long) json_integer_value(
			        json_object_get(rp.body, "uptime_s")));
		} else {
			printf("%-8s %-6s %10s %9s  (%s)\n", lc_svc_name(svc),
			    "down", "-", "-",
			    rv == LC_ETIMEDOUT ? "timeout"
			        : rv != 0      ? "unavailable"
			                       : "bad reply");
			down = 1;
		}
		lc_req_fini(&rq);
		lc_rep_fini(&rp);
	}
	fflush(stdout);
	for (svc = 0; svc < LC_SVC_COUNT; svc++) {
		lc_client_close(cl[svc]);
	}
	return (down ? 1 : 0);
}

static int
run_health(const struct lc_cfg *cfg, int argc, char **argv)
{
	LC_UNUSED(argv);
	if (argc != 0) {
		usage();
		return (EXIT_USAGE);
	}
	return (cmd_health(cfg));
}

static const struct {
	const char *name;
	int (*fn)(const struct lc_cfg *cfg, int argc, char **argv);
} commands[] = {
	{ "call", cmd_call },
	{ "events", cmd_events },
	{ "health", run_health },
};

int
main(int argc, char **argv)
{
	struct lc_cfg cfg;
	size_t        i;

	if (sodium_init() < 0) {
		return (EXIT_USAGE);
	}
	lc_log_init("busbasectl");
	lc_log_set_level(LC_LOG_WARN);
	if (argc < 2) {
		usage();
		return (EXIT_USAGE);
	}
	if (lc_cfg_load(&cfg) != 0) {
		return (EXIT_USAGE);
	}
	for (i = 0; i < LC_NELEM(commands); i++) {
		if (strcmp(argv[1], commands[i].name) == 0) {
			return (commands[i].fn(&cfg, argc - 2, argv + 2));
		}
	}
	usage();
	return (EXIT_USAGE);
}
