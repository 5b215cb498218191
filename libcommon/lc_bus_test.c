/*
 * lc_bus_test.c -- the bus over inproc://: server + client round trips,
 * concurrency, errors and bounds, pub/sub ordering and resync, surveys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
// cmocka needs the four above first
#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lc_bus.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_msg.h"

/* ---- helpers ---- */

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

// Polls cond() every 5 ms for up to ms; returns its last value.
#define WAIT_FOR(cond, ms)                                         \
	do {                                                       \
		for (int w_ = 0; w_ < (ms) / 5 && !(cond); w_++) { \
			sleep_ms(5);                               \
		}                                                  \
	} while (0)

static void
encode(int op, const char *op_name, json_t *body, int64_t deadline, void **buf,
    size_t *len)
{
	struct lc_req rq;

	lc_req_init(&rq);
	rq.op = op;
	if (op_name != NULL) {
		snprintf(rq.op_name, sizeof(rq.op_name), "%s", op_name);
	}
	rq.body     = body;
	rq.deadline = deadline;
	snprintf(rq.rid, sizeof(rq.rid), "test-rid");
	assert_int_equal(lc_env_encode_req(&rq, buf, len), 0);
	lc_req_fini(&rq);
}

// A blocking call through the async API.
struct done {
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	int             n;
	int             rv;
	void           *msg;
};

static void
done_cb(void *arg, int rv, void *msg)
{
	struct done *d = arg;

	pthread_mutex_lock(&d->mtx);
	d->rv  = rv;
	d->msg = msg;
	d->n++;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mtx);
}

static void
done_init(struct done *d)
{
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->mtx, NULL);
	pthread_cond_init(&d->cv, NULL);
}

static void
done_wait(struct done *d, int n)
{
	pthread_mutex_lock(&d->mtx);
	while (d->n < n) {
		pthread_cond_wait(&d->cv, &d->mtx);
	}
	pthread_mutex_unlock(&d->mtx);
}

static void
done_fini(struct done *d)
{
	pthread_mutex_destroy(&d->mtx);
	pthread_cond_destroy(&d->cv);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* ---- a test server ---- */

static atomic_int n_init;
static atomic_int n_fini;

// svc.health: echoes {"echo": body, "worker": idx}.
static int
h_echo(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	lc_rep_json(rp, 200,
	    json_pack("{s:O?, s:i}", "echo", rq->body, "worker", w->idx));
	return (0);
}

// svc.info: sleeps body.ms, then answers 200.
static int
h_sleep(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	LC_UNUSED(w);
	sleep_ms((int) json_integer_value(json_object_get(rq->body, "ms")));
	lc_rep_json(rp, 200, json_object());
	return (0);
}

// svc.stats: fails with the code in body.err.
static int
h_fail(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	LC_UNUSED(w);
	LC_UNUSED(rp);
	return ((int) json_integer_value(json_object_get(rq->body, "err")));
}

static int
t_worker_init(struct lc_worker *w, void *arg)
{
	LC_UNUSED(arg);
	w->user = (void *) pthread_self();
	atomic_fetch_add(&n_init, 1);
	return (0);
}

static void
t_worker_fini(struct lc_worker *w, void *arg)
{
	LC_UNUSED(arg);
	// fini runs on the same thread as init
	assert_true(pthread_equal((pthread_t) w->user, pthread_self()));
	atomic_fetch_add(&n_fini, 1);
}

static void
t_worker_fini_any(struct lc_worker *w, void *arg)
{
	LC_UNUSED(w);
	LC_UNUSED(arg);
	atomic_fetch_add(&n_fini, 1);
}

static const struct lc_op test_ops[] = {
	{ LC_MSG_SVC_HEALTH, h_echo },
	{ LC_MSG_SVC_INFO, h_sleep },
	{ LC_MSG_SVC_STATS, h_fail },
};

// A server configuration at url with n workers serving test_ops.
static void
bare_cfg(struct lc_bus_server_cfg *cfg, const char *url, int n)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->url      = url;
	cfg->nworkers = n;
	cfg->ops      = test_ops;
	cfg->nops     = LC_NELEM(test_ops);
}

struct fixture {
	char                  url[64];
	struct lc_bus_server *srv;
	struct lc_client     *cli;
	struct lc_metrics    *m;
};

static int
setup_server(void **state)
{
	static int               seq;
	static struct fixture    fx;
	struct lc_bus_server_cfg cfg;
	char                    *url = fx.url;

	memset(&fx, 0, sizeof(fx));
	snprintf(url, sizeof(fx.url), "inproc://bus-test-%d", ++seq);
	atomic_store(&n_init, 0);
	atomic_store(&n_fini, 0);
	fx.m = lc_metrics_alloc("test");
	bare_cfg(&cfg, url, 4);
	cfg.metrics     = fx.m;
	cfg.worker_init = t_worker_init;
	cfg.worker_fini = t_worker_fini;
	assert_int_equal(lc_bus_server_open(&cfg, &fx.srv), 0);
	assert_int_equal(atomic_load(&n_init), 4);
	assert_int_equal(lc_client_open(url, "test", 128, &fx.cli), 0);
	WAIT_FOR(lc_client_peers(fx.cli) > 0, 2000);
	assert_int_equal(lc_client_peers(fx.cli), 1);
	*state = &fx;
	return (0);
}

static int
teardown_server(void **state)
{
	struct fixture *fx = *state;

	lc_client_close(fx->cli);
	lc_bus_server_close(fx->srv, 1000);
	assert_int_equal(atomic_load(&n_fini), 4);
	lc_metrics_free(fx->m);
	return (0);
}

/* ---- server + client ---- */

static void
test_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct done     d;
	struct lc_rep   rp;
	void           *buf;
	size_t          len;

	done_init(&d);
	encode(LC_MSG_SVC_HEALTH, NULL, json_pack("{s:s}", "hello", "bus"), 0,
	    &buf, &len);
	assert_int_equal(
	    lc_client_call_async(fx->cli, buf, len, 2000, done_cb, &d), 0);
	lc_free(buf);
	done_wait(&d, 1);
	assert_int_equal(d.rv, 0);
	assert_non_null(d.msg);
	lc_rep_init(&rp);
	assert_int_equal(lc_client_reply(d.msg, &rp), 0);
	lc_client_msg_free(d.msg);
	assert_int_equal(rp.status, 200);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(rp.body, "echo"), "hello")),
	    "bus");
	lc_rep_fini(&rp);
	assert_true(lc_bus_server_requests(fx->srv) >= 1);
	done_fini(&d);
}

// A client closed right after a call that was answered at once (the
// services' liveness check: open, svc.ping to itself, close, every 2 s).
// The reply could complete on one nng thread while the callback that had
// posted the receive was still inside nng_ctx_recv on another; nng_close
// then freed the socket under it (nng 1.5.2 panics: pthread_mutex_lock:
// Invalid argument, seen once in admin under a full test run). Several
// threads and CPU hogs make that preemption likely.
struct quick {
	const char *url;
	int         n;
};

static atomic_int hog_stop;

static void *
hog(void *arg)
{
	volatile uint64_t x = 0;

	LC_UNUSED(arg);
	while (!atomic_load(&hog_stop)) {
		x++;
	}
	return (NULL);
}

static void *
quick_calls(void *arg)
{
	const struct quick *q = arg;

	for (int i = 0; i < q->n; i++) {
		struct lc_client *c;
		struct lc_req     rq;
		struct lc_rep     rp;

		if (lc_client_open(q->url, "quick", 1, &c) != 0) {
			return ((void *) 1);
		}
		WAIT_FOR(lc_client_peers(c) > 0, 2000);
		lc_req_init(&rq);
		lc_rep_init(&rp);
		rq.op = LC_MSG_SVC_HEALTH;
		snprintf(rq.op_name, sizeof(rq.op_name), "%s",
		    lc_msg_name(LC_MSG_SVC_HEALTH));
		if (lc_client_call(c, &rq, 2000, &rp) != 0 ||
		    rp.status != 200) {
			lc_client_close(c);
			return ((void *) 1);
		}
		lc_req_fini(&rq);
		lc_rep_fini(&rp);
		lc_client_close(c);
	}
	return (NULL);
}

static void
test_close_after_quick_call(void **state)
{
	struct lc_bus_server    *srv;
	struct lc_bus_server_cfg cfg;
	char                     url[64];
	struct quick             q;
	pthread_t                th[6];
	pthread_t                hogs[2];
	void                    *ret;

	LC_UNUSED(state);
	snprintf(url, sizeof(url), "ipc:///tmp/lc_bus_test_%d.sock",
	    (int) getpid());
	bare_cfg(&cfg, url, 4);
	assert_int_equal(lc_bus_server_open(&cfg, &srv), 0);
	q.url = url;
	q.n   = 250;
	atomic_store(&hog_stop, 0);
	for (size_t i = 0; i < LC_NELEM(hogs); i++) {
		assert_int_equal(pthread_create(&hogs[i], NULL, hog, NULL), 0);
	}
	for (size_t i = 0; i < LC_NELEM(th); i++) {
		assert_int_equal(
		    pthread_create(&th[i], NULL, quick_calls, &q), 0);
	}
	for (size_t i = 0; i < LC_NELEM(th); i++) {
		pthread_join(th[i], &ret);
		assert_null(ret);
	}
	atomic_store(&hog_stop, 1);
	for (size_t i = 0; i < LC_NELEM(hogs); i++) {
		pthread_join(hogs[i], NULL);
	}
	lc_bus_server_close(srv, 1000);
}

// The blocking call, and the metrics it leaves behind.
static void
test_blocking_call_and_metrics(void **state)
{
	struct fixture *fx = *state;
	struct lc_req   rq;
	struct lc_rep   rp;
	json_t         *ex;
	char           *text;

	lc_req_init(&rq);
	lc_rep_init(&rp);
	rq.op   = LC_MSG_SVC_HEALTH;
	rq.body = json_integer(7);
	assert_int_equal(lc_client_call(fx->cli, &rq, 2000, &rp), 0);
	assert_int_equal(rp.status, 200);
	assert_int_equal(
	    json_integer_value(json_object_get(rp.body, "echo")), 7);
	lc_req_fini(&rq);
	lc_rep_fini(&rp);

	ex   = json_pack("[o]", lc_metrics_export(fx->m));
	text = lc_metrics_render(ex, NULL);
	assert_non_null(strstr(text,
	    "busbase_bus_requests_total{service=\"test\",op=\"svc.health\","
	    "result=\"ok\"} 1"));
	assert_non_null(strstr(text, "busbase_bus_request_duration_seconds"));
	lc_free(text);
	json_decref(ex);
}

#define NCONC 100

struct conc {
	struct done d;
	int         ok;
	int         seen[NCONC];
};

static void
conc_cb(void *arg, int rv, void *msg)
{
	struct conc  *c = arg;
	struct lc_rep rp;

	// Decoding is cheap enough for a test callback.
	lc_rep_init(&rp);
	pthread_mutex_lock(&c->d.mtx);
	if (rv == 0 && lc_client_reply(msg, &rp) == 0 && rp.status == 200) {
		json_int_t i = json_integer_value(
		    json_object_get(json_object_get(rp.body, "echo"), "i"));

		if (i >= 0 && i < NCONC) {
			c->seen[i]++;
			c->ok++;
		}
	}
	c->d.n++;
	pthread_cond_broadcast(&c->d.cv);
	pthread_mutex_unlock(&c->d.mtx);
	lc_rep_fini(&rp);
	lc_client_msg_free(msg);
}

static void
test_concurrent_async(void **state)
{
	struct fixture    *fx = *state;
	static struct conc c;

	memset(&c, 0, sizeof(c));
	done_init(&c.d);
	for (int i = 0; i < NCONC; i++) {
		void  *buf;
		size_t len;

		encode(LC_MSG_SVC_HEALTH, NULL, json_pack("{s:i}", "i", i), 0,
		    &buf, &len);
		assert_int_equal(
		    lc_client_call_async(fx->cli, buf, len, 5000, conc_cb, &c),
		    0);
		lc_free(buf);
	}
	done_wait(&c.d, NCONC);
	assert_int_equal(c.ok, NCONC);
	for (int i = 0; i < NCONC; i++) {
		assert_int_equal(c.seen[i], 1);
	}
	done_fini(&c.d);
}

static int
call_status(struct fixture *fx, int op, const char *name, json_t *body,
    int64_t deadline, struct lc_rep *rp)
{
	struct done d;
	void       *buf;
	size_t      len;
	int         rv;

	done_init(&d);
	encode(op, name, body, deadline, &buf, &len);
	assert_int_equal(
	    lc_client_call_async(fx->cli, buf, len, 2000, done_cb, &d), 0);
	lc_free(buf);
	done_wait(&d, 1);
	assert_int_equal(d.rv, 0);
	lc_rep_init(rp);
	assert_int_equal(lc_client_reply(d.msg, rp), 0);
	lc_client_msg_free(d.msg);
	rv = rp->status;
	done_fini(&d);
	return (rv);
}

static void
test_unknown_op(void **state)
{
	struct fixture *fx = *state;
	struct lc_rep   rp;

	// A real op that this server does not serve.
	assert_int_equal(
	    call_status(fx, LC_MSG_RECORDS_LIST, NULL, NULL, 0, &rp), 404);
	assert_string_equal(
	    json_string_value(json_object_get(rp.body, "code")), "not_found");
	assert_string_equal(
	    json_string_value(json_object_get(rp.body, "error")),
	    "Operation 'records.list' is not available.");
	lc_rep_fini(&rp);
	// An op name nobody knows.
	assert_int_equal(call_status(fx, -1, "no.such_op", NULL, 0, &rp), 404);
	assert_string_equal(
	    json_string_value(json_object_get(rp.body, "error")),
	    "Operation 'no.such_op' is not available.");
	lc_rep_fini(&rp);
}

static void
test_handler_errors(void **state)
{
	struct fixture *fx = *state;
	struct lc_rep   rp;

	assert_int_equal(
	    call_status(fx, LC_MSG_SVC_STATS, NULL,
	        json_pack("{s:i}", "err", LC_EVALIDATION), 0, &rp),
	    400);
	assert_string_equal(
	    json_string_value(json_object_get(rp.body, "code")),
	    "validation_error");
	lc_rep_fini(&rp);
	assert_int_equal(call_status(fx, LC_MSG_SVC_STATS, NULL,
	                     json_pack("{s:i}", "err", LC_EINTERNAL), 0, &rp),
	    500);
	lc_rep_fini(&rp);
}

static void
test_deadline_passed(void **state)
{
	struct fixture *fx = *state;
	struct lc_rep   rp;
	struct timespec ts;
	int64_t         past;

	clock_gettime(CLOCK_REALTIME, &ts);
	past = (int64_t) ts.tv_sec * 1000 - 5000;
	assert_int_equal(
	    call_status(fx, LC_MSG_SVC_HEALTH, NULL, NULL, past, &rp), 503);
	lc_rep_fini(&rp);
}

static void
test_timeout(void **state)
{
	struct fixture *fx = *state;
	struct done     d;
	void           *buf;
	size_t          len;
	int64_t         t0;

	done_init(&d);
	encode(LC_MSG_SVC_INFO, NULL, json_pack("{s:i}", "ms", 600), 0, &buf,
	    &len);
	t0 = now_ms();
	assert_int_equal(
	    lc_client_call_async(fx->cli, buf, len, 100, done_cb, &d), 0);
	lc_free(buf);
	done_wait(&d, 1);
	assert_int_equal(d.rv, LC_ETIMEDOUT);
	assert_null(d.msg);
	assert_true(now_ms() - t0 >= 90);
	assert_true(now_ms() - t0 < 500);
	done_fini(&d);
	sleep_ms(600); // let the worker finish before teardown
}

// Counts completions and frees the replies itself.
static void
count_cb(void *arg, int rv, void *msg)
{
	struct done *d = arg;

	lc_client_msg_free(msg);
	pthread_mutex_lock(&d->mtx);
	d->rv = rv;
	d->n++;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mtx);
}

static void
test_inflight_bound(void **state)
{
	struct fixture   *fx = *state;
	struct lc_client *cli;
	struct done       d;
	void             *buf;
	size_t            len;

	// A second client, with room for two calls, on the fixture server.
	assert_int_equal(lc_client_open(fx->url, "bound", 2, &cli), 0);
	WAIT_FOR(lc_client_peers(cli) > 0, 2000);
	done_init(&d);
	encode(LC_MSG_SVC_INFO, NULL, json_pack("{s:i}", "ms", 200), 0, &buf,
	    &len);
	assert_int_equal(
	    lc_client_call_async(cli, buf, len, 2000, count_cb, &d), 0);
	assert_int_equal(
	    lc_client_call_async(cli, buf, len, 2000, count_cb, &d), 0);
	// The third fails at once, and its cb is never called.
	assert_int_equal(
	    lc_client_call_async(cli, buf, len, 2000, count_cb, &d),
	    LC_EUNAVAILABLE);
	done_wait(&d, 2);
	assert_int_equal(d.rv, 0);
	// The slots are back: a new call is accepted at once.
	assert_int_equal(
	    lc_client_call_async(cli, buf, len, 2000, count_cb, &d), 0);
	done_wait(&d, 3);
	assert_int_equal(d.n, 3);
	lc_free(buf);
	done_fini(&d);
	lc_client_close(cli);
}

static void
test_no_peer_fast(void **state)
{
	struct lc_client *cli;
	struct lc_req     rq;
	struct lc_rep     rp;
	void             *buf;
	size_t            len;
	int64_t           t0;
	struct done       d;

	LC_UNUSED(state);
	assert_int_equal(
	    lc_client_open("inproc://nobody-here", "ghost", 8, &cli), 0);
	assert_int_equal(lc_client_peers(cli), 0);
	encode(LC_MSG_SVC_HEALTH, NULL, NULL, 0, &buf, &len);
	done_init(&d);
	t0 = now_ms();
	assert_int_equal(
	    lc_client_call_async(cli, buf, len, 5000, done_cb, &d),
	    LC_EUNAVAILABLE);
	lc_req_init(&rq);
	lc_rep_init(&rp);
	rq.op = LC_MSG_SVC_HEALTH;
	assert_int_equal(lc_client_call(cli, &rq, 5000, &rp), LC_EUNAVAILABLE);
	assert_true(now_ms() - t0 < 100);
	assert_int_equal(d.n, 0); // cb never called
	lc_req_fini(&rq);
	lc_rep_fini(&rp);
	lc_free(buf);
	done_fini(&d);
	lc_client_close(cli);
}

// A client closed with a call in flight calls its cb once, with an error.
static void
test_close_with_call_in_flight(void **state)
{
	struct fixture   *fx = *state;
	struct lc_client *cli;
	struct done       d;
	void             *buf;
	size_t            len;

	assert_int_equal(lc_client_open(fx->url, "closer", 4, &cli), 0);
	WAIT_FOR(lc_client_peers(cli) > 0, 2000);
	done_init(&d);
	encode(LC_MSG_SVC_INFO, NULL, json_pack("{s:i}", "ms", 300), 0, &buf,
	    &len);
	assert_int_equal(
	    lc_client_call_async(cli, buf, len, 5000, count_cb, &d), 0);
	lc_client_close(cli);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.rv, LC_EUNAVAILABLE);
	lc_free(buf);
	done_fini(&d);
	sleep_ms(350); // the worker finishes before teardown
}

static void *
close_thread(void *arg)
{
	lc_bus_server_close(arg, 2000);
	return (NULL);
}

// Closing the server lets a request in flight finish and answer.
static void
test_drain_on_close(void **state)
{
	struct lc_bus_server    *srv;
	struct lc_bus_server_cfg cfg;
	struct lc_client        *cli;
	struct lc_rep            rp;
	struct done              d;
	void                    *buf;
	size_t                   len;
	pthread_t                th;

	LC_UNUSED(state);
	bare_cfg(&cfg, "inproc://bus-drain", 2);
	assert_int_equal(lc_bus_server_open(&cfg, &srv), 0);
	assert_int_equal(lc_client_open(cfg.url, "drain", 4, &cli), 0);
	WAIT_FOR(lc_client_peers(cli) > 0, 2000);
	done_init(&d);
	encode(LC_MSG_SVC_INFO, NULL, json_pack("{s:i}", "ms", 300), 0, &buf,
	    &len);
	assert_int_equal(
	    lc_client_call_async(cli, buf, len, 5000, done_cb, &d), 0);
	lc_free(buf);
	sleep_ms(50); // the worker is in the handler
	assert_int_equal(pthread_create(&th, NULL, close_thread, srv), 0);
	sleep_ms(50); // close is draining
	{
		// A new request during the drain is refused at once.
		struct done d2;
		int64_t     t0 = now_ms();

		done_init(&d2);
		encode(LC_MSG_SVC_HEALTH, NULL, NULL, 0, &buf, &len);
		assert_int_equal(
		    lc_client_call_async(cli, buf, len, 5000, done_cb, &d2),
		    0);
		lc_free(buf);
		done_wait(&d2, 1);
		assert_int_equal(d2.rv, 0);
		lc_rep_init(&rp);
		assert_int_equal(lc_client_reply(d2.msg, &rp), 0);
		assert_int_equal(rp.status, 503);
		assert_true(now_ms() - t0 < 150);
		lc_rep_fini(&rp);
		lc_client_msg_free(d2.msg);
		done_fini(&d2);
	}
	pthread_join(th, NULL);
	done_wait(&d, 1);
	assert_int_equal(d.rv, 0);
	lc_rep_init(&rp);
	assert_int_equal(lc_client_reply(d.msg, &rp), 0);
	assert_int_equal(rp.status, 200);
	lc_rep_fini(&rp);
	lc_client_msg_free(d.msg);
	done_fini(&d);
	lc_client_close(cli);
}

// svc.stats in test_receivers: gives its receiver place up, then sleeps
// body.ms.
static int
h_sleep_blocking(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	lc_bus_worker_blocking(w);
	return (h_sleep(w, rq, rp));
}

// Sends op with body; returns the time (ms) its answer took.
static int64_t
timed_call(struct lc_client *cli, int op, json_t *body, struct done *d)
{
	void   *buf;
	size_t  len;
	int64_t t0 = now_ms();

	done_init(d);
	encode(op, NULL, body, 0, &buf, &len);
	assert_int_equal(
	    lc_client_call_async(cli, buf, len, 5000, done_cb, d), 0);
	lc_free(buf);
	return (t0);
}

static int64_t
timed_wait(struct done *d, int64_t t0)
{
	struct lc_rep rp;

	done_wait(d, 1);
	assert_int_equal(d->rv, 0);
	lc_rep_init(&rp);
	assert_int_equal(lc_client_reply(d->msg, &rp), 0);
	assert_int_equal(rp.status, 200);
	lc_rep_fini(&rp);
	lc_client_msg_free(d->msg);
	done_fini(d);
	return (now_ms() - t0);
}

// With receivers = 1 of 2 workers, a second request waits for the first
// handler, unless that handler called lc_bus_worker_blocking: then the
// idle worker serves it at once.
static void
test_receivers(void **state)
{
	static const struct lc_op ops[] = {
		{ LC_MSG_SVC_HEALTH, h_echo },
		{ LC_MSG_SVC_INFO, h_sleep },
		{ LC_MSG_SVC_STATS, h_sleep_blocking },
	};
	struct lc_bus_server    *srv;
	struct lc_bus_server_cfg cfg;
	struct lc_client        *cli;
	struct done              slow;
	struct done              quick;
	int64_t                  t_slow;
	int64_t                  t_quick;

	LC_UNUSED(state);
	bare_cfg(&cfg, "inproc://bus-receivers", 2);
	cfg.receivers = 1;
	cfg.ops       = ops;
	cfg.nops      = LC_NELEM(ops);
	assert_int_equal(lc_bus_server_open(&cfg, &srv), 0);
	assert_int_equal(lc_client_open(cfg.url, "receivers", 4, &cli), 0);
	WAIT_FOR(lc_client_peers(cli) > 0, 2000);
	// a handler that keeps its place: the next request waits for it
	t_slow = timed_call(
	    cli, LC_MSG_SVC_INFO, json_pack("{s:i}", "ms", 400), &slow);
	sleep_ms(50);
	t_quick = timed_call(cli, LC_MSG_SVC_HEALTH, NULL, &quick);
	assert_true(timed_wait(&quick, t_quick) >= 250);
	(void) timed_wait(&slow, t_slow);
	// a handler that gives it up: the other worker answers at once
	t_slow = timed_call(
	    cli, LC_MSG_SVC_STATS, json_pack("{s:i}", "ms", 400), &slow);
	sleep_ms(50);
	t_quick = timed_call(cli, LC_MSG_SVC_HEALTH, NULL, &quick);
	assert_true(timed_wait(&quick, t_quick) < 250);
	assert_true(timed_wait(&slow, t_slow) >= 400);
	// and both workers serve again afterwards
	t_quick = timed_call(cli, LC_MSG_SVC_HEALTH, NULL, &quick);
	assert_true(timed_wait(&quick, t_quick) < 250);
	lc_client_close(cli);
	lc_bus_server_close(srv, 1000);
}

static int
init_fails_on_1(struct lc_worker *w, void *arg)
{
	LC_UNUSED(arg);
	atomic_fetch_add(&n_init, 1);
	return (w->idx == 1 ? LC_EINTERNAL : 0);
}

// A failing worker_init fails the open; the others are finalised.
static void
test_worker_init_fails(void **state)
{
	struct lc_bus_server    *srv = NULL;
	struct lc_bus_server_cfg cfg;

	LC_UNUSED(state);
	atomic_store(&n_init, 0);
	atomic_store(&n_fini, 0);
	bare_cfg(&cfg, "inproc://bus-initfail", 3);
	cfg.worker_init = init_fails_on_1;
	cfg.worker_fini = t_worker_fini_any;
	assert_int_equal(lc_bus_server_open(&cfg, &srv), LC_EINTERNAL);
	assert_null(srv);
	assert_int_equal(atomic_load(&n_init), 3);
	assert_int_equal(atomic_load(&n_fini), 2);
	// The address is free again.
	cfg.worker_init = NULL;
	cfg.worker_fini = NULL;
	assert_int_equal(lc_bus_server_open(&cfg, &srv), 0);
	lc_bus_server_close(srv, 100);
}

/* ---- pub/sub ---- */

struct subst {
	pthread_mutex_t mtx;
	int             resyncs;
	int             nevents;
	uint64_t        seqs[64];
	json_int_t      vals[64];
	int             topics[64];
	int             fail_resync; // resyncs to fail first
};

static void
sub_event(void *arg, int topic, uint64_t seq, const json_t *payload)
{
	struct subst *st = arg;

	pthread_mutex_lock(&st->mtx);
	if (st->nevents < 64) {
		st->seqs[st->nevents]   = seq;
		st->topics[st->nevents] = topic;
		st->vals[st->nevents] =
		    json_integer_value(json_object_get(payload, "i"));
		st->nevents++;
	}
	pthread_mutex_unlock(&st->mtx);
}

static int
sub_resync(void *arg)
{
	struct subst *st = arg;
	int           rv = 0;

	pthread_mutex_lock(&st->mtx);
	if (st->fail_resync > 0) {
		st->fail_resync--;
		rv = LC_EUNAVAILABLE;
	} else {
		st->resyncs++;
	}
	pthread_mutex_unlock(&st->mtx);
	return (rv);
}

static int
st_get(struct subst *st, const int *field)
{
	int v;

	pthread_mutex_lock(&st->mtx);
	v = *field;
	pthread_mutex_unlock(&st->mtx);
	return (v);
}

static void
test_pubsub_in_order(void **state)
{
	static const int topics[] = { LC_TOPIC_RECORD_CREATED };
	struct lc_pub   *pub;
	struct lc_sub   *sub;
	struct subst     st;

	LC_UNUSED(state);
	memset(&st, 0, sizeof(st));
	pthread_mutex_init(&st.mtx, NULL);
	assert_int_equal(lc_pub_open("inproc://ev-order", "testpub", &pub), 0);
	assert_non_null(strstr(lc_pub_src(pub), "testpub:"));
	// no subscriber yet: the seq still moves (the events go nowhere)
	for (int i = 0; i < 3; i++) {
		assert_int_equal(
		    lc_pub_send(pub, LC_TOPIC_RECORD_CREATED, NULL),
		    (uint64_t) i + 1);
	}
	assert_int_equal(lc_sub_open("inproc://ev-order", topics, 1, sub_event,
	                     sub_resync, &st, &sub),
	    0);
	// In sync after the first heartbeat (<= 1 s) and its resync.
	WAIT_FOR(lc_sub_in_sync(sub), 3000);
	assert_true(lc_sub_in_sync(sub));
	// one at start (nothing heard yet), one on hearing the publisher
	assert_int_equal(st_get(&st, &st.resyncs), 2);
	for (int i = 0; i < 20; i++) {
		json_t *pl = json_pack("{s:i}", "i", i);
		// every other event is of a topic this sub did not ask for
		uint64_t seq = lc_pub_send(pub,
		    i % 2 == 0 ? LC_TOPIC_RECORD_CREATED
		               : LC_TOPIC_FILE_DELETED,
		    pl);

		assert_int_equal(seq, (uint64_t) i + 4);
		json_decref(pl);
	}
	assert_int_equal(lc_pub_seq(pub), 23);
	WAIT_FOR(st_get(&st, &st.nevents) >= 10, 3000);
	assert_int_equal(st_get(&st, &st.nevents), 10);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(st.seqs[i], (uint64_t) (2 * i + 4));
		assert_int_equal(st.vals[i], 2 * i);
		assert_int_equal(st.topics[i], LC_TOPIC_RECORD_CREATED);
	}
	// Filtered topics are not gaps: still in sync, no more resyncs.
	sleep_ms(1200); // a heartbeat with seq 23 passes
	assert_true(lc_sub_in_sync(sub));
	assert_int_equal(st_get(&st, &st.resyncs), 2);
	lc_sub_close(sub);
	lc_pub_close(pub);
	pthread_mutex_destroy(&st.mtx);
}

/* A hand-driven publisher: exact seqs and srcs. */
struct fakepub {
	nng_socket sock;
	atomic_int peers;
};

static void
fake_notify(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct fakepub *f = arg;

	LC_UNUSED(p);
	atomic_fetch_add(&f->peers, ev == NNG_PIPE_EV_ADD_POST ? 1 : -1);
}

static void
fake_send(struct fakepub *f, int topic, uint64_t seq, const char *src)
{
	void   *buf;
	size_t  len;
	json_t *pl = topic == LC_TOPIC_HEARTBEAT
	    ? json_pack("{s:I}", "seq", (json_int_t) seq)
	    : json_pack("{s:I}", "i", (json_int_t) seq);

	assert_int_equal(
	    lc_env_encode_event(topic, seq, 0, src, pl, &buf, &len), 0);
	assert_int_equal(nng_send(f->sock, buf, len, 0), 0);
	lc_free(buf);
	json_decref(pl);
}

static void
test_sub_gap_resync(void **state)
{
	static const int topics[] = { LC_TOPIC_SESS_REVOKED };
	struct fakepub   f;
	struct lc_sub   *sub;
	struct subst     st;
	const int        T = LC_TOPIC_SESS_REVOKED;

	LC_UNUSED(state);
	memset(&st, 0, sizeof(st));
	pthread_mutex_init(&st.mtx, NULL);
	atomic_init(&f.peers, 0);
	assert_int_equal(nng_pub0_open(&f.sock), 0);
	assert_int_equal(
	    nng_pipe_notify(f.sock, NNG_PIPE_EV_ADD_POST, fake_notify, &f), 0);
	assert_int_equal(nng_listen(f.sock, "inproc://ev-fake", NULL, 0), 0);
	st.fail_resync = 1; // the first attempt fails and is retried
	assert_int_equal(lc_sub_open("inproc://ev-fake", topics, 1, sub_event,
	                     sub_resync, &st, &sub),
	    0);
	WAIT_FOR(atomic_load(&f.peers) > 0, 2000);
	WAIT_FOR(st_get(&st, &st.resyncs) == 1, 2000); // start-up resync
	assert_int_equal(st_get(&st, &st.resyncs), 1);
	assert_false(lc_sub_in_sync(sub)); // no publisher heard yet

	// A publisher appears (seq 0): resync, then in sync.
	fake_send(&f, LC_TOPIC_HEARTBEAT, 0, "fake:1");
	WAIT_FOR(lc_sub_in_sync(sub), 2000);
	assert_int_equal(st_get(&st, &st.resyncs), 2);
	fake_send(&f, T, 1, "fake:1");
	fake_send(&f, T, 2, "fake:1");
	fake_send(&f, T, 3, "fake:1");
	WAIT_FOR(st_get(&st, &st.nevents) == 3, 2000);
	assert_int_equal(st_get(&st, &st.nevents), 3);

	// A gap (4 lost): resync; 5 itself is in the snapshot, 6 applies.
	fake_send(&f, T, 5, "fake:1");
	fake_send(&f, T, 6, "fake:1");
	WAIT_FOR(st_get(&st, &st.nevents) == 4, 2000);
	assert_int_equal(st_get(&st, &st.resyncs), 3);
	assert_int_equal(st.seqs[3], 6);
	// Old duplicates are ignored.
	fake_send(&f, T, 6, "fake:1");
	fake_send(&f, T, 2, "fake:1");
	// A heartbeat equal to last: fine; ahead of last: resync.
	fake_send(&f, LC_TOPIC_HEARTBEAT, 6, "fake:1");
	fake_send(&f, LC_TOPIC_HEARTBEAT, 8, "fake:1");
	WAIT_FOR(st_get(&st, &st.resyncs) == 4, 2000);
	assert_int_equal(st_get(&st, &st.resyncs), 4);
	fake_send(&f, T, 9, "fake:1");
	WAIT_FOR(st_get(&st, &st.nevents) == 5, 2000);
	assert_int_equal(st.seqs[4], 9);

	// The publisher restarts (new src, seq from 0): resync.
	fake_send(&f, LC_TOPIC_HEARTBEAT, 0, "fake:2");
	WAIT_FOR(st_get(&st, &st.resyncs) == 5, 2000);
	fake_send(&f, T, 1, "fake:2");
	WAIT_FOR(st_get(&st, &st.nevents) == 6, 2000);
	assert_int_equal(st_get(&st, &st.resyncs), 5);
	assert_int_equal(st.seqs[5], 1);
	assert_true(lc_sub_in_sync(sub));

	// Silence (3 s without a message): resync.
	WAIT_FOR(st_get(&st, &st.resyncs) == 6, 5000);
	assert_int_equal(st_get(&st, &st.resyncs), 6);
	assert_int_equal(st_get(&st, &st.nevents), 6);

	lc_sub_close(sub);
	nng_close(f.sock);
	pthread_mutex_destroy(&st.mtx);
}

/* ---- survey ---- */

static int
resp_fn(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	if (rq->op != LC_MSG_SVC_INFO) {
		return (LC_ENOT_FOUND);
	}
	lc_rep_json(rp, 200, json_pack("{s:i}", "n", w->idx));
	return (0);
}

static void
test_survey(void **state)
{
	struct lc_survey *sv;
	struct lc_resp   *r[3];
	struct lc_req     rq;
	json_t           *out     = NULL;
	int               seen[3] = { 0 };
	size_t            i;
	json_t           *v;
	int64_t           t0;

	LC_UNUSED(state);
	assert_int_equal(lc_survey_open("inproc://survey-test", &sv), 0);
	lc_req_init(&rq);
	rq.op = LC_MSG_SVC_INFO;
	// Nobody connected: an empty answer at once.
	assert_int_equal(lc_survey_ask(sv, &rq, 1000, &out), 0);
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
	for (int k = 0; k < 3; k++) {
		struct lc_worker w = { .idx = k };

		assert_int_equal(
		    lc_resp_open("inproc://survey-test", resp_fn, &w, &r[k]),
		    0);
	}
	WAIT_FOR(lc_survey_peers(sv) == 3, 2000);
	assert_int_equal(lc_survey_peers(sv), 3);
	t0 = now_ms();
	assert_int_equal(lc_survey_ask(sv, &rq, 2000, &out), 0);
	assert_true(now_ms() - t0 < 1000); // ends when all have answered
	assert_int_equal(json_array_size(out), 3);
	json_array_foreach(out, i, v)
	{
		json_int_t n = json_integer_value(json_object_get(v, "n"));

		assert_true(n >= 0 && n < 3);
		seen[n]++;
	}
	assert_int_equal(seen[0] + seen[1] + seen[2], 3);
	assert_true(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
	json_decref(out);
	// An op they do not answer: error bodies still come back.
	rq.op = LC_MSG_SVC_HEALTH;
	assert_int_equal(lc_survey_ask(sv, &rq, 2000, &out), 0);
	assert_int_equal(json_array_size(out), 3);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(out, 0), "code")),
	    "not_found");
	json_decref(out);
	lc_req_fini(&rq);
	for (int k = 0; k < 3; k++) {
		lc_resp_close(r[k]);
	}
	lc_survey_close(sv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_round_trip, setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(test_blocking_call_and_metrics,
		    setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(
		    test_concurrent_async, setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(
		    test_unknown_op, setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(
		    test_handler_errors, setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(
		    test_deadline_passed, setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(
		    test_timeout, setup_server, teardown_server),
		cmocka_unit_test_setup_teardown(
		    test_inflight_bound, setup_server, teardown_server),
		cmocka_unit_test(test_no_peer_fast),
		cmocka_unit_test_setup_teardown(test_close_with_call_in_flight,
		    setup_server, teardown_server),
		cmocka_unit_test(test_receivers),
		cmocka_unit_test(test_close_after_quick_call),
		cmocka_unit_test(test_drain_on_close),
		cmocka_unit_test(test_worker_init_fails),
		cmocka_unit_test(test_pubsub_in_order),
		cmocka_unit_test(test_sub_gap_resync),
		cmocka_unit_test(test_survey),
	};

	lc_log_init("bus-test");
	lc_log_set_level(LC_LOG_WARN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
