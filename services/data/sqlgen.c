/*
 * sqlgen.c -- every SQL text the write path builds at run time: the DDL of
 * record tables, columns and FTS indexes, and the INSERT / UPDATE / SELECT
 * of one record. (Reads with filters, sorts and cursors are query.c's.)
 *
 * Identifiers come from two places only: table names made from the
 * catalog's integer ids ("r12", "f12"), and column names that passed the
 * §3.2 name check (^[A-Za-z][A-Za-z0-9_]{0,62}$) in infer.c or were read
 * from the catalog. They are still always double-quoted by data_sql_ident
 * (inner quotes doubled), so nothing here depends on the check being
 * right. Values are never pasted: every value is a ?N parameter.
 */
#include <stdio.h>
#include <string.h>

#include "data.h"

static void
grow(struct data_sql *b, size_t more)
{
	size_t cap = b->cap != 0 ? b->cap : 256;

	while (b->len + more + 1 > cap) {
		cap *= 2;
	}
	if (cap != b->cap) {
		b->p   = lc_realloc(b->p, cap);
		b->cap = cap;
	}
}

static void
addn(struct data_sql *b, const char *s, size_t n)
{
	grow(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
data_sql_add(struct data_sql *b, const char *s)
{
	addn(b, s, strlen(s));
}

void
data_sql_ident(struct data_sql *b, const char *s, size_t len)
{
	addn(b, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		addn(b, s[i] == '"' ? "\"\"" : &s[i], s[i] == '"' ? 2 : 1);
	}
	addn(b, "\"", 1);
}

static void
identz(struct data_sql *b, const char *s)
{
	data_sql_ident(b, s, strlen(s));
}

// "?n"
static void
param(struct data_sql *b, int n)
{
	char tmp[16];

	snprintf(tmp, sizeof(tmp), "?%d", n);
	data_sql_add(b, tmp);
}

void
data_sql_fini(struct data_sql *b)
{
	lc_free(b->p);
	memset(b, 0, sizeof(*b));
}

void
data_sql_create_table(struct data_sql *b, const char *table)
{
	data_sql_add(b, "CREATE TABLE ");
	identz(b, table);
	data_sql_add(b,
	    " (\"_id\" TEXT NOT NULL UNIQUE,"
	    " \"_created_at\" INTEGER NOT NULL,"
	    " \"_updated_at\" INTEGER NOT NULL,"
	    " \"_owner_id\" TEXT,"
	    " \"_deleted_at\" INTEGER); ");
	data_sql_deleted_index(b, table);
}

void
data_sql_deleted_index(struct data_sql *b, const char *table)
{
	char name[DATA_TABLE_MAX];

	snprintf(name, sizeof(name), "d%s", table + 1); // r<N> -> d<N>
	data_sql_add(b, "CREATE INDEX IF NOT EXISTS ");
	identz(b, name);
	data_sql_add(b, " ON ");
	identz(b, table);
	data_sql_add(
	    b, " (\"_deleted_at\") WHERE \"_deleted_at\" IS NOT NULL;");
}

// Declared types give the affinities of §3.2: booleans are 1/0, json is
// its text; integer columns keep a real value that has a fraction.
static const char *
decl_type(enum data_type t)
{
	switch (t) {
	case DATA_T_INTEGER:
	case DATA_T_BOOLEAN:
		return ("INTEGER");
	case DATA_T_REAL:
		return ("REAL");
	default:
		return ("TEXT");
	}
}

void
data_sql_add_column(
    struct data_sql *b, const char *table, const char *col, enum data_type t)
{
	data_sql_add(b, "ALTER TABLE ");
	identz(b, table);
	data_sql_add(b, " ADD COLUMN ");
	identz(b, col);
	data_sql_add(b, " ");
	data_sql_add(b, decl_type(t));
}

// ", "a", "b"" with the text columns, prefixed by pre ("new." / "old.").
static void
text_cols(struct data_sql *b, const struct data_coll *c, const char *pre)
{
	for (size_t i = 0; i < c->ncols; i++) {
		if (c->cols[i].type != DATA_T_TEXT) {
			continue;
		}
		data_sql_add(b, ", ");
		data_sql_add(b, pre);
		identz(b, c->cols[i].name);
	}
}

// ", c0, c1" : the FTS table's own names for the text columns, in the
// same order (user names like rank or rowid are reserved in FTS5).
static void
fts_cols(struct data_sql *b, const struct data_coll *c, int lead)
{
	char   name[24];
	size_t k = 0;

	for (size_t i = 0; i < c->ncols; i++) {
		if (c->cols[i].type != DATA_T_TEXT) {
			continue;
		}
		snprintf(name, sizeof(name), "c%zu", k++);
		data_sql_add(b, lead || k > 1 ? ", " : "");
		data_sql_add(b, name);
	}
}

// One staged operation on c's FTS index (data_fts_apply runs them before
// COMMIT): INSERT INTO s<id> (rid, del, c0, ...) VALUES (<pre>_rowid_,
// del, <pre>"col", ...), and c marked as having staged rows.
static void
stage_row(
    struct data_sql *b, const struct data_coll *c, const char *pre, int del)
{
	char name[DATA_TABLE_MAX];

	snprintf(name, sizeof(name), "s%lld", (long long) c->id);
	data_sql_add(b, "INSERT INTO ");
	identz(b, name);
	data_sql_add(b, " (rid, del");
	fts_cols(b, c, 1);
	data_sql_add(b, ") VALUES (");
	data_sql_add(b, pre);
	data_sql_add(b, del ? "_rowid_, 1" : "_rowid_, 0");
	text_cols(b, c, pre);
	snprintf(name, sizeof(name), "%lld", (long long) c->id);
	data_sql_add(b, "); INSERT OR IGNORE INTO fts_dirty (fts) VALUES (");
	data_sql_add(b, name);
	data_sql_add(b, "); ");
}

// One trigger: name suffix, event, body.
static void
trigger(struct data_sql *b, const struct data_coll *c, const char *suffix,
    const char *event, int del_old, int ins_new)
{
	char name[DATA_TABLE_MAX + 8];

	snprintf(name, sizeof(name), "%s_%s", c->fts, suffix);
	data_sql_add(b, "CREATE TRIGGER ");
	identz(b, name);
	data_sql_add(b, " AFTER ");
	data_sql_add(b, event);
	if (strcmp(event, "UPDATE") == 0) {
		// Only when a text column is set: updates of other
		// columns leave the index alone.
		const char *sep = " OF ";

		for (size_t i = 0; i < c->ncols; i++) {
			if (c->cols[i].type == DATA_T_TEXT) {
				data_sql_add(b, sep);
				identz(b, c->cols[i].name);
				sep = ", ";
			}
		}
	}
	data_sql_add(b, " ON ");
	identz(b, c->table);
	data_sql_add(b, " BEGIN ");
	// _rowid_: a user column may be called rowid (never _rowid_).
	if (del_old) {
		stage_row(b, c, "old.", 1);
	}
	if (ins_new) {
		stage_row(b, c, "new.", 0);
	}
	data_sql_add(b, "END;");
}

// Drops c's stage table (with what it holds) and mark, by id: c->fts is
// "" when c has no text column now.
static void
stage_drop(struct data_sql *b, const struct data_coll *c)
{
	char name[DATA_TABLE_MAX];

	snprintf(name, sizeof(name), "s%lld", (long long) c->id);
	data_sql_add(b, "DROP TABLE IF EXISTS ");
	identz(b, name);
	snprintf(name, sizeof(name), "%lld", (long long) c->id);
	data_sql_add(b, "; DELETE FROM fts_dirty WHERE fts = ");
	data_sql_add(b, name);
	data_sql_add(b, ";");
}

// Drops the triggers of FTS table fts (IF EXISTS).
static void
triggers_drop(struct data_sql *b, const char *fts)
{
	static const char *const sfx[] = { "ai", "ad", "au" };
	char                     name[DATA_TABLE_MAX + 8];

	for (size_t i = 0; i < LC_NELEM(sfx); i++) {
		snprintf(name, sizeof(name), "%s_%s", fts, sfx[i]);
		data_sql_add(b, "DROP TRIGGER IF EXISTS ");
		identz(b, name);
		data_sql_add(b, ";");
	}
}

void
data_sql_fts_stage(struct data_sql *b, const struct data_coll *c)
{
	char name[DATA_TABLE_MAX + 8];

	triggers_drop(b, c->fts);
	stage_drop(b, c);
	snprintf(name, sizeof(name), "s%lld", (long long) c->id);
	data_sql_add(b, " CREATE TABLE ");
	identz(b, name);
	data_sql_add(b,
	    " (seq INTEGER PRIMARY KEY, rid INTEGER NOT NULL,"
	    " del INTEGER NOT NULL");
	fts_cols(b, c, 1);
	data_sql_add(b, "); ");
	trigger(b, c, "ai", "INSERT", 0, 1);
	trigger(b, c, "ad", "DELETE", 1, 0);
	trigger(b, c, "au", "UPDATE", 1, 1);
}

void
data_sql_fts_apply(struct data_sql *b, int64_t id, size_t ncols)
{
	char name[DATA_TABLE_MAX];
	char col[24];

	snprintf(name, sizeof(name), "f%lld", (long long) id);
	data_sql_add(b, "INSERT INTO ");
	identz(b, name);
	data_sql_add(b, " (");
	identz(b, name);
	data_sql_add(b, ", rowid");
	for (size_t i = 0; i < ncols; i++) {
		snprintf(col, sizeof(col), ", c%zu", i);
		data_sql_add(b, col);
	}
	// the command column: 'delete', or null for an insert
	data_sql_add(b, ") SELECT CASE WHEN del THEN 'delete' END, rid");
	for (size_t i = 0; i < ncols; i++) {
		snprintf(col, sizeof(col), ", c%zu", i);
		data_sql_add(b, col);
	}
	snprintf(name, sizeof(name), "s%lld", (long long) id);
	data_sql_add(b, " FROM ");
	identz(b, name);
	data_sql_add(b, " ORDER BY seq");
}

void
data_sql_fts(struct data_sql *b, const struct data_coll *c)
{
	triggers_drop(b, c->fts);
	// what was staged for the old index is in the record table already
	stage_drop(b, c);
	data_sql_add(b, " DROP TABLE IF EXISTS ");
	identz(b, c->fts);
	data_sql_add(b, "; CREATE VIRTUAL TABLE ");
	identz(b, c->fts);
	// Contentless (the staged rows give the old values to 'delete'),
	// with columns c0, c1, ...: no user name reaches FTS5. Filled from
	// the record table in the same transaction.
	data_sql_add(b, " USING fts5(");
	fts_cols(b, c, 0);
	data_sql_add(b, ", content=''); INSERT INTO ");
	identz(b, c->fts);
	data_sql_add(b, " (rowid");
	fts_cols(b, c, 1);
	data_sql_add(b, ") SELECT _rowid_");
	text_cols(b, c, "");
	data_sql_add(b, " FROM ");
	identz(b, c->table);
	data_sql_add(b, "; ");
	data_sql_fts_stage(b, c);
}

void
data_sql_insert(
    struct data_sql *b, const struct data_coll *c, const struct data_plan *p)
{
	data_sql_add(b, "INSERT INTO ");
	identz(b, c->table);
	data_sql_add(b,
	    " (\"_id\", \"_created_at\", \"_updated_at\", \"_owner_id\","
	    " \"_deleted_at\"");
	for (size_t i = 0; i < p->nkeys; i++) {
		data_sql_add(b, ", ");
		data_sql_ident(b, p->keys[i].name, p->keys[i].len);
	}
	data_sql_add(b, ") VALUES (?1, ?2, ?3, ?4, NULL");
	for (size_t i = 0; i < p->nkeys; i++) {
		data_sql_add(b, ", ");
		param(b, (int) i + 5);
	}
	data_sql_add(b, ")");
}

void
data_sql_update(
    struct data_sql *b, const struct data_coll *c, const struct data_plan *p)
{
	int n = 1;

	data_sql_add(b, "UPDATE ");
	identz(b, c->table);
	data_sql_add(b, " SET ");
	for (size_t i = 0; i < p->nkeys; i++, n++) {
		data_sql_ident(b, p->keys[i].name, p->keys[i].len);
		data_sql_add(b, " = ");
		param(b, n);
		data_sql_add(b, ", ");
	}
	data_sql_add(b, "\"_updated_at\" = ");
	param(b, n++);
	if (p->owner_set) {
		data_sql_add(b, ", \"_owner_id\" = ");
		param(b, n++);
	}
	data_sql_add(b, " WHERE _rowid_ = ");
	param(b, n);
}

void
data_sql_select_id(struct data_sql *b, const struct data_coll *c)
{
	data_sql_add(b,
	    "SELECT _rowid_, \"_id\", \"_created_at\", \"_updated_at\","
	    " \"_owner_id\", \"_deleted_at\"");
	for (size_t i = 0; i < c->ncols; i++) {
		data_sql_add(b, ", ");
		identz(b, c->cols[i].name);
	}
	data_sql_add(b, " FROM ");
	identz(b, c->table);
	data_sql_add(b, " WHERE \"_id\" = ?1");
}

void
data_sql_select_head(struct data_sql *b, const struct data_coll *c)
{
	data_sql_add(
	    b, "SELECT _rowid_, \"_deleted_at\", \"_owner_id\" FROM ");
	identz(b, c->table);
	data_sql_add(b, " WHERE \"_id\" = ?1");
}

void
data_sql_set_deleted(struct data_sql *b, const struct data_coll *c)
{
	data_sql_add(b, "UPDATE ");
	identz(b, c->table);
	data_sql_add(b,
	    " SET \"_deleted_at\" = ?1,"
	    " \"_updated_at\" = coalesce(?2, \"_updated_at\")"
	    " WHERE _rowid_ = ?3");
}

void
data_sql_delete_row(struct data_sql *b, const struct data_coll *c)
{
	data_sql_add(b, "DELETE FROM ");
	identz(b, c->table);
	data_sql_add(b, " WHERE _rowid_ = ?1");
}

void
data_sql_fts_drop(struct data_sql *b, const struct data_coll *c)
{
	char fts[DATA_TABLE_MAX];

	// c->fts is "" when c has no text column now; the table may still
	// exist from before (a text column being dropped).
	snprintf(fts, sizeof(fts), "f%lld", (long long) c->id);
	triggers_drop(b, fts);
	data_sql_add(b, "DROP TABLE IF EXISTS ");
	identz(b, fts);
	data_sql_add(b, "; ");
	stage_drop(b, c);
}

void
data_sql_index_name(
    char *buf, size_t size, char kind, int64_t coll_id, int64_t pos)
{
	snprintf(buf, size, "%c%lld_%lld", kind, (long long) coll_id,
	    (long long) pos);
}

void
data_sql_table_name(char *buf, size_t size, int64_t coll_id)
{
	snprintf(buf, size, "r%lld", (long long) coll_id);
}

void
data_sql_create_index(struct data_sql *b, const struct data_coll *c,
    const char *name, const char *col, int unique, const char *const *cover,
    size_t ncover)
{
	data_sql_add(b,
	    unique ? "CREATE UNIQUE INDEX IF NOT EXISTS "
	           : "CREATE INDEX IF NOT EXISTS ");
	identz(b, name);
	data_sql_add(b, " ON ");
	identz(b, c->table);
	data_sql_add(b, " (");
	identz(b, col);
	// Reads ask for live records (_deleted_at IS NULL): with it in the
	// index a filter or count on col needs no table lookup per match. A
	// unique index stays on the column alone (§5.1).
	if (!unique) {
		data_sql_add(b, ", \"_deleted_at\"");
		for (size_t i = 0; i < ncover; i++) {
			data_sql_add(b, ", ");
			identz(b, cover[i]);
		}
	}
	data_sql_add(b, ")");
}

void
data_sql_drop_index(struct data_sql *b, const char *name)
{
	data_sql_add(b, "DROP INDEX IF EXISTS ");
	identz(b, name);
}
