"""Helpers for the data-service integration tests (API.md §3, §5.1, §5.6).

Not a test module (no test_ prefix): test_data_*.py import it. Python 3
standard library only; written from the contract, not from the C code.

  DataTest      an AuthTest (one cluster per class) with helpers for
                collections (admin), records (public and admin endpoints),
                users with roles / verification, query strings and record
                assertions
  q()           a query string from pairs (repeated keys allowed)
  Caller        a user fixture: id, token, email
"""

import itertools
import json
import random
import string
import urllib.parse

from authlib import API, PASSWORD, AuthTest, fake_ulid, uniq_email  # noqa: F401
from harness import ULID_RE, is_int  # noqa: F401

SYSTEM = ("_id", "_created_at", "_updated_at", "_owner_id", "_deleted_at")
LIST_KEYS = {"items", "total", "page", "limit", "next_cursor"}
COLLECTION_KEYS = {"name", "rules", "record_count", "created_at", "updated_at"}
DEFAULT_RULES = {"read": "public", "create": "authenticated",
                 "update": "owner", "delete": "owner"}
OPS = ("read", "create", "update", "delete")
ANY = object()   # assertErr: do not check `field`

_seq = itertools.count(1)
_run = "".join(random.choice(string.ascii_lowercase) for _ in range(5))


def uniq_coll(prefix="c"):
    """A fresh valid collection name (letters, digits, _)."""
    return "%s%d_%s" % (prefix, next(_seq), _run)


def q(*pairs, **kw):
    """'?a=1&b=2' from pairs [(k, v), ...] and/or keywords; '' when empty.
    Values are percent-encoded (so `%`, `&`, `+`, `"` survive)."""
    items = list(pairs) + list(kw.items())
    if not items:
        return ""
    return "?" + "&".join("%s=%s" % (urllib.parse.quote(str(k), safe=""),
                                     urllib.parse.quote(str(v), safe=""))
                          for k, v in items)


def filters(*conds, **kw):
    """'?filter=a&filter=b...' plus extra keyword params."""
    return q(*[("filter", c) for c in conds], **kw)


def all_rules(r):
    return {op: r for op in OPS}


class Caller:
    """A registered user: .id, .token (access token), .email, .roles."""

    def __init__(self, body, email):
        self.body = body
        self.id = body["user"]["id"]
        self.token = body["access_token"]
        self.email = email
        self.roles = list(body["user"]["roles"])

    def __repr__(self):
        return "Caller(%s)" % self.email


class DataTest(AuthTest):
    """A cluster per class, plus data helpers. Every test uses its own
    collection names (uniq_coll), so tests in a class never interfere."""
    MAIL = False

    # ---- class-level helpers (usable from setUpClass) --------------------
    @classmethod
    def _req(cls, method, path, body=None, token=None, headers=None):
        if not path.startswith("/api/"):
            path = API + path
        return cls.cluster.request(method, path, body, headers, token)

    @classmethod
    def _admin(cls, method, path, body=None, headers=None):
        return cls._req(method, path, body, token=cls.cluster.admin, headers=headers)

    @classmethod
    def mkuser(cls, roles=None, verified=None, prefix="d"):
        """Registers a user; optionally sets roles / is_verified (admin)."""
        email = uniq_email(prefix)
        r = cls._req("POST", "/auth/register", {"email": email, "password": PASSWORD})
        if r.status != 201:
            raise AssertionError("register %s -> %s %r" % (email, r.status, r.body))
        u = Caller(r.body, email)
        if roles:
            cls.set_roles(u, roles)
        if verified is not None:
            rr = cls._admin("PATCH", "/admin/users/%s" % u.id, {"is_verified": verified})
            if rr.status != 200:
                raise AssertionError("verify -> %s %r" % (rr.status, rr.body))
        return u

    @classmethod
    def set_roles(cls, user, roles):
        r = cls._admin("PATCH", "/admin/users/%s/roles" % user.id, {"roles": list(roles)})
        if r.status != 200:
            raise AssertionError("roles -> %s %r" % (r.status, r.body))
        user.roles = list(roles)

    @classmethod
    def mkcoll(cls, name=None, rules=None, check=True):
        """POST /admin/collections; returns the name."""
        name = name or uniq_coll()
        body = {"name": name}
        if rules is not None:
            body["rules"] = rules
        r = cls._admin("POST", "/admin/collections", body)
        if check and r.status != 201:
            raise AssertionError("create collection %s -> %s %r" % (name, r.status, r.body))
        return name

    @classmethod
    def admin_insert(cls, coll, body):
        """POST /admin/collections/:c/records (rules ignored, _owner_id allowed)."""
        r = cls._admin("POST", "/admin/collections/%s/records" % coll, body)
        if r.status != 201:
            raise AssertionError("admin insert into %s %r -> %s %r"
                                 % (coll, body, r.status, r.body))
        return r.body

    @classmethod
    def put_validation(cls, coll, fields):
        return cls._admin("PUT", "/admin/collections/%s/rules" % coll, {"fields": fields})

    # ---- instance helpers --------------------------------------------------
    def rec(self, method, path, body=None, token=None, headers=None, key=None):
        """path relative to /api/v1 ("/posts", "/posts/<id>")."""
        if key is not None:
            headers = dict(headers or {})
            headers["X-API-Key"] = key
        return self._req(method, path, body, token=token, headers=headers)

    def adm(self, method, path, body=None, headers=None):
        return self._admin(method, path, body, headers=headers)

    def coll(self, rules=None, prefix="c"):
        """A fresh collection created by the admin (optionally with rules)."""
        return self.mkcoll(uniq_coll(prefix), rules)

    def set_access(self, coll, rules):
        r = self.adm("PATCH", "/admin/collections/%s" % coll, {"rules": rules})
        self.assertStatus(r, 200, "PATCH rules %r" % (rules,))
        return r.body

    def create(self, coll, body, token=None, status=201):
        r = self.rec("POST", "/" + coll, body, token=token)
        self.assertStatus(r, status, "POST /%s %r" % (coll, body))
        if status == 201:
            self.assertRecord(r.body)
        return r.body

    def get(self, coll, rid, token=None, query=""):
        return self.rec("GET", "/%s/%s%s" % (coll, rid, query), token=token)

    def listing(self, coll, query="", token=None):
        r = self.rec("GET", "/%s%s" % (coll, query), token=token)
        self.assertStatus(r, 200, "GET /%s%s" % (coll, query))
        self.assertEqual(set(r.body), LIST_KEYS, r.body)
        return r.body

    def ids(self, coll, query="", token=None):
        return [x["_id"] for x in self.listing(coll, query, token)["items"]]

    def count(self, coll, query="", token=None):
        r = self.rec("GET", "/%s/count%s" % (coll, query), token=token)
        self.assertStatus(r, 200, "count /%s%s" % (coll, query))
        self.assertEqual(set(r.body), {"count"}, r.body)
        self.assertTrue(is_int(r.body["count"]), r.body)
        return r.body["count"]

    def all_ids_admin(self, coll, include_deleted=True):
        """Every record id (admin list, cursor-paged)."""
        out, after = [], None
        while True:
            params = [("limit", 500), ("include_deleted", "true" if include_deleted else "false")]
            if after:
                params.append(("after", after))
            r = self.adm("GET", "/admin/collections/%s/records%s" % (coll, q(*params)))
            self.assertStatus(r, 200, "admin list")
            out += [x["_id"] for x in r.body["items"]]
            after = r.body.get("next_cursor")
            if not after:
                return out

    def schema(self, coll):
        r = self.adm("GET", "/admin/collections/%s/schema" % coll)
        self.assertStatus(r, 200, "schema of %s" % coll)
        return r.body

    def columns(self, coll):
        """{name: type} of the user columns, in schema order (a dict keeps it)."""
        return {f["name"]: f["type"] for f in self.schema(coll)["fields"] if not f["system"]}

    def coll_exists(self, coll):
        r = self.adm("GET", "/admin/collections/%s" % coll)
        if r.status == 200:
            return True
        self.assertError(r, 404, "collection_not_found")
        return False

    # ---- assertions --------------------------------------------------------
    def assertRecord(self, rec, owner=ANY):
        self.assertIsInstance(rec, dict, rec)
        for k in SYSTEM:
            self.assertIn(k, rec, "system field %s missing: %r" % (k, rec))
        self.assertRegex(rec["_id"], ULID_RE)
        self.assertTrue(is_int(rec["_created_at"]) and is_int(rec["_updated_at"]), rec)
        self.assertGreater(rec["_created_at"], 1600000000000, "ms timestamps")
        self.assertGreaterEqual(rec["_updated_at"], rec["_created_at"])
        self.assertTrue(rec["_deleted_at"] is None or is_int(rec["_deleted_at"]), rec)
        self.assertTrue(rec["_owner_id"] is None or isinstance(rec["_owner_id"], str), rec)
        if owner is not ANY:
            self.assertEqual(rec["_owner_id"], owner, rec)

    def assertErr(self, r, status, code, field=ANY, msg=None):
        """assertError, but field=ANY leaves `field` unchecked."""
        if field is ANY:
            ctx = "%s -> %s %r" % (msg or "", r.status, r.body)
            self.assertEqual(r.status, status, ctx)
            self.assertIsInstance(r.body, dict, ctx)
            self.assertEqual(r.body.get("code"), code, ctx)
            self.assertIsInstance(r.body.get("error"), str, ctx)
            return
        self.assertError(r, status, code, field, msg=msg)

    def assertNum(self, a, b, msg=None):
        self.assertTrue(isinstance(a, (int, float)) and not isinstance(a, bool), (a, msg))
        self.assertAlmostEqual(float(a), float(b), places=6, msg=msg)

    def assertOKBody(self, r, msg=None):
        self.assertStatus(r, 200, msg)
        self.assertEqual(r.body, {"ok": True}, msg)
