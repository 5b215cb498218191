/*
 * query.h -- the record query language of the data service (API.md
 * §3.4-§3.7): filter, sort, the keyset cursor `after`, `fields` and
 * `search`, turned into parameterized SQL for SQLite. This is the one place
 * that writes dynamic SQL for record reads: every identifier is checked
 * against the field-name rules of §3.2 (or is a system field) and quoted,
 * every value is bound as ?N, never pasted.
 *
 * A pure library: it sees the parsed query parameters (jansson values, as
 * the envelope's `query` object carries them) and a description of the
 * collection (struct data_schema), and produces SQL fragments, complete
 * SELECT / count statements and an ordered array of typed values. Only
 * data_query_cursor_load() touches a database (it reads the cursor record).
 *
 * Usage (list endpoint):
 *	data_query_init(&q, &schema, &opts);
 *	if ((rv = data_query_parse(&q, rq->query)) != 0)        // 400s
 *		reply rv with field q.err_field (may be NULL);
 *	if ((rv = data_query_cursor_load(&q, db)) != 0)         // after=
 *		LC_EINVALID_CURSOR (400) or LC_EINTERNAL;
 *	data_query_sql_list(&q, limit + 1, offset, &sql);     // prepare it
 *	data_query_bind(&q, st);  ... step ...
 *	data_query_sql_count(&q, &sql);  (same bind call)
 *	data_query_fini(&q);
 *
 * Decisions on points the contract leaves open (API.md wins over all):
 * - Unknown fields. A filter field with a valid name that is not a column
 *   (e.g. not written yet in a schemaless collection) is not an error: it
 *   behaves as a column that is null in every record (§3.5), folded to a
 *   constant: eq:null, ne:<non-null>, nin (without a null item) and an
 *   empty nin match every record; everything else matches none. Sorting on
 *   such a field is a no-op (all-null, §3.6); `fields` leaves it out (§3.7).
 *   Column names match exactly (case-sensitively): SQLite resolves quoted
 *   names case-insensitively, so an unknown name is never put into SQL.
 * - Invalid names (not `^[A-Za-z][A-Za-z0-9_]{0,62}$` and not one of the
 *   five system fields) -> invalid_filter with field = the name as given;
 *   in sort -> invalid_query with field "sort"; in `fields` -> left out.
 * - Typing against the column (§3.5): text columns bind the value's literal
 *   form (the raw text, or the decoded "..." string; JSON numbers print in
 *   their shortest round-trip form); integer, real and boolean columns bind
 *   numbers (true/false as 1/0, a string holding JSON number syntax as that
 *   number). A value that cannot be a number on such a column equals no
 *   stored value and has no order: eq/gt/gte/lt/lte match none, ne matches
 *   all, and it is dropped from in/nin lists. like/contains/startsWith
 *   match the literal form; a JSON null there matches none. A null item in
 *   `in` also matches null fields; a null item in `nin` excludes them.
 * - The cursor is a record `_id` (§3.4/§3.6 are explicit: `after` is an id
 *   and `next_cursor` is the last item's `_id`), not an opaque token. It
 *   must be a ULID (else invalid_cursor at parse) naming a record of the
 *   collection that the caller may read (opts.owner applies; soft-deleted
 *   records count), else invalid_cursor at load. The cursor record's sort
 *   values are read and the keyset condition binds them, so `after` works
 *   with any sort, nulls and ties, and leaks nothing of records the caller
 *   cannot see.
 * - Empty values: an empty `filter`, `sort`, `fields`, `after` or `search`
 *   parameter is ignored. In sort, a leading space counts as `+` (an
 *   unescaped `+` in a query string decodes to a space).
 * - In text lists every comma separates items (use the JSON array form for
 *   items holding commas). In the JSON forms, `in`/`nin` need an array and
 *   other operators a scalar; JSON objects may not repeat keys.
 * - search: the FTS5 subset of §3.7 (phrases, prefix `*`, AND, OR, NOT,
 *   parentheses, implicit AND between adjacent phrases) is checked with
 *   FTS5's own grammar and re-emitted with every term quoted, so no other
 *   FTS5 syntax (column filters, NEAR, ^, +, -) can be reached; such
 *   characters are just term text. Malformed (unbalanced quote or
 *   parenthesis, an operator without operands, `()`, a lone `*`, a group
 *   next to a phrase without an operator, nesting deeper than
 *   DATA_SEARCH_DEPTH) -> invalid_search. The record table and its FTS5
 *   table share rowids; with no FTS table (no text column) search matches
 *   nothing.
 * - Errors carry a field only where the contract names one: invalid_filter
 *   (the filter's field, when known), invalid_query ("sort"; for
 *   aggregates "fn", "field" or "group_by").
 * - Requirements on the store: record tables are rowid tables (the search
 *   condition uses _rowid_), and PRAGMA case_sensitive_like stays off (like,
 *   contains and startsWith are ASCII case-insensitive through LIKE).
 *
 * Aggregates (GET /:c/aggregate, §3.8), in the order checked:
 *	data_query_init(&q, &schema, &opts);
 *	if ((rv = data_query_aggregate(&q, rq->query)) != 0)    // 400s
 *		reply rv with field q.err_field;
 *	data_query_sql_aggregate(&q, &sql);  data_query_bind(&q, st);
 *	rows: ungrouped one row (value); grouped (key, value) per group.
 * - fn (alias op, used only when fn is absent or empty) is one of sum,
 *   avg, min, max, count, case-sensitive. Missing, empty, unknown or not a
 *   string -> invalid_query with field "fn" (also when the bad value came
 *   through the alias: the contract names the parameter `fn`).
 * - field: required except for count (missing or empty -> invalid_query
 *   "field"); a name that is neither a system field nor a valid field name,
 *   or a json column -> invalid_query "field" (json for every fn, count
 *   included, as §3.8 lists it without exception). With count, a field
 *   counts its non-null values.
 * - group_by: optional, one field; empty means absent. An invalid name or a
 *   non-string -> invalid_query "group_by". Any column type may group, json
 *   included (grouped by the stored JSON text). Then filter
 *   (invalid_filter) and search (invalid_search), as for lists.
 * - A field or group_by that is not a column is all-null (§3.8): count 0,
 *   sum 0, avg/min/max null; grouping on it gives one group with key null
 *   (no group on an empty set: grouped results never hold empty groups).
 * - sum and avg use numeric values only: the values of integer and real
 *   columns (and the integer system fields). Booleans are JSON booleans,
 *   not numbers: over a boolean or text column sum is 0 and avg null. sum
 *   never fails: integers are summed exactly in two 32-bit halves, and a
 *   result beyond int64 (or any real value in the set) gives a real.
 * - min and max use SQLite's min()/max(), whose order is §3.6's: nulls
 *   skipped, numbers < text, text bytewise. Over a boolean column they give
 *   1/0, to be rendered as true/false by agg.field_type.
 * - Groups: ORDER BY key ASC (nulls first, numbers < text, bytewise),
 *   LIMIT DATA_AGG_GROUPS (bound). Keys come back as stored; render them by
 *   agg.group_type like record values (boolean 1/0, json text).
 *
 * Threading: no shared state; a struct data_query belongs to one thread.
 */
#ifndef DATA_QUERY_H
#define DATA_QUERY_H

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "lc_common.h"

#define DATA_NAME_MAX 63   // field and collection names (§3.1, §3.2)
#define DATA_FILTER_MAX 20 // conditions per request (§3.5)
#define DATA_LIST_MAX 100  // in/nin items (§3.5)
#define DATA_SORT_MAX 5    // sort terms (§3.6)
// Parenthesis nesting in search: FTS5's parser stack overflows at about
// 13 levels of mixed operators.
#define DATA_SEARCH_DEPTH 8
#define DATA_AGG_GROUPS 1000 // groups returned by aggregate (§3.8)
// System fields: _id _created_at _updated_at _owner_id _deleted_at.
#define DATA_NSYS 5

// Column types of §3.2. DATA_T_NONE: not a column.
enum data_type {
	DATA_T_NONE = 0,
	DATA_T_TEXT,
	DATA_T_INTEGER,
	DATA_T_REAL,
	DATA_T_BOOLEAN, // stored as integer 1/0
	DATA_T_JSON,    // stored as JSON text
};

// One user column. name is borrowed (it must outlive the query).
struct data_col {
	const char    *name;
	enum data_type type;
	// An index (not partial) whose first column this is, or NULL: a
	// sort on the column can be read in order from it (list.c).
	const char *index;
	// When that index goes on (_deleted_at, X, ...): X, else NULL. With
	// an eq condition on this column, live records come from it in X's
	// order (data_query_filter_sorts).
	const char *index_then;
};

// What the query builder needs to know of a collection. All borrowed.
// cols lists the user columns in creation order; the system fields are
// implied (_id, _owner_id text; _created_at, _updated_at, _deleted_at
// integer). table is the record table, fts its FTS5 table (rowid = the
// record's rowid) or NULL when there is none. Both are quoted, not checked.
struct data_schema {
	const char            *table;
	const char            *fts;
	const struct data_col *cols;
	size_t                 ncols;
	const char            *id_index; // the index on _id, or NULL
};

// Visibility decided by the handler (§3.3, §3.4). owner non-NULL: only
// records whose _owner_id equals it (the `owner` read rule for a
// non-admin); include_deleted 0: only records with _deleted_at null.
struct data_qopts {
	const char *owner;
	int         include_deleted;
};

// A value bound to ?N. TEXT is NUL-terminated; TEXT and BLOB are owned by
// the query.
enum data_vkind {
	DATA_V_NULL = 0,
	DATA_V_INT,
	DATA_V_REAL,
	DATA_V_TEXT,
	DATA_V_BLOB,
};

struct data_val {
	enum data_vkind kind;
	int64_t         i;
	double          r;
	char           *p;
	size_t          len;
};

// A growable NUL-terminated string (internal; read via the accessors).
struct data_buf {
	char  *p;
	size_t len;
	size_t cap;
};

// One effective sort term (known columns only, then the _id tie-breaker).
struct data_sort {
	const char    *name; // borrowed from the schema or a static table
	enum data_type type;
	int            desc;
};

// One selected column, in SELECT order. hidden: added with
// data_query_select_add() and not asked for by `fields`.
struct data_proj {
	const char    *name;
	enum data_type type;
	int            sys;
	int            hidden;
};

// Aggregate functions of §3.8.
enum data_agg_fn {
	DATA_AGG_NONE = 0, // not an aggregate query
	DATA_AGG_SUM,
	DATA_AGG_AVG,
	DATA_AGG_MIN,
	DATA_AGG_MAX,
	DATA_AGG_COUNT,
};

// The parsed aggregate parameters (data_query_aggregate), owned by the
// query. field "" : count without a field; group_by "": no grouping.
// *_type DATA_T_NONE: not a column (all-null); *_col is then NULL, else
// the stored name (schema or static storage).
struct data_agg {
	enum data_agg_fn fn;
	const char      *fn_name; // "sum", ... (static)
	char             field[DATA_NAME_MAX + 1];
	enum data_type   field_type;
	const char      *field_col;
	char             group_by[DATA_NAME_MAX + 1];
	enum data_type   group_type;
	const char      *group_col;
};

// A query being built. Everything is owned; release with data_query_fini.
// The fields are read-only for callers; the results are below.
struct data_query {
	const struct data_schema *schema;
	struct data_qopts         opts;

	struct data_val *vals; // values of ?1..?nvals, in order
	size_t           nvals;
	size_t           capvals;

	struct data_buf where;  // conditions joined by AND (empty: none)
	struct data_buf keyset; // after-condition (empty: none)
	// The after-condition's second part, run when the first leaves the
	// page short (empty: none): see data_query_parts.
	struct data_buf keyset_tail;
	int             tail;  // data_query_sql_list builds the second part
	struct data_buf order; // ORDER BY list (without the keywords)
	struct data_buf cols;  // SELECT list

	struct data_sort sort[DATA_SORT_MAX + 1];
	size_t           nsort;

	struct data_proj *proj;
	size_t            nproj;
	int               projected; // `fields` was given

	const char *indexed_by; // FROM table INDEXED BY this, or NULL

	// How data_query_cursor_load prepares its statement: through the
	// caller's cache (reset after use), or, when NULL, sqlite3_prepare_v2
	// (finalized after use).
	sqlite3_stmt *(*prepare)(void *arg, const char *sql);
	void *prepare_arg;

	char after[27];     // the cursor _id, "" when none
	int  cursor_loaded; // data_query_cursor_load built the keyset
	int  nconds;        // filter conditions so far
	// The columns of eq conditions with a value (every condition is
	// ANDed at the top), as schema names.
	const char *eq[DATA_FILTER_MAX];
	size_t      neq;
	char       *match;       // canonical FTS5 expression, NULL when none
	size_t      match_param; // its ?N

	char *err_field; // field of the last error, or NULL (owned)

	struct data_agg agg; // set by data_query_aggregate
};

// How many statements a page takes: 1, or 2 when the cursor's first sort
// term is descending from a value. Its rows follow in two index ranges
// (smaller values, then nulls), and one condition with OR across them
// would make SQLite sort every row that follows; so the page reads the
// first range, then (q->tail = 1) the nulls for what is left of it.
size_t data_query_parts(const struct data_query *q);
// Counting a search without a row lookup per match: when q is a search
// alone (no filter, no owner limit, live rows only), and the collection
// has no soft-deleted row (SQL 1: SELECT EXISTS over its deleted-rows
// index), the count is the FTS index's (SQL 2), which holds exactly the
// records' rows. 0 when q is not such a search.
int data_query_sql_count_fts(
    struct data_query *q, char **any_deleted, char **count);
// SELECT max(_rowid_) FROM q's table: an estimate of its row count.
void data_query_sql_max_rowid(const struct data_query *q, char **out);
// 1 when q has a filter or search condition.
int data_query_has_filter(const struct data_query *q);
// The index that yields the rows in q's sort order (one on the first sort
// field), or NULL when there is none.
const char *data_query_sort_index(const struct data_query *q);
// 1 when an eq condition's index yields the live matches in the order of
// the first sort field (see data_col.index_then): SQLite's planner then
// reads only the page from it.
int data_query_filter_sorts(const struct data_query *q);

// Prepares q for one request (no allocation that can fail). s and o are
// copied by pointer and by value respectively; s must outlive q.
void data_query_init(struct data_query *q, const struct data_schema *s,
    const struct data_qopts *o);
// Releases everything q owns; q may be init'ed again afterwards.
void data_query_fini(struct data_query *q);

// JSON parameters below are borrowed and never modified (they are not
// const only because jansson's object iteration takes json_t *).
//
// Parses the list parameters of the envelope's query object (NULL: none):
// sort, filter, search, after, fields, checked in the error order of
// API.md §3.8 (invalid_query, invalid_filter, invalid_search,
// invalid_cursor). Returns 0 or that code; q->err_field names the field
// where the contract wants one. Call at most once per q.
LC_NODISCARD int data_query_parse(struct data_query *q, json_t *query);

// The single steps of data_query_parse, for endpoints that take only some
// parameters (count and aggregate: filter and search). Each returns 0 or
// its error code (see data_query_parse) and may be called once per q.
// filter: NULL, a string, an array of strings (a repeated parameter) or a
// JSON object (the object form, from a bus caller).
LC_NODISCARD int data_query_filter(struct data_query *q, json_t *filter);
// sort: NULL, a string or an array of strings. LC_EINVALID_QUERY.
LC_NODISCARD int data_query_sort(struct data_query *q, json_t *sort);
// search: NULL or a string. LC_EINVALID_SEARCH.
LC_NODISCARD int data_query_search(struct data_query *q, json_t *search);
// after: NULL or a string; checks the ULID syntax only.
// LC_EINVALID_CURSOR.
LC_NODISCARD int data_query_after(struct data_query *q, json_t *after);
// fields: NULL or a string. Never fails on content (unknown names are left
// out); a non-string gives LC_EINVALID_QUERY with field "fields".
LC_NODISCARD int data_query_fields(struct data_query *q, json_t *fields);

// Adds a column to the SELECT list if it is a column and not selected yet
// (e.g. an `expand` field left out by `fields`); it is marked hidden.
// Returns 1 if the name is a column (already selected or added), else 0.
int data_query_select_add(struct data_query *q, const char *name, size_t len);

// With a cursor (after), reads the cursor record's sort values over db and
// builds the keyset condition. Blocks on SQLite. Returns 0 (also when there
// is no cursor), LC_EINVALID_CURSOR when the record is missing or hidden by
// opts.owner, or LC_EINTERNAL on a SQLite error (logged). Call after
// parsing and before data_query_sql_list.
LC_NODISCARD int data_query_cursor_load(struct data_query *q, sqlite3 *db);

// Complete statements, lc_alloc'd into *out (caller lc_frees):
//   SELECT <cols> FROM <table> WHERE <where> [AND <keyset>]
//     ORDER BY <order> LIMIT ?a OFFSET ?b
// (limit and offset are appended to the values) and
//   SELECT count(*) FROM <table> WHERE <where>      (no keyset: §3.4 total)
// Never fail.
void data_query_sql_list(
    struct data_query *q, int64_t limit, int64_t offset, char **out);
void data_query_sql_count(struct data_query *q, char **out);

// Fragments, valid while q lives: the WHERE condition ("1" when none), the
// keyset condition (NULL when none), the ORDER BY list, the SELECT list.
const char *data_query_where(const struct data_query *q);
const char *data_query_keyset(const struct data_query *q);
const char *data_query_order(const struct data_query *q);
const char *data_query_columns(const struct data_query *q);

// Binds q's values to ?1..?n of st (SQLITE_TRANSIENT), skipping indexes
// beyond the statement's parameter count (a count statement has no
// LIMIT/OFFSET). Returns 0 or LC_EINTERNAL (logged).
LC_NODISCARD int data_query_bind(const struct data_query *q, sqlite3_stmt *st);

// Parses the aggregate parameters of the envelope's query object (NULL:
// none): fn (alias op), field, group_by, then filter and search, in that
// order (§3.8; see the decisions above). Fills q->agg. Returns 0,
// LC_EINVALID_QUERY (err_field "fn", "field" or "group_by"),
// LC_EINVALID_FILTER or LC_EINVALID_SEARCH. Call at most once per q.
LC_NODISCARD int data_query_aggregate(struct data_query *q, json_t *query);

// The aggregate statement of a parsed aggregate query, lc_alloc'd into
// *out (caller lc_frees). Without group_by it returns one row with one
// column (the value); with group_by, up to DATA_AGG_GROUPS rows of (key,
// value) in key order (the limit is appended to the values). Value types:
// count integer; sum integer, or real when a real took part or the sum
// leaves int64; avg real or null; min/max as stored or null. Never fails.
void data_query_sql_aggregate(struct data_query *q, char **out);

// Compiles a search expression (§3.7) into a safe FTS5 MATCH string,
// lc_alloc'd into *out; an empty or blank expression gives *out = NULL.
// Returns 0 or LC_EINVALID_SEARCH.
LC_NODISCARD int data_search_compile(const char *s, size_t len, char **out);

// 1 if s matches ^[A-Za-z][A-Za-z0-9_]{0,62}$ (a user field name, §3.2).
int data_name_valid(const char *s, size_t len);
// The type of a field: a system field or a user column (exact match), or
// DATA_T_NONE. *name_out (may be NULL) gets the stored name.
enum data_type data_schema_find(const struct data_schema *s, const char *name,
    size_t len, const char **name_out);
// Write-side key check (§3.2): 0 if name is a valid user field name that
// does not differ only in case from an existing column, else
// LC_EINVALID_FIELD_NAME. Callers drop keys starting with `_` first.
LC_NODISCARD int data_field_name_check(
    const struct data_schema *s, const char *name, size_t len);

#endif // DATA_QUERY_H
