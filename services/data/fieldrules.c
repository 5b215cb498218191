/*
 * fieldrules.c -- field validation rules of API.md §3.9: parsing and
 * compiling a rule set, and checking record values against it (see
 * fieldrules.h for the contract decisions).
 */
#include "fieldrules.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lc_err.h"

/* ---- errors ------------------------------------------------------------ */

// Sets *err to "fields[.<name>[.<key>]]" and returns LC_EVALIDATION.
static int
bad_path(char **err, const char *name, size_t nlen, const char *key)
{
	size_t klen = key != NULL ? strlen(key) : 0;
	size_t cap  = 7 + 1 + nlen + 1 + klen + 1;
	char  *p;
	size_t o = 0;

	if (err == NULL) {
		return (LC_EVALIDATION);
	}
	p = lc_alloc(cap);
	memcpy(p, "fields", 6);
	o = 6;
	if (name != NULL) {
		p[o++] = '.';
		memcpy(p + o, name, nlen);
		o += nlen;
		if (key != NULL) {
			p[o++] = '.';
			memcpy(p + o, key, klen);
			o += klen;
		}
	}
	p[o] = '\0';
	*err = p;
	return (LC_EVALIDATION);
}

/* ---- numbers ----------------------------------------------------------- */

static void
fnum_from(json_t *v, struct data_fnum *n)
{
	memset(n, 0, sizeof(*n));
	if (json_is_integer(v)) {
		n->is_int = 1;
		n->i      = json_integer_value(v);
	} else {
		n->r = json_real_value(v);
	}
}

// Compares integer i with double r exactly (no rounding of i): <0, 0, >0.
// JSON reals are finite.
static int
cmp_int_real(int64_t i, double r)
{
	double f;

	if (r >= 9223372036854775808.0) {
		return (-1);
	}
	if (r < -9223372036854775808.0) {
		return (1);
	}
	f = floor(r); // now exactly representable as int64
	if (i != (int64_t) f) {
		return (i < (int64_t) f ? -1 : 1);
	}
	return (r > f ? -1 : 0);
}

static int
fnum_cmp(const struct data_fnum *a, const struct data_fnum *b)
{
	if (a->is_int && b->is_int) {
		return (a->i < b->i ? -1 : a->i > b->i);
	}
	if (a->is_int) {
		return (cmp_int_real(a->i, b->r));
	}
	if (b->is_int) {
		return (-cmp_int_real(b->i, a->r));
	}
	return (a->r < b->r ? -1 : a->r > b->r);
}

/* ---- patterns ---------------------------------------------------------- */

// Skips a bracket expression starting at p[i] == '['; returns the index
// after its ']', or len when unterminated (regcomp then rejects it).
static size_t
skip_bracket(const char *p, size_t len, size_t i)
{
	i++;
	if (i < len && p[i] == '^') {
		i++;
	}
	if (i < len && p[i] == ']') {
		i++; // a leading ] is literal
	}
	while (i < len && p[i] != ']') {
		if (p[i] == '[' && i + 1 < len &&
		    (p[i + 1] == ':' || p[i + 1] == '.' || p[i + 1] == '=')) {
			char   d = p[i + 1];
			size_t j = i + 2;

			// [:class:], [.coll.], [=equiv=]
			while (
			    j + 1 < len && !(p[j] == d && p[j + 1] == ']')) {
				j++;
			}
			i = j + 2;
			continue;
		}
		i++;
	}
	return (i < len ? i + 1 : len);
}

// Parses an interval {m}, {m,} or {m,n} at p[i] == '{'. Returns the
// copies of its atom that glibc's regcomp makes (n, or m + 1 when open) and
// sets *end past '}', or -1 when it is not an interval (regcomp decides
// what it is); -2 when a bound is too large.
static long
interval(const char *p, size_t len, size_t i, size_t *end)
{
	long   v[2] = { -1, -1 };
	size_t k    = 0;

	for (i++; i < len; i++) {
		if (p[i] >= '0' && p[i] <= '9') {
			if (v[k] < 0) {
				v[k] = 0;
			}
			v[k] = v[k] * 10 + (p[i] - '0');
			if (v[k] > DATA_FR_REPEAT_MAX) {
				return (-2);
			}
		} else if (p[i] == ',' && k == 0) {
			v[0] =
			    v[0] < 0 ? 0 : v[0]; // glibc reads {,n} as {0,n}
			k = 1;
		} else if (p[i] == '}' && v[0] >= 0) {
			// {m,} is m copies and a star
			*end = i + 1;
			return (k == 1 && v[1] < 0
			        ? v[0] + 1
			        : (v[1] > v[0] ? v[1] : v[0]));
		} else {
			return (-1);
		}
	}
	return (-1);
}

// The checks regcomp does not do (see fieldrules.h): no back-references,
// small bounds, and a bounded size once repetitions are expanded. The size
// is estimated per group: an atom weighs 1, a group the sum of its
// content, and an interval multiplies the weight of what it follows by its
// copies. glibc also expands X+ into X X*, and stacked quantifiers
// (a++++..., a****...) grow its tree or its matching time exponentially
// (found by fuzz_fieldrules: 2 GB in regcomp from a 200-byte pattern, and
// a timeout), so every +, * and ? counts as two copies.
static size_t
pattern_weight(const char *p, size_t len)
{
	size_t sum[DATA_FR_PATTERN_MAX / 2 + 2];
	size_t depth = 0;
	size_t last  = 0; // weight of the last atom or group
	size_t i     = 0;
	int    quant = 0; // the last token was a quantifier

	sum[0] = 0;
	while (i < len) {
		size_t end;
		long   n;

		// Adjacent duplication symbols (a{0,9}{2,}, a+*) are undefined
		// in POSIX ERE, and glibc's handling of them is exponential
		// (fuzz_fieldrules: 9 minutes in regexec from 60 bytes).
		if (quant &&
		    (p[i] == '+' || p[i] == '*' || p[i] == '?' ||
		        p[i] == '{')) {
			return (0);
		}
		quant =
		    p[i] == '+' || p[i] == '*' || p[i] == '?' || p[i] == '{';
		switch (p[i]) {
		case '\\':
			if (i + 1 < len && p[i + 1] >= '1' &&
			    p[i + 1] <= '9') {
				return (0);
			}
			i += 2;
			last = 1;
			break;
		case '[':
			i    = skip_bracket(p, len, i);
			last = 1;
			break;
		case '(':
			if (++depth >= LC_NELEM(sum)) {
				return (0);
			}
			sum[depth] = 0;
			last       = 0;
			i++;
			continue; // nothing to add yet
		case ')':
			last = 1;
			if (depth > 0) {
				last = sum[depth] > 0 ? sum[depth] : 1;
				depth--;
				sum[depth] += last - 1; // +1 below
			}
			i++;
			break;
		case '+':
		case '*':
		case '?':
		case '{':
			end = i + 1;
			n   = p[i] != '{' ? 2 : interval(p, len, i, &end);
			if (n < 0) {
				// Too large, or a brace that starts no
				// interval (undefined in POSIX ERE): write \{
				// or [{].
				return (0);
			}
			// The atom is counted once already; n copies in all.
			if (n > 1) {
				sum[depth] += last * (size_t) (n - 1);
				last *= (size_t) n;
			}
			if (sum[depth] > DATA_FR_WEIGHT) {
				return (0);
			}
			i = end;
			continue;
		case '|':
			last = 0; // nothing to repeat yet
			i++;
			continue;
		default:
			i++;
			last = 1;
			break;
		}
		sum[depth] += 1;
		if (sum[depth] > DATA_FR_WEIGHT) {
			return (0);
		}
	}
	while (depth > 0) { // unclosed: regcomp rejects it anyway
		sum[depth - 1] += sum[depth];
		depth--;
	}
	return (sum[0] > 0 && sum[0] <= DATA_FR_WEIGHT ? sum[0] : 0);
}

static int
pattern_compile(struct data_fieldrule *r, const char *p, size_t len)
{
	if (len > DATA_FR_PATTERN_MAX || memchr(p, '\0', len) != NULL) {
		return (-1);
	}
	// The empty pattern weighs nothing but still costs a pass.
	if (len > 0 && (r->re_weight = pattern_weight(p, len)) == 0) {
		return (-1);
	}
	if (r->re_weight == 0) {
		r->re_weight = 1;
	}
	return (regcomp(&r->re, p, REG_EXTENDED | REG_NOSUB) == 0 ? 0 : -1);
}

// 1 if the string s (len bytes, may hold NUL) matches r's pattern,
// unanchored. glibc's regexec costs about (length x pattern weight): past
// DATA_FR_MATCH_BUDGET the string fails without being run.
static int
pattern_match(const struct data_fieldrule *r, const char *s, size_t len)
{
#ifdef REG_STARTEND
	regmatch_t m[1];
#endif

	if ((uint64_t) len + 1 > DATA_FR_MATCH_BUDGET / r->re_weight) {
		return (0);
	}
#ifdef REG_STARTEND
	m[0].rm_so = 0;
	m[0].rm_eo = (regoff_t) len;
	return (regexec(&r->re, s, 1, m, REG_STARTEND) == 0);
#else
	if (memchr(s, '\0', len) != NULL) {
		return (0);
	}
	return (regexec(&r->re, s, 0, NULL, 0) == 0);
#endif
}

/* ---- parsing ----------------------------------------------------------- */

static const struct {
	const char     *name;
	enum data_ftype type;
} ftypes[] = {
	{ "text", DATA_FT_TEXT },
	{ "integer", DATA_FT_INTEGER },
	{ "real", DATA_FT_REAL },
	{ "number", DATA_FT_NUMBER },
	{ "boolean", DATA_FT_BOOLEAN },
	{ "json", DATA_FT_JSON },
};

static int
is_scalar(json_t *v)
{
	return (json_is_string(v) || json_is_number(v) || json_is_boolean(v) ||
	    json_is_null(v));
}

// An integer >= 0; a real without fraction counts (up to 2^53).
static int
length_value(json_t *v, int64_t *out)
{
	double r;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return (*out >= 0 ? 0 : -1);
	}
	if (!json_is_real(v)) {
		return (-1);
	}
	r = json_real_value(v);
	if (r < 0 || r > 9007199254740992.0 || floor(r) != r) {
		return (-1);
	}
	*out = (int64_t) r;
	return (0);
}

// One key of one field rule. 0 or -1 (the key is at fault).
static int
rule_key(struct data_fieldrule *r, const char *key, size_t klen, json_t *v)
{
	size_t i;

#define KEY_IS(k) (klen == sizeof(k) - 1 && memcmp(key, k, klen) == 0)
	if (KEY_IS("type")) {
		for (i = 0; json_is_string(v) && i < LC_NELEM(ftypes); i++) {
			if (strcmp(json_string_value(v), ftypes[i].name) ==
			        0 &&
			    json_string_length(v) == strlen(ftypes[i].name)) {
				r->type = ftypes[i].type;
				r->has |= DATA_FR_TYPE;
				return (0);
			}
		}
		return (-1);
	}
	if (KEY_IS("required") || KEY_IS("unique")) {
		if (!json_is_boolean(v)) {
			return (-1);
		}
		if (json_is_true(v)) {
			r->has |= KEY_IS("required") ? DATA_FR_REQUIRED
			                             : DATA_FR_UNIQUE;
		}
		return (0);
	}
	if (KEY_IS("min") || KEY_IS("max")) {
		if (!json_is_number(v)) {
			return (-1);
		}
		fnum_from(v, KEY_IS("min") ? &r->min : &r->max);
		r->has |= KEY_IS("min") ? DATA_FR_MIN : DATA_FR_MAX;
		return (0);
	}
	if (KEY_IS("minLength")) {
		r->has |= DATA_FR_MINLEN;
		return (length_value(v, &r->min_len));
	}
	if (KEY_IS("maxLength")) {
		r->has |= DATA_FR_MAXLEN;
		return (length_value(v, &r->max_len));
	}
	if (KEY_IS("enum")) {
		if (!json_is_array(v) || json_array_size(v) == 0) {
			return (-1);
		}
		for (i = 0; i < json_array_size(v); i++) {
			if (!is_scalar(json_array_get(v, i))) {
				return (-1);
			}
		}
		r->enumv = v;
		r->has |= DATA_FR_ENUM;
		return (0);
	}
	if (KEY_IS("pattern")) {
		if (!json_is_string(v) ||
		    pattern_compile(
		        r, json_string_value(v), json_string_length(v)) != 0) {
			return (-1);
		}
		r->has |= DATA_FR_PATTERN;
		return (0);
	}
#undef KEY_IS
	return (-1); // unknown key
}

static char
lower(char c)
{
	return ((char) (c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
}

static int
case_twin(const char *a, const char *b)
{
	size_t i;

	if (strlen(a) != strlen(b)) {
		return (0);
	}
	for (i = 0; a[i] != '\0' && lower(a[i]) == lower(b[i]); i++) { }
	return (a[i] == '\0');
}

static int
rule_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct data_fieldrule *) a)->name,
	    ((const struct data_fieldrule *) b)->name));
}

// One field: its name, then its keys in document order.
static int
rule_parse(struct data_fieldrules *fr, const struct data_schema *s,
    const char *name, size_t nlen, json_t *def, char **err)
{
	struct data_fieldrule *r = &fr->rules[fr->n];
	const char            *key;
	size_t                 klen;
	size_t                 i;
	json_t                *v;

	if (name[0] == '_' || !data_name_valid(name, nlen) ||
	    (s != NULL && data_field_name_check(s, name, nlen) != 0)) {
		return (bad_path(err, name, nlen, NULL));
	}
	for (i = 0; i < fr->n; i++) {
		if (case_twin(fr->rules[i].name, name)) {
			return (bad_path(err, name, nlen, NULL));
		}
	}
	if (!json_is_object(def)) {
		return (bad_path(err, name, nlen, NULL));
	}
	memset(r, 0, sizeof(*r));
	memcpy(r->name, name, nlen);
	r->name[nlen] = '\0';
	json_object_keylen_foreach(def, key, klen, v)
	{
		if (rule_key(r, key, klen, v) != 0) {
			char *k = lc_strndup(key, klen);
			int   rv;

			rv = bad_path(err, name, nlen, k);
			lc_free(k);
			// Keep a compiled pattern in the set, so that
			// data_fieldrules_free releases it.
			fr->n += (r->has & DATA_FR_PATTERN) != 0;
			return (rv);
		}
	}
	fr->n++;
	return (0);
}

int
data_fieldrules_parse(json_t *def, const struct data_schema *s,
    struct data_fieldrules **out, char **err_field)
{
	struct data_fieldrules *fr;
	json_t                 *fields;
	const char             *key;
	size_t                  klen;
	json_t                 *v;
	int                     rv = 0;

	if (err_field != NULL) {
		*err_field = NULL;
	}
	if (!json_is_object(def)) {
		return (LC_EINVALID_BODY);
	}
	json_object_keylen_foreach(def, key, klen, v)
	{
		if (!(klen == 6 && memcmp(key, "fields", 6) == 0)) {
			if (err_field != NULL) {
				*err_field = lc_strndup(key, klen);
			}
			return (LC_EVALIDATION);
		}
	}
	fields = json_object_get(def, "fields");
	if (!json_is_object(fields) ||
	    json_object_size(fields) > DATA_FR_FIELDS) {
		return (bad_path(err_field, NULL, 0, NULL));
	}
	fr = lc_calloc(1, sizeof(*fr));
	fr->rules =
	    lc_calloc(json_object_size(fields) + 1, sizeof(*fr->rules));
	// A deep copy: enum arrays are borrowed from src, never from def.
	fr->src = json_object();
	if (fr->src == NULL ||
	    json_object_set_new(fr->src, "fields", json_deep_copy(fields)) !=
	        0) {
		data_fieldrules_free(fr);
		return (LC_EINTERNAL);
	}
	fields = json_object_get(fr->src, "fields");
	json_object_keylen_foreach(fields, key, klen, v)
	{
		if ((rv = rule_parse(fr, s, key, klen, v, err_field)) != 0) {
			data_fieldrules_free(fr);
			return (rv);
		}
	}
	qsort(fr->rules, fr->n, sizeof(*fr->rules), rule_cmp);
	*out = fr;
	return (0);
}

void
data_fieldrules_free(struct data_fieldrules *fr)
{
	size_t i;

	if (fr == NULL) {
		return;
	}
	for (i = 0; i < fr->n; i++) {
		if (fr->rules[i].has & DATA_FR_PATTERN) {
			regfree(&fr->rules[i].re);
		}
	}
	lc_free(fr->rules);
	json_decref(fr->src);
	lc_free(fr);
}

json_t *
data_fieldrules_json(const struct data_fieldrules *fr)
{
	return (fr->src);
}

const struct data_fieldrule *
data_fieldrules_find(
    const struct data_fieldrules *fr, const char *name, size_t len)
{
	size_t i;

	for (i = 0; fr != NULL && i < fr->n; i++) {
		if (strlen(fr->rules[i].name) == len &&
		    memcmp(fr->rules[i].name, name, len) == 0) {
			return (&fr->rules[i]);
		}
	}
	return (NULL);
}

enum data_type
data_fieldrule_col_type(const struct data_fieldrule *r)
{
	switch (r->type) {
	case DATA_FT_INTEGER:
		return (DATA_T_INTEGER);
	case DATA_FT_REAL:
	case DATA_FT_NUMBER:
		return (DATA_T_REAL);
	case DATA_FT_BOOLEAN:
		return (DATA_T_BOOLEAN);
	case DATA_FT_JSON:
		return (DATA_T_JSON);
	default:
		return (DATA_T_TEXT);
	}
}

/* ---- checking ---------------------------------------------------------- */

size_t
data_utf8_len(const char *s, size_t len)
{
	size_t i;
	size_t n = 0;

	for (i = 0; i < len; i++) {
		n += ((unsigned char) s[i] & 0xC0) != 0x80;
	}
	return (n);
}

static int
type_ok(enum data_ftype t, json_t *v)
{
	switch (t) {
	case DATA_FT_TEXT:
		return (json_is_string(v));
	case DATA_FT_INTEGER:
		return (json_is_integer(v));
	case DATA_FT_REAL:
		return (json_is_real(v));
	case DATA_FT_NUMBER:
		return (json_is_number(v));
	case DATA_FT_BOOLEAN:
		return (json_is_boolean(v));
	case DATA_FT_JSON:
		return (json_is_object(v) || json_is_array(v));
	default:
		return (1);
	}
}

// JSON equality of scalars, numbers compared numerically.
static int
scalar_eq(json_t *a, json_t *b)
{
	struct data_fnum x;
	struct data_fnum y;

	if (json_is_number(a) && json_is_number(b)) {
		fnum_from(a, &x);
		fnum_from(b, &y);
		return (fnum_cmp(&x, &y) == 0);
	}
	if (json_is_string(a) && json_is_string(b)) {
		return (json_string_length(a) == json_string_length(b) &&
		    memcmp(json_string_value(a), json_string_value(b),
		        json_string_length(a)) == 0);
	}
	if (json_is_boolean(a) && json_is_boolean(b)) {
		return (json_is_true(a) == json_is_true(b));
	}
	return (0);
}

// The checks of one present, non-null value, in §3.9's order.
static int
value_ok(const struct data_fieldrule *r, json_t *v)
{
	struct data_fnum n;
	size_t           i;

	if ((r->has & DATA_FR_TYPE) && !type_ok(r->type, v)) {
		return (0);
	}
	if ((r->has & DATA_FR_ENUM) && is_scalar(v)) {
		for (i = 0; i < json_array_size(r->enumv); i++) {
			if (scalar_eq(v, json_array_get(r->enumv, i))) {
				break;
			}
		}
		if (i == json_array_size(r->enumv)) {
			return (0);
		}
	}
	if (json_is_number(v)) {
		fnum_from(v, &n);
		if (((r->has & DATA_FR_MIN) && fnum_cmp(&n, &r->min) < 0) ||
		    ((r->has & DATA_FR_MAX) && fnum_cmp(&n, &r->max) > 0)) {
			return (0);
		}
	}
	if (json_is_string(v)) {
		const char *s   = json_string_value(v);
		size_t      len = json_string_length(v);
		size_t      cp  = data_utf8_len(s, len);

		if (((r->has & DATA_FR_MINLEN) &&
		        cp < (uint64_t) r->min_len) ||
		    ((r->has & DATA_FR_MAXLEN) &&
		        cp > (uint64_t) r->max_len) ||
		    ((r->has & DATA_FR_PATTERN) &&
		        !pattern_match(r, s, len))) {
			return (0);
		}
	}
	return (1);
}

int
data_fieldrules_check(const struct data_fieldrules *fr, json_t *values,
    int create, const char **field)
{
	size_t i;

	for (i = 0; fr != NULL && i < fr->n; i++) {
		const struct data_fieldrule *r = &fr->rules[i];
		json_t *v = json_object_get(values, r->name);
		int     ok;

		if (v == NULL || json_is_null(v)) {
			// required: create needs a value; update only
			// refuses an explicit null.
			ok = !(r->has & DATA_FR_REQUIRED) ||
			    (v == NULL && !create);
		} else {
			ok = value_ok(r, v);
		}
		if (!ok) {
			if (field != NULL) {
				*field = r->name;
			}
			return (LC_EVALIDATION);
		}
	}
	return (0);
}
