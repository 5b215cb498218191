"""Access and impersonation tokens (API.md §1.3, §1.13, §2.2, §5.2):
forged, badly signed, wrongly claimed, expired and revoked JWTs."""

import hashlib
import hmac
import json
import time

from authlib import (PASSWORD, AuthTest, b64url, fake_ulid, jwt_decode,
                     jwt_sign, jwt_verifies, uniq_email)
from harness import SECRET_KEY


class TokensTest(AuthTest):

    def claims(self, a):
        return jwt_decode(a["access_token"])[1]

    def impersonate(self, uid):
        r = self.admin("POST", "/admin/users/%s/impersonate" % uid)
        self.assertStatus(r, 200, "impersonate")
        return r.body

    def test_forged_and_malformed(self):
        a = self.register()
        c = self.claims(a)
        self.assertStatus(self.me(jwt_sign(c)), 200, "a token we sign like the service")
        h, p, s = a["access_token"].split(".")
        other = dict(c, sub=self.register()["user"]["id"])
        cases = {
            "alg none": jwt_sign(c, alg="none"),
            "alg none, header only": jwt_sign(c, header={"alg": "none"}, alg="none"),
            "alg none with a signature": jwt_sign(c, alg="none") + s,
            "HS512": jwt_sign(c, alg="HS512"),
            "HS384": jwt_sign(c, alg="HS384"),
            "HS512 header, HS256 signature": jwt_sign(c, header={"alg": "HS512", "typ": "JWT"}),
            "RS256 header": jwt_sign(c, header={"alg": "RS256", "typ": "JWT"}),
            "other key": jwt_sign(c, key="another-secret-key-0123456789abcdef-0000"),
            "tampered claims": "%s.%s.%s" % (h, b64url(json.dumps(other)), s),
            "flipped signature": "%s.%s.%s" % (h, p, s[:-2] + ("A" if s[-2] != "A" else "B") + s[-1]),
            "empty signature": "%s.%s." % (h, p),
            "truncated": a["access_token"][:-5],
            "two parts": "%s.%s" % (h, p),
            "four parts": a["access_token"] + ".x",
            "garbage": "not-a-jwt",
            "dots": "...",
            "bad base64": "%s.%s.%s" % (h, p[:10] + "*&^" + p[10:], s),
            "header not JSON": "%s.%s.%s" % (b64url("nope"), p, s),
            "long": "x" * 6000,
        }
        for name, tok in cases.items():
            self.assertError(self.me(tok), 401, "invalid_token", msg=name)
        for v in ("Bearer", "Bearer ", "Bearer  ", "Token " + a["access_token"],
                  a["access_token"]):
            r = self.req("GET", "/auth/me", headers={"Authorization": v})
            self.assertError(r, 401, "invalid_token", msg=repr(v[:20]))

    def test_signed_but_wrong_claims(self):
        """§1.13: verifies, but is not an access token -> invalid_token."""
        a = self.register()
        c = self.claims(a)
        now = int(time.time())
        variants = {
            "no sub": {k: v for k, v in c.items() if k != "sub"},
            "no sid": {k: v for k, v in c.items() if k != "sid"},
            "no exp": {k: v for k, v in c.items() if k != "exp"},
            "sub number": dict(c, sub=12345),
            "sub null": dict(c, sub=None),
            "sid number": dict(c, sid=7),
            "exp string": dict(c, exp=str(now + 600)),
            "exp float text": dict(c, exp="soon"),
            "empty object": {},
        }
        for name, cl in variants.items():
            self.assertError(self.me(jwt_sign(cl)), 401, "invalid_token", msg=name)
        for payload in ("[1,2]", "\"str\"", "42", "null"):
            tok = "%s.%s." % (b64url('{"alg":"HS256","typ":"JWT"}'), b64url(payload))
            sig = hmac.new(SECRET_KEY.encode(), tok[:-1].encode(), hashlib.sha256).digest()
            self.assertError(self.me(tok + b64url(sig)), 401, "invalid_token", msg=payload)

    def test_session_never_existed(self):
        a = self.register()
        c = self.claims(a)
        r = self.me(jwt_sign(dict(c, sid=fake_ulid())))
        self.assertError(r, 401, "session_revoked")
        r = self.me(jwt_sign(dict(c, sub=fake_ulid(), sid=fake_ulid())))
        self.assertError(r, 401, "session_revoked")

    def test_sid_of_another_user(self):
        """A token naming user B with user A's session must not pass as B."""
        a = self.register()
        b = self.register()
        forged = jwt_sign(dict(self.claims(a), sub=b["user"]["id"],
                               email=b["user"]["email"]))
        r = self.me(forged)
        self.assertEqual(r.status, 401, "sub/sid mismatch accepted: %r" % (r.body,))
        self.assertIn(r.body.get("code"), ("invalid_token", "session_revoked"), r.body)

    def test_claims_never_authorize(self):
        """§2.2: roles, email, verified come from auth, never the claims."""
        a = self.register()
        c = self.claims(a)
        tok = jwt_sign(dict(c, roles=["admin", "root"], email="boss@example.com"))
        r = self.me(tok)
        self.assertStatus(r, 200)
        self.assertEqual(r.body["roles"], [])
        self.assertEqual(r.body["email"], a["user"]["email"])
        self.assertError(self.req("GET", "/admin/users", token=tok), 403, "admin_required")

    def test_expired_crafted(self):
        a = self.register()
        c = self.claims(a)
        now = int(time.time())
        for exp in (now - 1, now - 3600, 0):
            r = self.me(jwt_sign(dict(c, iat=now - 7200, exp=exp)))
            self.assertError(r, 401, "token_expired", msg="exp %d" % exp)
        # a future exp chosen by the holder is fine (signature is the proof)
        self.assertStatus(self.me(jwt_sign(dict(c, exp=now + 60))), 200)

    def test_expiry_by_ttl_setting(self):
        email = uniq_email("ttl")
        self.register(email)
        self.settings(access_token_ttl_seconds=1)
        a = self.login(email)
        self.assertEqual(a["expires_in"], 1)
        c = self.claims(a)
        self.assertEqual(c["exp"] - c["iat"], 1)
        time.sleep(2.1)
        self.assertError(self.me(a["access_token"]), 401, "token_expired")
        # the refresh token still works and the new token carries the ttl
        r = self.req("POST", "/auth/refresh", {"refresh_token": a["refresh_token"]})
        self.assertStatus(r, 200)
        self.assertEqual(r.body["expires_in"], 1)
        self.assertStatus(self.me(r.body["access_token"]), 200)

    def test_ttl_at_issue_time(self):
        """exp uses the value at issue time: a later change does not move it."""
        email = uniq_email("ttl2")
        self.register(email)
        self.settings(access_token_ttl_seconds=120)
        a = self.login(email)
        c = self.claims(a)
        self.assertEqual(c["exp"] - c["iat"], 120)
        self.settings(access_token_ttl_seconds=1)
        time.sleep(1.5)
        self.assertStatus(self.me(a["access_token"]), 200)

    def test_refresh_token_as_access_token(self):
        a = self.register()
        rt = a["refresh_token"]
        want = "invalid_api_key" if rt.startswith("bb_") else "invalid_token"
        self.assertError(self.me(rt), 401, want)
        r = self.req("POST", "/auth/refresh", {"refresh_token": a["access_token"]})
        self.assertError(r, 401, "invalid_refresh_token")
        # the real pair still works
        self.assertStatus(self.me(a["access_token"]), 200)
        self.assertStatus(self.req("POST", "/auth/refresh", {"refresh_token": rt}), 200)

    def test_authorization_wins_over_x_api_key(self):
        a = self.register()
        key = self.new_key(a["access_token"])["key"]
        r = self.req("GET", "/auth/me", headers={"Authorization": "Bearer nope",
                                                 "X-API-Key": key})
        self.assertError(r, 401, "invalid_token")
        r = self.req("GET", "/auth/me", token=a["access_token"],
                     headers={"X-API-Key": "bb_invalid"})
        self.assertStatus(r, 200)

    def test_invalid_token_never_anonymous(self):
        """§1.3: a present but invalid credential gets 401 even where an
        anonymous caller would be admitted (a collection read)."""
        anon = self.req("GET", "/api/v1/tokens_probe")
        self.assertNotEqual(anon.status, 401, anon.body)
        r = self.req("GET", "/api/v1/tokens_probe", token="bad.token.here")
        self.assertError(r, 401, "invalid_token")
        r = self.req("GET", "/api/v1/tokens_probe", headers={"X-API-Key": "bb_nope"})
        self.assertError(r, 401, "invalid_api_key")

    # ---- impersonation
    def test_impersonation_token(self):
        a = self.register()
        uid = a["user"]["id"]
        before = [s["id"] for s in self.sessions_of(uid)]
        imp = self.impersonate(uid)
        self.assertEqual(set(imp), {"access_token", "expires_in", "user"}, imp)
        self.assertEqual(imp["expires_in"], 900)
        self.assertUser(imp["user"], a["user"]["email"])
        self.assertEqual(imp["user"]["id"], uid)
        h, c, _ = jwt_decode(imp["access_token"])
        self.assertEqual(h, {"alg": "HS256", "typ": "JWT"})
        self.assertTrue(jwt_verifies(imp["access_token"]))
        self.assertNotIn("sid", c)
        self.assertIs(c.get("imp"), True)
        self.assertEqual(c["sub"], uid)
        self.assertEqual(c["exp"] - c["iat"], 900)
        r = self.me(imp["access_token"])
        self.assertStatus(r, 200)
        self.assertEqual(r.body["id"], uid)
        self.assertEqual([s["id"] for s in self.sessions_of(uid)], before,
                         "impersonation opens no session")

    def test_impersonation_cannot_logout_or_refresh(self):
        a = self.register()
        imp = self.impersonate(a["user"]["id"])["access_token"]
        r = self.req("POST", "/auth/logout", token=imp)
        self.assertError(r, 400, "session_required")
        r = self.req("POST", "/auth/refresh", {"refresh_token": imp})
        self.assertError(r, 401, "invalid_refresh_token")
        self.assertStatus(self.me(imp), 200)
        self.assertStatus(self.me(a["access_token"]), 200)

    def test_impersonation_ignores_a_session_logout(self):
        a = self.register()
        imp = self.impersonate(a["user"]["id"])["access_token"]
        self.assertOK(self.req("POST", "/auth/logout", token=a["access_token"]))
        self.assertStatus(self.me(imp), 200)

    def test_impersonation_after_logout_all(self):
        a = self.register()
        imp = self.impersonate(a["user"]["id"])["access_token"]
        self.assertStatus(self.req("POST", "/auth/logout-all", token=a["access_token"]), 200)
        self.assertError(self.me(imp), 401, "session_revoked")
        # issued after the event (millisecond precision): works at once
        imp2 = self.impersonate(a["user"]["id"])["access_token"]
        self.assertStatus(self.me(imp2), 200)
        self.assertError(self.me(imp), 401, "session_revoked")

    def test_impersonation_after_reset_password(self):
        email = uniq_email("impr")
        a = self.register(email)
        imp = self.impersonate(a["user"]["id"])["access_token"]
        self.assertOK(self.req("POST", "/auth/forgot-password", {"email": email}))
        tok = self.mailbox.wait(email, "reset_password")["token"]
        self.assertOK(self.req("POST", "/auth/reset-password",
                               {"token": tok, "password": PASSWORD + "x"}))
        self.assertError(self.me(imp), 401, "session_revoked")
        imp2 = self.impersonate(a["user"]["id"])["access_token"]
        self.assertStatus(self.me(imp2), 200)

    def test_impersonation_after_user_deletion(self):
        a = self.register()
        imp = self.impersonate(a["user"]["id"])["access_token"]
        self.assertOK(self.admin("DELETE", "/admin/users/" + a["user"]["id"]))
        self.assertError(self.me(imp), 401, "invalid_token")
        b = self.register()
        imp = self.impersonate(b["user"]["id"])["access_token"]
        self.assertOK(self.req("DELETE", "/auth/me", token=imp))
        self.assertError(self.me(imp), 401, "invalid_token")
        self.assertError(self.me(b["access_token"]), 401, "session_revoked")

    def test_impersonation_expired(self):
        a = self.register()
        imp = self.impersonate(a["user"]["id"])["access_token"]
        c = jwt_decode(imp)[1]
        now = int(time.time())
        r = self.me(jwt_sign(dict(c, iat=now - 1000, exp=now - 100)))
        self.assertError(r, 401, "token_expired")

    def test_impersonate_unknown(self):
        self.assertError(self.admin("POST", "/admin/users/%s/impersonate" % fake_ulid()),
                         404, "not_found")
        self.assertError(self.admin("POST", "/admin/users/nope/impersonate"), 404, "not_found")
        a = self.register()
        r = self.req("POST", "/admin/users/%s/impersonate" % a["user"]["id"],
                     token=a["access_token"])
        self.assertError(r, 403, "admin_required")
