/*
 * fuzz_fieldrules.c -- libFuzzer target for the data service's field
 * validation rules (services/data/fieldrules.c): the rule set an admin
 * sends with PUT /admin/collections/:c/rules, and the record values every
 * write checks against it.
 *
 * Input: lines. The first line is the rule set definition (JSON); every
 * further line is a JSON object of record values, checked on create when
 * it starts with 'c' and on update otherwise (the byte is dropped).
 * Lines that are not valid JSON are skipped (the gateway rejects them).
 *
 * Checks: parsing returns 0, invalid_body, or validation_error with a
 * field path under "fields" (or a top-level key); an accepted set keeps an
 * equal copy of the definition, and that copy parses again; a check
 * returns 0 or validation_error naming a field that has a rule; whatever
 * passes on create passes on update. ASan/UBSan and the leak checker
 * watch regcomp/regfree; -timeout catches slow patterns.
 *
 * Seeds: tests/fuzz/seeds/fuzz_fieldrules/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../services/data/fieldrules.h"
#include "lc_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_values(const struct data_fieldrules *fr, const char *p, size_t len)
{
	const char *field = NULL;
	json_t     *v;
	int         create;
	int         rc;
	int         ru;

	if (len == 0) {
		return;
	}
	create = p[0] == 'c';
	v      = json_loadb(p + 1, len - 1, JSON_ALLOW_NUL, NULL);
	if (v == NULL) {
		return;
	}
	rc = data_fieldrules_check(fr, v, create, &field);
	if (rc != 0 &&
	    (rc != LC_EVALIDATION || field == NULL ||
	        data_fieldrules_find(fr, field, strlen(field)) == NULL)) {
		abort();
	}
	ru = data_fieldrules_check(fr, v, 0, NULL);
	if (ru != 0 && ru != LC_EVALIDATION) {
		abort();
	}
	if (rc == 0 && ru != 0) {
		fprintf(stderr, "passes on create, fails on update\n");
		abort();
	}
	json_decref(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct data_fieldrules *fr  = NULL;
	struct data_fieldrules *fr2 = NULL;
	const char             *p   = (const char *) data;
	const char             *end = p + size;
	const char             *nl  = memchr(p, '\n', size);
	char                   *bad = NULL;
	json_t                 *def;
	int                     rv;

	def = json_loadb(p, (size_t) ((nl != NULL ? nl : end) - p),
	    JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (def == NULL) {
		return (0);
	}
	rv = data_fieldrules_parse(def, NULL, &fr, &bad);
	switch (rv) {
	case 0:
		if (bad != NULL) {
			abort();
		}
		break;
	case LC_EINVALID_BODY:
		if (bad != NULL || json_is_object(def)) {
			abort();
		}
		break;
	case LC_EVALIDATION:
		if (bad == NULL ||
		    (strncmp(bad, "fields", 6) != 0 &&
		        json_object_get(def, bad) == NULL)) {
			abort();
		}
		break;
	default:
		abort();
	}
	lc_free(bad);
	if (rv == 0) {
		if (!json_equal(data_fieldrules_json(fr), def) ||
		    data_fieldrules_parse(
		        data_fieldrules_json(fr), NULL, &fr2, NULL) != 0 ||
		    fr2->n != fr->n) {
			abort();
		}
		data_fieldrules_free(fr2);
		p = nl != NULL ? nl + 1 : end;
		while (p < end) {
			const char *e = memchr(p, '\n', (size_t) (end - p));

			if (e == NULL) {
				e = end;
			}
			check_values(fr, p, (size_t) (e - p));
			p = e + 1;
		}
		data_fieldrules_free(fr);
	}
	json_decref(def);
	return (0);
}
