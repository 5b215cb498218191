"""Register, login, /auth/me (API.md §2.1, §2.2, §2.5, §2.10)."""

import time

from authlib import (AUTH, PASSWORD, AuthTest, jwt_decode, jwt_verifies,
                     uniq_email)
from harness import ULID_RE, is_int


class RegisterLoginTest(AuthTest):

    def test_register_result(self):
        email = uniq_email("reg")
        t0 = int(time.time() * 1000)
        r = self.req("POST", "/auth/register", {"email": email, "password": PASSWORD,
                                                "metadata": {"display_name": "Al"}})
        t1 = int(time.time() * 1000)
        self.assertStatus(r, 201)
        self.assertEqual(r.headers.get("Content-Type", "").replace(" ", "").lower(),
                         "application/json;charset=utf-8")
        self.assertEqual(r.headers.get("Cache-Control"), "no-store")
        self.assertAuthResult(r.body, email)
        u = r.body["user"]
        self.assertIs(u["is_verified"], False)
        self.assertIs(u["totp_enabled"], False)
        self.assertEqual(u["roles"], [])
        self.assertEqual(u["metadata"], {"display_name": "Al"})
        self.assertEqual(u["created_at"], u["updated_at"])
        self.assertTrue(t0 - 1000 <= u["created_at"] <= t1 + 1000,
                        (t0, u["created_at"], t1))
        self.assertEqual(r.body["expires_in"], 900)
        for k in ("password", "password_hash", "totp_secret"):
            self.assertNotIn(k, r.raw.decode())

    def test_register_default_metadata(self):
        body = self.register()
        self.assertEqual(body["user"]["metadata"], {})

    def test_access_token_claims(self):
        """§2.2: HS256 under SECRET_KEY; sub, email, roles, sid, iat, exp."""
        email = uniq_email("jwt")
        body = self.register(email)
        tok = body["access_token"]
        h, c, _ = jwt_decode(tok)
        self.assertEqual(h, {"alg": "HS256", "typ": "JWT"})
        self.assertTrue(jwt_verifies(tok), "not signed with SECRET_KEY")
        self.assertEqual(set(c), {"sub", "email", "roles", "sid", "iat", "exp"}, c)
        self.assertEqual(c["sub"], body["user"]["id"])
        self.assertEqual(c["email"], email)
        self.assertEqual(c["roles"], [])
        self.assertRegex(c["sid"], ULID_RE)
        self.assertTrue(is_int(c["iat"]) and is_int(c["exp"]), c)
        self.assertLess(abs(c["iat"] - time.time()), 5, "iat is in seconds")
        self.assertEqual(c["exp"] - c["iat"], 900)

    def test_register_opens_a_session(self):
        body = self.register()
        uid = body["user"]["id"]
        sid = jwt_decode(body["access_token"])[1]["sid"]
        ids = [s["id"] for s in self.sessions_of(uid)]
        self.assertEqual(ids, [sid])

    def test_register_normalizes_email(self):
        base = uniq_email("Norm")
        messy = "  " + base.upper() + "\t"
        r = self.req("POST", "/auth/register", {"email": messy, "password": PASSWORD})
        self.assertStatus(r, 201)
        self.assertEqual(r.body["user"]["email"], base.lower())
        # taken in any spelling
        r = self.req("POST", "/auth/register", {"email": base.lower(), "password": PASSWORD})
        self.assertError(r, 409, "email_taken")
        r = self.req("POST", "/auth/register", {"email": " " + base.title() + " ",
                                                "password": "another password"})
        self.assertError(r, 409, "email_taken")
        # login in any spelling
        self.login(base.upper())
        self.login("  " + base.lower() + "  ")

    def test_email_taken_leaves_account_alone(self):
        email = uniq_email("taken")
        first = self.register(email)
        r = self.req("POST", "/auth/register", {"email": email, "password": "other password 2"})
        self.assertError(r, 409, "email_taken")
        self.login(email, PASSWORD)
        self.assertError(self.login(email, "other password 2", check=False), 401,
                         "invalid_credentials")
        me = self.me(first["access_token"])
        self.assertStatus(me, 200)
        self.assertEqual(me.body["id"], first["user"]["id"])

    def test_login(self):
        email = uniq_email("login")
        reg = self.register(email)
        r = self.login(email)
        self.assertEqual(r["user"], self.me(r["access_token"]).body)
        self.assertEqual(r["user"]["id"], reg["user"]["id"])
        self.assertEqual(r["expires_in"], 900)
        c1 = jwt_decode(reg["access_token"])[1]
        c2 = jwt_decode(r["access_token"])[1]
        self.assertNotEqual(c1["sid"], c2["sid"], "login opens a new session")
        self.assertNotEqual(reg["refresh_token"], r["refresh_token"])
        # both sessions live
        self.assertStatus(self.me(reg["access_token"]), 200)
        self.assertStatus(self.me(r["access_token"]), 200)
        self.assertEqual(len(self.sessions_of(reg["user"]["id"])), 2)

    def test_login_failures(self):
        email = uniq_email("lf")
        self.register(email)
        cases = [
            {"email": email, "password": "wrong password"},
            {"email": uniq_email("nobody"), "password": PASSWORD},
            {"email": "not-an-email", "password": PASSWORD},   # only type checked
            {"email": email, "password": "short"},
        ]
        for body in cases:
            r = self.req("POST", "/auth/login", body)
            self.assertError(r, 401, "invalid_credentials", msg=repr(body))
            self.assertEqual(r.body["error"], "Invalid email or password.")

    def test_login_validation(self):
        cases = [
            ({}, "email"),
            ({"password": PASSWORD}, "email"),
            ({"email": uniq_email(), }, "password"),
            ({"email": 5, "password": PASSWORD}, "email"),
            ({"email": None, "password": PASSWORD}, "email"),
            ({"email": uniq_email(), "password": ["x"]}, "password"),
            ({"email": uniq_email(), "password": 12345678}, "password"),
        ]
        for body, field in cases:
            r = self.req("POST", "/auth/login", body)
            self.assertError(r, 400, "validation_error", field, msg=repr(body))

    def test_login_ignores_bad_credentials(self):
        """§1.3: access `none` ignores credentials, even invalid ones."""
        email = uniq_email("ign")
        self.register(email)
        r = self.login(email, check=False, headers={"Authorization": "Bearer garbage.x.y"})
        self.assertStatus(r, 200)
        r = self.login(email, check=False, headers={"X-API-Key": "bb_nothing"})
        self.assertStatus(r, 200)

    def test_browser_user_agent(self):
        """Any User-Agent is fine, e.g. a browser's (spaces, parentheses)."""
        email = uniq_email("ua")
        ua = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
        r = self.req("POST", "/auth/register", {"email": email, "password": PASSWORD},
                     headers={"User-Agent": ua})
        self.assertStatus(r, 201)
        r = self.login(email, check=False, headers={"User-Agent": ua})
        self.assertStatus(r, 200)
        r = self.req("GET", "/auth/me", token=r.body["access_token"],
                     headers={"User-Agent": ua})
        self.assertStatus(r, 200)

    def test_me(self):
        email = uniq_email("me")
        reg = self.register(email, metadata={"a": [1, 2, {"b": None}]})
        r = self.me(reg["access_token"])
        self.assertStatus(r, 200)
        self.assertUser(r.body, email)
        self.assertEqual(r.body, reg["user"])

    def test_me_needs_a_user(self):
        self.assertError(self.req("GET", "/auth/me"), 401, "auth_required")
        self.assertError(self.admin("GET", "/auth/me"), 403, "user_required")
        self.assertError(self.req("POST", "/auth/logout"), 401, "auth_required")
        self.assertError(self.req("POST", "/auth/logout-all"), 401, "auth_required")
        self.assertError(self.req("DELETE", "/auth/me"), 401, "auth_required")
        self.assertError(self.req("GET", "/auth/api-keys"), 401, "auth_required")

    def test_user_cannot_call_admin(self):
        reg = self.register()
        self.assertError(self.req("GET", "/admin/users", token=reg["access_token"]),
                         403, "admin_required")

    def test_bearer_scheme_case_insensitive(self):
        reg = self.register()
        for scheme in ("bearer", "BEARER", "BeArEr"):
            r = self.req("GET", "/auth/me",
                         headers={"Authorization": "%s %s" % (scheme, reg["access_token"])})
            self.assertStatus(r, 200, scheme)
        r = self.req("GET", "/auth/me",
                     headers={"Authorization": "Basic " + reg["access_token"]})
        self.assertError(r, 401, "invalid_token")

    def test_patch_me_replaces_metadata(self):
        reg = self.register(metadata={"a": 1, "b": 2})
        tok = reg["access_token"]
        time.sleep(0.005)
        r = self.req("PATCH", "/auth/me", {"metadata": {"c": 3}}, token=tok)
        self.assertStatus(r, 200)
        self.assertUser(r.body, reg["user"]["email"])
        self.assertEqual(r.body["metadata"], {"c": 3})
        self.assertGreater(r.body["updated_at"], reg["user"]["updated_at"])
        self.assertEqual(self.me(tok).body["metadata"], {"c": 3})
        # without a metadata key the body itself is the metadata
        r = self.req("PATCH", "/auth/me", {"x": "y", "n": [1]}, token=tok)
        self.assertStatus(r, 200)
        self.assertEqual(r.body["metadata"], {"x": "y", "n": [1]})
        # other keys beside metadata are ignored; e-mail/roles cannot change
        r = self.req("PATCH", "/auth/me", {"metadata": {}, "email": "evil@example.com",
                                           "roles": ["admin"], "password": "zzzzzzzzzz",
                                           "is_verified": True}, token=tok)
        self.assertStatus(r, 200)
        self.assertEqual(r.body["metadata"], {})
        self.assertEqual(r.body["email"], reg["user"]["email"])
        self.assertEqual(r.body["roles"], [])
        self.assertIs(r.body["is_verified"], False)
        self.login(reg["user"]["email"])

    def test_patch_me_invalid(self):
        reg = self.register(metadata={"keep": True})
        tok = reg["access_token"]
        for bad in ([1], "s", 5, None, True):
            r = self.req("PATCH", "/auth/me", {"metadata": bad}, token=tok)
            self.assertError(r, 400, "validation_error", "metadata", msg=repr(bad))
        big = {"blob": "x" * (64 * 1024)}
        r = self.req("PATCH", "/auth/me", {"metadata": big}, token=tok)
        self.assertError(r, 400, "validation_error", "metadata")
        self.assertEqual(self.me(tok).body["metadata"], {"keep": True})
        self.assertEqual(self.me(tok).body["updated_at"], reg["user"]["updated_at"])

    def test_delete_me(self):
        email = uniq_email("del")
        reg = self.register(email)
        other = self.login(email)
        r = self.req("DELETE", "/auth/me", token=reg["access_token"])
        self.assertOK(r)
        self.assertRevoked(reg["access_token"])
        self.assertRevoked(other["access_token"])
        self.assertError(self.login(email, check=False), 401, "invalid_credentials")
        self.assertError(self.admin("GET", "/admin/users/" + reg["user"]["id"]),
                         404, "not_found")
        # the e-mail may register again, as a new user
        again = self.register(email)
        self.assertNotEqual(again["user"]["id"], reg["user"]["id"])
        self.assertEqual(again["user"]["roles"], [])

    def test_ids_increase(self):
        a = self.register()["user"]["id"]
        b = self.register()["user"]["id"]
        self.assertLess(a, b)


class RegisterPathsTest(AuthTest):
    """Routes: trailing slash, wrong method, unknown auth path."""
    MAIL = False

    def test_routes(self):
        r = self.req("GET", "/auth/register")
        self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(r.headers.get("Allow"), "POST, OPTIONS")
        r = self.req("GET", "/auth/nope")
        self.assertError(r, 404, "not_found")
        email = uniq_email("slash")
        r = self.cluster.request("POST", AUTH + "/register/",
                                 {"email": email, "password": PASSWORD})
        self.assertStatus(r, 201)
        r = self.cluster.request("GET", AUTH + "/me/", token=r.body["access_token"])
        self.assertStatus(r, 200)
        r = self.req("PUT", "/auth/me")
        self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(r.headers.get("Allow"), "GET, HEAD, PATCH, DELETE, OPTIONS")
