/*
 * write.c -- the write path of one record: create, update (PATCH
 * semantics, §3.8), soft delete and restore, each inside a write
 * transaction the handler opened (data_begin_write). Single records, bulk
 * and batch all come through here, so the order of checks is the same
 * everywhere (API.md §3.8 "Write errors"):
 *
 *   rule (collection level) -> record (404 / record level 403/404) ->
 *   data_hook_before (the seam) -> keys and types (infer.c) ->
 *   validation rules (fieldrules.c, compiled once per worker in the
 *   catalog entry) -> DDL for new columns -> the row (a UNIQUE index
 *   clash, admin index or unique rule, is 409 unique_violation with the
 *   column SQLite names) -> read back -> event queued for after the
 *   commit.
 *
 * Nothing here commits: a failing step returns its code and the handler
 * rolls the whole transaction back, which also undoes DDL (SQLite DDL is
 * transactional) and so a failed write changes nothing.
 */
#include <stdio.h>
#include <string.h>

#include "data.h"
#include "lc_db.h"
#include "lc_err.h"
#include "lc_ids.h"
#include "lc_log.h"
#include "lc_msg.h"
#include "lc_settings.h"
#include "relations.h"

int
data_hook_before(struct data_wctx *x, const struct data_coll *c,
    enum data_hook_event ev, const char *id, json_t *record)
{
	// The hooks issue calls hooks.run here (beforeCreate / beforeUpdate
	// / beforeDelete, §3.11) and maps a throw to LC_EHOOK_REJECTED, a
	// timeout to LC_EHOOK_TIMEOUT, an unreachable hooks service with
	// enabled hooks to LC_EUNAVAILABLE. No hooks exist yet.
	LC_UNUSED(x);
	LC_UNUSED(c);
	LC_UNUSED(ev);
	LC_UNUSED(id);
	LC_UNUSED(record);
	return (0);
}

// The event payload of a record write: {"collection", "record"}.
static void
emit(struct data_wctx *x, const struct data_coll *c, int topic,
    const json_t *rec)
{
	data_emit(x->dw, topic,
	    json_pack("{s:s, s:O}", "collection", c->name, "record", rec));
}

// The _id of a loaded row, NUL-terminated.
static const char *
record_id(const struct data_row *row)
{
	const char *id =
	    json_string_value(json_object_get(row->record, "_id"));

	return (id != NULL ? id : "");
}

int
data_write_coll_for_create(
    struct data_wctx *x, const char *name, size_t len, struct data_coll **out)
{
	struct data_rules defaults;
	int               own;
	int               rv;

	rv = data_catalog_find(x->dw, name, len, out);
	if (rv == 0) {
		return (x->admin_ep
		        ? 0
		        : data_rule_check(&(*out)->rules.create, &x->caller, 1,
		              x->require_verified, &own));
	}
	if (rv != LC_ECOLLECTION_NOT_FOUND) {
		return (rv);
	}
	if (x->admin_ep || !lc_settings_bool("auto_create_collections")) {
		return (LC_ECOLLECTION_NOT_FOUND);
	}
	data_rules_default(&defaults);
	if ((rv = data_rule_check(&defaults.create, &x->caller, 1,
	         x->require_verified, &own)) != 0) {
		return (rv);
	}
	if (data_catalog_exists_ci(x->dw, name, len)) {
		return (LC_ECOLLECTION_EXISTS);
	}
	return (data_catalog_create(x->dw, name, len, &defaults, out));
}

// The column a UNIQUE constraint failure names ("UNIQUE constraint
// failed: r12.slug"), copied into x->err_field; "" when unknown.
static void
unique_field(struct data_wctx *x)
{
	const char *m   = sqlite3_errmsg(data_conn(x->dw));
	const char *dot = m != NULL ? strrchr(m, '.') : NULL;

	x->err_field[0] = '\0';
	if (dot != NULL && strncmp(m, "UNIQUE constraint failed: ", 26) == 0 &&
	    strchr(dot, ',') == NULL &&
	    data_name_valid(dot + 1, strlen(dot + 1))) {
		snprintf(x->err_field, sizeof(x->err_field), "%s", dot + 1);
	}
}

// Maps the result of the row statement.
static int
step_result(struct data_wctx *x, int sr)
{
	if (sr == SQLITE_DONE) {
		return (0);
	}
	if ((sr & 0xff) == SQLITE_CONSTRAINT) {
		unique_field(x);
		return (LC_EUNIQUE_VIOLATION);
	}
	lc_log_err("DATA-SQL", "write: %s (%d)",
	    sqlite3_errmsg(data_conn(x->dw)), sr);
	return ((sr & 0xff) == SQLITE_BUSY ? LC_EUNAVAILABLE : LC_EINTERNAL);
}

// The validation rules of c (§3.9) over the values of a write, after the
// hooks and the type checks. On failure the field goes to x->err_field
// (the compiled rules may be freed before the reply is written).
static int
validate(struct data_wctx *x, const struct data_coll *c, json_t *body,
    int create, const char **field)
{
	const char *f = NULL;
	int         rv;

	if (c->vrules_bad) {
		return (LC_EINTERNAL);
	}
	if ((rv = data_fieldrules_check(c->vrules, body, create, &f)) != 0) {
		snprintf(x->err_field, sizeof(x->err_field), "%s",
		    f != NULL ? f : "");
		*field = f != NULL ? x->err_field : NULL;
	}
	return (rv);
}

// After a failed row statement: the field of a unique clash.
static void
fail_field(struct data_wctx *x, int rv, const char **field)
{
	if (rv == LC_EUNIQUE_VIOLATION && x->err_field[0] != '\0') {
		*field = x->err_field;
	}
}

int
data_write_create(struct data_wctx *x, struct data_coll *c, json_t *body,
    json_t **out, const char **field)
{
	struct data_plan p   = { 0 };
	struct data_sql  sql = { 0 };
	struct data_row  row = { 0 };
	sqlite3_stmt    *st;
	char             id[LC_ULID_LEN + 1];
	int64_t          now = lc_now_ms();
	int              rv;

	*field = NULL;
	if (!json_is_object(body)) {
		return (LC_EINVALID_BODY);
	}
	if ((rv = data_hook_before(
	         x, c, DATA_HOOK_BEFORE_CREATE, NULL, body)) != 0) {
		return (rv);
	}
	if ((rv = data_plan_build(&p, &c->schema, body, x->admin_ep)) != 0) {
		// §3.2: too_many_fields names no field.
		*field = rv != LC_ETOO_MANY_FIELDS ? p.err_field : NULL;
		goto out;
	}
	if ((rv = validate(x, c, body, 1, field)) != 0 ||
	    (rv = data_rel_check(x->dw, c->id, body, field)) != 0 ||
	    (rv = data_catalog_add_columns(x->dw, c, &p)) != 0) {
		goto out;
	}
	data_sql_insert(&sql, c, &p);
	if ((st = data_stmt_dyn(x->dw, sql.p)) == NULL) {
		rv = LC_EINTERNAL;
		goto out;
	}
	lc_ulid_new(id);
	(void) sqlite3_bind_text(st, 1, id, LC_ULID_LEN, SQLITE_STATIC);
	(void) sqlite3_bind_int64(st, 2, now);
	(void) sqlite3_bind_int64(st, 3, now);
	if (p.owner_set) {
		rv = data_bind_value(st, 4, DATA_T_TEXT, p.owner);
	} else if (x->caller.user) {
		rv = sqlite3_bind_text(
		         st, 4, x->caller.uid, -1, SQLITE_STATIC) == SQLITE_OK
		    ? 0
		    : LC_EINTERNAL;
	}
	for (size_t i = 0; i < p.nkeys && rv == 0; i++) {
		rv = data_bind_value(
		    st, (int) i + 5, p.keys[i].type, p.keys[i].val);
	}
	if (rv == 0) {
		rv = step_result(x, sqlite3_step(st));
		fail_field(x, rv, field);
	}
	lc_db_done(st);
	if (rv != 0 ||
	    (rv = data_row_load(x->dw, c, id, LC_ULID_LEN, &row)) != 0) {
		goto out;
	}
	emit(x, c, LC_TOPIC_RECORD_CREATED, row.record);
	*out       = row.record;
	row.record = NULL;
out:
	data_row_fini(&row);
	data_sql_fini(&sql);
	data_plan_fini(&p);
	return (rv);
}

// Loads the record id for update, delete or restore and applies the
// rules of op (rule r): collection level, then record level. head_only:
// without row->record (data_row_head).
static int
load_checked(struct data_wctx *x, struct data_coll *c, const char *id,
    size_t len, const struct data_rule *r, int live_only, int head_only,
    struct data_row *row)
{
	int own = 0;
	int rv;

	if (!x->admin_ep &&
	    (rv = data_rule_check(
	         r, &x->caller, 0, x->require_verified, &own)) != 0) {
		return (rv);
	}
	// The gateway's body error (lc_req.body_err) comes after the
	// collection-level rule and before the record (§1.4 steps 6-8).
	if (x->rq != NULL && x->rq->body_err != 0) {
		return (x->rq->body_err);
	}
	if ((rv = head_only ? data_row_head(x->dw, c, id, len, row)
	                    : data_row_load(x->dw, c, id, len, row)) != 0) {
		return (rv);
	}
	if (live_only && row->deleted_at != 0) {
		return (LC_ERECORD_NOT_FOUND);
	}
	if (own) {
		return (data_rule_record(
		    &c->rules, &x->caller, x->require_verified, row->owner));
	}
	return (0);
}

int
data_write_update(struct data_wctx *x, struct data_coll *c, const char *id,
    size_t len, json_t *body, json_t **out, const char **field)
{
	struct data_plan p   = { 0 };
	struct data_sql  sql = { 0 };
	struct data_row  row = { 0 };
	sqlite3_stmt    *st;
	int              n;
	int              rv;

	*field = NULL;
	if ((rv = load_checked(x, c, id, len, &c->rules.update, !x->admin_ep,
	         1, &row)) != 0) {
		goto out;
	}
	if (!json_is_object(body)) {
		rv = LC_EINVALID_BODY;
		goto out;
	}
	if ((rv = data_hook_before(x, c, DATA_HOOK_BEFORE_UPDATE, id, body)) !=
	    0) {
		goto out;
	}
	if ((rv = data_plan_build(&p, &c->schema, body, x->admin_ep)) != 0) {
		// §3.2: too_many_fields names no field.
		*field = rv != LC_ETOO_MANY_FIELDS ? p.err_field : NULL;
		goto out;
	}
	if ((rv = validate(x, c, body, 0, field)) != 0 ||
	    (rv = data_rel_check(x->dw, c->id, body, field)) != 0 ||
	    (rv = data_catalog_add_columns(x->dw, c, &p)) != 0) {
		goto out;
	}
	data_sql_update(&sql, c, &p);
	if ((st = data_stmt_dyn(x->dw, sql.p)) == NULL) {
		rv = LC_EINTERNAL;
		goto out;
	}
	for (size_t i = 0; i < p.nkeys && rv == 0; i++) {
		rv = data_bind_value(
		    st, (int) i + 1, p.keys[i].type, p.keys[i].val);
	}
	n = (int) p.nkeys + 1;
	(void) sqlite3_bind_int64(st, n++, lc_now_ms());
	if (p.owner_set && rv == 0) {
		rv = data_bind_value(st, n++, DATA_T_TEXT, p.owner);
	}
	(void) sqlite3_bind_int64(st, n, row.rowid);
	if (rv == 0) {
		rv = step_result(x, sqlite3_step(st));
		fail_field(x, rv, field);
	}
	lc_db_done(st);
	data_row_fini(&row);
	if (rv != 0 || (rv = data_row_load(x->dw, c, id, len, &row)) != 0) {
		goto out;
	}
	emit(x, c, LC_TOPIC_RECORD_UPDATED, row.record);
	*out       = row.record;
	row.record = NULL;
out:
	data_row_fini(&row);
	data_sql_fini(&sql);
	data_plan_fini(&p);
	return (rv);
}

// Sets _deleted_at (deleted_at, 0 for null) and, when touch is not 0,
// _updated_at.
static int
set_deleted(struct data_wctx *x, const struct data_coll *c, int64_t rowid,
    int64_t deleted_at, int64_t touch)
{
	struct data_sql sql = { 0 };
	sqlite3_stmt   *st;
	int             rv;

	data_sql_set_deleted(&sql, c);
	st = data_stmt_dyn(x->dw, sql.p);
	data_sql_fini(&sql);
	if (st == NULL) {
		return (LC_EINTERNAL);
	}
	if (deleted_at != 0) {
		(void) sqlite3_bind_int64(st, 1, deleted_at);
	}
	if (touch != 0) {
		(void) sqlite3_bind_int64(st, 2, touch);
	}
	(void) sqlite3_bind_int64(st, 3, rowid);
	rv = step_result(x, sqlite3_step(st));
	lc_db_done(st);
	return (rv);
}

int
data_write_delete(
    struct data_wctx *x, struct data_coll *c, const char *id, size_t len)
{
	struct data_row row = { 0 };
	int64_t         now = lc_now_ms();
	int             rv;

	if ((rv = load_checked(x, c, id, len, &c->rules.del, 1, 0, &row)) !=
	        0 ||
	    (rv = data_hook_before(
	         x, c, DATA_HOOK_BEFORE_DELETE, id, row.record)) != 0 ||
	    (rv = data_rel_on_delete(
	         x->dw, c->id, record_id(&row), 0, NULL, NULL)) != 0 ||
	    (rv = set_deleted(x, c, row.rowid, now, 0)) != 0) {
		goto out;
	}
	json_object_set_new(row.record, "_deleted_at", json_integer(now));
	emit(x, c, LC_TOPIC_RECORD_DELETED, row.record);
out:
	data_row_fini(&row);
	return (rv);
}

int
data_write_restore(struct data_wctx *x, struct data_coll *c, const char *id,
    size_t len, json_t **out)
{
	struct data_row row = { 0 };
	int64_t         now = lc_now_ms();
	int             rv;

	// §3.3: the soft deletion itself does not hide the record here.
	if ((rv = load_checked(x, c, id, len, &c->rules.update, 0, 0, &row)) !=
	    0) {
		goto out;
	}
	if (row.deleted_at != 0) { // a live record comes back unchanged
		if ((rv = set_deleted(x, c, row.rowid, 0, now)) != 0) {
			goto out;
		}
		json_object_set_new(row.record, "_deleted_at", json_null());
		json_object_set_new(
		    row.record, "_updated_at", json_integer(now));
		emit(x, c, LC_TOPIC_RECORD_RESTORED, row.record);
	}
	*out       = row.record;
	row.record = NULL;
out:
	data_row_fini(&row);
	return (rv);
}

int
data_write_purge(
    struct data_wctx *x, struct data_coll *c, const char *id, size_t len)
{
	struct data_row row = { 0 };
	struct data_sql sql = { 0 };
	sqlite3_stmt   *st;
	int             rv;

	// The admin only (§5.1): no rules. Relations (on_delete of a hard
	// delete, §3.10) run after the hook and before the row goes.
	if ((rv = data_row_load(x->dw, c, id, len, &row)) != 0 ||
	    (rv = data_hook_before(
	         x, c, DATA_HOOK_BEFORE_DELETE, id, row.record)) != 0 ||
	    (rv = data_rel_on_delete(
	         x->dw, c->id, record_id(&row), 1, NULL, NULL)) != 0) {
		goto out;
	}
	data_sql_delete_row(&sql, c);
	if ((st = data_stmt_dyn(x->dw, sql.p)) == NULL) {
		rv = LC_EINTERNAL;
		goto out;
	}
	(void) sqlite3_bind_int64(st, 1, row.rowid);
	rv = step_result(x, sqlite3_step(st));
	lc_db_done(st);
	if (rv == 0) {
		emit(x, c, LC_TOPIC_RECORD_DELETED, row.record);
	}
out:
	data_sql_fini(&sql);
	data_row_fini(&row);
	return (rv);
}
