"""Sessions, refresh rotation and reuse, logout, logout-all, and revocation
taking effect on the very next request (API.md §2.2, §2.3, §2.10, §5.3)."""

import time

from authlib import (DAY_MS, PASSWORD, SESSION_KEYS, AuthTest, jwt_decode,
                     parallel, uniq_email)
from harness import ULID_RE, is_int


class SessionsTest(AuthTest):

    def refresh(self, rt):
        return self.req("POST", "/auth/refresh", {"refresh_token": rt})

    def sid(self, tok):
        return jwt_decode(tok)[1]["sid"]

    # ---- rotation
    def test_rotation(self):
        email = uniq_email("rot")
        a = self.register(email)
        uid = a["user"]["id"]
        s0 = self.sessions_of(uid)[0]
        time.sleep(0.01)
        r = self.refresh(a["refresh_token"])
        self.assertStatus(r, 200)
        self.assertAuthResult(r.body, email)
        b = r.body
        self.assertEqual(b["user"]["id"], uid)
        self.assertEqual(b["expires_in"], 900)
        self.assertNotEqual(b["refresh_token"], a["refresh_token"])
        self.assertEqual(self.sid(b["access_token"]), self.sid(a["access_token"]),
                         "the session id stays the same")
        s1 = self.sessions_of(uid)
        self.assertEqual(len(s1), 1)
        s1 = s1[0]
        self.assertEqual(s1["id"], s0["id"])
        self.assertEqual(s1["created_at"], s0["created_at"])
        self.assertGreater(s1["last_used_at"], s0["last_used_at"])
        self.assertGreater(s1["expires_at"], s0["expires_at"])
        self.assertEqual(s1["expires_at"], s1["last_used_at"] + 30 * DAY_MS)
        # the new pair works, and the old access token too (same session)
        self.assertStatus(self.me(b["access_token"]), 200)
        self.assertStatus(self.me(a["access_token"]), 200)
        # a chain of rotations
        rt = b["refresh_token"]
        for _ in range(3):
            r = self.refresh(rt)
            self.assertStatus(r, 200)
            rt = r.body["refresh_token"]
        self.assertStatus(self.refresh(rt), 200)

    def test_reuse_revokes_the_session(self):
        a = self.register()
        other = self.login(a["user"]["email"])
        b = self.refresh(a["refresh_token"]).body
        c = self.refresh(b["refresh_token"]).body
        self.assertIsInstance(c, dict)
        # a (two generations back) presented again
        r = self.refresh(a["refresh_token"])
        self.assertError(r, 401, "refresh_token_reused")
        # the whole session is gone: its newest refresh and every access token
        self.assertError(self.refresh(c["refresh_token"]), 401, "invalid_refresh_token")
        for tok in (a["access_token"], b["access_token"], c["access_token"]):
            self.assertRevoked(tok)
        # once revoked, earlier tokens are merely invalid
        self.assertError(self.refresh(b["refresh_token"]), 401, "invalid_refresh_token")
        self.assertError(self.refresh(a["refresh_token"]), 401, "invalid_refresh_token")
        # only that session
        self.assertStatus(self.me(other["access_token"]), 200)
        ids = [s["id"] for s in self.sessions_of(a["user"]["id"])]
        self.assertEqual(ids, [self.sid(other["access_token"])])

    def test_reuse_of_previous(self):
        a = self.register()
        b = self.refresh(a["refresh_token"]).body
        self.assertError(self.refresh(a["refresh_token"]), 401, "refresh_token_reused")
        self.assertRevoked(b["access_token"])
        self.assertError(self.refresh(b["refresh_token"]), 401, "invalid_refresh_token")

    def test_parallel_refresh_of_one_token(self):
        """One token presented 6 times at once: at most one new pair."""
        a = self.register()
        res = parallel([lambda: self.refresh(a["refresh_token"])] * 6)
        codes = [(r.status, r.body.get("code") if isinstance(r.body, dict) else r.body)
                 for r in res]
        ok = [r for r in res if r.status == 200]
        self.assertEqual(len(ok), 1, codes)
        for st, code in codes:
            if st != 200:
                self.assertEqual(st, 401, codes)
                self.assertIn(code, ("refresh_token_reused", "invalid_refresh_token"), codes)
        # a reuse happened, so the session is revoked (§2.3 Reuse)
        self.assertError(self.refresh(ok[0].body["refresh_token"]), 401,
                         "invalid_refresh_token")

    def test_unknown_refresh_tokens(self):
        a = self.register()
        for bad in ("x", "nope" * 10, a["refresh_token"] + "x", a["refresh_token"][:-1],
                    a["access_token"], "bb_" + "a" * 40, "0" * 256):
            self.assertError(self.refresh(bad), 401, "invalid_refresh_token", msg=bad[:20])
        # none of that harmed the real session
        self.assertStatus(self.refresh(a["refresh_token"]), 200)

    def test_refresh_validation(self):
        for body in ({}, {"refresh_token": 5}, {"refresh_token": None},
                     {"refresh_token": ["x"]}, {"refresh_token": {"a": 1}}):
            r = self.req("POST", "/auth/refresh", body)
            self.assertError(r, 400, "validation_error", "refresh_token", msg=repr(body))

    def test_refresh_returns_current_user(self):
        a = self.register(metadata={"v": 1})
        uid = a["user"]["id"]
        r = self.admin("PATCH", "/admin/users/%s/roles" % uid, {"roles": ["editor", "x"]})
        self.assertStatus(r, 200)
        self.req("PATCH", "/auth/me", {"metadata": {"v": 2}}, token=a["access_token"])
        b = self.refresh(a["refresh_token"])
        self.assertStatus(b, 200)
        self.assertEqual(b.body["user"]["roles"], ["editor", "x"])
        self.assertEqual(b.body["user"]["metadata"], {"v": 2})
        self.assertEqual(jwt_decode(b.body["access_token"])[1]["roles"], ["editor", "x"])

    def test_session_object(self):
        email = uniq_email("sess")
        ua = "it-agent/1.0"  # spaces: test_auth_register_login.test_browser_user_agent
        self.register(email)
        t0 = int(time.time() * 1000)
        r = self.login(email, headers={"User-Agent": ua})
        sid = self.sid(r["access_token"])
        items = self.sessions_of(r["user"]["id"])
        self.assertEqual(len(items), 2)
        s = items[0]                       # newest first
        self.assertEqual(s["id"], sid)
        self.assertEqual(set(s), SESSION_KEYS, s)
        self.assertRegex(s["id"], ULID_RE)
        self.assertEqual(s["user_id"], r["user"]["id"])
        self.assertEqual(s["ip"], "127.0.0.1")
        self.assertEqual(s["user_agent"], ua)
        for k in ("created_at", "last_used_at", "expires_at"):
            self.assertTrue(is_int(s[k]), s)
        self.assertLess(abs(s["created_at"] - t0), 5000)
        self.assertEqual(s["last_used_at"], s["created_at"])
        self.assertEqual(s["expires_at"], s["last_used_at"] + 30 * DAY_MS)
        self.assertGreater(items[0]["id"], items[1]["id"])

    def test_refresh_ttl_setting(self):
        self.settings(refresh_token_ttl_days=2)
        a = self.register()
        s = self.sessions_of(a["user"]["id"])[0]
        self.assertEqual(s["expires_at"], s["last_used_at"] + 2 * DAY_MS)

    # ---- logout
    def test_logout(self):
        email = uniq_email("lo")
        a = self.register(email)
        b = self.login(email)
        key = self.new_key(a["access_token"])["key"]
        r = self.req("POST", "/auth/logout", token=a["access_token"])
        self.assertOK(r)
        self.assertRevoked(a["access_token"])
        self.assertError(self.req("GET", "/auth/api-keys", token=a["access_token"]),
                         401, "session_revoked")
        self.assertError(self.refresh(a["refresh_token"]), 401, "invalid_refresh_token")
        self.assertError(self.req("POST", "/auth/logout", token=a["access_token"]),
                         401, "session_revoked")
        # the other session and the API key are untouched (§2.3, §2.4)
        self.assertStatus(self.me(b["access_token"]), 200)
        self.assertStatus(self.me(key=key), 200)
        ids = [s["id"] for s in self.sessions_of(a["user"]["id"])]
        self.assertEqual(ids, [self.sid(b["access_token"])], "revocation deletes the session")

    def test_logout_ignores_body(self):
        a = self.register()
        r = self.req("POST", "/auth/logout", b"not json at all", token=a["access_token"],
                     headers={"Content-Type": "text/plain"})
        self.assertOK(r)
        self.assertRevoked(a["access_token"])

    def test_logout_all(self):
        email = uniq_email("la")
        a = self.register(email)
        b = self.login(email)
        c = self.login(email)
        k1 = self.new_key(a["access_token"], "one")["key"]
        k2 = self.new_key(b["access_token"], "two")["key"]
        bystander = self.register()
        bkey = self.new_key(bystander["access_token"])["key"]
        r = self.req("POST", "/auth/logout-all", token=b["access_token"])
        self.assertStatus(r, 200)
        self.assertEqual(r.body, {"sessions_revoked": 3, "api_keys_revoked": 2})
        for t in (a, b, c):
            self.assertRevoked(t["access_token"])
            self.assertError(self.refresh(t["refresh_token"]), 401, "invalid_refresh_token")
        self.assertKeyDead(k1)
        self.assertKeyDead(k2)
        self.assertEqual(self.sessions_of(a["user"]["id"]), [])
        self.assertStatus(self.me(bystander["access_token"]), 200)
        self.assertStatus(self.me(key=bkey), 200)
        # the account itself still works
        d = self.login(email)
        self.assertStatus(self.me(d["access_token"]), 200)
        r = self.req("POST", "/auth/logout-all", token=d["access_token"])
        self.assertStatus(r, 200)
        self.assertEqual(r.body, {"sessions_revoked": 1, "api_keys_revoked": 0})

    def test_logout_all_with_api_key(self):
        email = uniq_email("lak")
        a = self.register(email)
        b = self.login(email)
        k1 = self.new_key(a["access_token"], "caller")["key"]
        k2 = self.new_key(a["access_token"], "other")["key"]
        r = self.req("POST", "/auth/logout-all", key=k1)
        self.assertStatus(r, 200)
        self.assertEqual(r.body, {"sessions_revoked": 2, "api_keys_revoked": 2})
        self.assertKeyDead(k1)
        self.assertKeyDead(k2)
        self.assertRevoked(a["access_token"])
        self.assertRevoked(b["access_token"])

    # ---- revoked on the very next request
    def test_next_request_after_logout(self):
        email = uniq_email("nx")
        self.register(email)
        for i in range(6):
            t = self.login(email)["access_token"]
            self.assertOK(self.req("POST", "/auth/logout", token=t))
            self.assertRevoked(t, msg="round %d" % i)

    def test_next_request_after_logout_all(self):
        email = uniq_email("nxa")
        self.register(email)
        for i in range(4):
            t1 = self.login(email)["access_token"]
            t2 = self.login(email)["access_token"]
            self.assertStatus(self.req("POST", "/auth/logout-all", token=t1), 200)
            self.assertRevoked(t2, msg="round %d (other session)" % i)
            self.assertRevoked(t1, msg="round %d" % i)

    def test_next_request_after_admin_session_delete(self):
        email = uniq_email("nxs")
        self.register(email)
        for i in range(4):
            t = self.login(email)["access_token"]
            r = self.admin("DELETE", "/admin/sessions/" + self.sid(t))
            self.assertOK(r)
            self.assertRevoked(t, msg="round %d" % i)

    def test_next_request_after_delete_me(self):
        for i in range(3):
            email = uniq_email("nxd")
            a = self.register(email)
            b = self.login(email)
            self.assertOK(self.req("DELETE", "/auth/me", token=a["access_token"]))
            self.assertRevoked(b["access_token"], msg="round %d" % i)
            self.assertRevoked(a["access_token"], msg="round %d" % i)
            self.assertError(self.refresh(b["refresh_token"]), 401, "invalid_refresh_token")

    def test_next_request_after_admin_user_delete(self):
        for i in range(3):
            a = self.register()
            self.assertOK(self.admin("DELETE", "/admin/users/" + a["user"]["id"]))
            self.assertRevoked(a["access_token"], msg="round %d" % i)

    def test_next_request_after_reset_password(self):
        email = uniq_email("nxr")
        a = self.register(email)
        for i in range(3):
            t = self.login(email)["access_token"]
            n = len(self.mailbox.find(email, "reset_password"))
            self.assertOK(self.req("POST", "/auth/forgot-password", {"email": email}))
            tok = self.mailbox.wait(email, "reset_password", after=n)["token"]
            r = self.req("POST", "/auth/reset-password", {"token": tok, "password": PASSWORD})
            self.assertOK(r)
            self.assertRevoked(t, msg="round %d" % i)
        self.assertRevoked(a["access_token"])
