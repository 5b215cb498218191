/*
 * lc_env.c -- envelope encode/decode (see lc_env.h and proto/README.md).
 *
 * Decoding treats the bytes as hostile: lc_codec_unpack checks the msgpack
 * structure first, then every known field is type-checked and bounded.
 * Unknown keys are ignored (forward compatibility), a known key twice is
 * an error (no "last one wins" ambiguity), and any failure leaves the
 * output struct empty.
 */
#include "lc_env.h"

#include <string.h>

#include "lc_codec.h"
#include "lc_err.h"
#include "lc_msg.h"

#define OP_MAX 63
#define CTYPE_MAX 127

static const char *const caller_kinds[] = {
	[LC_CALLER_ANON]    = "anon",
	[LC_CALLER_USER]    = "user",
	[LC_CALLER_APIKEY]  = "apikey",
	[LC_CALLER_ADMIN]   = "admin",
	[LC_CALLER_SERVICE] = "service",
};

/* ---- init / fini and reply builders ---- */

void
lc_req_init(struct lc_req *rq)
{
	memset(rq, 0, sizeof(*rq));
	rq->v  = LC_ENV_VERSION;
	rq->op = -1;
}

void
lc_req_fini(struct lc_req *rq)
{
	if (rq == NULL) {
		return;
	}
	json_decref(rq->caller);
	json_decref(rq->params);
	json_decref(rq->query);
	json_decref(rq->body);
	lc_req_init(rq);
}

void
lc_rep_init(struct lc_rep *rp)
{
	memset(rp, 0, sizeof(*rp));
}

void
lc_rep_fini(struct lc_rep *rp)
{
	if (rp == NULL) {
		return;
	}
	json_decref(rp->body);
	json_decref(rp->headers);
	json_decref(rp->fx);
	lc_free(rp->raw);
	lc_rep_init(rp);
}

static void
rep_clear_body(struct lc_rep *rp)
{
	json_decref(rp->body);
	rp->body = NULL;
	lc_free(rp->raw);
	rp->raw             = NULL;
	rp->raw_len         = 0;
	rp->content_type[0] = '\0';
}

void
lc_rep_error(struct lc_rep *rp, int err, const char *msg, const char *field)
{
	json_t *b = json_object();

	rep_clear_body(rp);
	json_object_set_new(
	    b, "error", json_string(msg != NULL ? msg : lc_err_text(err)));
	// json_string gives NULL for a non-UTF-8 message: fall back.
	if (json_object_get(b, "error") == NULL) {
		json_object_set_new(b, "error", json_string(lc_err_text(err)));
	}
	json_object_set_new(b, "code", json_string(lc_err_code(err)));
	if (field != NULL) {
		json_object_set_new(b, "field", json_string(field));
	}
	rp->status = lc_err_status(err);
	rp->body   = b;
}

void
lc_rep_json(struct lc_rep *rp, int status, json_t *body)
{
	rep_clear_body(rp);
	rp->status = status;
	rp->body   = body;
}

// RFC 9110 token characters (header names).
static int
is_tchar(unsigned char c)
{
	return ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

// A header name is a non-empty token; a value has no control characters
// except TAB (no CR/LF: no header injection through a reply).
static int
header_ok(const char *name, size_t nlen, const char *value, size_t vlen)
{
	if (nlen == 0 || nlen > 256 || vlen > 8192) {
		return (0);
	}
	for (size_t i = 0; i < nlen; i++) {
		if (name[i] == '\0' || !is_tchar((unsigned char) name[i])) {
			return (0);
		}
	}
	for (size_t i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char) value[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			return (0);
		}
	}
	return (1);
}

void
lc_rep_header(struct lc_rep *rp, const char *name, const char *value)
{
	json_t *v;

	if (name == NULL || value == NULL ||
	    !header_ok(name, strlen(name), value, strlen(value)) ||
	    (v = json_string(value)) == NULL) {
		return; // programmer error; never emit a broken header
	}
	if (rp->headers == NULL) {
		rp->headers = json_object();
	}
	json_object_set_new(rp->headers, name, v);
}

void
lc_rep_effect(struct lc_rep *rp, int topic, json_t *payload)
{
	json_t *e = json_pack("{s:s, s:o}", "t", lc_topic_name(topic), "p",
	    payload != NULL ? payload : json_null());

	if (e == NULL) {
		return;
	}
	if (rp->fx == NULL) {
		rp->fx = json_array();
	}
	(void) json_array_append_new(rp->fx, e);
}

/* ---- packing helpers ---- */

static int
pk_key(msgpack_packer *pk, const char *k)
{
	size_t n = strlen(k);

	return (msgpack_pack_str(pk, n) != 0 ||
	            msgpack_pack_str_body(pk, k, n) != 0
	        ? LC_ENOMEM
	        : 0);
}

static int
pk_str(msgpack_packer *pk, const char *k, const char *v, size_t n)
{
	if (pk_key(pk, k) != 0 || msgpack_pack_str(pk, n) != 0 ||
	    (n > 0 && msgpack_pack_str_body(pk, v, n) != 0)) {
		return (LC_ENOMEM);
	}
	return (0);
}

static int
pk_i64(msgpack_packer *pk, const char *k, int64_t v)
{
	if (pk_key(pk, k) != 0 || msgpack_pack_int64(pk, v) != 0) {
		return (LC_ENOMEM);
	}
	return (0);
}

static int
pk_json(msgpack_packer *pk, const char *k, const json_t *j)
{
	if (pk_key(pk, k) != 0) {
		return (LC_ENOMEM);
	}
	return (lc_codec_pack_json_plain(pk, j));
}

static int
pk_bin(msgpack_packer *pk, const char *k, const void *p, size_t n)
{
	if (n > UINT32_MAX) {
		return (LC_ELIMIT);
	}
	if (pk_key(pk, k) != 0 || msgpack_pack_bin(pk, n) != 0 ||
	    (n > 0 && msgpack_pack_bin_body(pk, p, n) != 0)) {
		return (LC_ENOMEM);
	}
	return (0);
}

static void
sb_finish(msgpack_sbuffer *sb, int rv, void **out, size_t *out_len)
{
	if (rv != 0) {
		msgpack_sbuffer_destroy(sb);
		return;
	}
	// sbuffer memory is malloc'd, so the caller's lc_free releases it.
	*out_len = sb->size;
	*out     = msgpack_sbuffer_release(sb);
}

/* ---- requests ---- */

int
lc_env_encode_req(const struct lc_req *rq, void **out, size_t *out_len)
{
	msgpack_sbuffer sb;
	msgpack_packer  pk;
	const char     *op = lc_msg_name(rq->op);
	size_t          rlen, iplen, ualen, bemlen;
	const char *be = rq->body_err != 0 ? lc_err_code(rq->body_err) : NULL;
	uint32_t    n  = 2; // v, op
	int         rv = 0;
	int         has_body;

	// An unknown op may still be sent by name (tools, tests of the 404).
	if (op == NULL) {
		op = rq->op_name;
	}
	if (op[0] == '\0' || strlen(op) > OP_MAX) {
		return (LC_EPROTO);
	}
	rlen  = strnlen(rq->rid, sizeof(rq->rid));
	iplen = strnlen(rq->ip, sizeof(rq->ip));
	ualen = strnlen(rq->ua, sizeof(rq->ua));
	bemlen =
	    be != NULL ? strnlen(rq->body_err_msg, LC_BODY_ERR_MSG_MAX) : 0;
	has_body = rq->raw != NULL || rq->body != NULL;
	n += (uint32_t) ((rlen > 0) + 1 /* caller */ + (rq->params != NULL) +
	    (rq->query != NULL) + has_body + (iplen > 0) + (ualen > 0) +
	    (rq->deadline != 0) + (be != NULL) + (bemlen > 0));

	lc_codec_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (msgpack_pack_map(&pk, n) != 0 ||
	    (rv = pk_i64(&pk, "v", LC_ENV_VERSION)) != 0 ||
	    (rv = pk_str(&pk, "op", op, strlen(op))) != 0) {
		rv = rv != 0 ? rv : LC_ENOMEM;
		goto out;
	}
	if (rlen > 0 && (rv = pk_str(&pk, "rid", rq->rid, rlen)) != 0) {
		goto out;
	}
	if (rq->caller != NULL) {
		rv = pk_json(&pk, "caller", rq->caller);
	} else {
		// No caller object: send just the kind.
		int         k  = rq->caller_kind;
		const char *kn = k >= 0 && k < (int) LC_NELEM(caller_kinds)
		    ? caller_kinds[k]
		    : "anon";

		if (pk_key(&pk, "caller") != 0 ||
		    msgpack_pack_map(&pk, 1) != 0 ||
		    pk_str(&pk, "kind", kn, strlen(kn)) != 0) {
			rv = LC_ENOMEM;
		}
	}
	if (rv != 0) {
		goto out;
	}
	if (rq->params != NULL &&
	    (rv = pk_json(&pk, "params", rq->params)) != 0) {
		goto out;
	}
	if (rq->query != NULL &&
	    (rv = pk_json(&pk, "query", rq->query)) != 0) {
		goto out;
	}
	if (rq->raw != NULL) {
		rv = pk_bin(&pk, "body", rq->raw, rq->raw_len);
	} else if (rq->body != NULL) {
		rv = pk_json(&pk, "body", rq->body);
	}
	if (rv != 0) {
		goto out;
	}
	if (iplen > 0 && (rv = pk_str(&pk, "ip", rq->ip, iplen)) != 0) {
		goto out;
	}
	if (ualen > 0 && (rv = pk_str(&pk, "ua", rq->ua, ualen)) != 0) {
		goto out;
	}
	if (be != NULL && (rv = pk_str(&pk, "be", be, strlen(be))) != 0) {
		goto out;
	}
	if (bemlen > 0 &&
	    (rv = pk_str(&pk, "bem", rq->body_err_msg, bemlen)) != 0) {
		goto out;
	}
	if (rq->deadline != 0) {
		rv = pk_i64(&pk, "deadline", rq->deadline);
	}
out:
	sb_finish(&sb, rv, out, out_len);
	return (rv);
}

// msgpack-c may leave the pointer of an empty str/bin NULL.
static const char *
nz(const char *p)
{
	return (p != NULL ? p : "");
}

// Key of a decoded map entry as lc_str (keys are checked to be STR).
static lc_str
key_of(const msgpack_object_kv *kv)
{
	return ((lc_str) { nz(kv->key.via.str.ptr), kv->key.via.str.size });
}

// Printable ASCII only (no NUL, no control characters, no spaces).
static int
printable(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] <= 0x20 || p[i] >= 0x7f) {
			return (0);
		}
	}
	return (1);
}

// Printable ASCII including the space (User-Agent values have spaces).
static int
text_ok(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] >= 0x7f) {
			return (0);
		}
	}
	return (1);
}

static int
rid_ok(const char *p, size_t n)
{
	if (n > LC_RID_MAX) {
		return (0);
	}
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		        (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		        c == ':' || c == '-')) {
			return (0);
		}
	}
	return (1);
}

// The version field: a positive integer equal to the one we speak.
static int
get_v(const msgpack_object *o, int *v)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    o->via.u64 != LC_ENV_VERSION) {
		return (LC_EPROTO);
	}
	*v = (int) o->via.u64;
	return (0);
}

static int
get_i64(const msgpack_object *o, int64_t *v)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    o->via.u64 <= (uint64_t) INT64_MAX) {
		*v = (int64_t) o->via.u64;
		return (0);
	}
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*v = o->via.i64;
		return (0);
	}
	return (LC_EPROTO);
}

// A map field converted to a JSON object.
static int
get_map(const msgpack_object *o, json_t **out)
{
	if (o->type != MSGPACK_OBJECT_MAP) {
		return (LC_EPROTO);
	}
	return (lc_codec_to_json(o, out) != 0 ? LC_EPROTO : 0);
}

// Marks key bit i as seen; a repeated known key is an error.
static int
seen(unsigned *mask, unsigned bit)
{
	if (*mask & bit) {
		return (LC_EPROTO);
	}
	*mask |= bit;
	return (0);
}

static int
caller_kind_of(const json_t *caller, int *kind)
{
	const json_t *k = json_object_get(caller, "kind");

	*kind = LC_CALLER_ANON;
	if (k == NULL || json_is_null(k)) {
		return (0);
	}
	if (!json_is_string(k)) {
		return (LC_EPROTO);
	}
	for (size_t i = 0; i < LC_NELEM(caller_kinds); i++) {
		if (strcmp(json_string_value(k), caller_kinds[i]) == 0 &&
		    strlen(caller_kinds[i]) == json_string_length(k)) {
			*kind = (int) i;
			return (0);
		}
	}
	// An unknown kind (a newer sender) gets the least privilege.
	return (0);
}

enum {
	K_V        = 1u << 0,
	K_OP       = 1u << 1,
	K_RID      = 1u << 2,
	K_CALLER   = 1u << 3,
	K_PARAMS   = 1u << 4,
	K_QUERY    = 1u << 5,
	K_BODY     = 1u << 6,
	K_IP       = 1u << 7,
	K_DEADLINE = 1u << 8,
	K_STATUS   = 1u << 9,
	K_HEADERS  = 1u << 10,
	K_CTYPE    = 1u << 11,
	K_T        = 1u << 12,
	K_SEQ      = 1u << 13,
	K_TS       = 1u << 14,
	K_SRC      = 1u << 15,
	K_P        = 1u << 16,
	K_FX       = 1u << 17,
	K_UA       = 1u << 18,
	K_BE       = 1u << 19,
	K_BEM      = 1u << 20,
};

static int
req_field(struct lc_req *rq, lc_str k, const msgpack_object *o, unsigned *mask)
{
	int rv;

	if (lc_str_eqz(k, "v")) {
		if ((rv = seen(mask, K_V)) != 0) {
			return (rv);
		}
		return (get_v(o, &rq->v));
	}
	if (lc_str_eqz(k, "op")) {
		if ((rv = seen(mask, K_OP)) != 0) {
			return (rv);
		}
		if (o->type != MSGPACK_OBJECT_STR || o->via.str.size == 0 ||
		    o->via.str.size > OP_MAX ||
		    !printable(o->via.str.ptr, o->via.str.size)) {
			return (LC_EPROTO);
		}
		memcpy(rq->op_name, o->via.str.ptr, o->via.str.size);
		rq->op_name[o->via.str.size] = '\0';
		rq->op = lc_msg_find(o->via.str.ptr, o->via.str.size);
		return (0);
	}
	if (lc_str_eqz(k, "rid")) {
		if ((rv = seen(mask, K_RID)) != 0) {
			return (rv);
		}
		if (o->type == MSGPACK_OBJECT_NIL) {
			return (0);
		}
		if (o->type != MSGPACK_OBJECT_STR) {
			return (LC_EPROTO);
		}
		// A malformed request id is dropped, not fatal: it only
		// labels logs, and must never carry junk into them.
		if (rid_ok(o->via.str.ptr, o->via.str.size)) {
			memcpy(rq->rid, nz(o->via.str.ptr), o->via.str.size);
			rq->rid[o->via.str.size] = '\0';
		}
		return (0);
	}
	if (lc_str_eqz(k, "caller")) {
		if ((rv = seen(mask, K_CALLER)) != 0) {
			return (rv);
		}
		if (o->type == MSGPACK_OBJECT_NIL) {
			return (0);
		}
		return (get_map(o, &rq->caller));
	}
	if (lc_str_eqz(k, "params")) {
		if ((rv = seen(mask, K_PARAMS)) != 0) {
			return (rv);
		}
		if (o->type == MSGPACK_OBJECT_NIL) {
			return (0);
		}
		return (get_map(o, &rq->params));
	}
	if (lc_str_eqz(k, "query")) {
		if ((rv = seen(mask, K_QUERY)) != 0) {
			return (rv);
		}
		if (o->type == MSGPACK_OBJECT_NIL) {
			return (0);
		}
		return (get_map(o, &rq->query));
	}
	if (lc_str_eqz(k, "body")) {
		if ((rv = seen(mask, K_BODY)) != 0) {
			return (rv);
		}
		if (o->type == MSGPACK_OBJECT_BIN) {
			// Borrowed: points into the caller's buffer.
			rq->raw     = nz(o->via.bin.ptr);
			rq->raw_len = o->via.bin.size;
			return (0);
		}
		return (lc_codec_to_json(o, &rq->body) != 0 ? LC_EPROTO : 0);
	}
	if (lc_str_eqz(k, "ip")) {
		if ((rv = seen(mask, K_IP)) != 0) {
			return (rv);
		}
		if (o->type == MSGPACK_OBJECT_NIL) {
			return (0);
		}
		if (o->type != MSGPACK_OBJECT_STR ||
		    o->via.str.size > LC_IP_MAX ||
		    !printable(o->via.str.ptr, o->via.str.size)) {
			return (LC_EPROTO);
		}
		memcpy(rq->ip, nz(o->via.str.ptr), o->via.str.size);
		rq->ip[o->via.str.size] = '\0';
		return (0);
	}
	if (lc_str_eqz(k, "ua")) {
		if ((rv = seen(mask, K_UA)) != 0) {
			return (rv);
		}
		if (o->type == MSGPACK_OBJECT_NIL) {
			return (0);
		}
		if (o->type != MSGPACK_OBJECT_STR ||
		    o->via.str.size > LC_UA_MAX ||
		    !text_ok(o->via.str.ptr, o->via.str.size)) {
			return (LC_EPROTO);
		}
		memcpy(rq->ua, nz(o->via.str.ptr), o->via.str.size);
		rq->ua[o->via.str.size] = '\0';
		return (0);
	}
	if (lc_str_eqz(k, "be")) {
		if ((rv = seen(mask, K_BE)) != 0) {
			return (rv);
		}
		if (o->type != MSGPACK_OBJECT_STR) {
			return (LC_EPROTO);
		}
		// Only the body errors of API.md §1.4 step 7.
		rq->body_err =
		    lc_err_from_code(nz(o->via.str.ptr), o->via.str.size);
		if (rq->body_err != LC_EINVALID_JSON &&
		    rq->body_err != LC_EINVALID_BODY &&
		    rq->body_err != LC_EUNSUPPORTED_MEDIA_TYPE) {
			rq->body_err = 0;
			return (LC_EPROTO);
		}
		return (0);
	}
	if (lc_str_eqz(k, "bem")) {
		if ((rv = seen(mask, K_BEM)) != 0) {
			return (rv);
		}
		if (o->type != MSGPACK_OBJECT_STR ||
		    o->via.str.size > LC_BODY_ERR_MSG_MAX ||
		    !text_ok(o->via.str.ptr, o->via.str.size)) {
			return (LC_EPROTO);
		}
		memcpy(rq->body_err_msg, nz(o->via.str.ptr), o->via.str.size);
		rq->body_err_msg[o->via.str.size] = '\0';
		return (0);
	}
	if (lc_str_eqz(k, "deadline")) {
		if ((rv = seen(mask, K_DEADLINE)) != 0) {
			return (rv);
		}
		if (o->type == MSGPACK_OBJECT_NIL) {
			return (0);
		}
		if (get_i64(o, &rq->deadline) != 0 || rq->deadline < 0) {
			return (LC_EPROTO);
		}
		return (0);
	}
	return (0); // unknown field: ignored (proto/README.md, versioning)
}

int
lc_env_decode_req(const void *buf, size_t len, struct lc_req *rq)
{
	msgpack_unpacked up;
	unsigned         mask = 0;
	int              rv;

	lc_req_init(rq);
	msgpack_unpacked_init(&up);
	if ((rv = lc_codec_unpack(buf, len, &up)) != 0) {
		goto out;
	}
	if (up.data.type != MSGPACK_OBJECT_MAP) {
		rv = LC_EPROTO;
		goto out;
	}
	for (uint32_t i = 0; i < up.data.via.map.size; i++) {
		const msgpack_object_kv *kv = &up.data.via.map.ptr[i];

		if (kv->key.type != MSGPACK_OBJECT_STR) {
			rv = LC_EPROTO;
			goto out;
		}
		if ((rv = req_field(rq, key_of(kv), &kv->val, &mask)) != 0) {
			goto out;
		}
	}
	if ((mask & (K_V | K_OP)) != (K_V | K_OP)) {
		rv = LC_EPROTO;
		goto out;
	}
	if (rq->caller == NULL) {
		rq->caller = json_pack("{s:s}", "kind", "anon");
	}
	if ((rv = caller_kind_of(rq->caller, &rq->caller_kind)) != 0) {
		goto out;
	}
	if (rq->params == NULL) {
		rq->params = json_object();
	}
	if (rq->query == NULL) {
		rq->query = json_object();
	}
	if (rq->caller == NULL || rq->params == NULL || rq->query == NULL) {
		rv = LC_ENOMEM;
	}
out:
	msgpack_unpacked_destroy(&up);
	if (rv != 0) {
		lc_req_fini(rq);
	}
	return (rv);
}

/* ---- replies ---- */

int
lc_env_encode_rep(const struct lc_rep *rp, void **out, size_t *out_len)
{
	msgpack_sbuffer sb;
	msgpack_packer  pk;
	size_t   clen = strnlen(rp->content_type, sizeof(rp->content_type));
	uint32_t n    = 2; // v, status
	int      rv   = 0;

	if (rp->status < 100 || rp->status > 599) {
		return (LC_EPROTO);
	}
	if (rp->raw != NULL) {
		n += (uint32_t) (1 + (clen > 0));
	} else if (rp->body != NULL) {
		n++;
	}
	n += (uint32_t) (rp->headers != NULL);
	n += (uint32_t) (rp->fx != NULL);

	lc_codec_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (msgpack_pack_map(&pk, n) != 0 ||
	    (rv = pk_i64(&pk, "v", LC_ENV_VERSION)) != 0 ||
	    (rv = pk_i64(&pk, "status", rp->status)) != 0) {
		rv = rv != 0 ? rv : LC_ENOMEM;
		goto out;
	}
	if (rp->raw != NULL) {
		if ((rv = pk_bin(&pk, "body", rp->raw, rp->raw_len)) != 0 ||
		    (clen > 0 &&
		        (rv = pk_str(&pk, "ctype", rp->content_type, clen)) !=
		            0)) {
			goto out;
		}
	} else if (rp->body != NULL &&
	    (rv = pk_json(&pk, "body", rp->body)) != 0) {
		goto out;
	}
	if (rp->headers != NULL &&
	    (rv = pk_json(&pk, "headers", rp->headers)) != 0) {
		goto out;
	}
	if (rp->fx != NULL) {
		rv = pk_json(&pk, "fx", rp->fx);
	}
out:
	sb_finish(&sb, rv, out, out_len);
	return (rv);
}

// headers: a map of header name -> string value, both checked.
static int
get_headers(const msgpack_object *o, json_t **out)
{
	json_t *h;

	if (o->type != MSGPACK_OBJECT_MAP) {
		return (LC_EPROTO);
	}
	h = json_object();
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[i];
		json_t                  *v;

		if (kv->key.type != MSGPACK_OBJECT_STR ||
		    kv->val.type != MSGPACK_OBJECT_STR ||
		    !header_ok(kv->key.via.str.ptr, kv->key.via.str.size,
		        kv->val.via.str.ptr, kv->val.via.str.size) ||
		    (v = json_stringn(nz(kv->val.via.str.ptr),
		         kv->val.via.str.size)) == NULL ||
		    json_object_setn_new(h, kv->key.via.str.ptr,
		        kv->key.via.str.size, v) != 0) {
			json_decref(h);
			return (LC_EPROTO);
		}
	}
	*out = h;
	return (0);
}

static int
rep_field(struct lc_rep *rp, lc_str k, const msgpack_object *o, unsigned *mask)
{
	int     rv;
	int     v;
	int64_t st;

	if (lc_str_eqz(k, "v")) {
		if ((rv = seen(mask, K_V)) != 0) {
			return (rv);
		}
		return (get_v(o, &v));
	}
	if (lc_str_eqz(k, "status")) {
		if ((rv = seen(mask, K_STATUS)) != 0) {
			return (rv);
		}
		if (get_i64(o, &st) != 0 || st < 100 || st > 599) {
			return (LC_EPROTO);
		}
		rp->status = (int) st;
		return (0);
	}
	if (lc_str_eqz(k, "body")) {
		if ((rv = seen(mask, K_BODY)) != 0) {
			return (rv);
		}
		if (o->type == MSGPACK_OBJECT_BIN) {
			// Copied: the reply outlives the message it came in.
			rp->raw_len = o->via.bin.size;
			rp->raw     = lc_alloc(rp->raw_len);
			if (rp->raw_len > 0) {
				memcpy(rp->raw, o->via.bin.ptr, rp->raw_len);
			}
			return (0);
		}
		return (lc_codec_to_json(o, &rp->body) != 0 ? LC_EPROTO : 0);
	}
	if (lc_str_eqz(k, "headers")) {
		if ((rv = seen(mask, K_HEADERS)) != 0) {
			return (rv);
		}
		if (o->type == MSGPACK_OBJECT_NIL) {
			return (0);
		}
		return (get_headers(o, &rp->headers));
	}
	if (lc_str_eqz(k, "fx")) {
		if ((rv = seen(mask, K_FX)) != 0) {
			return (rv);
		}
		if (o->type == MSGPACK_OBJECT_NIL) {
			return (0);
		}
		if (o->type != MSGPACK_OBJECT_ARRAY ||
		    lc_codec_to_json(o, &rp->fx) != 0) {
			return (LC_EPROTO);
		}
		return (0);
	}
	if (lc_str_eqz(k, "ctype")) {
		if ((rv = seen(mask, K_CTYPE)) != 0) {
			return (rv);
		}
		if (o->type == MSGPACK_OBJECT_NIL) {
			return (0);
		}
		if (o->type != MSGPACK_OBJECT_STR ||
		    o->via.str.size > CTYPE_MAX ||
		    !header_ok("c", 1, o->via.str.ptr, o->via.str.size)) {
			return (LC_EPROTO);
		}
		memcpy(rp->content_type, nz(o->via.str.ptr), o->via.str.size);
		rp->content_type[o->via.str.size] = '\0';
		return (0);
	}
	return (0);
}

int
lc_env_decode_rep(const void *buf, size_t len, struct lc_rep *rp)
{
	msgpack_unpacked up;
	unsigned         mask = 0;
	int              rv;

	lc_rep_init(rp);
	msgpack_unpacked_init(&up);
	if ((rv = lc_codec_unpack(buf, len, &up)) != 0) {
		goto out;
	}
	if (up.data.type != MSGPACK_OBJECT_MAP) {
		rv = LC_EPROTO;
		goto out;
	}
	for (uint32_t i = 0; i < up.data.via.map.size; i++) {
		const msgpack_object_kv *kv = &up.data.via.map.ptr[i];

		if (kv->key.type != MSGPACK_OBJECT_STR) {
			rv = LC_EPROTO;
			goto out;
		}
		if ((rv = rep_field(rp, key_of(kv), &kv->val, &mask)) != 0) {
			goto out;
		}
	}
	if ((mask & (K_V | K_STATUS)) != (K_V | K_STATUS)) {
		rv = LC_EPROTO;
	}
out:
	msgpack_unpacked_destroy(&up);
	if (rv != 0) {
		lc_rep_fini(rp);
	}
	return (rv);
}

/* ---- events ---- */

int
lc_env_encode_event(int topic, uint64_t seq, int64_t ts, const char *src,
    const json_t *payload, void **out, size_t *out_len)
{
	msgpack_sbuffer sb;
	msgpack_packer  pk;
	const char     *tag  = lc_topic_tag(topic);
	const char     *name = lc_topic_name(topic);
	int             rv   = 0;

	if (tag == NULL || name == NULL) {
		return (LC_EPROTO);
	}
	if (src == NULL) {
		src = "";
	}
	lc_codec_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	// The tag goes first, outside the map, so SUB sockets filter on it.
	if (msgpack_sbuffer_write(&sb, tag, 4) != 0 ||
	    msgpack_pack_map(&pk, 6) != 0 ||
	    (rv = pk_i64(&pk, "v", LC_ENV_VERSION)) != 0 ||
	    (rv = pk_str(&pk, "t", name, strlen(name))) != 0 ||
	    pk_key(&pk, "seq") != 0 || msgpack_pack_uint64(&pk, seq) != 0 ||
	    (rv = pk_i64(&pk, "ts", ts)) != 0 ||
	    (rv = pk_str(&pk, "src", src, strlen(src))) != 0) {
		rv = rv != 0 ? rv : LC_ENOMEM;
		goto out;
	}
	if (payload != NULL) {
		rv = pk_json(&pk, "p", payload);
	} else if (pk_key(&pk, "p") != 0 || msgpack_pack_nil(&pk) != 0) {
		rv = LC_ENOMEM;
	}
out:
	sb_finish(&sb, rv, out, out_len);
	return (rv);
}

struct event {
	int      topic;
	uint64_t seq;
	int64_t  ts;
	lc_str   src;
	json_t  *p;
};

static int
ev_field(struct event *ev, lc_str k, const msgpack_object *o, unsigned *mask)
{
	int rv;
	int v;

	if (lc_str_eqz(k, "v")) {
		if ((rv = seen(mask, K_V)) != 0) {
			return (rv);
		}
		return (get_v(o, &v));
	}
	if (lc_str_eqz(k, "t")) {
		// Must name the same topic as the tag.
		if ((rv = seen(mask, K_T)) != 0) {
			return (rv);
		}
		if (o->type != MSGPACK_OBJECT_STR ||
		    lc_topic_find(o->via.str.ptr, o->via.str.size) !=
		        ev->topic) {
			return (LC_EPROTO);
		}
		return (0);
	}
	if (lc_str_eqz(k, "seq")) {
		if ((rv = seen(mask, K_SEQ)) != 0) {
			return (rv);
		}
		if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
			return (LC_EPROTO);
		}
		ev->seq = o->via.u64;
		return (0);
	}
	if (lc_str_eqz(k, "ts")) {
		if ((rv = seen(mask, K_TS)) != 0) {
			return (rv);
		}
		return (get_i64(o, &ev->ts));
	}
	if (lc_str_eqz(k, "src")) {
		if ((rv = seen(mask, K_SRC)) != 0) {
			return (rv);
		}
		if (o->type != MSGPACK_OBJECT_STR ||
		    !printable(o->via.str.ptr, o->via.str.size)) {
			return (LC_EPROTO);
		}
		ev->src = (lc_str) { nz(o->via.str.ptr), o->via.str.size };
		return (0);
	}
	if (lc_str_eqz(k, "p")) {
		if ((rv = seen(mask, K_P)) != 0) {
			return (rv);
		}
		return (lc_codec_to_json(o, &ev->p) != 0 ? LC_EPROTO : 0);
	}
	return (0);
}

int
lc_env_decode_event(const void *buf, size_t len, int *topic, uint64_t *seq,
    int64_t *ts, char *src_buf, size_t src_len, json_t **payload)
{
	msgpack_unpacked up;
	struct event     ev   = { .topic = -1 };
	unsigned         mask = 0;
	int              rv;

	if (buf == NULL || len < 4 ||
	    (ev.topic = lc_topic_from_tag(buf)) < 0) {
		return (LC_EPROTO);
	}
	msgpack_unpacked_init(&up);
	if ((rv = lc_codec_unpack((const char *) buf + 4, len - 4, &up)) !=
	    0) {
		goto out;
	}
	if (up.data.type != MSGPACK_OBJECT_MAP) {
		rv = LC_EPROTO;
		goto out;
	}
	for (uint32_t i = 0; i < up.data.via.map.size; i++) {
		const msgpack_object_kv *kv = &up.data.via.map.ptr[i];

		if (kv->key.type != MSGPACK_OBJECT_STR) {
			rv = LC_EPROTO;
			goto out;
		}
		if ((rv = ev_field(&ev, key_of(kv), &kv->val, &mask)) != 0) {
			goto out;
		}
	}
	if ((mask & (K_V | K_SEQ)) != (K_V | K_SEQ)) {
		rv = LC_EPROTO;
		goto out;
	}
	if (ev.p == NULL && (ev.p = json_null()) == NULL) {
		rv = LC_ENOMEM;
		goto out;
	}
	*topic = ev.topic;
	*seq   = ev.seq;
	if (ts != NULL) {
		*ts = ev.ts;
	}
	if (src_buf != NULL && src_len > 0) {
		size_t n = ev.src.len < src_len - 1 ? ev.src.len : src_len - 1;

		if (n > 0) {
			memcpy(src_buf, ev.src.ptr, n);
		}
		src_buf[n] = '\0';
	}
	if (payload != NULL) {
		*payload = ev.p;
		ev.p     = NULL;
	}
out:
	json_decref(ev.p);
	msgpack_unpacked_destroy(&up);
	return (rv);
}
