import unittest
"""API keys (API.md §1.3, §2.4, §2.10)."""

import time

from authlib import (APIKEY_KEYS, APIKEY_RE, AuthTest, fake_ulid, uniq_email)
from harness import ULID_RE, is_int


class ApiKeysTest(AuthTest):

    def create(self, token, body):
        return self.req("POST", "/auth/api-keys", body, token=token)

    def listing(self, token=None, key=None):
        r = self.req("GET", "/auth/api-keys", token=token, key=key)
        self.assertStatus(r, 200, "list keys")
        self.assertEqual(set(r.body), {"items"}, r.body)
        return r.body["items"]

    def test_create(self):
        a = self.register()
        t0 = int(time.time() * 1000)
        r = self.create(a["access_token"], {"name": "ci"})
        self.assertStatus(r, 201)
        k = r.body
        self.assertEqual(set(k), APIKEY_KEYS | {"key"}, k)
        self.assertRegex(k["id"], ULID_RE)
        self.assertEqual(k["name"], "ci")
        self.assertRegex(k["key"], APIKEY_RE)
        self.assertEqual(k["prefix"], k["key"][:11])
        self.assertTrue(is_int(k["created_at"]))
        self.assertLess(abs(k["created_at"] - t0), 5000)
        self.assertIsNone(k["expires_at"])
        self.assertIsNone(k["last_used_at"])
        # default name
        r = self.create(a["access_token"], {})
        self.assertStatus(r, 201)
        self.assertEqual(r.body["name"], "")
        self.assertNotEqual(r.body["key"], k["key"])
        # empty body counts as {}
        r = self.req("POST", "/auth/api-keys", b"", token=a["access_token"])
        self.assertStatus(r, 201)
        # 100 characters is the maximum
        r = self.create(a["access_token"], {"name": "n" * 100})
        self.assertStatus(r, 201)
        self.assertEqual(r.body["name"], "n" * 100)

    def test_create_with_expiry(self):
        a = self.register()
        r = self.create(a["access_token"], {"name": "tmp", "expires_in": 3600})
        self.assertStatus(r, 201)
        self.assertTrue(is_int(r.body["expires_at"]), r.body)
        self.assertLess(abs(r.body["expires_at"] - (r.body["created_at"] + 3600 * 1000)), 1000)
        r = self.create(a["access_token"], {"expires_in": 315360000})
        self.assertStatus(r, 201)

    def test_create_validation(self):
        a = self.register()
        bad = [
            ({"name": "n" * 101}, "name"),
            ({"name": 5}, "name"),
            ({"name": ["x"]}, "name"),
            ({"name": True}, "name"),
            ({"expires_in": 0}, "expires_in"),
            ({"expires_in": -5}, "expires_in"),
            ({"expires_in": 315360001}, "expires_in"),
            ({"expires_in": "60"}, "expires_in"),
            ({"expires_in": 1.5}, "expires_in"),
            ({"expires_in": True}, "expires_in"),
        ]
        for body, field in bad:
            r = self.create(a["access_token"], body)
            self.assertError(r, 400, "validation_error", field, msg=repr(body))
        self.assertEqual(self.listing(a["access_token"]), [], "nothing created")
        r = self.req("POST", "/auth/api-keys", [1], token=a["access_token"])
        self.assertError(r, 400, "invalid_body")
        r = self.req("POST", "/auth/api-keys", b"{", token=a["access_token"])
        self.assertError(r, 400, "invalid_json")

    def test_create_needs_user(self):
        self.assertError(self.req("POST", "/auth/api-keys", {}), 401, "auth_required")
        self.assertError(self.admin("POST", "/auth/api-keys", {}), 403, "user_required")

    def test_use(self):
        email = uniq_email("use")
        a = self.register(email)
        key = self.new_key(a["access_token"])["key"]
        r = self.me(key=key)
        self.assertStatus(r, 200)
        self.assertEqual(r.body["id"], a["user"]["id"])
        r = self.req("GET", "/auth/me", token=key)  # Authorization: Bearer bb_...
        self.assertStatus(r, 200)
        self.assertEqual(r.body["email"], email)
        r = self.req("GET", "/auth/me", headers={"Authorization": "bearer " + key})
        self.assertStatus(r, 200)
        # a key can create and list keys
        k2 = self.req("POST", "/auth/api-keys", {"name": "by-key"}, key=key)
        self.assertStatus(k2, 201)
        self.assertEqual(len(self.listing(key=key)), 2)
        # a key is the user, not the admin
        self.assertError(self.req("GET", "/admin/users", key=key), 403, "admin_required")

    def test_key_uses_current_roles(self):
        a = self.register()
        key = self.new_key(a["access_token"])["key"]
        self.assertEqual(self.me(key=key).body["roles"], [])
        r = self.admin("PATCH", "/admin/users/%s/roles" % a["user"]["id"], {"roles": ["ops"]})
        self.assertStatus(r, 200)
        self.assertEqual(self.me(key=key).body["roles"], ["ops"])

    def test_invalid_keys(self):
        a = self.register()
        key = self.new_key(a["access_token"])["key"]
        flipped = key[:-1] + ("a" if key[-1] != "a" else "b")
        for v in (flipped, "bb_" + "A" * 40, "bb_", "bb_short", key + "x", key[:-1],
                  "bb_" + "x" * 300):
            self.assertError(self.me(key=v), 401, "invalid_api_key", msg=v[:16])
            self.assertError(self.req("GET", "/auth/me", token=v), 401, "invalid_api_key",
                             msg=v[:16])
        for v in ("abc", key[3:], "BB_" + key[3:], "Bearer " + key):
            self.assertError(self.me(key=v), 401, "invalid_api_key", msg=v[:16])
        self.assertStatus(self.me(key=key), 200, "the real key still works")

    def test_list(self):
        a = self.register()
        b = self.register()
        names = ["first", "second", "third"]
        ids = [self.new_key(a["access_token"], n)["id"] for n in names]
        self.new_key(b["access_token"], "b's")
        items = self.listing(a["access_token"])
        self.assertEqual([k["id"] for k in items], ids[::-1], "newest first")
        self.assertEqual([k["name"] for k in items], names[::-1])
        for k in items:
            self.assertEqual(set(k), APIKEY_KEYS, k)
            self.assertNotIn("key", k)
            self.assertTrue(k["prefix"].startswith("bb_") and len(k["prefix"]) == 11, k)
        self.assertNotIn("hash", str(items).lower())
        self.assertEqual([k["name"] for k in self.listing(b["access_token"])], ["b's"])

    def test_delete(self):
        a = self.register()
        b = self.register()
        k1 = self.new_key(a["access_token"], "one")
        k2 = self.new_key(a["access_token"], "two")
        kb = self.new_key(b["access_token"], "b")
        r = self.req("DELETE", "/auth/api-keys/" + k1["id"], token=a["access_token"])
        self.assertOK(r)
        self.assertKeyDead(k1["key"])
        self.assertEqual([k["id"] for k in self.listing(a["access_token"])], [k2["id"]])
        self.assertError(self.req("DELETE", "/auth/api-keys/" + k1["id"],
                                  token=a["access_token"]), 404, "not_found")
        # another user's key: 404, and it keeps working
        self.assertError(self.req("DELETE", "/auth/api-keys/" + kb["id"],
                                  token=a["access_token"]), 404, "not_found")
        self.assertStatus(self.me(key=kb["key"]), 200)
        for bad in (fake_ulid(), "nope", "0" * 26):
            self.assertError(self.req("DELETE", "/auth/api-keys/" + bad,
                                      token=a["access_token"]), 404, "not_found", msg=bad)
        # a key may delete itself
        r = self.req("DELETE", "/auth/api-keys/" + k2["id"], key=k2["key"])
        self.assertOK(r)
        self.assertKeyDead(k2["key"])

    def test_expiry(self):
        a = self.register()
        k = self.new_key(a["access_token"], "short", expires_in=1)
        self.assertStatus(self.me(key=k["key"]), 200)
        time.sleep(2.2)
        self.assertKeyDead(k["key"])
        items = self.listing(a["access_token"])
        self.assertEqual([i["id"] for i in items], [k["id"]], "expired keys are listed")

    def test_last_used_at(self):
        a = self.register()
        k = self.new_key(a["access_token"])
        self.assertStatus(self.me(key=k["key"]), 200)
        item = self.listing(a["access_token"])[0]
        v = item["last_used_at"]
        self.assertTrue(v is None or (is_int(v) and v >= k["created_at"]), item)

    def test_survive_logout_die_on_logout_all(self):
        email = uniq_email("kl")
        a = self.register(email)
        key = self.new_key(a["access_token"])["key"]
        self.assertOK(self.req("POST", "/auth/logout", token=a["access_token"]))
        self.assertStatus(self.me(key=key), 200, "keys survive logout")
        r = self.req("POST", "/auth/logout", key=key)
        self.assertError(r, 400, "session_required")
        self.assertStatus(self.me(key=key), 200)
        b = self.login(email)
        r = self.req("POST", "/auth/logout-all", token=b["access_token"])
        self.assertStatus(r, 200)
        self.assertEqual(r.body, {"sessions_revoked": 1, "api_keys_revoked": 1})
        self.assertKeyDead(key)

    def test_die_with_owner(self):
        a = self.register()
        key = self.new_key(a["access_token"])["key"]
        self.assertOK(self.admin("DELETE", "/admin/users/" + a["user"]["id"]))
        self.assertKeyDead(key)
        b = self.register()
        key = self.new_key(b["access_token"])["key"]
        self.assertOK(self.req("DELETE", "/auth/me", key=key))
        self.assertKeyDead(key)

    def test_die_on_reset_password(self):
        email = uniq_email("kr")
        a = self.register(email)
        key = self.new_key(a["access_token"])["key"]
        self.assertOK(self.req("POST", "/auth/forgot-password", {"email": email}))
        tok = self.mailbox.wait(email, "reset_password")["token"]
        self.assertOK(self.req("POST", "/auth/reset-password",
                               {"token": tok, "password": "brand new password"}))
        self.assertKeyDead(key)

    def test_switch_off(self):
        """§2.7: POST refused (before the body is validated); existing keys
        authenticate, list and delete."""
        a = self.register()
        k1 = self.new_key(a["access_token"], "keep")
        k2 = self.new_key(a["access_token"], "drop")
        self.settings(auth_api_keys_enabled=False)
        for body in ({"name": "x"}, {"name": 5}, {"expires_in": "bad"}, [1], b"{oops"):
            r = self.req("POST", "/auth/api-keys", body, token=a["access_token"])
            self.assertError(r, 403, "auth_method_disabled", msg=repr(body))
        self.assertStatus(self.me(key=k1["key"]), 200)
        self.assertEqual(len(self.listing(key=k1["key"])), 2)
        self.assertOK(self.req("DELETE", "/auth/api-keys/" + k2["id"], token=a["access_token"]))
        self.assertKeyDead(k2["key"])
