/*
 * lc_bus.c -- the message bus over nng 1.5.2: REP worker pool, REQ client
 * with bounded in-flight calls, PUB with seq + heartbeat, SUB with gap and
 * silence detection, SURVEYOR/RESPONDENT. See lc_bus.h for the contract and
 * LIBRARIES.md §4a for the nng pitfalls this file works around.
 */
#include "lc_bus.h"

#include <errno.h>
#include <inttypes.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/protocol/survey0/respond.h>
#include <nng/protocol/survey0/survey.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lc_err.h"
#include "lc_log.h"
#include "lc_msg.h"

#define RECONN_MIN_MS 20
#define RECONN_MAX_MS 100 // a restarted peer is found again within 0.1 s
#define PUBSUB_BUF 8192
#define HEARTBEAT_MS 1000
#define SUB_RECV_MS 1000
#define SUB_SILENCE_MS 3000
#define RESYNC_MIN_MS 200
#define RESYNC_MAX_MS 1000
#define CLIENT_DEFAULT_INFLIGHT 128
#define SRC_MAX 128

/* ---- small helpers ---- */

// Maps an nng error met while talking to a peer to our code.
static int
map_nng(int rv)
{
	switch (rv) {
	case 0:
		return (0);
	case NNG_ETIMEDOUT:
		return (LC_ETIMEDOUT);
	case NNG_ENOMEM:
		return (LC_ENOMEM);
	default:
		return (LC_EUNAVAILABLE);
	}
}

// Condition variables here wait on the monotonic clock, so a wall-clock
// step never stretches a heartbeat or a drain.
static void
cond_init_mono(pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

static struct timespec
mono_after(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long) (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return (ts);
}

// Peer counting through pipe notifications. REM_POST can in principle
// arrive for a pipe whose ADD_POST never ran (rejected during setup), so
// the count never goes below zero.
static void
peer_notify(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	atomic_int *peers = arg;
	int         n;

	LC_UNUSED(p);
	if (ev == NNG_PIPE_EV_ADD_POST) {
		atomic_fetch_add(peers, 1);
		return;
	}
	n = atomic_load(peers);
	while (n > 0 && !atomic_compare_exchange_weak(peers, &n, n - 1)) { }
}

static int
watch_peers(nng_socket sock, atomic_int *peers, const char *what)
{
	int rv;

	if ((rv = nng_pipe_notify(
	         sock, NNG_PIPE_EV_ADD_POST, peer_notify, peers)) != 0 ||
	    (rv = nng_pipe_notify(
	         sock, NNG_PIPE_EV_REM_POST, peer_notify, peers)) != 0) {
		lc_log_err("BUS-NOTIFY", "%s: pipe notify: %s", what,
		    nng_strerror(rv));
		return (LC_EINTERNAL);
	}
	return (0);
}

/*
 * Dialled sockets and their guard. nng 1.5.2 dials again in the
 * background after a refused connect, but a connection that is accepted
 * and then fails during the SP handshake (the peer exiting while it
 * accepts, as in a restart of every process at once) can leave the dialer
 * idle for good (nanomsg/nng#970): seen here as auth never reconnecting to
 * admin after POST /admin/restart, 1 run in 3. The same release can lose
 * the handshake's second half on the accepting side: the listener sends
 * its header and never reads the peer's, so the dialer sees a connection
 * that never answers (about 1 restart of every process at once in 10,
 * whether by execv or by the launcher). So every dialled socket has a
 * guard that counts its connections, and one process-wide thread closes
 * and re-creates the dialer of a socket that has had none for
 * REDIAL_AFTER_MS, or that its owner marks suspect: a client after
 * CALL_TIMEOUTS_SUSPECT calls in a row timed out, a subscriber after
 * SUB_SILENCE_MS without even a heartbeat, a respondent after
 * RESP_SILENCE_MS without a survey (the surveyor pings every
 * SURVEY_PING_MS).
 */
#define CALL_TIMEOUTS_SUSPECT 2
#define RESP_SILENCE_MS 6000
#define SURVEY_PING_MS 2000
#define REDIAL_AFTER_MS 1000
#define REDIAL_TICK_MS 250

struct dial_guard {
	nng_socket         sock;
	nng_dialer         d;
	char              *url;
	char              *what;
	atomic_int         pipes;
	atomic_int         suspect;     // redial at the next tick
	int64_t            empty_since; // lc_mono_ms(), 0: connected
	struct dial_guard *next;
};

static pthread_mutex_t    guard_mu    = PTHREAD_MUTEX_INITIALIZER;
static struct dial_guard *guards      = NULL;
static int                guard_th_on = 0;

static void
guard_tick(void)
{
	int64_t now = lc_mono_ms();

	pthread_mutex_lock(&guard_mu);
	for (struct dial_guard *g = guards; g != NULL; g = g->next) {
		int rv;

		if (atomic_exchange(&g->suspect, 0)) {
			lc_log_info("BUS-REDIAL",
			    "%s: connected but unanswered: dialling %s afresh",
			    g->what, g->url);
		} else if (atomic_load(&g->pipes) > 0) {
			g->empty_since = 0;
			continue;
		} else if (g->empty_since == 0) {
			g->empty_since = now;
			continue;
		} else if (now - g->empty_since < REDIAL_AFTER_MS) {
			continue;
		}
		g->empty_since = now;
		(void) nng_dialer_close(g->d);
		if ((rv = nng_dial(
		         g->sock, g->url, &g->d, NNG_FLAG_NONBLOCK)) != 0) {
			lc_log_warn("BUS-REDIAL", "%s: dial %s: %s", g->what,
			    g->url, nng_strerror(rv));
		} else {
			lc_log_debug("BUS-REDIAL", "%s: dialling %s afresh",
			    g->what, g->url);
		}
	}
	pthread_mutex_unlock(&guard_mu);
}

static void *
guard_main(void *arg)
{
	struct timespec tick = { 0, REDIAL_TICK_MS * 1000000L };

	LC_UNUSED(arg);
	for (;;) {
		(void) nanosleep(&tick, NULL);
		guard_tick();
	}
	return (NULL);
}

// Takes g off the guard thread's list: call it before closing its socket
// (the thread must not dial a closing socket). NULL is a no-op.
static void
guard_unlink(struct dial_guard *g)
{
	struct dial_guard **pp;

	if (g == NULL) {
		return;
	}
	pthread_mutex_lock(&guard_mu);
	for (pp = &guards; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	pthread_mutex_unlock(&guard_mu);
}

// Frees g after its socket is closed (pipe notifications reach g until
// then). NULL is a no-op.
static void
guard_free(struct dial_guard *g)
{
	if (g == NULL) {
		return;
	}
	guard_unlink(g);
	lc_free(g->url);
	lc_free(g->what);
	lc_free(g);
}

// Asks the guard thread to dial g's socket afresh. NULL is a no-op.
static void
guard_suspect(struct dial_guard *g)
{
	if (g != NULL) {
		atomic_store(&g->suspect, 1);
	}
}

// Sets the options every dialled socket gets, then dials in the
// background (the peer may not be up yet), under a guard (*out: the
// owner calls guard_unlink before closing the socket and guard_free
// after) whose pipes count the socket's connections.
static int
dial_bg(nng_socket sock, const char *url, const char *what,
    struct dial_guard **out)
{
	struct dial_guard *g;
	pthread_t          th;
	int                rv;

	if ((rv = nng_socket_set_ms(
	         sock, NNG_OPT_RECONNMINT, RECONN_MIN_MS)) != 0 ||
	    (rv = nng_socket_set_ms(
	         sock, NNG_OPT_RECONNMAXT, RECONN_MAX_MS)) != 0 ||
	    (rv = nng_socket_set_size(
	         sock, NNG_OPT_RECVMAXSZ, (size_t) LC_BUS_MAX_MSG)) != 0) {
		lc_log_err(
		    "BUS-OPT", "%s: set options: %s", what, nng_strerror(rv));
		return (LC_EINTERNAL);
	}
	g       = lc_calloc(1, sizeof(*g));
	g->sock = sock;
	g->url  = lc_strdup(url);
	g->what = lc_strdup(what);
	atomic_init(&g->pipes, 0);
	atomic_init(&g->suspect, 0);
	if ((rv = watch_peers(sock, &g->pipes, what)) != 0) {
		guard_free(g);
		return (rv);
	}
	pthread_mutex_lock(&guard_mu);
	if ((rv = nng_dial(sock, url, &g->d, NNG_FLAG_NONBLOCK)) != 0) {
		pthread_mutex_unlock(&guard_mu);
		lc_log_err("BUS-DIAL", "%s: dial %s: %s", what, url,
		    nng_strerror(rv));
		guard_free(g);
		return (LC_EINTERNAL);
	}
	g->next = guards;
	guards  = g;
	if (!guard_th_on && pthread_create(&th, NULL, guard_main, NULL) == 0) {
		(void) pthread_detach(th);
		guard_th_on = 1;
	}
	pthread_mutex_unlock(&guard_mu);
	*out = g;
	return (0);
}

static int
listen_on(nng_socket sock, const char *url, const char *what)
{
	int rv;

	if ((rv = nng_socket_set_size(
	         sock, NNG_OPT_RECVMAXSZ, (size_t) LC_BUS_MAX_MSG)) != 0) {
		lc_log_err("BUS-OPT", "%s: set recvmaxsz: %s", what,
		    nng_strerror(rv));
		return (LC_EINTERNAL);
	}
	if ((rv = nng_listen(sock, url, NULL, 0)) != 0) {
		lc_log_err("BUS-LISTEN", "%s: listen %s: %s", what, url,
		    nng_strerror(rv));
		return (LC_EINTERNAL);
	}
	return (0);
}

// Puts an encoded buffer into a new nng message.
static int
msg_from_buf(const void *buf, size_t len, nng_msg **out)
{
	nng_msg *m;
	int      rv;

	if ((rv = nng_msg_alloc(&m, len)) != 0) {
		lc_log_err("BUS-MSG", "msg alloc: %s", nng_strerror(rv));
		return (LC_ENOMEM);
	}
	if (len > 0) {
		memcpy(nng_msg_body(m), buf, len);
	}
	*out = m;
	return (0);
}

/* ==== server ==== */

enum { WK_IDLE = 0, WK_RECV, WK_BUSY };

struct worker {
	struct lc_bus_server *s;
	pthread_t             th;
	int                   th_started;
	nng_ctx               ctx;
	nng_aio              *aio;
	int                   state; // WK_*, guarded by s->mtx
	int                   init_ok;
	int                   receiver; // holds a receiver place (s->mtx)
	struct lc_worker      w;
};

struct lc_bus_server {
	struct lc_bus_server_cfg cfg;
	nng_socket               sock;
	int                      sock_open;
	struct worker           *wk;
	int                      nwk;
	pthread_mutex_t          mtx;
	pthread_cond_t           cv;
	int                      ninit;    // workers done with worker_init
	int                      init_err; // first worker_init error
	int                      go;       // 1: serve; set by open
	int                      draining; // close began: new requests get 503
	int                      nbusy;    // requests in handlers or replying
	int                      stopping; // workers leave their loop
	int                      nrunning; // workers not yet out of their loop
	int                      rfree;    // free receiver places
	pthread_cond_t           rcv;      // a place came free, or stopping
	atomic_uint_fast64_t     requests;
};

static const struct lc_op *
find_op(const struct lc_bus_server *s, int msg)
{
	if (msg < 0) {
		return (NULL);
	}
	for (size_t i = 0; i < s->cfg.nops; i++) {
		if (s->cfg.ops[i].msg == msg) {
			return (&s->cfg.ops[i]);
		}
	}
	return (NULL);
}

// Metrics: result is "error" when the reply is a 5xx (we failed: handler
// error, deadline passed, malformed envelope); any other status, 4xx
// included, is a request answered as designed and counts as "ok".
static void
count_request(
    struct lc_bus_server *s, const char *op, int status, int64_t t0_ns)
{
	char   labels[160];
	double secs;

	atomic_fetch_add(&s->requests, 1);
	if (s->cfg.metrics == NULL) {
		return;
	}
	secs = (double) (lc_mono_ns() - t0_ns) / 1e9;
	snprintf(labels, sizeof(labels), "op=\"%s\",result=\"%s\"", op,
	    status >= 500 ? "error" : "ok");
	lc_metrics_add(
	    s->cfg.metrics, "busbase_bus_requests_total", labels, 1);
	snprintf(labels, sizeof(labels), "op=\"%s\"", op);
	lc_metrics_observe(s->cfg.metrics,
	    "busbase_bus_request_duration_seconds", labels, secs);
}

// Encodes rp; if it cannot be encoded or is too big for the peer's
// RECVMAXSZ (which would close the pipe), sends a 500 instead.
static int
encode_reply(struct lc_rep *rp, void **out, size_t *out_len)
{
	int rv;

	if ((rv = lc_env_encode_rep(rp, out, out_len)) == 0) {
		if (*out_len <= (size_t) LC_BUS_MAX_MSG) {
			return (0);
		}
		lc_log_err("BUS-REPLY", "reply of %zu bytes exceeds the limit",
		    *out_len);
		lc_free(*out);
		*out = NULL;
	} else {
		lc_log_err("BUS-REPLY", "reply encode failed (%d)", rv);
	}
	lc_rep_fini(rp);
	lc_rep_init(rp);
	lc_rep_error(rp, LC_EINTERNAL, NULL, NULL);
	return (lc_env_encode_rep(rp, out, out_len));
}

// Handles one request message; on return *msgp holds the reply (the
// request message reused) or NULL when nothing is to be sent. With
// draining set, the handler is not run and the answer is a 503.
static void
serve_one(struct worker *wk, nng_msg **msgp, int draining)
{
	struct lc_bus_server *s   = wk->s;
	nng_msg              *msg = *msgp;
	struct lc_req         rq;
	struct lc_rep         rp;
	const struct lc_op   *op;
	const char           *opname = "unknown";
	void                 *buf    = NULL;
	size_t                len    = 0;
	int64_t               t0     = lc_mono_ns();
	char                  text[128];
	int                   rv;

	lc_req_init(&rq);
	lc_rep_init(&rp);
	if (lc_env_decode_req(nng_msg_body(msg), nng_msg_len(msg), &rq) != 0) {
		lc_log_warn("BUS-DECODE", "malformed request (%zu bytes)",
		    nng_msg_len(msg));
		lc_rep_error(
		    &rp, LC_EINVALID_BODY, "Malformed bus request.", NULL);
		goto reply;
	}
	lc_log_set_rid(rq.rid[0] != '\0' ? rq.rid : NULL);
	if (rq.op >= 0 && lc_msg_name(rq.op) != NULL) {
		opname = lc_msg_name(rq.op); // bounded label set
	}
	if ((op = find_op(s, rq.op)) == NULL) {
		snprintf(text, sizeof(text),
		    "Operation '%s' is not available.", rq.op_name);
		lc_rep_error(&rp, LC_ENOT_FOUND, text, NULL);
		goto reply;
	}
	if (draining) {
		lc_rep_error(&rp, LC_EUNAVAILABLE,
		    "Service unavailable: shutting down.", NULL);
		goto reply;
	}
	if (rq.deadline > 0 && lc_now_ms() > rq.deadline) {
		// The caller has given up; answer cheaply without the work.
		lc_log_debug("BUS-LATE", "%s past its deadline", opname);
		lc_rep_error(
		    &rp, LC_EUNAVAILABLE, "Request deadline passed.", NULL);
		goto reply;
	}
	rv = op->fn(&wk->w, &rq, &rp);
	if (rv != 0 && rp.status == 0) {
		lc_rep_error(&rp, rv, NULL, NULL);
	} else if (rp.status == 0) {
		rp.status = 200;
	}
reply:
	count_request(s, opname, rp.status, t0);
	lc_log_debug("BUS-REQ", "%s -> %d", opname, rp.status);
	if (encode_reply(&rp, &buf, &len) != 0) {
		// Even the 500 did not encode: drop; the caller times out.
		lc_log_err("BUS-REPLY", "cannot encode an error reply");
		nng_msg_free(msg);
		*msgp = NULL;
	} else {
		// The rep0 context supplies the routing header itself, so the
		// request message is reused for the reply body.
		nng_msg_clear(msg);
		if (nng_msg_append(msg, buf, len) != 0) {
			nng_msg_free(msg);
			*msgp = NULL;
		}
	}
	lc_free(buf);
	lc_req_fini(&rq);
	lc_rep_fini(&rp);
	lc_log_set_rid(NULL);
}

static void
send_reply(struct worker *wk, nng_msg *msg)
{
	int rv;

	nng_aio_set_msg(wk->aio, msg);
	nng_ctx_send(wk->ctx, wk->aio);
	nng_aio_wait(wk->aio);
	if ((rv = nng_aio_result(wk->aio)) != 0) {
		// A failed send leaves the message with us.
		nng_msg_free(nng_aio_get_msg(wk->aio));
		nng_aio_set_msg(wk->aio, NULL);
		if (rv != NNG_ECLOSED) {
			lc_log_warn("BUS-SEND", "worker %d: send: %s",
			    wk->w.idx, nng_strerror(rv));
		}
	}
}

// Under s->mtx: workers leave their loops (those waiting for a receiver
// place too).
static void
stop_workers(struct lc_bus_server *s)
{
	s->stopping = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_cond_broadcast(&s->rcv);
}

static void *
worker_main(void *arg)
{
	struct worker        *wk = arg;
	struct lc_bus_server *s  = wk->s;
	nng_msg              *msg;
	int                   draining;
	int                   rv = 0;

	if (s->cfg.worker_init != NULL) {
		rv = s->cfg.worker_init(&wk->w, s->cfg.arg);
	}
	wk->init_ok = rv == 0;
	pthread_mutex_lock(&s->mtx);
	s->ninit++;
	if (rv != 0 && s->init_err == 0) {
		s->init_err = rv;
	}
	pthread_cond_broadcast(&s->cv);
	while (!s->go && !s->stopping) {
		pthread_cond_wait(&s->cv, &s->mtx);
	}
	pthread_mutex_unlock(&s->mtx);

	for (;;) {
		pthread_mutex_lock(&s->mtx);
		while (!wk->receiver && s->rfree == 0 && !s->stopping) {
			pthread_cond_wait(&s->rcv, &s->mtx);
		}
		if (s->stopping) {
			pthread_mutex_unlock(&s->mtx);
			break;
		}
		if (!wk->receiver) {
			s->rfree--;
			wk->receiver = 1;
		}
		// Under the lock, so close either sees WK_RECV and cancels
		// this receive, or we see stopping above.
		wk->state = WK_RECV;
		nng_ctx_recv(wk->ctx, wk->aio);
		pthread_mutex_unlock(&s->mtx);

		nng_aio_wait(wk->aio);
		pthread_mutex_lock(&s->mtx);
		wk->state = WK_BUSY;
		pthread_mutex_unlock(&s->mtx);

		if ((rv = nng_aio_result(wk->aio)) != 0) {
			if (rv == NNG_ECLOSED) {
				break;
			}
			if (rv != NNG_ECANCELED) {
				lc_log_warn("BUS-RECV", "worker %d: recv: %s",
				    wk->w.idx, nng_strerror(rv));
			}
			continue;
		}
		msg = nng_aio_get_msg(wk->aio);
		pthread_mutex_lock(&s->mtx);
		draining = s->draining;
		if (!draining) {
			s->nbusy++;
		}
		pthread_mutex_unlock(&s->mtx);
		serve_one(wk, &msg, draining);
		if (msg != NULL) {
			send_reply(wk, msg);
		}
		if (!draining) {
			// Counted until the reply is out: a drain covers it.
			pthread_mutex_lock(&s->mtx);
			s->nbusy--;
			pthread_cond_broadcast(&s->cv);
			pthread_mutex_unlock(&s->mtx);
		}
	}

	if (wk->init_ok && s->cfg.worker_fini != NULL) {
		s->cfg.worker_fini(&wk->w, s->cfg.arg);
	}
	pthread_mutex_lock(&s->mtx);
	wk->state = WK_IDLE;
	s->nrunning--;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mtx);
	return (NULL);
}

// Joins every started worker and frees everything (workers must have been
// told to stop, or never started serving).
static void
server_free(struct lc_bus_server *s)
{
	if (s->sock_open) {
		nng_close(s->sock);
		s->sock_open = 0;
	}
	for (int i = 0; i < s->nwk; i++) {
		if (s->wk[i].th_started) {
			pthread_join(s->wk[i].th, NULL);
		}
	}
	for (int i = 0; i < s->nwk; i++) {
		if (s->wk[i].aio != NULL) {
			nng_aio_free(s->wk[i].aio);
		}
	}
	pthread_mutex_destroy(&s->mtx);
	pthread_cond_destroy(&s->cv);
	pthread_cond_destroy(&s->rcv);
	lc_free(s->wk);
	lc_free(s);
}

int
lc_bus_server_open(
    const struct lc_bus_server_cfg *cfg, struct lc_bus_server **out)
{
	struct lc_bus_server *s;
	int                   rv;
	int                   n = cfg->nworkers > 0 ? cfg->nworkers : 4;

	s      = lc_calloc(1, sizeof(*s));
	s->cfg = *cfg;
	s->wk  = lc_calloc((size_t) n, sizeof(*s->wk));
	s->nwk = n;
	pthread_mutex_init(&s->mtx, NULL);
	cond_init_mono(&s->cv);
	pthread_cond_init(&s->rcv, NULL);
	s->rfree =
	    cfg->receivers > 0 && cfg->receivers < n ? cfg->receivers : n;
	atomic_init(&s->requests, 0);

	if (cfg->metrics != NULL) {
		lc_metrics_family(cfg->metrics, "busbase_bus_requests_total",
		    LC_MT_COUNTER, "Bus requests handled, by op and result.");
		lc_metrics_family(cfg->metrics,
		    "busbase_bus_request_duration_seconds", LC_MT_HISTOGRAM,
		    "Bus request handling time in seconds, by op.");
	}
	if ((rv = nng_rep0_open(&s->sock)) != 0) {
		lc_log_err("BUS-OPEN", "rep0 open: %s", nng_strerror(rv));
		rv = LC_EINTERNAL;
		goto fail;
	}
	s->sock_open = 1;
	for (int i = 0; i < n; i++) {
		struct worker *wk = &s->wk[i];

		wk->s     = s;
		wk->w.svc = cfg->svc;
		wk->w.idx = i;
		wk->w.bus = wk;
		if ((rv = nng_ctx_open(&wk->ctx, s->sock)) != 0 ||
		    (rv = nng_aio_alloc(&wk->aio, NULL, NULL)) != 0) {
			lc_log_err(
			    "BUS-OPEN", "worker %d: %s", i, nng_strerror(rv));
			rv = LC_EINTERNAL;
			goto fail;
		}
	}
	for (int i = 0; i < n; i++) {
		pthread_mutex_lock(&s->mtx);
		s->nrunning++;
		pthread_mutex_unlock(&s->mtx);
		if (pthread_create(
		        &s->wk[i].th, NULL, worker_main, &s->wk[i]) != 0) {
			lc_log_err(
			    "BUS-OPEN", "pthread_create: %s", strerror(errno));
			pthread_mutex_lock(&s->mtx);
			s->nrunning--;
			s->init_err = LC_EINTERNAL;
			s->ninit    = n; // stop waiting for the missing ones
			pthread_mutex_unlock(&s->mtx);
			break;
		}
		s->wk[i].th_started = 1;
	}
	// Wait for every worker_init (on its own thread) before serving.
	pthread_mutex_lock(&s->mtx);
	while (s->ninit < n) {
		pthread_cond_wait(&s->cv, &s->mtx);
	}
	if ((rv = s->init_err) != 0) {
		stop_workers(s);
	} else {
		s->go = 1;
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mtx);
	if (rv != 0) {
		lc_log_err("BUS-OPEN", "worker init failed (%d)", rv);
		goto fail;
	}
	// Listen only now, every context and worker ready: peers that
	// reconnect at once meet a socket that can serve them, not a process
	// still busy opening databases (the lost nng 1.5.2 handshakes of the
	// guard above came with such bursts).
	if ((rv = listen_on(s->sock, cfg->url, "server")) != 0) {
		goto fail;
	}
	lc_log_debug("BUS-SERVE", "serving %s with %d workers", cfg->url, n);
	*out = s;
	return (0);
fail:
	pthread_mutex_lock(&s->mtx);
	stop_workers(s);
	pthread_mutex_unlock(&s->mtx);
	server_free(s);
	return (rv);
}

void
lc_bus_worker_blocking(struct lc_worker *w)
{
	struct worker        *wk = w->bus;
	struct lc_bus_server *s;

	if (wk == NULL) {
		return;
	}
	s = wk->s;
	pthread_mutex_lock(&s->mtx);
	if (wk->receiver) {
		wk->receiver = 0;
		s->rfree++;
		pthread_cond_signal(&s->rcv);
	}
	pthread_mutex_unlock(&s->mtx);
}

void
lc_bus_server_close(struct lc_bus_server *s, int drain_ms)
{
	struct timespec until;

	if (s == NULL) {
		return;
	}
	until = mono_after(drain_ms > 0 ? drain_ms : 0);
	pthread_mutex_lock(&s->mtx);
	// 1. Drain: requests already in a handler finish and are answered;
	//    new ones get a quick 503 (the socket stays up meanwhile, so
	//    callers are not left waiting for their timeout).
	s->draining = 1;
	while (s->nbusy > 0) {
		if (pthread_cond_timedwait(&s->cv, &s->mtx, &until) ==
		    ETIMEDOUT) {
			lc_log_warn("BUS-DRAIN",
			    "%d request(s) still running after %d ms",
			    s->nbusy, drain_ms);
			break;
		}
	}
	// 2. Stop: cancel the receives of idle workers; the others see
	//    `stopping` when their current message is done.
	stop_workers(s);
	for (int i = 0; i < s->nwk; i++) {
		if (s->wk[i].state == WK_RECV) {
			nng_aio_cancel(s->wk[i].aio);
		}
	}
	while (s->nrunning > 0 && s->nbusy == 0) {
		if (pthread_cond_timedwait(&s->cv, &s->mtx, &until) ==
		    ETIMEDOUT) {
			break;
		}
	}
	pthread_mutex_unlock(&s->mtx);
	// 3. Closing the socket aborts a reply still being sent; the join
	//    waits for a handler that outlived the drain.
	server_free(s);
}

uint64_t
lc_bus_server_requests(struct lc_bus_server *s)
{
	return (s == NULL ? 0 : (uint64_t) atomic_load(&s->requests));
}

/* ==== client ==== */

enum { CALL_IDLE = 0, CALL_SEND, CALL_RECV };

struct call {
	struct lc_client *c;
	nng_ctx           ctx;
	nng_aio          *aio;
	int               state;
	nng_time          deadline;
	lc_call_cb        cb;
	void             *arg;
	struct call      *next; // free list
};

struct lc_client {
	nng_socket         sock;
	struct dial_guard *guard;    // counts the connections
	atomic_int         timeouts; // calls in a row that timed out
	char              *name;
	char              *url;
	atomic_int         closing;
	struct call       *calls;
	int                ncalls;
	pthread_mutex_t    mtx; // guards free
	struct call       *free;
};

static void
call_release(struct call *k)
{
	struct lc_client *c = k->c;

	k->state = CALL_IDLE;
	k->cb    = NULL;
	k->arg   = NULL;
	pthread_mutex_lock(&c->mtx);
	k->next = c->free;
	c->free = k;
	pthread_mutex_unlock(&c->mtx);
}

// Ends a call: the slot goes back to the pool before the callback runs,
// so a caller woken by cb can start its next call at once (nng allows a
// new operation on an aio while its previous callback is still running).
static void
call_finish(struct call *k, int rv, nng_msg *msg)
{
	lc_call_cb cb  = k->cb;
	void      *arg = k->arg;

	call_release(k);
	cb(arg, rv, msg);
}

// The aio callback (nng thread): only state changes, no blocking.
static void
call_cb(void *arg)
{
	struct call *k  = arg;
	int          rv = nng_aio_result(k->aio);
	nng_duration left;
	nng_msg     *msg;

	switch (k->state) {
	case CALL_SEND:
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(k->aio));
			nng_aio_set_msg(k->aio, NULL);
			call_finish(k, map_nng(rv), NULL);
			return;
		}
		// The recv gets what is left of the call's own deadline.
		left = (nng_duration) ((int64_t) k->deadline -
		    (int64_t) nng_clock());
		if (left <= 0) {
			call_finish(k, LC_ETIMEDOUT, NULL);
			return;
		}
		k->state = CALL_RECV;
		nng_aio_set_timeout(k->aio, left);
		nng_ctx_recv(k->ctx, k->aio);
		return;
	case CALL_RECV:
		if (rv == NNG_ETIMEDOUT &&
		    atomic_fetch_add(&k->c->timeouts, 1) + 1 >=
		        CALL_TIMEOUTS_SUSPECT) {
			atomic_store(&k->c->timeouts, 0);
			guard_suspect(k->c->guard);
		} else if (rv == 0) {
			atomic_store(&k->c->timeouts, 0);
		}
		if (rv != 0) {
			if (rv != NNG_ETIMEDOUT && rv != NNG_ECLOSED &&
			    rv != NNG_ECANCELED) {
				lc_log_debug("BUS-CALL", "%s: %s", k->c->name,
				    nng_strerror(rv));
			}
			call_finish(k, map_nng(rv), NULL);
			return;
		}
		msg = nng_aio_get_msg(k->aio);
		nng_aio_set_msg(k->aio, NULL);
		call_finish(k, 0, msg);
		return;
	default:
		// Not reached: a completion without an operation.
		lc_log_err(
		    "BUS-CALL", "%s: completion in idle state", k->c->name);
		return;
	}
}

int
lc_client_open(const char *url, const char *name, int max_inflight,
    struct lc_client **out)
{
	struct lc_client *c;
	int               rv;
	int n = max_inflight > 0 ? max_inflight : CLIENT_DEFAULT_INFLIGHT;

	c       = lc_calloc(1, sizeof(*c));
	c->name = lc_strdup(name != NULL ? name : url);
	c->url  = lc_strdup(url);
	atomic_init(&c->closing, 0);
	atomic_init(&c->timeouts, 0);
	pthread_mutex_init(&c->mtx, NULL);
	c->calls = lc_calloc((size_t) n, sizeof(*c->calls));

	if ((rv = nng_req0_open(&c->sock)) != 0) {
		lc_log_err("BUS-OPEN", "%s: req0 open: %s", c->name,
		    nng_strerror(rv));
		lc_free(c->calls);
		lc_free(c->url);
		lc_free(c->name);
		pthread_mutex_destroy(&c->mtx);
		lc_free(c);
		return (LC_EINTERNAL);
	}
	// Never resend: a write must not run twice. Set on the socket before
	// the contexts are opened (they copy it) and on each one as well.
	if ((rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME,
	         NNG_DURATION_INFINITE)) != 0) {
		lc_log_err("BUS-OPT", "%s: resend time: %s", c->name,
		    nng_strerror(rv));
		rv = LC_EINTERNAL;
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		struct call *k = &c->calls[i];
		int          nr;

		k->c = c;
		if ((nr = nng_ctx_open(&k->ctx, c->sock)) != 0 ||
		    (nr = nng_ctx_set_ms(k->ctx, NNG_OPT_REQ_RESENDTIME,
		         NNG_DURATION_INFINITE)) != 0 ||
		    (nr = nng_aio_alloc(&k->aio, call_cb, k)) != 0) {
			lc_log_err("BUS-OPEN", "%s: call slot: %s", c->name,
			    nng_strerror(nr));
			rv = LC_EINTERNAL;
			goto fail;
		}
		c->ncalls = i + 1;
		k->next   = c->free;
		c->free   = k;
	}
	if ((rv = dial_bg(c->sock, url, c->name, &c->guard)) != 0) {
		goto fail;
	}
	*out = c;
	return (0);
fail:
	lc_client_close(c);
	return (rv);
}

void
lc_client_close(struct lc_client *c)
{
	if (c == NULL) {
		return;
	}
	atomic_store(&c->closing, 1);
	guard_unlink(c->guard);
	// First every call's aio stops: a pending call ends (cb gets
	// LC_EUNAVAILABLE) and, above all, a callback still inside
	// nng_ctx_recv finishes. nng 1.5.2 frees the socket under such a
	// callback when nng_close runs meanwhile (panic: pthread_mutex_lock:
	// Invalid argument), e.g. when the reply came at once on another
	// thread and the caller closed the client
	// (test_close_after_quick_call).
	for (int i = 0; i < c->ncalls; i++) {
		nng_aio_stop(c->calls[i].aio);
	}
	// A callback that tried to post its receive on a stopped aio is not
	// called again: such a call is still open, and ends here.
	for (int i = 0; i < c->ncalls; i++) {
		if (c->calls[i].state != CALL_IDLE && c->calls[i].cb != NULL) {
			call_finish(&c->calls[i], LC_EUNAVAILABLE, NULL);
		}
	}
	nng_close(c->sock);
	guard_free(c->guard);
	c->guard = NULL;
	for (int i = 0; i < c->ncalls; i++) {
		nng_aio_free(c->calls[i].aio);
	}
	pthread_mutex_destroy(&c->mtx);
	lc_free(c->calls);
	lc_free(c->url);
	lc_free(c->name);
	lc_free(c);
}

const char *
lc_client_name(const struct lc_client *c)
{
	return (c->name);
}

int
lc_client_peers(struct lc_client *c)
{
	return (c->guard != NULL ? atomic_load(&c->guard->pipes) : 0);
}

int
lc_client_call_async(struct lc_client *c, const void *buf, size_t len,
    int timeout_ms, lc_call_cb cb, void *arg)
{
	struct call *k;
	nng_msg     *m;
	int          rv;

	if (atomic_load(&c->closing) || lc_client_peers(c) <= 0) {
		return (LC_EUNAVAILABLE);
	}
	if (len > (size_t) LC_BUS_MAX_MSG) {
		lc_log_warn("BUS-CALL", "%s: request of %zu bytes too large",
		    c->name, len);
		return (LC_ELIMIT);
	}
	pthread_mutex_lock(&c->mtx);
	if ((k = c->free) != NULL) {
		c->free = k->next;
		k->next = NULL;
	}
	pthread_mutex_unlock(&c->mtx);
	if (k == NULL) {
		lc_log_debug(
		    "BUS-CALL", "%s: too many calls in flight", c->name);
		return (LC_EUNAVAILABLE);
	}
	if ((rv = msg_from_buf(buf, len, &m)) != 0) {
		call_release(k);
		return (rv);
	}
	if (timeout_ms <= 0) {
		timeout_ms = LC_BUS_TIMEOUT_MS;
	}
	k->cb       = cb;
	k->arg      = arg;
	k->state    = CALL_SEND;
	k->deadline = nng_clock() + (nng_time) timeout_ms;
	nng_aio_set_msg(k->aio, m);
	nng_aio_set_timeout(k->aio, (nng_duration) timeout_ms);
	nng_ctx_send(k->ctx, k->aio);
	return (0);
}

int
lc_client_reply(void *msg, struct lc_rep *rp)
{
	nng_msg *m = msg;

	return (lc_env_decode_rep(nng_msg_body(m), nng_msg_len(m), rp));
}

const void *
lc_client_msg_body(void *msg, size_t *len)
{
	nng_msg *m = msg;

	*len = nng_msg_len(m);
	return (nng_msg_body(m));
}

void
lc_client_msg_free(void *msg)
{
	if (msg != NULL) {
		nng_msg_free(msg);
	}
}

// A blocking call waits on this (on the caller's stack).
struct waiter {
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	int             done;
	int             rv;
	void           *msg;
};

static void
waiter_cb(void *arg, int rv, void *msg)
{
	struct waiter *wt = arg;

	pthread_mutex_lock(&wt->mtx);
	wt->rv   = rv;
	wt->msg  = msg;
	wt->done = 1;
	pthread_cond_signal(&wt->cv);
	pthread_mutex_unlock(&wt->mtx);
}

int
lc_client_call(struct lc_client *c, const struct lc_req *rq, int timeout_ms,
    struct lc_rep *rp)
{
	struct lc_req req = *rq; // shallow: the JSON values stay borrowed
	struct waiter wt;
	void         *buf = NULL;
	size_t        len = 0;
	int           rv;

	if (timeout_ms <= 0) {
		timeout_ms = LC_BUS_TIMEOUT_MS;
	}
	if (req.deadline == 0) {
		req.deadline = lc_now_ms() + timeout_ms;
	}
	if ((rv = lc_env_encode_req(&req, &buf, &len)) != 0) {
		lc_log_err(
		    "BUS-CALL", "%s: request encode failed (%d)", c->name, rv);
		return (rv);
	}
	memset(&wt, 0, sizeof(wt));
	pthread_mutex_init(&wt.mtx, NULL);
	pthread_cond_init(&wt.cv, NULL);
	rv = lc_client_call_async(c, buf, len, timeout_ms, waiter_cb, &wt);
	lc_free(buf);
	if (rv == 0) {
		pthread_mutex_lock(&wt.mtx);
		while (!wt.done) {
			pthread_cond_wait(&wt.cv, &wt.mtx);
		}
		pthread_mutex_unlock(&wt.mtx);
		if ((rv = wt.rv) == 0) {
			if ((rv = lc_client_reply(wt.msg, rp)) != 0) {
				lc_log_err("BUS-CALL",
				    "%s: malformed reply (%d)", c->name, rv);
				rv = LC_EUNAVAILABLE;
			}
			lc_client_msg_free(wt.msg);
		}
	}
	pthread_mutex_destroy(&wt.mtx);
	pthread_cond_destroy(&wt.cv);
	return (rv);
}

/* ==== pub ==== */

struct lc_pub {
	nng_socket      sock;
	pthread_mutex_t mtx; // guards seq, and keeps events in seq order
	pthread_cond_t  cv;
	uint64_t        seq;
	int             stop;
	pthread_t       hb;
	int             hb_started;
	atomic_int      peers; // connected subscribers
	char            src[SRC_MAX];
};

// Encodes and sends one event; p->mtx held, so the wire order is the seq
// order (heartbeats included).
static int
pub_emit(struct lc_pub *p, int topic, uint64_t seq, const json_t *payload)
{
	void  *buf = NULL;
	size_t len = 0;
	int    rv;

	if ((rv = lc_env_encode_event(
	         topic, seq, lc_now_ms(), p->src, payload, &buf, &len)) != 0) {
		lc_log_err("BUS-PUB", "event encode failed (%d)", rv);
		return (rv);
	}
	// pub0 never blocks: a full subscriber queue drops the message.
	if ((rv = nng_send(p->sock, buf, len, 0)) != 0) {
		lc_log_warn("BUS-PUB", "send: %s", nng_strerror(rv));
		rv = map_nng(rv);
	}
	lc_free(buf);
	return (rv);
}

static void *
pub_heartbeat(void *arg)
{
	struct lc_pub  *p = arg;
	struct timespec until;

	pthread_mutex_lock(&p->mtx);
	while (!p->stop) {
		json_t *pl = json_pack("{s:I}", "seq", (json_int_t) p->seq);

		// A heartbeat carries the current seq and does not take one.
		(void) pub_emit(p, LC_TOPIC_HEARTBEAT, p->seq, pl);
		json_decref(pl);
		until = mono_after(HEARTBEAT_MS);
		while (!p->stop &&
		    pthread_cond_timedwait(&p->cv, &p->mtx, &until) !=
		        ETIMEDOUT) { }
	}
	pthread_mutex_unlock(&p->mtx);
	return (NULL);
}

int
lc_pub_open(const char *url, const char *src, struct lc_pub **out)
{
	struct lc_pub *p;
	int            rv;

	p = lc_calloc(1, sizeof(*p));
	pthread_mutex_init(&p->mtx, NULL);
	cond_init_mono(&p->cv);
	// A boot id makes a restarted publisher visible to subscribers.
	snprintf(p->src, sizeof(p->src), "%s:%08x%08x", src, nng_random(),
	    nng_random());
	if ((rv = nng_pub0_open(&p->sock)) != 0) {
		lc_log_err("BUS-OPEN", "pub0 open: %s", nng_strerror(rv));
		pthread_mutex_destroy(&p->mtx);
		pthread_cond_destroy(&p->cv);
		lc_free(p);
		return (LC_EINTERNAL);
	}
	if ((rv = nng_socket_set_int(p->sock, NNG_OPT_SENDBUF, PUBSUB_BUF)) !=
	    0) {
		lc_log_err("BUS-OPT", "pub sendbuf: %s", nng_strerror(rv));
		rv = LC_EINTERNAL;
		goto fail;
	}
	atomic_init(&p->peers, 0);
	if ((rv = watch_peers(p->sock, &p->peers, "pub")) != 0 ||
	    (rv = listen_on(p->sock, url, "pub")) != 0) {
		goto fail;
	}
	if (pthread_create(&p->hb, NULL, pub_heartbeat, p) != 0) {
		lc_log_err("BUS-OPEN", "pthread_create: %s", strerror(errno));
		rv = LC_EINTERNAL;
		goto fail;
	}
	p->hb_started = 1;
	*out          = p;
	return (0);
fail:
	lc_pub_close(p);
	return (rv);
}

void
lc_pub_close(struct lc_pub *p)
{
	if (p == NULL) {
		return;
	}
	pthread_mutex_lock(&p->mtx);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mtx);
	if (p->hb_started) {
		pthread_join(p->hb, NULL);
	}
	nng_close(p->sock);
	pthread_mutex_destroy(&p->mtx);
	pthread_cond_destroy(&p->cv);
	lc_free(p);
}

uint64_t
lc_pub_send(struct lc_pub *p, int topic, const json_t *payload)
{
	json_t  *nul = NULL;
	uint64_t seq;

	if (payload == NULL) {
		payload = nul = json_null();
	}
	pthread_mutex_lock(&p->mtx);
	seq = ++p->seq;
	// If the send fails the seq is still used: subscribers see a gap
	// and resync, which is the safe outcome. With no subscriber the
	// event is not even encoded; one that connects later starts from a
	// heartbeat's seq anyway (it resyncs on a new publisher).
	if (atomic_load(&p->peers) > 0) {
		(void) pub_emit(p, topic, seq, payload);
	}
	pthread_mutex_unlock(&p->mtx);
	json_decref(nul);
	return (seq);
}

uint64_t
lc_pub_seq(struct lc_pub *p)
{
	uint64_t seq;

	pthread_mutex_lock(&p->mtx);
	seq = p->seq;
	pthread_mutex_unlock(&p->mtx);
	return (seq);
}

const char *
lc_pub_src(const struct lc_pub *p)
{
	return (p->src);
}

/* ==== sub ==== */

/*
 * Staying in sync (snapshot + stream), the rule used here:
 *
 * `last` is the seq of the newest event whose effect is in the subscriber's
 * state. Every publisher sends its events and heartbeats in seq order (one
 * mutex), and publishes an event only after its change is visible to the
 * snapshot op. A resync is always started *after* receiving a message with
 * seq S from the current src (or with S = last after silence), so the
 * snapshot fetched contains every event <= S; after it succeeds, last = S:
 * older or equal events still queued are ignored, S+1 is expected next.
 * Events between S+1 and the snapshot's real position may be applied a
 * second time, so on_event must be idempotent (version checks, upserts).
 *
 * Triggers: the first message from a new src (start, publisher restart):
 * S = its seq, not applied; an event with seq > last+1 (a gap): S = its
 * seq, not applied; a heartbeat with seq > last (events were dropped):
 * S = its seq; 3 s without any message: S = last. Before any message has
 * been heard, the resync at start still runs (the owner gets a snapshot
 * early), but the sub is not in sync until a message gives it a src and a
 * seq, which triggers the resync that counts.
 *
 * Topics: the sub receives every event of the publisher (see lc_sub_open)
 * so the seq stream has no holes by design; unwanted topics only advance
 * `last`.
 */
struct lc_sub {
	nng_socket         sock;
	struct dial_guard *guard;
	lc_sub_event_fn    on_event;
	lc_sub_resync_fn   on_resync;
	void              *arg;
	pthread_t          th;
	int                th_started;
	atomic_int         in_sync;
	pthread_mutex_t    mtx; // guards stop (and the backoff wait)
	pthread_cond_t     cv;
	int                stop;
	char               src[SRC_MAX]; // current publisher ("" = none yet)
	uint64_t           last;
	char want[LC_TOPIC_COUNT]; // topics delivered to on_event
};

static int
sub_stopping(struct lc_sub *s)
{
	int stop;

	pthread_mutex_lock(&s->mtx);
	stop = s->stop;
	pthread_mutex_unlock(&s->mtx);
	return (stop);
}

// Calls on_resync until it succeeds; returns 0, or -1 when stopping.
static int
sub_resync(struct lc_sub *s)
{
	int             wait_ms = RESYNC_MIN_MS;
	struct timespec until;
	int             rv;

	for (;;) {
		if (sub_stopping(s)) {
			return (-1);
		}
		if ((rv = s->on_resync(s->arg)) == 0) {
			return (0);
		}
		lc_log_debug("BUS-RESYNC",
		    "resync failed (%d), retry in %d ms", rv, wait_ms);
		pthread_mutex_lock(&s->mtx);
		until = mono_after(wait_ms);
		while (!s->stop &&
		    pthread_cond_timedwait(&s->cv, &s->mtx, &until) !=
		        ETIMEDOUT) { }
		pthread_mutex_unlock(&s->mtx);
		wait_ms =
		    wait_ms * 2 > RESYNC_MAX_MS ? RESYNC_MAX_MS : wait_ms * 2;
	}
}

static void *
sub_main(void *arg)
{
	struct lc_sub *s           = arg;
	int            need_resync = 1;
	uint64_t       synced_at   = 0; // S of the pending resync
	nng_time       heard       = nng_clock();
	char           src[SRC_MAX];

	for (;;) {
		nng_msg *m = NULL;
		json_t  *pl;
		uint64_t seq;
		int64_t  ts;
		int      topic;
		int      rv;

		if (need_resync) {
			atomic_store(&s->in_sync, 0);
			if (sub_resync(s) != 0) {
				break;
			}
			need_resync = 0;
			heard       = nng_clock();
			if (s->src[0] != '\0') {
				s->last = synced_at;
				atomic_store(&s->in_sync, 1);
				lc_log_debug("BUS-RESYNC",
				    "in sync at %" PRIu64, s->last);
			}
		}
		if ((rv = nng_recvmsg(s->sock, &m, 0)) != 0) {
			if (rv == NNG_ECLOSED) {
				break;
			}
			if (rv != NNG_ETIMEDOUT) {
				lc_log_warn(
				    "BUS-SUB", "recv: %s", nng_strerror(rv));
			}
			if (nng_clock() - heard >= SUB_SILENCE_MS) {
				lc_log_debug("BUS-SUB", "silence: resync");
				guard_suspect(s->guard);
				synced_at   = s->last;
				need_resync = 1;
			}
			continue;
		}
		heard = nng_clock();
		rv    = lc_env_decode_event(nng_msg_body(m), nng_msg_len(m),
		       &topic, &seq, &ts, src, sizeof(src), &pl);
		nng_msg_free(m);
		if (rv != 0) {
			lc_log_warn("BUS-SUB", "malformed event dropped");
			continue;
		}
		if (strcmp(src, s->src) != 0) {
			lc_log_info("BUS-SUB",
			    "publisher %s (seq %" PRIu64 ")", src, seq);
			snprintf(s->src, sizeof(s->src), "%s", src);
			synced_at   = seq;
			need_resync = 1;
		} else if (topic == LC_TOPIC_HEARTBEAT) {
			if (seq > s->last) {
				lc_log_debug("BUS-SUB",
				    "heartbeat %" PRIu64 " > %" PRIu64, seq,
				    s->last);
				synced_at   = seq;
				need_resync = 1;
			}
		} else if (seq == s->last + 1) {
			s->last = seq;
			if (topic >= 0 && topic < LC_TOPIC_COUNT &&
			    s->want[topic]) {
				s->on_event(s->arg, topic, seq, pl);
			}
		} else if (seq > s->last + 1) {
			lc_log_debug("BUS-SUB",
			    "gap: %" PRIu64 " after %" PRIu64, seq, s->last);
			synced_at   = seq;
			need_resync = 1;
		}
		// else: seq <= last, already in the state
		json_decref(pl);
	}
	atomic_store(&s->in_sync, 0);
	return (NULL);
}

int
lc_sub_open(const char *url, const int *topics, size_t ntopics,
    lc_sub_event_fn on_event, lc_sub_resync_fn on_resync, void *arg,
    struct lc_sub **out)
{
	struct lc_sub *s;
	int            rv;

	s            = lc_calloc(1, sizeof(*s));
	s->on_event  = on_event;
	s->on_resync = on_resync;
	s->arg       = arg;
	atomic_init(&s->in_sync, 0);
	pthread_mutex_init(&s->mtx, NULL);
	cond_init_mono(&s->cv);
	if ((rv = nng_sub0_open(&s->sock)) != 0) {
		lc_log_err("BUS-OPEN", "sub0 open: %s", nng_strerror(rv));
		pthread_mutex_destroy(&s->mtx);
		pthread_cond_destroy(&s->cv);
		lc_free(s);
		return (LC_EINTERNAL);
	}
	if ((rv = nng_socket_set_int(s->sock, NNG_OPT_RECVBUF, PUBSUB_BUF)) !=
	        0 ||
	    (rv = nng_socket_set_ms(
	         s->sock, NNG_OPT_RECVTIMEO, SUB_RECV_MS)) != 0) {
		lc_log_err("BUS-OPT", "sub options: %s", nng_strerror(rv));
		rv = LC_EINTERNAL;
		goto fail;
	}
	// The seq is per publisher, across all of its topics, so a gap can
	// only be told from a filtered-out topic if every event arrives: we
	// subscribe to everything the publisher sends (empty prefix, explicit
	// length 0 -- never nng_socket_set_string, which would add the NUL)
	// and deliver only the topics asked for.
	for (size_t i = 0; i < ntopics; i++) {
		if (lc_topic_tag(topics[i]) == NULL ||
		    topics[i] >= (int) LC_NELEM(s->want)) {
			lc_log_err("BUS-SUB", "unknown topic %d", topics[i]);
			rv = LC_EINTERNAL;
			goto fail;
		}
		s->want[topics[i]] = 1;
	}
	if ((rv = nng_socket_set(s->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0)) !=
	    0) {
		lc_log_err("BUS-SUB", "subscribe: %s", nng_strerror(rv));
		rv = LC_EINTERNAL;
		goto fail;
	}
	if ((rv = dial_bg(s->sock, url, "sub", &s->guard)) != 0) {
		goto fail;
	}
	if (pthread_create(&s->th, NULL, sub_main, s) != 0) {
		lc_log_err("BUS-OPEN", "pthread_create: %s", strerror(errno));
		rv = LC_EINTERNAL;
		goto fail;
	}
	s->th_started = 1;
	*out          = s;
	return (0);
fail:
	lc_sub_close(s);
	return (rv);
}

void
lc_sub_close(struct lc_sub *s)
{
	if (s == NULL) {
		return;
	}
	pthread_mutex_lock(&s->mtx);
	s->stop = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mtx);
	// Closing the socket ends a pending receive with NNG_ECLOSED; a
	// resync in progress finishes first.
	guard_unlink(s->guard);
	nng_close(s->sock);
	guard_free(s->guard);
	s->guard = NULL;
	if (s->th_started) {
		pthread_join(s->th, NULL);
	}
	pthread_mutex_destroy(&s->mtx);
	pthread_cond_destroy(&s->cv);
	lc_free(s);
}

int
lc_sub_in_sync(struct lc_sub *s)
{
	return (atomic_load(&s->in_sync));
}

/* ==== survey ==== */

struct lc_survey {
	nng_socket      sock;
	char           *url;
	atomic_int      peers;
	atomic_int      expect; // respondents that should be there (0: ?)
	pthread_mutex_t mtx;    // one survey at a time; the socket
	pthread_t       ping_th;
	int             ping_started;
	pthread_mutex_t ping_mtx; // guards ping_stop
	pthread_cond_t  ping_cv;
	int             ping_stop;
};

#define SURVEY_SHORT_MS 6000

// Opens the surveyor socket on s->url, counting its respondents.
static int
survey_sock_open(struct lc_survey *s)
{
	int rv;

	if ((rv = nng_surveyor0_open(&s->sock)) != 0) {
		lc_log_err("BUS-OPEN", "surveyor0 open: %s", nng_strerror(rv));
		return (LC_EINTERNAL);
	}
	if ((rv = watch_peers(s->sock, &s->peers, "survey")) != 0 ||
	    (rv = listen_on(s->sock, s->url, "survey")) != 0) {
		nng_close(s->sock);
		return (rv);
	}
	return (0);
}

// Replaces the surveyor socket (its connections close; respondents dial
// the new one).
static void
survey_reopen(struct lc_survey *s)
{
	pthread_mutex_lock(&s->mtx);
	lc_log_warn("BUS-SURVEY",
	    "%d of %d respondents: listening afresh on %s",
	    atomic_load(&s->peers), atomic_load(&s->expect), s->url);
	nng_close(s->sock); // waits for its pipes: no late notifications
	atomic_store(&s->peers, 0);
	if (survey_sock_open(s) != 0) {
		lc_log_err("BUS-SURVEY", "cannot listen again on %s", s->url);
	}
	pthread_mutex_unlock(&s->mtx);
}

void
lc_survey_expect(struct lc_survey *s, int n)
{
	atomic_store(&s->expect, n);
}

// Every SURVEY_PING_MS, unless a survey is running, a short svc.ping
// survey: respondents that hear nothing for RESP_SILENCE_MS dial again
// (see the guard at the top of the file).
static void *
survey_ping_main(void *arg)
{
	struct lc_survey *s = arg;
	struct lc_req     rq;

	lc_req_init(&rq);
	rq.op = LC_MSG_SVC_PING;
	(void) snprintf(rq.op_name, sizeof(rq.op_name), "%s",
	    lc_msg_name(LC_MSG_SVC_PING));
	int64_t short_since = 0;
	int64_t short_wait  = SURVEY_SHORT_MS; // doubles while under 60 s

	for (;;) {
		struct timespec until = mono_after(SURVEY_PING_MS);
		json_t         *out   = NULL;
		int             stop;
		int             want = atomic_load(&s->expect);

		pthread_mutex_lock(&s->ping_mtx);
		while (!s->ping_stop &&
		    pthread_cond_timedwait(
		        &s->ping_cv, &s->ping_mtx, &until) != ETIMEDOUT) { }
		stop = s->ping_stop;
		pthread_mutex_unlock(&s->ping_mtx);
		if (stop) {
			break;
		}
		// Fewer respondents than expected for SURVEY_SHORT_MS: the
		// listener may have stopped finishing handshakes (see the
		// guard): a fresh socket, and the respondents dial again.
		if (want > 0 && atomic_load(&s->peers) < want) {
			if (short_since == 0) {
				short_since = lc_mono_ms();
			} else if (lc_mono_ms() - short_since >= short_wait) {
				// A respondent really gone (a service not
				// run) is not worth a re-listen every 6 s.
				short_since = 0;
				short_wait  = short_wait < 10 * SURVEY_SHORT_MS
				     ? short_wait * 2
				     : short_wait;
				survey_reopen(s);
			}
		} else {
			short_since = 0;
			short_wait  = SURVEY_SHORT_MS;
		}
		if (pthread_mutex_trylock(&s->mtx) != 0) {
			continue; // a real survey is running: it counts
		}
		pthread_mutex_unlock(&s->mtx);
		if (lc_survey_ask(s, &rq, 200, &out) == 0) {
			json_decref(out);
		}
	}
	lc_req_fini(&rq);
	return (NULL);
}

int
lc_survey_open(const char *url, struct lc_survey **out)
{
	struct lc_survey *s;
	int               rv;

	s = lc_calloc(1, sizeof(*s));
	atomic_init(&s->peers, 0);
	atomic_init(&s->expect, 0);
	s->url = lc_strdup(url);
	pthread_mutex_init(&s->mtx, NULL);
	if ((rv = survey_sock_open(s)) != 0) {
		pthread_mutex_destroy(&s->mtx);
		lc_free(s->url);
		lc_free(s);
		return (rv);
	}
	pthread_mutex_init(&s->ping_mtx, NULL);
	cond_init_mono(&s->ping_cv);
	if (pthread_create(&s->ping_th, NULL, survey_ping_main, s) != 0) {
		lc_log_err("BUS-OPEN", "survey ping: pthread_create failed");
		lc_survey_close(s);
		return (LC_EINTERNAL);
	}
	s->ping_started = 1;
	*out            = s;
	return (0);
}

void
lc_survey_close(struct lc_survey *s)
{
	if (s == NULL) {
		return;
	}
	if (s->ping_started) {
		pthread_mutex_lock(&s->ping_mtx);
		s->ping_stop = 1;
		pthread_cond_signal(&s->ping_cv);
		pthread_mutex_unlock(&s->ping_mtx);
		pthread_join(s->ping_th, NULL);
	}
	nng_close(s->sock);
	pthread_cond_destroy(&s->ping_cv);
	pthread_mutex_destroy(&s->ping_mtx);
	pthread_mutex_destroy(&s->mtx);
	lc_free(s->url);
	lc_free(s);
}

int
lc_survey_peers(struct lc_survey *s)
{
	return (atomic_load(&s->peers));
}

int
lc_survey_ask(
    struct lc_survey *s, const struct lc_req *rq, int timeout_ms, json_t **out)
{
	struct lc_req req = *rq;
	json_t       *arr = NULL;
	void         *buf = NULL;
	size_t        len = 0;
	int           want;
	int           got = 0;
	int           rv;

	if (timeout_ms <= 0) {
		timeout_ms = LC_BUS_TIMEOUT_MS;
	}
	if (req.deadline == 0) {
		req.deadline = lc_now_ms() + timeout_ms;
	}
	if ((rv = lc_env_encode_req(&req, &buf, &len)) != 0) {
		lc_log_err("BUS-SURVEY", "request encode failed (%d)", rv);
		return (rv);
	}
	pthread_mutex_lock(&s->mtx);
	arr  = json_array();
	want = atomic_load(&s->peers);
	if (want == 0) {
		goto done;
	}
	// The survey ends at SURVEYTIME with NNG_ETIMEDOUT: the normal end.
	// RECVTIMEO is a backstop of the same length.
	if ((rv = nng_socket_set_ms(s->sock, NNG_OPT_SURVEYOR_SURVEYTIME,
	         (nng_duration) timeout_ms)) != 0 ||
	    (rv = nng_socket_set_ms(s->sock, NNG_OPT_RECVTIMEO,
	         (nng_duration) timeout_ms + 100)) != 0) {
		lc_log_err("BUS-SURVEY", "options: %s", nng_strerror(rv));
		rv = LC_EINTERNAL;
		goto out;
	}
	if ((rv = nng_send(s->sock, buf, len, 0)) != 0) {
		lc_log_err("BUS-SURVEY", "send: %s", nng_strerror(rv));
		rv = map_nng(rv);
		goto out;
	}
	while (got < want) {
		nng_msg      *m = NULL;
		struct lc_rep rp;

		if ((rv = nng_recvmsg(s->sock, &m, 0)) != 0) {
			if (rv != NNG_ETIMEDOUT) {
				lc_log_warn("BUS-SURVEY", "recv: %s",
				    nng_strerror(rv));
			}
			break;
		}
		lc_rep_init(&rp);
		if (lc_env_decode_rep(nng_msg_body(m), nng_msg_len(m), &rp) ==
		    0) {
			json_array_append(
			    arr, rp.body != NULL ? rp.body : json_null());
		} else {
			lc_log_warn("BUS-SURVEY", "malformed answer dropped");
		}
		lc_rep_fini(&rp);
		nng_msg_free(m);
		got++;
	}
	lc_log_debug("BUS-SURVEY", "%d of %d answered", got, want);
done:
	*out = arr;
	arr  = NULL;
	rv   = 0;
out:
	pthread_mutex_unlock(&s->mtx);
	json_decref(arr);
	lc_free(buf);
	return (rv);
}

struct lc_resp {
	nng_socket         sock;
	struct dial_guard *guard;
	lc_handler_fn      fn;
	struct lc_worker   w; // a copy of the caller's
	pthread_t          th;
	int                th_started;
};

static void *
resp_main(void *arg)
{
	struct lc_resp *r     = arg;
	nng_time        heard = nng_clock();

	for (;;) {
		nng_msg      *m = NULL;
		struct lc_req rq;
		struct lc_rep rp;
		void         *buf = NULL;
		size_t        len = 0;
		int           rv;

		if ((rv = nng_recvmsg(r->sock, &m, 0)) != 0) {
			if (rv == NNG_ECLOSED) {
				break;
			}
			if (rv != NNG_ETIMEDOUT) {
				lc_log_warn(
				    "BUS-RESP", "recv: %s", nng_strerror(rv));
			}
			// The surveyor pings every SURVEY_PING_MS: silence
			// means a connection it does not see (see the guard).
			if (nng_clock() - heard >= RESP_SILENCE_MS) {
				heard = nng_clock();
				guard_suspect(r->guard);
			}
			continue;
		}
		heard = nng_clock();
		lc_req_init(&rq);
		lc_rep_init(&rp);
		if (lc_env_decode_req(nng_msg_body(m), nng_msg_len(m), &rq) !=
		    0) {
			lc_log_warn("BUS-RESP", "malformed survey dropped");
			goto next;
		}
		lc_log_set_rid(rq.rid[0] != '\0' ? rq.rid : NULL);
		if (rq.op == LC_MSG_SVC_PING) {
			lc_rep_json(&rp, 200, json_object()); // heard: enough
			rv = 0;
		} else {
			rv = r->fn(&r->w, &rq, &rp);
		}
		if (rv != 0 && rp.status == 0) {
			lc_rep_error(&rp, rv, NULL, NULL);
		} else if (rp.status == 0) {
			rp.status = 200;
		}
		if (encode_reply(&rp, &buf, &len) == 0) {
			if ((rv = nng_send(r->sock, buf, len, 0)) != 0 &&
			    rv != NNG_ECLOSED) {
				lc_log_warn(
				    "BUS-RESP", "send: %s", nng_strerror(rv));
			}
		}
		lc_free(buf);
		lc_log_set_rid(NULL);
	next:
		lc_req_fini(&rq);
		lc_rep_fini(&rp);
		nng_msg_free(m);
	}
	return (NULL);
}

int
lc_resp_open(const char *url, lc_handler_fn fn, struct lc_worker *w,
    struct lc_resp **out)
{
	struct lc_resp *r;
	int             rv;

	r     = lc_calloc(1, sizeof(*r));
	r->fn = fn;
	if (w != NULL) {
		r->w = *w;
	}
	if ((rv = nng_respondent0_open(&r->sock)) != 0) {
		lc_log_err(
		    "BUS-OPEN", "respondent0 open: %s", nng_strerror(rv));
		lc_free(r);
		return (LC_EINTERNAL);
	}
	if ((rv = nng_socket_set_ms(r->sock, NNG_OPT_RECVTIMEO, 1000)) != 0) {
		lc_log_err(
		    "BUS-OPT", "respondent: recvtimeo: %s", nng_strerror(rv));
		rv = LC_EINTERNAL;
		goto fail;
	}
	if ((rv = dial_bg(r->sock, url, "respondent", &r->guard)) != 0) {
		goto fail;
	}
	if (pthread_create(&r->th, NULL, resp_main, r) != 0) {
		lc_log_err("BUS-OPEN", "pthread_create: %s", strerror(errno));
		rv = LC_EINTERNAL;
		goto fail;
	}
	r->th_started = 1;
	*out          = r;
	return (0);
fail:
	lc_resp_close(r);
	return (rv);
}

void
lc_resp_close(struct lc_resp *r)
{
	if (r == NULL) {
		return;
	}
	guard_unlink(r->guard);
	nng_close(r->sock);
	guard_free(r->guard);
	r->guard = NULL; // ends the pending receive with NNG_ECLOSED
	if (r->th_started) {
		pthread_join(r->th, NULL);
	}
	lc_free(r);
}
