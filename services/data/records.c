/*
 * records.c -- the single-record endpoints (API.md §3.8): records.create,
 * get, update, delete, restore, and their admin twins of §5.1
 * (collections.records_create / _get / _update / _delete: rules ignored,
 * `_owner_id` accepted, never auto-creating a collection; the admin's
 * delete is a hard delete). Each handler: resolve the
 * caller and the collection name, open one transaction, run the write
 * path (write.c) or the read, answer.
 *
 * Writes are idempotent by request: inside the write transaction a request
 * already answered (same rid, op, caller, params and body) gets the stored
 * reply and writes nothing (db.c).
 */
#include <stdio.h>
#include <string.h>

#include "data.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_ids.h"
#include "lc_log.h"
#include "lc_settings.h"
#include "relations.h"

/* ---- helpers shared by the handlers ---- */

int
data_fail(struct lc_rep *rp, int rv, const char *msg, const char *field)
{
	lc_rep_error(rp, rv, msg, field);
	return (rv);
}

int
data_param(
    const struct lc_req *rq, const char *key, const char **s, size_t *len)
{
	const json_t *v = json_object_get(rq->params, key);

	if (!json_is_string(v)) {
		*s   = "";
		*len = 0;
		return (0);
	}
	*s   = json_string_value(v);
	*len = json_string_length(v);
	return (1);
}

int
data_query_bool(const struct lc_req *rq, const char *key, int def, int *out)
{
	const json_t *v = json_object_get(rq->query, key);
	const char   *s;

	*out = def;
	if (v == NULL || json_is_null(v)) {
		return (0);
	}
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return (0);
	}
	if (!json_is_string(v)) {
		return (LC_EINVALID_QUERY);
	}
	s = json_string_value(v);
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0) {
		*out = 1;
	} else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0) {
		*out = 0;
	} else {
		return (LC_EINVALID_QUERY);
	}
	return (0);
}

// Sets up the write context of a request.
static void
wctx_init(struct data_wctx *x, struct lc_worker *w, const struct lc_req *rq,
    int admin_ep)
{
	memset(x, 0, sizeof(*x));
	x->dw = data_worker(w);
	x->rq = rq;
	data_caller_init(&x->caller, rq);
	x->admin_ep         = admin_ep;
	x->require_verified = lc_settings_bool("require_email_verification");
	if (admin_ep) {
		x->caller.admin = 1; // the gateway admitted the admin only
	}
}

// The collection name of the request: "collection" on the public routes,
// "name" on the admin ones.
static void
coll_name(const struct lc_req *rq, int admin_ep, const char **s, size_t *n)
{
	(void) data_param(rq, admin_ep ? "name" : "collection", s, n);
}

// The body of a JSON endpoint: an absent body counts as {} (§1.4).
static json_t *
body_of(const struct lc_req *rq, json_t **tmp)
{
	*tmp = NULL;
	if (rq->body == NULL || json_is_null(rq->body)) {
		return (*tmp = json_object());
	}
	return (rq->body);
}

/* ---- create ---- */

static int
create(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp,
    int admin_ep)
{
	struct data_wctx  x;
	struct data_coll *c;
	const char       *name;
	const char       *field = NULL;
	size_t            len;
	json_t           *tmp;
	json_t           *body = body_of(rq, &tmp);
	json_t           *rec  = NULL;
	int               rv;

	wctx_init(&x, w, rq, admin_ep);
	coll_name(rq, admin_ep, &name, &len);
	if (!data_coll_name_valid(name, len)) {
		rv = admin_ep ? LC_ECOLLECTION_NOT_FOUND
		              : LC_EINVALID_COLLECTION_NAME;
		goto out;
	}
	if ((rv = data_begin_write(x.dw)) != 0) {
		goto out;
	}
	if (data_dedupe_find(x.dw, rq, rp)) {
		data_end(x.dw);
		goto out;
	}
	if ((rv = data_write_coll_for_create(&x, name, len, &c)) != 0 ||
	    (rv = rq->body_err) != 0 ||
	    (rv = data_write_create(&x, c, body, &rec, &field)) != 0 ||
	    (rv = data_dedupe_store(x.dw, rq, 201, rec)) != 0 ||
	    (rv = data_commit(x.dw)) != 0) {
		data_end(x.dw);
		goto out;
	}
	lc_rep_json(rp, 201, rec);
	rec = NULL;
out:
	if (rv != 0 && rv == rq->body_err) {
		(void) data_body_err(rq, rp);
	} else if (rv != 0) {
		lc_rep_error(rp, rv, NULL, field);
	}
	json_decref(rec);
	json_decref(tmp);
	return (rv);
}

int
data_h_records_create(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	return (create(w, rq, rp, 0));
}

int
data_h_admin_records_create(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	return (create(w, rq, rp, 1));
}

/* ---- get ---- */

static int
get(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp,
    int admin_ep)
{
	struct data_worker    *dw = data_worker(w);
	struct data_caller     caller;
	struct data_coll      *c;
	struct data_query      q;
	struct data_qopts      o   = { 0 };
	struct data_sql        sql = { 0 };
	struct data_rel_expand e   = { 0 };
	json_t                *rec = NULL;
	sqlite3_stmt          *st;
	const char            *name;
	const char            *id;
	size_t                 len;
	size_t                 idlen;
	int                    own = 0;
	int                    incl;
	int                    sr;
	int                    rv;

	data_caller_init(&caller, rq);
	coll_name(rq, admin_ep, &name, &len);
	(void) data_param(rq, "id", &id, &idlen);
	if ((rv = data_query_bool(rq, "include_deleted", admin_ep, &incl)) !=
	    0) {
		return (data_fail(rp, rv, NULL, "include_deleted"));
	}
	if (!data_coll_name_valid(name, len)) {
		return (data_fail(rp, LC_ECOLLECTION_NOT_FOUND, NULL, NULL));
	}
	if ((rv = data_begin_read(dw)) != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	if ((rv = data_catalog_find(dw, name, len, &c)) != 0) {
		goto out_end;
	}
	if (!admin_ep &&
	    (rv = data_rule_check(&c->rules.read, &caller, 0,
	         lc_settings_bool("require_email_verification"), &own)) != 0) {
		goto out_end;
	}
	if (incl && !admin_ep && !caller.admin) {
		rv = LC_EFORBIDDEN;
		goto out_end;
	}
	if (!lc_ulid_valid(id, idlen)) {
		rv = LC_ERECORD_NOT_FOUND;
		goto out_end;
	}
	o.owner           = own ? caller.uid : NULL;
	o.include_deleted = incl;
	if ((rv = data_rel_expand_parse(
	         dw, c->id, json_object_get(rq->query, "expand"), &e)) != 0) {
		lc_rep_error(rp, rv, NULL, "expand");
		data_rel_expand_fini(&e);
		data_end(dw);
		return (rv);
	}
	data_query_init(&q, &c->schema, &o);
	if ((rv = data_query_fields(
	         &q, json_object_get(rq->query, "fields"))) != 0) {
		lc_rep_error(rp, rv, NULL, q.err_field);
		data_query_fini(&q);
		data_rel_expand_fini(&e);
		data_end(dw);
		return (rv);
	}
	data_rel_expand_select(&e, &q);
	data_sql_add(&sql, "SELECT ");
	data_sql_add(&sql, data_query_columns(&q));
	data_sql_add(&sql, " FROM ");
	data_sql_ident(&sql, c->table, strlen(c->table));
	data_sql_add(&sql, " WHERE \"_id\" = ?1");
	if (!incl) {
		data_sql_add(&sql, " AND \"_deleted_at\" IS NULL");
	}
	if (own) {
		data_sql_add(&sql, " AND \"_owner_id\" = ?2");
	}
	if ((st = data_stmt_dyn(dw, sql.p)) == NULL) {
		rv = LC_EINTERNAL;
	} else {
		(void) sqlite3_bind_text(
		    st, 1, id, (int) idlen, SQLITE_STATIC);
		if (own) {
			(void) sqlite3_bind_text(
			    st, 2, caller.uid, -1, SQLITE_STATIC);
		}
		if ((sr = sqlite3_step(st)) == SQLITE_ROW) {
			rec = data_proj_record(&q, st, 0);
			data_rel_expand_row(&e, &q, st, 0, rec);
		} else if (sr == SQLITE_DONE) {
			rv = LC_ERECORD_NOT_FOUND;
		} else {
			lc_log_err("DATA-SQL", "get: %s",
			    sqlite3_errmsg(data_conn(dw)));
			rv = LC_EINTERNAL;
		}
		lc_db_done(st);
	}
	if (rv == 0 && rec != NULL &&
	    (rv = data_rel_expand_apply(dw, &e, &caller,
	         lc_settings_bool("require_email_verification"))) == 0) {
		lc_rep_json(rp, 200, rec);
		rec = NULL;
	}
	json_decref(rec);
	data_query_fini(&q);
	data_sql_fini(&sql);
out_end:
	data_rel_expand_fini(&e);
	data_end(dw);
	return (rv != 0 ? data_fail(rp, rv, NULL, NULL) : 0);
}

int
data_h_records_get(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	return (get(w, rq, rp, 0));
}

int
data_h_admin_records_get(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	return (get(w, rq, rp, 1));
}

/* ---- update, delete, restore ---- */

enum rec_op { OP_UPDATE, OP_DELETE, OP_RESTORE, OP_PURGE };

static int
change(struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp,
    int admin_ep, enum rec_op op)
{
	struct data_wctx  x;
	struct data_coll *c;
	const char       *name;
	const char       *id;
	const char       *field = NULL;
	size_t            len;
	size_t            idlen;
	json_t           *tmp    = NULL;
	json_t           *rec    = NULL;
	json_t           *body   = op == OP_UPDATE ? body_of(rq, &tmp) : NULL;
	int               status = 200;
	int               rv;

	wctx_init(&x, w, rq, admin_ep);
	coll_name(rq, admin_ep, &name, &len);
	(void) data_param(rq, "id", &id, &idlen);
	if (!data_coll_name_valid(name, len)) {
		// §3.1: a write to an invalid name is 400; the admin record
		// endpoints answer 404 for any name no collection can have.
		rv = admin_ep ? LC_ECOLLECTION_NOT_FOUND
		              : LC_EINVALID_COLLECTION_NAME;
		goto out;
	}
	if (op == OP_RESTORE && !x.caller.admin && !x.caller.user) {
		rv = LC_EAUTH_REQUIRED; // user/admin (§3.3)
		goto out;
	}
	if ((rv = data_begin_write(x.dw)) != 0) {
		goto out;
	}
	if (data_dedupe_find(x.dw, rq, rp)) {
		data_end(x.dw);
		goto out;
	}
	if ((rv = data_catalog_find(x.dw, name, len, &c)) == 0) {
		switch (op) {
		case OP_UPDATE:
			rv = data_write_update(
			    &x, c, id, idlen, body, &rec, &field);
			break;
		case OP_DELETE:
			rv  = data_write_delete(&x, c, id, idlen);
			rec = json_pack("{s:b}", "ok", 1);
			break;
		case OP_PURGE:
			rv  = data_write_purge(&x, c, id, idlen);
			rec = json_pack("{s:b}", "ok", 1);
			break;
		default:
			rv = data_write_restore(&x, c, id, idlen, &rec);
			break;
		}
	}
	if (rv != 0 || (rv = data_dedupe_store(x.dw, rq, status, rec)) != 0 ||
	    (rv = data_commit(x.dw)) != 0) {
		data_end(x.dw);
		goto out;
	}
	lc_rep_json(rp, status, rec);
	rec = NULL;
out:
	if (rv != 0 && rv == rq->body_err) {
		(void) data_body_err(rq, rp);
	} else if (rv != 0) {
		lc_rep_error(rp, rv, NULL, field);
	}
	json_decref(rec);
	json_decref(tmp);
	return (rv);
}

int
data_h_records_update(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	return (change(w, rq, rp, 0, OP_UPDATE));
}

int
data_h_records_delete(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	return (change(w, rq, rp, 0, OP_DELETE));
}

int
data_h_records_restore(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	return (change(w, rq, rp, 0, OP_RESTORE));
}

int
data_h_admin_records_update(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	return (change(w, rq, rp, 1, OP_UPDATE));
}

int
data_h_admin_records_delete(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	return (change(w, rq, rp, 1, OP_PURGE));
}

int
data_body_err(const struct lc_req *rq, struct lc_rep *rp)
{
	lc_rep_error(rp, rq->body_err,
	    rq->body_err_msg[0] != '\0' ? rq->body_err_msg : NULL, NULL);
	return (rq->body_err);
}
