"""Records: create/get/update/delete/restore/list/count, system fields,
input keys, auto-created collections, names, type inference and
type_mismatch, the 200-column limit, PATCH semantics (API.md §3.1, §3.2,
§3.4, §3.8, §1.1, §1.4, §1.13)."""

import unittest
import json
import time

from authlib import parallel
from datalib import SYSTEM, DataTest, fake_ulid, filters, is_int, q, uniq_coll


def now_ms():
    return int(time.time() * 1000)


class RecordsCrudTest(DataTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = cls.mkuser()
        cls.bob = cls.mkuser()

    def test_create_system_fields(self):
        c = self.coll()
        t0 = now_ms()
        r = self.rec("POST", "/" + c, {"title": "Hello", "views": 3, "price": 9.5,
                                       "published": True, "tags": ["a", "b"],
                                       "meta": {"k": 1}}, token=self.alice.token)
        self.assertStatus(r, 201)
        rec = r.body
        self.assertRecord(rec, owner=self.alice.id)
        self.assertEqual(set(rec), set(SYSTEM) | {"title", "views", "price", "published",
                                                  "tags", "meta"}, rec)
        self.assertEqual(rec["_created_at"], rec["_updated_at"])
        self.assertLess(abs(rec["_created_at"] - t0), 5000)
        self.assertIsNone(rec["_deleted_at"])
        self.assertEqual(rec["title"], "Hello")
        self.assertEqual(rec["views"], 3)
        self.assertNum(rec["price"], 9.5)
        self.assertIs(rec["published"], True)
        self.assertEqual(rec["tags"], ["a", "b"])
        self.assertEqual(rec["meta"], {"k": 1})
        self.assertEqual(r.header("Content-Type").replace(" ", "").lower(),
                         "application/json;charset=utf-8")
        g = self.get(c, rec["_id"], token=self.alice.token)
        self.assertStatus(g, 200)
        self.assertEqual(g.body, rec)
        # anonymous read (default read rule public)
        g = self.get(c, rec["_id"])
        self.assertStatus(g, 200)
        self.assertEqual(g.body, rec)

    def test_owner_of_admin_and_api_key_records(self):
        c = self.coll()
        r = self.rec("POST", "/" + c, {"x": 1}, token=self.cluster.admin)
        self.assertStatus(r, 201)
        self.assertRecord(r.body, owner=None)
        k = self.req("POST", "/auth/api-keys", {"name": "d"}, token=self.bob.token)
        self.assertStatus(k, 201)
        r = self.rec("POST", "/" + c, {"x": 2}, key=k.body["key"])
        self.assertStatus(r, 201)
        self.assertRecord(r.body, owner=self.bob.id)

    def test_anonymous_create_default_rules(self):
        c = self.coll()
        r = self.rec("POST", "/" + c, {"x": 1})
        self.assertError(r, 401, "auth_required")
        self.assertEqual(self.count(c), 0)
        # (the access check before the body checks: test_data_rules
        # RuleMatrixTest.test_collection_rule_before_body)

    def test_ids_increase(self):
        c = self.coll()
        ids = [self.create(c, {"i": i}, token=self.alice.token)["_id"] for i in range(8)]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(set(ids)), 8)
        self.assertEqual(self.ids(c), ids, "default order is _id ascending")

    def test_system_keys_dropped(self):
        c = self.coll()
        forged = {"_id": fake_ulid(), "_created_at": 5, "_updated_at": 5,
                  "_owner_id": self.bob.id, "_deleted_at": 123, "_foo": "x",
                  "__proto__": {"admin": True}, "title": "t"}
        rec = self.create(c, forged, token=self.alice.token)
        self.assertRecord(rec, owner=self.alice.id)
        self.assertNotEqual(rec["_id"], forged["_id"])
        self.assertGreater(rec["_created_at"], 1600000000000)
        self.assertIsNone(rec["_deleted_at"])
        self.assertNotIn("_foo", rec)
        self.assertNotIn("__proto__", rec)
        self.assertEqual(rec["title"], "t")
        self.assertEqual(list(self.columns(c)), ["title"], "no column for _ keys")
        # PATCH cannot forge either
        r = self.rec("PATCH", "/%s/%s" % (c, rec["_id"]),
                     {"_owner_id": self.bob.id, "_created_at": 1, "_deleted_at": 1,
                      "_id": fake_ulid(), "title": "u"}, token=self.alice.token)
        self.assertStatus(r, 200)
        self.assertEqual(r.body["_owner_id"], self.alice.id)
        self.assertEqual(r.body["_id"], rec["_id"])
        self.assertEqual(r.body["_created_at"], rec["_created_at"])
        self.assertIsNone(r.body["_deleted_at"])
        self.assertEqual(r.body["title"], "u")
        # bob still cannot touch it (forging did not make him the owner)
        r = self.rec("PATCH", "/%s/%s" % (c, rec["_id"]), {"title": "b"}, token=self.bob.token)
        self.assertError(r, 403, "forbidden")

    def test_admin_endpoint_accepts_owner_id(self):
        c = self.coll()
        r = self.adm("POST", "/admin/collections/%s/records" % c,
                     {"_owner_id": "not-even-a-user", "t": 1})
        self.assertStatus(r, 201)
        self.assertEqual(r.body["_owner_id"], "not-even-a-user")
        r = self.adm("POST", "/admin/collections/%s/records" % c,
                     {"_owner_id": self.alice.id, "_id": fake_ulid(), "t": 2})
        self.assertStatus(r, 201)
        self.assertEqual(r.body["_owner_id"], self.alice.id)
        # alice owns it now: she may update it
        r = self.rec("PATCH", "/%s/%s" % (c, r.body["_id"]), {"t": 3}, token=self.alice.token)
        self.assertStatus(r, 200)
        # the public create endpoint drops _owner_id even for the admin
        r = self.rec("POST", "/" + c, {"_owner_id": self.alice.id, "t": 4},
                     token=self.cluster.admin)
        self.assertStatus(r, 201)
        self.assertIsNone(r.body["_owner_id"])

    def test_every_column_in_output(self):
        c = self.coll()
        a = self.create(c, {"a": 1}, token=self.alice.token)
        b = self.create(c, {"b": "x"}, token=self.alice.token)
        self.assertIsNone(b["a"])
        self.assertEqual(b["b"], "x")
        g = self.get(c, a["_id"]).body
        self.assertIsNone(g["b"])
        self.assertEqual(g["a"], 1)
        # null for a key with no column is ignored (no column)
        n = self.create(c, {"z": None}, token=self.alice.token)
        self.assertNotIn("z", n)
        self.assertEqual(list(self.columns(c)), ["a", "b"])
        for item in self.listing(c)["items"]:
            self.assertEqual(set(item), set(SYSTEM) | {"a", "b"})

    def test_column_order_follows_body(self):
        c = self.coll()
        self.rec("POST", "/" + c, b'{"zeta":1,"alpha":"a","mid":true}',
                 token=self.alice.token, headers={"Content-Type": "application/json"})
        self.assertEqual(list(self.columns(c)), ["zeta", "alpha", "mid"])
        fields = [f["name"] for f in self.schema(c)["fields"]]
        self.assertEqual(fields, list(SYSTEM) + ["zeta", "alpha", "mid"])

    def test_empty_body(self):
        c = self.coll()
        r = self.rec("POST", "/" + c, b"", token=self.alice.token)
        self.assertStatus(r, 201)
        self.assertEqual(set(r.body), set(SYSTEM))
        r = self.rec("POST", "/" + c, {}, token=self.alice.token)
        self.assertStatus(r, 201)

    def test_body_errors(self):
        c = self.coll()
        t = self.alice.token
        self.assertError(self.rec("POST", "/" + c, [{"a": 1}], token=t), 400, "invalid_body")
        self.assertError(self.rec("POST", "/" + c, "\"str\"", token=t,
                                  headers={"Content-Type": "application/json"}),
                         400, "invalid_body")
        self.assertError(self.rec("POST", "/" + c, b"5", token=t), 400, "invalid_body")
        self.assertError(self.rec("POST", "/" + c, b"null", token=t), 400, "invalid_body")
        self.assertError(self.rec("POST", "/" + c, b'{"a":', token=t), 400, "invalid_json")
        self.assertError(self.rec("POST", "/" + c, b'{"a":"\xff"}', token=t,
                                  headers={"Content-Type": "application/json"}),
                         400, "invalid_json")
        self.assertError(self.rec("POST", "/" + c, b'{"a":1}', token=t,
                                  headers={"Content-Type": "text/plain"}),
                         415, "unsupported_media_type")
        r = self.rec("POST", "/" + c, b'{"a":1}', token=t,
                     headers={"Content-Type": "Application/JSON; charset=utf-8"})
        self.assertStatus(r, 201)
        big = {"x": "y" * (1024 * 1024 + 10)}
        self.assertError(self.rec("POST", "/" + c, big, token=t), 413, "body_too_large")
        self.assertEqual(self.count(c), 1)

    def test_get_not_found(self):
        c = self.coll()
        self.create(c, {"a": 1}, token=self.alice.token)
        self.assertError(self.get(c, fake_ulid()), 404, "record_not_found")
        for bad in ("abc", "0" * 25, "0" * 27, "01ARZ3NDEKTSV4RRFFQ69G5FA%27", "count1"):
            self.assertError(self.get(c, bad), 404, "record_not_found", msg=bad)
        self.assertError(self.rec("PATCH", "/%s/%s" % (c, "abc"), {"a": 2},
                                  token=self.alice.token), 404, "record_not_found")
        self.assertError(self.rec("DELETE", "/%s/%s" % (c, fake_ulid()),
                                  token=self.alice.token), 404, "record_not_found")
        self.assertError(self.rec("POST", "/%s/%s/restore" % (c, fake_ulid()),
                                  token=self.alice.token), 404, "record_not_found")
        # an id of another collection is not a record of this one
        other = self.coll()
        o = self.create(other, {"a": 1}, token=self.alice.token)
        self.assertError(self.get(c, o["_id"]), 404, "record_not_found")

    def test_patch_semantics(self):
        c = self.coll()
        rec = self.create(c, {"title": "t", "views": 1, "note": "n"}, token=self.alice.token)
        time.sleep(0.005)
        r = self.rec("PATCH", "/%s/%s" % (c, rec["_id"]), {"views": 2, "note": None, "extra": True},
                     token=self.alice.token)
        self.assertStatus(r, 200)
        u = r.body
        self.assertRecord(u, owner=self.alice.id)
        self.assertEqual(u["title"], "t", "absent keys unchanged")
        self.assertEqual(u["views"], 2)
        self.assertIsNone(u["note"], "null stores null")
        self.assertIs(u["extra"], True, "new key adds a column")
        self.assertEqual(u["_created_at"], rec["_created_at"])
        self.assertGreater(u["_updated_at"], rec["_updated_at"])
        self.assertEqual(self.get(c, rec["_id"]).body, u)
        # {} still touches _updated_at
        time.sleep(0.005)
        r = self.rec("PATCH", "/%s/%s" % (c, rec["_id"]), {}, token=self.alice.token)
        self.assertStatus(r, 200)
        self.assertGreater(r.body["_updated_at"], u["_updated_at"])
        self.assertEqual({k: v for k, v in r.body.items() if k != "_updated_at"},
                         {k: v for k, v in u.items() if k != "_updated_at"})
        r = self.rec("PATCH", "/%s/%s" % (c, rec["_id"]), b"", token=self.alice.token)
        self.assertStatus(r, 200)
        # body errors
        r = self.rec("PATCH", "/%s/%s" % (c, rec["_id"]), [1], token=self.alice.token)
        self.assertError(r, 400, "invalid_body")
        r = self.rec("PATCH", "/%s/%s" % (c, rec["_id"]), b"{x", token=self.alice.token)
        self.assertError(r, 400, "invalid_json")
        # a new column from PATCH shows up (null) on other records
        other = self.create(c, {"title": "o"}, token=self.alice.token)
        self.assertIsNone(other["extra"])

    def test_soft_delete_and_restore(self):
        c = self.coll()
        a = self.create(c, {"n": 1}, token=self.alice.token)
        b = self.create(c, {"n": 2}, token=self.alice.token)
        r = self.rec("DELETE", "/%s/%s" % (c, a["_id"]), token=self.alice.token)
        self.assertOKBody(r)
        self.assertError(self.get(c, a["_id"]), 404, "record_not_found")
        self.assertError(self.get(c, a["_id"], token=self.alice.token), 404, "record_not_found")
        self.assertEqual(self.ids(c), [b["_id"]])
        self.assertEqual(self.listing(c)["total"], 1)
        self.assertEqual(self.count(c), 1)
        # deleted counts as missing for delete and patch
        self.assertError(self.rec("DELETE", "/%s/%s" % (c, a["_id"]), token=self.alice.token),
                         404, "record_not_found")
        self.assertError(self.rec("PATCH", "/%s/%s" % (c, a["_id"]), {"n": 5},
                                  token=self.alice.token), 404, "record_not_found")
        # the admin sees it with include_deleted
        g = self.get(c, a["_id"], token=self.cluster.admin, query=q(include_deleted="true"))
        self.assertStatus(g, 200)
        self.assertTrue(is_int(g.body["_deleted_at"]))
        self.assertGreaterEqual(g.body["_deleted_at"], a["_created_at"])
        self.assertEqual(g.body["n"], 1)
        self.assertEqual(self.ids(c, q(include_deleted="true"), token=self.cluster.admin),
                         [a["_id"], b["_id"]])
        self.assertEqual(self.count(c, q(include_deleted="1"), token=self.cluster.admin), 2)
        self.assertEqual(self.count(c, q(include_deleted="false"), token=self.cluster.admin), 1)
        # without include_deleted the admin does not see it either
        self.assertError(self.get(c, a["_id"], token=self.cluster.admin), 404, "record_not_found")
        # restore
        time.sleep(0.005)
        t0 = now_ms()
        r = self.rec("POST", "/%s/%s/restore" % (c, a["_id"]), token=self.alice.token)
        self.assertStatus(r, 200)
        self.assertRecord(r.body, owner=self.alice.id)
        self.assertIsNone(r.body["_deleted_at"])
        self.assertGreaterEqual(r.body["_updated_at"], t0 - 50)
        self.assertGreater(r.body["_updated_at"], a["_updated_at"])
        self.assertEqual(r.body["n"], 1)
        self.assertEqual(self.get(c, a["_id"]).body, r.body)
        self.assertEqual(self.count(c), 2)
        # restoring a live record returns it unchanged
        r2 = self.rec("POST", "/%s/%s/restore" % (c, a["_id"]), token=self.alice.token)
        self.assertStatus(r2, 200)
        self.assertEqual(r2.body, r.body)
        # restore ignores any body
        r3 = self.rec("POST", "/%s/%s/restore" % (c, b["_id"]), b"not json",
                      token=self.alice.token, headers={"Content-Type": "text/plain"})
        self.assertStatus(r3, 200)
        self.assertEqual(r3.body, b)

    def test_restore_needs_user_or_admin(self):
        c = self.coll(rules={"update": "public", "delete": "public"})
        a = self.create(c, {"n": 1}, token=self.alice.token)
        self.assertOKBody(self.rec("DELETE", "/%s/%s" % (c, a["_id"])))
        self.assertError(self.rec("POST", "/%s/%s/restore" % (c, a["_id"])), 401, "auth_required")
        r = self.rec("POST", "/%s/%s/restore" % (c, a["_id"]), token=self.cluster.admin)
        self.assertStatus(r, 200)
        self.assertIsNone(r.body["_deleted_at"])

    def test_include_deleted_admin_only(self):
        c = self.coll()
        a = self.create(c, {"n": 1}, token=self.alice.token)
        for tok in (None, self.alice.token):
            self.assertError(self.rec("GET", "/%s%s" % (c, q(include_deleted="true")), token=tok),
                             403, "forbidden")
            self.assertError(self.rec("GET", "/%s/count%s" % (c, q(include_deleted="true")),
                                      token=tok), 403, "forbidden")
            self.assertError(self.get(c, a["_id"], token=tok, query=q(include_deleted="true")),
                             403, "forbidden")
            # false is harmless
            self.assertStatus(self.rec("GET", "/%s%s" % (c, q(include_deleted="false")),
                                       token=tok), 200)
        self.assertErr(self.rec("GET", "/%s%s" % (c, q(include_deleted="yes")),
                                  token=self.cluster.admin), 400, "invalid_query")

    def test_list_envelope(self):
        c = self.coll()
        ids = [self.create(c, {"i": i}, token=self.alice.token)["_id"] for i in range(3)]
        b = self.listing(c)
        self.assertEqual(b["total"], 3)
        self.assertEqual(b["page"], 1)
        self.assertEqual(b["limit"], 50)
        self.assertIsNone(b["next_cursor"])
        self.assertEqual([x["_id"] for x in b["items"]], ids)
        b = self.listing(c, q(total="false"))
        self.assertIsNone(b["total"])
        self.assertEqual(len(b["items"]), 3)
        b = self.listing(c, q(total="0", limit=2))
        self.assertIsNone(b["total"])
        self.assertEqual(b["next_cursor"], ids[1])
        b = self.listing(c, q(total="true"))
        self.assertEqual(b["total"], 3)
        self.assertErr(self.rec("GET", "/%s%s" % (c, q(total="nope"))), 400, "invalid_query")
        # count
        self.assertEqual(self.count(c), 3)
        # HEAD like GET without a body
        r = self.rec("HEAD", "/" + c)
        self.assertStatus(r, 200)
        self.assertEqual(r.raw, b"")

    def test_literal_segments(self):
        c = self.coll()
        self.create(c, {"n": 1}, token=self.alice.token)
        for seg in ("count", "aggregate", "bulk", "batch"):
            r = self.rec("PATCH", "/%s/%s" % (c, seg), {"n": 1}, token=self.alice.token)
            self.assertError(r, 405, "method_not_allowed", msg=seg)
        r = self.rec("PUT", "/" + c, {})
        self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(r.header("Allow"), "GET, HEAD, POST, OPTIONS")
        rid = self.ids(c)[0]
        r = self.rec("PUT", "/%s/%s" % (c, rid), {}, token=self.alice.token)
        self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(r.header("Allow"), "GET, HEAD, PATCH, DELETE, OPTIONS")
        r = self.rec("GET", "/%s/%s/restore" % (c, rid))
        self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(r.header("Allow"), "POST, OPTIONS")
        r = self.rec("POST", "/%s/count" % c, {}, token=self.alice.token)
        self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(r.header("Allow"), "GET, HEAD, OPTIONS")
        r = self.rec("GET", "/%s/bulk" % c)
        self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(r.header("Allow"), "POST, OPTIONS")
        r = self.rec("HEAD", "/%s/%s" % (c, rid))
        self.assertStatus(r, 200)
        self.assertEqual(r.raw, b"")
        self.assertStatus(self.rec("GET", "/%s/%s/" % (c, rid)), 200, "one trailing / is ignored")

    def test_parallel_creates(self):
        c = self.coll()
        users = [self.alice, self.bob]

        def worker(k):
            out = []
            for i in range(10):
                r = self.rec("POST", "/" + c, {"k": k, "i": i}, token=users[k % 2].token)
                out.append((r.status, r.body.get("_id") if isinstance(r.body, dict) else None))
            return out
        results = parallel([lambda k=k: worker(k) for k in range(16)])
        flat = []
        for res in results:
            self.assertIsInstance(res, list, res)
            flat += res
        self.assertEqual([st for st, _ in flat], [201] * 160, flat)
        ids = [i for _, i in flat]
        self.assertEqual(len(set(ids)), 160, "ids are unique")
        self.assertEqual(self.count(c), 160)
        got = self.ids(c, q(limit=500))
        self.assertEqual(got, sorted(got))
        self.assertEqual(set(got), set(ids))

    def test_parallel_new_columns(self):
        """Concurrent writes each adding columns: every write lands, every
        column exists once, with the type of the value that created it."""
        c = self.coll()

        def worker(k):
            return self.rec("POST", "/" + c, {"shared": "s", "col%02d" % k: k,
                                              "flag%02d" % (k % 4): True}, token=self.alice.token)
        results = parallel([lambda k=k: worker(k) for k in range(24)])
        self.assertEqual([getattr(r, "status", r) for r in results], [201] * 24)
        cols = self.columns(c)
        self.assertEqual(cols["shared"], "text")
        for k in range(24):
            self.assertEqual(cols["col%02d" % k], "integer")
        for k in range(4):
            self.assertEqual(cols["flag%02d" % k], "boolean")
        self.assertEqual(len(cols), 1 + 24 + 4)
        self.assertEqual(self.count(c), 24)



class AutoCreateTest(DataTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = cls.mkuser()

    def test_unknown_collection_reads(self):
        c = uniq_coll("nx")
        for tok in (None, self.alice.token, self.cluster.admin):
            b = self.listing(c, token=tok)
            self.assertEqual(b, {"items": [], "total": 0, "page": 1, "limit": 50,
                                 "next_cursor": None})
            self.assertEqual(self.count(c, token=tok), 0)
            r = self.rec("GET", "/%s/aggregate%s" % (c, q(fn="count")), token=tok)
            self.assertStatus(r, 200)
            self.assertEqual(r.body.get("value"), 0, r.body)
            r = self.rec("GET", "/%s/aggregate%s" % (c, q(fn="avg", field="x")), token=tok)
            self.assertStatus(r, 200)
            self.assertIsNone(r.body.get("value"), r.body)
        rid = fake_ulid()
        self.assertError(self.get(c, rid), 404, "collection_not_found")
        self.assertError(self.rec("PATCH", "/%s/%s" % (c, rid), {"a": 1}, token=self.alice.token),
                         404, "collection_not_found")
        self.assertError(self.rec("DELETE", "/%s/%s" % (c, rid), token=self.alice.token),
                         404, "collection_not_found")
        self.assertError(self.rec("POST", "/%s/%s/restore" % (c, rid), token=self.alice.token),
                         404, "collection_not_found")
        self.assertFalse(self.coll_exists(c), "reads never create a collection")

    def test_create_auto_creates(self):
        c = uniq_coll("ac")
        rec = self.create(c, {"title": "x"}, token=self.alice.token)
        self.assertRecord(rec, owner=self.alice.id)
        r = self.adm("GET", "/admin/collections/" + c)
        self.assertStatus(r, 200)
        self.assertEqual(r.body["rules"], {"read": "public", "create": "authenticated",
                                           "update": "owner", "delete": "owner"})
        self.assertEqual(r.body["record_count"], 1)

    def test_default_rules_checked_before_auto_create(self):
        c = uniq_coll("ac")
        self.assertError(self.rec("POST", "/" + c, {"a": 1}), 401, "auth_required")
        self.assertError(self.rec("POST", "/%s/bulk" % c, [{"a": 1}]), 401, "auth_required")
        self.assertError(self.rec("POST", "/%s/batch" % c,
                                  [{"op": "create", "data": {"a": 1}}]), 401, "auth_required")
        self.assertFalse(self.coll_exists(c))

    def test_failed_write_creates_nothing(self):
        c = uniq_coll("ac")
        r = self.rec("POST", "/" + c, {"bad-name": 1}, token=self.alice.token)
        self.assertError(r, 400, "invalid_field_name", "bad-name")
        self.assertFalse(self.coll_exists(c), "collection created by a failed write")
        r = self.rec("POST", "/%s/bulk" % c, [{"a": 1}, {"a": "x"}], token=self.alice.token)
        self.assertErr(r, 400, "type_mismatch")
        self.assertFalse(self.coll_exists(c), "collection created by a failed bulk")

    def test_bulk_and_batch_auto_create(self):
        c = uniq_coll("ab")
        r = self.rec("POST", "/%s/bulk" % c, [{"a": 1}], token=self.alice.token)
        self.assertStatus(r, 201)
        self.assertTrue(self.coll_exists(c))
        c2 = uniq_coll("ab")
        r = self.rec("POST", "/%s/batch" % c2, [{"op": "create", "data": {"a": 1}}],
                     token=self.alice.token)
        self.assertStatus(r, 200)
        self.assertTrue(self.coll_exists(c2))

    def test_case_clash(self):
        base = uniq_coll("Cc")
        self.create(base, {"a": 1}, token=self.alice.token)
        self.assertError(self.rec("POST", "/" + base.lower(), {"a": 1}, token=self.alice.token),
                         409, "collection_exists")
        self.assertError(self.rec("POST", "/" + base.upper(), {"a": 1}, token=self.alice.token),
                         409, "collection_exists")
        # step 1 of the write errors: before invalid field names
        self.assertError(self.rec("POST", "/" + base.lower(), {"bad name": 1},
                                  token=self.alice.token), 409, "collection_exists")
        # URLs are case-sensitive: the other spelling is an unknown collection
        self.assertEqual(self.listing(base.lower())["total"], 0)
        self.assertEqual(self.listing(base)["total"], 1)
        self.assertFalse(self.coll_exists(base.lower()))

    def test_parallel_auto_create(self):
        """16 concurrent first writes to one new collection: all succeed, one
        collection; concurrent first writes to names that differ only in
        case: exactly one spelling wins, the others get 409."""
        c = uniq_coll("par")
        rs = parallel([lambda i=i: self.rec("POST", "/" + c, {"i": i}, token=self.alice.token)
                       for i in range(16)])
        self.assertEqual([getattr(r, "status", r) for r in rs], [201] * 16)
        self.assertEqual(self.count(c), 16)
        base = uniq_coll("Par")
        names = [base, base.lower(), base.upper(), base[:1].lower() + base[1:].upper()]
        names = list(dict.fromkeys(names))
        rs = parallel([lambda n=n: self.rec("POST", "/" + n, {"x": 1}, token=self.alice.token)
                       for n in names for _ in range(4)])
        won = {names[k // 4] for k, r in enumerate(rs) if getattr(r, "status", None) == 201}
        self.assertEqual(len(won), 1, [(getattr(r, "status", r), getattr(r, "body", None)) for r in rs])
        for r in rs:
            if r.status != 201:
                self.assertError(r, 409, "collection_exists")
        self.assertEqual(sum(self.coll_exists(n) for n in names), 1)
        self.assertEqual(self.count(won.pop()), sum(1 for r in rs if r.status == 201))

    def test_parallel_first_values_decide_type(self):
        """Concurrent first writes of a new key with different types: one type
        wins; every other write is 201 (same type) or 400 type_mismatch."""
        c = self.coll()
        vals = [1, "s", True, {"a": 1}] * 4
        rs = parallel([lambda v=v: self.rec("POST", "/" + c, {"x": v}, token=self.alice.token)
                       for v in vals])
        t = self.columns(c)["x"]
        kinds = {"integer": int, "text": str, "boolean": bool, "json": dict}
        for v, r in zip(vals, rs):
            ok = type(v) is kinds[t]
            if ok:
                self.assertStatus(r, 201, repr(v))
            else:
                self.assertError(r, 400, "type_mismatch", "x", msg=repr(v))
        self.assertEqual(self.count(c), 4)

    def test_auto_create_off(self):
        self.settings(auto_create_collections=False)
        c = uniq_coll("off")
        t = self.alice.token
        self.assertError(self.rec("POST", "/" + c, {"a": 1}, token=t), 404, "collection_not_found")
        self.assertError(self.rec("POST", "/%s/bulk" % c, [{"a": 1}], token=t),
                         404, "collection_not_found")
        self.assertError(self.rec("POST", "/%s/batch" % c, [{"op": "create", "data": {"a": 1}}],
                                  token=t), 404, "collection_not_found")
        for path in ("/" + c, "/%s/count" % c, "/%s/aggregate?fn=count" % c):
            self.assertError(self.rec("GET", path), 404, "collection_not_found", msg=path)
            self.assertError(self.rec("GET", path, token=t), 404, "collection_not_found", msg=path)
        self.assertError(self.get(c, fake_ulid()), 404, "collection_not_found")
        self.assertFalse(self.coll_exists(c))
        # existing collections keep working
        e = self.coll()
        self.create(e, {"a": 1}, token=t)
        self.assertEqual(self.count(e), 1)
        # the admin record endpoint never creates collections, whatever the setting
        r = self.adm("POST", "/admin/collections/%s/records" % c, {"a": 1})
        self.assertError(r, 404, "collection_not_found")


class NamesTest(DataTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = cls.mkuser()

    BAD_COLLECTIONS = [
        "1abc", "_abc", "a-b", "a%20b", "a%27b", "a%22b", "a%3Bb", "a%3B%20DROP%20TABLE%20x",
        "caf%C3%A9", "%E2%98%83", "__proto__", "a.b", "a" * 64, "x" + "y" * 70,
        "realtime", "metrics", "openapi", "health", "Health", "REALTIME", "sqlite_master",
        "SQLITE_foo", "sqlite_",
    ]

    def test_invalid_collection_names(self):
        t = self.alice.token
        for name in self.BAD_COLLECTIONS:
            r = self.rec("POST", "/" + name, {"a": 1}, token=t)
            self.assertError(r, 400, "invalid_collection_name", msg=name)
            r = self.rec("POST", "/%s/bulk" % name, [{"a": 1}], token=t)
            self.assertError(r, 400, "invalid_collection_name", msg=name + " bulk")
            r = self.rec("POST", "/%s/batch" % name, [{"op": "create", "data": {"a": 1}}], token=t)
            self.assertError(r, 400, "invalid_collection_name", msg=name + " batch")
            for path in ("/" + name, "/%s/count" % name, "/%s/%s" % (name, fake_ulid())):
                r = self.rec("GET", path, token=t)
                self.assertError(r, 404, "collection_not_found", msg=path)
            r = self.rec("PATCH", "/%s/%s" % (name, fake_ulid()), {"a": 1}, token=t)
            self.assertError(r, 400, "invalid_collection_name", msg=name + " patch")
            r = self.rec("DELETE", "/%s/%s" % (name, fake_ulid()), token=t)
            self.assertError(r, 400, "invalid_collection_name", msg=name + " delete")
        # the admin too
        r = self.rec("POST", "/a%3Bb", {"a": 1}, token=self.cluster.admin)
        self.assertError(r, 400, "invalid_collection_name")

    def test_valid_edge_names(self):
        t = self.alice.token
        n63 = "Z" + "9" * 50 + uniq_coll("")[:12].ljust(12, "_")
        self.assertEqual(len(n63), 63)
        for name in (n63, uniq_coll("a_"), uniq_coll("Health_x"), uniq_coll("sqlitex")):
            self.assertStatus(self.rec("POST", "/" + name, {"a": 1}, token=t), 201, name)

    def test_invalid_utf8_path(self):
        r = self.rec("POST", "/%FF%FE", {"a": 1}, token=self.alice.token)
        self.assertError(r, 404, "collection_not_found")
        self.assertError(self.rec("GET", "/%FF"), 404, "collection_not_found")

    BAD_FIELDS = ["1a", "a-b", "a b", "a'b", 'a"b', "a;b", "a;DROP TABLE x", "café", "\u2603",
                  "a.b", "", " ", "a" * 64, "x" * 1000, "a)b", "a[0]"]

    def test_invalid_field_names(self):
        c = self.coll()
        self.create(c, {"ok": 1}, token=self.alice.token)
        for key in self.BAD_FIELDS:
            r = self.rec("POST", "/" + c, {"good": 1, key: 1}, token=self.alice.token)
            self.assertError(r, 400, "invalid_field_name", key, msg=repr(key))
        rid = self.ids(c)[0]
        for key in self.BAD_FIELDS:
            r = self.rec("PATCH", "/%s/%s" % (c, rid), {key: 1}, token=self.alice.token)
            self.assertError(r, 400, "invalid_field_name", key, msg="patch " + repr(key))
        self.assertEqual(self.count(c), 1, "nothing created")
        self.assertEqual(list(self.columns(c)), ["ok"], "no column added")
        # 63 characters is fine
        k63 = "k" * 63
        rec = self.create(c, {k63: 1}, token=self.alice.token)
        self.assertEqual(rec[k63], 1)

    def test_field_case_clash(self):
        c = self.coll()
        rec = self.create(c, {"Title": "x"}, token=self.alice.token)
        r = self.rec("POST", "/" + c, {"title": "y"}, token=self.alice.token)
        self.assertError(r, 400, "invalid_field_name", "title")
        r = self.rec("PATCH", "/%s/%s" % (c, rec["_id"]), {"TITLE": "y"}, token=self.alice.token)
        self.assertError(r, 400, "invalid_field_name", "TITLE")
        self.assertEqual(list(self.columns(c)), ["Title"])
        r = self.rec("PATCH", "/%s/%s" % (c, rec["_id"]), {"Title": "z"}, token=self.alice.token)
        self.assertStatus(r, 200)

    def test_sql_in_values_is_data(self):
        c = self.coll()
        evil = "x'); DROP TABLE %s; --" % c
        rec = self.create(c, {"t": evil, "u": "\"; DELETE FROM %s; --" % c},
                          token=self.alice.token)
        self.assertEqual(rec["t"], evil)
        self.assertEqual(self.get(c, rec["_id"]).body["t"], evil)
        self.assertEqual(self.count(c), 1)

    SPECIAL_NAMES = ["select", "order", "group", "where", "from", "table", "index", "limit",
                     "NULL", "key", "values", "rowid", "ROWID", "oid", "rank", "docid",
                     "content", "match", "bm25", "highlight"]

    def test_sql_and_sqlite_special_names(self):
        """Valid names that are SQL keywords or SQLite/FTS5 specials (rowid,
        oid, rank, ...) are ordinary columns: create, filter, sort, search,
        aggregate and validation work on them."""
        bad = []
        for i, name in enumerate(self.SPECIAL_NAMES):
            for kind, v, other in (("text", "words here", "alpha"), ("int", 5, "alpha")):
                c = uniq_coll("sp")
                r = self.rec("POST", "/" + c, {name: v, "t": other}, token=self.alice.token)
                if r.status != 201:
                    bad.append("%s(%s) create: %s %r" % (name, kind, r.status, r.body))
                    continue
                self.rec("POST", "/" + c, {name: None, "t": "beta"}, token=self.alice.token)
                checks = [
                    ("filter", filters(json.dumps({name: v})), 1),
                    ("filter ne null", filters("%s:ne:null" % name), 1),
                    ("sort", q(sort="-" + name), 2),
                    ("search alpha", q(search="alpha"), 1),
                    ("search beta", q(search="beta"), 1),
                ]
                if kind == "text":
                    checks.append(("search its text", q(search="words"), 1))
                for what, query, want in checks:
                    rr = self.rec("GET", "/%s%s" % (c, query))
                    n = len(rr.body["items"]) if rr.status == 200 else None
                    if n != want:
                        bad.append("%s(%s) %s: want %d, got %s %r"
                                   % (name, kind, what, want, rr.status,
                                      rr.body if rr.status != 200 else n))
                rr = self.rec("GET", "/%s/aggregate%s" % (c, q(fn="count", group_by=name)))
                if rr.status != 200 or len(rr.body.get("groups", [])) != 2:
                    bad.append("%s(%s) group_by: %s %r" % (name, kind, rr.status, rr.body))
        self.assertFalse(bad, "%d problems:\n  " % len(bad) + "\n  ".join(bad))

    def test_nul_characters(self):
        """\\u0000 is valid JSON (RFC 8259): a value keeps it, a key with it is
        an invalid field name; neither is invalid_json, nor cut at the NUL."""
        c = self.coll()
        rec = self.create(c, {"v": "a\u0000b"}, token=self.alice.token)
        self.assertEqual(rec["v"], "a\u0000b")
        self.assertEqual(self.get(c, rec["_id"]).body["v"], "a\u0000b")
        # A key with NUL is no valid field name; jansson cannot even hold
        # one, so the gateway answers before the service can name it.
        r = self.rec("POST", "/" + c, {"a\u0000b": 1}, token=self.alice.token)
        self.assertEqual(r.status, 400, r.body)
        self.assertIn(r.body.get("code"), ("invalid_field_name", "invalid_json"), r.body)


class TypesTest(DataTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = cls.mkuser()

    def test_inference(self):
        c = self.coll()
        raw = (b'{"s":"x","i":42,"neg":-7,"r":1.5,"e":1e3,"z":1.0,'
               b'"maxi":9223372036854775807,"b":false,"o":{"a":[1]},"arr":[1,"x"],"n":null}')
        r = self.rec("POST", "/" + c, raw, token=self.alice.token)
        self.assertStatus(r, 201)
        self.assertEqual(self.columns(c), {
            "s": "text", "i": "integer", "neg": "integer", "r": "real", "e": "real",
            "z": "real", "maxi": "integer", "b": "boolean", "o": "json",
            "arr": "json"})
        rec = r.body
        self.assertNotIn("n", rec)
        self.assertEqual(rec["maxi"], 9223372036854775807)
        self.assertIs(rec["b"], False)
        self.assertEqual(rec["o"], {"a": [1]})
        self.assertEqual(rec["arr"], [1, "x"])
        self.assertNum(rec["e"], 1000)
        self.assertNum(rec["z"], 1)
        # a later non-null value creates the column that the null did not
        rec2 = self.create(c, {"n": "now text"}, token=self.alice.token)
        self.assertEqual(self.columns(c)["n"], "text")
        self.assertEqual(rec2["n"], "now text")

    def test_integers_beyond_int64_are_real(self):
        """§3.2: a number without fraction that does not fit in int64 is real
        (it is valid JSON; it must not be refused as invalid_json)."""
        c = self.coll()
        raw = b'{"big":9223372036854775808,"neg":-9223372036854775809,"huge":1' + b"0" * 30 + b"}"
        r = self.rec("POST", "/" + c, raw, token=self.alice.token,
                     headers={"Content-Type": "application/json"})
        self.assertStatus(r, 201)
        self.assertEqual(self.columns(c), {"big": "real", "neg": "real", "huge": "real"})
        self.assertNum(r.body["big"], 9223372036854775808.0)
        self.assertNum(r.body["huge"], 1e30)
        # an integer column accepts it too (any number)
        self.create(c, {"n": 1}, token=self.alice.token)
        r = self.rec("POST", "/" + c, b'{"n":18446744073709551616}', token=self.alice.token,
                     headers={"Content-Type": "application/json"})
        self.assertStatus(r, 201)

    def test_type_mismatch(self):
        c = self.coll()
        rec = self.create(c, {"s": "x", "i": 1, "r": 1.5, "b": True, "j": {"a": 1}},
                          token=self.alice.token)
        bad = [("s", 5), ("s", True), ("s", {"a": 1}), ("s", [1]),
               ("i", "5"), ("i", True), ("i", [1]),
               ("r", "1.5"), ("r", False), ("r", {}),
               ("b", 1), ("b", "true"), ("b", 0), ("b", []),
               ("j", "x"), ("j", 5), ("j", True)]
        for k, v in bad:
            r = self.rec("POST", "/" + c, {k: v}, token=self.alice.token)
            self.assertError(r, 400, "type_mismatch", k, msg="create %s=%r" % (k, v))
            r = self.rec("PATCH", "/%s/%s" % (c, rec["_id"]), {k: v}, token=self.alice.token)
            self.assertError(r, 400, "type_mismatch", k, msg="patch %s=%r" % (k, v))
        self.assertEqual(self.count(c), 1)
        self.assertEqual(self.get(c, rec["_id"]).body, rec, "nothing changed")
        good = [("i", 2), ("i", 2.5), ("r", 3), ("r", 1e10), ("b", False), ("j", [1, 2]),
                ("j", {}), ("s", ""), ("s", "5")]
        for k, v in good:
            r = self.rec("POST", "/" + c, {k: v}, token=self.alice.token)
            self.assertStatus(r, 201, "create %s=%r" % (k, v))
        for k in ("s", "i", "r", "b", "j"):
            r = self.rec("PATCH", "/%s/%s" % (c, rec["_id"]), {k: None}, token=self.alice.token)
            self.assertStatus(r, 200, "null into %s" % k)
            self.assertIsNone(r.body[k])
        # a mismatch anywhere in the body rejects the whole write
        r = self.rec("POST", "/" + c, {"new_col": 1, "s": 5}, token=self.alice.token)
        self.assertError(r, 400, "type_mismatch", "s")
        self.assertNotIn("new_col", self.columns(c), "no column from a rejected write")

    def test_real_keeps_value(self):
        c = self.coll()
        rec = self.create(c, {"p": 0.5}, token=self.alice.token)
        r = self.rec("PATCH", "/%s/%s" % (c, rec["_id"]), {"p": 10}, token=self.alice.token)
        self.assertStatus(r, 200)
        self.assertNum(r.body["p"], 10)

    def test_unicode_and_large_values(self):
        c = self.coll()
        s = "héllo \u2603 \U0001F600 " + "z" * 100000
        rec = self.create(c, {"s": s, "j": {"deep": [[[{"k": "\u00e9"}]]]}}, token=self.alice.token)
        self.assertEqual(self.get(c, rec["_id"]).body["s"], s)
        self.assertEqual(rec["j"], {"deep": [[[{"k": "\u00e9"}]]]})


class ColumnLimitTest(DataTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = cls.mkuser()

    def test_200_columns(self):
        c = self.coll()
        body = {"f%03d" % i: i for i in range(200)}
        rec = self.create(c, body, token=self.alice.token)
        self.assertEqual(len(rec), 205)
        r = self.rec("POST", "/" + c, {"f000": 1, "one_more": 1}, token=self.alice.token)
        self.assertError(r, 400, "too_many_fields")
        r = self.rec("PATCH", "/%s/%s" % (c, rec["_id"]), {"one_more": 1}, token=self.alice.token)
        self.assertError(r, 400, "too_many_fields")
        r = self.rec("POST", "/%s/bulk" % c, [{"f001": 1}, {"one_more": 1}], token=self.alice.token)
        self.assertErr(r, 400, "too_many_fields")
        self.assertEqual(self.count(c), 1)
        self.assertEqual(len(self.columns(c)), 200)
        # existing columns stay writable; a null for a new key is ignored
        rec2 = self.create(c, {"f199": 5, "ghost": None}, token=self.alice.token)
        self.assertEqual(rec2["f199"], 5)
        # dropping a column makes room again
        self.assertOKBody(self.adm("DELETE", "/admin/collections/%s/schema/f000" % c))
        rec3 = self.create(c, {"one_more": 1}, token=self.alice.token)
        self.assertEqual(rec3["one_more"], 1)

    def test_201_in_one_body(self):
        c = self.coll()
        body = {"g%03d" % i: "v" for i in range(201)}
        r = self.rec("POST", "/" + c, body, token=self.alice.token)
        self.assertError(r, 400, "too_many_fields")
        self.assertEqual(self.count(c), 0)
        self.assertEqual(self.columns(c), {})
