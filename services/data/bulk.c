/*
 * bulk.c -- records.bulk and records.batch (API.md §3.8): many writes in
 * one write transaction, all or nothing. Bulk creates 1-500 records with
 * the create rule checked once; batch applies 1-100 create / update /
 * delete operations in order, each under its own rule. The first failing
 * item decides the answer (its status and code, the message prefixed
 * "Item <i>: " or "Operation <i>: "), and the rollback leaves nothing
 * behind: no rows, no new columns, no auto-created collection.
 */
#include <stdio.h>
#include <string.h>

#include "data.h"
#include "lc_err.h"
#include "lc_log.h"
#include "lc_settings.h"

// The array of a bulk / batch body: the body itself or body[key].
static json_t *
items_of(const struct lc_req *rq, const char *key)
{
	if (json_is_array(rq->body)) {
		return (rq->body);
	}
	if (json_is_object(rq->body)) {
		json_t *a = json_object_get(rq->body, key);

		return (json_is_array(a) ? a : NULL);
	}
	return (NULL);
}

static int
item_fail(
    struct lc_rep *rp, int rv, const char *what, size_t i, const char *field)
{
	char msg[200];

	snprintf(msg, sizeof(msg), "%s %zu: %s", what, i, lc_err_text(rv));
	lc_rep_error(rp, rv, msg, field);
	return (rv);
}

static void
wctx_init(struct data_wctx *x, struct lc_worker *w, const struct lc_req *rq)
{
	memset(x, 0, sizeof(*x));
	x->dw = data_worker(w);
	x->rq = rq;
	data_caller_init(&x->caller, rq);
	x->require_verified = lc_settings_bool("require_email_verification");
}

// Records read back before a later item added a column lack it: every
// record has every user column (§3.2), null where no value was set.
static void
fill_columns(json_t *recs, const struct data_coll *c)
{
	size_t  i;
	json_t *rec;

	json_array_foreach(recs, i, rec)
	{
		for (size_t k = 0; k < c->ncols; k++) {
			if (json_object_get(rec, c->cols[k].name) == NULL) {
				json_object_set_new(
				    rec, c->cols[k].name, json_null());
			}
		}
	}
}

int
data_h_records_bulk(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct data_wctx  x;
	struct data_coll *c;
	const char       *name;
	const char       *field = NULL;
	size_t            len;
	size_t            i;
	json_t           *arr = items_of(rq, "records");
	json_t           *out = NULL;
	json_t           *item;
	json_t           *rec;
	int               rv;

	wctx_init(&x, w, rq);
	(void) data_param(rq, "collection", &name, &len);
	if (!data_coll_name_valid(name, len)) {
		return (
		    data_fail(rp, LC_EINVALID_COLLECTION_NAME, NULL, NULL));
	}
	if ((rv = data_begin_write(x.dw)) != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	if (data_dedupe_find(x.dw, rq, rp)) {
		data_end(x.dw);
		return (0);
	}
	if ((rv = data_write_coll_for_create(&x, name, len, &c)) != 0) {
		lc_rep_error(rp, rv, NULL, NULL);
		goto out;
	}
	if (rq->body_err != 0) {
		rv = data_body_err(rq, rp);
		goto out;
	}
	if (arr == NULL) {
		rv = data_fail(rp, LC_EINVALID_BODY,
		    "Expected an array of records or {\"records\": [...]}.",
		    NULL);
		goto out;
	}
	if (json_array_size(arr) == 0 ||
	    json_array_size(arr) > DATA_BULK_MAX) {
		rv = data_fail(rp, LC_ETOO_MANY_ITEMS,
		    "A bulk request takes 1 to 500 records.", NULL);
		goto out;
	}
	out = json_array();
	json_array_foreach(arr, i, item)
	{
		if ((rv = data_write_create(&x, c, item, &rec, &field)) != 0) {
			item_fail(rp, rv, "Item", i, field);
			goto out;
		}
		json_array_append_new(out, rec);
	}
	fill_columns(out, c);
	out = json_pack("{s:o}", "items", out);
	if ((rv = data_dedupe_store(x.dw, rq, 201, out)) != 0 ||
	    (rv = data_commit(x.dw)) != 0) {
		lc_rep_error(rp, rv, NULL, NULL);
		goto out;
	}
	lc_rep_json(rp, 201, out);
	return (0);
out:
	json_decref(out);
	data_end(x.dw);
	return (rv);
}

enum bop { B_CREATE, B_UPDATE, B_DELETE };

// Checks the shape of one operation (§3.8): 0 or LC_EINVALID_BODY.
static int
op_shape(const json_t *o, enum bop *kind, const char **id, size_t *idlen,
    json_t **data)
{
	const json_t *op = json_object_get(o, "op");
	const json_t *i  = json_object_get(o, "id");
	const char   *s;

	if (!json_is_object(o) || !json_is_string(op)) {
		return (LC_EINVALID_BODY);
	}
	s = json_string_value(op);
	if (strcmp(s, "create") == 0) {
		*kind = B_CREATE;
	} else if (strcmp(s, "update") == 0) {
		*kind = B_UPDATE;
	} else if (strcmp(s, "delete") == 0) {
		*kind = B_DELETE;
	} else {
		return (LC_EINVALID_BODY);
	}
	*data = json_object_get(o, "data");
	if (*kind != B_DELETE && !json_is_object(*data)) {
		return (LC_EINVALID_BODY);
	}
	if (*kind != B_CREATE) {
		if (!json_is_string(i)) {
			return (LC_EINVALID_BODY);
		}
		*id    = json_string_value(i);
		*idlen = json_string_length(i);
	}
	return (0);
}

// Runs operation i; *res gets its result entry.
static int
op_run(struct data_wctx *x, const char *name, size_t len, const json_t *o,
    json_t **res, const char **field)
{
	struct data_coll *c;
	enum bop          kind  = B_CREATE;
	const char       *id    = NULL;
	size_t            idlen = 0;
	json_t           *data  = NULL;
	int               rv;

	(void) op_shape(o, &kind, &id, &idlen, &data); // checked before
	*field = NULL;
	if (kind == B_CREATE) {
		if ((rv = data_write_coll_for_create(x, name, len, &c)) != 0) {
			return (rv);
		}
		return (data_write_create(x, c, data, res, field));
	}
	if ((rv = data_catalog_find(x->dw, name, len, &c)) != 0) {
		return (rv);
	}
	if (kind == B_UPDATE) {
		return (data_write_update(x, c, id, idlen, data, res, field));
	}
	if ((rv = data_write_delete(x, c, id, idlen)) != 0) {
		return (rv);
	}
	*res = json_pack("{s:s%, s:b}", "_id", id, idlen, "deleted", 1);
	return (0);
}

int
data_h_records_batch(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp)
{
	struct data_wctx x;
	const char      *name;
	const char      *field;
	const char      *id;
	size_t           len;
	size_t           idlen;
	size_t           i;
	json_t          *arr = items_of(rq, "operations");
	json_t          *out = NULL;
	json_t          *o;
	json_t          *data;
	json_t          *res;
	enum bop         kind;
	int              rv;

	wctx_init(&x, w, rq);
	(void) data_param(rq, "collection", &name, &len);
	if (!x.caller.admin && !x.caller.user) {
		return (data_fail(rp, LC_EAUTH_REQUIRED, NULL, NULL));
	}
	if (rq->body_err != 0) {
		return (data_body_err(rq, rp));
	}
	if (arr == NULL) {
		return (data_fail(rp, LC_EINVALID_BODY,
		    "Expected {\"operations\": [...]} or an array.", NULL));
	}
	if (json_array_size(arr) == 0 ||
	    json_array_size(arr) > DATA_BATCH_MAX) {
		return (data_fail(rp, LC_ETOO_MANY_ITEMS,
		    "A batch takes 1 to 100 operations.", NULL));
	}
	json_array_foreach(arr, i, o)
	{
		if (op_shape(o, &kind, &id, &idlen, &data) != 0) {
			return (item_fail(
			    rp, LC_EINVALID_BODY, "Operation", i, NULL));
		}
	}
	if (!data_coll_name_valid(name, len)) {
		return (
		    data_fail(rp, LC_EINVALID_COLLECTION_NAME, NULL, NULL));
	}
	if ((rv = data_begin_write(x.dw)) != 0) {
		return (data_fail(rp, rv, NULL, NULL));
	}
	if (data_dedupe_find(x.dw, rq, rp)) {
		data_end(x.dw);
		return (0);
	}
	out = json_array();
	json_array_foreach(arr, i, o)
	{
		res = NULL;
		if ((rv = op_run(&x, name, len, o, &res, &field)) != 0) {
			item_fail(rp, rv, "Operation", i, field);
			goto out;
		}
		json_array_append_new(out, res);
	}
	out = json_pack("{s:o}", "results", out);
	if ((rv = data_dedupe_store(x.dw, rq, 200, out)) != 0 ||
	    (rv = data_commit(x.dw)) != 0) {
		lc_rep_error(rp, rv, NULL, NULL);
		goto out;
	}
	lc_rep_json(rp, 200, out);
	return (0);
out:
	json_decref(out);
	data_end(x.dw);
	return (rv);
}
