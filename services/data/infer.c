/*
 * infer.c -- the keys of a record write and the types of their columns
 * (API.md §3.1 names, §3.2 fields). Pure: it sees the request body and the
 * collection's columns (struct data_schema) and produces a plan the write
 * path executes; it never touches SQLite. Tested in infer_test.c.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "data.h"
#include "lc_err.h"

static const char *const reserved[] = {
	"auth",
	"admin",
	"storage",
	"realtime",
	"metrics",
	"openapi",
	"health",
};

static int
ieq(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);

	if (alen != blen) {
		return (0);
	}
	for (size_t i = 0; i < alen; i++) {
		if (tolower((unsigned char) a[i]) != b[i]) {
			return (0);
		}
	}
	return (1);
}

int
data_coll_name_valid(const char *s, size_t len)
{
	if (!data_name_valid(s, len)) {
		return (0);
	}
	for (size_t i = 0; i < LC_NELEM(reserved); i++) {
		if (ieq(s, len, reserved[i])) {
			return (0);
		}
	}
	return (!(len >= 7 && ieq(s, 7, "sqlite_")));
}

enum data_type
data_type_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return (DATA_T_TEXT);
	case JSON_INTEGER:
		return (DATA_T_INTEGER);
	case JSON_REAL:
		return (DATA_T_REAL);
	case JSON_TRUE:
	case JSON_FALSE:
		return (DATA_T_BOOLEAN);
	case JSON_OBJECT:
	case JSON_ARRAY:
		return (DATA_T_JSON);
	default:
		return (DATA_T_NONE);
	}
}

int
data_type_fits(enum data_type t, const json_t *v)
{
	enum data_type vt = data_type_of(v);

	if (vt == DATA_T_NONE) {
		return (1); // null fits every column
	}
	switch (t) {
	case DATA_T_INTEGER:
	case DATA_T_REAL:
		return (vt == DATA_T_INTEGER || vt == DATA_T_REAL);
	default:
		return (vt == t);
	}
}

static const char *const type_names[] = {
	[DATA_T_NONE]    = "none",
	[DATA_T_TEXT]    = "text",
	[DATA_T_INTEGER] = "integer",
	[DATA_T_REAL]    = "real",
	[DATA_T_BOOLEAN] = "boolean",
	[DATA_T_JSON]    = "json",
};

const char *
data_type_name(enum data_type t)
{
	return ((size_t) t < LC_NELEM(type_names) ? type_names[t] : "none");
}

enum data_type
data_type_parse(const char *s)
{
	for (size_t i = 1; i < LC_NELEM(type_names); i++) {
		if (strcmp(s, type_names[i]) == 0) {
			return ((enum data_type) i);
		}
	}
	return (DATA_T_NONE);
}

// The column of a key planned earlier in this write (exact name), or
// the one whose name equals it ignoring case (*ci set).
static struct data_key *
planned(struct data_plan *p, const char *name, size_t len, int *ci)
{
	*ci = 0;
	for (size_t i = 0; i < p->nkeys; i++) {
		struct data_key *k = &p->keys[i];

		if (!k->is_new || k->len != len) {
			continue;
		}
		if (memcmp(k->name, name, len) == 0) {
			return (k);
		}
		if (strncasecmp(k->name, name, len) == 0) {
			*ci = 1;
			return (k);
		}
	}
	return (NULL);
}

// Plans one key. Returns 0 or the error of that key.
static int
plan_key(struct data_plan *p, const struct data_schema *s, const char *name,
    size_t len, json_t *v, size_t ncols)
{
	struct data_key *k;
	struct data_key *prev;
	enum data_type   t;
	int              ci;

	if (data_field_name_check(s, name, len) != 0) {
		return (LC_EINVALID_FIELD_NAME);
	}
	t = data_schema_find(s, name, len, NULL);
	if (t == DATA_T_NONE && (prev = planned(p, name, len, &ci)) != NULL) {
		if (ci) {
			return (LC_EINVALID_FIELD_NAME);
		}
		t = prev->type; // a repeated key (bus callers): same column
	}
	if (t != DATA_T_NONE && !data_type_fits(t, v)) {
		return (LC_ETYPE_MISMATCH);
	}
	if (t == DATA_T_NONE && json_is_null(v)) {
		return (0); // §3.2: ignored
	}
	if (t == DATA_T_NONE && ncols + p->nnew + 1 > DATA_MAX_COLS) {
		return (LC_ETOO_MANY_FIELDS);
	}
	k         = &p->keys[p->nkeys++];
	k->name   = name;
	k->len    = len;
	k->val    = v;
	k->is_new = t == DATA_T_NONE;
	k->type   = k->is_new ? data_type_of(v) : t;
	p->nnew += (size_t) k->is_new;
	return (0);
}

int
data_plan_build(struct data_plan *p, const struct data_schema *s, json_t *body,
    int allow_owner)
{
	const char *key;
	size_t      len;
	json_t     *v;
	int         rv;

	memset(p, 0, sizeof(*p));
	if (!json_is_object(body)) {
		return (LC_EINVALID_BODY);
	}
	p->keys = lc_calloc(json_object_size(body) + 1, sizeof(*p->keys));
	// Keys may hold NUL (jansson 2.14 keeps their length): a key is
	// checked in full, never cut at a NUL into a valid name.
	json_object_keylen_foreach(body, key, len, v)
	{
		if (len > 0 && key[0] == '_') {
			if (!allow_owner || len != 9 ||
			    memcmp(key, "_owner_id", 9) != 0) {
				continue; // system and unknown `_` keys:
				          // dropped
			}
			if (!(json_is_null(v) ||
			        (json_is_string(v) &&
			            strlen(json_string_value(v)) ==
			                json_string_length(v)))) {
				p->err_field = key;
				return (LC_EVALIDATION);
			}
			p->owner_set = 1;
			p->owner     = v;
			continue;
		}
		if ((rv = plan_key(p, s, key, len, v, s->ncols)) != 0) {
			p->err_field = key;
			return (rv);
		}
	}
	return (0);
}

void
data_plan_fini(struct data_plan *p)
{
	lc_free(p->keys);
	memset(p, 0, sizeof(*p));
}
