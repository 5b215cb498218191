/*
 * rules.c -- access rules of collections (API.md §3.3): parsing and
 * packing the rules object, who the caller is, and the collection-level
 * and record-level checks. Pure functions of their arguments (the caller's
 * current roles and verified flag come from the gateway on every request;
 * require_email_verification is passed in), so every case is unit-tested
 * in rules_test.c.
 */
#include <string.h>

#include "data.h"
#include "lc_err.h"

static const char *const kind_names[] = {
	[DATA_R_PUBLIC]        = "public",
	[DATA_R_AUTHENTICATED] = "authenticated",
	[DATA_R_OWNER]         = "owner",
	[DATA_R_DISABLED]      = "disabled",
};

void
data_caller_init(struct data_caller *c, const struct lc_req *rq)
{
	const json_t *uid = json_object_get(rq->caller, "uid");
	json_t       *roles;

	memset(c, 0, sizeof(*c));
	switch (rq->caller_kind) {
	case LC_CALLER_ADMIN:
	case LC_CALLER_SERVICE:
		c->admin = 1;
		return;
	case LC_CALLER_USER:
	case LC_CALLER_APIKEY:
		break;
	default:
		return;
	}
	// A user without a usable id cannot own anything nor be checked:
	// treat it as anonymous (least privilege).
	if (!json_is_string(uid) || json_string_length(uid) == 0 ||
	    json_string_length(uid) > LC_RID_MAX ||
	    strlen(json_string_value(uid)) != json_string_length(uid)) {
		return;
	}
	c->user     = 1;
	c->uid      = json_string_value(uid);
	roles       = json_object_get(rq->caller, "roles");
	c->roles    = json_is_array(roles) ? roles : NULL;
	c->verified = json_is_true(json_object_get(rq->caller, "verified"));
}

void
data_rules_default(struct data_rules *out)
{
	memset(out, 0, sizeof(*out));
	out->read.kind   = DATA_R_PUBLIC;
	out->create.kind = DATA_R_AUTHENTICATED;
	out->update.kind = DATA_R_OWNER;
	out->del.kind    = DATA_R_OWNER;
}

// One rule value: a kind name or {"role": "<name>"} (exactly one key, a
// non-empty string without NUL of at most DATA_ROLE_MAX bytes).
static int
rule_parse(const json_t *v, struct data_rule *out)
{
	const json_t *role;
	size_t        len;

	if (json_is_string(v)) {
		for (size_t i = 0; i < LC_NELEM(kind_names); i++) {
			if (strcmp(json_string_value(v), kind_names[i]) == 0 &&
			    json_string_length(v) == strlen(kind_names[i])) {
				out->kind    = (enum data_rule_kind) i;
				out->role[0] = '\0';
				return (0);
			}
		}
		return (LC_EVALIDATION);
	}
	if (!json_is_object(v) || json_object_size(v) != 1 ||
	    !json_is_string(role = json_object_get(v, "role"))) {
		return (LC_EVALIDATION);
	}
	len = json_string_length(role);
	if (len == 0 || len > DATA_ROLE_MAX ||
	    strlen(json_string_value(role)) != len) {
		return (LC_EVALIDATION);
	}
	out->kind = DATA_R_ROLE;
	memcpy(out->role, json_string_value(role), len + 1);
	return (0);
}

int
data_rules_parse(const json_t *j, struct data_rules *r, const char **bad_op)
{
	struct data_rules n = *r;
	struct {
		const char       *key;
		struct data_rule *rule;
	} ops[] = {
		{ "read", &n.read },
		{ "create", &n.create },
		{ "update", &n.update },
		{ "delete", &n.del },
	};

	*bad_op = NULL;
	if (!json_is_object(j)) {
		return (LC_EVALIDATION);
	}
	for (size_t i = 0; i < LC_NELEM(ops); i++) {
		const json_t *v = json_object_get(j, ops[i].key);

		if (v != NULL && rule_parse(v, ops[i].rule) != 0) {
			*bad_op = ops[i].key;
			return (LC_EVALIDATION);
		}
	}
	*r = n;
	return (0);
}

static json_t *
rule_pack(const struct data_rule *r)
{
	if (r->kind == DATA_R_ROLE) {
		return (json_pack("{s:s}", "role", r->role));
	}
	return (json_string(kind_names[r->kind]));
}

json_t *
data_rules_pack(const struct data_rules *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "read", rule_pack(&r->read));
	json_object_set_new(o, "create", rule_pack(&r->create));
	json_object_set_new(o, "update", rule_pack(&r->update));
	json_object_set_new(o, "delete", rule_pack(&r->del));
	return (o);
}

static int
has_role(const struct data_caller *c, const char *role)
{
	size_t  i;
	json_t *v;
	size_t  len = strlen(role);

	json_array_foreach(c->roles, i, v)
	{
		if (json_is_string(v) && json_string_length(v) == len &&
		    memcmp(json_string_value(v), role, len) == 0) {
			return (1);
		}
	}
	return (0);
}

int
data_rule_check(const struct data_rule *r, const struct data_caller *c,
    int is_create, int require_verified, int *owner_only)
{
	*owner_only = 0;
	if (c->admin) {
		return (0);
	}
	if (r->kind == DATA_R_DISABLED) {
		return (LC_EFORBIDDEN);
	}
	if (r->kind == DATA_R_PUBLIC) {
		return (0);
	}
	if (!c->user) {
		return (LC_EAUTH_REQUIRED);
	}
	if (r->kind == DATA_R_ROLE && !has_role(c, r->role)) {
		return (LC_EFORBIDDEN);
	}
	if (require_verified && !c->verified) {
		return (LC_EEMAIL_NOT_VERIFIED);
	}
	*owner_only = r->kind == DATA_R_OWNER && !is_create;
	return (0);
}

int
data_caller_owns(const struct data_caller *c, const char *owner_id)
{
	return (c->user && owner_id != NULL && strcmp(c->uid, owner_id) == 0);
}

int
data_rule_record(const struct data_rules *rs, const struct data_caller *c,
    int require_verified, const char *owner_id)
{
	int owner_only;

	if (c->admin || data_caller_owns(c, owner_id)) {
		return (0);
	}
	// Not the owner: is the record visible to this caller at all?
	if (data_rule_check(&rs->read, c, 0, require_verified, &owner_only) !=
	        0 ||
	    owner_only) {
		return (LC_ERECORD_NOT_FOUND);
	}
	return (LC_EFORBIDDEN);
}
