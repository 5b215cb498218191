/*
 * relations.h -- relations between collections (API.md §3.10, §5.6) and
 * `expand` (§3.7). Private to services/data.
 *
 * A relation {from_collection, from_field, to_collection, on_delete} is a
 * row of the `relations` table (schema.c migration 3): from_coll and
 * to_coll are collection ids (ON DELETE CASCADE), from_field a field name
 * (the column need not exist), UNIQUE(from_coll, from_field), indexed by
 * to_coll. Nothing is cached: the table is small and every use is one
 * indexed query, so a relation change invalidates nothing and the catalog
 * generation is not touched.
 *
 * This module never calls data_catalog_find() outside its own handlers:
 * it reads what it needs of other collections (record table name from the
 * integer id, column types, read rule) straight from the catalog tables of
 * the current transaction, so a data_coll pointer the caller holds is
 * never invalidated by a lookup made here.
 *
 * Where each piece is called from (all inside the caller's transaction;
 * nothing here begins, commits or rolls back):
 *
 *   relations.list/create/delete   lc_handler_fn, op table (main.c)
 *   data_rel_check                 write.c, create and update, after the
 *                                  validation rules (§3.8 error step 4)
 *                                  and before the row is written
 *   data_rel_on_delete             write.c soft delete and the admin hard
 *                                  delete, after rules and the
 *                                  beforeDelete hook, BEFORE the row is
 *                                  changed; it queues the cascade events
 *   data_rel_expand_*              records.c get and list.c list (public
 *                                  and admin), inside the read snapshot
 *   data_rel_json                  the schema endpoint (§5.1 "relations")
 *   data_rel_drop_field            dropping a column (§5.1)
 *
 * Decisions on points the contract leaves open:
 * - create: from_collection, from_field, to_collection must be non-empty
 *   strings, from_field a valid field name (§3.2: so every `_` system
 *   field is invalid), on_delete absent or null -> set_null; any other
 *   type or value -> 400 validation_error with that key. All 400s come
 *   before 404 collection_not_found (from, then to; an invalid collection
 *   name is simply not found), then 409. A from_field that differs only in
 *   case from an existing column of from_collection -> 400 (it could never
 *   be written, §3.2). relation_exists compares from_field ignoring ASCII
 *   case, as columns do. Self relations are allowed.
 * - list: `collection` matches either end by exact name; an unknown or
 *   empty name gives an empty page (the endpoint has no error). Order:
 *   newest first (ULID id descending, so ties cannot occur).
 * - delete: a non-ULID id -> 404 not_found.
 * - Write check: a present from_field value must be null, a string, or an
 *   array whose items are strings or null (nulls are skipped); each string
 *   must be the _id of a non-deleted record of to_collection (rules
 *   ignored). Anything else (number, object, a non-ULID string) -> 400
 *   validation_error with field = from_field. Relations are checked in
 *   from_field order (name ascending), so the first failing field decides.
 * - on_delete, for the deleted record T of collection C, over every
 *   relation R with to_coll = C (in id order):
 *   . references: a text column equal to T's id, or a json column holding
 *     an array with T's id as an item (json_each). Other column types
 *     cannot hold ids. A missing column references nothing.
 *   . restrict: 409 relation_restrict when a non-deleted record that is
 *     not itself being deleted by this operation references T. All
 *     restrict relations of T are checked before any change for T.
 *   . cascade: soft delete -> every live referencing record gets
 *     _deleted_at = now (already deleted ones are left alone); hard delete
 *     -> every referencing record, soft-deleted ones included, is removed.
 *     Each cascaded record is deleted in turn (breadth-first work list, so
 *     depth is not limited by the C stack); a record is visited once per
 *     operation, so cycles (A->B->A, self references) end.
 *   . set_null: in every referencing record (soft-deleted ones included,
 *     so a later restore finds no dangling id) a text field becomes null
 *     and T's id is removed from an array (every occurrence; other items
 *     and their order are kept; [] stays []). _updated_at becomes now.
 *     Records being deleted by this hard delete are skipped.
 *   . Events (queued with data_emit, published after COMMIT, no hooks):
 *     record.deleted for every cascaded record, record.updated for every
 *     live record set_null changed, payload {"collection","record"} as
 *     write.c. The deleted record T itself is the caller's business.
 * - expand: `expand` is a string (a non-string -> invalid_query); empty
 *   items are ignored, duplicates count once; more than 10 names or a name
 *   that is not the from_field of a relation from this collection -> 400
 *   invalid_query, field "expand". Every record of the result gets
 *   "expand": {name: value} for each name: a string id gives the full
 *   target record (all its fields, not projected by `fields`) or null; an
 *   array gives the visible records in array order (duplicates kept);
 *   anything else (null, a number, a missing column) gives null. A target
 *   is visible when it exists, is not soft-deleted (also for the admin),
 *   and passes the target collection's read rule for the caller (§3.3:
 *   owner rules show only the caller's own records; a failing
 *   collection-level check hides them all, never 401/403).
 */
#ifndef DATA_RELATIONS_H
#define DATA_RELATIONS_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

#include "data.h"
#include "lc_bus.h"
#include "lc_common.h"
#include "lc_env.h"
#include "query.h"

#define DATA_EXPAND_MAX 10 // names in `expand` (§3.7)

/* ---- handlers (§5.6), admin only (the gateway admits the admin) ---- */

// relations.list: query limit, page (§1.7), collection.
int data_h_relations_list(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
// relations.create: body {from_collection, from_field, to_collection,
// on_delete}. Idempotent by request (db.c dedupe).
int data_h_relations_create(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
// relations.delete: params {id}.
int data_h_relations_delete(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);

/* ---- the write path ---- */

// Inside the write transaction of a create or update of a record of
// collection coll_id: checks the values of every relation's from_field
// present in values (the object being written: the body after the
// before* hook; keys absent from it are not checked). Returns 0,
// LC_EVALIDATION with *field = the from_field (borrowed from values' key),
// or LC_EINTERNAL.
LC_NODISCARD int data_rel_check(struct data_worker *dw, int64_t coll_id,
    const json_t *values, const char **field);

// One record changed by data_rel_on_delete.
struct data_rel_hit {
	int64_t coll_id;
	char    coll[DATA_NAME_MAX + 1]; // collection name
	char    id[27];                  // _id
	int     deleted;                 // 1: cascaded delete, 0: set_null
};

// Inside the write transaction, BEFORE record id of collection coll_id is
// soft-deleted (hard = 0) or hard-deleted (hard = 1) by the caller:
// applies every relation whose to_collection is coll_id (see above).
// Returns 0, LC_ERELATION_RESTRICT or LC_EINTERNAL; on an error the caller
// rolls the transaction back (a restrict met deep in a cascade comes after
// earlier cascade steps were written; the restrict relations of the
// deleted record itself are checked before anything is changed). Events
// are already queued (data_emit) on success.
// When out is not NULL it gets the changed records (lc_alloc'd array, the
// caller lc_frees it; *nout its length), in the order they were changed.
LC_NODISCARD int data_rel_on_delete(struct data_worker *dw, int64_t coll_id,
    const char *id, int hard, struct data_rel_hit **out, size_t *nout);

/* ---- expand (§3.7) ---- */

struct data_rel_xfield {
	char    name[DATA_NAME_MAX + 1];
	int64_t to_coll;
};

// The expand of one request. Zero-initialize, then data_rel_expand_parse.
struct data_rel_expand {
	struct data_rel_xfield f[DATA_EXPAND_MAX];
	size_t                 n;       // 0: no expand (do nothing)
	json_t                *pending; // [[record, value of f[0], ...], ...]
};

// Inside the read (or write) transaction: parses the `expand` parameter
// (NULL, "" or a string) for collection coll_id (0: a collection that
// does not exist; every name is then invalid). Returns 0 or
// LC_EINVALID_QUERY (the reply's field is "expand") or LC_EINTERNAL.
// Check order: call it before data_query_parse (its invalid_query comes
// before invalid_filter, §3.8); it needs no struct data_query.
LC_NODISCARD int data_rel_expand_parse(struct data_worker *dw, int64_t coll_id,
    const json_t *expand, struct data_rel_expand *e);
// Makes q select the expanded fields even when `fields` leaves them out
// (hidden columns). Call after data_query_parse / data_query_fields and
// before building the SQL.
void data_rel_expand_select(
    const struct data_rel_expand *e, struct data_query *q);
// Forgets the rows collected so far (a page started over).
void data_rel_expand_reset(struct data_rel_expand *e);
// Remembers record rec (borrowed: it must live until _apply) with the
// expanded fields' values read from the current row of st, whose columns
// from off on are q's SELECT list. Call once per result row.
void data_rel_expand_row(struct data_rel_expand *e, const struct data_query *q,
    sqlite3_stmt *st, int off, json_t *rec);
// The same for a record given as JSON: the values are read from src
// (NULL: rec itself), e.g. a full record loaded with data_row_load.
void data_rel_expand_add(
    struct data_rel_expand *e, json_t *rec, const json_t *src);
// In the same transaction, after the rows were read: adds
// "expand": {...} to every remembered record, resolving the ids as the
// caller may see them. Returns 0 or LC_EINTERNAL.
LC_NODISCARD int data_rel_expand_apply(struct data_worker *dw,
    struct data_rel_expand *e, const struct data_caller *caller,
    int require_verified);
void             data_rel_expand_fini(struct data_rel_expand *e);

/* ---- catalog helpers ---- */

// Inside a transaction: the relations from or to collection coll_id as an
// array of Relation objects (§5.6), newest first. *out is a new
// reference. 0 or LC_EINTERNAL.
LC_NODISCARD int data_rel_json(
    struct data_worker *dw, int64_t coll_id, json_t **out);
// Inside a write transaction: removes the relation whose from_field is
// field (exact name) of collection coll_id, if any (§5.1: dropping a
// column). 0 or LC_EINTERNAL.
LC_NODISCARD int data_rel_drop_field(
    struct data_worker *dw, int64_t coll_id, const char *field);

#endif // DATA_RELATIONS_H
