"""Admin users and sessions (API.md §5.2, §5.3, §1.7)."""

import time

from authlib import (PASSWORD, SESSION_KEYS, AuthTest, fake_ulid, jwt_decode,
                     uniq_email)
from harness import is_int


class AdminUsersTest(AuthTest):
    MAIL = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # a known population for the list tests: 7 users sharing a tag
        cls.tag = "lst" + uniq_email("x").split("-")[1].split("@")[0]
        cls.listed = []
        for i in range(7):
            email = "%s-%d@Example.com" % (cls.tag, i)
            r = cls.cluster.request("POST", "/api/v1/auth/register",
                                    {"email": email, "password": PASSWORD})
            if r.status != 201:
                cls.tearDownClass()
                raise RuntimeError("seeding users: %s %r" % (r.status, r.body))
            cls.listed.append(r.body["user"])

    def users(self, query=""):
        r = self.admin("GET", "/admin/users" + query)
        self.assertStatus(r, 200, query)
        self.assertEqual(set(r.body), {"items", "total", "page", "limit"}, r.body)
        return r.body

    # ---- list
    def test_list_search_newest_first(self):
        b = self.users("?search=" + self.tag)
        self.assertEqual(b["total"], 7)
        self.assertEqual(b["page"], 1)
        self.assertEqual(b["limit"], 50)
        ids = [u["id"] for u in b["items"]]
        self.assertEqual(ids, [u["id"] for u in self.listed][::-1])
        for u in b["items"]:
            self.assertUser(u)
            self.assertTrue(u["email"].startswith(self.tag))
        # case-insensitive substring, anywhere in the address
        self.assertEqual(self.users("?search=" + self.tag.upper())["total"], 7)
        self.assertEqual(self.users("?search=%s-3%%40EXAMPLE" % self.tag[2:])["total"], 1)
        self.assertEqual(self.users("?search=no-such-user-zzz")["total"], 0)

    def test_paging(self):
        want = [u["id"] for u in self.listed][::-1]
        got = []
        for page in (1, 2, 3):
            b = self.users("?search=%s&limit=3&page=%d" % (self.tag, page))
            self.assertEqual((b["total"], b["page"], b["limit"]), (7, page, 3))
            got += [u["id"] for u in b["items"]]
        self.assertEqual(got, want)
        b = self.users("?search=%s&limit=3&page=4" % self.tag)
        self.assertEqual((b["items"], b["total"]), ([], 7))
        b = self.users("?limit=100000")
        self.assertEqual(b["limit"], 500)
        self.assertGreaterEqual(b["total"], 7)

    def test_list_bad_query(self):
        for q, field in (("limit=0", "limit"), ("limit=-1", "limit"), ("limit=abc", "limit"),
                         ("limit=1.5", "limit"), ("page=0", "page"), ("page=x", "page")):
            r = self.admin("GET", "/admin/users?" + q)
            self.assertError(r, 400, "invalid_query", field, msg=q)

    def test_needs_admin(self):
        a = self.register()
        for method, path in (("GET", "/admin/users"), ("GET", "/admin/users/" + a["user"]["id"]),
                             ("PATCH", "/admin/users/" + a["user"]["id"]),
                             ("DELETE", "/admin/users/" + a["user"]["id"]),
                             ("GET", "/admin/sessions"), ("POST", "/admin/sessions/purge")):
            self.assertError(self.req(method, path), 401, "auth_required", msg=path)
            self.assertError(self.req(method, path, token=a["access_token"]), 403,
                             "admin_required", msg=path)
        self.assertStatus(self.me(a["access_token"]), 200, "user untouched")

    # ---- get / patch
    def test_get(self):
        a = self.register(metadata={"m": 1})
        r = self.admin("GET", "/admin/users/" + a["user"]["id"])
        self.assertStatus(r, 200)
        self.assertEqual(r.body, a["user"])
        for bad in (fake_ulid(), "nope", "0" * 27):
            self.assertError(self.admin("GET", "/admin/users/" + bad), 404, "not_found", msg=bad)

    def test_patch(self):
        a = self.register(metadata={"m": 1})
        uid = a["user"]["id"]
        time.sleep(0.005)
        r = self.admin("PATCH", "/admin/users/" + uid,
                       {"is_verified": True, "metadata": {"n": 2}, "roles": ["b", "a", "b"]})
        self.assertStatus(r, 200)
        self.assertUser(r.body, a["user"]["email"])
        self.assertIs(r.body["is_verified"], True)
        self.assertEqual(r.body["metadata"], {"n": 2})
        self.assertEqual(r.body["roles"], ["b", "a"])
        self.assertGreater(r.body["updated_at"], a["user"]["updated_at"])
        self.assertEqual(self.admin("GET", "/admin/users/" + uid).body, r.body)
        me = self.me(a["access_token"]).body
        self.assertEqual((me["roles"], me["metadata"], me["is_verified"]),
                         (["b", "a"], {"n": 2}, True))
        r = self.admin("PATCH", "/admin/users/" + uid, {})
        self.assertStatus(r, 200)
        self.assertEqual(r.body["roles"], ["b", "a"])

    def test_patch_email(self):
        a = self.register()
        uid = a["user"]["id"]
        self.assertStatus(self.admin("PATCH", "/admin/users/" + uid, {"is_verified": True}), 200)
        new = uniq_email("moved")
        r = self.admin("PATCH", "/admin/users/" + uid, {"email": "  " + new.upper() + " "})
        self.assertStatus(r, 200)
        self.assertEqual(r.body["email"], new)
        self.assertIs(r.body["is_verified"], False, "a new e-mail is unverified")
        self.login(new)
        self.assertError(self.login(a["user"]["email"], check=False), 401, "invalid_credentials")
        # unless the same request sets it
        new2 = uniq_email("moved2")
        r = self.admin("PATCH", "/admin/users/" + uid, {"email": new2, "is_verified": True})
        self.assertStatus(r, 200)
        self.assertIs(r.body["is_verified"], True)
        # the old address is free again; a taken one is refused
        self.register(a["user"]["email"])
        other = self.register()
        r = self.admin("PATCH", "/admin/users/" + uid, {"email": other["user"]["email"].upper()})
        self.assertError(r, 409, "email_taken")
        self.assertEqual(self.admin("GET", "/admin/users/" + uid).body["email"], new2)

    def test_patch_invalid(self):
        a = self.register(metadata={"keep": True})
        uid = a["user"]["id"]
        for body, field in (({"email": "bad"}, "email"), ({"email": 5}, "email"),
                            ({"is_verified": "yes"}, "is_verified"),
                            ({"is_verified": 1}, "is_verified"),
                            ({"roles": "admin"}, "roles"), ({"roles": ["a b"]}, "roles"),
                            ({"metadata": []}, "metadata"),
                            ({"metadata": {"x": "y" * 65536}}, "metadata")):
            r = self.admin("PATCH", "/admin/users/" + uid, body)
            self.assertError(r, 400, "validation_error", field, msg=repr(body)[:50])
        self.assertEqual(self.admin("GET", "/admin/users/" + uid).body, a["user"])
        r = self.admin("PATCH", "/admin/users/" + fake_ulid(), {"is_verified": True})
        self.assertError(r, 404, "not_found")

    # ---- roles
    def test_roles(self):
        a = self.register()
        uid = a["user"]["id"]
        r = self.admin("PATCH", "/admin/users/%s/roles" % uid,
                       {"roles": ["admin", "editor", "admin", "x:y_z-1"]})
        self.assertStatus(r, 200)
        self.assertUser(r.body)
        self.assertEqual(r.body["roles"], ["admin", "editor", "x:y_z-1"])
        # from the next request, through the old token (claims say [])
        self.assertEqual(jwt_decode(a["access_token"])[1]["roles"], [])
        self.assertEqual(self.me(a["access_token"]).body["roles"], ["admin", "editor", "x:y_z-1"])
        # "admin" has no built-in meaning
        self.assertError(self.req("GET", "/admin/users", token=a["access_token"]), 403,
                         "admin_required")
        r = self.admin("PATCH", "/admin/users/%s/roles" % uid, {"roles": []})
        self.assertStatus(r, 200)
        self.assertEqual(self.me(a["access_token"]).body["roles"], [])
        r = self.admin("PATCH", "/admin/users/%s/roles" % uid,
                       {"roles": ["r%d" % i for i in range(50)] + ["r0"]})
        self.assertStatus(r, 200, "50 distinct roles plus a duplicate")
        self.assertEqual(len(r.body["roles"]), 50)
        r = self.admin("PATCH", "/admin/users/%s/roles" % uid, {"roles": ["a" * 64]})
        self.assertStatus(r, 200)

    def test_roles_invalid(self):
        a = self.register()
        uid = a["user"]["id"]
        self.admin("PATCH", "/admin/users/%s/roles" % uid, {"roles": ["keep"]})
        for body in ({}, {"roles": None}, {"roles": "admin"}, {"roles": [1]}, {"roles": [""]},
                     {"roles": ["a" * 65]}, {"roles": ["a b"]}, {"roles": ["é"]},
                     {"roles": ["a/b"]}, {"roles": ["r%d" % i for i in range(51)]},
                     {"roles": [["a"]]}):
            r = self.admin("PATCH", "/admin/users/%s/roles" % uid, body)
            self.assertError(r, 400, "validation_error", "roles", msg=repr(body)[:50])
        self.assertEqual(self.me(a["access_token"]).body["roles"], ["keep"])
        r = self.admin("PATCH", "/admin/users/%s/roles" % fake_ulid(), {"roles": []})
        self.assertError(r, 404, "not_found")

    # ---- delete
    def test_delete(self):
        email = uniq_email("adel")
        a = self.register(email)
        key = self.new_key(a["access_token"])["key"]
        uid = a["user"]["id"]
        self.assertOK(self.admin("DELETE", "/admin/users/" + uid))
        self.assertRevoked(a["access_token"])
        self.assertKeyDead(key)
        self.assertError(self.admin("GET", "/admin/users/" + uid), 404, "not_found")
        self.assertError(self.admin("DELETE", "/admin/users/" + uid), 404, "not_found")
        self.assertEqual(self.sessions_of(uid), [])
        self.assertEqual(self.users("?search=" + email.split("@")[0])["total"], 0)
        self.register(email)

    # ---- sessions
    def test_sessions_list(self):
        email = uniq_email("sl")
        a = self.register(email)
        uid = a["user"]["id"]
        b = self.login(email, headers={"User-Agent": "agent-b"})
        c = self.login(email)
        r = self.admin("GET", "/admin/sessions?user_id=" + uid)
        self.assertStatus(r, 200)
        self.assertEqual(set(r.body), {"items", "total", "page", "limit"})
        self.assertEqual(r.body["total"], 3)
        sids = [jwt_decode(t["access_token"])[1]["sid"] for t in (c, b, a)]
        self.assertEqual([s["id"] for s in r.body["items"]], sids, "newest first")
        for s in r.body["items"]:
            self.assertEqual(set(s), SESSION_KEYS, s)
            self.assertEqual(s["user_id"], uid)
        self.assertEqual(r.body["items"][1]["user_agent"], "agent-b")
        r = self.admin("GET", "/admin/sessions?user_id=%s&limit=2&page=2" % uid)
        self.assertEqual([s["id"] for s in r.body["items"]], sids[2:])
        self.assertEqual((r.body["total"], r.body["page"], r.body["limit"]), (3, 2, 2))
        r = self.admin("GET", "/admin/sessions")
        self.assertStatus(r, 200)
        self.assertGreaterEqual(r.body["total"], 3)
        ids = [s["id"] for s in r.body["items"]]
        self.assertEqual(ids, sorted(ids, reverse=True))
        r = self.admin("GET", "/admin/sessions?user_id=" + fake_ulid())
        self.assertEqual((r.body["items"], r.body["total"]), ([], 0))
        r = self.admin("GET", "/admin/sessions?limit=0")
        self.assertError(r, 400, "invalid_query", "limit")

    def test_session_delete(self):
        email = uniq_email("sd")
        a = self.register(email)
        b = self.login(email)
        sid = jwt_decode(a["access_token"])[1]["sid"]
        self.assertOK(self.admin("DELETE", "/admin/sessions/" + sid))
        self.assertRevoked(a["access_token"])
        r = self.req("POST", "/auth/refresh", {"refresh_token": a["refresh_token"]})
        self.assertError(r, 401, "invalid_refresh_token")
        self.assertStatus(self.me(b["access_token"]), 200)
        self.assertError(self.admin("DELETE", "/admin/sessions/" + sid), 404, "not_found")
        self.assertError(self.admin("DELETE", "/admin/sessions/" + fake_ulid()), 404, "not_found")
        self.assertError(self.admin("DELETE", "/admin/sessions/nope"), 404, "not_found")

    def test_purge(self):
        a = self.register()
        r = self.admin("POST", "/admin/sessions/purge")
        self.assertStatus(r, 200)
        self.assertEqual(set(r.body), {"purged"})
        self.assertTrue(is_int(r.body["purged"]))
        self.assertEqual(r.body["purged"], 0, "no session of this cluster has expired")
        self.assertStatus(self.me(a["access_token"]), 200)
        self.assertEqual(len(self.sessions_of(a["user"]["id"])), 1)
