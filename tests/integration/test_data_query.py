"""Queries on GET /:c and /:c/count: filter (text and JSON forms, typing,
lists, null semantics, json columns), sort (both forms), page/limit and
aliases, the `after` keyset cursor, `fields`, `search` (FTS5), SQL
fragments, and no leaks through hidden records (API.md §3.4–§3.7, §3.3)."""

import json
import threading

from datalib import DataTest, all_rules, fake_ulid, filters, q

# 8 records, created in this order (index = creation order = _id order).
SEED = [
    {"title": "Alpha bun native", "n": 5, "price": 1.5, "pub": True, "zip": "12345",
     "tags": ["a", "b"], "status": "draft", "note": "50% off_now"},
    {"title": "beta", "n": 10, "price": 2.0, "pub": False, "zip": "00042",
     "tags": {"k": "v"}, "status": "review", "note": "50 percent"},
    {"title": "Gamma bunny", "n": 5, "price": None, "pub": True, "zip": None,
     "tags": None, "status": "published", "note": "x:y:z"},
    {"title": "delta", "n": None, "price": 3.25, "pub": None, "zip": "42",
     "tags": ["c"], "status": "draft", "note": "null"},
    {"title": "epsilon", "n": -3, "price": 0, "pub": False, "zip": "12345",
     "tags": [], "status": None, "note": "%"},
    {"title": "Zeta", "n": 100, "price": 10.5, "pub": True, "zip": "9",
     "tags": ["a"], "status": "draft", "note": "a_b"},
    {"title": "eta", "n": 5, "price": 7, "pub": False, "zip": "007",
     "tags": None, "status": "review", "note": "50Xoff"},
    {"title": None, "n": 20, "price": None, "pub": None, "zip": None,
     "tags": ["a", "c"], "status": "archived", "note": None},
]
ALL = list(range(8))


class QueryTest(DataTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.c = cls.mkcoll(rules={"read": "public"})
        cls.rid = [cls.admin_insert(cls.c, dict(r))["_id"] for r in SEED]
        cls.user = cls.mkuser()

    def idx(self, query, coll=None, token=None):
        """Indexes (into SEED) of the listed records, in response order."""
        b = self.listing(coll or self.c, query, token=token)
        pos = {rid: i for i, rid in enumerate(self.rid)}
        return [pos.get(x["_id"], x["_id"]) for x in b["items"]]

    def check(self, cases):
        bad = []
        for cond, want in cases:
            conds = cond if isinstance(cond, tuple) else (cond,)
            r = self.rec("GET", "/" + self.c + filters(*conds))
            if r.status != 200:
                bad.append("%r: %s %r" % (conds, r.status, r.body))
                continue
            pos = {rid: i for i, rid in enumerate(self.rid)}
            got = [pos.get(x["_id"]) for x in r.body["items"]]
            if got != want or r.body["total"] != len(want):
                bad.append("%r: want %r, got %r (total %r)" % (conds, want, got, r.body["total"]))
                continue
            cr = self.rec("GET", "/%s/count%s" % (self.c, filters(*conds)))
            if cr.status != 200 or cr.body != {"count": len(want)}:
                bad.append("count %r: want %d, got %s %r" % (conds, len(want), cr.status, cr.body))
        self.assertFalse(bad, "%d mismatches:\n  " % len(bad) + "\n  ".join(bad))

    # ---- filter: operators ------------------------------------------------
    def test_numeric_ops_and_nulls(self):
        self.check([
            ("n:eq:5", [0, 2, 6]),
            ("n:ne:5", [1, 3, 4, 5, 7]),
            ("n:neq:5", [1, 3, 4, 5, 7]),
            ("n:eq:null", [3]),
            ("n:ne:null", [0, 1, 2, 4, 5, 6, 7]),
            ("n:gt:5", [1, 5, 7]),
            ("n:gte:5", [0, 1, 2, 5, 6, 7]),
            ("n:lt:5", [4]),
            ("n:lte:5", [0, 2, 4, 6]),
            ("n:gt:-4", [0, 1, 2, 4, 5, 6, 7]),
            ("n:gte:5.5", [1, 5, 7]),
            ("n:eq:5.0", [0, 2, 6]),
            ("n:lt:1e1", [0, 2, 4, 6]),
            ("price:eq:2", [1]),
            ("price:gt:2", [3, 5, 6]),
            ("price:gte:2", [1, 3, 5, 6]),
            ("price:eq:0", [4]),
            ("price:lt:1.5", [4]),
            ("price:eq:null", [2, 7]),
            ("price:ne:2", [0, 2, 3, 4, 5, 6, 7]),
        ])

    def test_boolean_ops(self):
        self.check([
            ("pub:eq:true", [0, 2, 5]),
            ("pub:eq:false", [1, 4, 6]),
            ("pub:eq:1", [0, 2, 5]),
            ("pub:eq:0", [1, 4, 6]),
            ("pub:ne:true", [1, 3, 4, 6, 7]),
            ("pub:eq:null", [3, 7]),
            ("pub:in:true", [0, 2, 5]),
        ])

    def test_text_ops(self):
        self.check([
            ("title:eq:beta", [1]),
            ("title:eq:Beta", []),
            ('title:eq:"Zeta"', [5]),
            ("title:ne:beta", [0, 2, 3, 4, 5, 6, 7]),
            ("title:like:%BUN%", [0, 2]),
            ("title:like:_eta", [1, 5]),
            ("title:like:%a", [1, 3, 5, 6]),
            ("title:like:beta", [1]),
            ("title:contains:BUN", [0, 2]),
            ("title:contains:eta", [1, 5, 6]),
            ("title:startsWith:ga", [2]),
            ("title:startsWith:Z", [5]),
            ("title:gt:delta", [4, 6]),
            ("title:lt:B", [0]),
            ("note:contains:%", [0, 4]),
            ("note:contains:_", [0, 5]),
            ("note:contains:50%", [0]),
            ("note:startsWith:50_", []),
            ("note:startsWith:%", [4]),
            ("note:like:50%", [0, 1, 6]),
            ("note:like:50_off%", [6]),
            ("note:eq:x:y:z", [2]),
            ("note:eq:null", [7]),
            ('note:eq:"null"', [3]),
            ("note:ne:null", [0, 1, 2, 3, 4, 5, 6]),
        ])

    def test_text_typing(self):
        self.check([
            ("zip:eq:12345", [0, 4]),     # a number compares by its literal form
            ("zip:eq:42", [3]),
            ('zip:eq:"42"', [3]),
            ("zip:eq:007", [6]),          # not JSON number syntax: a raw string
            ("zip:eq:9", [5]),
            ("zip:gt:5", [5]),            # text order: "9" > "5" > "42" > "12345"
            ("zip:in:12345,9", [0, 4, 5]),
            ("zip:eq:null", [2, 7]),
        ])

    def test_lists(self):
        self.check([
            ("status:in:draft,review", [0, 1, 3, 5, 6]),
            ("status:nin:draft,review", [2, 4, 7]),
            ('status:in:["draft","archived"]', [0, 3, 5, 7]),
            ('status:nin:["draft"]', [1, 2, 4, 6, 7]),
            ("status:in:[]", []),
            ("status:nin:[]", ALL),
            ('status:in:"draft","review"', [0, 1, 3, 5, 6]),
            ("n:in:5,10", [0, 1, 2, 6]),
            ("n:in:[5,10]", [0, 1, 2, 6]),
            ("n:nin:5,10", [3, 4, 5, 7]),
            ("n:in:100", [5]),
            ("pub:nin:true", [1, 3, 4, 6, 7]),
        ])
        # 100 items is the maximum
        items = ",".join(str(i) for i in range(100, 200))
        self.check([("n:in:" + items, [5])])
        r = self.rec("GET", "/%s%s" % (self.c, filters("n:in:" + items + ",200")))
        self.assertErr(r, 400, "invalid_filter")
        r = self.rec("GET", "/%s%s" % (self.c, filters("n:in:" + json.dumps(list(range(101))))))
        self.assertErr(r, 400, "invalid_filter")

    def test_json_columns(self):
        self.check([
            ("tags:eq:null", [2, 6]),
            ("tags:ne:null", [0, 1, 3, 4, 5, 7]),
            ('tags:contains:"c"', [3, 7]),
            ("tags:contains:k", [1]),
            ("tags:like:%a%", [0, 5, 7]),
        ])
        for cond in ("tags:gt:1", "tags:eq:a", "tags:in:a,b", "tags:startsWith:[",
                     "tags:ne:x", "tags:lte:5"):
            r = self.rec("GET", "/%s%s" % (self.c, filters(cond)))
            self.assertError(r, 400, "invalid_filter", "tags", msg=cond)
            r = self.rec("GET", "/%s/count%s" % (self.c, filters(cond)))
            self.assertError(r, 400, "invalid_filter", "tags", msg="count " + cond)

    def test_unknown_field_is_null(self):
        self.check([
            ("nope:eq:null", ALL),
            ("nope:ne:5", ALL),
            ("nope:eq:5", []),
            ("nope:gt:1", []),
            ("nope:like:%", []),
            ("nope:in:1,2", []),
        ])

    def test_system_fields(self):
        first = self.get(self.c, self.rid[0]).body
        self.check([
            ("_id:eq:" + self.rid[3], [3]),
            ("_id:in:%s,%s" % (self.rid[1], self.rid[6]), [1, 6]),
            ("_id:gt:" + self.rid[5], [6, 7]),
            ("_owner_id:eq:null", ALL),
            ("_owner_id:eq:" + fake_ulid(), []),
            ("_created_at:gte:%d" % first["_created_at"], ALL),
            ("_created_at:gt:%d" % (first["_created_at"] + 10 ** 9), []),
            ("_deleted_at:eq:null", ALL),
        ])

    def test_and_and_mixed_forms(self):
        self.check([
            (("status:eq:draft", "n:gte:5"), [0, 5]),
            (("pub:eq:true", "status:in:draft,review", "title:contains:bun", "zip:ne:null"), [0]),
            ('{"pub":true,"n":{"gte":10}}', [5]),
            ('{"status":{"in":["draft","review"]},"n":{"lt":10}}', [0, 6]),
            ('{"n":null}', [3]),
            ('{"zip":"42"}', [3]),
            ('{"zip":42}', [3]),
            ('{"title":{"contains":"BUN"},"n":5}', [0, 2]),
            ('{"n":{"gt":1,"lt":20}}', [0, 1, 2, 6]),
            ('[{"field":"n","op":"gte","value":10}]', [1, 5, 7]),
            ('[{"field":"n","op":"gte","value":10},{"field":"pub","op":"eq","value":null}]', [7]),
            ('[{"field":"status","op":"nin","value":["draft"]}]', [1, 2, 4, 6, 7]),
            (('{"pub":true}', "n:eq:5"), [0, 2]),
            (('[{"field":"zip","op":"eq","value":"12345"}]', "title:startsWith:e"), [4]),
            ("{}", ALL),
        ])

    def test_filter_errors(self):
        cases = ["title:bogus:x", "title", "title:eq", ":eq:x", "ti'tle:eq:x",
                 "title) OR 1=1 --:eq:x", "1abc:eq:x", "ti tle:eq:x",
                 '{"n":', '{"n":{"bogus":1}}', '[{"field":"n","op":"nope","value":1}]',
                 '[{"field":"n","value":1}]', '[{"op":"eq","value":1}]', '{"n":{"gte":1,"x":2}}',
                 '[{"field":"a;b","op":"eq","value":1}]', '["n"]', "[1,2"]
        bad = []
        for cond in cases:
            for path in ("/" + self.c, "/%s/count" % self.c):
                r = self.rec("GET", path + filters(cond))
                code = r.body.get("code") if isinstance(r.body, dict) else None
                if (r.status, code) != (400, "invalid_filter"):
                    bad.append("%s %r: %s %r" % (path, cond, r.status, r.body))
        self.assertFalse(bad, "\n  ".join(bad))
        r = self.rec("GET", "/%s%s" % (self.c, filters("title:bogus:x")))
        self.assertError(r, 400, "invalid_filter", "title")
        # 20 conditions is the maximum, 21 is too many (also across forms)
        self.check([(tuple(["n:ne:null"] * 20), [0, 1, 2, 4, 5, 6, 7])])
        r = self.rec("GET", "/%s%s" % (self.c, filters(*(["n:ne:null"] * 21))))
        self.assertErr(r, 400, "invalid_filter")
        obj = json.dumps({"f%d" % i: {"ne": 1} for i in range(21)})
        r = self.rec("GET", "/%s%s" % (self.c, filters(obj)))
        self.assertErr(r, 400, "invalid_filter")

    def test_sql_fragments_are_values(self):
        frags = ["x' OR '1'='1", "' OR 1=1 --", "beta' --", "beta\"; DROP TABLE %s; --" % self.c,
                 "%' OR title LIKE '%", "1); DELETE FROM x; --", "\\", "'", "`"]
        bad = []
        for f in frags:
            for cond in ("title:eq:" + f, "title:like:" + f, "title:contains:" + f,
                         "status:in:" + f + ",x", "_id:eq:" + f):
                r = self.rec("GET", "/" + self.c + filters(cond))
                if r.status != 200 or r.body.get("items") != []:
                    bad.append("%r: %s %r" % (cond, r.status, r.body))
            r = self.rec("GET", "/" + self.c + filters(json.dumps({"title": f})))
            if r.status != 200 or r.body.get("items") != []:
                bad.append("json %r: %s %r" % (f, r.status, r.body))
        # a string compared with a numeric column: no match, or a clean 400
        r = self.rec("GET", "/" + self.c + filters("n:eq:1 OR 1=1"))
        if not (r.status == 200 and r.body["items"] == []) and \
                not (r.status == 400 and r.body.get("code") == "invalid_filter"):
            bad.append("n:eq:1 OR 1=1 -> %s %r" % (r.status, r.body))
        self.assertFalse(bad, "\n  ".join(bad))
        self.assertEqual(self.count(self.c), 8, "the collection is intact")
        # the sort and search parameters are not SQL either
        for s in ("n; DROP TABLE x", "n desc", "(n)", "n,--"):
            self.assertError(self.rec("GET", "/" + self.c + q(sort=s)), 400, "invalid_query",
                             "sort", msg=s)
        r = self.rec("GET", "/" + self.c + q(search="x') OR 1=1 --"))
        self.assertIn(r.status, (200, 400), r.body)
        if r.status == 400:
            self.assertErr(r, 400, "invalid_search")
        else:
            self.assertEqual(r.body["items"], [])
        self.assertEqual(self.count(self.c), 8)

    # ---- sort -----------------------------------------------------------
    def test_sort(self):
        cases = [
            ("n", [3, 4, 0, 2, 6, 1, 7, 5]),
            ("+n", [3, 4, 0, 2, 6, 1, 7, 5]),
            ("n:asc", [3, 4, 0, 2, 6, 1, 7, 5]),
            ("-n", [5, 7, 1, 0, 2, 6, 4, 3]),
            ("n:desc", [5, 7, 1, 0, 2, 6, 4, 3]),
            ("title", [7, 0, 2, 5, 1, 3, 4, 6]),          # bytewise: "Z" < "b"
            ("-title", [6, 4, 3, 1, 5, 2, 0, 7]),
            ("pub,-price", [3, 7, 6, 1, 4, 5, 0, 2]),
            ("pub:asc,price:desc", [3, 7, 6, 1, 4, 5, 0, 2]),
            ("-_id", [7, 6, 5, 4, 3, 2, 1, 0]),
            ("_id", ALL),
            ("nope", ALL),
            ("-nope", ALL),
            ("price", [2, 7, 4, 0, 1, 3, 6, 5]),
            ("status,-n", [4, 7, 5, 0, 3, 2, 1, 6]),
        ]
        bad = []
        for s, want in cases:
            got = self.idx(q(sort=s))
            if got != want:
                bad.append("sort=%s: want %r, got %r" % (s, want, got))
        # repeated sort parameters are concatenated
        got = self.idx(q(("sort", "pub"), ("sort", "-price")))
        if got != [3, 7, 6, 1, 4, 5, 0, 2]:
            bad.append("sort=pub&sort=-price: got %r" % got)
        self.assertFalse(bad, "\n  ".join(bad))
        # combined with a filter
        self.assertEqual(self.idx(filters("n:eq:5", sort="-title")), [6, 2, 0])

    def test_sort_errors(self):
        for s in ("n:up", "-", "n:desc:x", "--n", "a'b", "1n", "n,,title", "+-n", "n:",
                  ":desc", "n DESC"):
            r = self.rec("GET", "/" + self.c + q(sort=s))
            self.assertError(r, 400, "invalid_query", "sort", msg=s)
        self.assertEqual(len(self.idx(q(sort="a,b,c,d,e"))), 8)
        r = self.rec("GET", "/" + self.c + q(sort="a,b,c,d,e,f"))
        self.assertError(r, 400, "invalid_query", "sort")
        r = self.rec("GET", "/" + self.c + q(("sort", "a,b,c"), ("sort", "d,e,f")))
        self.assertError(r, 400, "invalid_query", "sort")

    # ---- paging --------------------------------------------------------
    def test_page_and_limit(self):
        b = self.listing(self.c, q(limit=3))
        self.assertEqual((b["total"], b["page"], b["limit"]), (8, 1, 3))
        self.assertEqual([x["_id"] for x in b["items"]], self.rid[0:3])
        self.assertEqual(b["next_cursor"], self.rid[2])
        b = self.listing(self.c, q(limit=3, page=2))
        self.assertEqual([x["_id"] for x in b["items"]], self.rid[3:6])
        self.assertEqual((b["page"], b["next_cursor"]), (2, self.rid[5]))
        b = self.listing(self.c, q(limit=3, page=3))
        self.assertEqual([x["_id"] for x in b["items"]], self.rid[6:8])
        self.assertIsNone(b["next_cursor"])
        b = self.listing(self.c, q(limit=3, page=4))
        self.assertEqual((b["items"], b["total"], b["page"], b["next_cursor"]), ([], 8, 4, None))
        b = self.listing(self.c, q(limit=4, page=2))
        self.assertIsNone(b["next_cursor"], "nothing follows the last record")
        self.assertEqual(self.listing(self.c, q(per_page=2))["limit"], 2)
        self.assertEqual(self.listing(self.c, q(perPage=2))["limit"], 2)
        self.assertEqual(len(self.listing(self.c, q(perPage=2))["items"]), 2)
        self.assertEqual(self.listing(self.c, q(limit=3, per_page=2))["limit"], 3)
        self.assertEqual(self.listing(self.c, q(limit=501))["limit"], 500)
        self.assertEqual(self.listing(self.c, q(limit=100000))["limit"], 500)
        self.assertEqual(self.listing(self.c, q(limit=1))["limit"], 1)
        # repeated parameter: the last value
        self.assertEqual(self.listing(self.c, q(("limit", 7), ("limit", 2)))["limit"], 2)
        for k, v in (("limit", 0), ("limit", -1), ("limit", "abc"), ("limit", "1.5"),
                     ("page", 0), ("page", -2), ("page", "x"), ("page", "2.0")):
            r = self.rec("GET", "/" + self.c + q(**{k: v}))
            self.assertError(r, 400, "invalid_query", k, msg="%s=%r" % (k, v))
            r = self.rec("GET", "/%s/count%s" % (self.c, q(**{k: v})))
            self.assertIn(r.status, (200, 400), "count ignores or rejects %s" % k)
        r = self.rec("GET", "/" + self.c + q(per_page=0))
        self.assertErr(r, 400, "invalid_query")

    def walk(self, query, limit):
        """Follows next_cursor from the first page; returns indexes."""
        out, after, pages = [], None, 0
        pos = {rid: i for i, rid in enumerate(self.rid)}
        while True:
            params = list(query) + [("limit", limit)]
            if after:
                params.append(("after", after))
            b = self.listing(self.c, q(*params))
            self.assertEqual(b["page"], 1)
            out += [pos[x["_id"]] for x in b["items"]]
            after = b["next_cursor"]
            if after is not None:
                self.assertEqual(after, b["items"][-1]["_id"])
            pages += 1
            self.assertLess(pages, 20, "cursor loop")
            if after is None:
                return out, b["total"]

    def test_after_cursor(self):
        b = self.listing(self.c, q(after=self.rid[2], limit=3))
        self.assertEqual([x["_id"] for x in b["items"]], self.rid[3:6])
        self.assertEqual((b["total"], b["page"], b["next_cursor"]), (8, 1, self.rid[5]))
        b = self.listing(self.c, q(after=self.rid[5], limit=3, page=3))
        self.assertEqual([x["_id"] for x in b["items"]], self.rid[6:8])
        self.assertEqual((b["page"], b["next_cursor"]), (1, None))
        b = self.listing(self.c, q(after=self.rid[7]))
        self.assertEqual((b["items"], b["total"], b["next_cursor"]), ([], 8, None))
        sorts = {
            "": ALL, "-n": [5, 7, 1, 0, 2, 6, 4, 3], "n": [3, 4, 0, 2, 6, 1, 7, 5],
            "title": [7, 0, 2, 5, 1, 3, 4, 6], "pub,-price": [3, 7, 6, 1, 4, 5, 0, 2],
            "-pub,n": [0, 2, 5, 4, 6, 1, 3, 7],
            "status,-n": [4, 7, 5, 0, 3, 2, 1, 6], "-_id": [7, 6, 5, 4, 3, 2, 1, 0],
            "nope": ALL, "price": [2, 7, 4, 0, 1, 3, 6, 5],
        }
        bad = []
        for s, want in sorts.items():
            for limit in (1, 2, 3):
                got, total = self.walk([("sort", s)] if s else [], limit)
                if got != want or total != 8:
                    bad.append("sort=%r limit=%d: want %r, got %r (total %r)"
                               % (s, limit, want, got, total))
            # starting after every record gives the rest of the order
            for i, start in enumerate(want):
                got = self.idx(q(*([("sort", s)] if s else []), after=self.rid[start], limit=50))
                if got != want[i + 1:]:
                    bad.append("sort=%r after #%d: want %r, got %r" % (s, start, want[i + 1:], got))
        # with a filter: the cursor keeps it
        got, total = self.walk([("sort", "-n"), ("filter", "n:gte:5")], 2)
        if got != [5, 7, 1, 0, 2, 6] or total != 6:
            bad.append("filter n:gte:5 sort -n: %r %r" % (got, total))
        # with a search
        got, total = self.walk([("search", "bun*"), ("sort", "-title")], 1)
        if got != [2, 0] or total != 2:
            bad.append("search bun*: %r %r" % (got, total))
        self.assertFalse(bad, "%d mismatches:\n  " % len(bad) + "\n  ".join(bad))

    def test_after_errors(self):
        other = self.coll()
        oid = self.admin_insert(other, {"x": 1})["_id"]
        for a in (fake_ulid(), "abc", oid, self.rid[0].lower(), "0" * 26):
            r = self.rec("GET", "/" + self.c + q(after=a))
            self.assertErr(r, 400, "invalid_cursor", msg=repr(a))

    def test_after_soft_deleted(self):
        c = self.coll()
        ids = [self.admin_insert(c, {"n": i})["_id"] for i in range(5)]
        self.assertOKBody(self.rec("DELETE", "/%s/%s" % (c, ids[2]), token=self.cluster.admin))
        b = self.listing(c, q(after=ids[2]))
        self.assertEqual([x["_id"] for x in b["items"]], ids[3:])
        self.assertEqual(b["total"], 4)
        b = self.listing(c, q(after=ids[2], sort="-n"))
        self.assertEqual([x["_id"] for x in b["items"]], [ids[1], ids[0]])
        # a hard-deleted record is no longer a record of the collection
        self.assertOKBody(self.adm("DELETE", "/admin/collections/%s/records/%s" % (c, ids[4])))
        self.assertErr(self.rec("GET", "/" + c + q(after=ids[4])), 400, "invalid_cursor")

    # ---- fields --------------------------------------------------------
    def test_fields(self):
        b = self.listing(self.c, q(fields="title"))
        for x in b["items"]:
            self.assertEqual(set(x), {"_id", "title"}, x)
        self.assertEqual(b["items"][1]["title"], "beta")
        b = self.listing(self.c, q(fields="title,_created_at,n"))
        self.assertEqual(set(b["items"][0]), {"_id", "title", "_created_at", "n"})
        b = self.listing(self.c, q(fields="nope"))
        self.assertEqual(b["items"][0], {"_id": self.rid[0]})
        b = self.listing(self.c, q(fields="tags,nope,pub"))
        self.assertEqual(b["items"][0], {"_id": self.rid[0], "tags": ["a", "b"], "pub": True})
        self.assertEqual(b["next_cursor"], None)
        b = self.listing(self.c, q(fields="_owner_id", limit=2))
        self.assertEqual(b["items"][0], {"_id": self.rid[0], "_owner_id": None})
        self.assertEqual(b["next_cursor"], self.rid[1], "the cursor still works with fields")
        r = self.get(self.c, self.rid[1], query=q(fields="n,price"))
        self.assertStatus(r, 200)
        self.assertEqual(set(r.body), {"_id", "n", "price"})
        self.assertEqual(r.body["n"], 10)
        # fields does not restrict filter or sort
        self.assertEqual(self.idx(q(("fields", "title"), ("filter", "n:eq:5"), ("sort", "-n"))),
                         [0, 2, 6])

    # ---- search ----------------------------------------------------------
    def test_search(self):
        cases = [("bun", [0]), ("bun*", [0, 2]), ('"bun native"', [0]),
                 ('"native bun"', []), ("bun* NOT native", [2]),
                 ("beta OR delta", [1, 3]), ("review", [1, 6]), ("draft AND zeta", [5]),
                 ("(beta OR delta) AND review", [1]), ("percent", [1]), ("BETA", [1]),
                 ("zzzzz", [])]
        bad = []
        for s, want in cases:
            got = self.idx(q(search=s))
            if got != want:
                bad.append("search=%r: want %r, got %r" % (s, want, got))
            r = self.rec("GET", "/%s/count%s" % (self.c, q(search=s)))
            if r.status != 200 or r.body != {"count": len(want)}:
                bad.append("count search=%r: %s %r" % (s, r.status, r.body))
        self.assertFalse(bad, "\n  ".join(bad))
        self.assertEqual(self.idx(q(search="")), ALL, "empty search is ignored")
        self.assertEqual(self.idx(q(("search", "bun*"), ("filter", "n:eq:5"))), [0, 2])
        self.assertEqual(self.idx(q(("search", "bun*"), ("filter", "pub:eq:false"))), [])
        self.assertEqual(self.idx(q(search="bun*", sort="-title")), [2, 0])
        b = self.listing(self.c, q(search="bun* OR beta", limit=2))
        self.assertEqual((b["total"], b["next_cursor"]), (3, self.rid[1]))
        for s in ('"unterminated', "AND", "(beta", "beta OR", "NOT", "*"):
            r = self.rec("GET", "/" + self.c + q(search=s))
            self.assertErr(r, 400, "invalid_search", msg=s)
            r = self.rec("GET", "/%s/count%s" % (self.c, q(search=s)))
            self.assertErr(r, 400, "invalid_search", msg="count " + s)

    def test_search_index_follows_writes(self):
        c = self.coll()
        t = self.user.token
        a = self.create(c, {"a": "hello world"}, token=t)
        b = self.create(c, {"n": 1}, token=t)
        self.assertEqual(self.ids(c, q(search="hello")), [a["_id"]])
        # a new text column joins the index, for new and for updated records
        x = self.create(c, {"body": "zyzzyva"}, token=t)
        self.assertEqual(self.ids(c, q(search="zyzzyva")), [x["_id"]])
        self.assertStatus(self.rec("PATCH", "/%s/%s" % (c, b["_id"]), {"body": "quokka"}, token=t), 200)
        self.assertEqual(self.ids(c, q(search="quokka")), [b["_id"]])
        # updates replace the old text
        self.assertStatus(self.rec("PATCH", "/%s/%s" % (c, a["_id"]), {"a": "goodbye"}, token=t), 200)
        self.assertEqual(self.ids(c, q(search="hello")), [])
        self.assertEqual(self.ids(c, q(search="goodbye")), [a["_id"]])
        self.assertStatus(self.rec("PATCH", "/%s/%s" % (c, a["_id"]), {"a": None}, token=t), 200)
        self.assertEqual(self.ids(c, q(search="goodbye")), [])
        # soft delete hides from search; restore brings back; admin include_deleted sees it
        self.assertOKBody(self.rec("DELETE", "/%s/%s" % (c, x["_id"]), token=t))
        self.assertEqual(self.ids(c, q(search="zyzzyva")), [])
        self.assertEqual(self.ids(c, q(search="zyzzyva", include_deleted="true"),
                                  token=self.cluster.admin), [x["_id"]])
        self.assertStatus(self.rec("POST", "/%s/%s/restore" % (c, x["_id"]), token=t), 200)
        self.assertEqual(self.ids(c, q(search="zyzzyva")), [x["_id"]])
        # bulk and admin writes are indexed too
        r = self.rec("POST", "/%s/bulk" % c, [{"body": "wombat one"}, {"body": "wombat two"}], token=t)
        self.assertStatus(r, 201)
        self.assertEqual(self.count(c, q(search="wombat")), 2)
        ad = self.admin_insert(c, {"body": "platypus"})
        self.assertEqual(self.ids(c, q(search="platypus")), [ad["_id"]])
        # a hard delete removes it from the index
        self.assertOKBody(self.adm("DELETE", "/admin/collections/%s/records/%s" % (c, ad["_id"])))
        self.assertEqual(self.ids(c, q(search="platypus", include_deleted="true"),
                                  token=self.cluster.admin), [])
        # a dropped column leaves the index
        self.assertOKBody(self.adm("DELETE", "/admin/collections/%s/schema/body" % c))
        self.assertEqual(self.ids(c, q(search="zyzzyva")), [])
        # numbers are not text columns
        self.assertEqual(self.ids(c, q(search="1")), [])

    def test_search_index_is_atomic_and_concurrent(self):
        # The index is written when the transaction commits (staged rows,
        # sqlgen.c): what a failed write staged never reaches it, and
        # writes sharing one COMMIT are all indexed.
        c = self.coll()
        t = self.user.token
        self.create(c, {"body": "seed text", "n": 1}, token=t)
        r = self.rec("POST", "/%s/bulk" % c, [{"body": "aardvark one"}, {"body": 5}], token=t)
        self.assertErr(r, 400, "type_mismatch")
        self.assertEqual(self.count(c, q(search="aardvark")), 0)
        r = self.rec("POST", "/%s/batch" % c, [
            {"op": "create", "data": {"body": "gnu"}},
            {"op": "update", "id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "data": {"body": "x"}}], token=t)
        self.assertStatus(r, 404)
        self.assertEqual(self.count(c, q(search="gnu")), 0)
        # create, update and delete in one batch: the index ends as the records do
        a = self.create(c, {"body": "ibex"}, token=t)
        r = self.rec("POST", "/%s/batch" % c, [
            {"op": "create", "data": {"body": "okapi"}},
            {"op": "update", "id": a["_id"], "data": {"body": "oryx"}},
            {"op": "update", "id": a["_id"], "data": {"body": "tapir"}}], token=t)
        self.assertStatus(r, 200)
        for word, n in (("ibex", 0), ("oryx", 0), ("tapir", 1), ("okapi", 1)):
            self.assertEqual(self.count(c, q(search=word)), n, word)
        # concurrent creates (grouped into shared COMMITs) are all found
        words = ["yak%s" % "".join(chr(97 + (i // 26 ** k) % 26) for k in range(3))
                 for i in range(48)]
        errs = []

        def make(w):
            try:
                r = self.rec("POST", "/%s" % c, {"body": "yak " + w}, token=t)
                if r.status != 201:
                    errs.append(r.status)
            except OSError as e:
                errs.append(str(e))
        threads = [threading.Thread(target=make, args=(w,)) for w in words]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        self.assertEqual(errs, [])
        self.assertEqual(self.count(c, q(search="yak")), 48)
        self.assertEqual(self.count(c, q(search=words[17])), 1)
        # a soft-deleted match is not counted (nor listed); restored, it is
        y = self.ids(c, q(search=words[17]))[0]
        self.assertOKBody(self.rec("DELETE", "/%s/%s" % (c, y), token=t))
        self.assertEqual(self.count(c, q(search="yak")), 47)
        self.assertEqual(self.listing(c, q(search="yak", limit=1))["total"], 47)
        self.assertEqual(self.count(c, q(search="yak", include_deleted="true"),
                                    token=self.cluster.admin), 48)
        self.assertStatus(self.rec("POST", "/%s/%s/restore" % (c, y), token=t), 200)
        self.assertEqual(self.count(c, q(search="yak")), 48)
        self.assertEqual(self.listing(c, q(search="yak", limit=1))["total"], 48)

    def test_literal_commas_colons_and_ascii_case(self):
        c = self.coll()
        ids = [self.admin_insert(c, {"t": v})["_id"] for v in
               ("a,b", "a", "b", "x:y", "\u00c9cole", "\u00e9cole", "100%")]
        cases = [
            ("t:eq:a,b", [0]), ("t:in:a,b", [1, 2]), ("t:nin:a,b", [0, 3, 4, 5, 6]),
            ("t:eq:x:y", [3]), ("t:contains:,", [0]), ("t:startsWith:x:", [3]),
            ("t:like:\u00e9cole", [5]),          # ASCII case-insensitive only
            ("t:eq:\u00c9cole", [4]), ("t:contains:COLE", [4, 5]), ("t:like:%COLE", [4, 5]),
            ("t:like:100%", [6]), ("t:contains:0%", [6]), ("t:like:_", [1, 2]),
        ]
        bad = []
        for cond, want in cases:
            got = [ids.index(x) for x in self.ids(c, filters(cond))]
            if got != want:
                bad.append("%r: want %r, got %r" % (cond, want, got))
        self.assertFalse(bad, "\n  ".join(bad))

    def test_sort_json_by_text(self):
        # compact or not, JSON text orders '[' before '{' and '"' before ']'
        self.assertEqual(self.idx(q(sort="tags")), [2, 6, 0, 7, 5, 3, 4, 1])
        self.assertEqual(self.idx(q(sort="-tags")), [1, 4, 3, 5, 7, 0, 2, 6])

    # ---- misc ------------------------------------------------------------
    def test_url_too_long(self):
        r = self.rec("GET", "/" + self.c + filters("title:eq:" + "x" * 9000))
        self.assertErr(r, 400, "invalid_query")

    def test_unknown_params_ignored(self):
        self.assertEqual(self.idx(q(bogus="1", sortt="-n")), ALL)


class HiddenRecordsTest(DataTest):
    """Owner-rule records are never counted, sorted, searched or matched
    for a non-owner (§3.3 record level)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = cls.mkuser()
        cls.bob = cls.mkuser()
        cls.c = cls.mkcoll(rules=all_rules("owner"))
        cls.a_ids = []
        for i, secret in enumerate(("alpha-secret", "beta-secret", "gamma-secret")):
            r = cls._req("POST", "/" + cls.c, {"secret": secret, "n": 1000 + i,
                                                "word": "confidential"}, token=cls.alice.token)
            assert r.status == 201, (r.status, r.body)
            cls.a_ids.append(r.body["_id"])
        r = cls._req("POST", "/" + cls.c, {"secret": "bob", "n": 1, "word": "public"},
                     token=cls.bob.token)
        assert r.status == 201, (r.status, r.body)
        cls.b_id = r.body["_id"]

    def test_no_leaks(self):
        t = self.bob.token
        probes = [q(), filters("secret:eq:alpha-secret"), filters("secret:like:%secret%"),
                  filters("n:gt:100"), filters("_owner_id:eq:" + self.alice.id),
                  q(search="confidential"), q(search="alpha*"), q(sort="-n"), q(sort="secret"),
                  filters("secret:ne:bob"), filters("secret:nin:bob")]
        for p in probes:
            b = self.listing(self.c, p, token=t)
            ids = [x["_id"] for x in b["items"]]
            self.assertTrue(set(ids) <= {self.b_id}, (p, b))
            self.assertEqual(b["total"], len(ids), (p, b))
            r = self.rec("GET", "/%s/count%s" % (self.c, p), token=t)
            self.assertStatus(r, 200)
            self.assertEqual(r.body["count"], len(ids), p)
        self.assertEqual(self.ids(self.c, q(sort="-n"), token=t), [self.b_id])
        self.assertEqual(self.count(self.c, filters("secret:eq:alpha-secret"), token=t), 0)
        for fn, field, want in (("count", None, 1), ("sum", "n", 1), ("max", "n", 1),
                                ("min", "secret", "bob"), ("avg", "n", 1)):
            params = {"fn": fn}
            if field:
                params["field"] = field
            r = self.rec("GET", "/%s/aggregate%s" % (self.c, q(**params)), token=t)
            self.assertStatus(r, 200)
            self.assertEqual(r.body["value"], want, (fn, r.body))
        r = self.rec("GET", "/%s/aggregate%s" % (self.c, q(fn="count", group_by="secret")), token=t)
        self.assertStatus(r, 200)
        self.assertEqual(r.body["groups"], [{"key": "bob", "value": 1}])
        # the owner sees her own
        self.assertEqual(self.ids(self.c, q(sort="-n"), token=self.alice.token),
                         self.a_ids[::-1])
        self.assertEqual(self.count(self.c, q(search="confidential"), token=self.alice.token), 3)
        # anonymous: 401, not an empty list
        self.assertError(self.rec("GET", "/" + self.c), 401, "auth_required")
        self.assertError(self.rec("GET", "/%s/count" % self.c), 401, "auth_required")
