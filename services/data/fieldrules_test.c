/*
 * fieldrules_test.c -- field validation rules (fieldrules.c): every error
 * of a rule set definition with its field path, the canonical copy, every
 * rule on create and update, the order of fields and of checks, numeric
 * and code-point edge cases, and the pattern safety limits.
 */
// cmocka.h needs these first; clang-format would sort it above them.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fieldrules.h"
#include "lc_err.h"

static const struct data_col cols[] = {
	{ "title", DATA_T_TEXT, NULL, NULL },
	{ "views", DATA_T_INTEGER, NULL, NULL },
};
static const struct data_schema schema = { "posts", NULL, cols, LC_NELEM(cols),
	NULL };

/* ---- helpers ----------------------------------------------------------- */

static json_t *
j(const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

	if (v == NULL) {
		fail_msg("bad test JSON: %s", text);
	}
	return (v);
}

static struct data_fieldrules *
rules(const char *def)
{
	struct data_fieldrules *fr  = NULL;
	char                   *bad = NULL;
	json_t                 *d   = j(def);
	int                     rv = data_fieldrules_parse(d, NULL, &fr, &bad);

	if (rv != 0) {
		fail_msg("%s: rv %s field %s", def, lc_err_code(rv),
		    bad ? bad : "-");
	}
	json_decref(d);
	return (fr);
}

// A definition must fail with code and field path (NULL: none).
static void
def_err_s(
    const char *def, const struct data_schema *s, int code, const char *field)
{
	struct data_fieldrules *fr  = NULL;
	char                   *bad = NULL;
	json_t                 *d   = j(def);
	int                     rv  = data_fieldrules_parse(d, s, &fr, &bad);

	if (rv != code) {
		fail_msg("%s: rv %s, want %s", def,
		    rv ? lc_err_code(rv) : "ok", lc_err_code(code));
	}
	if ((field == NULL) != (bad == NULL) ||
	    (field != NULL && strcmp(field, bad) != 0)) {
		fail_msg("%s: field %s, want %s", def, bad ? bad : "(none)",
		    field ? field : "(none)");
	}
	assert_null(fr);
	lc_free(bad);
	json_decref(d);
}

static void
def_err(const char *def, const char *field)
{
	def_err_s(def, NULL, LC_EVALIDATION, field);
}

static void
def_ok(const char *def)
{
	data_fieldrules_free(rules(def));
}

// values against fr: want "" (passes) or the failing field.
static void
check(const struct data_fieldrules *fr, const char *values, int create,
    const char *want)
{
	const char *field = NULL;
	json_t     *v     = j(values);
	int         rv    = data_fieldrules_check(fr, v, create, &field);

	if (*want == '\0' && rv != 0) {
		fail_msg("%s (%s): failed on %s", values,
		    create ? "create" : "update", field);
	}
	if (*want != '\0' &&
	    (rv != LC_EVALIDATION || field == NULL ||
	        strcmp(field, want) != 0)) {
		fail_msg("%s (%s): rv %d field %s, want %s", values,
		    create ? "create" : "update", rv, field ? field : "-",
		    want);
	}
	json_decref(v);
}

/* ---- definitions ------------------------------------------------------- */

static void
test_def_shape(void **state)
{
	struct data_fieldrules *fr  = NULL;
	char                   *bad = NULL;
	json_t                 *d;

	(void) state;
	def_err_s("[]", NULL, LC_EINVALID_BODY, NULL);
	def_err_s("\"x\"", NULL, LC_EINVALID_BODY, NULL);
	def_err("{}", "fields");
	def_err("{\"fields\":null}", "fields");
	def_err("{\"fields\":[]}", "fields");
	def_err("{\"fields\":\"title\"}", "fields");
	def_err("{\"fields\":{},\"extra\":1}", "extra");
	def_err("{\"Fields\":{}}", "Fields");
	def_ok("{\"fields\":{}}");
	def_ok("{\"fields\":{\"title\":{}}}");
	// NULL err_field is allowed.
	d = j("{\"fields\":1}");
	assert_int_equal(
	    data_fieldrules_parse(d, NULL, &fr, NULL), LC_EVALIDATION);
	json_decref(d);
	d = j("{\"fields\":{\"a\":{\"pattern\":\"(\"}}}");
	assert_int_equal(
	    data_fieldrules_parse(d, NULL, &fr, &bad), LC_EVALIDATION);
	assert_string_equal(bad, "fields.a.pattern");
	lc_free(bad);
	json_decref(d);
}

static void
test_def_names(void **state)
{
	char def[512];
	char name[70];
	int  i;

	(void) state;
	def_err("{\"fields\":{\"_id\":{}}}", "fields._id");
	def_err("{\"fields\":{\"_owner_id\":{\"required\":true}}}",
	    "fields._owner_id");
	def_err("{\"fields\":{\"_x\":{}}}", "fields._x");
	def_err("{\"fields\":{\"__proto__\":{}}}", "fields.__proto__");
	def_err("{\"fields\":{\"2x\":{}}}", "fields.2x");
	def_err("{\"fields\":{\"a-b\":{}}}", "fields.a-b");
	def_err("{\"fields\":{\"a\\\"b\":{}}}", "fields.a\"b");
	def_err("{\"fields\":{\"t\\u00edtle\":{}}}", "fields.t\xc3\xadtle");
	def_err("{\"fields\":{\"\":{}}}", "fields.");
	memset(name, 'a', 64);
	name[64] = '\0';
	snprintf(def, sizeof(def), "{\"fields\":{\"%s\":{}}}", name);
	snprintf(name + 64, sizeof(name) - 64, "%s", "");
	{
		char want[80];

		snprintf(want, sizeof(want), "fields.%s", name);
		def_err(def, want);
	}
	name[63] = '\0';
	snprintf(def, sizeof(def), "{\"fields\":{\"%s\":{}}}", name);
	def_ok(def);
	// Case twins, within the set and against the schema.
	def_err("{\"fields\":{\"title\":{},\"Title\":{}}}", "fields.Title");
	def_err_s("{\"fields\":{\"TITLE\":{}}}", &schema, LC_EVALIDATION,
	    "fields.TITLE");
	def_err_s("{\"fields\":{\"Views\":{}}}", &schema, LC_EVALIDATION,
	    "fields.Views");
	{
		struct data_fieldrules *fr = NULL;
		json_t *d = j("{\"fields\":{\"title\":{},\"slug\":{}}}");

		assert_int_equal(
		    data_fieldrules_parse(d, &schema, &fr, NULL), 0);
		data_fieldrules_free(fr);
		json_decref(d);
	}
	// At most DATA_FR_FIELDS fields.
	{
		json_t *f = json_object();
		json_t *d;
		char    n[16];

		for (i = 0; i < DATA_FR_FIELDS + 1; i++) {
			snprintf(n, sizeof(n), "f%d", i);
			json_object_set_new(f, n, json_object());
		}
		d = json_pack("{s:o}", "fields", f);
		{
			struct data_fieldrules *fr  = NULL;
			char                   *bad = NULL;

			assert_int_equal(
			    data_fieldrules_parse(d, NULL, &fr, &bad),
			    LC_EVALIDATION);
			assert_string_equal(bad, "fields");
			lc_free(bad);
			json_object_del(f, "f0");
			assert_int_equal(
			    data_fieldrules_parse(d, NULL, &fr, &bad), 0);
			assert_int_equal(fr->n, DATA_FR_FIELDS);
			data_fieldrules_free(fr);
		}
		json_decref(d);
	}
}

static void
test_def_values(void **state)
{
	(void) state;
	// Unknown keys, and keys with the wrong case.
	def_err("{\"fields\":{\"a\":{\"foo\":1}}}", "fields.a.foo");
	def_err(
	    "{\"fields\":{\"a\":{\"minlength\":1}}}", "fields.a.minlength");
	def_err("{\"fields\":{\"a\":{\"Type\":\"text\"}}}", "fields.a.Type");
	// The rule itself must be an object.
	def_err("{\"fields\":{\"a\":true}}", "fields.a");
	def_err("{\"fields\":{\"a\":null}}", "fields.a");
	def_err("{\"fields\":{\"a\":[]}}", "fields.a");
	// type
	def_err("{\"fields\":{\"a\":{\"type\":\"string\"}}}", "fields.a.type");
	def_err("{\"fields\":{\"a\":{\"type\":\"Text\"}}}", "fields.a.type");
	def_err("{\"fields\":{\"a\":{\"type\":\"text\\u0000\"}}}",
	    "fields.a.type");
	def_err("{\"fields\":{\"a\":{\"type\":1}}}", "fields.a.type");
	def_err("{\"fields\":{\"a\":{\"type\":null}}}", "fields.a.type");
	def_ok("{\"fields\":{\"a\":{\"type\":\"text\"},\"b\":{\"type\":"
	       "\"integer\"},\"c\":{\"type\":\"real\"},\"d\":{\"type\":"
	       "\"number\"},\"e\":{\"type\":\"boolean\"},\"f\":{\"type\":"
	       "\"json\"}}}");
	// required, unique
	def_err("{\"fields\":{\"a\":{\"required\":1}}}", "fields.a.required");
	def_err("{\"fields\":{\"a\":{\"required\":\"true\"}}}",
	    "fields.a.required");
	def_err("{\"fields\":{\"a\":{\"unique\":null}}}", "fields.a.unique");
	def_ok("{\"fields\":{\"a\":{\"required\":false,\"unique\":false}}}");
	// min, max
	def_err("{\"fields\":{\"a\":{\"min\":\"1\"}}}", "fields.a.min");
	def_err("{\"fields\":{\"a\":{\"max\":true}}}", "fields.a.max");
	def_err("{\"fields\":{\"a\":{\"max\":null}}}", "fields.a.max");
	def_ok("{\"fields\":{\"a\":{\"min\":-1.5,\"max\":1e300}}}");
	def_ok("{\"fields\":{\"a\":{\"min\":10,\"max\":1}}}"); // accepted
	// minLength, maxLength: integers >= 0
	def_err(
	    "{\"fields\":{\"a\":{\"minLength\":-1}}}", "fields.a.minLength");
	def_err(
	    "{\"fields\":{\"a\":{\"maxLength\":1.5}}}", "fields.a.maxLength");
	def_err("{\"fields\":{\"a\":{\"maxLength\":\"3\"}}}",
	    "fields.a.maxLength");
	def_err(
	    "{\"fields\":{\"a\":{\"maxLength\":-0.5}}}", "fields.a.maxLength");
	def_err("{\"fields\":{\"a\":{\"maxLength\":1e300}}}",
	    "fields.a.maxLength");
	def_ok("{\"fields\":{\"a\":{\"minLength\":0,\"maxLength\":5.0}}}");
	// enum: a non-empty array of scalars
	def_err("{\"fields\":{\"a\":{\"enum\":[]}}}", "fields.a.enum");
	def_err("{\"fields\":{\"a\":{\"enum\":\"x\"}}}", "fields.a.enum");
	def_err(
	    "{\"fields\":{\"a\":{\"enum\":[\"x\",[1]]}}}", "fields.a.enum");
	def_err("{\"fields\":{\"a\":{\"enum\":[{}]}}}", "fields.a.enum");
	def_ok("{\"fields\":{\"a\":{\"enum\":[\"x\",1,2.5,true,null]}}}");
	// pattern
	def_err("{\"fields\":{\"a\":{\"pattern\":1}}}", "fields.a.pattern");
	def_err(
	    "{\"fields\":{\"a\":{\"pattern\":\"[a-\"}}}", "fields.a.pattern");
	def_err(
	    "{\"fields\":{\"a\":{\"pattern\":\"a(b\"}}}", "fields.a.pattern");
	def_err("{\"fields\":{\"a\":{\"pattern\":\"*a{2,1}\"}}}",
	    "fields.a.pattern");
	def_ok("{\"fields\":{\"a\":{\"pattern\":\"^[a-z0-9-]+$\"}}}");
	def_ok("{\"fields\":{\"a\":{\"pattern\":\"\"}}}");
	// The first fault in document order decides.
	def_err("{\"fields\":{\"b\":{\"min\":\"x\"},\"a\":{\"max\":\"x\"}}}",
	    "fields.b.min");
	def_err("{\"fields\":{\"a\":{\"type\":\"text\",\"pattern\":\"^a$\","
	        "\"enum\":[],\"min\":\"x\"}}}",
	    "fields.a.enum");
	// A pattern compiled before a later bad key is released (ASan).
	def_err("{\"fields\":{\"a\":{\"pattern\":\"^a$\",\"foo\":1}}}",
	    "fields.a.foo");
	def_err("{\"fields\":{\"a\":{\"pattern\":\"^a$\"},\"b\":{\"x\":1}}}",
	    "fields.b.x");
}

// The limits beyond regcomp: length, NUL, back-references, bounds.
static void
test_def_pattern_limits(void **state)
{
	char   def[2048];
	char   pat[DATA_FR_PATTERN_MAX + 2];
	size_t i;

	(void) state;
	memset(pat, 'a', DATA_FR_PATTERN_MAX);
	pat[DATA_FR_PATTERN_MAX] = '\0';
	snprintf(def, sizeof(def), "{\"fields\":{\"a\":{\"pattern\":\"%s\"}}}",
	    pat);
	def_ok(def);
	pat[DATA_FR_PATTERN_MAX]     = 'a';
	pat[DATA_FR_PATTERN_MAX + 1] = '\0';
	snprintf(def, sizeof(def), "{\"fields\":{\"a\":{\"pattern\":\"%s\"}}}",
	    pat);
	def_err(def, "fields.a.pattern");
	def_err("{\"fields\":{\"a\":{\"pattern\":\"a\\u0000b\"}}}",
	    "fields.a.pattern");
	// Back-references (exponential in glibc) are not POSIX ERE.
	def_err("{\"fields\":{\"a\":{\"pattern\":\"(a*)*\\\\1$\"}}}",
	    "fields.a.pattern");
	def_err("{\"fields\":{\"a\":{\"pattern\":\"(.)\\\\9\"}}}",
	    "fields.a.pattern");
	def_ok("{\"fields\":{\"a\":{\"pattern\":\"[\\\\1]\"}}}"); // literal
	def_ok("{\"fields\":{\"a\":{\"pattern\":\"\\\\.\\\\*\"}}}");
	// Bounds: each at most 255, and nested bounds at most DATA_FR_WEIGHT
	// elements once expanded.
	def_ok("{\"fields\":{\"a\":{\"pattern\":\"^a{255}$\"}}}");
	def_err("{\"fields\":{\"a\":{\"pattern\":\"^a{256}$\"}}}",
	    "fields.a.pattern");
	def_err("{\"fields\":{\"a\":{\"pattern\":\"^a{1,1000}$\"}}}",
	    "fields.a.pattern");
	def_ok("{\"fields\":{\"a\":{\"pattern\":\"^(ab{1,10}){1,50}$\"}}}");
	def_err("{\"fields\":{\"a\":{\"pattern\":\"^(ab{1,10}){1,100}$\"}}}",
	    "fields.a.pattern");
	def_err("{\"fields\":{\"a\":{\"pattern\":\"((a{1,100}){1,100}){1,100}"
	        "\"}}}",
	    "fields.a.pattern");
	def_err("{\"fields\":{\"a\":{\"pattern\":\"(a{1,100}){1,100}\"}}}",
	    "fields.a.pattern");
	def_err("{\"fields\":{\"a\":{\"pattern\":\"[a-z]{200}[0-9]{200}"
	        "(x{100}){40}\"}}}",
	    "fields.a.pattern");
	def_ok("{\"fields\":{\"a\":{\"pattern\":\"^[[:alpha:]]{1,64}$\"}}}");
	def_ok("{\"fields\":{\"a\":{\"pattern\":\"[]{}(]{3}\"}}}");
	// Stacked quantifiers: glibc expands X+ into X X*, so each + doubles
	// the tree (fuzz_fieldrules found 2 GB in regcomp for this one).
	def_err(
	    "{\"fields\":{\"p\":{\"pattern\":\"^]{0,10})))))))))))))))"
	    "))))++++++++++++++++++++++++++++++++++++++++++++++++++++++++++"
	    "+++++++++++++++++++++++++++++++++++++++++++++++++++++++)))))))"
	    ")))))))))))))))))))2,4}){0,5}$\"}}}",
	    "fields.p.pattern");
	def_err("{\"fields\":{\"p\":{\"pattern\":\"a+++++++++++++\"}}}",
	    "fields.p.pattern");
	def_err("{\"fields\":{\"p\":{\"pattern\":\"(a{1,255})+++++\"}}}",
	    "fields.p.pattern");
	// Adjacent quantifiers are undefined in POSIX ERE; glibc spent 9
	// minutes matching this one (fuzz_fieldrules timeout).
	def_err("{\"fields\":{\"p\":{\"pattern\":"
	        "\"^([a-z]{0,10}{2,}{2,}){05,}$\"}}}",
	    "fields.p.pattern");
	def_err(
	    "{\"fields\":{\"p\":{\"pattern\":\"a*?\"}}}", "fields.p.pattern");
	def_ok("{\"fields\":{\"p\":{\"pattern\":\"^a\\\\+*[+*]{2}$\"}}}");
	def_ok("{\"fields\":{\"p\":{\"pattern\":\"^(a+|b+)+(c+)?d*$\"}}}");
	def_ok("{\"fields\":{\"p\":{\"pattern\":\"^x{2,}$\"}}}");
	// {,n} is {0,n} to glibc (fuzz_fieldrules: {,11110} ran out of
	// memory); a brace that starts no interval must be escaped.
	def_err("{\"fields\":{\"p\":{\"pattern\":\"x{,11110}\"}}}",
	    "fields.p.pattern");
	def_ok("{\"fields\":{\"p\":{\"pattern\":\"x{,10}\"}}}");
	def_err("{\"fields\":{\"p\":{\"pattern\":\"^(a|b)**************"
	        "*****$\"}}}",
	    "fields.p.pattern");
	def_err(
	    "{\"fields\":{\"p\":{\"pattern\":\"a{b\"}}}", "fields.p.pattern");
	def_err(
	    "{\"fields\":{\"p\":{\"pattern\":\"a{}\"}}}", "fields.p.pattern");
	def_ok("{\"fields\":{\"p\":{\"pattern\":\"a\\\\{b[{]\"}}}");
	// Deep nesting stays bounded (regcomp may still reject it).
	{
		json_t                 *d;
		struct data_fieldrules *fr  = NULL;
		char                   *bad = NULL;

		for (i = 0; i < 300; i++) {
			pat[i] = i < 150 ? '(' : ')';
		}
		pat[300] = '\0';
		d = json_pack("{s:{s:{s:s}}}", "fields", "a", "pattern", pat);
		if (data_fieldrules_parse(d, NULL, &fr, &bad) == 0) {
			data_fieldrules_free(fr);
		} else {
			assert_string_equal(bad, "fields.a.pattern");
			lc_free(bad);
		}
		json_decref(d);
	}
}

// The accepted definition is kept as given, independent of the input.
static void
test_def_canonical(void **state)
{
	struct data_fieldrules      *fr;
	const struct data_fieldrule *r;
	json_t                      *d;
	char                        *s;

	(void) state;
	d = j("{\"fields\":{\"title\":{\"type\":\"text\",\"required\":true,"
	      "\"minLength\":1,\"maxLength\":200},\"price\":{\"type\":"
	      "\"number\",\"min\":0},\"status\":{\"enum\":[\"draft\","
	      "\"published\"]},\"slug\":{\"type\":\"text\",\"pattern\":"
	      "\"^[a-z0-9-]+$\",\"unique\":true}}}");
	assert_int_equal(data_fieldrules_parse(d, &schema, &fr, NULL), 0);
	assert_true(json_equal(data_fieldrules_json(fr), d));
	json_object_clear(json_object_get(d, "fields"));
	json_decref(d);
	s = json_dumps(data_fieldrules_json(fr), JSON_SORT_KEYS);
	assert_non_null(strstr(s, "\"draft\""));
	free(s);
	// Sorted by name; unique and its column type.
	assert_int_equal(fr->n, 4);
	assert_string_equal(fr->rules[0].name, "price");
	assert_string_equal(fr->rules[1].name, "slug");
	assert_string_equal(fr->rules[2].name, "status");
	assert_string_equal(fr->rules[3].name, "title");
	r = data_fieldrules_find(fr, "slug", 4);
	assert_non_null(r);
	assert_true(r->has & DATA_FR_UNIQUE);
	assert_int_equal(data_fieldrule_col_type(r), DATA_T_TEXT);
	assert_null(data_fieldrules_find(fr, "Slug", 4));
	assert_null(data_fieldrules_find(fr, "slu", 3));
	assert_false(
	    data_fieldrules_find(fr, "title", 5)->has & DATA_FR_UNIQUE);
	data_fieldrules_free(fr);
	data_fieldrules_free(NULL);

	fr = rules("{\"fields\":{\"a\":{\"unique\":true},\"b\":{\"type\":"
	           "\"integer\"},\"c\":{\"type\":\"real\"},\"d\":{\"type\":"
	           "\"number\"},\"e\":{\"type\":\"boolean\"},\"f\":{\"type\":"
	           "\"json\"},\"g\":{\"type\":\"text\"}}}");
	assert_int_equal(data_fieldrule_col_type(&fr->rules[0]), DATA_T_TEXT);
	assert_int_equal(
	    data_fieldrule_col_type(&fr->rules[1]), DATA_T_INTEGER);
	assert_int_equal(data_fieldrule_col_type(&fr->rules[2]), DATA_T_REAL);
	assert_int_equal(data_fieldrule_col_type(&fr->rules[3]), DATA_T_REAL);
	assert_int_equal(
	    data_fieldrule_col_type(&fr->rules[4]), DATA_T_BOOLEAN);
	assert_int_equal(data_fieldrule_col_type(&fr->rules[5]), DATA_T_JSON);
	assert_int_equal(data_fieldrule_col_type(&fr->rules[6]), DATA_T_TEXT);
	data_fieldrules_free(fr);
}

/* ---- checks ------------------------------------------------------------ */

static void
test_check_required(void **state)
{
	struct data_fieldrules *fr =
	    rules("{\"fields\":{\"title\":{\"required\":true},"
	          "\"note\":{\"required\":false}}}");

	(void) state;
	check(fr, "{\"title\":\"x\"}", 1, "");
	check(fr, "{}", 1, "title");
	check(fr, "{\"title\":null}", 1, "title");
	check(fr, "{\"Title\":\"x\"}", 1, "title");
	check(fr, "{\"title\":\"\"}", 1, ""); // present, non-null
	check(fr, "{\"title\":false}", 1, "");
	// Update: only present fields; null is refused.
	check(fr, "{}", 0, "");
	check(fr, "{\"note\":null}", 0, "");
	check(fr, "{\"title\":null}", 0, "title");
	check(fr, "{\"title\":\"y\"}", 0, "");
	data_fieldrules_free(fr);
	// No rules at all.
	check(NULL, "{\"a\":1}", 1, "");
}

static void
test_check_type(void **state)
{
	static const struct {
		const char *type;
		const char *pass;
		const char *fail;
	} cases[] = {
		{ "text", "[\"\",\"x\"]", "[1,true,{},[]]" },
		{ "integer", "[0,-5,9223372036854775807]",
		    "[1.5,1.0,1e3,\"1\",true]" },
		{ "real", "[1.5,1.0,1e3,-0.0]", "[1,\"1.5\",false]" },
		{ "number", "[1,1.5,-1e-3]", "[\"1\",true,[1]]" },
		{ "boolean", "[true,false]", "[0,1,\"true\"]" },
		{ "json", "[{},[],{\"a\":[1]},[null]]", "[\"{}\",1,true]" },
	};
	size_t i;
	size_t k;
	char   def[128];
	char   val[128];

	(void) state;
	for (i = 0; i < LC_NELEM(cases); i++) {
		struct data_fieldrules *fr;
		json_t                 *arr;

		snprintf(def, sizeof(def),
		    "{\"fields\":{\"v\":{\"type\":\"%s\"}}}", cases[i].type);
		fr  = rules(def);
		arr = j(cases[i].pass);
		for (k = 0; k < json_array_size(arr); k++) {
			char *s = json_dumps(
			    json_array_get(arr, k), JSON_ENCODE_ANY);

			snprintf(val, sizeof(val), "{\"v\":%s}", s);
			check(fr, val, 1, "");
			check(fr, val, 0, "");
			free(s);
		}
		json_decref(arr);
		arr = j(cases[i].fail);
		for (k = 0; k < json_array_size(arr); k++) {
			char *s = json_dumps(
			    json_array_get(arr, k), JSON_ENCODE_ANY);

			snprintf(val, sizeof(val), "{\"v\":%s}", s);
			check(fr, val, 1, "v");
			check(fr, val, 0, "v");
			free(s);
		}
		json_decref(arr);
		check(fr, "{\"v\":null}", 1, ""); // null passes
		check(fr, "{}", 1, "");
		data_fieldrules_free(fr);
	}
}

static void
test_check_enum(void **state)
{
	struct data_fieldrules *fr =
	    rules("{\"fields\":{\"s\":{\"enum\":[\"draft\",\"published\"]},"
	          "\"n\":{\"enum\":[1,2.5,\"3\",true]}}}");

	(void) state;
	check(fr, "{\"s\":\"draft\"}", 1, "");
	check(fr, "{\"s\":\"Draft\"}", 1, "s");
	check(fr, "{\"s\":\"draft \"}", 1, "s");
	check(fr, "{\"s\":\"draft\\u0000x\"}", 1, "s");
	check(fr, "{\"s\":null}", 1, "");
	check(fr, "{\"s\":1}", 1, "s");
	check(fr, "{\"s\":{}}", 1, ""); // not a scalar: enum does not apply
	// Numbers compare numerically; no string/number coercion.
	check(fr, "{\"n\":1}", 1, "");
	check(fr, "{\"n\":1.0}", 1, "");
	check(fr, "{\"n\":1e0}", 1, "");
	check(fr, "{\"n\":2.5}", 1, "");
	check(fr, "{\"n\":25e-1}", 1, "");
	check(fr, "{\"n\":3}", 1, "n");
	check(fr, "{\"n\":\"3\"}", 1, "");
	check(fr, "{\"n\":\"1\"}", 1, "n");
	check(fr, "{\"n\":true}", 1, "");
	check(fr, "{\"n\":false}", 1, "n");
	check(fr, "{\"n\":[1]}", 1, "");
	data_fieldrules_free(fr);
}

static void
test_check_min_max(void **state)
{
	struct data_fieldrules *fr =
	    rules("{\"fields\":{\"p\":{\"min\":0,\"max\":10.5},"
	          "\"big\":{\"min\":9007199254740993},"
	          "\"r\":{\"max\":9007199254740992.0}}}");

	(void) state;
	check(fr, "{\"p\":0}", 1, "");
	check(fr, "{\"p\":10.5}", 1, "");
	check(fr, "{\"p\":-0.0}", 1, "");
	check(fr, "{\"p\":-1}", 1, "p");
	check(fr, "{\"p\":-1e-300}", 1, "p");
	check(fr, "{\"p\":10.50001}", 1, "p");
	check(fr, "{\"p\":11}", 1, "p");
	check(fr, "{\"p\":\"100\"}", 1, ""); // only numbers
	check(fr, "{\"p\":true}", 1, "");
	check(fr, "{\"p\":null}", 1, "");
	// Integers beyond 2^53 are compared exactly, against both kinds.
	check(fr, "{\"big\":9007199254740993}", 1, "");
	check(fr, "{\"big\":9007199254740992}", 1, "big");
	check(fr, "{\"big\":9007199254740994.0}", 1, "");
	check(fr, "{\"big\":9007199254740992.0}", 1, "big");
	check(fr, "{\"big\":1e300}", 1, "");
	check(fr, "{\"r\":9007199254740992}", 1, "");
	check(fr, "{\"r\":9007199254740993}", 1, "r");
	check(fr, "{\"r\":-9223372036854775807}", 1, "");
	check(fr, "{\"r\":9223372036854775807}", 1, "r");
	data_fieldrules_free(fr);
	fr = rules("{\"fields\":{\"x\":{\"min\":5,\"max\":1}}}");
	check(fr, "{\"x\":3}", 1, "x");
	check(fr, "{\"x\":\"3\"}", 1, "");
	data_fieldrules_free(fr);
	fr = rules("{\"fields\":{\"x\":{\"min\":-1e300,\"max\":1.5}}}");
	check(fr, "{\"x\":-9223372036854775807}", 1, "");
	check(fr, "{\"x\":1}", 1, "");
	check(fr, "{\"x\":2}", 1, "x");
	check(fr, "{\"x\":1.5}", 1, "");
	data_fieldrules_free(fr);
}

static void
test_check_length(void **state)
{
	struct data_fieldrules *fr =
	    rules("{\"fields\":{\"t\":{\"minLength\":2,\"maxLength\":3}}}");

	(void) state;
	assert_int_equal(data_utf8_len("", 0), 0);
	assert_int_equal(data_utf8_len("abc", 3), 3);
	assert_int_equal(data_utf8_len("caf\xc3\xa9", 5), 4);
	assert_int_equal(data_utf8_len("\xf0\x9f\x98\x80", 4), 1);
	check(fr, "{\"t\":\"ab\"}", 1, "");
	check(fr, "{\"t\":\"abc\"}", 1, "");
	check(fr, "{\"t\":\"a\"}", 1, "t");
	check(fr, "{\"t\":\"abcd\"}", 1, "t");
	check(fr, "{\"t\":\"\"}", 1, "t");
	// Code points, not bytes: 3 code points in 6 or 12 bytes.
	check(fr, "{\"t\":\"\xc3\xa9\xc3\xa9\xc3\xa9\"}", 1, "");
	check(fr, "{\"t\":\"\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\"}", 1,
	    "");
	check(fr, "{\"t\":\"\\ud83d\\ude00\"}", 1, "t");
	check(fr, "{\"t\":\"a\\u0000b\"}", 1, ""); // NUL is a code point
	check(fr, "{\"t\":12345}", 1, "");         // only strings
	check(fr, "{\"t\":[1,2,3,4,5]}", 1, "");
	data_fieldrules_free(fr);
	fr = rules("{\"fields\":{\"t\":{\"maxLength\":0}}}");
	check(fr, "{\"t\":\"\"}", 1, "");
	check(fr, "{\"t\":\" \"}", 1, "t");
	data_fieldrules_free(fr);
}

static void
test_check_pattern(void **state)
{
	struct data_fieldrules *fr =
	    rules("{\"fields\":{\"slug\":{\"pattern\":\"^[a-z0-9-]+$\"},"
	          "\"any\":{\"pattern\":\"bun\"}}}");

	(void) state;
	check(fr, "{\"slug\":\"hello-world-2\"}", 1, "");
	check(fr, "{\"slug\":\"Hello\"}", 1, "slug");
	check(fr, "{\"slug\":\"\"}", 1, "slug");
	check(fr, "{\"slug\":\"a b\"}", 1, "slug");
	check(fr, "{\"slug\":\"ok\\nno\"}", 1, "slug");
	// A NUL inside the value is part of it (REG_STARTEND).
	check(fr, "{\"slug\":\"ab\\u0000cd\"}", 1, "slug");
	check(fr, "{\"slug\":5}", 1, ""); // only strings
	// Unanchored.
	check(fr, "{\"any\":\"a bun b\"}", 1, "");
	check(fr, "{\"any\":\"BUN\"}", 1, "any");
	data_fieldrules_free(fr);
	// No slow matching: a pathological ERE on a long value.
	fr = rules("{\"fields\":{\"x\":{\"pattern\":\"^(a|a)*(a|aa)*$\"}}}");
	{
		size_t  n = 100000;
		char   *s = malloc(n + 2);
		json_t *v;

		assert_non_null(s);
		memset(s, 'a', n);
		s[n]     = 'b';
		s[n + 1] = '\0';
		v        = json_pack("{s:s}", "x", s);
		{
			const char *f = NULL;

			assert_int_equal(data_fieldrules_check(fr, v, 1, &f),
			    LC_EVALIDATION);
			assert_string_equal(f, "x");
		}
		json_decref(v);
		free(s);
	}
	data_fieldrules_free(fr);
	// The work budget: length x weight. [a-z]{1,255}x weighs 256, so a
	// matching string of 70000 bytes fails unmatched; 1000 bytes pass.
	fr = rules("{\"fields\":{\"x\":{\"pattern\":\"[a-z]{1,255}x\"},"
	           "\"y\":{\"pattern\":\"^[a-z]+x$\"}}}");
	assert_int_equal(fr->rules[0].re_weight, 256);
	{
		size_t  n = 70000;
		char   *s = malloc(n + 1);
		json_t *v;

		assert_non_null(s);
		memset(s, 'a', n);
		s[n - 1] = 'x';
		s[n]     = '\0';
		v        = json_pack("{s:s,s:s}", "x", s, "y", s);
		{
			const char *f = NULL;

			assert_int_equal(data_fieldrules_check(fr, v, 1, &f),
			    LC_EVALIDATION);
			assert_string_equal(f, "x");
			json_object_del(v, "x");
			assert_int_equal(
			    data_fieldrules_check(fr, v, 1, &f), 0);
		}
		json_decref(v);
		s[1000 - 1] = 'x';
		s[1000]     = '\0';
		v           = json_pack("{s:s}", "x", s);
		assert_int_equal(data_fieldrules_check(fr, v, 1, NULL), 0);
		json_decref(v);
		free(s);
	}
	data_fieldrules_free(fr);
}

// The first failing field in ascending (bytewise) name order, and within
// a field the order required, type, enum, min, max, minLength,
// maxLength, pattern.
static void
test_check_order(void **state)
{
	struct data_fieldrules *fr;

	(void) state;
	fr = rules("{\"fields\":{\"b\":{\"type\":\"text\"},\"a\":{\"type\":"
	           "\"text\"},\"Z\":{\"type\":\"text\"},\"a_\":{\"type\":"
	           "\"text\"}}}");
	check(fr, "{\"a\":1,\"b\":1,\"Z\":1,\"a_\":1}", 1, "Z");
	check(fr, "{\"a\":1,\"b\":1,\"a_\":1}", 1, "a");
	check(fr, "{\"b\":1,\"a_\":1}", 1, "a_");
	check(fr, "{\"b\":1}", 0, "b");
	data_fieldrules_free(fr);

	// Within a field each check only reports the field; the order shows
	// where a later rule would have passed. All combinations fail at the
	// same field, so check the checks one at a time instead.
	fr = rules(
	    "{\"fields\":{\"v\":{\"required\":true,\"type\":\"text\","
	    "\"enum\":[\"abc\",\"toolongvalue\",\"ABC\"],"
	    "\"minLength\":2,\"maxLength\":5,\"pattern\":\"^[a-z]+$\"}}}");
	check(fr, "{\"v\":\"abc\"}", 1, "");
	check(fr, "{}", 1, "v");                       // required
	check(fr, "{\"v\":1}", 1, "v");                // type
	check(fr, "{\"v\":\"abd\"}", 1, "v");          // enum
	check(fr, "{\"v\":\"toolongvalue\"}", 1, "v"); // maxLength
	check(fr, "{\"v\":\"ABC\"}", 1, "v");          // pattern
	data_fieldrules_free(fr);
	// Fields without rules and system keys are ignored.
	fr = rules("{\"fields\":{\"v\":{\"type\":\"text\"}}}");
	check(fr, "{\"w\":1,\"_id\":5,\"v\":\"x\"}", 1, "");
	data_fieldrules_free(fr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_def_shape),
		cmocka_unit_test(test_def_names),
		cmocka_unit_test(test_def_values),
		cmocka_unit_test(test_def_pattern_limits),
		cmocka_unit_test(test_def_canonical),
		cmocka_unit_test(test_check_required),
		cmocka_unit_test(test_check_type),
		cmocka_unit_test(test_check_enum),
		cmocka_unit_test(test_check_min_max),
		cmocka_unit_test(test_check_length),
		cmocka_unit_test(test_check_pattern),
		cmocka_unit_test(test_check_order),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
