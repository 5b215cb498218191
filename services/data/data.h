/*
 * data.h -- the data service (busbase-data): schemaless collections of
 * records in data.db (API.md §3.1-§3.8). Private to services/data.
 *
 * Tables (schema.c; all STRICT except the record tables):
 * - meta: key/value, migration 1 (schema_version).
 * - collections: id INTEGER PRIMARY KEY, name, name_lc (UNIQUE: two
 *   collections may not differ only in case), rules (JSON text, §3.3),
 *   created_at, updated_at. The record table of collection id N is "r<N>",
 *   its FTS5 table "f<N>": names built from the integer id, never from user
 *   input, so no collection name is ever spliced into DDL.
 * - columns: (coll_id, name) user columns with their §3.2 type and pos
 *   (creation order); name_lc UNIQUE per collection (§3.2 case rule).
 * - catalog_gen: one row, the schema generation; +1 inside every
 *   transaction that changes collections or columns.
 * - requests: replies of successful writes keyed by a fingerprint of the
 *   request (rid, op, caller, params, body), kept 10 minutes, so a write
 *   the bus delivers twice answers the same and writes once.
 * - collections.validation (migration 3): the §3.9 rule set as accepted
 *   ({"fields":{...}}); compiled once per worker into the catalog entry
 *   (fieldrules.h) and checked on every write after the hook seam.
 * - indexes (migration 3): the admin's indexes (§5.1), one per column.
 *   The SQLite index is "i<coll id>_<column pos>"; a unique validation
 *   rule keeps its own unlisted index "v<coll id>_<column pos>". Names
 *   come from integers only. Either kind of UNIQUE index turns a clash
 *   into 409 unique_violation with the column SQLite names.
 * - relations (migration 3, relations.c): read here only for the schema,
 *   dropped with their collection (cascade) or from_field column.
 * - r<N>: a rowid table (query.h needs _rowid_) with the five system
 *   columns (_id TEXT UNIQUE, _created_at, _updated_at, _owner_id,
 *   _deleted_at) and one column per user field, declared TEXT, INTEGER,
 *   REAL, INTEGER (boolean 1/0) or TEXT (json) in creation order.
 * - f<N>: contentless FTS5 over every text column of r<N> (columns c0..,
 *   same rowids), kept in sync in the same transaction as each write:
 *   three triggers on r<N> stage each change in s<N> and mark N in
 *   fts_dirty, and data_fts_apply moves the staged rows into f<N> just
 *   before COMMIT (see data_sql_fts for why). When a text column is
 *   added, the FTS table, stage and triggers are dropped, re-created over
 *   the new set and rebuilt inside the schema-changing transaction.
 *
 * Catalog cache (catalog.c). Each worker caches struct data_coll entries
 * (columns, rules, table names) tagged with the catalog_gen they were read
 * at. Every transaction starts by reading catalog_gen (one indexed row);
 * a different value flushes the worker's cache. Because the generation
 * lives in the database, a reader sees exactly the catalog of its own
 * snapshot, and a writer (holding the write lock) always sees the latest.
 * A writer that changes the schema reloads the entry in place inside its
 * transaction; on rollback its whole cache is flushed.
 *
 * Write path (write.c). One writer at a time per process: data_begin_write
 * takes a process mutex, then BEGIN IMMEDIATE (fast hand-off between
 * workers instead of SQLite's sleeping busy handler). Transactions hold
 * only the write itself: catalog, rules, type inference, DDL, the row,
 * the idempotency record. Events are queued and published after COMMIT, in
 * commit order. data_hook_before() is the single place where before*
 * hooks will run (issue: hooks); it does nothing today. after* hooks run
 * where the events are published.
 *
 * Admin changes (collections.c, indexes.c) run like writes: one write
 * transaction, idempotent by request, DDL inside it (SQLite DDL is
 * transactional), and a catalog_gen bump for anything a worker caches
 * (rules, columns, validation), so every worker sees it on its next
 * transaction.
 *
 * Files: main.c (op table, worker set-up), schema.c (migrations), db.c
 * (worker state, statement caches, transactions, idempotency, events),
 * catalog.c (collections, columns, validation rules, and the admin's
 * changes to them), sqlgen.c (all SQL text the write path and the DDL
 * build, identifiers quoted there only), infer.c (§3.2 input keys and
 * column types; pure), rules.c (§3.3; pure), record.c (row <-> JSON),
 * records.c (single-record endpoints, admin hard delete), list.c (list
 * and count), aggregate.c (aggregate), bulk.c (bulk and batch),
 * collections.c (admin collections, schema, columns, validation rules),
 * indexes.c (admin indexes). query.c (read SQL), fieldrules.c (§3.9) and
 * relations.c (§3.10) belong to other owners.
 */
#ifndef DATA_H
#define DATA_H

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "fieldrules.h"
#include "lc_bus.h"
#include "lc_common.h"
#include "lc_env.h"
#include "lc_store.h"
#include "query.h"

#define DATA_MAX_COLS 200 // user columns per collection (§3.2)
#define DATA_ROLE_MAX 64  // a role name in a rule
#define DATA_BULK_MAX 500
#define DATA_BATCH_MAX 100
#define DATA_LIMIT_DEFAULT 50
#define DATA_LIMIT_MAX 500
#define DATA_TABLE_MAX 24          // "r" / "f" + an int64
#define DATA_DEDUPE_MS (60 * 1000) // replies kept: 6 bus deadlines

/* ---- schema.c ---- */

extern const char *const data_migrations[];
extern const size_t      data_nmigrations;

/* ---- rules.c: access rules (§3.3), pure ---- */

enum data_rule_kind {
	DATA_R_PUBLIC = 0,
	DATA_R_AUTHENTICATED,
	DATA_R_OWNER,
	DATA_R_DISABLED,
	DATA_R_ROLE,
};

struct data_rule {
	enum data_rule_kind kind;
	char                role[DATA_ROLE_MAX + 1]; // DATA_R_ROLE only
};

struct data_rules {
	struct data_rule read;
	struct data_rule create;
	struct data_rule update;
	struct data_rule del;
};

// Who is calling, as the gateway passed it (rq->caller). Borrowed from rq.
struct data_caller {
	int         admin; // admin secret, or a trusted bus service
	int         user;  // a user (token or API key)
	const char *uid;   // the user's id, NULL unless user
	json_t     *roles; // the user's current roles (array) or NULL
	int         verified;
};

// Reads the caller of rq. A user without a string uid counts as anonymous
// (least privilege). LC_CALLER_SERVICE is trusted like the admin: only
// processes on the bus can send it.
void data_caller_init(struct data_caller *c, const struct lc_req *rq);

// The defaults of §3.3.
void data_rules_default(struct data_rules *out);
// Parses a stored or admin-supplied rules object; missing ops keep the
// values already in *r (so a partial object merges). Returns 0 or
// LC_EVALIDATION with the op's key ("read", ...) in *bad_op.
LC_NODISCARD int data_rules_parse(
    const json_t *j, struct data_rules *r, const char **bad_op);
// {"read":..,"create":..,"update":..,"delete":..}, a new reference.
json_t *data_rules_pack(const struct data_rules *r);

// Collection-level check of rule r (§3.3 steps 1-7). Returns 0,
// LC_EFORBIDDEN, LC_EAUTH_REQUIRED or LC_EEMAIL_NOT_VERIFIED. On 0,
// *owner_only is 1 when the record level applies (an owner rule for a
// non-admin; never for create, where owner means any user).
LC_NODISCARD int data_rule_check(const struct data_rule *r,
    const struct data_caller *c, int is_create, int require_verified,
    int *owner_only);
// 1 if the caller owns a record with this _owner_id (NULL: nobody).
int data_caller_owns(const struct data_caller *c, const char *owner_id);
// The record level of update, delete and restore, after the
// collection-level check of rule r passed with *owner_only set: 0 when
// the caller owns the record; else LC_ERECORD_NOT_FOUND when the read
// rule hides it from the caller, LC_EFORBIDDEN otherwise.
LC_NODISCARD int data_rule_record(const struct data_rules *rs,
    const struct data_caller *c, int require_verified, const char *owner_id);

/* ---- infer.c: input keys and column types (§3.2), pure ---- */

// Names reserved for collections (§3.1): 1 if name is valid and not
// reserved.
int data_coll_name_valid(const char *s, size_t len);
// The column type a first non-null value creates (DATA_T_NONE for null).
enum data_type data_type_of(const json_t *v);
// 1 if v may be stored in a column of type t (null always may).
int            data_type_fits(enum data_type t, const json_t *v);
const char    *data_type_name(enum data_type t);
enum data_type data_type_parse(const char *s);

// One key of a write, in body order.
struct data_key {
	const char    *name; // borrowed from the body
	size_t         len;
	json_t        *val;    // borrowed
	enum data_type type;   // the column's type (existing or new)
	int            is_new; // creates a column
};

// The keys of one record write. keys/nkeys are owned; _fini frees them.
struct data_plan {
	struct data_key *keys;
	size_t           nkeys;
	size_t           nnew;
	int              owner_set; // admin: _owner_id given
	json_t          *owner;     // borrowed: string or null
	const char      *err_field; // the key at fault (borrowed), or NULL
};

// Checks body (an object) against the columns of s and plans the write:
// keys starting with `_` are dropped (admin: `_owner_id` string or null is
// taken into owner), a null value for a key that has no column is
// dropped, new keys get the type of their value. Keys are checked in body
// order; the first failure decides: LC_EINVALID_FIELD_NAME, then for that
// key LC_ETYPE_MISMATCH, or LC_ETOO_MANY_FIELDS when it would be column
// DATA_MAX_COLS + 1. err_field names the key. LC_EVALIDATION (field
// "_owner_id") when an admin's _owner_id is not a string or null.
LC_NODISCARD int data_plan_build(struct data_plan *p,
    const struct data_schema *s, json_t *body, int allow_owner);
void             data_plan_fini(struct data_plan *p);

/* ---- db.c: per-worker state ---- */

struct data_coll {
	int64_t            id;
	char               name[DATA_NAME_MAX + 1];
	char               table[DATA_TABLE_MAX];
	char               fts[DATA_TABLE_MAX]; // "" without text columns
	char               id_index[DATA_TABLE_MAX + 24]; // "" when none
	struct data_rules  rules;
	int64_t            created_at;
	int64_t            updated_at;
	struct data_col   *cols; // names owned
	int64_t           *pos;  // columns.pos of each column
	size_t             ncols;
	struct data_schema schema; // view for query.h, into the above
	// The compiled validation rules (§3.9), NULL when the set is empty.
	// vrules_bad: the stored set did not compile (writes fail closed).
	struct data_fieldrules *vrules;
	int                     vrules_bad;
};

// A worker's state (w->user): its transactions and statement caches
// (lc_store.h: reads on the worker's connection, writes on the process's
// one writer), catalog cache and request fingerprint. Owned by the
// worker's thread.
struct data_worker {
	struct lc_worker  *w;
	struct lc_txn      txn;
	struct data_coll **colls; // catalog cache (catalog.c)
	size_t             ncolls;
	int64_t            gen;       // catalog_gen of the cache; -1
	int                cat_dirty; // this txn changed the catalog
	uint8_t            fp[16];    // this request's fingerprint
	int                fp_ok;
	unsigned           nwrites;
};

// w->user. Opens on the worker's own thread (after w->db).
LC_NODISCARD int    data_worker_open(struct lc_worker *w);
void                data_worker_close(struct lc_worker *w);
struct data_worker *data_worker(struct lc_worker *w);
// The connection statements run on now (the writer's inside a write
// transaction): for sqlite3_errmsg, _changes, _last_insert_rowid, DDL.
sqlite3 *data_conn(struct data_worker *dw);

// A prepared statement for SQL text, static or built at run time, keyed by
// its content, on data_conn's connection. Owned by the cache: use it, then
// lc_db_done. NULL on error (logged).
sqlite3_stmt *data_stmt(struct data_worker *dw, const char *sql);
sqlite3_stmt *data_stmt_dyn(struct data_worker *dw, const char *sql);

// Transactions. begin_read: BEGIN (one snapshot for the catalog and the
// rows). begin_write: the process's writer (lc_store.h), BEGIN IMMEDIATE.
// Both sync the catalog cache. end: COMMIT of a read, or ROLLBACK.
// commit: COMMIT, then the queued events are published in commit order.
// Return 0, LC_EUNAVAILABLE (busy) or LC_EINTERNAL.
LC_NODISCARD int data_begin_read(struct data_worker *dw);
LC_NODISCARD int data_begin_write(struct data_worker *dw);
// The precommit of every data transaction (lc_store.h): moves the rows
// staged for FTS indexes into them (data_sql_fts).
int              data_fts_apply(struct lc_txn *t);
LC_NODISCARD int data_commit(struct data_worker *dw);
void             data_end(struct data_worker *dw);

// Queues an event (payload taken) for publication after commit.
void data_emit(struct data_worker *dw, int topic, json_t *payload);

// Idempotency (dedupe.c), inside a write transaction. data_dedupe_find:
// 1 and the stored reply in rp when this request was answered before,
// else 0. data_dedupe_store records the successful reply of this request.
// Both need the process's struct data_dedupe as the service's user
// pointer (data_dedupe_open at start, after migrations); without it they
// do nothing.
struct data_dedupe;
LC_NODISCARD int data_dedupe_open(sqlite3 *db, struct data_dedupe **out);
void             data_dedupe_close(struct data_dedupe *d);
int              data_dedupe_find(
                 struct data_worker *dw, const struct lc_req *rq, struct lc_rep *rp);
LC_NODISCARD int data_dedupe_store(struct data_worker *dw,
    const struct lc_req *rq, int status, const json_t *body);

// (records.c) Answers the body error the gateway left to this service
// (lc_req.body_err): called once the collection-level rule has passed
// (API.md §1.4: access, step 6, before the body, step 7). Returns it.
int data_body_err(const struct lc_req *rq, struct lc_rep *rp);

/* ---- catalog.c ---- */

// Inside a transaction: the collection named exactly name, or
// LC_ECOLLECTION_NOT_FOUND. The pointer stays valid until the transaction
// ends. LC_EINTERNAL on SQLite errors.
LC_NODISCARD int data_catalog_find(struct data_worker *dw, const char *name,
    size_t len, struct data_coll **out);
// 1 if a collection whose name equals name ignoring ASCII case exists.
int data_catalog_exists_ci(
    struct data_worker *dw, const char *name, size_t len);
// Inside a write transaction: creates collection name with rules.
LC_NODISCARD int data_catalog_create(struct data_worker *dw, const char *name,
    size_t len, const struct data_rules *rules, struct data_coll **out);
// Inside a write transaction: adds the new columns of plan p to c (DDL,
// catalog rows, FTS rebuild when a text column joins) and reloads c in
// place.
LC_NODISCARD int data_catalog_add_columns(
    struct data_worker *dw, struct data_coll *c, const struct data_plan *p);
// Inside a write transaction: runs a script of SQL statements (DDL built
// by sqlgen.c). 0, LC_EUNIQUE_VIOLATION (a UNIQUE index over duplicates)
// or LC_EINTERNAL.
LC_NODISCARD int data_catalog_exec(struct data_worker *dw, const char *sql);
struct data_sql;
// Runs the DDL built in sql on db, if any, and frees it: 0 or an LC_E*
// (start-up upgrades and index reshaping, outside a worker's cache).
LC_NODISCARD int data_ddl_run(sqlite3 *db, struct data_sql *sql);
// The index "x<id>_<pos>" on (field, _deleted_at) of each text column of c
// that a relation goes from (IF NOT EXISTS): a delete of a target record
// finds the records referencing it through it (relations.c), instead of
// scanning the collection inside the write transaction. Made when the
// relation or the column comes, dropped with the relation or the column.
LC_NODISCARD int data_catalog_ref_indexes(
    struct data_worker *dw, struct data_coll *c);
LC_NODISCARD int data_catalog_ref_index_drop(
    struct data_worker *dw, int64_t coll_id, const char *field);
// At start, on a connection of its own, what collections made by older
// versions lack: the FTS stage and triggers that use it (migration 4),
// the deleted-rows index, the indexes of relations' fields.
LC_NODISCARD int data_catalog_upgrade(sqlite3 *db);
// Inside a write transaction: +1 on catalog_gen (every worker reloads).
LC_NODISCARD int data_catalog_bump(struct data_worker *dw);
// The index of column name (exact) in c->cols, or -1.
int data_coll_col(const struct data_coll *c, const char *name, size_t len);
// Admin changes (§5.1), inside a write transaction, each bumping the
// generation. set_rules stores rules and reloads c in place.
LC_NODISCARD int data_catalog_set_rules(struct data_worker *dw,
    struct data_coll *c, const struct data_rules *rules);
// Drops the collection: record and FTS tables, catalog rows (columns,
// indexes, relations by cascade). c is freed: do not use it afterwards.
LC_NODISCARD int data_catalog_drop(
    struct data_worker *dw, struct data_coll *c);
// Drops user column i of c with its indexes, its validation rule, the
// relations using it as from_field; the FTS index follows. Reloads c.
LC_NODISCARD int data_catalog_drop_column(
    struct data_worker *dw, struct data_coll *c, size_t i);
// Replaces the validation rules of c with fr (taken on success, else
// left to the caller): creates missing columns of unique rules, keeps one
// internal UNIQUE index per unique rule ("v<coll>_<pos>"). Returns 0,
// LC_EUNIQUE_VIOLATION with the rule's name in *field (borrowed from fr)
// when existing values clash, or LC_EINTERNAL.
LC_NODISCARD int data_catalog_set_validation(struct data_worker *dw,
    struct data_coll *c, struct data_fieldrules **fr, const char **field);
// Cache upkeep, called by db.c: sync at the start of a transaction,
// flush after a rollback, forget everything at close.
LC_NODISCARD int data_catalog_sync(struct data_worker *dw);
void             data_catalog_flush(struct data_worker *dw);

/* ---- sqlgen.c: the SQL text of the write path ---- */

// A growable string; every builder appends to it. Free with lc_free(b->p).
struct data_sql {
	char  *p;
	size_t len;
	size_t cap;
};
void data_sql_add(struct data_sql *b, const char *s);
// Appends "name" (double-quoted, inner quotes doubled).
void data_sql_ident(struct data_sql *b, const char *s, size_t len);
void data_sql_fini(struct data_sql *b);

// CREATE TABLE r<N> with the system columns, and its deleted-rows index.
void data_sql_create_table(struct data_sql *b, const char *table);
// The partial index d<N> of r<N>'s soft-deleted rows: only deletes and
// restores write it; it tells in one step whether any row is deleted
// (query.h: data_query_sql_count_fts).
void data_sql_deleted_index(struct data_sql *b, const char *table);
void data_sql_add_column(
    struct data_sql *b, const char *table, const char *col, enum data_type t);
// The FTS index of a collection: the contentless FTS5 table f<id> over
// its text columns (as c0, c1, ...), kept by triggers on r<id> that stage
// each change in s<id> (seq, rid, del, c0, ...) and mark the collection
// in fts_dirty; data_fts_apply moves the staged rows into f<id> just
// before the transaction's COMMIT, so the index is always committed with
// the records. Why not write f<id> from the triggers: FTS5 writes its
// pending terms to disk at every SAVEPOINT, and each write of a group
// commit is one (lc_store.h): measured 49 vs 18 us per indexed row.
//
// Drops and re-creates the FTS table, stage and triggers over the text
// columns of c, and rebuilds the index (one script).
void data_sql_fts(struct data_sql *b, const struct data_coll *c);
// Drops and re-creates only the stage and the triggers (what a
// collection made before the stage existed lacks).
void data_sql_fts_stage(struct data_sql *b, const struct data_coll *c);
// INSERT INTO f<id> (f<id>, rowid, c0..) SELECT 'delete' or null, rid,
// c0.. FROM s<id> ORDER BY seq: the staged rows, in order.
void data_sql_fts_apply(struct data_sql *b, int64_t id, size_t ncols);
// INSERT INTO t (_id,_created_at,_updated_at,_owner_id,_deleted_at,keys...)
// VALUES (?1..?n).
void data_sql_insert(
    struct data_sql *b, const struct data_coll *c, const struct data_plan *p);
// UPDATE t SET key=?1.., _updated_at=?k[, _owner_id=?k+1] WHERE rowid=?last
void data_sql_update(
    struct data_sql *b, const struct data_coll *c, const struct data_plan *p);
// UPDATE t SET _deleted_at = ?1, _updated_at = coalesce(?2, _updated_at)
// WHERE rowid = ?3 (soft delete: ?2 null; restore: ?1 null, ?2 now).
void data_sql_set_deleted(struct data_sql *b, const struct data_coll *c);
// SELECT rowid, <all columns> FROM t WHERE "_id" = ?1
void data_sql_select_id(struct data_sql *b, const struct data_coll *c);
// SELECT _rowid_, _deleted_at, _owner_id FROM t WHERE _id = ?1
void data_sql_select_head(struct data_sql *b, const struct data_coll *c);
// DELETE FROM t WHERE rowid = ?1 (hard delete; the FTS trigger follows).
void data_sql_delete_row(struct data_sql *b, const struct data_coll *c);
// Drops the FTS triggers, table and stage of c (IF EXISTS).
void data_sql_fts_drop(struct data_sql *b, const struct data_coll *c);
// The generated name of an index on the column at pos of collection id:
// kind 'i' (an admin index, §5.1), 'v' (a unique validation rule) or 'x'
// (a relation's from_field, data_catalog_ref_indexes). No
// user text ever reaches index DDL but the quoted column name.
void data_sql_index_name(
    char *buf, size_t size, char kind, int64_t coll_id, int64_t pos);
// The record table of a collection id: "r<id>".
void data_sql_table_name(char *buf, size_t size, int64_t coll_id);
// CREATE [UNIQUE] INDEX IF NOT EXISTS "name" ON t ("col"): unique, on the
// column alone; else ("col", "_deleted_at", cover...), where cover are
// further columns a read may test on the index before the row (see
// data_index_reshape).
void data_sql_create_index(struct data_sql *b, const struct data_coll *c,
    const char *name, const char *col, int unique, const char *const *cover,
    size_t ncover);
// DROP INDEX IF EXISTS "name"
void data_sql_drop_index(struct data_sql *b, const char *name);

/* ---- record.c: rows <-> JSON ---- */

// Binds a planned value of column type t to ?idx. 0 or LC_EINTERNAL.
LC_NODISCARD int data_bind_value(
    sqlite3_stmt *st, int idx, enum data_type t, const json_t *v);
// The JSON value of column i of st for column type t (new reference).
json_t *data_column_json(sqlite3_stmt *st, int i, enum data_type t);

// A stored record, read by _id inside a transaction.
struct data_row {
	int64_t rowid;
	int64_t deleted_at; // 0: live
	char   *owner;      // _owner_id (owned), NULL when null
	json_t *record;     // the full record (owned)
};
// LC_ERECORD_NOT_FOUND when missing (also for a non-ULID id).
LC_NODISCARD int data_row_load(struct data_worker *dw,
    const struct data_coll *c, const char *id, size_t len,
    struct data_row *out);
// The same without the record (out->record NULL): what the rules of an
// update need.
LC_NODISCARD int data_row_head(struct data_worker *dw,
    const struct data_coll *c, const char *id, size_t len,
    struct data_row *out);
void             data_row_fini(struct data_row *r);

/* ---- write.c: the write path ---- */

// What one request writes: the caller and the settings it runs under.
struct data_wctx {
	struct data_worker  *dw;
	const struct lc_req *rq;
	struct data_caller   caller;
	int                  admin_ep; // an admin record endpoint
	int                  require_verified;
	char                 err_msg[160]; // "Item 3: ..." prefixes
	// The field of the last write error when it is not a body key
	// (validation, unique): valid after the transaction ends.
	char err_field[DATA_NAME_MAX + 1];
};

enum data_hook_event {
	DATA_HOOK_BEFORE_CREATE = 0,
	DATA_HOOK_BEFORE_UPDATE,
	DATA_HOOK_BEFORE_DELETE,
};

// The hook seam (§3.11): the one place where before* hooks run, inside
// the write transaction, before type checks (record may be changed by a
// hook then). Today there is no hooks integration: it returns 0 and
// leaves record untouched.
LC_NODISCARD int data_hook_before(struct data_wctx *x,
    const struct data_coll *c, enum data_hook_event ev, const char *id,
    json_t *record);

// Inside a write transaction. Resolves the collection of a create:
// existing, or auto-created (setting auto_create_collections) after the
// default create rule passed. Checks the create rule. Returns 0,
// LC_ECOLLECTION_NOT_FOUND, LC_ECOLLECTION_EXISTS, a rule error.
LC_NODISCARD int data_write_coll_for_create(
    struct data_wctx *x, const char *name, size_t len, struct data_coll **out);
// Inside a write transaction: inserts one record (body: an object) into
// c. *out gets the stored record (new reference). Returns 0 or the write
// error (§3.8), err_field set in *field (borrowed from body) when known.
LC_NODISCARD int data_write_create(struct data_wctx *x, struct data_coll *c,
    json_t *body, json_t **out, const char **field);
// Inside a write transaction: patches the record id (rule checks
// included, unless admin_ep). Returns 0, LC_ERECORD_NOT_FOUND,
// LC_EFORBIDDEN, or a write error.
LC_NODISCARD int data_write_update(struct data_wctx *x, struct data_coll *c,
    const char *id, size_t len, json_t *body, json_t **out,
    const char **field);
// Soft delete (rules checked, unless admin_ep).
LC_NODISCARD int data_write_delete(
    struct data_wctx *x, struct data_coll *c, const char *id, size_t len);

// Hard delete by the admin (§5.1): the row and its FTS entry go; the
// event carries the last stored state. LC_ERECORD_NOT_FOUND when missing.
LC_NODISCARD int data_write_purge(
    struct data_wctx *x, struct data_coll *c, const char *id, size_t len);

// Restore (§3.8): rules of update; a live record is returned unchanged.
LC_NODISCARD int data_write_restore(struct data_wctx *x, struct data_coll *c,
    const char *id, size_t len, json_t **out);

/* ---- handlers (records.c, list.c, bulk.c) ---- */

// Common helpers of the handlers (records.c).
// The collection path parameter: "collection" (public) or "name" (admin).
int data_param(
    const struct lc_req *rq, const char *key, const char **s, size_t *len);
// Parses a boolean query parameter (§1.2). *out keeps def when absent.
LC_NODISCARD int data_query_bool(
    const struct lc_req *rq, const char *key, int def, int *out);
// Answers an error with a message and field (both may be NULL).
int data_fail(struct lc_rep *rp, int rv, const char *msg, const char *field);
// A positive integer query parameter (§1.7, §3.4): absent keeps *out;
// "0", a sign or anything but digits -> LC_EINVALID_QUERY; above max is
// clamped.
LC_NODISCARD int data_posint(const json_t *v, int64_t max, int64_t *out);

// list.c: finds the collection of a read (param "name" on admin_ep, else
// "collection") and checks the read rule (not on admin_ep). *c stays NULL
// for an unknown collection that reads as empty (auto_create_collections);
// *own is 1 when the owner rule limits the rows to the caller's.
LC_NODISCARD int data_resolve_read(struct data_worker *dw,
    const struct lc_req *rq, int admin_ep, const struct data_caller *caller,
    struct data_coll **c, int *own);
// The start of count and aggregate: begins the read, resolves the
// collection (*c NULL: unknown, reads as empty), checks include_deleted
// (admin only) and inits q with the caller's visibility. 0, or rv with the
// error reply set and the transaction ended.
LC_NODISCARD int data_read_open(struct data_worker *dw,
    const struct lc_req *rq, struct lc_rep *rp, struct data_coll **c,
    struct data_query *q);
// The schema of an unknown collection: no columns (never queried).
extern const struct data_schema data_empty_schema;

// The JSON record of the current row of st, whose columns from off on
// are q's SELECT list (hidden columns left out). New reference.
json_t *data_proj_record(
    const struct data_query *q, sqlite3_stmt *st, int off);

int data_h_admin_records_create(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_admin_records_get(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_admin_records_update(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_admin_records_list(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_records_create(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_records_get(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_records_update(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_records_delete(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_records_restore(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_records_list(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_records_count(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_records_bulk(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_records_batch(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_admin_records_delete(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);

// aggregate.c (§3.8)
int data_h_records_aggregate(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);

// collections.c (§5.1): collections, schema, columns, validation rules,
// and what the admin handlers share. open_read / open_write: the :name
// path parameter (404 for an invalid name), the transaction and the
// collection; open_write answers a repeated request itself (*done = 1).
// On an error no transaction is open. finish: stores the reply (body
// taken), commits and answers; on failure rolls back and answers that.
LC_NODISCARD int data_admin_open_read(
    struct data_worker *dw, const struct lc_req *rq, struct data_coll **c);
LC_NODISCARD int data_admin_open_write(struct data_worker *dw,
    const struct lc_req *rq, struct lc_rep *rp, struct data_coll **c,
    int *done);
int data_admin_finish(struct data_worker *dw, const struct lc_req *rq,
    struct lc_rep *rp, int status, json_t *body);
// 1 if s is one of the five system field names.
int data_is_system(const char *s, size_t len);
// [{"column","unique"}] of the admin indexes of c, oldest first.
LC_NODISCARD int data_index_items(
    struct data_worker *dw, const struct data_coll *c, json_t **out);
int data_h_collections_list(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_collections_create(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_collections_get(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_collections_update(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_collections_delete(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_collections_schema(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_collections_drop_column(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_collections_set_rules(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);

// indexes.c (§5.1)
// Gives every non-unique admin index of the collection its shape (see
// indexes.c): rebuilds those that differ. 0 or LC_EINTERNAL.
#define DATA_INDEX_COVER 4
LC_NODISCARD int data_index_reshape(sqlite3 *db, int64_t coll_id);
int              data_h_collections_index_list(
                 struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_collections_index_create(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);
int data_h_collections_index_delete(
    struct lc_worker *w, const struct lc_req *rq, struct lc_rep *rp);

#endif // DATA_H
