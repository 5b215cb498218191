"""Bulk create (≤500, atomic, create rule checked once) and batch (≤100
operations, atomic, per-operation rules) (API.md §3.8, §3.3, §1.8)."""

from datalib import DataTest, all_rules, fake_ulid


class BulkTest(DataTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = cls.mkuser()

    def bulk(self, coll, body, token=None):
        return self.rec("POST", "/%s/bulk" % coll, body, token=token or self.alice.token)

    def test_array_and_object_forms(self):
        c = self.coll()
        r = self.bulk(c, [{"i": 0, "s": "a"}, {"i": 1}, {"s": "c", "new": True}])
        self.assertStatus(r, 201)
        self.assertEqual(set(r.body), {"items"})
        items = r.body["items"]
        self.assertEqual([x["i"] for x in items], [0, 1, None], "input order")
        for x in items:
            self.assertRecord(x, owner=self.alice.id)
            self.assertEqual(set(x) - {"_id", "_created_at", "_updated_at", "_owner_id",
                                       "_deleted_at"}, {"i", "s", "new"})
        ids = [x["_id"] for x in items]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(set(ids)), 3)
        self.assertEqual(self.ids(c), ids)
        r = self.bulk(c, {"records": [{"i": 3}, {"i": 4}]})
        self.assertStatus(r, 201)
        self.assertEqual([x["i"] for x in r.body["items"]], [3, 4])
        self.assertEqual(self.count(c), 5)
        # system keys are dropped per item
        r = self.bulk(c, [{"_owner_id": fake_ulid(), "_id": fake_ulid(), "i": 5}])
        self.assertStatus(r, 201)
        self.assertEqual(r.body["items"][0]["_owner_id"], self.alice.id)

    def test_limits(self):
        c = self.coll()
        for body in ([], {"records": []}, [{"i": i} for i in range(501)],
                     {"records": [{"i": i} for i in range(501)]}):
            self.assertError(self.bulk(c, body), 400, "too_many_items")
        self.assertEqual(self.count(c), 0)
        r = self.bulk(c, [{"i": i, "pad": "p" * 40} for i in range(500)])
        self.assertStatus(r, 201)
        self.assertEqual(len(r.body["items"]), 500)
        self.assertEqual([x["i"] for x in r.body["items"]], list(range(500)))
        self.assertEqual(self.count(c), 500)

    def test_body_shapes(self):
        c = self.coll()
        for body in ({"a": 1}, {"records": {"a": 1}}, {"records": "x"}, b'"x"', b"5", b"null"):
            r = self.bulk(c, body)
            self.assertErr(r, 400, "invalid_body", msg=repr(body))
        self.assertError(self.rec("POST", "/%s/bulk" % c, b"[{", token=self.alice.token),
                         400, "invalid_json")
        # an item that is not an object
        r = self.bulk(c, [{"a": 1}, 5])
        self.assertErr(r, 400, "invalid_body")
        self.assertTrue(r.body["error"].startswith("Item 1: "), r.body)
        self.assertEqual(self.count(c), 0)

    def test_16_mib_body(self):
        c = self.coll()
        items = [{"i": i, "blob": "b" * 8000} for i in range(300)]   # ~2.4 MB
        r = self.bulk(c, items)
        self.assertStatus(r, 201)
        self.assertEqual(self.count(c), 300)
        r = self.rec("POST", "/%s/bulk" % c, b"[" + b" " * (16 * 1024 * 1024 + 1) + b"]",
                     token=self.alice.token, headers={"Content-Type": "application/json"})
        self.assertError(r, 413, "body_too_large")

    def test_one_request_for_rate_limiting(self):
        c = self.coll()
        u = self.mkuser()
        self.settings(rate_limit_authenticated=2)
        for _ in range(2):
            r = self.bulk(c, [{"i": i} for i in range(200)], token=u.token)
            self.assertStatus(r, 201)
        r = self.bulk(c, [{"i": 0}], token=u.token)
        self.assertError(r, 429, "rate_limited")
        self.assertEqual(self.count(c, token=self.cluster.admin), 400)

    def test_atomic(self):
        c = self.coll()
        self.create(c, {"n": 1, "s": "x"}, token=self.alice.token)
        cases = [
            ([{"n": 2}, {"n": 3}, {"n": "bad"}], "type_mismatch", 2, "n"),
            ([{"n": 2, "brand_new": "x"}, {"bad-name": 1}], "invalid_field_name", 1, "bad-name"),
            ([{"s": "ok"}, {"s": 5}, {"s": []}], "type_mismatch", 1, "s"),
        ]
        for body, code, at, field in cases:
            r = self.bulk(c, body)
            self.assertError(r, 400, code, field, msg=repr(body))
            self.assertTrue(r.body["error"].startswith("Item %d: " % at), r.body)
            self.assertEqual(self.count(c), 1, "nothing left behind")
        self.assertNotIn("brand_new", self.columns(c), "no column from a failed bulk")
        # the type of a new column is decided by the first item; a later item must fit
        r = self.bulk(c, [{"fresh": 1}, {"fresh": "one"}])
        self.assertError(r, 400, "type_mismatch", "fresh")
        self.assertTrue(r.body["error"].startswith("Item 1: "), r.body)
        self.assertNotIn("fresh", self.columns(c))
        self.assertEqual(self.count(c), 1)

    def test_atomic_validation_and_unique(self):
        c = self.coll()
        r = self.put_validation(c, {"slug": {"type": "text", "unique": True},
                                    "title": {"required": True}})
        self.assertStatus(r, 200)
        self.create(c, {"slug": "taken", "title": "t"}, token=self.alice.token)
        r = self.bulk(c, [{"slug": "a", "title": "t"}, {"slug": "b"}])
        self.assertError(r, 400, "validation_error", "title")
        self.assertTrue(r.body["error"].startswith("Item 1: "), r.body)
        r = self.bulk(c, [{"slug": "a", "title": "t"}, {"slug": "taken", "title": "t"}])
        self.assertError(r, 409, "unique_violation", "slug")
        self.assertTrue(r.body["error"].startswith("Item 1: "), r.body)
        # a clash inside the same bulk
        r = self.bulk(c, [{"slug": "dup", "title": "t"}, {"slug": "x", "title": "t"},
                          {"slug": "dup", "title": "t"}])
        self.assertError(r, 409, "unique_violation", "slug")
        self.assertTrue(r.body["error"].startswith("Item 2: "), r.body)
        self.assertEqual(self.count(c), 1)

    def test_create_rule_once(self):
        c = self.coll(rules={"create": {"role": "writer"}})
        self.assertError(self.rec("POST", "/%s/bulk" % c, [{"a": 1}]), 401, "auth_required")
        self.assertError(self.bulk(c, [{"a": 1}]), 403, "forbidden")
        # the rule is checked before the body
        self.assertError(self.bulk(c, []), 403, "forbidden")
        w = self.mkuser(roles=["writer"])
        r = self.bulk(c, [{"a": 1}, {"a": 2}], token=w.token)
        self.assertStatus(r, 201)
        self.assertEqual([x["_owner_id"] for x in r.body["items"]], [w.id, w.id])
        r = self.rec("POST", "/%s/bulk" % c, [{"a": 3}], token=self.cluster.admin)
        self.assertStatus(r, 201)
        self.assertIsNone(r.body["items"][0]["_owner_id"])
        pub = self.coll(rules={"create": "public"})
        r = self.rec("POST", "/%s/bulk" % pub, [{"a": 1}])
        self.assertStatus(r, 201)
        self.assertIsNone(r.body["items"][0]["_owner_id"])


class BatchTest(DataTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = cls.mkuser()
        cls.bob = cls.mkuser()

    def batch(self, coll, body, token=None):
        return self.rec("POST", "/%s/batch" % coll, body, token=token or self.alice.token)

    def snapshot(self, coll):
        r = self.adm("GET", "/admin/collections/%s/records?limit=500" % coll)
        self.assertStatus(r, 200)
        return r.body["items"]

    def test_operations(self):
        c = self.coll()
        a = self.create(c, {"n": 1, "s": "a"}, token=self.alice.token)
        b = self.create(c, {"n": 2}, token=self.alice.token)
        r = self.batch(c, {"operations": [
            {"op": "create", "data": {"n": 3, "s": "new"}},
            {"op": "update", "id": a["_id"], "data": {"n": 10, "extra": True}},
            {"op": "delete", "id": b["_id"]},
        ]})
        self.assertStatus(r, 200)
        self.assertEqual(set(r.body), {"results"})
        res = r.body["results"]
        self.assertEqual(len(res), 3)
        self.assertRecord(res[0], owner=self.alice.id)
        self.assertEqual(res[0]["n"], 3)
        self.assertEqual(res[1]["_id"], a["_id"])
        self.assertEqual((res[1]["n"], res[1]["s"], res[1]["extra"]), (10, "a", True))
        self.assertGreaterEqual(res[1]["_updated_at"], a["_updated_at"])
        self.assertEqual(res[2], {"_id": b["_id"], "deleted": True})
        self.assertError(self.get(c, b["_id"]), 404, "record_not_found")
        self.assertEqual(self.get(c, a["_id"]).body["n"], 10)
        self.assertEqual(self.ids(c), [a["_id"], res[0]["_id"]])
        # a bare array works too
        r = self.batch(c, [{"op": "create", "data": {"n": 4}}])
        self.assertStatus(r, 200)
        self.assertEqual(r.body["results"][0]["n"], 4)
        # unknown keys in an operation are ignored
        r = self.batch(c, [{"op": "create", "data": {"n": 5}, "whatever": 1}])
        self.assertStatus(r, 200)

    def test_in_order(self):
        c = self.coll()
        a = self.create(c, {"n": 1}, token=self.alice.token)
        r = self.batch(c, [{"op": "update", "id": a["_id"], "data": {"n": 2}},
                           {"op": "update", "id": a["_id"], "data": {"n": 3}},
                           {"op": "delete", "id": a["_id"]}])
        self.assertStatus(r, 200)
        self.assertEqual([x.get("n") for x in r.body["results"][:2]], [2, 3])
        g = self.adm("GET", "/admin/collections/%s/records/%s" % (c, a["_id"]))
        self.assertEqual(g.body["n"], 3)
        self.assertIsNotNone(g.body["_deleted_at"])
        # an operation on a record deleted earlier in the same batch: missing
        b = self.create(c, {"n": 1}, token=self.alice.token)
        r = self.batch(c, [{"op": "delete", "id": b["_id"]},
                           {"op": "update", "id": b["_id"], "data": {"n": 9}}])
        self.assertError(r, 404, "record_not_found")
        self.assertTrue(r.body["error"].startswith("Operation 1: "), r.body)
        self.assertStatus(self.get(c, b["_id"]), 200, "the delete was rolled back")

    def test_atomic(self):
        c = self.coll()
        a = self.create(c, {"n": 1, "s": "x"}, token=self.alice.token)
        b = self.create(c, {"n": 2}, token=self.alice.token)
        before = self.snapshot(c)
        cases = [
            ([{"op": "create", "data": {"n": 5}},
              {"op": "update", "id": a["_id"], "data": {"n": 6}},
              {"op": "delete", "id": b["_id"]},
              {"op": "update", "id": fake_ulid(), "data": {"n": 7}}],
             404, "record_not_found", 3, None),
            ([{"op": "create", "data": {"n": 5, "newcol": "x"}},
              {"op": "update", "id": a["_id"], "data": {"s": 5}}],
             400, "type_mismatch", 1, "s"),
            ([{"op": "delete", "id": b["_id"]},
              {"op": "create", "data": {"bad name": 1}}],
             400, "invalid_field_name", 1, "bad name"),
            ([{"op": "delete", "id": a["_id"]},
              {"op": "delete", "id": a["_id"]}],
             404, "record_not_found", 1, None),
            ([{"op": "update", "id": a["_id"], "data": {"n": 8}},
              {"op": "update", "id": "not-a-ulid", "data": {"n": 9}}],
             404, "record_not_found", 1, None),
        ]
        for ops, status, code, at, field in cases:
            r = self.batch(c, {"operations": ops})
            self.assertError(r, status, code, field, msg=repr(ops))
            self.assertTrue(r.body["error"].startswith("Operation %d: " % at), r.body)
            self.assertEqual(self.snapshot(c), before, "nothing applied: %r" % (ops,))
        self.assertNotIn("newcol", self.columns(c))

    def test_limits_and_shapes(self):
        c = self.coll()
        a = self.create(c, {"n": 1}, token=self.alice.token)
        before = self.snapshot(c)
        ops = [{"op": "update", "id": a["_id"], "data": {"n": i}} for i in range(100)]
        r = self.batch(c, ops)
        self.assertStatus(r, 200)
        self.assertEqual(len(r.body["results"]), 100)
        self.assertEqual(self.get(c, a["_id"]).body["n"], 99)
        before = self.snapshot(c)
        self.assertError(self.batch(c, ops + ops[:1]), 400, "too_many_items")
        self.assertError(self.batch(c, []), 400, "too_many_items")
        self.assertError(self.batch(c, {"operations": []}), 400, "too_many_items")
        # too_many_items comes before invalid operations
        self.assertError(self.batch(c, [{"op": "bogus"}] * 101), 400, "too_many_items")
        bad = [
            [{"op": "bogus", "data": {}}],
            [{"op": "update", "data": {"n": 1}}],           # missing id
            [{"op": "delete"}],                              # missing id
            [{"op": "create"}],                              # missing data
            [{"op": "update", "id": a["_id"]}],              # missing data
            [{"data": {"n": 1}}],                            # missing op
            [5],
            ["create"],
            [{"op": "create", "data": {"n": 1}}, {"op": "CREATE", "data": {}}],
            {"ops": [{"op": "create", "data": {}}]},
            {"operations": "x"},
        ]
        for body in bad:
            r = self.batch(c, body)
            self.assertErr(r, 400, "invalid_body", msg=repr(body))
        # invalid_body for a later operation comes before running an earlier one
        r = self.batch(c, [{"op": "update", "id": fake_ulid(), "data": {}}, {"op": "nope"}])
        self.assertErr(r, 400, "invalid_body")
        self.assertEqual(self.snapshot(c), before)
        self.assertError(self.rec("POST", "/%s/batch" % c, b"{", token=self.alice.token),
                         400, "invalid_json")

    def test_caller_must_be_user_or_admin(self):
        c = self.coll(rules=all_rules("public"))
        a = self.admin_insert(c, {"n": 1})
        r = self.rec("POST", "/%s/batch" % c, [{"op": "create", "data": {"n": 1}}])
        self.assertError(r, 401, "auth_required")
        # before the body is looked at
        self.assertError(self.rec("POST", "/%s/batch" % c, []), 401, "auth_required")
        r = self.rec("POST", "/%s/batch" % c, [{"op": "update", "id": a["_id"], "data": {"n": 2}},
                                               {"op": "create", "data": {"n": 3}}],
                     token=self.cluster.admin)
        self.assertStatus(r, 200)
        self.assertIsNone(r.body["results"][1]["_owner_id"])

    def test_per_operation_rules(self):
        c = self.coll()      # default rules: update/delete owner, read public
        mine = self.create(c, {"n": 1}, token=self.alice.token)
        theirs = self.create(c, {"n": 1}, token=self.bob.token)
        before = self.snapshot(c)
        r = self.batch(c, [{"op": "update", "id": mine["_id"], "data": {"n": 2}},
                           {"op": "update", "id": theirs["_id"], "data": {"n": 2}}])
        self.assertError(r, 403, "forbidden")
        self.assertTrue(r.body["error"].startswith("Operation 1: "), r.body)
        r = self.batch(c, [{"op": "create", "data": {"n": 5}},
                           {"op": "delete", "id": theirs["_id"]}])
        self.assertError(r, 403, "forbidden")
        self.assertTrue(r.body["error"].startswith("Operation 1: "), r.body)
        self.assertEqual(self.snapshot(c), before)
        # owner-read collection: someone else's record is missing (404)
        oc = self.coll(rules=all_rules("owner"))
        hers = self.create(oc, {"n": 1}, token=self.alice.token)
        r = self.batch(oc, [{"op": "update", "id": hers["_id"], "data": {"n": 2}}],
                       token=self.bob.token)
        self.assertError(r, 404, "record_not_found")
        self.assertTrue(r.body["error"].startswith("Operation 0: "), r.body)
        # create rule per operation
        rc = self.coll(rules={"create": {"role": "maker"}, "update": "authenticated"})
        x = self.admin_insert(rc, {"n": 1})
        r = self.batch(rc, [{"op": "update", "id": x["_id"], "data": {"n": 2}},
                            {"op": "create", "data": {"n": 1}}])
        self.assertError(r, 403, "forbidden")
        self.assertTrue(r.body["error"].startswith("Operation 1: "), r.body)
        self.assertEqual(self.get(rc, x["_id"]).body["n"], 1)
        # disabled delete
        dc = self.coll(rules={"delete": "disabled", "update": "authenticated"})
        y = self.admin_insert(dc, {"n": 1})
        r = self.batch(dc, [{"op": "update", "id": y["_id"], "data": {"n": 2}},
                            {"op": "delete", "id": y["_id"]}])
        self.assertError(r, 403, "forbidden")
        self.assertEqual(self.get(dc, y["_id"]).body["n"], 1)
        # the admin passes every rule
        r = self.batch(dc, [{"op": "update", "id": y["_id"], "data": {"n": 2}},
                            {"op": "delete", "id": y["_id"]}], token=self.cluster.admin)
        self.assertStatus(r, 200)

    def test_unique_inside_batch(self):
        c = self.coll()
        self.assertStatus(self.put_validation(c, {"code": {"type": "text", "unique": True}}), 200)
        a = self.create(c, {"code": "A"}, token=self.alice.token)
        r = self.batch(c, [{"op": "create", "data": {"code": "B"}},
                           {"op": "create", "data": {"code": "B"}}])
        self.assertError(r, 409, "unique_violation", "code")
        self.assertTrue(r.body["error"].startswith("Operation 1: "), r.body)
        # freeing a value and taking it in one batch: soft-deleted records still count
        r = self.batch(c, [{"op": "delete", "id": a["_id"]},
                           {"op": "create", "data": {"code": "A"}}])
        self.assertError(r, 409, "unique_violation", "code")
        self.assertEqual(self.count(c), 1)
        r = self.batch(c, [{"op": "update", "id": a["_id"], "data": {"code": "Z"}},
                           {"op": "create", "data": {"code": "A"}}])
        self.assertStatus(r, 200)
        self.assertEqual(self.count(c), 2)
