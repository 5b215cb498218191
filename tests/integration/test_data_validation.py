"""Field validation rules: PUT /admin/collections/:c/rules (API.md §3.9,
§3.8 write-error order, §5.1)."""

from authlib import parallel
from datalib import DataTest, uniq_coll


class ValidationTest(DataTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = cls.mkuser()

    def vcoll(self, fields):
        c = self.coll()
        r = self.put_validation(c, fields)
        self.assertStatus(r, 200, "PUT rules %r" % (fields,))
        self.assertEqual(r.body, {"name": c, "fields": fields})
        return c

    def post(self, c, body):
        return self.rec("POST", "/" + c, body, token=self.alice.token)

    def patch(self, c, rid, body):
        return self.rec("PATCH", "/%s/%s" % (c, rid), body, token=self.alice.token)

    def test_put_and_get(self):
        fields = {"title": {"type": "text", "required": True, "minLength": 1, "maxLength": 200},
                  "price": {"type": "number", "min": 0},
                  "status": {"enum": ["draft", "published"]},
                  "slug": {"type": "text", "pattern": "^[a-z0-9-]+$", "unique": True}}
        c = self.vcoll(fields)
        self.assertEqual(self.schema(c)["validation"], {"fields": fields})
        # PUT replaces the whole set
        self.assertStatus(self.put_validation(c, {"price": {"max": 5}}), 200)
        self.assertEqual(self.schema(c)["validation"], {"fields": {"price": {"max": 5}}})
        self.assertStatus(self.post(c, {"status": "anything"}), 201)
        self.assertStatus(self.put_validation(c, {}), 200)
        self.assertEqual(self.schema(c)["validation"], {"fields": {}})
        self.assertStatus(self.post(c, {"price": 100}), 201)

    def test_types(self):
        cases = {
            "text": (["", "x"], [5, True, {"a": 1}, [1], 1.5]),
            "integer": ([0, -7, 12], [1.5, "1", True, [1]]),
            "real": ([1.5, -0.25], ["1.5", False, {}]),
            "number": ([1, 1.5, -3], ["1", True, [2]]),
            "boolean": ([True, False], [1, 0, "true", "false"]),
            "json": ([{}, {"a": 1}, [], [1, "x"]], ["x", 5, True]),
        }
        for t, (good, bad) in cases.items():
            for v in bad:
                c = self.vcoll({"f": {"type": t}})
                r = self.post(c, {"f": v})
                self.assertError(r, 400, "validation_error", "f", msg="%s %r" % (t, v))
                self.assertEqual(self.count(c), 0)
            c = self.vcoll({"f": {"type": t}})
            for v in good:
                r = self.post(c, {"f": v})
                self.assertStatus(r, 201, "%s %r" % (t, v))
            self.assertStatus(self.post(c, {"f": None}), 201, "null passes type")
            self.assertStatus(self.post(c, {}), 201, "absent passes type")

    def test_required(self):
        c = self.vcoll({"title": {"required": True}})
        self.assertError(self.post(c, {}), 400, "validation_error", "title")
        self.assertError(self.post(c, {"title": None, "other": 1}), 400, "validation_error", "title")
        rec = self.post(c, {"title": "t"}).body
        self.assertEqual(self.count(c), 1)
        # update: only when present, and then non-null
        r = self.patch(c, rec["_id"], {"other": 2})
        self.assertStatus(r, 200)
        self.assertError(self.patch(c, rec["_id"], {"title": None}), 400, "validation_error", "title")
        self.assertStatus(self.patch(c, rec["_id"], {"title": ""}), 200, "empty string is present")
        self.assertStatus(self.patch(c, rec["_id"], {}), 200)
        # bulk and the admin endpoint validate too
        r = self.rec("POST", "/%s/bulk" % c, [{"title": "a"}, {}], token=self.alice.token)
        self.assertError(r, 400, "validation_error", "title")
        r = self.adm("POST", "/admin/collections/%s/records" % c, {"x": 1})
        self.assertError(r, 400, "validation_error", "title")
        r = self.adm("PATCH", "/admin/collections/%s/records/%s" % (c, rec["_id"]), {"title": None})
        self.assertError(r, 400, "validation_error", "title")
        self.assertEqual(self.count(c), 1)

    def test_min_max(self):
        c = self.vcoll({"p": {"min": 0, "max": 10.5}})
        for v in (0, 10.5, 5, 0.0):
            self.assertStatus(self.post(c, {"p": v}), 201, repr(v))
        for v in (-1, -0.001, 10.6, 11, 1e300):
            self.assertError(self.post(c, {"p": v}), 400, "validation_error", "p", msg=repr(v))
        # min/max apply only to numbers
        c2 = self.vcoll({"p": {"min": 5}})
        self.assertStatus(self.post(c2, {"p": "abc"}), 201)

    def test_lengths_in_code_points(self):
        c = self.vcoll({"s": {"minLength": 2, "maxLength": 3}})
        for v in ("ab", "abc", "\u00e9\u00e9\u00e9", "\U0001F600\U0001F600", "\u4e2d\u6587"):
            self.assertStatus(self.post(c, {"s": v}), 201, repr(v))
        for v in ("a", "abcd", "\u00e9", "\U0001F600" * 4, ""):
            self.assertError(self.post(c, {"s": v}), 400, "validation_error", "s", msg=repr(v))
        # lengths apply only to strings
        c2 = self.vcoll({"s": {"maxLength": 1}})
        self.assertStatus(self.post(c2, {"s": 12345}), 201)
        c3 = self.vcoll({"s": {"minLength": 0, "maxLength": 0}})
        self.assertStatus(self.post(c3, {"s": ""}), 201)
        self.assertError(self.post(c3, {"s": "x"}), 400, "validation_error", "s")

    def test_pattern(self):
        c = self.vcoll({"slug": {"pattern": "^[a-z0-9-]+$"}, "u": {"pattern": "b+"},
                        "alt": {"pattern": "^(cat|dog)s?$"}, "cls": {"pattern": "^[[:digit:]]{3}$"}})
        for body in ({"slug": "hello-1"}, {"u": "abbbc"}, {"u": "b"}, {"alt": "dogs"},
                     {"alt": "cat"}, {"cls": "123"}):
            self.assertStatus(self.post(c, body), 201, repr(body))
        for body, f in (({"slug": "Hello"}, "slug"), ({"slug": "a b"}, "slug"),
                        ({"slug": ""}, "slug"), ({"u": "ac"}, "u"), ({"alt": "cow"}, "alt"),
                        ({"alt": "catss"}, "alt"), ({"cls": "12a"}, "cls"),
                        ({"cls": "1234"}, "cls")):
            self.assertError(self.post(c, body), 400, "validation_error", f, msg=repr(body))
        # patterns apply only to strings
        c2 = self.vcoll({"p": {"pattern": "^x$"}})
        self.assertStatus(self.post(c2, {"p": 5}), 201)

    def test_enum(self):
        c = self.vcoll({"st": {"enum": ["draft", "published"]}, "n": {"enum": [1, 2.5]},
                        "b": {"enum": [True]}})
        for body in ({"st": "draft"}, {"st": None}, {"n": 1}, {"n": 1.0}, {"n": 2.5},
                     {"b": True}):
            self.assertStatus(self.post(c, body), 201, repr(body))
        for body, f in (({"st": "Draft"}, "st"), ({"st": "x"}, "st"), ({"n": 2}, "n"),
                        ({"b": False}, "b")):
            self.assertError(self.post(c, body), 400, "validation_error", f, msg=repr(body))
        c2 = self.vcoll({"n": {"enum": ["1"]}})
        self.assertError(self.post(c2, {"n": 1}), 400, "validation_error", "n",
                         msg="JSON equality: 1 is not \"1\"")

    def test_unique(self):
        c = self.vcoll({"slug": {"unique": True}})
        a = self.post(c, {"slug": "a"}).body
        self.assertError(self.post(c, {"slug": "a"}), 409, "unique_violation", "slug")
        b = self.post(c, {"slug": "b"}).body
        self.assertError(self.patch(c, b["_id"], {"slug": "a"}), 409, "unique_violation", "slug")
        self.assertStatus(self.patch(c, a["_id"], {"slug": "a"}), 200, "its own value")
        # null never clashes
        self.assertStatus(self.post(c, {"slug": None}), 201)
        self.assertStatus(self.post(c, {"other": 1}), 201)
        # soft-deleted records still hold their value
        self.assertOKBody(self.rec("DELETE", "/%s/%s" % (c, a["_id"]), token=self.alice.token))
        self.assertError(self.post(c, {"slug": "a"}), 409, "unique_violation", "slug")
        # a hard delete frees it
        self.assertOKBody(self.adm("DELETE", "/admin/collections/%s/records/%s" % (c, a["_id"])))
        self.assertStatus(self.post(c, {"slug": "a"}), 201)
        # unique with no column yet creates the column with the rule's type
        c2 = self.coll()
        self.assertStatus(self.put_validation(c2, {"code": {"unique": True},
                                                   "num": {"unique": True, "type": "integer"}}), 200)
        self.assertEqual(self.columns(c2), {"code": "text", "num": "integer"})
        # existing duplicates refuse the rule, and the old set stays
        self.assertStatus(self.post(c2, {"d": "x"}), 201)
        self.assertStatus(self.post(c2, {"d": "x"}), 201)
        r = self.put_validation(c2, {"d": {"unique": True}})
        self.assertErr(r, 409, "unique_violation")
        self.assertEqual(set(self.schema(c2)["validation"]["fields"]), {"code", "num"})

    def test_parallel_unique(self):
        """16 concurrent creates of one unique value: exactly one wins."""
        c = self.vcoll({"code": {"unique": True}})
        toks = [self.alice.token] * 16
        results = parallel([lambda t=t: self.post(c, {"code": "same"}) for t in toks])
        statuses = sorted(getattr(r, "status", -1) for r in results)
        self.assertEqual(statuses, [201] + [409] * 15, [getattr(r, "body", r) for r in results])
        for r in results:
            if r.status == 409:
                self.assertError(r, 409, "unique_violation", "code")
        self.assertEqual(self.count(c), 1)

    def test_failure_order(self):
        c = self.vcoll({"b": {"required": True}, "a": {"maxLength": 1}, "c": {"min": 5},
                        "u": {"unique": True}})
        self.assertStatus(self.post(c, {"a": "x", "b": 1, "c": 5, "u": "taken", "t": "text"}), 201)
        # the first failing field in ascending name order
        self.assertError(self.post(c, {"a": "long", "c": 1}), 400, "validation_error", "a")
        self.assertError(self.post(c, {"c": 1}), 400, "validation_error", "b")
        self.assertError(self.post(c, {"b": 1, "c": 1}), 400, "validation_error", "c")
        # validation_error before unique_violation
        self.assertError(self.post(c, {"b": 1, "c": 1, "u": "taken"}), 400, "validation_error", "c")
        self.assertError(self.post(c, {"b": 1, "u": "taken"}), 409, "unique_violation", "u")
        # type_mismatch / invalid_field_name before validation_error
        self.assertError(self.post(c, {"t": 5}), 400, "type_mismatch", "t")
        self.assertError(self.post(c, {"a-b": 5}), 400, "invalid_field_name", "a-b")
        self.assertEqual(self.count(c), 1)
        r = self.adm("POST", "/admin/collections/%s/records" % c, {"b": 1, "c": 0, "a": "toolong"})
        self.assertError(r, 400, "validation_error", "a", msg="the admin endpoint validates too")
        self.assertEqual(self.count(c), 1)

    def test_update_checks_present_fields(self):
        c = self.coll()
        rec = self.create(c, {"a": "toolong", "n": -5}, token=self.alice.token)
        self.assertStatus(self.put_validation(c, {"a": {"maxLength": 3}, "n": {"min": 0}}), 200)
        self.assertStatus(self.patch(c, rec["_id"], {"z": 1}), 200, "existing data is not checked")
        self.assertError(self.patch(c, rec["_id"], {"n": -1}), 400, "validation_error", "n")
        self.assertStatus(self.patch(c, rec["_id"], {"n": 1}), 200)
        self.assertError(self.patch(c, rec["_id"], {"a": "also long"}), 400, "validation_error", "a")

    def test_definition_errors(self):
        c = self.coll()
        good = {"ok": {"type": "text"}}
        self.assertStatus(self.put_validation(c, good), 200)
        cases = [
            ({"price": {"minimum": 0}}, "fields.price.minimum"),
            ({"price": {"min": "0"}}, "fields.price.min"),
            ({"price": {"max": True}}, "fields.price.max"),
            ({"t": {"required": "yes"}}, "fields.t.required"),
            ({"t": {"unique": 1}}, "fields.t.unique"),
            ({"t": {"minLength": -1}}, "fields.t.minLength"),
            ({"t": {"maxLength": 1.5}}, "fields.t.maxLength"),
            ({"t": {"maxLength": "3"}}, "fields.t.maxLength"),
            ({"t": {"type": "string"}}, "fields.t.type"),
            ({"t": {"type": 5}}, "fields.t.type"),
            ({"t": {"enum": []}}, "fields.t.enum"),
            ({"t": {"enum": "draft"}}, "fields.t.enum"),
            ({"t": {"enum": [{"a": 1}]}}, "fields.t.enum"),
            ({"t": {"enum": [[1]]}}, "fields.t.enum"),
            ({"t": {"pattern": "("}}, "fields.t.pattern"),
            ({"t": {"pattern": "[a-"}}, "fields.t.pattern"),
            ({"t": {"pattern": 5}}, "fields.t.pattern"),
            ({"t": 5}, "fields.t"),
            ({"t": "required"}, "fields.t"),
            ({"_id": {"required": True}}, "fields._id"),
            ({"_owner_id": {"unique": True}}, "fields._owner_id"),
            ({"_created_at": {"min": 0}}, "fields._created_at"),
            ({"a-b": {"required": True}}, "fields.a-b"),
            ({"1a": {}}, "fields.1a"),
            ({"x" * 64: {}}, "fields." + "x" * 64),
        ]
        for fields, field in cases:
            r = self.put_validation(c, fields)
            self.assertError(r, 400, "validation_error", field, msg=repr(fields))
        for body, field in (({"fields": {}, "extra": 1}, "extra"), ({"fields": 5}, "fields"),
                            ({"fields": [1]}, "fields"), ({}, "fields")):
            r = self.adm("PUT", "/admin/collections/%s/rules" % c, body)
            self.assertError(r, 400, "validation_error", field, msg=repr(body))
        self.assertError(self.adm("PUT", "/admin/collections/%s/rules" % c, [1]), 400,
                         "invalid_body")
        self.assertEqual(self.schema(c)["validation"], {"fields": good}, "nothing applied")
        self.assertError(self.put_validation(uniq_coll("nx"), {}), 404, "collection_not_found")
