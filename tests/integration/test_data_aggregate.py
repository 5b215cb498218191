"""GET /:c/aggregate (API.md §3.8, §1.13): sum/avg/min/max/count, group_by,
filter/search/include_deleted, empty sets, non-columns, errors."""

from datalib import DataTest, all_rules, filters, q

SEED = [
    {"cat": "books", "price": 10.5, "qty": 1, "flag": True, "j": {"a": 1}, "word": "alpha"},
    {"cat": "books", "price": 5.5, "qty": 2, "flag": False, "j": None, "word": "beta"},
    {"cat": "toys", "price": 3, "qty": None, "flag": True, "j": [1], "word": "alpha"},
    {"cat": None, "price": None, "qty": 4, "flag": None, "j": None, "word": "gamma"},
    {"cat": "toys", "price": 1, "qty": 5, "flag": False, "j": None, "word": None},
]


class AggregateTest(DataTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.c = cls.mkcoll()
        cls.ids = [cls.admin_insert(cls.c, dict(r))["_id"] for r in SEED]
        # a soft-deleted record that must never count (unless include_deleted)
        d = cls.admin_insert(cls.c, {"cat": "books", "price": 1000, "qty": 1000})
        r = cls._admin("DELETE", "/%s/%s" % (cls.c, d["_id"]))
        assert r.status == 200, (r.status, r.body)
        cls.user = cls.mkuser()

    def agg(self, *pairs, coll=None, token=None, **params):
        r = self.rec("GET", "/%s/aggregate%s" % (coll or self.c, q(*pairs, **params)), token=token)
        self.assertStatus(r, 200, "aggregate %r %r" % (pairs, params))
        return r.body

    def val(self, *pairs, **params):
        return self.agg(*pairs, **params)["value"]

    def test_functions(self):
        b = self.agg(fn="sum", field="price")
        self.assertEqual(b["fn"], "sum")
        self.assertEqual(b["field"], "price")
        self.assertNum(b["value"], 20)
        self.assertNotIn("groups", b)
        self.assertNum(self.val(fn="avg", field="price"), 5)
        self.assertNum(self.val(fn="min", field="price"), 1)
        self.assertNum(self.val(fn="max", field="price"), 10.5)
        self.assertEqual(self.val(fn="count"), 5)
        self.assertEqual(self.val(fn="count", field="price"), 4)
        self.assertEqual(self.val(fn="count", field="qty"), 4)
        self.assertEqual(self.val(fn="count", field="cat"), 4)
        self.assertNum(self.val(fn="sum", field="qty"), 12)
        self.assertNum(self.val(fn="avg", field="qty"), 3)
        self.assertEqual(self.val(fn="min", field="qty"), 1)
        self.assertEqual(self.val(fn="max", field="qty"), 5)
        # min/max over text use §3.6 order; sum uses numeric values only
        self.assertEqual(self.val(fn="min", field="cat"), "books")
        self.assertEqual(self.val(fn="max", field="cat"), "toys")
        self.assertEqual(self.val(fn="sum", field="cat"), 0)
        # booleans
        self.assertEqual(self.val(fn="count", field="flag"), 4)
        # alias op
        self.assertNum(self.val(op="sum", field="price"), 20)

    def test_empty_set_and_non_columns(self):
        f = ("filter", "cat:eq:nothing")
        self.assertEqual(self.val(f, fn="sum", field="price"), 0)
        self.assertEqual(self.val(f, fn="count"), 0)
        self.assertEqual(self.val(f, fn="count", field="price"), 0)
        self.assertIsNone(self.val(f, fn="avg", field="price"))
        self.assertIsNone(self.val(f, fn="min", field="price"))
        self.assertIsNone(self.val(f, fn="max", field="price"))
        self.assertEqual(self.val(fn="sum", field="nope"), 0)
        self.assertIsNone(self.val(fn="avg", field="nope"))
        self.assertIsNone(self.val(fn="min", field="nope"))
        self.assertIsNone(self.val(fn="max", field="nope"))
        self.assertEqual(self.val(fn="count", field="nope"), 0)
        # an empty (admin-created) collection
        e = self.coll()
        self.assertEqual(self.agg(coll=e, fn="sum", field="x")["value"], 0)
        self.assertIsNone(self.agg(coll=e, fn="max", field="x")["value"])

    def test_filter_and_search(self):
        self.assertNum(self.val(("filter", "cat:eq:books"), fn="sum", field="price"), 16)
        self.assertNum(self.val(("filter", '{"qty":{"gte":2}}'), fn="sum", field="qty"), 11)
        self.assertEqual(self.val(("filter", "cat:ne:books"), fn="count"), 3)
        self.assertEqual(self.val(("search", "alpha"), fn="count"), 2)
        self.assertNum(self.val(("search", "alpha"), fn="sum", field="price"), 13.5)
        self.assertEqual(self.val(("search", ""), fn="count"), 5)
        r = self.rec("GET", "/%s/aggregate%s" % (self.c, filters("cat:bogus:x", fn="count")))
        self.assertErr(r, 400, "invalid_filter")
        r = self.rec("GET", "/%s/aggregate%s" % (self.c, q(fn="count", search='"open')))
        self.assertErr(r, 400, "invalid_search")

    def test_include_deleted(self):
        self.assertEqual(self.agg(token=self.cluster.admin, fn="count", include_deleted="true")["value"], 6)
        self.assertNum(self.agg(token=self.cluster.admin, fn="sum", field="price", include_deleted="true")["value"], 1020)
        self.assertEqual(self.agg(token=self.cluster.admin, fn="count")["value"], 5)
        for tok in (None, self.user.token):
            r = self.rec("GET", "/%s/aggregate%s" % (self.c, q(fn="count", include_deleted="true")),
                         token=tok)
            self.assertError(r, 403, "forbidden")

    def test_group_by(self):
        b = self.agg(fn="sum", field="price", group_by="cat")
        self.assertEqual(set(b), {"fn", "field", "group_by", "groups"}, b)
        self.assertEqual((b["fn"], b["field"], b["group_by"]), ("sum", "price", "cat"))
        self.assertEqual([g["key"] for g in b["groups"]], [None, "books", "toys"])
        for g, want in zip(b["groups"], (0, 16, 4)):
            self.assertNum(g["value"], want)
            self.assertEqual(set(g), {"key", "value"})
        b = self.agg(fn="count", group_by="cat")
        self.assertEqual(b["groups"], [{"key": None, "value": 1}, {"key": "books", "value": 2},
                                       {"key": "toys", "value": 2}])
        b = self.agg(fn="max", field="qty", group_by="cat")
        self.assertEqual(b["groups"], [{"key": None, "value": 4}, {"key": "books", "value": 2},
                                       {"key": "toys", "value": 5}])
        b = self.agg(fn="min", field="word", group_by="cat")
        self.assertEqual(b["groups"], [{"key": None, "value": "gamma"},
                                       {"key": "books", "value": "alpha"},
                                       {"key": "toys", "value": "alpha"}])
        b = self.agg(fn="avg", field="qty", group_by="cat")
        self.assertNum(b["groups"][0]["value"], 4)
        self.assertNum(b["groups"][1]["value"], 1.5)
        self.assertNum(b["groups"][2]["value"], 5)
        # numeric keys sort numerically, booleans as 0/1
        b = self.agg(fn="count", group_by="qty")
        self.assertEqual(b["groups"], [{"key": None, "value": 1}, {"key": 1, "value": 1},
                                       {"key": 2, "value": 1}, {"key": 4, "value": 1},
                                       {"key": 5, "value": 1}])
        b = self.agg(fn="count", group_by="flag")
        self.assertEqual(b["groups"], [{"key": None, "value": 1}, {"key": False, "value": 2},
                                       {"key": True, "value": 2}])
        # with a filter; a group_by field that is not a column is one null group
        b = self.agg(("filter", "cat:ne:null"), fn="count", group_by="cat")
        self.assertEqual([g["key"] for g in b["groups"]], ["books", "toys"])
        b = self.agg(fn="count", group_by="nope")
        self.assertEqual(b["groups"], [{"key": None, "value": 5}])
        # empty set: no groups
        b = self.agg(("filter", "cat:eq:zzz"), fn="count", group_by="cat")
        self.assertEqual(b["groups"], [])

    def test_at_most_1000_groups(self):
        c = self.coll()
        for start in (0, 500, 1000):
            r = self.rec("POST", "/%s/bulk" % c, [{"k": "k%05d" % i} for i in range(start, start + 500)],
                         token=self.user.token)
            self.assertStatus(r, 201)
        b = self.agg(coll=c, fn="count", group_by="k")
        self.assertEqual(len(b["groups"]), 1000)
        self.assertEqual(b["groups"][0], {"key": "k00000", "value": 1})
        self.assertEqual(b["groups"][-1]["key"], "k00999")

    def test_errors(self):
        bad = [{}, {"fn": "median", "field": "price"}, 
               {"fn": "sum"}, {"fn": "avg"}, {"fn": "min"}, {"fn": "max"},
               {"fn": "sum", "field": "j"}, {"fn": "min", "field": "j"},
               {"fn": "count", "field": "j"}, {"op": "nope", "field": "price"}]
        for params in bad:
            r = self.rec("GET", "/%s/aggregate%s" % (self.c, q(**params)))
            self.assertErr(r, 400, "invalid_query", msg=repr(params))
        self.assertNum(self.val(fn="sum", field="price"), 20)

    def test_rules(self):
        c = self.coll(rules=all_rules("owner"))
        other = self.mkuser()
        for v in (1, 2):
            self.create(c, {"v": v}, token=self.user.token)
        self.create(c, {"v": 100}, token=other.token)
        self.assertEqual(self.agg(coll=c, token=self.user.token, fn="sum", field="v")["value"], 3)
        self.assertEqual(self.agg(coll=c, token=other.token, fn="sum", field="v")["value"], 100)
        self.assertEqual(self.agg(coll=c, token=self.cluster.admin, fn="sum", field="v")["value"], 103)
        self.assertEqual(self.agg(coll=c, token=other.token, fn="count", group_by="v")["groups"],
                         [{"key": 100, "value": 1}])
        r = self.rec("GET", "/%s/aggregate%s" % (c, q(fn="count")))
        self.assertError(r, 401, "auth_required")
        d = self.coll(rules={"read": "disabled"})
        r = self.rec("GET", "/%s/aggregate%s" % (d, q(fn="count")), token=self.user.token)
        self.assertError(r, 403, "forbidden")
