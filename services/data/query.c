/*
 * query.c -- filter, sort, cursor, fields and search of API.md §3.4-§3.7
 * as parameterized SQL (see query.h for the contract decisions).
 *
 * SQL is assembled only from fixed fragments, quoted identifiers that were
 * checked first, and ?N parameter numbers; every value goes into q->vals.
 * Conditions are emitted while parsing: there is no tree, because each
 * condition is independent and ANDed with the others.
 */
#include "query.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lc_err.h"
#include "lc_ids.h"
#include "lc_log.h"

// The system fields (§3.2), in the order of a full record.
static const struct data_col sysf[DATA_NSYS] = {
	{ "_id", DATA_T_TEXT, NULL, NULL },
	{ "_created_at", DATA_T_INTEGER, NULL, NULL },
	{ "_updated_at", DATA_T_INTEGER, NULL, NULL },
	{ "_owner_id", DATA_T_TEXT, NULL, NULL },
	{ "_deleted_at", DATA_T_INTEGER, NULL, NULL },
};

/* ---- strings ----------------------------------------------------------- */

static void
buf_addn(struct data_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap != 0 ? b->cap : 64;

		while (cap < b->len + n + 1) {
			cap *= 2;
		}
		b->p   = lc_realloc(b->p, cap);
		b->cap = cap;
	}
	if (n > 0) {
		memcpy(b->p + b->len, s, n);
	}
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_add(struct data_buf *b, const char *s)
{
	buf_addn(b, s, strlen(s));
}

// A quoted SQL identifier. Names reaching here were checked (or come from
// the schema), but doubling quotes keeps any string inert.
static void
buf_ident(struct data_buf *b, const char *s, size_t n)
{
	size_t i;
	size_t start = 0;

	buf_addn(b, "\"", 1);
	for (i = 0; i < n; i++) {
		if (s[i] == '"') {
			buf_addn(b, s + start, i + 1 - start);
			buf_addn(b, "\"", 1);
			start = i + 1;
		}
	}
	buf_addn(b, s + start, n - start);
	buf_addn(b, "\"", 1);
}

static void
buf_identz(struct data_buf *b, const char *s)
{
	buf_ident(b, s, strlen(s));
}

// ?N: a number we produce, never input.
static void
buf_param(struct data_buf *b, size_t idx)
{
	char t[32];
	int  n = snprintf(t, sizeof(t), "?%zu", idx);

	buf_addn(b, t, (size_t) n);
}

static void
buf_reset(struct data_buf *b)
{
	b->len = 0;
	if (b->p != NULL) {
		b->p[0] = '\0';
	}
}

static void
buf_fini(struct data_buf *b)
{
	lc_free(b->p);
	b->p   = NULL;
	b->len = 0;
	b->cap = 0;
}

/* ---- values ------------------------------------------------------------ */

// Appends a value slot; returns its 1-based parameter number.
static size_t
val_new(struct data_query *q, enum data_vkind kind, struct data_val **out)
{
	if (q->nvals == q->capvals) {
		q->capvals = q->capvals != 0 ? q->capvals * 2 : 16;
		q->vals = lc_realloc(q->vals, q->capvals * sizeof(*q->vals));
	}
	*out = &q->vals[q->nvals];
	memset(*out, 0, sizeof(**out));
	(*out)->kind = kind;
	return (++q->nvals);
}

static size_t
push_int(struct data_query *q, int64_t i)
{
	struct data_val *v;
	size_t           idx = val_new(q, DATA_V_INT, &v);

	v->i = i;
	return (idx);
}

static size_t
push_real(struct data_query *q, double r)
{
	struct data_val *v;
	size_t           idx = val_new(q, DATA_V_REAL, &v);

	v->r = r;
	return (idx);
}

static size_t
push_bytes(struct data_query *q, enum data_vkind kind, const void *p, size_t n)
{
	struct data_val *v;
	size_t           idx = val_new(q, kind, &v);

	v->p = lc_alloc(n + 1);
	if (n > 0) {
		memcpy(v->p, p, n);
	}
	v->p[n] = '\0';
	v->len  = n;
	return (idx);
}

static size_t
push_text(struct data_query *q, const char *s, size_t n)
{
	return (push_bytes(q, DATA_V_TEXT, s, n));
}

/* ---- names ------------------------------------------------------------- */

static int
is_alpha(char c)
{
	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'));
}

static int
is_digit(char c)
{
	return (c >= '0' && c <= '9');
}

static char
to_lower(char c)
{
	return ((char) (c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
}

int
data_name_valid(const char *s, size_t len)
{
	size_t i;

	if (s == NULL || len == 0 || len > DATA_NAME_MAX || !is_alpha(s[0])) {
		return (0);
	}
	for (i = 1; i < len; i++) {
		if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '_') {
			return (0);
		}
	}
	return (1);
}

static int
name_eq(const char *stored, const char *s, size_t len)
{
	return (strlen(stored) == len && memcmp(stored, s, len) == 0);
}

static const struct data_col *
sys_find(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < DATA_NSYS; i++) {
		if (name_eq(sysf[i].name, s, len)) {
			return (&sysf[i]);
		}
	}
	return (NULL);
}

enum data_type
data_schema_find(const struct data_schema *s, const char *name, size_t len,
    const char **name_out)
{
	const struct data_col *c = sys_find(name, len);
	size_t                 i;

	if (c == NULL && data_name_valid(name, len)) {
		for (i = 0; i < s->ncols; i++) {
			if (name_eq(s->cols[i].name, name, len)) {
				c = &s->cols[i];
				break;
			}
		}
	}
	if (c == NULL) {
		return (DATA_T_NONE);
	}
	if (name_out != NULL) {
		*name_out = c->name;
	}
	return (c->type);
}

// A name a query may use: a system field or a valid user field name.
static int
field_ok(const char *s, size_t len)
{
	return (sys_find(s, len) != NULL || data_name_valid(s, len));
}

int
data_field_name_check(
    const struct data_schema *s, const char *name, size_t len)
{
	size_t i;
	size_t j;

	if (!data_name_valid(name, len)) {
		return (LC_EINVALID_FIELD_NAME);
	}
	for (i = 0; i < s->ncols; i++) {
		const char *c = s->cols[i].name;

		if (strlen(c) != len || memcmp(c, name, len) == 0) {
			continue;
		}
		for (j = 0; j < len && to_lower(c[j]) == to_lower(name[j]);
		     j++) { }
		if (j == len) {
			return (
			    LC_EINVALID_FIELD_NAME); // differs only in case
		}
	}
	return (0);
}

/* ---- errors ------------------------------------------------------------ */

static int
fail(struct data_query *q, int code, const char *field, size_t len)
{
	lc_free(q->err_field);
	q->err_field = field != NULL ? lc_strndup(field, len) : NULL;
	return (code);
}

/* ---- init / fini ------------------------------------------------------- */

static void
cols_rebuild(struct data_query *q)
{
	size_t i;

	buf_reset(&q->cols);
	for (i = 0; i < q->nproj; i++) {
		if (i > 0) {
			buf_add(&q->cols, ", ");
		}
		buf_identz(&q->cols, q->proj[i].name);
	}
}

static void
proj_add(struct data_query *q, const char *name, enum data_type type, int sys,
    int hidden)
{
	struct data_proj *p = &q->proj[q->nproj++];

	p->name   = name;
	p->type   = type;
	p->sys    = sys;
	p->hidden = hidden;
}

static void
proj_all(struct data_query *q)
{
	size_t i;

	q->nproj = 0;
	for (i = 0; i < DATA_NSYS; i++) {
		proj_add(q, sysf[i].name, sysf[i].type, 1, 0);
	}
	for (i = 0; i < q->schema->ncols; i++) {
		proj_add(
		    q, q->schema->cols[i].name, q->schema->cols[i].type, 0, 0);
	}
	cols_rebuild(q);
}

static void
order_rebuild(struct data_query *q)
{
	size_t i;

	buf_reset(&q->order);
	for (i = 0; i < q->nsort; i++) {
		if (i > 0) {
			buf_add(&q->order, ", ");
		}
		buf_identz(&q->order, q->sort[i].name);
		buf_add(&q->order, q->sort[i].desc ? " DESC" : " ASC");
	}
}

// Appends one condition to the WHERE conjunction.
static void
where_add(struct data_query *q, const char *cond)
{
	if (q->where.len > 0) {
		buf_add(&q->where, " AND ");
	}
	buf_add(&q->where, cond);
}

void
data_query_init(struct data_query *q, const struct data_schema *s,
    const struct data_qopts *o)
{
	memset(q, 0, sizeof(*q));
	q->schema = s;
	if (o != NULL) {
		q->opts = *o;
	}
	q->proj = lc_calloc(DATA_NSYS + s->ncols, sizeof(*q->proj));
	proj_all(q);
	q->sort[0].name = sysf[0].name; // default: _id ascending (§3.6)
	q->sort[0].type = DATA_T_TEXT;
	q->nsort        = 1;
	order_rebuild(q);
	// Visibility first: it is part of every statement built from q.
	if (!q->opts.include_deleted) {
		where_add(q, "\"_deleted_at\" IS NULL");
	}
	if (q->opts.owner != NULL) {
		size_t idx =
		    push_text(q, q->opts.owner, strlen(q->opts.owner));

		if (q->where.len > 0) {
			buf_add(&q->where, " AND ");
		}
		buf_add(&q->where, "\"_owner_id\" = ");
		buf_param(&q->where, idx);
	}
}

void
data_query_fini(struct data_query *q)
{
	size_t i;

	for (i = 0; i < q->nvals; i++) {
		lc_free(q->vals[i].p);
	}
	lc_free(q->vals);
	buf_fini(&q->where);
	buf_fini(&q->keyset);
	buf_fini(&q->keyset_tail);
	buf_fini(&q->order);
	buf_fini(&q->cols);
	lc_free(q->proj);
	lc_free(q->match);
	lc_free(q->err_field);
	memset(q, 0, sizeof(*q));
}

/* ---- filter values ----------------------------------------------------- */

// A filter value after the typing rules of §3.5. lit is the literal form
// (text form: the raw text or the decoded "..." string; JSON: the string,
// or the number or boolean printed); NULL only for a JSON null.
enum tkind { TV_NULL, TV_BOOL, TV_INT, TV_REAL, TV_STR };

struct tval {
	enum tkind  k;
	int64_t     i;
	double      r;
	const char *lit;
	size_t      litlen;
	char       *own; // storage behind lit, when not borrowed
};

static void
tval_fini(struct tval *tv)
{
	lc_free(tv->own);
	tv->own = NULL;
}

// JSON number syntax: 0 no, 1 integer form, 2 with fraction or exponent.
static int
num_syntax(const char *s, size_t len)
{
	size_t i    = 0;
	int    kind = 1;

	if (i < len && s[i] == '-') {
		i++;
	}
	if (i >= len || !is_digit(s[i])) {
		return (0);
	}
	if (s[i] == '0') {
		i++;
	} else {
		while (i < len && is_digit(s[i])) {
			i++;
		}
	}
	if (i < len && s[i] == '.') {
		kind = 2;
		if (++i >= len || !is_digit(s[i])) {
			return (0);
		}
		while (i < len && is_digit(s[i])) {
			i++;
		}
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		kind = 2;
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-')) {
			i++;
		}
		if (i >= len || !is_digit(s[i])) {
			return (0);
		}
		while (i < len && is_digit(s[i])) {
			i++;
		}
	}
	return (i == len ? kind : 0);
}

// Parses text of JSON number syntax kind `syn` into tv (k, i, r). An
// integer beyond int64 becomes a real, as jansson cannot hold it either.
static void
num_parse(const char *s, size_t len, int syn, struct tval *tv)
{
	char *z = lc_strndup(s, len);

	if (syn == 1) {
		errno = 0;
		tv->i = strtoll(z, NULL, 10);
		tv->k = TV_INT;
		if (errno != ERANGE) {
			lc_free(z);
			return;
		}
	}
	tv->r = strtod(z, NULL); // may be +-inf for 1e999: SQLite binds it
	tv->k = TV_REAL;
	lc_free(z);
}

// Text-form typing (§3.5). Returns 0, or -1 for a "..." that is not a JSON
// string.
static int
type_text(const char *s, size_t len, struct tval *tv)
{
	int syn;

	memset(tv, 0, sizeof(*tv));
	tv->k      = TV_STR;
	tv->lit    = s;
	tv->litlen = len;
	if ((len == 4 && memcmp(s, "true", 4) == 0) ||
	    (len == 5 && memcmp(s, "false", 5) == 0)) {
		tv->k = TV_BOOL;
		tv->i = len == 4;
	} else if (len == 4 && memcmp(s, "null", 4) == 0) {
		tv->k = TV_NULL;
	} else if ((syn = num_syntax(s, len)) != 0) {
		num_parse(s, len, syn, tv);
	} else if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
		json_t *j = json_loadb(s, len, JSON_DECODE_ANY, NULL);

		if (j == NULL || !json_is_string(j)) {
			json_decref(j);
			return (-1);
		}
		tv->litlen = json_string_length(j);
		tv->own    = lc_alloc(tv->litlen + 1);
		memcpy(tv->own, json_string_value(j), tv->litlen + 1);
		tv->lit = tv->own;
		json_decref(j);
	}
	return (0);
}

// Shortest text that reads back as the same double.
static char *
real_text(double r)
{
	char t[40];
	int  prec;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(t, sizeof(t), "%.*g", prec, r);
		if (strtod(t, NULL) == r) {
			break;
		}
	}
	return (lc_strdup(t));
}

// JSON-form typing: JSON values keep their types. -1 for arrays/objects.
static int
type_json(json_t *v, struct tval *tv)
{
	char t[32];

	memset(tv, 0, sizeof(*tv));
	switch (json_typeof(v)) {
	case JSON_NULL:
		tv->k = TV_NULL;
		return (0);
	case JSON_TRUE:
	case JSON_FALSE:
		tv->k   = TV_BOOL;
		tv->i   = json_is_true(v);
		tv->lit = tv->i ? "true" : "false";
		break;
	case JSON_INTEGER:
		tv->k = TV_INT;
		tv->i = json_integer_value(v);
		snprintf(t, sizeof(t), "%lld", (long long) tv->i);
		tv->own = lc_strdup(t);
		tv->lit = tv->own;
		break;
	case JSON_REAL:
		tv->k   = TV_REAL;
		tv->r   = json_real_value(v);
		tv->own = real_text(tv->r);
		tv->lit = tv->own;
		break;
	case JSON_STRING:
		tv->k      = TV_STR;
		tv->lit    = json_string_value(v);
		tv->litlen = json_string_length(v);
		return (0);
	default:
		return (-1);
	}
	tv->litlen = strlen(tv->lit);
	return (0);
}

/* ---- conditions -------------------------------------------------------- */

enum op {
	OP_EQ,
	OP_NE,
	OP_GT,
	OP_GTE,
	OP_LT,
	OP_LTE,
	OP_LIKE,
	OP_CONTAINS,
	OP_STARTS,
	OP_IN,
	OP_NIN,
};

static const struct {
	const char *name;
	enum op     op;
	const char *sql; // comparison operator, for the ordered ops
} ops[] = {
	{ "eq", OP_EQ, "=" },
	{ "ne", OP_NE, NULL },
	{ "neq", OP_NE, NULL },
	{ "gt", OP_GT, ">" },
	{ "gte", OP_GTE, ">=" },
	{ "lt", OP_LT, "<" },
	{ "lte", OP_LTE, "<=" },
	{ "like", OP_LIKE, NULL },
	{ "contains", OP_CONTAINS, NULL },
	{ "startsWith", OP_STARTS, NULL },
	{ "in", OP_IN, NULL },
	{ "nin", OP_NIN, NULL },
};

static int
op_find(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < LC_NELEM(ops); i++) {
		if (name_eq(ops[i].name, s, len)) {
			return ((int) i);
		}
	}
	return (-1);
}

// The field a condition applies to. type DATA_T_NONE: not a column.
struct cond {
	const char    *name; // as given (for errors)
	size_t         nlen;
	const char    *col; // stored name, when a column
	enum data_type type;
	int            opi; // index into ops[]
};

static int
is_numeric(enum data_type t)
{
	return (
	    t == DATA_T_INTEGER || t == DATA_T_REAL || t == DATA_T_BOOLEAN);
}

enum cmp { CMP_NULL, CMP_VAL, CMP_NONE };

// Binds tv for comparing with a column of type t. CMP_NONE: the value can
// equal no stored value of a numeric column (a non-numeric string).
static enum cmp
bind_cmp(
    struct data_query *q, enum data_type t, const struct tval *tv, size_t *idx)
{
	struct tval n;
	int         syn;

	if (tv->k == TV_NULL) {
		return (CMP_NULL);
	}
	if (!is_numeric(t)) {
		*idx = push_text(q, tv->lit, tv->litlen);
		return (CMP_VAL);
	}
	switch (tv->k) {
	case TV_BOOL:
	case TV_INT:
		*idx = push_int(q, tv->i);
		return (CMP_VAL);
	case TV_REAL:
		*idx = push_real(q, tv->r);
		return (CMP_VAL);
	default:
		break;
	}
	if ((syn = num_syntax(tv->lit, tv->litlen)) == 0) {
		return (CMP_NONE);
	}
	num_parse(tv->lit, tv->litlen, syn, &n);
	*idx = n.k == TV_INT ? push_int(q, n.i) : push_real(q, n.r);
	return (CMP_VAL);
}

// Appends `<col> LIKE ?n ESCAPE '\'` for the literal with %/_/\ escaped,
// between the given prefix and suffix wildcards.
static void
emit_like_lit(
    struct data_query *q, struct data_buf *c, const struct tval *tv, int lead)
{
	struct data_buf pat = { 0 };
	size_t          i;

	if (lead) {
		buf_add(&pat, "%");
	}
	for (i = 0; i < tv->litlen; i++) {
		char ch = tv->lit[i];

		if (ch == '%' || ch == '_' || ch == '\\') {
			buf_addn(&pat, "\\", 1);
		}
		buf_addn(&pat, &ch, 1);
	}
	buf_add(&pat, "%");
	buf_add(c, " LIKE ");
	buf_param(c, push_text(q, pat.p, pat.len));
	buf_add(c, " ESCAPE '\\'");
	buf_fini(&pat);
}

// One scalar condition. The caller checked the operator against the
// column type.
static void
emit_scalar(struct data_query *q, const struct cond *cd, const struct tval *tv)
{
	struct data_buf c   = { 0 };
	enum op         op  = ops[cd->opi].op;
	size_t          idx = 0;
	enum cmp        cm;

	if (cd->type == DATA_T_NONE) {
		// Not a column: null in every record (§3.5).
		int all = (op == OP_EQ && tv->k == TV_NULL) ||
		    (op == OP_NE && tv->k != TV_NULL);

		where_add(q, all ? "1" : "0");
		return;
	}
	switch (op) {
	case OP_LIKE:
	case OP_CONTAINS:
	case OP_STARTS:
		if (tv->lit == NULL) {
			where_add(q, "0"); // a JSON null is no pattern
			return;
		}
		buf_identz(&c, cd->col);
		if (op == OP_LIKE) {
			buf_add(&c, " LIKE ");
			buf_param(&c, push_text(q, tv->lit, tv->litlen));
		} else {
			emit_like_lit(q, &c, tv, op == OP_CONTAINS);
		}
		break;
	case OP_EQ:
	case OP_NE:
		cm = bind_cmp(q, cd->type, tv, &idx);
		if (cm == CMP_NONE) {
			where_add(q, op == OP_EQ ? "0" : "1");
			return;
		}
		buf_identz(&c, cd->col);
		if (cm == CMP_NULL) {
			buf_add(&c, op == OP_EQ ? " IS NULL" : " IS NOT NULL");
		} else {
			// IS NOT: null fields match ne (§3.5).
			buf_add(&c, op == OP_EQ ? " = " : " IS NOT ");
			buf_param(&c, idx);
			if (op == OP_EQ && q->neq < DATA_FILTER_MAX) {
				q->eq[q->neq++] = cd->col;
			}
		}
		break;
	default: // ordered: null fields and null values never match
		cm = bind_cmp(q, cd->type, tv, &idx);
		if (cm != CMP_VAL) {
			where_add(q, "0");
			return;
		}
		buf_identz(&c, cd->col);
		buf_add(&c, " ");
		buf_add(&c, ops[cd->opi].sql);
		buf_add(&c, " ");
		buf_param(&c, idx);
		break;
	}
	where_add(q, c.p);
	buf_fini(&c);
}

// An in/nin condition over n typed items.
static void
emit_list(struct data_query *q, const struct cond *cd,
    const struct tval *items, size_t n)
{
	struct data_buf c       = { 0 };
	struct data_buf set     = { 0 };
	int             in      = ops[cd->opi].op == OP_IN;
	int             hasnull = 0;
	size_t          k       = 0;
	size_t          i;
	size_t          idx = 0;

	for (i = 0; i < n; i++) {
		if (items[i].k == TV_NULL) {
			hasnull = 1;
			continue;
		}
		if (cd->type == DATA_T_NONE ||
		    bind_cmp(q, cd->type, &items[i], &idx) != CMP_VAL) {
			continue; // can equal nothing stored
		}
		buf_add(&set, k++ > 0 ? ", " : "(");
		buf_param(&set, idx);
	}
	if (k > 0) {
		buf_add(&set, ")");
	}
	if (cd->type == DATA_T_NONE) {
		where_add(q, in == hasnull ? "1" : "0");
		goto out;
	}
	if (k == 0) {
		if (hasnull) {
			buf_identz(&c, cd->col);
			buf_add(&c, in ? " IS NULL" : " IS NOT NULL");
		} else {
			buf_add(&c, in ? "0" : "1"); // empty list (§3.5)
		}
	} else if (in) {
		if (hasnull) {
			buf_add(&c, "(");
			buf_identz(&c, cd->col);
			buf_add(&c, " IS NULL OR ");
		}
		buf_identz(&c, cd->col);
		buf_add(&c, " IN ");
		buf_add(&c, set.p);
		if (hasnull) {
			buf_add(&c, ")");
		}
	} else {
		// Null fields match nin, unless the list holds null.
		buf_add(&c, "(");
		buf_identz(&c, cd->col);
		buf_add(&c, hasnull ? " IS NOT NULL AND " : " IS NULL OR ");
		buf_identz(&c, cd->col);
		buf_add(&c, " NOT IN ");
		buf_add(&c, set.p);
		buf_add(&c, ")");
	}
	where_add(q, c.p);
out:
	buf_fini(&c);
	buf_fini(&set);
}

// Resolves field and operator, counts the condition and checks the
// operator against the column type. 0 or LC_EINVALID_FILTER.
static int
cond_start(struct data_query *q, struct cond *cd, const char *name,
    size_t nlen, const char *op, size_t oplen)
{
	enum op o;

	memset(cd, 0, sizeof(*cd));
	cd->name = name;
	cd->nlen = nlen;
	if (++q->nconds > DATA_FILTER_MAX) {
		return (fail(q, LC_EINVALID_FILTER, NULL, 0));
	}
	if (!field_ok(name, nlen) || (cd->opi = op_find(op, oplen)) < 0) {
		return (fail(q, LC_EINVALID_FILTER, name, nlen));
	}
	cd->type = data_schema_find(q->schema, name, nlen, &cd->col);
	o        = ops[cd->opi].op;
	if (cd->type == DATA_T_JSON && o != OP_EQ && o != OP_NE &&
	    o != OP_LIKE && o != OP_CONTAINS) {
		return (fail(q, LC_EINVALID_FILTER, name, nlen));
	}
	return (0);
}

// json columns take eq/ne only with null (§3.5).
static int
cond_value_ok(
    struct data_query *q, const struct cond *cd, const struct tval *tv)
{
	enum op o = ops[cd->opi].op;

	if (cd->type == DATA_T_JSON && (o == OP_EQ || o == OP_NE) &&
	    tv->k != TV_NULL) {
		return (fail(q, LC_EINVALID_FILTER, cd->name, cd->nlen));
	}
	return (0);
}

static int
is_list_op(const struct cond *cd)
{
	return (ops[cd->opi].op == OP_IN || ops[cd->opi].op == OP_NIN);
}

// Types the items of a JSON array (scalars only) into items[].
static int
list_json(json_t *arr, struct tval *items, size_t *n)
{
	size_t i;

	*n = 0;
	if (!json_is_array(arr) || json_array_size(arr) > DATA_LIST_MAX) {
		return (-1);
	}
	for (i = 0; i < json_array_size(arr); i++) {
		if (type_json(json_array_get(arr, i), &items[i]) != 0) {
			return (-1);
		}
		*n = i + 1;
	}
	return (0);
}

static void
items_fini(struct tval *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		tval_fini(&items[i]);
	}
}

// field:op:value (§3.5), split at the first two colons.
static int
filter_text(struct data_query *q, const char *s, size_t len)
{
	struct tval items[DATA_LIST_MAX] = { 0 };
	struct tval tv;
	struct cond cd;
	const char *c1 = memchr(s, ':', len);
	const char *c2;
	const char *v;
	size_t      vlen;
	size_t      n = 0;
	int         rv;

	if (c1 == NULL) {
		return (fail(q, LC_EINVALID_FILTER, NULL, 0));
	}
	c2 = memchr(c1 + 1, ':', len - (size_t) (c1 + 1 - s));
	if (c2 == NULL) {
		return (fail(q, LC_EINVALID_FILTER, s, (size_t) (c1 - s)));
	}
	if ((rv = cond_start(q, &cd, s, (size_t) (c1 - s), c1 + 1,
	         (size_t) (c2 - c1 - 1))) != 0) {
		return (rv);
	}
	v    = c2 + 1;
	vlen = len - (size_t) (v - s);
	if (!is_list_op(&cd)) {
		if (type_text(v, vlen, &tv) != 0) {
			return (fail(q, LC_EINVALID_FILTER, cd.name, cd.nlen));
		}
		if ((rv = cond_value_ok(q, &cd, &tv)) == 0) {
			emit_scalar(q, &cd, &tv);
		}
		tval_fini(&tv);
		return (rv);
	}
	rv = 0;
	if (vlen > 0 && v[0] == '[') {
		// The items borrow strings from arr: emit before releasing it.
		json_t *arr = json_loadb(v, vlen, 0, NULL);

		if (list_json(arr, items, &n) != 0) {
			rv = fail(q, LC_EINVALID_FILTER, cd.name, cd.nlen);
		} else {
			emit_list(q, &cd, items, n);
		}
		items_fini(items, n);
		json_decref(arr);
		return (rv);
	}
	if (vlen > 0) {
		// Comma-separated items, each typed; the text stays borrowed
		// from s, which outlives the items.
		const char *p   = v;
		const char *end = v + vlen;

		while (rv == 0) {
			const char *c = memchr(p, ',', (size_t) (end - p));
			const char *e = c != NULL ? c : end;

			if (n == DATA_LIST_MAX) {
				rv = fail(
				    q, LC_EINVALID_FILTER, cd.name, cd.nlen);
				break;
			}
			if (type_text(p, (size_t) (e - p), &items[n]) != 0) {
				rv = fail(
				    q, LC_EINVALID_FILTER, cd.name, cd.nlen);
				break;
			}
			n++;
			if (c == NULL) {
				break;
			}
			p = c + 1;
		}
	}
	if (rv == 0) {
		emit_list(q, &cd, items, n);
	}
	items_fini(items, n);
	return (rv);
}

// One condition of a JSON form: operator op on field name, value v.
static int
filter_json_cond(struct data_query *q, const char *name, size_t nlen,
    const char *op, size_t oplen, json_t *v)
{
	struct tval items[DATA_LIST_MAX] = { 0 };
	struct tval tv;
	struct cond cd;
	size_t      n = 0;
	int         rv;

	if ((rv = cond_start(q, &cd, name, nlen, op, oplen)) != 0) {
		return (rv);
	}
	if (is_list_op(&cd)) {
		if (list_json(v, items, &n) != 0) {
			rv = fail(q, LC_EINVALID_FILTER, name, nlen);
		} else {
			emit_list(q, &cd, items, n);
		}
		items_fini(items, n);
		return (rv);
	}
	if (type_json(v, &tv) != 0) {
		return (fail(q, LC_EINVALID_FILTER, name, nlen));
	}
	if ((rv = cond_value_ok(q, &cd, &tv)) == 0) {
		emit_scalar(q, &cd, &tv);
	}
	tval_fini(&tv);
	return (rv);
}

// {"published":true,"score":{"gte":10}}
static int
filter_object(struct data_query *q, json_t *obj)
{
	const char *key;
	const char *op;
	size_t      klen;
	size_t      oplen;
	json_t     *v;
	json_t     *ov;
	int         rv;

	json_object_keylen_foreach(obj, key, klen, v)
	{
		if (json_is_object(v)) {
			if (json_object_size(v) == 0) {
				return (
				    fail(q, LC_EINVALID_FILTER, key, klen));
			}
			json_object_keylen_foreach(v, op, oplen, ov)
			{
				if ((rv = filter_json_cond(
				         q, key, klen, op, oplen, ov)) != 0) {
					return (rv);
				}
			}
		} else if ((rv = filter_json_cond(q, key, klen, "eq", 2, v)) !=
		    0) {
			return (rv); // arrays fail there: not a scalar
		}
	}
	return (0);
}

// [{"field":"score","op":"gte","value":10}]
static int
filter_array(struct data_query *q, json_t *arr)
{
	size_t i;
	int    rv;

	for (i = 0; i < json_array_size(arr); i++) {
		json_t *it = json_array_get(arr, i);
		json_t *f  = json_object_get(it, "field");
		json_t *op = json_object_get(it, "op");
		json_t *v  = json_object_get(it, "value");

		if (!json_is_string(f)) {
			return (fail(q, LC_EINVALID_FILTER, NULL, 0));
		}
		if (!json_is_string(op) || v == NULL) {
			return (fail(q, LC_EINVALID_FILTER,
			    json_string_value(f), json_string_length(f)));
		}
		if ((rv = filter_json_cond(q, json_string_value(f),
		         json_string_length(f), json_string_value(op),
		         json_string_length(op), v)) != 0) {
			return (rv);
		}
	}
	return (0);
}

// One `filter` parameter: JSON form when it starts with { or [.
static int
filter_one(struct data_query *q, const char *s, size_t len)
{
	json_t *j;
	int     rv;

	if (len == 0) {
		return (0);
	}
	if (memchr(s, '\0', len) != NULL) {
		return (fail(q, LC_EINVALID_FILTER, NULL, 0));
	}
	if (s[0] != '{' && s[0] != '[') {
		return (filter_text(q, s, len));
	}
	if ((j = json_loadb(s, len, JSON_REJECT_DUPLICATES, NULL)) == NULL) {
		return (fail(q, LC_EINVALID_FILTER, NULL, 0));
	}
	rv = json_is_object(j) ? filter_object(q, j) : filter_array(q, j);
	json_decref(j);
	return (rv);
}

int
data_query_filter(struct data_query *q, json_t *filter)
{
	size_t i;
	int    rv;

	if (filter == NULL) {
		return (0);
	}
	if (json_is_string(filter)) {
		return (filter_one(
		    q, json_string_value(filter), json_string_length(filter)));
	}
	if (json_is_object(filter)) {
		return (filter_object(q, filter));
	}
	if (!json_is_array(filter)) {
		return (fail(q, LC_EINVALID_FILTER, NULL, 0));
	}
	for (i = 0; i < json_array_size(filter); i++) {
		json_t *f = json_array_get(filter, i);

		if (!json_is_string(f)) {
			return (fail(q, LC_EINVALID_FILTER, NULL, 0));
		}
		if ((rv = filter_one(q, json_string_value(f),
		         json_string_length(f))) != 0) {
			return (rv);
		}
	}
	return (0);
}

/* ---- sort -------------------------------------------------------------- */

// One term: field, +field, -field, field:asc, field:desc (a leading space
// is a '+' that the query string decoded).
static int
sort_term(struct data_query *q, const char *s, size_t len, size_t *nterms)
{
	const char    *colon;
	const char    *name;
	enum data_type t;
	int            desc   = 0;
	int            prefix = 0;
	size_t         i;

	if (len > 0 && (s[0] == '-' || s[0] == '+' || s[0] == ' ')) {
		desc   = s[0] == '-';
		prefix = 1;
		s++;
		len--;
	}
	if ((colon = memchr(s, ':', len)) != NULL) {
		const char *d    = colon + 1;
		size_t      dlen = len - (size_t) (d - s);

		if (prefix) {
			return (-1);
		}
		if (dlen == 4 && memcmp(d, "desc", 4) == 0) {
			desc = 1;
		} else if (!(dlen == 3 && memcmp(d, "asc", 3) == 0)) {
			return (-1);
		}
		len = (size_t) (colon - s);
	}
	if (!field_ok(s, len) || ++*nterms > DATA_SORT_MAX) {
		return (-1);
	}
	if ((t = data_schema_find(q->schema, s, len, &name)) == DATA_T_NONE) {
		return (0); // not a column: all-null, no effect (§3.6)
	}
	for (i = 0; i < q->nsort; i++) {
		// A repeated field, or anything after the unique _id, can
		// never decide: leave it out (the keyset stays minimal).
		if (strcmp(q->sort[i].name, name) == 0 ||
		    strcmp(q->sort[i].name, "_id") == 0) {
			return (0);
		}
	}
	q->sort[q->nsort].name = name;
	q->sort[q->nsort].type = t;
	q->sort[q->nsort].desc = desc;
	q->nsort++;
	return (0);
}

static int
sort_param(struct data_query *q, const char *s, size_t len, size_t *nterms)
{
	const char *end = s + len;

	if (len == 0) {
		return (0);
	}
	for (;;) {
		const char *c = memchr(s, ',', (size_t) (end - s));
		const char *e = c != NULL ? c : end;

		if (sort_term(q, s, (size_t) (e - s), nterms) != 0) {
			return (-1);
		}
		if (c == NULL) {
			return (0);
		}
		s = c + 1;
	}
}

int
data_query_sort(struct data_query *q, json_t *sort)
{
	size_t nterms = 0;
	size_t i;
	int    bad = 0;

	q->nsort = 0;
	if (json_is_string(sort)) {
		bad = sort_param(q, json_string_value(sort),
		    json_string_length(sort), &nterms);
	} else if (json_is_array(sort)) {
		for (i = 0; i < json_array_size(sort) && !bad; i++) {
			json_t *s = json_array_get(sort, i);

			bad = !json_is_string(s) ||
			    sort_param(q, json_string_value(s),
			        json_string_length(s), &nterms) != 0;
		}
	} else if (sort != NULL) {
		bad = 1;
	}
	// _id ascending is the final tie-breaker (§3.6), unless _id is
	// already a term: it is unique, so nothing after it matters.
	for (i = 0; i < q->nsort && strcmp(q->sort[i].name, "_id") != 0; i++) {
	}
	if (i == q->nsort) {
		q->sort[q->nsort].name = sysf[0].name;
		q->sort[q->nsort].type = DATA_T_TEXT;
		q->sort[q->nsort].desc = 0;
		q->nsort++;
	}
	order_rebuild(q);
	if (bad) {
		return (fail(q, LC_EINVALID_QUERY, "sort", 4));
	}
	return (0);
}

/* ---- after, fields ----------------------------------------------------- */

int
data_query_after(struct data_query *q, json_t *after)
{
	if (after == NULL) {
		return (0);
	}
	if (!json_is_string(after)) {
		return (fail(q, LC_EINVALID_CURSOR, NULL, 0));
	}
	if (json_string_length(after) == 0) {
		return (0);
	}
	if (!lc_ulid_valid(
	        json_string_value(after), json_string_length(after))) {
		return (fail(q, LC_EINVALID_CURSOR, NULL, 0));
	}
	memcpy(q->after, json_string_value(after), LC_ULID_LEN);
	q->after[LC_ULID_LEN] = '\0';
	return (0);
}

// Index of name in the projection, or -1.
static int
proj_find(const struct data_query *q, const char *name)
{
	size_t i;

	for (i = 0; i < q->nproj; i++) {
		if (strcmp(q->proj[i].name, name) == 0) {
			return ((int) i);
		}
	}
	return (-1);
}

int
data_query_fields(struct data_query *q, json_t *fields)
{
	const char *s;
	const char *end;

	if (fields == NULL) {
		return (0);
	}
	if (!json_is_string(fields)) {
		return (fail(q, LC_EINVALID_QUERY, "fields", 6));
	}
	if (json_string_length(fields) == 0) {
		return (0);
	}
	s   = json_string_value(fields);
	end = s + json_string_length(fields);
	// _id plus the listed columns, each once; the rest is left out.
	q->projected = 1;
	q->nproj     = 0;
	proj_add(q, sysf[0].name, sysf[0].type, 1, 0);
	for (;;) {
		const char    *c = memchr(s, ',', (size_t) (end - s));
		const char    *e = c != NULL ? c : end;
		const char    *name;
		enum data_type t;

		t = data_schema_find(q->schema, s, (size_t) (e - s), &name);
		if (t != DATA_T_NONE && proj_find(q, name) < 0) {
			proj_add(q, name, t,
			    sys_find(name, strlen(name)) != NULL, 0);
		}
		if (c == NULL) {
			break;
		}
		s = c + 1;
	}
	cols_rebuild(q);
	return (0);
}

int
data_query_select_add(struct data_query *q, const char *name, size_t len)
{
	const char    *stored;
	enum data_type t = data_schema_find(q->schema, name, len, &stored);

	if (t == DATA_T_NONE) {
		return (0);
	}
	if (proj_find(q, stored) < 0) {
		proj_add(q, stored, t, sys_find(name, len) != NULL, 1);
		cols_rebuild(q);
	}
	return (1);
}

/* ---- search ------------------------------------------------------------ */

// Tokens of the FTS5 subset of §3.7.
enum stok { ST_END, ST_LP, ST_RP, ST_AND, ST_OR, ST_NOT, ST_PHRASE, ST_BAD };

struct slex {
	const char *s;
	size_t      len;
	size_t      pos;
	enum stok   tok;
	const char *t; // phrase text (a bareword, or a "..." with its quotes)
	size_t      tlen;
	int         quoted;
	int         prefix;
	int         depth;
	struct data_buf out;
};

static int
is_space(char c)
{
	return (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v');
}

static void
slex_next(struct slex *lx)
{
	const char *s = lx->s;
	size_t      i = lx->pos;

	while (i < lx->len && is_space(s[i])) {
		i++;
	}
	lx->prefix = 0;
	lx->quoted = 0;
	if (i >= lx->len) {
		lx->tok = ST_END;
	} else if (s[i] == '(' || s[i] == ')') {
		lx->tok = s[i] == '(' ? ST_LP : ST_RP;
		i++;
	} else if (s[i] == '"') {
		// A string: "" inside is a quote; unterminated is malformed.
		size_t start = i++;

		lx->tok = ST_BAD;
		while (i < lx->len) {
			if (s[i] == '"') {
				if (i + 1 < lx->len && s[i + 1] == '"') {
					i += 2;
					continue;
				}
				i++;
				lx->tok = ST_PHRASE;
				break;
			}
			i++;
		}
		lx->t      = s + start;
		lx->tlen   = i - start;
		lx->quoted = 1;
		if (lx->tok == ST_PHRASE && i < lx->len && s[i] == '*') {
			lx->prefix = 1;
			i++;
		}
	} else {
		size_t start = i;

		while (i < lx->len && !is_space(s[i]) && s[i] != '"' &&
		    s[i] != '(' && s[i] != ')') {
			i++;
		}
		lx->t    = s + start;
		lx->tlen = i - start;
		lx->tok  = ST_PHRASE;
		if (name_eq("AND", lx->t, lx->tlen)) {
			lx->tok = ST_AND;
		} else if (name_eq("OR", lx->t, lx->tlen)) {
			lx->tok = ST_OR;
		} else if (name_eq("NOT", lx->t, lx->tlen)) {
			lx->tok = ST_NOT;
		} else if (lx->t[lx->tlen - 1] == '*') {
			lx->prefix = 1;
			if (--lx->tlen == 0) {
				lx->tok = ST_BAD; // a lone *
			}
		}
	}
	lx->pos = i;
}

// Writes the current phrase token, quoted, then advances.
static void
s_phrase(struct slex *lx)
{
	if (lx->quoted) {
		buf_addn(&lx->out, lx->t, lx->tlen); // already a valid string
	} else {
		// A bareword holds no '"' (that starts a string token).
		buf_addn(&lx->out, "\"", 1);
		buf_addn(&lx->out, lx->t, lx->tlen);
		buf_addn(&lx->out, "\"", 1);
	}
	if (lx->prefix) {
		buf_addn(&lx->out, "*", 1);
	}
	slex_next(lx);
}

static int s_or(struct slex *lx);

// unit := "(" or ")" | phrase phrase*   (FTS5 allows juxtaposition of
// phrases only: a group next to a phrase is a syntax error there too)
static int
s_unit(struct slex *lx)
{
	if (lx->tok == ST_LP) {
		if (++lx->depth > DATA_SEARCH_DEPTH) {
			return (-1);
		}
		buf_add(&lx->out, "(");
		slex_next(lx);
		if (s_or(lx) != 0 || lx->tok != ST_RP) {
			return (-1);
		}
		buf_add(&lx->out, ")");
		lx->depth--;
		slex_next(lx);
		return (0);
	}
	if (lx->tok != ST_PHRASE) {
		return (-1);
	}
	s_phrase(lx);
	while (lx->tok == ST_PHRASE) {
		buf_add(&lx->out, " ");
		s_phrase(lx);
	}
	return (0);
}

// Precedence as in FTS5: NOT binds tighter than AND, AND than OR.
static int
s_not(struct slex *lx)
{
	if (s_unit(lx) != 0) {
		return (-1);
	}
	while (lx->tok == ST_NOT) {
		buf_add(&lx->out, " NOT ");
		slex_next(lx);
		if (s_unit(lx) != 0) {
			return (-1);
		}
	}
	return (0);
}

static int
s_and(struct slex *lx)
{
	if (s_not(lx) != 0) {
		return (-1);
	}
	while (lx->tok == ST_AND) {
		buf_add(&lx->out, " AND ");
		slex_next(lx);
		if (s_not(lx) != 0) {
			return (-1);
		}
	}
	return (0);
}

static int
s_or(struct slex *lx)
{
	if (s_and(lx) != 0) {
		return (-1);
	}
	while (lx->tok == ST_OR) {
		buf_add(&lx->out, " OR ");
		slex_next(lx);
		if (s_and(lx) != 0) {
			return (-1);
		}
	}
	return (0);
}

int
data_search_compile(const char *s, size_t len, char **out)
{
	struct slex lx = { 0 };

	if (memchr(s, '\0', len) != NULL) {
		return (LC_EINVALID_SEARCH);
	}
	lx.s   = s;
	lx.len = len;
	slex_next(&lx);
	if (lx.tok == ST_END) {
		*out = NULL; // empty or blank: ignored (§3.7)
		return (0);
	}
	if (s_or(&lx) != 0 || lx.tok != ST_END) {
		buf_fini(&lx.out);
		return (LC_EINVALID_SEARCH);
	}
	*out = lx.out.p;
	return (0);
}

int
data_query_search(struct data_query *q, json_t *search)
{
	struct data_buf c = { 0 };
	char           *m;
	int             rv;

	if (search == NULL) {
		return (0);
	}
	if (!json_is_string(search)) {
		return (fail(q, LC_EINVALID_SEARCH, NULL, 0));
	}
	if ((rv = data_search_compile(json_string_value(search),
	         json_string_length(search), &m)) != 0) {
		return (fail(q, rv, NULL, 0));
	}
	if (m == NULL) {
		return (0);
	}
	lc_free(q->match);
	q->match = m;
	if (q->schema->fts == NULL) {
		where_add(q, "0"); // no text column, nothing can match
		return (0);
	}
	// A subquery, not a join: the order stays that of sort (§3.7), and
	// the FTS table's columns cannot shadow the record's.
	buf_add(&c, "_rowid_ IN (SELECT rowid FROM ");
	buf_identz(&c, q->schema->fts);
	buf_add(&c, " WHERE ");
	buf_identz(&c, q->schema->fts);
	buf_add(&c, " MATCH ");
	q->match_param = push_text(q, m, strlen(m));
	buf_param(&c, q->match_param);
	buf_add(&c, ")");
	where_add(q, c.p);
	buf_fini(&c);
	return (0);
}

/* ---- all parameters ---------------------------------------------------- */

int
data_query_parse(struct data_query *q, json_t *query)
{
	int rv;

	if (query == NULL) {
		return (0);
	}
	if (!json_is_object(query)) {
		return (fail(q, LC_EINVALID_QUERY, NULL, 0));
	}
	if ((rv = data_query_sort(q, json_object_get(query, "sort"))) != 0 ||
	    (rv = data_query_filter(q, json_object_get(query, "filter"))) !=
	        0 ||
	    (rv = data_query_search(q, json_object_get(query, "search"))) !=
	        0 ||
	    (rv = data_query_after(q, json_object_get(query, "after"))) != 0 ||
	    (rv = data_query_fields(q, json_object_get(query, "fields"))) !=
	        0) {
		return (rv);
	}
	return (0);
}

/* ---- aggregate --------------------------------------------------------- */

static const struct {
	const char      *name;
	enum data_agg_fn fn;
} agg_fns[] = {
	{ "sum", DATA_AGG_SUM },
	{ "avg", DATA_AGG_AVG },
	{ "min", DATA_AGG_MIN },
	{ "max", DATA_AGG_MAX },
	{ "count", DATA_AGG_COUNT },
};

// A string parameter, or NULL when absent or empty; *bad when present but
// not a string (a bus caller can send any JSON value).
static const char *
agg_param(json_t *query, const char *key, size_t *len, int *bad)
{
	json_t *v = json_object_get(query, key);

	*bad = 0;
	*len = 0;
	if (v == NULL) {
		return (NULL);
	}
	if (!json_is_string(v)) {
		*bad = 1;
		return (NULL);
	}
	*len = json_string_length(v);
	return (*len > 0 ? json_string_value(v) : NULL);
}

// A field parameter (field, group_by): a name a query may use (so at most
// DATA_NAME_MAX bytes, no NUL). name "" when absent or empty.
static int
agg_name(struct data_query *q, json_t *query, const char *key, char *name,
    enum data_type *type, const char **col)
{
	const char *s;
	size_t      len;
	int         bad;

	s       = agg_param(query, key, &len, &bad);
	name[0] = '\0';
	*type   = DATA_T_NONE;
	*col    = NULL;
	if (bad || (s != NULL && !field_ok(s, len))) {
		return (fail(q, LC_EINVALID_QUERY, key, strlen(key)));
	}
	if (s != NULL) {
		memcpy(name, s, len);
		name[len] = '\0';
		*type     = data_schema_find(q->schema, s, len, col);
	}
	return (0);
}

int
data_query_aggregate(struct data_query *q, json_t *query)
{
	struct data_agg *a = &q->agg;
	const char      *fn;
	size_t           len;
	size_t           i;
	int              bad;
	int              rv;

	memset(a, 0, sizeof(*a));
	if (query != NULL && !json_is_object(query)) {
		return (fail(q, LC_EINVALID_QUERY, NULL, 0));
	}
	// fn, with op as its alias when fn is absent or empty.
	fn = agg_param(query, "fn", &len, &bad);
	if (fn == NULL && !bad) {
		fn = agg_param(query, "op", &len, &bad);
	}
	for (i = 0; fn != NULL && i < LC_NELEM(agg_fns); i++) {
		if (name_eq(agg_fns[i].name, fn, len)) {
			a->fn      = agg_fns[i].fn;
			a->fn_name = agg_fns[i].name;
			break;
		}
	}
	if (a->fn == DATA_AGG_NONE) {
		return (fail(q, LC_EINVALID_QUERY, "fn", 2));
	}
	if ((rv = agg_name(q, query, "field", a->field, &a->field_type,
	         &a->field_col)) != 0) {
		return (rv);
	}
	if ((a->field[0] == '\0' && a->fn != DATA_AGG_COUNT) ||
	    a->field_type == DATA_T_JSON) {
		return (fail(q, LC_EINVALID_QUERY, "field", 5));
	}
	if ((rv = agg_name(q, query, "group_by", a->group_by, &a->group_type,
	         &a->group_col)) != 0) {
		return (rv);
	}
	if (query == NULL) {
		return (0);
	}
	if ((rv = data_query_filter(q, json_object_get(query, "filter"))) !=
	        0 ||
	    (rv = data_query_search(q, json_object_get(query, "search"))) !=
	        0) {
		return (rv);
	}
	return (0);
}

// `CASE WHEN typeof(<col>) IN (<types>) THEN <expr> END`: the values of
// the given storage classes only.
static void
agg_typed(struct data_buf *b, const char *col, const char *types,
    const char *pre, const char *post)
{
	buf_add(b, "CASE WHEN typeof(");
	buf_identz(b, col);
	buf_add(b, ") IN (");
	buf_add(b, types);
	buf_add(b, ") THEN ");
	buf_add(b, pre);
	buf_identz(b, col);
	buf_add(b, post);
	buf_add(b, " END");
}

// The value expression of q->agg. A column that is not numeric (for
// sum/avg) or not a column at all aggregates NULL: count 0, sum 0, the
// others null.
static void
agg_expr(struct data_buf *b, const struct data_agg *a)
{
	const char *col = a->field_col;

	if ((a->fn == DATA_AGG_SUM || a->fn == DATA_AGG_AVG) &&
	    a->field_type != DATA_T_INTEGER && a->field_type != DATA_T_REAL) {
		col = NULL;
	}
	switch (a->fn) {
	case DATA_AGG_COUNT:
		if (a->field[0] == '\0') {
			buf_add(b, "count(*)");
			return;
		}
		buf_add(b, "count(");
		break;
	case DATA_AGG_MIN:
		buf_add(b, "min(");
		break;
	case DATA_AGG_MAX:
		buf_add(b, "max(");
		break;
	case DATA_AGG_AVG:
		if (col == NULL) {
			buf_add(b, "avg(NULL)");
			return;
		}
		buf_add(b, "avg(");
		agg_typed(b, col, "'integer', 'real'", "", "");
		buf_add(b, ")");
		return;
	default: // sum
		if (col == NULL) {
			buf_add(
			    b, "coalesce(sum(NULL), 0)"); // aggregate: 1 row
			return;
		}
		// Exact for integers and never an "integer overflow" error
		// (SQLite's sum() raises one): the high and low 32-bit halves
		// are summed apart (neither sum can overflow below 2^31
		// rows), the low sum's carry moves to the high sum, and
		// (hi + carry) * 2^32 + (lo mod 2^32) overflows only when the
		// result leaves int64; SQLite then turns + or * into a real.
		// Any real value makes it total(), a real.
		buf_add(b, "CASE WHEN count(");
		agg_typed(b, col, "'real'", "", "");
		buf_add(b, ") > 0 THEN total(");
		agg_typed(b, col, "'integer', 'real'", "", "");
		buf_add(b, ") ELSE coalesce((sum(");
		agg_typed(b, col, "'integer'", "", " >> 32");
		buf_add(b, ") + (sum(");
		agg_typed(b, col, "'integer'", "", " & 4294967295");
		buf_add(b, ") >> 32)) * 4294967296 + (sum(");
		agg_typed(b, col, "'integer'", "", " & 4294967295");
		buf_add(b, ") & 4294967295), 0) END");
		return;
	}
	if (col == NULL) {
		buf_add(b, "NULL");
	} else {
		buf_identz(b, col);
	}
	buf_add(b, ")");
}

void
data_query_sql_aggregate(struct data_query *q, char **out)
{
	struct data_buf b = { 0 };
	const char     *g = q->agg.group_col;

	assert(q->agg.fn != DATA_AGG_NONE);
	buf_add(&b, "SELECT ");
	if (q->agg.group_by[0] != '\0') {
		if (g != NULL) {
			buf_identz(&b, g);
		} else {
			buf_add(&b, "NULL");
		}
		buf_add(&b, ", ");
	}
	agg_expr(&b, &q->agg);
	buf_add(&b, " FROM ");
	buf_identz(&b, q->schema->table);
	buf_add(&b, " WHERE ");
	buf_add(&b, data_query_where(q));
	if (q->agg.group_by[0] != '\0') {
		// GROUP BY NULL: one group of everything, none when empty.
		buf_add(&b, " GROUP BY ");
		if (g != NULL) {
			buf_identz(&b, g);
			buf_add(&b, " ORDER BY ");
			buf_identz(&b, g);
			buf_add(&b, " ASC");
		} else {
			buf_add(&b, "NULL");
		}
		buf_add(&b, " LIMIT ");
		buf_param(&b, push_int(q, DATA_AGG_GROUPS));
	}
	*out = b.p;
}

/* ---- cursor ------------------------------------------------------------ */

// Copies column i of the cursor row into a new value; 0 when it is null.
static size_t
push_column(struct data_query *q, sqlite3_stmt *st, int i)
{
	const void *p;

	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		return (push_int(q, sqlite3_column_int64(st, i)));
	case SQLITE_FLOAT:
		return (push_real(q, sqlite3_column_double(st, i)));
	case SQLITE_TEXT:
		p = sqlite3_column_text(st, i);
		return (push_text(q, (const char *) p,
		    (size_t) sqlite3_column_bytes(st, i)));
	case SQLITE_BLOB:
		p = sqlite3_column_blob(st, i);
		return (push_bytes(
		    q, DATA_V_BLOB, p, (size_t) sqlite3_column_bytes(st, i)));
	default:
		return (0);
	}
}

// "strictly after the cursor" for term k (idx 0: the cursor value is
// null). Ascending puts nulls first, descending last (§3.6); no_nulls:
// leave the nulls after a descending value out (the query's tail part
// reads them). Returns 0 when no value can follow within this term.
static int
keyset_after(
    struct data_buf *b, const struct data_sort *t, size_t idx, int no_nulls)
{
	if (t->desc && idx == 0) {
		return (0);
	}
	if (idx == 0) {
		buf_identz(b, t->name);
		buf_add(b, " IS NOT NULL");
	} else if (!t->desc) {
		buf_identz(b, t->name);
		buf_add(b, " > ");
		buf_param(b, idx);
	} else if (no_nulls) {
		buf_identz(b, t->name);
		buf_add(b, " < ");
		buf_param(b, idx);
	} else {
		buf_add(b, "(");
		buf_identz(b, t->name);
		buf_add(b, " < ");
		buf_param(b, idx);
		buf_add(b, " OR ");
		buf_identz(b, t->name);
		buf_add(b, " IS NULL)");
	}
	return (1);
}

// The lexicographic "after" over all terms:
//   OR over k of (t1 IS v1 AND ... AND t(k-1) IS v(k-1) AND after_k)
// plus, for the planner, a plain bound on the first term where one
// exists (ascending from a value; descending from null). A descending
// first term from a value v1 is bounded by t1 <= v1 and its nulls go to
// the tail part (data_query_parts).
static void
keyset_build(struct data_query *q, const size_t *idx)
{
	struct data_buf *b = &q->keyset;
	size_t           n = 0;
	int    no_nulls    = q->nsort > 1 && q->sort[0].desc && idx[0] != 0;
	size_t j;
	size_t k;
	int    hint = 0;

	buf_reset(b);
	buf_reset(&q->keyset_tail);
	if (no_nulls) {
		buf_identz(&q->keyset_tail, q->sort[0].name);
		buf_add(&q->keyset_tail, " IS NULL");
	}
	if (q->nsort > 1 && idx[0] != 0) {
		buf_identz(b, q->sort[0].name);
		buf_add(b, q->sort[0].desc ? " <= " : " >= ");
		buf_param(b, idx[0]);
		hint = 1;
	} else if (q->nsort > 1 && q->sort[0].desc && idx[0] == 0) {
		buf_identz(b, q->sort[0].name);
		buf_add(b, " IS NULL");
		hint = 1;
	}
	if (hint) {
		buf_add(b, " AND (");
	}
	for (k = 0; k < q->nsort; k++) {
		struct data_buf d = { 0 };

		// equality on the earlier terms; nulls are equal here
		for (j = 0; j < k; j++) {
			buf_identz(&d, q->sort[j].name);
			if (idx[j] == 0) {
				buf_add(&d, " IS NULL AND ");
			} else {
				buf_add(&d, " = ");
				buf_param(&d, idx[j]);
				buf_add(&d, " AND ");
			}
		}
		if (!keyset_after(
		        &d, &q->sort[k], idx[k], k == 0 && no_nulls)) {
			buf_fini(&d);
			continue;
		}
		if (n++ > 0) {
			buf_add(b, " OR ");
		}
		if (k > 0) {
			buf_add(b, "(");
		}
		buf_add(b, d.p);
		if (k > 0) {
			buf_add(b, ")");
		}
		buf_fini(&d);
	}
	if (n == 0) {
		buf_add(b, "0");
	}
	if (hint) {
		buf_add(b, ")");
	}
}

int
data_query_cursor_load(struct data_query *q, sqlite3 *db)
{
	struct data_buf sql = { 0 };
	sqlite3_stmt   *st  = NULL;
	size_t          idx[DATA_SORT_MAX + 1];
	size_t          i;
	int             rv = LC_EINTERNAL;
	int             sr;

	if (q->after[0] == '\0' || q->cursor_loaded) {
		return (0);
	}
	// The cursor's sort values, read as the caller may read them: an
	// owner-rule caller cannot page from someone else's record (it would
	// reveal where that record sorts). Soft-deleted records count (§3.6).
	buf_add(&sql, "SELECT ");
	for (i = 0; i < q->nsort; i++) {
		if (i > 0) {
			buf_add(&sql, ", ");
		}
		buf_identz(&sql, q->sort[i].name);
	}
	buf_add(&sql, " FROM ");
	buf_identz(&sql, q->schema->table);
	buf_add(&sql, " WHERE \"_id\" = ?1");
	if (q->opts.owner != NULL) {
		buf_add(&sql, " AND \"_owner_id\" = ?2");
	}
	if (q->prepare != NULL) {
		sr = (st = q->prepare(q->prepare_arg, sql.p)) != NULL
		    ? SQLITE_OK
		    : SQLITE_ERROR;
	} else {
		sr = sqlite3_prepare_v2(db, sql.p, -1, &st, NULL);
	}
	if (sr != SQLITE_OK ||
	    (sr = sqlite3_bind_text(
	         st, 1, q->after, LC_ULID_LEN, SQLITE_STATIC)) != SQLITE_OK ||
	    (q->opts.owner != NULL &&
	        (sr = sqlite3_bind_text(
	             st, 2, q->opts.owner, -1, SQLITE_STATIC)) != SQLITE_OK)) {
		lc_log_err(
		    "DATA-QUERY", "cursor: %s (%d)", sqlite3_errmsg(db), sr);
		goto out;
	}
	switch ((sr = sqlite3_step(st))) {
	case SQLITE_ROW:
		break;
	case SQLITE_DONE:
		rv = LC_EINVALID_CURSOR;
		goto out;
	default:
		lc_log_err(
		    "DATA-QUERY", "cursor: %s (%d)", sqlite3_errmsg(db), sr);
		goto out;
	}
	for (i = 0; i < q->nsort; i++) {
		idx[i] = push_column(q, st, (int) i);
	}
	keyset_build(q, idx);
	q->cursor_loaded = 1;
	rv               = 0;
out:
	if (q->prepare == NULL) {
		sqlite3_finalize(st);
	} else if (st != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	buf_fini(&sql);
	return (rv);
}

/* ---- statements -------------------------------------------------------- */

int
data_query_sql_count_fts(
    struct data_query *q, char **any_deleted, char **count)
{
	struct data_buf b = { 0 };

	*any_deleted = *count = NULL;
	if (q->match == NULL || q->nconds > 0 || q->opts.owner != NULL ||
	    q->opts.include_deleted || q->schema->fts == NULL) {
		return (0);
	}
	buf_add(&b, "SELECT EXISTS (SELECT 1 FROM ");
	buf_identz(&b, q->schema->table);
	buf_add(&b, " WHERE \"_deleted_at\" IS NOT NULL)");
	*any_deleted = b.p;
	b            = (struct data_buf) { 0 };
	buf_add(&b, "SELECT count(*) FROM ");
	buf_identz(&b, q->schema->fts);
	buf_add(&b, " WHERE ");
	buf_identz(&b, q->schema->fts);
	buf_add(&b, " MATCH ");
	buf_param(&b, q->match_param);
	*count = b.p;
	return (1);
}

size_t
data_query_parts(const struct data_query *q)
{
	return (q->keyset_tail.len > 0 ? 2 : 1);
}

int
data_query_has_filter(const struct data_query *q)
{
	return (q->nconds > 0 || q->match != NULL);
}

const char *
data_query_sort_index(const struct data_query *q)
{
	const char *name = q->sort[0].name;

	if (q->nsort == 0) {
		return (NULL);
	}
	if (strcmp(name, "_id") == 0) {
		return (q->schema->id_index);
	}
	for (size_t i = 0; i < q->schema->ncols; i++) {
		if (strcmp(q->schema->cols[i].name, name) == 0) {
			return (q->schema->cols[i].index);
		}
	}
	return (NULL);
}

int
data_query_filter_sorts(const struct data_query *q)
{
	if (q->opts.include_deleted || q->nsort == 0) {
		return (0);
	}
	for (size_t k = 0; k < q->neq; k++) {
		for (size_t i = 0; i < q->schema->ncols; i++) {
			const struct data_col *c = &q->schema->cols[i];

			if (c->name == q->eq[k] && c->index_then != NULL &&
			    strcmp(c->index_then, q->sort[0].name) == 0) {
				return (1);
			}
		}
	}
	return (0);
}

const char *
data_query_where(const struct data_query *q)
{
	return (q->where.len > 0 ? q->where.p : "1");
}

const char *
data_query_keyset(const struct data_query *q)
{
	return (q->keyset.len > 0 ? q->keyset.p : NULL);
}

const char *
data_query_order(const struct data_query *q)
{
	return (q->order.p);
}

const char *
data_query_columns(const struct data_query *q)
{
	return (q->cols.p);
}

void
data_query_sql_list(
    struct data_query *q, int64_t limit, int64_t offset, char **out)
{
	struct data_buf b = { 0 };

	// With a cursor, the keyset must have been loaded: paging from the
	// start instead would be a silent wrong answer.
	assert(q->after[0] == '\0' || q->cursor_loaded);
	buf_add(&b, "SELECT ");
	buf_add(&b, q->cols.p);
	buf_add(&b, " FROM ");
	buf_identz(&b, q->schema->table);
	if (q->indexed_by != NULL) {
		buf_add(&b, " INDEXED BY ");
		buf_identz(&b, q->indexed_by);
	}
	buf_add(&b, " WHERE ");
	buf_add(&b, data_query_where(q));
	if (q->tail && q->keyset_tail.len > 0) {
		buf_add(&b, " AND (");
		buf_add(&b, q->keyset_tail.p);
		buf_add(&b, ")");
	} else if (q->keyset.len > 0) {
		buf_add(&b, " AND (");
		buf_add(&b, q->keyset.p);
		buf_add(&b, ")");
	}
	buf_add(&b, " ORDER BY ");
	buf_add(&b, q->order.p);
	buf_add(&b, " LIMIT ");
	buf_param(&b, push_int(q, limit));
	buf_add(&b, " OFFSET ");
	buf_param(&b, push_int(q, offset));
	*out = b.p;
}

void
data_query_sql_max_rowid(const struct data_query *q, char **out)
{
	struct data_buf b = { 0 };

	buf_add(&b, "SELECT max(_rowid_) FROM ");
	buf_identz(&b, q->schema->table);
	*out = b.p;
}

void
data_query_sql_count(struct data_query *q, char **out)
{
	struct data_buf b = { 0 };

	buf_add(&b, "SELECT count(*) FROM ");
	buf_identz(&b, q->schema->table);
	buf_add(&b, " WHERE ");
	buf_add(&b, data_query_where(q));
	*out = b.p;
}

int
data_query_bind(const struct data_query *q, sqlite3_stmt *st)
{
	int    n = sqlite3_bind_parameter_count(st);
	size_t i;
	int    sr = SQLITE_OK;

	for (i = 0; i < q->nvals && i < (size_t) n && sr == SQLITE_OK; i++) {
		const struct data_val *v = &q->vals[i];
		int                    k = (int) i + 1;

		switch (v->kind) {
		case DATA_V_INT:
			sr = sqlite3_bind_int64(st, k, v->i);
			break;
		case DATA_V_REAL:
			sr = sqlite3_bind_double(st, k, v->r);
			break;
		case DATA_V_TEXT:
			sr = sqlite3_bind_text64(st, k, v->p, v->len,
			    SQLITE_TRANSIENT, SQLITE_UTF8);
			break;
		case DATA_V_BLOB:
			sr = sqlite3_bind_blob64(
			    st, k, v->p, v->len, SQLITE_TRANSIENT);
			break;
		default:
			sr = sqlite3_bind_null(st, k);
			break;
		}
	}
	if (sr != SQLITE_OK) {
		lc_log_err("DATA-QUERY", "bind ?%zu: %s (%d)", i,
		    sqlite3_errstr(sr), sr);
		return (LC_EINTERNAL);
	}
	return (0);
}
