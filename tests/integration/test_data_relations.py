"""Relations (API.md §5.6, §3.10, §3.7 expand, §1.13): the admin endpoints,
reference checks on writes, expand (with the target's read rule), and
cascade / set_null / restrict on soft and hard delete."""

from datalib import DataTest, all_rules, fake_ulid, is_int, q, uniq_coll
from harness import ULID_RE

REL = "/admin/relations"
REL_KEYS = {"id", "from_collection", "from_field", "to_collection", "on_delete", "created_at"}


class RelationsTest(DataTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = cls.mkuser()
        cls.bob = cls.mkuser()

    def relate(self, frm, field, to, on_delete=None):
        body = {"from_collection": frm, "from_field": field, "to_collection": to}
        if on_delete:
            body["on_delete"] = on_delete
        r = self.adm("POST", REL, body)
        self.assertStatus(r, 201, "relation %r" % body)
        return r.body

    def pair(self, on_delete=None, field="author", to_rules=None, from_rules=None):
        """(from, to) collections with a relation from.field -> to."""
        to = self.coll(rules=to_rules, prefix="to")
        frm = self.coll(rules=from_rules, prefix="fr")
        self.relate(frm, field, to, on_delete)
        return frm, to

    def ex(self, r):
        """The `expand` object of a 200 record response."""
        self.assertStatus(r, 200)
        self.assertIsInstance(r.body, dict, r.body)
        self.assertIn("expand", r.body, "no expand object: %r" % (r.body,))
        return r.body["expand"]

    def arec(self, coll, rid):
        return self.adm("GET", "/admin/collections/%s/records/%s" % (coll, rid))

    # ---- admin endpoints ---------------------------------------------------
    def test_create_and_list(self):
        to = self.coll()
        frm = self.coll()
        r = self.adm("POST", REL, {"from_collection": frm, "from_field": "author",
                                   "to_collection": to})
        self.assertStatus(r, 201)
        rel = r.body
        self.assertEqual(set(rel), REL_KEYS)
        self.assertRegex(rel["id"], ULID_RE)
        self.assertEqual((rel["from_collection"], rel["from_field"], rel["to_collection"],
                          rel["on_delete"]), (frm, "author", to, "set_null"))
        self.assertTrue(is_int(rel["created_at"]))
        r2 = self.relate(frm, "tags", to, "cascade")
        r3 = self.relate(to, "back", frm, "restrict")
        other = self.relate(self.coll(), "x", self.coll())
        b = self.adm("GET", REL + q(collection=frm)).body
        self.assertEqual(set(b), {"items", "total", "page", "limit"})
        self.assertEqual([x["id"] for x in b["items"]], [r3["id"], r2["id"], rel["id"]],
                         "newest first, either end")
        self.assertEqual(b["total"], 3)
        self.assertEqual(b["items"][2], rel)
        b = self.adm("GET", REL + q(collection=to, limit=1, page=2)).body
        self.assertEqual(([x["id"] for x in b["items"]], b["total"], b["limit"], b["page"]),
                         ([r2["id"]], 3, 1, 2))
        b = self.adm("GET", REL).body
        self.assertEqual(b["items"][0]["id"], other["id"])
        self.assertEqual(self.adm("GET", REL + q(collection=uniq_coll("nx"))).body["items"], [])
        # the schema lists relations from and to the collection
        rels = self.schema(frm)["relations"]
        self.assertLessEqual({rel["id"], r2["id"]}, {x["id"] for x in rels})
        # delete
        self.assertOKBody(self.adm("DELETE", REL + "/" + rel["id"]))
        self.assertError(self.adm("DELETE", REL + "/" + rel["id"]), 404, "not_found")
        self.assertError(self.adm("DELETE", REL + "/" + fake_ulid()), 404, "not_found")
        self.assertError(self.adm("DELETE", REL + "/nope"), 404, "not_found")
        self.assertEqual(self.adm("GET", REL + q(collection=frm)).body["total"], 2)
        # a self relation is fine
        self.relate(frm, "parent", frm)

    def test_access(self):
        for m, p, b in (("GET", REL, None), ("POST", REL, {}), ("DELETE", REL + "/" + fake_ulid(), None)):
            self.assertError(self.rec(m, p, b), 401, "auth_required")
            self.assertError(self.rec(m, p, b, token=self.alice.token), 403, "admin_required")

    def test_create_errors(self):
        to = self.coll()
        frm = self.coll()
        base = {"from_collection": frm, "from_field": "author", "to_collection": to}
        for drop in ("from_collection", "from_field", "to_collection"):
            body = dict(base)
            del body[drop]
            self.assertError(self.adm("POST", REL, body), 400, "validation_error", drop)
        for k, v in (("from_field", "_owner_id"), ("from_field", "_id"), ("from_field", "a-b"),
                     ("from_field", 5), ("from_field", ""), ("on_delete", "delete"),
                     ("on_delete", "CASCADE"), ("on_delete", 1), ("from_collection", 5),
                     ("to_collection", ["x"])):
            body = dict(base)
            body[k] = v
            self.assertError(self.adm("POST", REL, body), 400, "validation_error", k,
                             msg="%s=%r" % (k, v))
        for k in ("from_collection", "to_collection"):
            body = dict(base)
            body[k] = uniq_coll("nx")
            self.assertError(self.adm("POST", REL, body), 404, "collection_not_found")
        # validation_error comes before collection_not_found
        body = dict(base, from_collection=uniq_coll("nx"), from_field="_id")
        self.assertError(self.adm("POST", REL, body), 400, "validation_error", "from_field")
        self.relate(frm, "author", to)
        self.assertError(self.adm("POST", REL, base), 409, "relation_exists")
        other = self.coll()
        self.assertError(self.adm("POST", REL, dict(base, to_collection=other)), 409,
                         "relation_exists")
        self.assertError(self.adm("POST", REL, [1]), 400, "invalid_body")

    # ---- writes ------------------------------------------------------------
    def test_references_checked(self):
        frm, to = self.pair(to_rules=all_rules("disabled"))
        self.relate(frm, "tags", to)
        p1 = self.admin_insert(to, {"name": "p1"})
        p2 = self.admin_insert(to, {"name": "p2"})
        gone = self.admin_insert(to, {"name": "gone"})
        self.assertOKBody(self.rec("DELETE", "/%s/%s" % (to, gone["_id"]), token=self.cluster.admin))
        t = self.alice.token
        # rules of the target are ignored for the check
        r = self.rec("POST", "/" + frm, {"author": p1["_id"], "tags": [p1["_id"], p2["_id"]]}, token=t)
        self.assertStatus(r, 201)
        rec = r.body
        self.assertEqual(rec["author"], p1["_id"])
        self.assertEqual(rec["tags"], [p1["_id"], p2["_id"]])
        self.assertStatus(self.rec("POST", "/" + frm, {"author": None, "tags": []}, token=t), 201)
        self.assertStatus(self.rec("POST", "/" + frm, {"other": 1}, token=t), 201)
        for body, field in (({"author": fake_ulid()}, "author"),
                            ({"author": gone["_id"]}, "author"),
                            ({"author": "not-an-id"}, "author"),
                            ({"tags": [p1["_id"], fake_ulid()]}, "tags"),
                            ({"tags": [gone["_id"]]}, "tags"),
                            ({"author": p1["_id"], "tags": [fake_ulid()]}, "tags")):
            r = self.rec("POST", "/" + frm, body, token=t)
            self.assertError(r, 400, "validation_error", field, msg=repr(body))
        r = self.rec("PATCH", "/%s/%s" % (frm, rec["_id"]), {"author": fake_ulid()}, token=t)
        self.assertError(r, 400, "validation_error", "author")
        r = self.rec("PATCH", "/%s/%s" % (frm, rec["_id"]), {"author": p2["_id"]}, token=t)
        self.assertStatus(r, 200)
        r = self.rec("POST", "/%s/bulk" % frm, [{"author": p1["_id"]}, {"author": gone["_id"]}],
                     token=t)
        self.assertError(r, 400, "validation_error", "author")
        r = self.adm("POST", "/admin/collections/%s/records" % frm, {"author": fake_ulid()})
        self.assertError(r, 400, "validation_error", "author")
        # an id of another collection is not a record of the target
        r = self.rec("POST", "/" + frm, {"author": rec["_id"]}, token=t)
        self.assertError(r, 400, "validation_error", "author")
        self.assertEqual(self.count(frm), 3)

    # ---- expand ------------------------------------------------------------
    def test_expand(self):
        frm, to = self.pair()
        self.relate(frm, "tags", to)
        a = self.admin_insert(to, {"name": "Ann"})
        b = self.admin_insert(to, {"name": "Ben"})
        c = self.admin_insert(to, {"name": "Cy"})
        p = self.create(frm, {"title": "x", "author": a["_id"],
                              "tags": [b["_id"], a["_id"], c["_id"]]}, token=self.alice.token)
        n = self.create(frm, {"title": "y", "author": None}, token=self.alice.token)
        r = self.get(frm, p["_id"], query=q(expand="author,tags"))
        self.assertStatus(r, 200)
        self.assertEqual(r.body["author"], a["_id"], "the field keeps the id")
        self.assertEqual(self.ex(r)["author"], a)
        self.assertEqual([x["_id"] for x in self.ex(r)["tags"]], [b["_id"], a["_id"], c["_id"]])
        self.assertEqual(self.ex(r)["tags"][0], b)
        lst = self.listing(frm, q(expand="author"))
        self.assertEqual(lst["items"][0]["expand"], {"author": a})
        self.assertEqual(lst["items"][1]["expand"], {"author": None})
        self.assertEqual(set(self.ex(self.get(frm, n["_id"], query=q(expand="tags")))),
                         {"tags"})
        # without expand: no expand key
        self.assertNotIn("expand", self.get(frm, p["_id"]).body)
        # expand with fields
        r = self.get(frm, p["_id"], query=q(expand="author", fields="title"))
        self.assertEqual(set(r.body), {"_id", "title", "expand"})
        self.assertEqual(self.ex(r)["author"]["name"], "Ann")

    def rel_id(self, frm, field):
        for x in self.adm("GET", REL + q(collection=frm, limit=500)).body["items"]:
            if x["from_collection"] == frm and x["from_field"] == field:
                return x["id"]
        raise AssertionError("no relation %s.%s" % (frm, field))

    def test_expand_missing_deleted_invisible(self):
        frm, to = self.pair(to_rules={"read": "owner", "create": "authenticated",
                                      "update": "owner", "delete": "owner"})
        self.relate(frm, "tags", to)
        mine = self.create(to, {"name": "alice's"}, token=self.alice.token)
        hers = self.create(to, {"name": "bob's"}, token=self.bob.token)
        mine2 = self.create(to, {"name": "alice's too"}, token=self.alice.token)
        p = self.create(frm, {"author": hers["_id"], "tags": [mine["_id"], mine2["_id"], hers["_id"]]},
                        token=self.alice.token)
        r = self.get(frm, p["_id"], token=self.alice.token, query=q(expand="author,tags"))
        self.assertStatus(r, 200)
        self.assertIsNone(self.ex(r)["author"], "bob's profile is invisible to alice")
        self.assertEqual([x["_id"] for x in self.ex(r)["tags"]], [mine["_id"], mine2["_id"]])
        r = self.get(frm, p["_id"], token=self.bob.token, query=q(expand="author,tags"))
        self.assertEqual(self.ex(r)["author"]["_id"], hers["_id"])
        self.assertEqual([x["_id"] for x in self.ex(r)["tags"]], [hers["_id"]])
        # anonymous: the post is public; owner-rule targets are null, never 401
        r = self.get(frm, p["_id"], query=q(expand="author,tags"))
        self.assertStatus(r, 200)
        self.assertEqual(self.ex(r), {"author": None, "tags": []})
        r = self.rec("GET", "/%s%s" % (frm, q(expand="author")))
        self.assertStatus(r, 200)
        # the admin sees everything
        r = self.get(frm, p["_id"], token=self.cluster.admin, query=q(expand="tags"))
        self.assertEqual(len(self.ex(r)["tags"]), 3)
        # disabled target read: null for users
        self.set_access(to, {"read": "disabled"})
        r = self.get(frm, p["_id"], token=self.bob.token, query=q(expand="author"))
        self.assertStatus(r, 200)
        self.assertIsNone(self.ex(r)["author"])

    def test_expand_soft_deleted_target(self):
        # the relation is removed while the target is deleted (so set_null does not
        # clear the reference), then declared again: expand must hide the target
        frm, to = self.pair()
        t1 = self.admin_insert(to, {"name": "t1"})
        t2 = self.admin_insert(to, {"name": "t2"})
        p = self.create(frm, {"author": t1["_id"], "list": [t1["_id"], t2["_id"]]},
                        token=self.alice.token)
        rid = self.rel_id(frm, "author")
        self.assertOKBody(self.adm("DELETE", REL + "/" + rid))
        self.assertOKBody(self.rec("DELETE", "/%s/%s" % (to, t1["_id"]), token=self.cluster.admin))
        self.relate(frm, "author", to)
        self.relate(frm, "list", to)
        r = self.get(frm, p["_id"], query=q(expand="author,list"))
        self.assertStatus(r, 200)
        self.assertEqual(r.body["author"], t1["_id"], "existing data is not rewritten")
        self.assertIsNone(self.ex(r)["author"])
        self.assertEqual([x["_id"] for x in self.ex(r)["list"]], [t2["_id"]])
        # hard-deleted target: missing
        self.assertOKBody(self.adm("DELETE", REL + "/" + self.rel_id(frm, "list")))
        self.assertOKBody(self.adm("DELETE", "/admin/collections/%s/records/%s" % (to, t2["_id"])))
        self.relate(frm, "list", to)
        r = self.get(frm, p["_id"], query=q(expand="list"))
        self.assertEqual(self.ex(r)["list"], [])

    def test_expand_errors(self):
        frm, to = self.pair()
        self.create(frm, {"author": None, "title": "x"}, token=self.alice.token)
        for e in ("title", "nope", "author,nope", "a-b"):
            r = self.rec("GET", "/%s%s" % (frm, q(expand=e)))
            self.assertError(r, 400, "invalid_query", "expand", msg=e)
        # a relation *to* this collection does not make the field expandable here
        r = self.rec("GET", "/%s%s" % (to, q(expand="author")))
        self.assertError(r, 400, "invalid_query", "expand")

    def test_expand_at_most_10(self):
        to = self.coll()
        frm = self.coll()
        t = self.admin_insert(to, {"n": 1})
        names = ["f%02d" % i for i in range(11)]
        for n in names:
            self.relate(frm, n, to)
        rec = self.create(frm, {n: t["_id"] for n in names}, token=self.alice.token)
        r = self.get(frm, rec["_id"], query=q(expand=",".join(names[:10])))
        self.assertStatus(r, 200)
        self.assertEqual(set(self.ex(r)), set(names[:10]))
        self.assertEqual(self.ex(r)["f00"]["_id"], t["_id"])
        r = self.get(frm, rec["_id"], query=q(expand=",".join(names)))
        self.assertError(r, 400, "invalid_query", "expand")
        r = self.rec("GET", "/%s%s" % (frm, q(expand=",".join(names))))
        self.assertError(r, 400, "invalid_query", "expand")

    # ---- on_delete ---------------------------------------------------------
    def test_set_null(self):
        frm, to = self.pair()           # default set_null
        self.relate(frm, "tags", to)
        a = self.admin_insert(to, {"n": "a"})
        b = self.admin_insert(to, {"n": "b"})
        p = self.create(frm, {"author": a["_id"], "tags": [a["_id"], b["_id"]]},
                        token=self.bob.token)
        q2 = self.create(frm, {"author": b["_id"], "tags": [b["_id"]]}, token=self.alice.token)
        self.assertOKBody(self.rec("DELETE", "/%s/%s" % (to, a["_id"]), token=self.cluster.admin))
        g = self.arec(frm, p["_id"]).body
        self.assertIsNone(g["author"])
        self.assertEqual(g["tags"], [b["_id"]])
        self.assertIsNone(g["_deleted_at"])
        self.assertEqual(self.arec(frm, q2["_id"]).body["author"], b["_id"], "others untouched")
        # restore does not undo
        self.assertStatus(self.rec("POST", "/%s/%s/restore" % (to, a["_id"]),
                                   token=self.cluster.admin), 200)
        self.assertIsNone(self.arec(frm, p["_id"]).body["author"])
        # hard delete
        self.assertOKBody(self.adm("DELETE", "/admin/collections/%s/records/%s" % (to, b["_id"])))
        g = self.arec(frm, p["_id"]).body
        self.assertEqual(g["tags"], [])
        g2 = self.arec(frm, q2["_id"]).body
        self.assertIsNone(g2["author"])
        self.assertEqual(g2["tags"], [])

    def test_cascade(self):
        frm, to = self.pair("cascade")
        a = self.admin_insert(to, {"n": "a"})
        b = self.admin_insert(to, {"n": "b"})
        # cascades ignore rules: the referencing records belong to someone else
        p1 = self.create(frm, {"author": a["_id"]}, token=self.bob.token)
        p2 = self.create(frm, {"author": a["_id"]}, token=self.alice.token)
        p3 = self.create(frm, {"author": b["_id"]}, token=self.bob.token)
        self.assertOKBody(self.rec("DELETE", "/%s/%s" % (to, a["_id"]), token=self.cluster.admin))
        for p in (p1, p2):
            g = self.arec(frm, p["_id"])
            self.assertStatus(g, 200)
            self.assertTrue(is_int(g.body["_deleted_at"]), "soft-deleted by cascade: %r" % g.body)
        self.assertIsNone(self.arec(frm, p3["_id"]).body["_deleted_at"])
        self.assertEqual(self.ids(frm), [p3["_id"]])
        # a restore does not undo the cascade
        self.assertStatus(self.rec("POST", "/%s/%s/restore" % (to, a["_id"]),
                                   token=self.cluster.admin), 200)
        self.assertTrue(is_int(self.arec(frm, p1["_id"]).body["_deleted_at"]))
        # hard delete cascades as hard delete
        self.assertOKBody(self.adm("DELETE", "/admin/collections/%s/records/%s" % (to, b["_id"])))
        self.assertError(self.arec(frm, p3["_id"]), 404, "record_not_found")
        # hard-deleting a target also hard-deletes already soft-deleted referencing records
        self.assertOKBody(self.adm("DELETE", "/admin/collections/%s/records/%s" % (to, a["_id"])))
        self.assertError(self.arec(frm, p1["_id"]), 404, "record_not_found")
        self.assertEqual(self.all_ids_admin(frm), [])

    def test_cascade_array(self):
        frm, to = self.pair("cascade", field="refs")
        a = self.admin_insert(to, {"n": "a"})
        b = self.admin_insert(to, {"n": "b"})
        p = self.create(frm, {"refs": [b["_id"], a["_id"]]}, token=self.alice.token)
        other = self.create(frm, {"refs": [b["_id"]]}, token=self.alice.token)
        self.assertOKBody(self.rec("DELETE", "/%s/%s" % (to, a["_id"]), token=self.cluster.admin))
        self.assertTrue(is_int(self.arec(frm, p["_id"]).body["_deleted_at"]))
        self.assertIsNone(self.arec(frm, other["_id"]).body["_deleted_at"])

    def test_restrict(self):
        frm, to = self.pair("restrict", to_rules={"delete": "authenticated"})
        a = self.admin_insert(to, {"n": "a"})
        free = self.admin_insert(to, {"n": "free"})
        p = self.create(frm, {"author": a["_id"]}, token=self.alice.token)
        self.assertError(self.rec("DELETE", "/%s/%s" % (to, a["_id"]), token=self.bob.token),
                         409, "relation_restrict")
        self.assertError(self.rec("DELETE", "/%s/%s" % (to, a["_id"]), token=self.cluster.admin),
                         409, "relation_restrict")
        self.assertError(self.adm("DELETE", "/admin/collections/%s/records/%s" % (to, a["_id"])),
                         409, "relation_restrict")
        r = self.rec("POST", "/%s/batch" % to, [{"op": "delete", "id": a["_id"]}],
                     token=self.bob.token)
        self.assertError(r, 409, "relation_restrict")
        self.assertIsNone(self.arec(to, a["_id"]).body["_deleted_at"])
        self.assertOKBody(self.rec("DELETE", "/%s/%s" % (to, free["_id"]), token=self.bob.token))
        # a soft-deleted referencing record no longer restricts
        self.assertOKBody(self.rec("DELETE", "/%s/%s" % (frm, p["_id"]), token=self.alice.token))
        self.assertOKBody(self.rec("DELETE", "/%s/%s" % (to, a["_id"]), token=self.bob.token))
        # hard delete of a soft-deleted target with only soft-deleted referrers
        self.assertOKBody(self.adm("DELETE", "/admin/collections/%s/records/%s" % (to, a["_id"])))

    def test_restrict_array(self):
        frm, to = self.pair("restrict", field="refs")
        a = self.admin_insert(to, {"n": "a"})
        self.create(frm, {"refs": [a["_id"]]}, token=self.alice.token)
        self.assertError(self.rec("DELETE", "/%s/%s" % (to, a["_id"]), token=self.cluster.admin),
                         409, "relation_restrict")

    # ---- schema changes ----------------------------------------------------
    def test_collection_delete_removes_relations(self):
        frm, to = self.pair()
        a = self.admin_insert(to, {"n": 1})
        self.create(frm, {"author": a["_id"]}, token=self.alice.token)
        self.assertOKBody(self.adm("DELETE", "/admin/collections/" + to))
        self.assertEqual(self.adm("GET", REL + q(collection=frm)).body["total"], 0)
        # the field is an ordinary column again
        self.assertStatus(self.rec("POST", "/" + frm, {"author": fake_ulid()},
                                   token=self.alice.token), 201)

    def test_drop_column_removes_relation(self):
        frm, to = self.pair()
        a = self.admin_insert(to, {"n": 1})
        self.create(frm, {"author": a["_id"]}, token=self.alice.token)
        self.assertOKBody(self.adm("DELETE", "/admin/collections/%s/schema/author" % frm))
        self.assertEqual(self.adm("GET", REL + q(collection=frm)).body["total"], 0)
        self.assertStatus(self.rec("POST", "/" + frm, {"author": fake_ulid()},
                                   token=self.alice.token), 201)
