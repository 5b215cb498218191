/*
 * lc_env.h -- the bus envelope (proto/README.md): requests, replies and
 * events, encoded as msgpack maps. Only this module reads or writes them.
 *
 * Request  {v, op, rid, caller, params, query, body, ip, deadline}
 * Reply    {v, status, body, headers}   (body: JSON value or bin)
 * Event    "tag4" + {v, t, seq, ts, src, p}
 *
 * Decoded values are jansson objects owned by the struct; _fini releases
 * them. Thread-safe (no shared state).
 */
#ifndef LC_ENV_H
#define LC_ENV_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "lc_common.h"

#define LC_ENV_VERSION 1
#define LC_RID_MAX 128
#define LC_IP_MAX 64
#define LC_UA_MAX 512 // User-Agent, printable ASCII (the gateway sanitizes)

enum lc_caller_kind {
	LC_CALLER_ANON = 0,
	LC_CALLER_USER,
	LC_CALLER_APIKEY,
	LC_CALLER_ADMIN,
	LC_CALLER_SERVICE,
};

// A decoded (or to-be-encoded) request.
#define LC_BODY_ERR_MSG_MAX 255

struct lc_req {
	int     v;
	int     op;                  // enum lc_msg; -1 if the name is unknown
	char    op_name[64];         // the wire op name as received
	char    rid[LC_RID_MAX + 1]; // request id ("" if none)
	char    ip[LC_IP_MAX + 1];
	char    ua[LC_UA_MAX + 1]; // the client's User-Agent, or ""
	int64_t deadline;          // absolute Unix ms; 0 = none
	int     caller_kind;       // enum lc_caller_kind
	json_t *caller;  // object: kind, uid, sid, email, roles, verified
	json_t *params;  // object (path parameters), never NULL after decode
	json_t *query;   // object (query string), never NULL after decode
	json_t *body;    // any JSON value, or NULL when absent
	const void *raw; // raw body bytes (bin), borrowed from the message
	size_t      raw_len;
	// A body error the gateway found but left to the service (key "be",
	// the error code, and "bem", its message): on routes whose access the
	// service decides (RULE), API.md §1.4 puts that decision (step 6)
	// before the body checks (step 7). 0: none (body is then as sent).
	int  body_err;
	char body_err_msg[LC_BODY_ERR_MSG_MAX + 1];
};

// A reply being built by a handler, or decoded by a client.
struct lc_rep {
	int     status;  // HTTP status; 0 until set
	json_t *body;    // JSON body (owned), or NULL
	json_t *headers; // object of extra HTTP headers (owned), or NULL
	void   *raw;     // raw body (owned, lc_alloc'd), used instead of body
	size_t  raw_len;
	char    content_type[128]; // for raw bodies
	// Effects (reply key "fx"): an array of {"t": topic name, "p":
	// payload} that the caller applies to its own state before it answers,
	// the same events the service also publishes (proto/README.md §3.2).
	// NULL: none.
	json_t *fx;
};

void lc_req_init(struct lc_req *rq);
void lc_req_fini(struct lc_req *rq);
void lc_rep_init(struct lc_rep *rp);
void lc_rep_fini(struct lc_rep *rp);

// Sets rp to the error reply for err: {"error": msg or default, "code",
// "field" (omitted when NULL)} with lc_err_status(err). Replaces any body.
void lc_rep_error(
    struct lc_rep *rp, int err, const char *msg, const char *field);
// Sets a JSON reply (takes the reference of body).
void lc_rep_json(struct lc_rep *rp, int status, json_t *body);
// Appends the effect {"t": topic name, "p": payload} (payload taken).
void lc_rep_effect(struct lc_rep *rp, int topic, json_t *payload);
// Adds a header (copies both strings).
void lc_rep_header(struct lc_rep *rp, const char *name, const char *value);

// Encodes a request into a malloc'd buffer (lc_free). rq->op must be valid.
LC_NODISCARD int lc_env_encode_req(
    const struct lc_req *rq, void **out, size_t *out_len);
// Decodes a request; rq must be lc_req_init'ed; on error rq holds nothing.
// Returns 0 or LC_EPROTO. raw points into buf, so buf must outlive rq.
LC_NODISCARD int lc_env_decode_req(
    const void *buf, size_t len, struct lc_req *rq);

LC_NODISCARD int lc_env_encode_rep(
    const struct lc_rep *rp, void **out, size_t *out_len);
LC_NODISCARD int lc_env_decode_rep(
    const void *buf, size_t len, struct lc_rep *rp);

// Events: topic is enum lc_topic. The encoded message starts with the 4-byte
// tag so subscribers can filter on it.
LC_NODISCARD int lc_env_encode_event(int topic, uint64_t seq, int64_t ts,
    const char *src, const json_t *payload, void **out, size_t *out_len);
// Decodes an event; *payload is a new reference (caller decrefs); src is
// copied into src_buf (truncated to src_len-1).
LC_NODISCARD int lc_env_decode_event(const void *buf, size_t len, int *topic,
    uint64_t *seq, int64_t *ts, char *src_buf, size_t src_len,
    json_t **payload);

#endif // LC_ENV_H
