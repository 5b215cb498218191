/*
 * lc_bus.h -- the message bus over nng (ARCHITECTURE.md §2, STYLE.md §5).
 *
 * Server: one rep0 socket and N worker threads. Each worker is an actor that
 * owns one nng context, one aio and its own state (usually one SQLite
 * connection, set up by worker_init on the worker's thread). Loop: recv ->
 * lc_env_decode_req -> op table -> handler -> lc_env_encode_rep -> send.
 * Handlers run on the worker thread and may block (SQLite); never in an nng
 * callback. With `receivers` set, at most that many workers wait on the
 * socket at once (each wakeup of a parked worker is a context switch, and
 * 16 parked workers made short requests 30% dearer on 2 cores); a handler
 * about to wait long (for the writer) calls lc_bus_worker_blocking and an
 * idle worker takes its place. Every request is counted in the metrics
 * registry given (busbase_bus_requests_total{op,result},
 * busbase_bus_request_duration_seconds).
 *
 * Client: one req0 socket dialled in the background (NNG_FLAG_NONBLOCK,
 * reconnect 20-500 ms), NNG_OPT_REQ_RESENDTIME infinite so a request is
 * never sent twice, a deadline on every call, a bound on calls in flight,
 * and a fast LC_EUNAVAILABLE when no peer is connected or the bound is hit.
 *
 * Pub: pub0 listener; every event carries the publisher's seq (increments
 * per event) and src ("<name>:<boot id>"); a heartbeat with the current seq
 * goes out every second. Sub: a thread that receives, detects gaps, a new
 * src, or 3 s of silence, and asks its owner to resync (fetch a snapshot).
 *
 * Survey: admin's surveyor asks every connected respondent (every process,
 * gateways included) one question and gathers the answers; used to confirm
 * settings changes and to gather process info.
 *
 * All receive limits are set (NNG_OPT_RECVMAXSZ = LC_BUS_MAX_MSG).
 */
#ifndef LC_BUS_H
#define LC_BUS_H

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "lc_common.h"
#include "lc_env.h"
#include "lc_metrics.h"

#define LC_BUS_MAX_MSG (20 * 1024 * 1024)
#define LC_BUS_TIMEOUT_MS 10000

struct lc_service;

// A worker's state, passed to every handler it runs.
struct lc_worker {
	struct lc_service *svc; // the owning service (NULL in bare servers)
	sqlite3           *db;  // this worker's connection, or NULL
	int                idx;
	void              *user; // set by worker_init
	void              *bus;  // the server's own; NULL outside a server
};

// A handler validates, does the work, fills rp and returns 0 or an LC_E*
// code. On a non-zero return with rp->status still 0, the server sends
// lc_rep_error(rp, rv, NULL, NULL).
typedef int (*lc_handler_fn)(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);

struct lc_op {
	int           msg; // enum lc_msg
	lc_handler_fn fn;
};

struct lc_bus_server_cfg {
	const char         *url; // listen address
	int                 nworkers;
	const struct lc_op *ops; // searched in order
	size_t              nops;
	struct lc_metrics  *metrics; // may be NULL
	// Called on each worker thread before it serves; returns 0 or an
	// error.
	// Workers waiting on the socket at once (0: all of them).
	int receivers;
	int (*worker_init)(struct lc_worker *w, void *arg);
	void (*worker_fini)(struct lc_worker *w, void *arg);
	void              *arg;
	struct lc_service *svc;
};

struct lc_bus_server;

LC_NODISCARD int lc_bus_server_open(
    const struct lc_bus_server_cfg *cfg, struct lc_bus_server **out);
// Stops taking new requests, waits up to drain_ms for in-flight ones, then
// joins the workers and closes the socket. NULL is a no-op.
void lc_bus_server_close(struct lc_bus_server *s, int drain_ms);
// Called by a handler before it may wait long: gives up this worker's
// place among the receivers to an idle worker (once per request; a no-op
// without `receivers` or outside a server).
void lc_bus_worker_blocking(struct lc_worker *w);
// Requests handled since start.
uint64_t lc_bus_server_requests(struct lc_bus_server *s);

/* ---- client ---- */

struct lc_client;

// Called exactly once per accepted call, on an nng thread: no blocking, no
// SQLite. On success rv is 0 and msg is the reply (ownership passes to the
// callee: decode with lc_client_reply then lc_client_msg_free). On failure
// msg is NULL and rv is LC_ETIMEDOUT or LC_EUNAVAILABLE.
typedef void (*lc_call_cb)(void *arg, int rv, void *msg);

// name is the service name used in log lines and 503 messages.
LC_NODISCARD int lc_client_open(const char *url, const char *name,
    int max_inflight, struct lc_client **out);
void             lc_client_close(struct lc_client *c);
const char      *lc_client_name(const struct lc_client *c);
// Number of connected peers (0 means calls fail fast).
int lc_client_peers(struct lc_client *c);

// Sends an encoded request. Returns 0 (cb will be called) or
// LC_EUNAVAILABLE immediately (no peer, or too many in flight; cb is not
// called). buf is copied.
LC_NODISCARD int lc_client_call_async(struct lc_client *c, const void *buf,
    size_t len, int timeout_ms, lc_call_cb cb, void *arg);
// Decodes a reply message given to a callback (rp must be initialised).
LC_NODISCARD int lc_client_reply(void *msg, struct lc_rep *rp);
// Borrowed view of a reply message's bytes.
const void *lc_client_msg_body(void *msg, size_t *len);
void        lc_client_msg_free(void *msg);

// Blocking call: encodes rq, waits up to timeout_ms, decodes into rp.
// Returns 0 (rp filled, whatever its status), LC_EUNAVAILABLE or
// LC_ETIMEDOUT. Safe from any thread except an nng callback.
LC_NODISCARD int lc_client_call(struct lc_client *c, const struct lc_req *rq,
    int timeout_ms, struct lc_rep *rp);

/* ---- pub/sub ---- */

struct lc_pub;

// src is the publishing process name. Starts the 1 s heartbeat thread.
LC_NODISCARD int lc_pub_open(
    const char *url, const char *src, struct lc_pub **out);
void lc_pub_close(struct lc_pub *p);
// Publishes an event (thread-safe); returns the seq it was given.
uint64_t lc_pub_send(struct lc_pub *p, int topic, const json_t *payload);
uint64_t lc_pub_seq(struct lc_pub *p);
// The publisher's src string ("name:bootid").
const char *lc_pub_src(const struct lc_pub *p);

struct lc_sub;

// Called on the subscriber's thread for each event in order (may block).
typedef void (*lc_sub_event_fn)(
    void *arg, int topic, uint64_t seq, const json_t *payload);
// Called on the subscriber's thread when state may be stale: at start,
// after a gap, a new publisher src, or 3 s of silence. The callee
// re-fetches its snapshot (a blocking lc_client_call is fine here) and
// returns 0 when done (the sub is then in sync) or an error (retried).
typedef int (*lc_sub_resync_fn)(void *arg);

// Subscribes to the given topics (heartbeats always) at url (dialled).
LC_NODISCARD int lc_sub_open(const char *url, const int *topics,
    size_t ntopics, lc_sub_event_fn on_event, lc_sub_resync_fn on_resync,
    void *arg, struct lc_sub **out);
void             lc_sub_close(struct lc_sub *s);
// 1 while the stream is known to be complete since the last resync.
int lc_sub_in_sync(struct lc_sub *s);

/* ---- survey ---- */

struct lc_survey;
struct lc_resp;

LC_NODISCARD int lc_survey_open(const char *url, struct lc_survey **out);
void             lc_survey_close(struct lc_survey *s);
int              lc_survey_peers(struct lc_survey *s);
// The number of respondents that should be connected: fewer for 6 s (then
// 12, 24, ... while some stay missing) and the surveyor listens afresh
// (nng 1.5.2 can stop finishing handshakes on a listener; lc_bus.c). 0 (the
// default): no such check.
void lc_survey_expect(struct lc_survey *s, int n);
// Sends rq to every connected respondent and collects reply bodies until
// all connected peers have answered or timeout_ms passes. *out is a new
// JSON array of reply bodies. Serialised (one survey at a time).
LC_NODISCARD int lc_survey_ask(struct lc_survey *s, const struct lc_req *rq,
    int timeout_ms, json_t **out);

// A respondent dials url and answers each survey with fn on its own thread
// (w->svc and w->user as given).
LC_NODISCARD int lc_resp_open(const char *url, lc_handler_fn fn,
    struct lc_worker *w, struct lc_resp **out);
void             lc_resp_close(struct lc_resp *r);

#endif // LC_BUS_H
