"""Admin collections: the 15 endpoints of API.md §5.1 (collections, schema,
columns, admin records, validation rules, indexes), with §1.7 paging and
the admin access checks."""

from datalib import (COLLECTION_KEYS, DEFAULT_RULES, SYSTEM, DataTest, fake_ulid,
                     is_int, q, uniq_coll)

C = "/admin/collections"


class AdminCollectionsTest(DataTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = cls.mkuser()

    def assertCollection(self, body, name=None):
        self.assertEqual(set(body), COLLECTION_KEYS, body)
        if name:
            self.assertEqual(body["name"], name)
        self.assertTrue(is_int(body["record_count"]) and is_int(body["created_at"])
                        and is_int(body["updated_at"]), body)
        self.assertEqual(set(body["rules"]), {"read", "create", "update", "delete"})

    def test_access(self):
        c = self.coll()
        paths = [("GET", C), ("POST", C), ("GET", C + "/" + c), ("PATCH", C + "/" + c),
                 ("DELETE", C + "/" + c), ("GET", C + "/%s/schema" % c),
                 ("DELETE", C + "/%s/schema/x" % c), ("GET", C + "/%s/records" % c),
                 ("POST", C + "/%s/records" % c), ("GET", C + "/%s/records/%s" % (c, fake_ulid())),
                 ("PATCH", C + "/%s/records/%s" % (c, fake_ulid())),
                 ("DELETE", C + "/%s/records/%s" % (c, fake_ulid())),
                 ("PUT", C + "/%s/rules" % c), ("GET", C + "/%s/indexes" % c),
                 ("POST", C + "/%s/indexes" % c), ("DELETE", C + "/%s/indexes/x" % c)]
        self.assertEqual(len(paths), 16)   # 15 endpoints + list/create share a path
        for m, p in paths:
            body = {} if m in ("POST", "PATCH", "PUT") else None
            self.assertError(self.rec(m, p, body), 401, "auth_required", msg="%s %s" % (m, p))
            self.assertError(self.rec(m, p, body, token=self.alice.token), 403, "admin_required",
                             msg="%s %s" % (m, p))
        self.assertTrue(self.coll_exists(c))

    def test_create_get_list(self):
        name = uniq_coll("Adm")
        r = self.adm("POST", C, {"name": name})
        self.assertStatus(r, 201)
        self.assertCollection(r.body, name)
        self.assertEqual(r.body["rules"], DEFAULT_RULES)
        self.assertEqual(r.body["record_count"], 0)
        self.assertEqual(r.body["created_at"], r.body["updated_at"])
        g = self.adm("GET", C + "/" + name)
        self.assertStatus(g, 200)
        self.assertEqual(g.body, r.body)
        # partial rules: missing ops take the defaults
        n2 = uniq_coll("adm")
        r = self.adm("POST", C, {"name": n2, "rules": {"read": "owner", "delete": {"role": "ops"}}})
        self.assertStatus(r, 201)
        self.assertEqual(r.body["rules"], {"read": "owner", "create": "authenticated",
                                           "update": "owner", "delete": {"role": "ops"}})
        # unknown keys are ignored
        r = self.adm("POST", C, {"name": uniq_coll("adm"), "bogus": 1})
        self.assertStatus(r, 201)

    def test_list_paging_by_name(self):
        prefix = uniq_coll("L") + "x"
        names = [prefix + s for s in ("b", "a", "c", "d")]
        for n in names:
            self.mkcoll(n)
        r = self.adm("GET", C + q(limit=500))
        self.assertStatus(r, 200)
        self.assertEqual(set(r.body), {"items", "total", "page", "limit"})
        all_names = [x["name"] for x in r.body["items"]]
        mine = [n for n in all_names if n.startswith(prefix)]
        self.assertEqual(mine, sorted(names))
        for x in r.body["items"]:
            self.assertCollection(x)
        self.assertEqual(r.body["total"], len(all_names))
        b = self.adm("GET", C + q(limit=2, page=2)).body
        self.assertEqual((b["page"], b["limit"], b["total"]), (2, 2, len(all_names)))
        self.assertEqual([x["name"] for x in b["items"]], all_names[2:4])
        b = self.adm("GET", C + q(page=1000)).body
        self.assertEqual(b["items"], [])
        self.assertEqual(self.adm("GET", C + q(limit=100000)).body["limit"], 500)
        self.assertEqual(self.adm("GET", C).body["limit"], 50)
        for k, v in (("limit", 0), ("limit", "x"), ("page", 0), ("page", "-1")):
            self.assertError(self.adm("GET", C + q(**{k: v})), 400, "invalid_query", k)

    def test_record_count(self):
        c = self.coll()
        a = self.create(c, {"n": 1}, token=self.alice.token)
        self.create(c, {"n": 2}, token=self.alice.token)
        self.assertEqual(self.adm("GET", C + "/" + c).body["record_count"], 2)
        self.assertOKBody(self.rec("DELETE", "/%s/%s" % (c, a["_id"]), token=self.alice.token))
        self.assertEqual(self.adm("GET", C + "/" + c).body["record_count"], 1,
                         "non-deleted records only")

    def test_create_errors(self):
        existing = self.coll(prefix="Ex")
        for name in ("1a", "a-b", "a b", "a'b", "caf\u00e9", "__proto__", "a" * 64, "",
                     "auth", "Admin", "storage", "realtime", "metrics", "openapi", "health",
                     "sqlite_x", "SQLite_stat1", "a;DROP TABLE x"):
            r = self.adm("POST", C, {"name": name})
            self.assertErr(r, 400, "invalid_collection_name", msg=repr(name))
        self.assertError(self.adm("POST", C, {"name": existing}), 409, "collection_exists")
        self.assertError(self.adm("POST", C, {"name": existing.lower()}), 409, "collection_exists")
        self.assertError(self.adm("POST", C, {"name": existing.upper()}), 409, "collection_exists")
        for rules, field in (({"read": "everyone"}, "rules.read"),
                             ({"create": 5}, "rules.create"),
                             ({"update": {"role": 5}}, "rules.update"),
                             ({"read": {"rol": "ops"}}, "rules.read"),
                             ({"read": "Public"}, "rules.read"),
                             ({"update": ["owner"]}, "rules.update")):
            r = self.adm("POST", C, {"name": uniq_coll("bad"), "rules": rules})
            self.assertError(r, 400, "validation_error", field, msg=repr(rules))
        r = self.adm("POST", C, {"name": uniq_coll("bad"), "rules": "public"})
        self.assertError(r, 400, "validation_error", "rules")
        # invalid_collection_name is checked before validation_error
        r = self.adm("POST", C, {"name": "a-b", "rules": {"read": "nope"}})
        self.assertErr(r, 400, "invalid_collection_name")
        # a missing or non-string name
        for body in ({}, {"name": 5}, {"name": None}):
            r = self.adm("POST", C, body)
            self.assertEqual(r.status, 400, (body, r.body))
            self.assertIn(r.body.get("code"), ("validation_error", "invalid_collection_name"))
        self.assertError(self.adm("POST", C, [1]), 400, "invalid_body")
        self.assertError(self.adm("POST", C, b"{"), 400, "invalid_json")

    def test_get_patch_delete_404(self):
        for name in (uniq_coll("nx"), "a;b", "a%27b", "sqlite_master"):
            self.assertError(self.adm("GET", C + "/" + name), 404, "collection_not_found", msg=name)
            self.assertError(self.adm("PATCH", C + "/" + name, {"rules": {"read": "public"}}),
                             404, "collection_not_found", msg=name)
            self.assertError(self.adm("DELETE", C + "/" + name), 404, "collection_not_found",
                             msg=name)
            for sub in ("/schema", "/records", "/indexes", "/records/" + fake_ulid()):
                self.assertError(self.adm("GET", C + "/" + name + sub), 404,
                                 "collection_not_found", msg=name + sub)
            self.assertError(self.adm("PUT", C + "/%s/rules" % name, {"fields": {}}), 404,
                             "collection_not_found")
            self.assertError(self.adm("POST", C + "/%s/indexes" % name, {"column": "x"}), 404,
                             "collection_not_found")
            self.assertError(self.adm("DELETE", C + "/%s/indexes/x" % name), 404,
                             "collection_not_found")
            self.assertError(self.adm("DELETE", C + "/%s/schema/x" % name), 404,
                             "collection_not_found")
            self.assertError(self.adm("POST", C + "/%s/records" % name, {"a": 1}), 404,
                             "collection_not_found")

    def test_patch_rules_merged(self):
        c = self.coll(rules={"read": "owner"})
        before = self.adm("GET", C + "/" + c).body
        r = self.adm("PATCH", C + "/" + c, {"rules": {"create": {"role": "w"}}})
        self.assertStatus(r, 200)
        self.assertCollection(r.body, c)
        self.assertEqual(r.body["rules"], {"read": "owner", "create": {"role": "w"},
                                           "update": "owner", "delete": "owner"})
        self.assertGreaterEqual(r.body["updated_at"], before["updated_at"])
        self.assertEqual(r.body["created_at"], before["created_at"])
        r = self.adm("PATCH", C + "/" + c, {"rules": {"read": "disabled", "delete": "public"}})
        self.assertEqual(r.body["rules"], {"read": "disabled", "create": {"role": "w"},
                                           "update": "owner", "delete": "public"})
        r = self.adm("PATCH", C + "/" + c, {"rules": {"read": "bogus"}})
        self.assertError(r, 400, "validation_error", "rules.read")
        r = self.adm("PATCH", C + "/" + c, {"rules": {"read": "public", "update": 7}})
        self.assertError(r, 400, "validation_error", "rules.update")
        self.assertEqual(self.adm("GET", C + "/" + c).body["rules"]["read"], "disabled",
                         "nothing applied")
        r = self.adm("PATCH", C + "/" + c, {})
        self.assertStatus(r, 200)
        self.assertEqual(r.body["rules"]["read"], "disabled")

    def test_delete_collection(self):
        c = self.coll()
        rec = self.create(c, {"title": "x"}, token=self.alice.token)
        self.assertStatus(self.put_validation(c, {"title": {"type": "text", "maxLength": 5}}), 200)
        self.assertStatus(self.adm("POST", C + "/%s/indexes" % c, {"column": "title"}), 201)
        self.assertOKBody(self.adm("DELETE", C + "/" + c))
        self.assertFalse(self.coll_exists(c))
        self.assertError(self.adm("DELETE", C + "/" + c), 404, "collection_not_found")
        self.assertError(self.get(c, rec["_id"]), 404, "collection_not_found")
        self.assertEqual(self.listing(c)["total"], 0)
        # recreated empty, with default rules and no validation or indexes
        self.create(c, {"title": "longer than five"}, token=self.alice.token)
        s = self.schema(c)
        self.assertEqual(s["validation"], {"fields": {}})
        self.assertEqual(s["indexes"], [])
        self.assertEqual(s["rules"], DEFAULT_RULES)
        self.assertEqual(self.count(c), 1)

    def test_schema(self):
        c = self.coll(rules={"read": "owner"})
        self.rec("POST", "/" + c, b'{"title":"t","views":1,"price":1.5,"ok":true,"tags":[1]}',
                 token=self.alice.token, headers={"Content-Type": "application/json"})
        s = self.schema(c)
        self.assertEqual(set(s), {"name", "fields", "rules", "validation", "indexes", "relations"})
        self.assertEqual(s["name"], c)
        self.assertEqual(s["fields"], [
            {"name": "_id", "type": "text", "system": True},
            {"name": "_created_at", "type": "integer", "system": True},
            {"name": "_updated_at", "type": "integer", "system": True},
            {"name": "_owner_id", "type": "text", "system": True},
            {"name": "_deleted_at", "type": "integer", "system": True},
            {"name": "title", "type": "text", "system": False},
            {"name": "views", "type": "integer", "system": False},
            {"name": "price", "type": "real", "system": False},
            {"name": "ok", "type": "boolean", "system": False},
            {"name": "tags", "type": "json", "system": False}])
        self.assertEqual(s["rules"]["read"], "owner")
        self.assertEqual(s["validation"], {"fields": {}})
        self.assertEqual(s["indexes"], [])
        self.assertEqual(s["relations"], [])
        v = {"title": {"type": "text", "maxLength": 10}}
        self.assertStatus(self.put_validation(c, v), 200)
        self.assertStatus(self.adm("POST", C + "/%s/indexes" % c, {"column": "views"}), 201)
        s = self.schema(c)
        self.assertEqual(s["validation"], {"fields": v})
        self.assertEqual(s["indexes"], [{"column": "views", "unique": False}])

    def test_drop_column(self):
        c = self.coll()
        a = self.create(c, {"keep": 1, "gone": "x", "idx": 2}, token=self.alice.token)
        self.assertStatus(self.put_validation(c, {"gone": {"maxLength": 3}, "keep": {"min": 0}}), 200)
        self.assertStatus(self.adm("POST", C + "/%s/indexes" % c, {"column": "gone"}), 201)
        self.assertOKBody(self.adm("DELETE", C + "/%s/schema/gone" % c))
        self.assertEqual(list(self.columns(c)), ["keep", "idx"])
        g = self.get(c, a["_id"]).body
        self.assertNotIn("gone", g)
        self.assertEqual(g["keep"], 1)
        s = self.schema(c)
        self.assertEqual(s["validation"], {"fields": {"keep": {"min": 0}}})
        self.assertEqual(s["indexes"], [])
        self.assertEqual(self.adm("GET", C + "/%s/indexes" % c).body, {"items": []})
        # the name is free again, with a new type
        b = self.create(c, {"gone": True}, token=self.alice.token)
        self.assertIs(b["gone"], True)
        self.assertEqual(self.columns(c)["gone"], "boolean")
        self.assertIsNone(self.get(c, a["_id"]).body["gone"])
        for col in SYSTEM:
            self.assertError(self.adm("DELETE", C + "/%s/schema/%s" % (c, col)), 400,
                             "system_field", msg=col)
        self.assertError(self.adm("DELETE", C + "/%s/schema/nope" % c), 404, "not_found")
        self.assertError(self.adm("DELETE", C + "/%s/schema/a%%3Bb" % c), 404, "not_found")

    def test_schema_changes_seen_at_once(self):
        """Column metadata caches are invalidated on every schema change: each
        request right after a change sees it (whichever worker serves it)."""
        c = self.coll()
        for i in range(12):
            v = i if i % 2 == 0 else "s%d" % i
            want = "integer" if i % 2 == 0 else "text"
            r = self.rec("POST", "/" + c, {"x": v}, token=self.alice.token)
            self.assertStatus(r, 201, "round %d" % i)
            self.assertEqual(r.body["x"], v)
            bad = "str" if i % 2 == 0 else 5
            self.assertError(self.rec("POST", "/" + c, {"x": bad}, token=self.alice.token),
                             400, "type_mismatch", "x", msg="round %d" % i)
            self.assertEqual(self.columns(c), {"x": want})
            self.assertEqual(len(self.listing(c, q(filter="x:ne:null"))["items"]), 1)
            self.assertOKBody(self.adm("DELETE", C + "/%s/schema/x" % c))
            self.assertNotIn("x", self.listing(c)["items"][0])
        # rules changes too
        for rule in ("disabled", "public", "authenticated", "public"):
            self.set_access(c, {"read": rule})
            r = self.rec("GET", "/" + c)
            self.assertEqual(r.status, {"disabled": 403, "public": 200, "authenticated": 401}[rule])
        # a dropped and re-created collection starts empty
        self.assertOKBody(self.adm("DELETE", C + "/" + c))
        self.mkcoll(c, rules={"read": "disabled"})
        self.assertError(self.rec("GET", "/" + c), 403, "forbidden")
        self.assertEqual(self.columns(c), {})
        self.assertEqual(self.count(c, token=self.cluster.admin), 0)

    def test_admin_records(self):
        c = self.coll(rules={"read": "disabled", "create": "disabled", "update": "disabled",
                             "delete": "disabled"})
        R = C + "/%s/records" % c
        r = self.adm("POST", R, {"n": 1, "_owner_id": self.alice.id})
        self.assertStatus(r, 201)
        self.assertRecord(r.body, owner=self.alice.id)
        a = r.body
        r = self.adm("POST", R, {"n": 2, "_owner_id": None})
        self.assertStatus(r, 201)
        self.assertIsNone(r.body["_owner_id"])
        b = r.body
        r = self.adm("POST", R, {"n": 3})
        self.assertIsNone(r.body["_owner_id"])
        cc = r.body
        for bad in (5, True, {"x": 1}, ["a"]):
            r = self.adm("POST", R, {"n": 4, "_owner_id": bad})
            self.assertError(r, 400, "validation_error", "_owner_id", msg=repr(bad))
        # type checks apply
        self.assertError(self.adm("POST", R, {"n": "x"}), 400, "type_mismatch", "n")
        self.assertError(self.adm("POST", R, {"b-c": 1}), 400, "invalid_field_name", "b-c")
        # soft-deleted records: listed by default, readable and patchable
        self.assertOKBody(self.rec("DELETE", "/%s/%s" % (c, b["_id"]), token=self.cluster.admin))
        lst = self.adm("GET", R).body
        self.assertEqual(set(lst), {"items", "total", "page", "limit", "next_cursor"})
        self.assertEqual([x["_id"] for x in lst["items"]], [a["_id"], b["_id"], cc["_id"]])
        self.assertEqual(lst["total"], 3)
        lst = self.adm("GET", R + q(include_deleted="false")).body
        self.assertEqual([x["_id"] for x in lst["items"]], [a["_id"], cc["_id"]])
        lst = self.adm("GET", R + q(("filter", "n:gte:2"), ("sort", "-n"), ("limit", 1))).body
        self.assertEqual([x["_id"] for x in lst["items"]], [cc["_id"]])
        self.assertEqual((lst["total"], lst["next_cursor"]), (2, cc["_id"]))
        self.assertError(self.adm("GET", R + q(filter="n:bogus:1")), 400, "invalid_filter", "n")
        self.assertErr(self.adm("GET", R + q(sort="n:up")), 400, "invalid_query")
        self.assertErr(self.adm("GET", R + q(after=fake_ulid())), 400, "invalid_cursor")
        g = self.adm("GET", R + "/" + b["_id"])
        self.assertStatus(g, 200)
        self.assertTrue(is_int(g.body["_deleted_at"]))
        g = self.adm("GET", R + "/" + a["_id"] + q(fields="n"))
        self.assertEqual(g.body, {"_id": a["_id"], "n": 1})
        p = self.adm("PATCH", R + "/" + b["_id"], {"n": 20, "_owner_id": self.alice.id,
                                                 "_deleted_at": None, "_id": fake_ulid()})
        self.assertStatus(p, 200)
        self.assertEqual((p.body["n"], p.body["_owner_id"], p.body["_id"]),
                         (20, self.alice.id, b["_id"]))
        self.assertTrue(is_int(p.body["_deleted_at"]), "still deleted: only restore clears it")
        p = self.adm("PATCH", R + "/" + a["_id"], {"_owner_id": None})
        self.assertIsNone(p.body["_owner_id"])
        self.assertError(self.adm("PATCH", R + "/" + a["_id"], {"n": "x"}), 400, "type_mismatch", "n")
        # hard delete
        self.assertOKBody(self.adm("DELETE", R + "/" + cc["_id"]))
        self.assertError(self.adm("GET", R + "/" + cc["_id"]), 404, "record_not_found")
        self.assertError(self.adm("DELETE", R + "/" + cc["_id"]), 404, "record_not_found")
        self.assertError(self.rec("POST", "/%s/%s/restore" % (c, cc["_id"]),
                                  token=self.cluster.admin), 404, "record_not_found")
        # a soft-deleted record can be hard-deleted
        self.assertOKBody(self.adm("DELETE", R + "/" + b["_id"]))
        self.assertEqual(self.all_ids_admin(c), [a["_id"]])
        for m, body in (("GET", None), ("PATCH", {"n": 1}), ("DELETE", None)):
            self.assertError(self.adm(m, R + "/" + fake_ulid(), body), 404, "record_not_found")
            self.assertError(self.adm(m, R + "/nope", body), 404, "record_not_found")
        self.assertEqual(self.adm("GET", C + "/" + c).body["record_count"], 1)

    def test_indexes(self):
        c = self.coll()
        I = C + "/%s/indexes" % c
        self.create(c, {"title": "a", "n": 1, "code": "x"}, token=self.alice.token)
        self.create(c, {"title": "a", "n": 2, "code": "y"}, token=self.alice.token)
        self.assertEqual(self.adm("GET", I).body, {"items": []})
        r = self.adm("POST", I, {"column": "title"})
        self.assertStatus(r, 201)
        self.assertEqual(r.body, {"column": "title", "unique": False})
        r = self.adm("POST", I, {"column": "n", "unique": True})
        self.assertStatus(r, 201)
        self.assertEqual(r.body, {"column": "n", "unique": True})
        self.assertEqual(self.adm("GET", I).body["items"],
                         [{"column": "title", "unique": False}, {"column": "n", "unique": True}])
        self.assertError(self.adm("POST", I, {"column": "title"}), 409, "index_exists")
        self.assertError(self.adm("POST", I, {"column": "title", "unique": True}), 409,
                         "index_exists")
        self.assertError(self.adm("POST", I, {"column": "title2", "unique": True}), 400,
                         "validation_error", "column")
        self.assertError(self.adm("POST", I, {"column": "nope"}), 400, "validation_error", "column")
        for col in SYSTEM:
            self.assertError(self.adm("POST", I, {"column": col}), 400, "system_field", msg=col)
        for body in ({}, {"column": 5}, {"column": "title", "unique": "yes"}):
            self.assertErr(self.adm("POST", I, body), 400, "validation_error", msg=repr(body))
        # a unique index over existing duplicates
        self.assertError(self.adm("POST", I, {"column": "title", "unique": True}), 409,
                         "index_exists")
        c2 = self.coll()
        self.create(c2, {"t": "dup"}, token=self.alice.token)
        self.create(c2, {"t": "dup"}, token=self.alice.token)
        self.assertErr(self.adm("POST", C + "/%s/indexes" % c2, {"column": "t", "unique": True}),
                       409, "unique_violation")
        self.assertEqual(self.adm("GET", C + "/%s/indexes" % c2).body, {"items": []})
        # the unique index is enforced on writes
        self.assertError(self.rec("POST", "/" + c, {"n": 1}, token=self.alice.token),
                         409, "unique_violation", "n")
        self.create(c, {"n": None}, token=self.alice.token)
        self.create(c, {"n": None}, token=self.alice.token)
        # unique validation rules keep their own internal index: not listed
        self.assertStatus(self.put_validation(c, {"code": {"unique": True}}), 200)
        self.assertEqual(len(self.adm("GET", I).body["items"]), 2)
        # delete
        self.assertOKBody(self.adm("DELETE", I + "/n"))
        self.assertError(self.adm("DELETE", I + "/n"), 404, "not_found")
        self.assertError(self.adm("DELETE", I + "/code"), 404, "not_found")
        self.assertError(self.adm("DELETE", I + "/nope"), 404, "not_found")
        self.assertEqual(self.adm("GET", I).body["items"], [{"column": "title", "unique": False}])
        self.create(c, {"n": 1}, token=self.alice.token)
