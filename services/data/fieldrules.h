/*
 * fieldrules.h -- field validation rules of a collection (API.md §3.9):
 * the rule set the admin sends with PUT /admin/collections/:c/rules
 * (§5.1), checked and compiled once, then applied to the values of every
 * create and update (public, bulk, batch and admin record endpoints).
 *
 * A pure library: no database, no bus. The data core parses a stored or
 * submitted set with data_fieldrules_parse(), keeps the compiled set in its
 * per-worker collection cache, calls data_fieldrules_check() after the
 * before* hooks and the type checks (§3.8 write errors, step 4), and frees
 * the set with data_fieldrules_free() when the collection's metadata is
 * invalidated. `unique` is only parsed here: the core enforces it with a
 * UNIQUE index it creates (unique violations are 409 from SQLite).
 *
 * Usage:
 *	struct data_fieldrules *fr;  char *bad = NULL;
 *	if ((rv = data_fieldrules_parse(body, &schema, &fr, &bad)) != 0)
 *		reply rv (400 validation_error) with field bad; lc_free(bad);
 *	store json_dumps(data_fieldrules_json(fr), JSON_COMPACT) ...
 *	if ((rv = data_fieldrules_check(fr, values, create, &field)) != 0)
 *		reply 400 validation_error with field;
 *	data_fieldrules_free(fr);
 *
 * Decisions on points the contract leaves open (API.md wins over all):
 * - Shape: the definition must be an object (else invalid_body) with
 *   exactly the key `fields` (missing or not an object -> field "fields";
 *   any other top-level key -> field <key>). At most DATA_FR_FIELDS fields
 *   (the column limit of §3.2), else field "fields". Errors are reported
 *   for the first fault in document order, field by field, key by key;
 *   paths are `fields.<name>` and `fields.<name>.<key>`.
 * - Names: a name starting with `_` (a system field) or not matching
 *   ^[A-Za-z][A-Za-z0-9_]{0,62}$ -> `fields.<name>`; a name differing only
 *   in case from an earlier one in the set, or (when a schema is given)
 *   from an existing column -> `fields.<name>`.
 * - Values: type one of the six names; required, unique booleans; min,
 *   max any JSON number; minLength, maxLength integers >= 0 (a real with
 *   no fraction, e.g. 5.0, counts as an integer); enum a non-empty array of
 *   strings, numbers, booleans or null; pattern a string. No cross-key
 *   checks: min > max is accepted (nothing passes it), and so are
 *   constraints of another JSON type than `type` (they never apply).
 * - pattern: POSIX extended (regcomp REG_EXTENDED|REG_NOSUB), matched
 *   unanchored, in the process locale (C: bytes). Beyond what regcomp
 *   rejects, `fields.<name>.pattern` is also the error for a pattern over
 *   DATA_FR_PATTERN_MAX bytes, holding NUL, using a back-reference \1..\9
 *   (not POSIX ERE; glibc's extension makes matching exponential), a
 *   repetition bound above DATA_FR_REPEAT_MAX (POSIX's RE_DUP_MAX), a `{`
 *   that starts no interval {m} {m,} {m,n} {,n} (escape it: \{ or [{]), or
 *   nested bounds that expand past DATA_FR_WEIGHT pattern elements (they
 *   make regcomp slow and large; each +, * and ? counts as two copies, since
 *glibc expands X+ to X X*). A value holding NUL is matched in full
 *   (REG_STARTEND) where the C library supports it, else fails.
 * - Matching cost: glibc's regexec takes time about proportional to the
 *   string length times the pattern's expanded size (measured: 3 s for
 *   [a-z]{1,255}x over 1 MB). A string with (bytes + 1) x weight over
 *   DATA_FR_MATCH_BUDGET fails a pattern rule without being matched: about
 *   0.25 s of work at most; simple patterns (weight < 16) still cover any
 *   string a 1 MiB body can hold, the heaviest (1024) 16 KiB.
 * - Types (§3.9 "the value has this type", with the typing of §3.2): text
 *   a string; integer a JSON number written without fraction or exponent
 *   (jansson integer); real one written with them (jansson real); number
 *   either; boolean true/false; json an object or an array.
 * - Checks on a present, non-null value, in §3.9's order: type, enum (for
 *   scalars: strings equal bytewise, numbers numerically, booleans),
 *   min/max (numbers; integers and reals compared exactly), minLength/
 *   maxLength (strings, in code points), pattern (strings). Null passes
 *   all of them; required fails on create when the key is missing or null,
 *   and on update when it is present and null.
 * - Order of fields: ascending bytewise name order (uppercase before
 *   lowercase), as §3.6 compares text.
 * - unique: the column type for a rule field that has no column yet is
 *   data_fieldrule_col_type(): text (also without a type), integer, real
 *   (for real and number), boolean, json.
 *
 * Threading: a compiled set is immutable; data_fieldrules_check() only
 * reads it (regexec is thread-safe), so one set may be shared, but the
 * intended use is one cache per worker.
 */
#ifndef DATA_FIELDRULES_H
#define DATA_FIELDRULES_H

#include <jansson.h>
#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "lc_common.h"
#include "query.h"

#define DATA_FR_FIELDS 200      // fields in one rule set
#define DATA_FR_PATTERN_MAX 512 // bytes of a pattern
#define DATA_FR_REPEAT_MAX 255  // largest {m,n} bound
#define DATA_FR_WEIGHT 1024     // pattern elements after expanding bounds
// Work allowed for one regexec: string length x pattern weight.
#define DATA_FR_MATCH_BUDGET ((uint64_t) 1 << 24)

// The `type` values of §3.9. DATA_FT_ANY: no type rule.
enum data_ftype {
	DATA_FT_ANY = 0,
	DATA_FT_TEXT,
	DATA_FT_INTEGER,
	DATA_FT_REAL,
	DATA_FT_NUMBER,
	DATA_FT_BOOLEAN,
	DATA_FT_JSON,
};

// Which keys a field rule carries (bits of struct data_fieldrule.has).
#define DATA_FR_TYPE 0x001u
#define DATA_FR_REQUIRED 0x002u // required:true (false is no rule)
#define DATA_FR_ENUM 0x004u
#define DATA_FR_MIN 0x008u
#define DATA_FR_MAX 0x010u
#define DATA_FR_MINLEN 0x020u
#define DATA_FR_MAXLEN 0x040u
#define DATA_FR_PATTERN 0x080u
#define DATA_FR_UNIQUE 0x100u // unique:true

// A JSON number, kept exactly: an integer or a double.
struct data_fnum {
	int     is_int;
	int64_t i;
	double  r;
};

// The compiled rules of one field. Read-only for callers.
struct data_fieldrule {
	char             name[DATA_NAME_MAX + 1];
	unsigned         has;
	enum data_ftype  type;
	struct data_fnum min;
	struct data_fnum max;
	int64_t          min_len;
	int64_t          max_len;
	json_t          *enumv; // the enum array, borrowed from the set's src
	regex_t          re;    // compiled pattern (has & DATA_FR_PATTERN)
	size_t           re_weight; // its size estimate (>= 1)
};

// A compiled rule set. rules are in ascending name order. src is the
// definition as accepted ({"fields":{...}}, a deep copy), for storage and
// for the responses of §5.1.
struct data_fieldrules {
	struct data_fieldrule *rules;
	size_t                 n;
	json_t                *src;
};

// Checks and compiles a rule set definition (the PUT body, or the stored
// JSON when a worker loads a collection). s (may be NULL) is the
// collection's schema, for the case-twin check against existing columns;
// it is not kept. def is borrowed. On success *out gets a new set (free it
// with data_fieldrules_free). On failure returns LC_EINVALID_BODY (def not
// an object) or LC_EVALIDATION, and *err_field (if err_field is not NULL)
// gets the path at fault, lc_alloc'd (caller lc_frees), or NULL. Does not
// block beyond regcomp; thread-safe.
LC_NODISCARD int data_fieldrules_parse(json_t *def,
    const struct data_schema *s, struct data_fieldrules **out,
    char **err_field);

// Releases a set and its compiled patterns. NULL is a no-op.
void data_fieldrules_free(struct data_fieldrules *fr);

// The accepted definition, borrowed (valid while fr lives).
json_t *data_fieldrules_json(const struct data_fieldrules *fr);

// The rule of a field (exact name), or NULL.
const struct data_fieldrule *data_fieldrules_find(
    const struct data_fieldrules *fr, const char *name, size_t len);

// Checks a record's values: values is the JSON object of user fields (the
// create body, or the update patch, after hooks; keys starting with `_`
// are ignored as no rule can name them). create: 1 on create (required
// fields must be present and non-null), 0 on update (only present fields
// are checked). fr NULL means no rules. Returns 0, or LC_EVALIDATION with
// *field (may be NULL) set to the first failing field's name, borrowed
// from fr. Thread-safe; never blocks.
LC_NODISCARD int data_fieldrules_check(const struct data_fieldrules *fr,
    json_t *values, int create, const char **field);

// The column type to create for a unique rule on a field without a column
// (§3.9): from the rule's type, text when it has none.
enum data_type data_fieldrule_col_type(const struct data_fieldrule *r);

// Length of a UTF-8 string in code points (bytes that do not continue a
// sequence); s is assumed valid UTF-8, as jansson strings are.
size_t data_utf8_len(const char *s, size_t len);

#endif // DATA_FIELDRULES_H
