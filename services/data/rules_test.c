/*
 * rules_test.c -- access rules (§3.3, rules.c): the caller as the gateway
 * passes it, parsing and packing rules, the collection-level matrix
 * (every rule x anonymous / user / role holder / unverified / admin) and
 * the record level (404 when the read rule hides the record, else 403).
 */
// cmocka.h needs these first; clang-format would sort it above them.
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <string.h>

#include "data.h"
#include "lc_err.h"

static void
caller_of(struct lc_req *rq, int kind, const char *caller_json,
    struct data_caller *c)
{
	lc_req_init(rq);
	rq->caller_kind = kind;
	json_decref(rq->caller);
	rq->caller = json_loads(caller_json, 0, NULL);
	assert_non_null(rq->caller);
	data_caller_init(c, rq);
}

static void
test_caller(void **state)
{
	struct lc_req      rq;
	struct data_caller c;

	(void) state;
	caller_of(&rq, LC_CALLER_USER,
	    "{\"kind\":\"user\",\"uid\":\"U1\",\"roles\":[\"mod\"],"
	    "\"verified\":true}",
	    &c);
	assert_true(c.user);
	assert_false(c.admin);
	assert_string_equal(c.uid, "U1");
	assert_true(c.verified);
	assert_non_null(c.roles);
	lc_req_fini(&rq);

	caller_of(
	    &rq, LC_CALLER_APIKEY, "{\"kind\":\"apikey\",\"uid\":\"U2\"}", &c);
	assert_true(c.user);
	assert_false(c.verified);
	assert_null(c.roles);
	lc_req_fini(&rq);

	// A user without an id is anonymous (least privilege).
	caller_of(&rq, LC_CALLER_USER, "{\"kind\":\"user\",\"uid\":7}", &c);
	assert_false(c.user);
	assert_false(c.admin);
	lc_req_fini(&rq);
	caller_of(&rq, LC_CALLER_USER, "{\"kind\":\"user\",\"uid\":\"\"}", &c);
	assert_false(c.user);
	lc_req_fini(&rq);

	caller_of(&rq, LC_CALLER_ADMIN, "{\"kind\":\"admin\"}", &c);
	assert_true(c.admin);
	assert_false(c.user);
	lc_req_fini(&rq);

	caller_of(
	    &rq, LC_CALLER_ANON, "{\"kind\":\"anon\",\"uid\":\"U1\"}", &c);
	assert_false(c.user);
	assert_false(c.admin);
	lc_req_fini(&rq);
}

static void
test_parse_pack(void **state)
{
	struct data_rules r;
	const char       *bad;
	json_t           *j;
	json_t           *back;

	(void) state;
	data_rules_default(&r);
	back = data_rules_pack(&r);
	j    = json_loads("{\"read\":\"public\",\"create\":\"authenticated\","
	                     "\"update\":\"owner\",\"delete\":\"owner\"}",
	       0, NULL);
	assert_true(json_equal(back, j));
	json_decref(back);
	json_decref(j);

	// Partial: the other ops keep their values.
	j = json_loads(
	    "{\"read\":{\"role\":\"staff\"},\"delete\":\"disabled\"}", 0,
	    NULL);
	assert_int_equal(data_rules_parse(j, &r, &bad), 0);
	assert_int_equal(r.read.kind, DATA_R_ROLE);
	assert_string_equal(r.read.role, "staff");
	assert_int_equal(r.create.kind, DATA_R_AUTHENTICATED);
	assert_int_equal(r.del.kind, DATA_R_DISABLED);
	json_decref(j);

	static const char *const bads[][2] = {
		{ "{\"read\":\"everyone\"}", "read" },
		{ "{\"create\":1}", "create" },
		{ "{\"update\":{\"role\":\"\"}}", "update" },
		{ "{\"delete\":{\"role\":\"a\",\"x\":1}}", "delete" },
		{ "{\"read\":{\"role\":5}}", "read" },
		{ "{\"read\":\"Public\"}", "read" },
		{ "{\"read\":null}", "read" },
	};
	for (size_t i = 0; i < LC_NELEM(bads); i++) {
		struct data_rules before = r;

		j = json_loads(bads[i][0], 0, NULL);
		assert_non_null(j);
		assert_int_equal(
		    data_rules_parse(j, &r, &bad), LC_EVALIDATION);
		assert_string_equal(bad, bads[i][1]);
		// A failed parse changes nothing.
		assert_memory_equal(&before, &r, sizeof(r));
		json_decref(j);
	}
	j = json_string("public");
	assert_int_equal(data_rules_parse(j, &r, &bad), LC_EVALIDATION);
	json_decref(j);
}

struct who {
	const char        *name;
	struct data_caller c;
};

static json_t *mod_roles;

static void
callers(struct who w[5])
{
	memset(w, 0, 5 * sizeof(*w));
	w[0].name = "anon";
	w[1].name = "user";
	w[1].c    = (struct data_caller) { 0, 1, "U1", NULL, 1 };
	w[2].name = "mod";
	w[2].c    = (struct data_caller) { 0, 1, "U2", mod_roles, 1 };
	w[3].name = "unverified";
	w[3].c    = (struct data_caller) { 0, 1, "U3", NULL, 0 };
	w[4].name = "admin";
	w[4].c    = (struct data_caller) { 1, 0, NULL, NULL, 0 };
}

static void
test_matrix(void **state)
{
	struct data_rule rules[5] = {
		{ DATA_R_PUBLIC, "" },
		{ DATA_R_AUTHENTICATED, "" },
		{ DATA_R_OWNER, "" },
		{ DATA_R_DISABLED, "" },
		{ DATA_R_ROLE, "mod" },
	};
	// want[rule][who] with require_email_verification off / on.
	static const int off[5][5] = {
		{ 0, 0, 0, 0, 0 },
		{ LC_EAUTH_REQUIRED, 0, 0, 0, 0 },
		{ LC_EAUTH_REQUIRED, 0, 0, 0, 0 },
		{ LC_EFORBIDDEN, LC_EFORBIDDEN, LC_EFORBIDDEN, LC_EFORBIDDEN,
		    0 },
		{ LC_EAUTH_REQUIRED, LC_EFORBIDDEN, 0, LC_EFORBIDDEN, 0 },
	};
	static const int on[5][5] = {
		{ 0, 0, 0, 0, 0 },
		{ LC_EAUTH_REQUIRED, 0, 0, LC_EEMAIL_NOT_VERIFIED, 0 },
		{ LC_EAUTH_REQUIRED, 0, 0, LC_EEMAIL_NOT_VERIFIED, 0 },
		{ LC_EFORBIDDEN, LC_EFORBIDDEN, LC_EFORBIDDEN, LC_EFORBIDDEN,
		    0 },
		// the role check comes before the verification check
		{ LC_EAUTH_REQUIRED, LC_EFORBIDDEN, 0, LC_EFORBIDDEN, 0 },
	};
	struct who w[5];
	int        own;

	(void) state;
	mod_roles = json_pack("[s,s]", "x", "mod");
	callers(w);
	for (int r = 0; r < 5; r++) {
		for (int k = 0; k < 5; k++) {
			assert_int_equal(
			    data_rule_check(&rules[r], &w[k].c, 0, 0, &own),
			    off[r][k]);
			if (off[r][k] == 0) {
				// Owner moves to the record level,
				// except for the admin.
				assert_int_equal(own, r == 2 && !w[k].c.admin);
			}
			assert_int_equal(
			    data_rule_check(&rules[r], &w[k].c, 0, 1, &own),
			    on[r][k]);
			// create: owner means any user, no record level
			if (data_rule_check(&rules[r], &w[k].c, 1, 0, &own) ==
			    0) {
				assert_false(own);
			}
		}
	}
	// A role name must match exactly.
	rules[4] = (struct data_rule) { DATA_R_ROLE, "Mod" };
	assert_int_equal(
	    data_rule_check(&rules[4], &w[2].c, 0, 0, &own), LC_EFORBIDDEN);
	json_decref(mod_roles);
}

static void
test_record_level(void **state)
{
	struct data_rules rs;
	struct who        w[5];

	(void) state;
	mod_roles = json_pack("[s]", "mod");
	callers(w);
	data_rules_default(&rs); // read public, update/delete owner
	assert_int_equal(data_rule_record(&rs, &w[1].c, 0, "U1"), 0);
	assert_int_equal(
	    data_rule_record(&rs, &w[1].c, 0, "U9"), LC_EFORBIDDEN);
	// _owner_id null: owned by nobody.
	assert_int_equal(
	    data_rule_record(&rs, &w[1].c, 0, NULL), LC_EFORBIDDEN);
	assert_int_equal(data_rule_record(&rs, &w[4].c, 0, "U9"), 0);

	// An owner read rule hides others' records: 404.
	rs.read.kind = DATA_R_OWNER;
	assert_int_equal(
	    data_rule_record(&rs, &w[1].c, 0, "U9"), LC_ERECORD_NOT_FOUND);
	assert_int_equal(data_rule_record(&rs, &w[1].c, 0, "U1"), 0);
	// A read rule the caller fails hides everything: 404.
	rs.read = (struct data_rule) { DATA_R_ROLE, "mod" };
	assert_int_equal(
	    data_rule_record(&rs, &w[1].c, 0, "U9"), LC_ERECORD_NOT_FOUND);
	assert_int_equal(
	    data_rule_record(&rs, &w[2].c, 0, "U9"), LC_EFORBIDDEN);
	rs.read.kind = DATA_R_DISABLED;
	assert_int_equal(
	    data_rule_record(&rs, &w[2].c, 0, "U9"), LC_ERECORD_NOT_FOUND);
	// Verification required and missing: the record is hidden.
	rs.read.kind = DATA_R_AUTHENTICATED;
	assert_int_equal(
	    data_rule_record(&rs, &w[3].c, 1, "U9"), LC_ERECORD_NOT_FOUND);
	assert_int_equal(
	    data_rule_record(&rs, &w[3].c, 0, "U9"), LC_EFORBIDDEN);
	assert_true(data_caller_owns(&w[1].c, "U1"));
	assert_false(data_caller_owns(&w[1].c, "U10"));
	assert_false(data_caller_owns(&w[0].c, NULL));
	json_decref(mod_roles);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caller),
		cmocka_unit_test(test_parse_pack),
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_record_level),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
