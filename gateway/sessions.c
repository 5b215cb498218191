/*
 * sessions.c -- the gateway's view of auth's sessions and users (API.md
 * §2.2, ARCHITECTURE.md §2; the events are defined in services/auth/auth.h).
 *
 * The view maps sid -> user and uid -> {email, roles, verified, cut}. It is
 * fed three ways, all through the same code:
 *   - a snapshot (auth.sessions_snapshot), fetched by the subscriber's
 *     resync callback and swapped in whole (gw_view_install);
 *   - the event stream (session.active, session.revoked, user.changed,
 *     user.deleted) on the subscriber's thread (gw_view_apply);
 *   - reply effects (rp->fx): the events a request caused, applied by the
 *     MHD thread that carries the reply before it answers, so a logout is
 *     in force on this gateway for the very next request.
 * lc_sub detects gaps, a restarted publisher and 3 s of silence; while it
 * is out of sync the view answers GW_VIEW_UNKNOWN and auth is asked per
 * request (fail closed). Answers auth gives per request are never put in
 * the view: they could race with a revocation event.
 *
 * Tombstones. Effects and events can arrive out of order with respect to
 * each other and to a snapshot: an effect may revoke a session that a
 * snapshot read just before the revocation still lists, or that a
 * session.active still queued in the stream adds again. Ids are never
 * reused and cuts only grow, so every revocation (revoked sid, deleted
 * uid, a user's cut) is also kept as a tombstone for GW_VIEW_TOMB_MS
 * (longer than any snapshot fetch can take): session.active and
 * user.changed for a tombstoned id are ignored, a session.active whose
 * user's cut is older than a tombstoned cut predates that revocation and
 * is ignored, and every snapshot gets the tombstones applied again before
 * it is swapped in. Cuts are merged by maximum everywhere.
 *
 * Hot path: gw_view_check takes the read lock, does one hash lookup and
 * builds the caller object (the only allocation); no bus round trip.
 * Writers (events, effects, snapshots) take the write lock; a snapshot is
 * built outside the lock and swapped in. Ids longer than GW_ID_MAX are
 * never stored: tokens carrying them are always checked with auth.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "gw.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_msg.h"

#define BUCKETS_MIN 1024
#define TOMB_BUCKETS 4096
#define TOMB_MAX 65536 // the oldest go first beyond this
#define WARN_EVERY_MS 60000

struct vsess;

struct vuser {
	struct vuser *next;  // hash chain
	struct vsess *sess;  // the user's sessions (through unext)
	char         *email; // NULL when none
	char         *roles; // nroles strings, each NUL-terminated
	size_t        roles_len;
	size_t        nroles;
	int           verified;
	size_t        uid_len;
	char          uid[GW_ID_MAX + 1];
	char          cut[GW_ID_MAX + 1]; // "" when never cut
};

struct vsess {
	struct vsess  *next;  // hash chain
	struct vsess  *unext; // the user's list
	struct vsess **uprev; // what points at this one in the user's list
	struct vuser  *user;
	size_t         sid_len;
	char           sid[GW_ID_MAX + 1];
};

// One generation of the view; a snapshot replaces it whole.
struct table {
	struct vuser **ub;
	size_t         unb; // buckets (a power of two)
	size_t         nusers;
	struct vsess **sb;
	size_t         snb;
	size_t         nsess;
};

enum { T_SID = 0, T_UID, T_CUT };

struct tomb {
	struct tomb *next;  // hash chain
	struct tomb *fnext; // FIFO, oldest first
	int64_t      at_ms;
	int          kind;
	size_t       id_len;
	char         id[GW_ID_MAX + 1];
	char         cut[GW_ID_MAX + 1]; // T_CUT
};

struct gw_view {
	pthread_rwlock_t         lock; // guards t and the tombstones
	struct table            *t;
	struct tomb             *tb[TOMB_BUCKETS];
	struct tomb             *thead;
	struct tomb             *ttail;
	size_t                   ntomb;
	_Atomic(struct lc_sub *) sub;
	atomic_int               forced; // the in-sync value without a sub
	int64_t warned_ms;               // resync warnings (subscriber thread)
};

/* ---- ids and hashing ---- */

static size_t
hash(const char *p, size_t len)
{
	uint64_t h = 1469598103934665603ULL; // FNV-1a

	while (len-- > 0) {
		h ^= (unsigned char) *p++;
		h *= 1099511628211ULL;
	}
	return ((size_t) (h ^ (h >> 29)));
}

// Orders a against the NUL-terminated b (ULIDs: same length, so this is
// the string order; shorter sorts first on a common prefix).
static int
idcmp(lc_str a, const char *b)
{
	size_t blen = strlen(b);
	size_t n    = a.len < blen ? a.len : blen;
	int    c    = n > 0 ? memcmp(a.ptr, b, n) : 0;

	if (c != 0) {
		return (c);
	}
	return (a.len < blen ? -1 : a.len > blen ? 1 : 0);
}

static int
ideq(const char *a, size_t alen, lc_str b)
{
	return (alen == b.len && memcmp(a, b.ptr, alen) == 0);
}

// A storable id at key: a string of 1..GW_ID_MAX bytes without NUL.
static int
get_id(const json_t *o, const char *key, lc_str *out)
{
	const json_t *v = json_object_get(o, key);
	lc_str        id;

	if (!json_is_string(v)) {
		return (LC_EPROTO);
	}
	id = (lc_str) { json_string_value(v), json_string_length(v) };
	if (id.len == 0 || id.len > GW_ID_MAX ||
	    memchr(id.ptr, '\0', id.len) != NULL) {
		return (LC_EPROTO);
	}
	*out = id;
	return (0);
}

// A C string value (no NUL inside): 1, or 0.
static int
cstr_ok(const json_t *v)
{
	return (json_is_string(v) &&
	    strlen(json_string_value(v)) == json_string_length(v));
}

/* ---- the user state carried by events and snapshots ---- */

struct ustate {
	lc_str        uid;
	const json_t *email; // string, or NULL
	const json_t *roles; // array of strings, or NULL (none)
	int           verified;
	lc_str        cut; // len 0: none
};

// Reads {email, roles, verified, cut} from o (uid given or o's "uid").
static int
ustate_parse(const json_t *o, const lc_str *uid, struct ustate *st)
{
	const json_t *v;
	size_t        i;

	if (!json_is_object(o)) {
		return (LC_EPROTO);
	}
	memset(st, 0, sizeof(*st));
	if (uid != NULL) {
		st->uid = *uid;
	} else if (get_id(o, "uid", &st->uid) != 0) {
		return (LC_EPROTO);
	}
	v = json_object_get(o, "email");
	if (v != NULL && !json_is_null(v)) {
		if (!cstr_ok(v)) {
			return (LC_EPROTO);
		}
		st->email = v;
	}
	v = json_object_get(o, "roles");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_array(v)) {
			return (LC_EPROTO);
		}
		for (i = 0; i < json_array_size(v); i++) {
			if (!cstr_ok(json_array_get(v, i))) {
				return (LC_EPROTO);
			}
		}
		st->roles = v;
	}
	v = json_object_get(o, "verified");
	if (v != NULL && !json_is_null(v) && !json_is_boolean(v)) {
		return (LC_EPROTO);
	}
	st->verified = json_is_true(v);
	v            = json_object_get(o, "cut");
	if (v != NULL && !json_is_null(v) &&
	    !(json_is_string(v) && json_string_length(v) == 0) &&
	    get_id(o, "cut", &st->cut) != 0) {
		return (LC_EPROTO);
	}
	return (0);
}

/* ---- tables ---- */

static struct table *
table_alloc(size_t nusers, size_t nsess)
{
	struct table *t = lc_calloc(1, sizeof(*t));

	for (t->unb = BUCKETS_MIN; t->unb < nusers; t->unb *= 2) { }
	for (t->snb = BUCKETS_MIN; t->snb < nsess; t->snb *= 2) { }
	t->ub = lc_calloc(t->unb, sizeof(*t->ub));
	t->sb = lc_calloc(t->snb, sizeof(*t->sb));
	return (t);
}

static void
user_free(struct vuser *u)
{
	lc_free(u->email);
	lc_free(u->roles);
	lc_free(u);
}

static void
table_free(struct table *t)
{
	size_t i;

	if (t == NULL) {
		return;
	}
	for (i = 0; i < t->snb; i++) {
		struct vsess *s = t->sb[i];

		while (s != NULL) {
			struct vsess *n = s->next;

			lc_free(s);
			s = n;
		}
	}
	for (i = 0; i < t->unb; i++) {
		struct vuser *u = t->ub[i];

		while (u != NULL) {
			struct vuser *n = u->next;

			user_free(u);
			u = n;
		}
	}
	lc_free(t->sb);
	lc_free(t->ub);
	lc_free(t);
}

static struct vuser *
user_find(const struct table *t, lc_str uid)
{
	struct vuser *u = t->ub[hash(uid.ptr, uid.len) & (t->unb - 1)];

	while (u != NULL && !ideq(u->uid, u->uid_len, uid)) {
		u = u->next;
	}
	return (u);
}

static struct vsess *
sess_find(const struct table *t, lc_str sid)
{
	struct vsess *s = t->sb[hash(sid.ptr, sid.len) & (t->snb - 1)];

	while (s != NULL && !ideq(s->sid, s->sid_len, sid)) {
		s = s->next;
	}
	return (s);
}

static void
users_grow(struct table *t)
{
	size_t         nb = t->unb * 2;
	struct vuser **b  = lc_calloc(nb, sizeof(*b));
	size_t         i;

	for (i = 0; i < t->unb; i++) {
		struct vuser *u = t->ub[i];

		while (u != NULL) {
			struct vuser *n = u->next;
			size_t        h = hash(u->uid, u->uid_len) & (nb - 1);

			u->next = b[h];
			b[h]    = u;
			u       = n;
		}
	}
	lc_free(t->ub);
	t->ub  = b;
	t->unb = nb;
}

static void
sess_grow(struct table *t)
{
	size_t         nb = t->snb * 2;
	struct vsess **b  = lc_calloc(nb, sizeof(*b));
	size_t         i;

	for (i = 0; i < t->snb; i++) {
		struct vsess *s = t->sb[i];

		while (s != NULL) {
			struct vsess *n = s->next;
			size_t        h = hash(s->sid, s->sid_len) & (nb - 1);

			s->next = b[h];
			b[h]    = s;
			s       = n;
		}
	}
	lc_free(t->sb);
	t->sb  = b;
	t->snb = nb;
}

static void
sess_unlink_user(struct vsess *s)
{
	*s->uprev = s->unext;
	if (s->unext != NULL) {
		s->unext->uprev = s->uprev;
	}
	s->unext = NULL;
	s->uprev = NULL;
	s->user  = NULL;
}

static void
sess_link_user(struct vsess *s, struct vuser *u)
{
	s->user  = u;
	s->unext = u->sess;
	s->uprev = &u->sess;
	if (u->sess != NULL) {
		u->sess->uprev = &s->unext;
	}
	u->sess = s;
}

static void
sess_remove(struct table *t, struct vsess *s)
{
	struct vsess **pp = &t->sb[hash(s->sid, s->sid_len) & (t->snb - 1)];

	while (*pp != s) {
		pp = &(*pp)->next;
	}
	*pp = s->next;
	sess_unlink_user(s);
	lc_free(s);
	t->nsess--;
}

static void
user_drop_sessions(struct table *t, struct vuser *u)
{
	while (u->sess != NULL) {
		sess_remove(t, u->sess);
	}
}

static void
user_remove(struct table *t, struct vuser *u)
{
	struct vuser **pp = &t->ub[hash(u->uid, u->uid_len) & (t->unb - 1)];

	user_drop_sessions(t, u);
	while (*pp != u) {
		pp = &(*pp)->next;
	}
	*pp = u->next;
	user_free(u);
	t->nusers--;
}

// Sets u's state from st (the cut only ever grows). Returns 1 when the cut
// grew: every token of the user issued before it is dead, so are its
// sessions (the caller drops them).
static int
user_set(struct vuser *u, const struct ustate *st)
{
	size_t i;
	size_t len = 0;
	char  *p;

	lc_free(u->email);
	u->email =
	    st->email != NULL ? lc_strdup(json_string_value(st->email)) : NULL;
	lc_free(u->roles);
	u->roles  = NULL;
	u->nroles = json_array_size(st->roles); // 0 for NULL
	for (i = 0; i < u->nroles; i++) {
		len += json_string_length(json_array_get(st->roles, i)) + 1;
	}
	u->roles_len = len;
	if (len > 0) {
		p = u->roles = lc_alloc(len);
		for (i = 0; i < u->nroles; i++) {
			const json_t *r = json_array_get(st->roles, i);

			memcpy(p, json_string_value(r),
			    json_string_length(r) + 1);
			p += json_string_length(r) + 1;
		}
	}
	u->verified = st->verified;
	if (st->cut.len > 0 && idcmp(st->cut, u->cut) > 0) {
		memcpy(u->cut, st->cut.ptr, st->cut.len);
		u->cut[st->cut.len] = '\0';
		return (1);
	}
	return (0);
}

// Finds or adds the user of st and sets its state; drops its sessions
// when its cut grew (*cut_grew, may be NULL, says so).
static struct vuser *
user_put(struct table *t, const struct ustate *st, int *cut_grew)
{
	struct vuser *u = user_find(t, st->uid);
	size_t        h;

	if (u == NULL) {
		if (t->nusers >= t->unb) {
			users_grow(t);
		}
		u          = lc_calloc(1, sizeof(*u));
		u->uid_len = st->uid.len;
		memcpy(u->uid, st->uid.ptr, st->uid.len);
		h        = hash(u->uid, u->uid_len) & (t->unb - 1);
		u->next  = t->ub[h];
		t->ub[h] = u;
		t->nusers++;
	}
	if (user_set(u, st)) {
		user_drop_sessions(t, u);
		if (cut_grew != NULL) {
			*cut_grew = 1;
		}
	}
	return (u);
}

static void
sess_put(struct table *t, lc_str sid, struct vuser *u)
{
	struct vsess *s = sess_find(t, sid);
	size_t        h;

	if (s != NULL) {
		if (s->user != u) { // moved to another user: take auth's word
			sess_unlink_user(s);
			sess_link_user(s, u);
		}
		return;
	}
	if (t->nsess >= t->snb) {
		sess_grow(t);
	}
	s          = lc_calloc(1, sizeof(*s));
	s->sid_len = sid.len;
	memcpy(s->sid, sid.ptr, sid.len);
	h        = hash(s->sid, s->sid_len) & (t->snb - 1);
	s->next  = t->sb[h];
	t->sb[h] = s;
	t->nsess++;
	sess_link_user(s, u);
}

/* ---- tombstones (under the write lock) ---- */

static struct tomb **
tomb_bucket(struct gw_view *v, const char *id, size_t len)
{
	return (&v->tb[hash(id, len) % TOMB_BUCKETS]);
}

static void
tomb_drop_oldest(struct gw_view *v)
{
	struct tomb  *x  = v->thead;
	struct tomb **pp = tomb_bucket(v, x->id, x->id_len);

	while (*pp != x) {
		pp = &(*pp)->next;
	}
	*pp      = x->next;
	v->thead = x->fnext;
	if (v->thead == NULL) {
		v->ttail = NULL;
	}
	v->ntomb--;
	lc_free(x);
}

static void
tomb_prune(struct gw_view *v, int64_t now)
{
	while (v->thead != NULL &&
	    (v->ntomb > TOMB_MAX || now - v->thead->at_ms > GW_VIEW_TOMB_MS)) {
		tomb_drop_oldest(v);
	}
}

static void
tomb_add(struct gw_view *v, int kind, lc_str id, lc_str cut)
{
	struct tomb  *x = lc_calloc(1, sizeof(*x));
	struct tomb **b = tomb_bucket(v, id.ptr, id.len);

	x->at_ms  = lc_mono_ms();
	x->kind   = kind;
	x->id_len = id.len;
	memcpy(x->id, id.ptr, id.len);
	memcpy(x->cut, cut.ptr, cut.len);
	x->next = *b;
	*b      = x;
	if (v->ttail != NULL) {
		v->ttail->fnext = x;
	} else {
		v->thead = x;
	}
	v->ttail = x;
	v->ntomb++;
	tomb_prune(v, x->at_ms);
}

static int
tomb_has(struct gw_view *v, int kind, lc_str id)
{
	const struct tomb *x;

	for (x = *tomb_bucket(v, id.ptr, id.len); x != NULL; x = x->next) {
		if (x->kind == kind && ideq(x->id, x->id_len, id)) {
			return (1);
		}
	}
	return (0);
}

// The newest tombstoned cut of uid, or NULL.
static const char *
tomb_cut(struct gw_view *v, lc_str uid)
{
	const struct tomb *x;
	const char        *best = NULL;

	for (x = *tomb_bucket(v, uid.ptr, uid.len); x != NULL; x = x->next) {
		if (x->kind == T_CUT && ideq(x->id, x->id_len, uid) &&
		    (best == NULL || strcmp(x->cut, best) > 0)) {
			best = x->cut;
		}
	}
	return (best);
}

// Applies every tombstone to t (a snapshot about to be swapped in).
static void
tomb_replay(struct gw_view *v, struct table *t)
{
	const struct tomb *x;

	for (x = v->thead; x != NULL; x = x->fnext) {
		lc_str        id = { x->id, x->id_len };
		struct vsess *s;
		struct vuser *u;

		switch (x->kind) {
		case T_SID:
			if ((s = sess_find(t, id)) != NULL) {
				sess_remove(t, s);
			}
			break;
		case T_UID:
			if ((u = user_find(t, id)) != NULL) {
				user_remove(t, u);
			}
			break;
		default: // T_CUT
			// A snapshot whose cut is older was read before the
			// revocation: all its sessions of the user died by it.
			u = user_find(t, id);
			if (u != NULL &&
			    idcmp((lc_str) { x->cut, strlen(x->cut) },
			        u->cut) > 0) {
				user_drop_sessions(t, u);
				(void) snprintf(
				    u->cut, sizeof(u->cut), "%s", x->cut);
			}
			break;
		}
	}
}

/* ---- the view ---- */

struct gw_view *
gw_view_alloc(void)
{
	struct gw_view *v = lc_calloc(1, sizeof(*v));

	(void) pthread_rwlock_init(&v->lock, NULL);
	v->t = table_alloc(0, 0);
	atomic_init(&v->sub, NULL);
	atomic_init(&v->forced, 0);
	return (v);
}

void
gw_view_free(struct gw_view *v)
{
	if (v == NULL) {
		return;
	}
	while (v->thead != NULL) {
		tomb_drop_oldest(v);
	}
	table_free(v->t);
	(void) pthread_rwlock_destroy(&v->lock);
	lc_free(v);
}

int
gw_view_in_sync(struct gw_view *v)
{
	struct lc_sub *sub;

	if (v == NULL) {
		return (0);
	}
	sub = atomic_load_explicit(&v->sub, memory_order_acquire);
	return (sub != NULL
	        ? lc_sub_in_sync(sub)
	        : atomic_load_explicit(&v->forced, memory_order_relaxed));
}

void
gw_view_set_sync(struct gw_view *v, struct lc_sub *sub, int in_sync)
{
	atomic_store_explicit(&v->forced, in_sync, memory_order_relaxed);
	atomic_store_explicit(&v->sub, sub, memory_order_release);
}

static int
apply_active(struct gw_view *v, const json_t *p)
{
	struct ustate st;
	lc_str        sid;
	lc_str        uid;
	const char   *tc;
	struct vuser *u;
	int           grew = 0;

	if (get_id(p, "sid", &sid) != 0 || get_id(p, "uid", &uid) != 0 ||
	    ustate_parse(json_object_get(p, "user"), &uid, &st) != 0) {
		return (LC_EPROTO);
	}
	// Already revoked, or older than a revocation of all the user's
	// tokens that we know of: a late event, nothing to add.
	if (tomb_has(v, T_SID, sid) || tomb_has(v, T_UID, uid) ||
	    ((tc = tomb_cut(v, uid)) != NULL && idcmp(st.cut, tc) < 0)) {
		return (0);
	}
	u = user_put(v->t, &st, &grew);
	if (grew) { // opened after a revocation of all the user's tokens
		tomb_add(v, T_CUT, uid, st.cut);
	}
	sess_put(v->t, sid, u);
	return (0);
}

static int
apply_revoked(struct gw_view *v, const json_t *p)
{
	const json_t *sids = json_object_get(p, "sids");
	const json_t *e;
	lc_str        uid;
	lc_str        cut;
	lc_str        sid;
	struct vuser *u;
	size_t        i;

	// The sids first: whatever else is wrong with the payload, a sid
	// named here is dead.
	json_array_foreach(sids, i, e)
	{
		struct vsess *s;

		if (!json_is_string(e)) {
			continue;
		}
		sid = (lc_str) { json_string_value(e), json_string_length(e) };
		if (sid.len == 0 || sid.len > GW_ID_MAX) {
			continue; // never stored
		}
		if ((s = sess_find(v->t, sid)) != NULL) {
			sess_remove(v->t, s);
		}
		tomb_add(v, T_SID, sid, (lc_str) { "", 0 });
	}
	if (sids != NULL && !json_is_array(sids)) {
		return (LC_EPROTO);
	}
	e = json_object_get(p, "cut");
	if (e == NULL || json_is_null(e)) {
		return (0);
	}
	if (get_id(p, "uid", &uid) != 0 || get_id(p, "cut", &cut) != 0) {
		return (LC_EPROTO);
	}
	tomb_add(v, T_CUT, uid, cut);
	if ((u = user_find(v->t, uid)) != NULL) {
		user_drop_sessions(v->t, u);
		if (idcmp(cut, u->cut) > 0) {
			memcpy(u->cut, cut.ptr, cut.len);
			u->cut[cut.len] = '\0';
		}
	}
	return (0);
}

static int
apply_changed(struct gw_view *v, const json_t *p)
{
	struct ustate st;
	const char   *tc;
	struct vuser *u;
	int           grew = 0;

	if (ustate_parse(p, NULL, &st) != 0) {
		return (LC_EPROTO);
	}
	if (tomb_has(v, T_UID, st.uid)) {
		return (0); // deleted since
	}
	u = user_put(v->t, &st, &grew);
	if (grew) {
		tomb_add(v, T_CUT, st.uid, st.cut);
	}
	// A late event must not lower a cut we know of.
	if ((tc = tomb_cut(v, st.uid)) != NULL &&
	    idcmp((lc_str) { tc, strlen(tc) }, u->cut) > 0) {
		user_drop_sessions(v->t, u);
		(void) snprintf(u->cut, sizeof(u->cut), "%s", tc);
	}
	return (0);
}

static int
apply_deleted(struct gw_view *v, const json_t *p)
{
	struct vuser *u;
	lc_str        uid;

	if (get_id(p, "uid", &uid) != 0) {
		return (LC_EPROTO);
	}
	if ((u = user_find(v->t, uid)) != NULL) {
		user_remove(v->t, u);
	}
	tomb_add(v, T_UID, uid, (lc_str) { "", 0 });
	return (0);
}

int
gw_view_apply(struct gw_view *v, int topic, const json_t *payload)
{
	int rv;

	switch (topic) {
	case LC_TOPIC_SESS_ACTIVE:
	case LC_TOPIC_SESS_REVOKED:
	case LC_TOPIC_USER_CHANGED:
	case LC_TOPIC_USER_DELETED:
		break;
	default:
		return (0); // not kept here (apikey.revoked: auth.c)
	}
	if (!json_is_object(payload)) {
		return (LC_EPROTO);
	}
	(void) pthread_rwlock_wrlock(&v->lock);
	tomb_prune(v, lc_mono_ms());
	switch (topic) {
	case LC_TOPIC_SESS_ACTIVE:
		rv = apply_active(v, payload);
		break;
	case LC_TOPIC_SESS_REVOKED:
		rv = apply_revoked(v, payload);
		break;
	case LC_TOPIC_USER_CHANGED:
		rv = apply_changed(v, payload);
		break;
	default:
		rv = apply_deleted(v, payload);
		break;
	}
	(void) pthread_rwlock_unlock(&v->lock);
	return (rv);
}

int
gw_view_install(struct gw_view *v, const json_t *snap)
{
	const json_t *users    = json_object_get(snap, "users");
	const json_t *sessions = json_object_get(snap, "sessions");
	const json_t *e;
	struct table *t;
	struct table *old;
	size_t        i;
	size_t        bad = 0;

	if (!json_is_array(users) || !json_is_array(sessions)) {
		return (LC_EPROTO);
	}
	t = table_alloc(json_array_size(users), json_array_size(sessions));
	json_array_foreach(users, i, e)
	{
		struct ustate st;

		if (ustate_parse(e, NULL, &st) != 0) {
			bad++; // its sessions stay unknown: asked of auth
			continue;
		}
		(void) user_put(t, &st, NULL);
	}
	json_array_foreach(sessions, i, e)
	{
		struct vuser *u;
		lc_str        sid;
		lc_str        uid;

		if (get_id(e, "sid", &sid) != 0 ||
		    get_id(e, "uid", &uid) != 0 ||
		    (u = user_find(t, uid)) == NULL) {
			bad++;
			continue;
		}
		sess_put(t, sid, u);
	}
	(void) pthread_rwlock_wrlock(&v->lock);
	tomb_prune(v, lc_mono_ms());
	tomb_replay(v, t);
	old  = v->t;
	v->t = t;
	(void) pthread_rwlock_unlock(&v->lock);
	table_free(old);
	if (bad > 0) {
		lc_log_warn(
		    "GW-VIEW", "snapshot: %zu malformed entries skipped", bad);
	}
	lc_log_debug("GW-VIEW", "snapshot: %zu users, %zu sessions", t->nusers,
	    t->nsess);
	return (0);
}

// The caller object of u (sid NULL for an impersonation token).
static json_t *
caller_of(const struct vuser *u, const lc_str *sid)
{
	json_t     *c     = json_object();
	json_t     *roles = json_array();
	const char *p     = u->roles;
	size_t      i;

	(void) json_object_set_new_nocheck(c, "kind", json_string("user"));
	(void) json_object_set_new_nocheck(
	    c, "uid", json_stringn_nocheck(u->uid, u->uid_len));
	if (sid != NULL) {
		(void) json_object_set_new_nocheck(
		    c, "sid", json_stringn_nocheck(sid->ptr, sid->len));
	}
	if (u->email != NULL) {
		(void) json_object_set_new_nocheck(
		    c, "email", json_string_nocheck(u->email));
	}
	for (i = 0; i < u->nroles; i++) {
		size_t n = strlen(p);

		(void) json_array_append_new(
		    roles, json_stringn_nocheck(p, n));
		p += n + 1;
	}
	(void) json_object_set_new_nocheck(c, "roles", roles);
	(void) json_object_set_new_nocheck(
	    c, "verified", json_boolean(u->verified));
	if (sid == NULL) {
		(void) json_object_set_new_nocheck(c, "imp", json_true());
	}
	return (c);
}

int
gw_view_check(
    struct gw_view *v, lc_str uid, lc_str id, int imp, json_t **caller)
{
	const struct vsess *s;
	const struct vuser *u;
	int                 rv = GW_VIEW_UNKNOWN;

	if (!gw_view_in_sync(v) || uid.len == 0 || uid.len > GW_ID_MAX ||
	    id.len == 0 || id.len > GW_ID_MAX) {
		return (GW_VIEW_UNKNOWN);
	}
	(void) pthread_rwlock_rdlock(&v->lock);
	if (!imp) {
		s = sess_find(v->t, id);
		if (s != NULL && ideq(s->user->uid, s->user->uid_len, uid)) {
			*caller = caller_of(s->user, &id);
			rv      = GW_VIEW_OK;
		}
	} else if ((u = user_find(v->t, uid)) != NULL) {
		// jti and cut come from one monotonic ULID generator (auth.h):
		// "issued before" is the string order.
		if (u->cut[0] != '\0' && idcmp(id, u->cut) < 0) {
			rv = GW_VIEW_REVOKED;
		} else {
			*caller = caller_of(u, NULL);
			rv      = GW_VIEW_OK;
		}
	}
	(void) pthread_rwlock_unlock(&v->lock);
	return (rv);
}

size_t
gw_view_sessions(struct gw_view *v)
{
	size_t n;

	(void) pthread_rwlock_rdlock(&v->lock);
	n = v->t->nsess;
	(void) pthread_rwlock_unlock(&v->lock);
	return (n);
}

size_t
gw_view_users(struct gw_view *v)
{
	size_t n;

	(void) pthread_rwlock_rdlock(&v->lock);
	n = v->t->nusers;
	(void) pthread_rwlock_unlock(&v->lock);
	return (n);
}

/* ---- events, effects, the subscriber ---- */

void
gw_event_apply(struct gw *g, int topic, const json_t *payload)
{
	const json_t *uid = json_object_get(payload, "uid");
	int           drop;

	if (g->view != NULL && gw_view_apply(g->view, topic, payload) != 0) {
		lc_log_warn("GW-VIEW", "malformed %s event ignored",
		    lc_topic_name(topic));
	}
	switch (topic) {
	case LC_TOPIC_APIKEY_REVOKED:
	case LC_TOPIC_USER_CHANGED:
	case LC_TOPIC_USER_DELETED:
		drop = 1;
		break;
	case LC_TOPIC_SESS_REVOKED: // with a cut: keys were revoked too
		drop = json_is_string(json_object_get(payload, "cut"));
		break;
	default:
		drop = 0;
		break;
	}
	if (drop && g->auth != NULL && json_is_string(uid)) {
		gw_auth_drop_uid(
		    g->auth, json_string_value(uid), json_string_length(uid));
	}
}

void
gw_fx_apply(struct gw *g, const json_t *fx)
{
	const json_t *e;
	size_t        i;

	json_array_foreach(fx, i, e)
	{
		const json_t *t = json_object_get(e, "t");
		int           topic;

		if (!json_is_string(t)) {
			lc_log_warn("GW-FX", "malformed effect skipped");
			continue;
		}
		topic =
		    lc_topic_find(json_string_value(t), json_string_length(t));
		if (topic < 0) {
			lc_log_debug("GW-FX", "unknown effect %s skipped",
			    json_string_value(t));
			continue;
		}
		gw_event_apply(g, topic, json_object_get(e, "p"));
	}
}

static void
on_event(void *arg, int topic, uint64_t seq, const json_t *payload)
{
	LC_UNUSED(seq);
	gw_event_apply(arg, topic, payload);
}

int
gw_sessions_resync(void *arg)
{
	struct gw        *g = arg;
	struct lc_client *c = g->client[LC_SVC_AUTH][0];
	struct lc_req     rq;
	struct lc_rep     rp;
	int               rv;

	// Events may have been lost: no cached API key survives a resync.
	gw_auth_flush(g->auth);
	if (c == NULL) {
		return (LC_EUNAVAILABLE);
	}
	lc_req_init(&rq);
	lc_rep_init(&rp);
	rq.v  = LC_ENV_VERSION;
	rq.op = LC_MSG_AUTH_SESSIONS_SNAPSHOT;
	(void) snprintf(rq.op_name, sizeof(rq.op_name), "%s",
	    lc_msg_name(LC_MSG_AUTH_SESSIONS_SNAPSHOT));
	rq.deadline    = lc_now_ms() + GW_SNAPSHOT_TIMEOUT_MS;
	rq.caller_kind = LC_CALLER_SERVICE;
	rq.caller      = json_pack("{s:s}", "kind", "service");
	rq.params      = json_object();
	rq.query       = json_object();
	rv             = lc_client_call(c, &rq, GW_SNAPSHOT_TIMEOUT_MS, &rp);
	if (rv == 0 && rp.status != 200) {
		// auth answers but cannot give a snapshot: say so now and
		// then, the subscriber retries with a backoff.
		if (lc_mono_ms() - g->view->warned_ms > WARN_EVERY_MS ||
		    g->view->warned_ms == 0) {
			g->view->warned_ms = lc_mono_ms();
			lc_log_warn("GW-VIEW",
			    "auth.sessions_snapshot answered %d", rp.status);
		}
		rv = LC_EUNAVAILABLE;
	} else if (rv == 0 && (rv = gw_view_install(g->view, rp.body)) != 0) {
		lc_log_err("GW-VIEW", "malformed sessions snapshot");
	}
	lc_req_fini(&rq);
	lc_rep_fini(&rp);
	return (rv);
}

int
gw_sessions_follow(struct gw *g)
{
	static const int topics[] = { LC_TOPIC_SESS_ACTIVE,
		LC_TOPIC_SESS_REVOKED, LC_TOPIC_USER_CHANGED,
		LC_TOPIC_USER_DELETED, LC_TOPIC_APIKEY_REVOKED };
	int              rv;

	rv = lc_sub_open(g->cfg.events_url[LC_SVC_AUTH], topics,
	    LC_NELEM(topics), on_event, gw_sessions_resync, g, &g->auth_sub);
	if (rv != 0) {
		return (rv);
	}
	gw_view_set_sync(g->view, g->auth_sub, 0);
	return (0);
}

void
gw_sessions_unfollow(struct gw *g)
{
	if (g->auth_sub == NULL) {
		return;
	}
	gw_view_set_sync(g->view, NULL, 0);
	lc_sub_close(g->auth_sub);
	g->auth_sub = NULL;
}
